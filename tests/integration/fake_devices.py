"""
A small test integration whose real entities behave like an EV charger and a DSMR reader.

`FakeEvse` is a charger another integration controls: a current-limit `number` (0-32 A,
step 1), a pause `switch`, an OCPP-worded status sensor and per-line current sensors. The
car follows a new limit after `response_s`; writes inside `min_interval_s` of the last one
are refused (a cloud API's rate limit), as are all writes while `refuse` is set; every
attempt is recorded. `available = False` makes every entity unavailable. Knobs for an
integration that misbehaves: `limit_unit` (the number reports another unit), `limit_max_a`
(its range), `hang` (a limit write never returns), `slow_s` (a limit write takes that long).

`FakeDsmr` is a P1 reader: one current sensor per phase in whole amperes, written on every
`telegram()` (once a second in the tests), whether the value changed or not. With
`with_power` it also has a power sensor (W, at 230 V) and a voltage sensor (`voltage_v`) per
phase, as a Shelly or an inverter's meter.

`World` keeps the time of both on the test's clock: the engine's `FakeClock` and the wall
clock that Home Assistant stamps states with (`last_reported`) step together.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import pytest
from homeassistant.components.number import NumberEntity, NumberMode
from homeassistant.components.sensor import SensorDeviceClass, SensorEntity
from homeassistant.components.switch import SwitchEntity
from homeassistant.const import UnitOfElectricCurrent, UnitOfElectricPotential, UnitOfPower
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import entity as entity_helper
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import setup_test_component_platform

from custom_components.headroom import entity_meter
from custom_components.headroom.coordinator import HeadroomCoordinator
from tests.integration.helpers import FakeClock


class World:
    """The test's time: engine clock and wall clock advance together."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.elapsed_s = 0.0
        self._wall_start = time.time()
        self.evses: list[FakeEvse] = []
        self.dsmrs: list[FakeDsmr] = []
        monkeypatch.setattr(entity_helper, "timer", self.wall)
        monkeypatch.setattr(entity_meter, "wall_time", self.wall)

    def wall(self) -> float:
        return self._wall_start + self.elapsed_s

    def now(self) -> float:
        return self.elapsed_s

    async def step(self, coordinator: HeadroomCoordinator, *, cycles: int = 1) -> None:
        """Let a second pass, the devices move and report, then run a cycle; `cycles` times."""
        clock = coordinator.clock
        assert isinstance(clock, FakeClock)
        for _ in range(cycles):
            clock.tick(1.0)
            self.elapsed_s += 1.0
            for evse in self.evses:
                evse.follow()
            for dsmr in self.dsmrs:
                dsmr.telegram()
            await coordinator.async_refresh()


@dataclass(kw_only=True)
class FakeEvse:
    """A charger behind another integration; see the module's docstring."""

    world: World
    name: str = "evse"
    lines: int = 3
    limit_a: float = 16.0
    car_max_a: float = 16.0
    car_connected: bool = True
    response_s: float = 2.0
    min_interval_s: float = 0.0
    refuse: bool = False
    available: bool = True
    switch_on: bool = True
    status_word: str | None = None
    """A status the charger reports instead of the one its car gives (None: the car's)."""
    limit_unit: str = UnitOfElectricCurrent.AMPERE
    """The unit the limit number reports: in mA its values are 1000 times the amperes, in
    steps of 100 mA; another unit is only a label (its integration changed it in an update)."""
    limit_max_a: float = 32.0
    """The top of the limit number's range."""
    hang: bool = False
    """A limit write is recorded as an attempt and then never returns."""
    slow_s: float = 0.0
    """A limit write takes this long (real time) before it is applied (a cloud's round trip)."""
    attempts: list[tuple[float, str, float]] = field(default_factory=list)
    """(time, what, value) of every write attempt, refused or not."""
    applied: list[tuple[float, float]] = field(default_factory=list)
    """(time the car follows it, limit) of every accepted limit."""
    draw_a: float = 0.0
    entities: list[Any] = field(default_factory=list)

    def write(self, what: str, value: float) -> None:
        now = self.world.now()
        last = self.attempts[-1][0] if self.attempts else None
        self.attempts.append((now, what, value))
        if self.refuse:
            msg = f"{self.name}: the charger refused the command"
            raise HomeAssistantError(msg)
        if last is not None and now - last < self.min_interval_s:
            msg = f"{self.name}: rate limited"
            raise HomeAssistantError(msg)
        if what == "limit":
            self.limit_a = value
        else:
            self.switch_on = bool(value)
        self.applied.append((now + self.response_s, self.offered_a()))

    def offered_a(self) -> float:
        return self.limit_a if self.switch_on else 0.0

    def follow(self) -> None:
        """The car follows the limits that took effect by now."""
        now = self.world.now()
        in_force = [limit for at, limit in self.applied if at <= now]
        offered = in_force[-1] if in_force else self.offered_a()
        self.draw_a = min(offered, self.car_max_a) if self.car_connected else 0.0
        for entity in self.entities:
            entity.async_write_ha_state()

    @property
    def status(self) -> str:
        if self.status_word is not None:
            return self.status_word
        if not self.car_connected:
            return "Available"
        return "Charging" if self.draw_a > 0 else "SuspendedEVSE"


