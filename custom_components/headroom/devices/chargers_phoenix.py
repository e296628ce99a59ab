"""
Phoenix Contact charge controllers (inside wallbe, ESL, Compleo, E3/DC and others).

- EV-SER (EV Charge Control Basic, RS-485) and EV-ETH (Modbus TCP, unit 255) pause
  through a coil (FC 5): the limit register only takes 6 A and more.
- CHARX SEC (Modbus TCP): the limit of charging point 1 (1301) takes 0 to pause.

The state is the IEC 61851 letter as ASCII in a register: the EV-SER and the CHARX keep it
in the high byte (the EV-SER's low byte is the digit of "B1", "C2"...), the EV-ETH in the
low byte.

None of them has a communication timeout that any source read documents (the EV-SER's
register table has none; evcc and nymea neither read nor write one for the EV-ETH; evcc
for the CHARX): when Home Assistant stops, they keep the last limit. `arm_watchdog` raises
`Unsupported` saying so, and the site reports a charger it cannot arm, as for EVSE-WB.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, ClassVar, Final

from custom_components.headroom.engine.model import ChargerState

from .chargers import Charger, ChargerValues, WatchdogStatus
from .errors import Unsupported

if TYPE_CHECKING:
    from collections.abc import Mapping

    from .registers import Value

_PHASE_CURRENTS: Final = ("current_l1", "current_l2", "current_l3")
_LETTERS: Final[Mapping[str, ChargerState]] = {state.value: state for state in ChargerState}


class _PhoenixCharger(Charger):
    """The letter-in-a-register state, and no fail-safe Headroom can arm."""

    has_watchdog = False
    max_limit_a = 32
    _LETTER_SHIFT: ClassVar[int]
    """8 when the letter is the register's high byte, 0 when it is the low byte."""
    _model: ClassVar[str]

    def _state(self, raw: Value | None) -> ChargerState:
        if not isinstance(raw, int):
            raise self._bad_state(raw)
        state = _LETTERS.get(chr((raw >> self._LETTER_SHIFT) & 0xFF))
        if state is None:
            raise self._bad_state(raw)
        return state

    async def arm_watchdog(self, *, timeout_s: float, failsafe_a: int) -> WatchdogStatus:
        """Raise Unsupported: no source documents a fall-back when the master goes silent."""
        del timeout_s
        self._check_limit(failsafe_a, what="fail-safe current")
        msg = (
            f"charger {self.device_id} ({self._model}): no communication timeout or "
            "fail-safe current is documented for it, so if Home Assistant stops it keeps "
            "charging at the last limit"
        )
        raise Unsupported(msg)


class _CoilPausedCharger(_PhoenixCharger):
    """
    EV-SER / EV-ETH: the limit register takes 6 A and more; the enable coil pauses.

    Pausing switches the coil off and leaves the limit; resuming writes the limit first,
    then switches the coil on. Full reads read the coil back: a paused charger whose coil
    is on again (the EV-SER's coil is volatile, so a power cut loses it) reports its limit
    as its setpoint, and `maintain` switches the coil off again.
    """

    _enabled: bool | None = None
    """The coil as last read or written; None before either."""

    def _reading(self, values: dict[str, Value | None]) -> ChargerValues:
        coil = values.get("charging_enabled")
        if coil is not None:
            self._enabled = bool(coil)
        reading = super()._reading(values)
        if coil == 0 and "current_limit" in values:
            # The limit register still holds the last limit; the charger gives 0 A.
            return dataclasses.replace(reading, setpoint_a=0.0)
        return reading

    async def _write_limit(self, limit_a: int) -> None:
        coil = self._profile.registers["charging_enabled"].address
        if limit_a == 0:
            await self._transport.write_coil(coil, on=False)
            self._enabled = False
            return
        await self._write(self._profile.registers["current_limit"], limit_a)
        if self._enabled is not True:
            await self._transport.write_coil(coil, on=True)
            self._enabled = True

    async def maintain(self) -> None:
        """Switch the coil back to what the last limit wants if a read found it changed."""
        await super().maintain()
        if self._limit_a is None or self._enabled is None:
            return
        if self._enabled != (self._limit_a > 0):
            await self.set_limit(self._limit_a)


