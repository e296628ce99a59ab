"""
A charger that another integration controls, driven through that integration's entities.

It answers the loop like a Modbus charger (`devices.interfaces.ChargerDevice`):
- `read` takes the status entity through the chosen state mapping (no status entity: a
  charger that draws, or that is assumed to), the line currents from current sensors or a
  power sensor spread over the wired lines (neither: the engine assumes the command), and
  the limit the number holds as the setpoint. A limit, status or current entity that is
  unavailable, unknown or not a number raises `NoResponse`: the loop then handles it as a
  charger that does not answer (it reserves its maximum).
- `set_limit` calls the entity's own service (`number.set_value`, `switch.turn_on/off`)
  with `blocking=True` under a timeout, so that integration stays the one owner of the
  device. A limit is converted to the number's unit (A or mA; a number in any other unit is
  never written), rounded down to its step and kept within its range. Writes are at least
  `min_write_interval_s` apart (cloud integrations rate-limit): an earlier one raises
  `WriteDeferredError` without calling anything, and one that fails or is refused counts as
  a write, so it is retried at the next allowed write, never in a tight loop.
- `arm_watchdog` raises `Unsupported`: Headroom cannot make another integration's charger
  fall back by itself (the "no watchdog" repair says so).

Nothing here knows which integration stands behind the entities.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from typing import TYPE_CHECKING, Final

from homeassistant.components.number import ATTR_MAX, ATTR_MIN, ATTR_STEP, ATTR_VALUE
from homeassistant.const import (
    ATTR_ENTITY_ID,
    ATTR_UNIT_OF_MEASUREMENT,
    SERVICE_TURN_OFF,
    SERVICE_TURN_ON,
    STATE_OFF,
    STATE_UNAVAILABLE,
    STATE_UNKNOWN,
    UnitOfElectricCurrent,
    UnitOfPower,
)
from homeassistant.exceptions import HomeAssistantError
from homeassistant.util.unit_conversion import ElectricCurrentConverter, PowerConverter

from .devices.chargers import ChargerValues
from .devices.errors import DeviceError, NoResponse, Unsupported
from .devices.identity import DeviceIdentity
from .devices.pacing import WritePacer
from .engine.model import MIN_CHARGE_A, ChargerState
from .entity_config import CATEGORY_STATE, PauseBy, normalize_state
from .entity_meter import read_sensor, units_per_ampere

if TYPE_CHECKING:
    from collections.abc import Callable

    from homeassistant.core import HomeAssistant, State

    from .devices.chargers import WatchdogStatus
    from .entity_config import EntityChargerConfig

WRITE_TIMEOUT_S: Final = 5.0
"""A service call that has not returned by then counts as failed."""
WRITE_GRACE_S: Final = 0.5
"""A cycle waits this long for a service call; a slower one goes on in the background while
the next cycles read the meter and cut the other chargers (`ChargerLink.write`)."""
DRAWING_A: Final = 1.0
"""Without a status entity, a line drawing this much means the car charges."""

_LOGGER = logging.getLogger(__name__)


class WriteDeferredError(DeviceError):
    """The charger's minimum time between writes has not passed: written later."""


class WriteFailedError(DeviceError):
    """The charger's integration refused the write or did not finish it in time."""