class _EvseEntity:
    _attr_should_poll = False

    def __init__(self, evse: FakeEvse, key: str) -> None:
        self.evse = evse
        self._attr_unique_id = f"{evse.name}_{key}"
        self._attr_name = f"{evse.name} {key}"

    @property
    def available(self) -> bool:
        return self.evse.available


class EvseLimit(_EvseEntity, NumberEntity):
    _attr_native_min_value = 0
    _attr_mode = NumberMode.BOX

    @property
    def _per_a(self) -> float:
        """Native units per ampere: 1000 in mA; 1 otherwise (a wrong unit is only a label)."""
        return 1000.0 if self.evse.limit_unit == UnitOfElectricCurrent.MILLIAMPERE else 1.0

    @property
    def native_max_value(self) -> float:
        return self.evse.limit_max_a * self._per_a

    @property
    def native_step(self) -> float:
        return self._per_a / 10 if self._per_a > 1 else 1.0

    @property
    def native_unit_of_measurement(self) -> str:
        return self.evse.limit_unit

    @property
    def native_value(self) -> float:
        return self.evse.limit_a * self._per_a

    async def async_set_native_value(self, value: float) -> None:
        limit_a = value / self._per_a
        if self.evse.hang:
            self.evse.attempts.append((self.evse.world.now(), "limit", limit_a))
            await asyncio.Event().wait()  # never set: the call hangs until cancelled
        if self.evse.slow_s:
            await asyncio.sleep(self.evse.slow_s)
        self.evse.write("limit", limit_a)
        self.async_write_ha_state()


class EvsePause(_EvseEntity, SwitchEntity):
    @property
    def is_on(self) -> bool:
        return self.evse.switch_on

    async def async_turn_on(self, **kwargs: Any) -> None:  # noqa: ARG002
        self.evse.write("switch", 1)
        self.async_write_ha_state()

    async def async_turn_off(self, **kwargs: Any) -> None:  # noqa: ARG002
        self.evse.write("switch", 0)
        self.async_write_ha_state()


class EvseStatus(_EvseEntity, SensorEntity):
    @property
    def native_value(self) -> str:
        return self.evse.status


class EvseCurrent(_EvseEntity, SensorEntity):
    _attr_device_class = SensorDeviceClass.CURRENT
    _attr_native_unit_of_measurement = UnitOfElectricCurrent.AMPERE

    def __init__(self, evse: FakeEvse, line: int) -> None:
        super().__init__(evse, f"current l{line}")
        self.line = line

    @property
    def native_value(self) -> float:
        return self.evse.draw_a if self.line <= self.evse.lines else 0.0