class PhoenixEvEth(_CoilPausedCharger):
    """
    EV-CC-AC1-M3-*-ETH over Modbus TCP, unit 255 (DIP switch 10 ON).

    State: the letter in the low byte of input register 100 (evcc, nymea). Limit: whole
    amperes in 528 (FC 6) on Phoenix firmware; Wallbe's own firmware takes 0.1 A there
    (evcc, nymea), which Headroom does not drive (a whole-ampere limit would read as a
    tenth of it: too low, never too high). Currents in whole amperes (neither source
    scales them).
    """

    _LETTER_SHIFT = 0
    _model = "Phoenix Contact EV-ETH"
    _fast_fields = ("charger_state", *_PHASE_CURRENTS)
    _full_fields = (
        *_fast_fields,
        "current_limit",
        "charging_enabled",
        "power_total",
        "energy_total",
    )


class PhoenixEvSer(_CoilPausedCharger):
    """
    EV-CC-AC1-M3-*-SER (EV Charge Control Basic) over RS-485.

    State: two ASCII characters in input register 24000 ("B1", "C2"; the letter is the
    high byte). Limit: 22000, 6-63 A (FC 6). No meter: no currents.

    The coil (20000) only pauses when register 4000 is 3 ("enabled through Modbus"); the
    factory setting 1 follows the EN input, and then a pause would do nothing. Full reads
    check 4000 every `verify_interval_s` and raise `Unsupported` naming it when it is not 3.
    """

    _LETTER_SHIFT = 8
    _model = "Phoenix Contact EV-SER"
    _ENABLE_BY_COIL: Final = 3
    _fast_fields = ("charger_state",)
    _full_fields = ("charger_state", "current_limit", "charging_enabled")
    _mode_due_at: float | None = None

    async def _before_full_read(self) -> None:
        if self._mode_due_at is not None and self._clock() < self._mode_due_at:
            return
        mode = (await self._reader.read(["enable_mode"]))["enable_mode"]
        if mode != self._ENABLE_BY_COIL:
            self._mode_due_at = None
            msg = (
                f"charger {self.device_id} (Phoenix Contact EV-SER): charging is not "
                f"enabled through Modbus (register 4000 = {mode!r}, must be 3), so it "
                "cannot be paused"
            )
            raise Unsupported(msg)
        self._mode_due_at = self._clock() + self._verify_interval_s


class PhoenixCharx(_PhoenixCharger):
    """
    CHARX SEC, charging point 1 (one source, evcc: low confidence).

    State: the letter in the high byte of 1299. Limit: whole amperes in 1301 with FC 16;
    0 pauses. Currents in mA; a controller without a meter (type 0 or 65535 at 1112, evcc)
    reports none: Headroom then has no currents for it rather than 0 A.
    """

    _LETTER_SHIFT = 8
    _model = "Phoenix Contact CHARX SEC"
    _NO_METER: Final = frozenset({0, 0xFFFF})
    _fast_fields = ("charger_state", *_PHASE_CURRENTS)
    _full_fields = (*_fast_fields, "meter_type", "current_limit", "power_total", "energy_total")
    _has_meter: bool | None = None

    def _reading(self, values: dict[str, Value | None]) -> ChargerValues:
        meter = values.get("meter_type")
        if isinstance(meter, int):
            self._has_meter = meter not in self._NO_METER
        if self._has_meter is False:
            values = {k: v for k, v in values.items() if k not in _PHASE_CURRENTS}
        return super()._reading(values)


PHOENIX_DRIVERS: Final[Mapping[str, type[Charger]]] = {
    "phoenix_ev_eth": PhoenixEvEth,
    "phoenix_ev_ser": PhoenixEvSer,
    "phoenix_charx": PhoenixCharx,
}
"""Profile id -> driver, for `chargers.create_charger` (ids listed there as `PHOENIX_CHARGERS`)."""