class EntityCharger:
    """One charger driven through Home Assistant entities; see the module's docstring."""

    reads_are_free: Final = True
    """Reading states costs nothing and resets nothing: a silent one is read every cycle."""
    write_grace_s: Final = WRITE_GRACE_S
    fallback_after_s: Final = None
    """No watchdog of its own (see `arm_watchdog`)."""

    def __init__(
        self,
        hass: HomeAssistant,
        config: EntityChargerConfig,
        *,
        max_limit_a: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Drive `config`'s entities; never above `max_limit_a`, `clock` in seconds."""
        self._hass = hass
        self._config = config
        self._max_limit_a = max_limit_a
        self._clock = clock
        self._pacer = WritePacer(config.min_write_interval_s)
        self._unknown_words: set[str] = set()
        """Status words the mapping does not know, each logged once."""

    @property
    def config(self) -> EntityChargerConfig:
        """The entities and timing of this charger."""
        return self._config

    @property
    def max_limit_a(self) -> int:
        """The highest limit written: the installer's maximum (the number may allow more)."""
        return self._max_limit_a

    @property
    def disabled_registers(self) -> dict[str, str]:
        """Nothing is dropped: every configured entity is read."""
        return {}

    async def identity(self) -> DeviceIdentity:
        """Entities say nothing of firmware; the charger's own device has it."""
        return DeviceIdentity()

    async def arm_watchdog(self, *, timeout_s: float, failsafe_a: int) -> WatchdogStatus:
        """Raise `Unsupported`: another integration's charger cannot be made to fall back."""
        msg = (
            f"{self._config.limit_entity}: a charger controlled through Home Assistant "
            f"cannot fall back to {failsafe_a} A after {timeout_s:g} s by itself"
        )
        raise Unsupported(msg)

    async def maintain(self) -> None:
        """Nothing to keep up."""

    async def read(self, *, full: bool = True) -> ChargerValues:  # noqa: ARG002
        """Read status, line currents and the limit the number holds (all cheap)."""
        config = self._config
        limit = self._state(config.limit_entity)
        setpoint_a = self._number_a(limit)
        if config.pause is PauseBy.SWITCH and config.pause_entity is not None:
            switch = self._state(config.pause_entity)
            if switch.state == STATE_OFF:
                setpoint_a = 0.0
        currents, power_w = self._currents()
        return ChargerValues(
            state=self._charger_state(currents),
            current_l1_a=currents[0] if currents else None,
            current_l2_a=currents[1] if currents and len(currents) > 1 else None,
            current_l3_a=currents[2] if currents and len(currents) > 2 else None,  # noqa: PLR2004
            setpoint_a=setpoint_a,
            power_w=power_w,
        )

    async def set_limit(self, limit_a: int) -> None:
        """Write a limit (0 pauses); see the module's docstring for pacing and failures."""
        if limit_a != 0 and not MIN_CHARGE_A <= limit_a <= self._max_limit_a:
            msg = f"limit {limit_a} A: must be 0 or {MIN_CHARGE_A:g}..{self._max_limit_a} A"
            raise ValueError(msg)
        now = self._clock()
        if not self._pacer.attempt(now):
            wait_s = self._pacer.wait_s(now)
            msg = f"{self._config.limit_entity}: next write allowed in {wait_s:.1f} s"
            raise WriteDeferredError(msg)
        config = self._config
        limit = self._state(config.limit_entity)
        if limit_a == 0 and config.pause is PauseBy.SWITCH and config.pause_entity is not None:
            await self._call("switch", SERVICE_TURN_OFF, {ATTR_ENTITY_ID: config.pause_entity})
            return
        await self._call(
            "number",
            "set_value",
            {ATTR_ENTITY_ID: config.limit_entity, ATTR_VALUE: self._number_value(limit, limit_a)},
        )
        if limit_a and config.pause is PauseBy.SWITCH and config.pause_entity is not None:
            switch = self._hass.states.get(config.pause_entity)
            if switch is None or switch.state != "on":
                await self._call("switch", SERVICE_TURN_ON, {ATTR_ENTITY_ID: config.pause_entity})

    # --- helpers -----------------------------------------------------------------------------

    def _state(self, entity_id: str) -> State:
        state = self._hass.states.get(entity_id)
        if state is None or state.state in (STATE_UNAVAILABLE, STATE_UNKNOWN):
            msg = f"{entity_id} is {state.state if state else 'missing'}"
            raise NoResponse(msg)
        return state

    @staticmethod
    def _per_a(state: State) -> float:
        """Return the number's units per ampere (no unit: A); `NoResponse` if not a current."""
        per_a = units_per_ampere(state)
        if per_a is None:
            unit = state.attributes.get(ATTR_UNIT_OF_MEASUREMENT)
            msg = f"{state.entity_id} is in {unit}, not a current"
            raise NoResponse(msg)
        return per_a

    def _number_a(self, state: State) -> float:
        """Return the number's value in A (a number without a unit is taken to be in A)."""
        try:
            value = float(state.state)
        except ValueError:
            msg = f"{state.entity_id} is not a number: {state.state!r}"
            raise NoResponse(msg) from None
        return value / self._per_a(state)

    def _number_value(self, state: State, limit_a: int) -> float:
        """
        Return the number's value for `limit_a`: its minimum to pause, else rounded down.

        In the number's unit (a number in W or kW is never written: 6 could mean 6 kW).
        Never above the number's maximum; never between its minimum and 6 A unless that is
        the limit asked for.
        """
        target = limit_a * self._per_a(state)
        minimum = float(state.attributes.get(ATTR_MIN, 0.0))
        maximum = float(state.attributes.get(ATTR_MAX, target))
        step = float(state.attributes.get(ATTR_STEP, 1.0)) or 1.0
        if limit_a == 0:
            return minimum
        value = minimum + math.floor((min(target, maximum) - minimum) / step + 1e-9) * step
        return round(value, 6)

    async def _call(self, domain: str, service: str, data: dict[str, object]) -> None:
        try:
            async with asyncio.timeout(WRITE_TIMEOUT_S):
                await self._hass.services.async_call(domain, service, data, blocking=True)
        except TimeoutError as err:
            msg = f"{domain}.{service} on {data[ATTR_ENTITY_ID]} took over {WRITE_TIMEOUT_S:g} s"
            raise WriteFailedError(msg) from err
        except HomeAssistantError as err:
            msg = f"{domain}.{service} on {data[ATTR_ENTITY_ID]} failed: {err}"
            raise WriteFailedError(msg) from err

    def _currents(self) -> tuple[tuple[float, ...] | None, float | None]:
        """Return the line currents (A) and power (W) its sensors give; (None, None) without."""
        config = self._config
        if config.current_entities:
            currents = tuple(
                abs(
                    read_sensor(
                        self._hass, entity, ElectricCurrentConverter, UnitOfElectricCurrent.AMPERE
                    ).value
                )
                for entity in config.current_entities
            )
            return currents, None
        if config.power_entity:
            power_w = abs(
                read_sensor(self._hass, config.power_entity, PowerConverter, UnitOfPower.WATT).value
            )
            per_line_a = power_w / (config.voltage_v * config.lines)
            return (per_line_a,) * config.lines, power_w
        return None, None

    def _charger_state(self, currents: tuple[float, ...] | None) -> ChargerState:
        """Return the IEC letter of the status, or one guessed from the currents without it."""
        config = self._config
        if config.status_entity is None:
            if currents is None or max(currents) >= DRAWING_A:
                return ChargerState.C  # assumed to draw what it is offered
            return ChargerState.B
        word = normalize_state(self._state(config.status_entity).state)
        category = config.status_mapping.get(word)
        if category is None:
            # An unknown word: assume it may draw (the safe side for the breaker).
            if word not in self._unknown_words:
                self._unknown_words.add(word)
                _LOGGER.warning(
                    "%s reports the status '%s', which its status mapping does not know: "
                    "Headroom counts the charger as charging until it reports a known "
                    "status (add the word to a manual mapping in the charger's settings)",
                    config.status_entity,
                    word,
                )
            return ChargerState.C
        return CATEGORY_STATE[category]