@dataclass(kw_only=True)
class FakeDsmr:
    """A P1 reader: whole amperes per phase, a telegram every second."""

    name: str = "dsmr"
    house_a: list[float] = field(default_factory=lambda: [5.0, 5.0, 5.0])
    evses: list[FakeEvse] = field(default_factory=list)
    reporting: bool = True
    available: bool = True
    """False: its integration lost the reader (the entities go unavailable)."""
    milliamperes: bool = False
    """Report in mA (a unit Home Assistant converts), as some readers do."""
    unit: str | None = None
    """A unit the current sensors report instead of A or mA (None: A or mA)."""
    with_power: bool = False
    voltage_v: float = 230.0
    """What the voltage sensors report (the power sensors assume 230 V)."""
    entities: list[SensorEntity] = field(default_factory=list)

    def phase_a(self, phase: int) -> float:
        return float(round(self.house_a[phase] + sum(e.draw_a for e in self.evses)))

    def telegram(self) -> None:
        if self.reporting:
            for entity in self.entities:
                entity.async_write_ha_state()


class _DsmrSensor(SensorEntity):
    _attr_should_poll = False

    def __init__(self, dsmr: FakeDsmr, phase: int, key: str) -> None:
        self.dsmr = dsmr
        self.phase = phase
        self._attr_unique_id = f"{dsmr.name}_{key}_l{phase + 1}"
        self._attr_name = f"{dsmr.name} {key} l{phase + 1}"

    @property
    def available(self) -> bool:
        return self.dsmr.available


class DsmrCurrent(_DsmrSensor):
    def __init__(self, dsmr: FakeDsmr, phase: int) -> None:
        super().__init__(dsmr, phase, "current")

    @property
    def device_class(self) -> SensorDeviceClass | None:
        # A unit that is not a current cannot carry the current device class.
        return SensorDeviceClass.CURRENT if self.dsmr.unit is None else None

    @property
    def native_unit_of_measurement(self) -> str:
        if self.dsmr.unit is not None:
            return self.dsmr.unit
        return (
            UnitOfElectricCurrent.MILLIAMPERE
            if self.dsmr.milliamperes
            else UnitOfElectricCurrent.AMPERE
        )

    @property
    def native_value(self) -> float:
        amperes = self.dsmr.phase_a(self.phase)
        return 1000.0 * amperes if self.dsmr.milliamperes else amperes


class DsmrPower(_DsmrSensor):
    _attr_device_class = SensorDeviceClass.POWER
    _attr_native_unit_of_measurement = UnitOfPower.WATT

    def __init__(self, dsmr: FakeDsmr, phase: int) -> None:
        super().__init__(dsmr, phase, "power")

    @property
    def native_value(self) -> float:
        return 230.0 * self.dsmr.phase_a(self.phase)


class DsmrVoltage(_DsmrSensor):
    _attr_device_class = SensorDeviceClass.VOLTAGE
    _attr_native_unit_of_measurement = UnitOfElectricPotential.VOLT

    def __init__(self, dsmr: FakeDsmr, phase: int) -> None:
        super().__init__(dsmr, phase, "voltage")

    @property
    def native_value(self) -> float:
        return self.dsmr.voltage_v


async def add_fakes(
    hass: HomeAssistant, world: World, evses: list[FakeEvse], dsmrs: list[FakeDsmr]
) -> None:
    """Register the devices' entities through the real number, switch and sensor platforms."""
    world.evses.extend(evses)
    world.dsmrs.extend(dsmrs)
    numbers: list[Any] = []
    switches: list[Any] = []
    sensors: list[Any] = []
    for evse in evses:
        limit, pause, status = (
            EvseLimit(evse, "limit"),
            EvsePause(evse, "pause"),
            EvseStatus(evse, "status"),
        )
        currents = [EvseCurrent(evse, line) for line in range(1, 4)]
        evse.entities = [limit, pause, status, *currents]
        numbers.append(limit)
        switches.append(pause)
        sensors.extend([status, *currents])
    for dsmr in dsmrs:
        dsmr.entities = [DsmrCurrent(dsmr, phase) for phase in range(3)]
        if dsmr.with_power:
            dsmr.entities += [DsmrPower(dsmr, phase) for phase in range(3)]
            dsmr.entities += [DsmrVoltage(dsmr, phase) for phase in range(3)]
        sensors.extend(dsmr.entities)
    for domain, entities in (("number", numbers), ("switch", switches), ("sensor", sensors)):
        setup_test_component_platform(hass, domain, entities)
        assert await async_setup_component(hass, domain, {domain: {"platform": "test"}})
    await hass.async_block_till_done()
