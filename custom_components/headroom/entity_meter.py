"""
A meter made of Home Assistant sensors (a P1/DSMR reader, a Shelly, an inverter's meter).

It answers the loop like a Modbus meter (`devices.interfaces.MeterDevice`): a read returns
a `MeterValues` in A, V and W, or raises `NoResponse` when a sensor it needs is
`unavailable`, `unknown`, not a number, in a unit that is not a current / power / voltage,
or has not reported for the stale time. A reader that writes an unchanged value still
counts as alive: freshness is the state's `last_reported`. The reading is as old as its
oldest sensor (`reading_age_s`), so the loop's stale time runs from the last report.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from homeassistant.const import (
    ATTR_UNIT_OF_MEASUREMENT,
    STATE_UNAVAILABLE,
    STATE_UNKNOWN,
    UnitOfElectricCurrent,
    UnitOfElectricPotential,
    UnitOfPower,
)
from homeassistant.util.unit_conversion import (
    BaseUnitConverter,
    ElectricCurrentConverter,
    ElectricPotentialConverter,
    PowerConverter,
)

from .devices.errors import NoResponse
from .devices.identity import DeviceIdentity
from .devices.meters import MeterValues

if TYPE_CHECKING:
    from collections.abc import Callable

    from homeassistant.core import HomeAssistant, State

    from .entity_config import EntityMeterConfig


def wall_time() -> float:
    """Return seconds since the epoch: the clock a state's `last_reported` is stamped with."""
    return time.time()


@dataclass(frozen=True, slots=True)
class SensorValue:
    """One sensor's value in the wanted unit, and how long ago it last reported."""

    value: float
    age_s: float


def units_per_ampere(state: State) -> float | None:
    """
    Return how many of an entity's units make one ampere (no unit: A; mA: 1000).

    None when its unit is not a current (a number in W or kW: 6 could mean 6 kW).
    """
    unit = state.attributes.get(ATTR_UNIT_OF_MEASUREMENT) or UnitOfElectricCurrent.AMPERE
    if unit not in ElectricCurrentConverter.VALID_UNITS:
        return None
    return ElectricCurrentConverter.convert(1.0, UnitOfElectricCurrent.AMPERE, unit)


def read_sensor(
    hass: HomeAssistant,
    entity_id: str,
    converter: type[BaseUnitConverter],
    unit: str,
    *,
    stale_after_s: float | None = None,
) -> SensorValue:
    """
    Read one sensor in `unit`; raise `NoResponse` when it gives no usable value.

    A sensor without a unit is taken to be in `unit` already (some templates omit it).
    """
    state = hass.states.get(entity_id)
    if state is None or state.state in (STATE_UNAVAILABLE, STATE_UNKNOWN):
        msg = f"{entity_id} is {state.state if state else 'missing'}"
        raise NoResponse(msg)
    try:
        raw = float(state.state)
    except ValueError:
        msg = f"{entity_id} is not a number: {state.state!r}"
        raise NoResponse(msg) from None
    given = state.attributes.get(ATTR_UNIT_OF_MEASUREMENT) or unit
    if given not in converter.VALID_UNITS:
        msg = f"{entity_id} is in {given}, not a unit of {unit}"
        raise NoResponse(msg)
    age_s = max(0.0, wall_time() - state.last_reported_timestamp)
    if stale_after_s is not None and age_s > stale_after_s:
        msg = f"{entity_id} has not reported for {age_s:.0f} s"
        raise NoResponse(msg)
    return SensorValue(converter.convert(raw, given, unit), age_s)


class EntityMeter:
    """The site's meter (or backup) as a set of sensors; see the module's docstring."""

    def __init__(
        self,
        hass: HomeAssistant,
        config: EntityMeterConfig,
        *,
        phases: int,
        voltage_v: Callable[[], float],
        stale_after_s: Callable[[], float],
    ) -> None:
        """
        Read `config`'s sensors for a supply of `phases` phases.

        `voltage_v` gives the nominal voltage (used with power sensors and no voltage
        sensors), `stale_after_s` the meter's stale time; both may change while it runs.
        """
        self._hass = hass
        self._config = config
        self._phases = phases
        self._voltage_v = voltage_v
        self._stale_after_s = stale_after_s
        self._age_s = 0.0

    @property
    def reading_age_s(self) -> float:
        """How long before the last read its oldest sensor had reported."""
        return self._age_s

    @property
    def disabled_registers(self) -> dict[str, str]:
        """Nothing is ever dropped: every sensor is needed."""
        return {}

    async def identity(self) -> DeviceIdentity:
        """Sensors say nothing of firmware; the device registry has the real device."""
        return DeviceIdentity(firmware=None, serial_number=None)

    async def read(self, *, full: bool = True) -> MeterValues:  # noqa: ARG002
        """Read every phase (there is nothing slower to leave out)."""
        config = self._config
        stale_s = self._stale_after_s()
        sensors = config.current_entities or config.power_entities
        if len(sensors) < self._phases or (
            not config.current_entities and 0 < len(config.voltage_entities) < self._phases
        ):
            msg = f"one sensor per phase is needed ({self._phases}): {sensors}"
            raise NoResponse(msg)

        def sensor(entity_id: str, converter: type[BaseUnitConverter], unit: str) -> SensorValue:
            return read_sensor(self._hass, entity_id, converter, unit, stale_after_s=stale_s)

        phases = range(self._phases)
        voltages: list[SensorValue | None] = [None] * self._phases
        powers: list[SensorValue | None] = [None] * self._phases
        if config.current_entities:
            currents = [
                sensor(
                    config.current_entities[i],
                    ElectricCurrentConverter,
                    UnitOfElectricCurrent.AMPERE,
                )
                for i in phases
            ]
        else:
            powers = [
                sensor(config.power_entities[i], PowerConverter, UnitOfPower.WATT) for i in phases
            ]
            if config.voltage_entities:
                voltages = [
                    sensor(
                        config.voltage_entities[i],
                        ElectricPotentialConverter,
                        UnitOfElectricPotential.VOLT,
                    )
                    for i in phases
                ]
            nominal_v = self._voltage_v()
            currents = []
            for phase_power, phase_voltage in zip(powers, voltages, strict=True):
                volts = phase_voltage.value if phase_voltage is not None else nominal_v
                if phase_power is None or volts <= 0:
                    msg = f"no voltage to turn {config.power_entities} into currents"
                    raise NoResponse(msg)
                # Signed power gives a signed current (export negative), as a meter's own.
                currents.append(SensorValue(phase_power.value / volts, phase_power.age_s))
        values = [*currents, *(v for v in (*voltages, *powers) if v is not None)]
        self._age_s = max(value.age_s for value in values)
        current = [value.value for value in currents] + [None] * (3 - self._phases)
        voltage = [v.value if v else None for v in voltages] + [None] * (3 - self._phases)
        power = [p.value if p else None for p in powers] + [None] * (3 - self._phases)
        total = sum(p.value for p in powers if p is not None) if config.power_entities else None
        return MeterValues(
            current_l1_a=current[0],
            current_l2_a=current[1],
            current_l3_a=current[2],
            voltage_l1_v=voltage[0],
            voltage_l2_v=voltage[1],
            voltage_l3_v=voltage[2],
            power_l1_w=power[0],
            power_l2_w=power[1],
            power_l3_w=power[2],
            power_total_w=total,
        )
