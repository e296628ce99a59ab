"""
Charger drivers: state, currents, setpoint, energy, limit, pause, and the own watchdog.

Each first-wave charger has a small class that reads and writes through its profile's
register table; what differs between them is only what the hardware really differs in:
how the state is encoded, how the limit is written, and how (or whether) its watchdog and
fail-safe current work:

- Heidelberg Energy Control: watchdog timeout in ms (257), fail-safe current (262), and
  standby must be off (258 = 4) or the box stops answering when no car is plugged in.
  Any request resets its watchdog.
- ABB Terra AC: communication timeout in s (0x4106) and fallback current in A (0x4109);
  some firmware forgets the fallback after a reboot, so both are checked against their
  read-backs and re-written when they differ (or periodically where there is no
  read-back).
- Alfen Eve: the setpoint (1210) is only valid for the station's validity time, after
  which the socket falls back to its safe current (1212, read-only over Modbus, set in
  the installer app). The setpoint is therefore re-written on a cadence.
- Vestel EVC04: fail-safe current and timeout registers, and an alive register the master
  must write within the timeout (`maintain` does, every quarter of it).
- KEBA P30/P40: fail-safe current and timeout with read-backs; the timeout is re-written
  every half timeout (evcc's heartbeat).
- Second wave over Modbus TCP (Bender CC612/CC613, Webasto NEXT, Amperfied connect): in
  `chargers_tcp`; Phoenix Contact EV-SER / EV-ETH / CHARX (a coil pauses the first two):
  in `chargers_phoenix`.
- EVSE-WB/DIN: no watchdog at all; `arm_watchdog` raises `Unsupported` and
  `has_watchdog` is False, so the caller can tell the user. It does write the current
  the board starts at after a power cut (register 2000) and keeps it checked.

Only the state and the phase currents are required in a read; the other registers of a
full read only feed sensors, and one the charger refuses is dropped (`disabled_registers`,
see `planner`), so older firmware without a read-back never makes the control read fail.

Persistent settings are written once: the driver remembers what it wrote and writes again
only when the value changes or the device shows it lost it. Limits are whole amperes,
0 (pause, the way every first-wave charger pauses) or at least 6 A, never in between.

Garbage: a state or phase current the charger sends as NaN or an unknown code raises
`NoResponse` (the caller then assumes the charger draws its maximum); other values that
are garbage become None.
"""

from __future__ import annotations

import dataclasses
import math
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Final

from custom_components.headroom.engine.model import MIN_CHARGE_A, ChargerState

from .errors import DeviceRefused, NoResponse, Unsupported
from .identity import DeviceIdentity, read_identity
from .planner import RegisterReader
from .registers import Register, encode

if TYPE_CHECKING:
    from .registers import Profile, Value
    from .transport import RegisterTransport

DEFAULT_VERIFY_INTERVAL_S: Final = 60.0
"""How often `maintain` reads back persistent settings to see whether they were lost."""

_MAX_CURRENT_A: Final = 1_000.0
_TEMPERATURE_RANGE_C: Final = (-50.0, 150.0)
"""A temperature outside this is a sensor fault or garbage: not shown, not acted on."""
_PHASES: Final = ("l1", "l2", "l3")
_KWH_PER_UNIT: Final = {"kWh": 1.0, "Wh": 0.001, "VAh": 0.001}

type Clock = Callable[[], float]


@dataclass(frozen=True, slots=True, kw_only=True)
class ChargerValues:
    """One read of a charger; None where the model has no such value or sent garbage."""

    state: ChargerState
    current_l1_a: float | None = None
    current_l2_a: float | None = None
    current_l3_a: float | None = None
    setpoint_a: float | None = None
    """The limit the charger reports it applies (or, without a read-back, None)."""
    power_w: float | None = None
    energy_total_kwh: float | None = None
    energy_session_kwh: float | None = None
    temperature_c: float | None = None
    """The charger's own temperature, where it reports one (Heidelberg, Alfen: its board)."""
    derating: bool = False
    """The charger says it lowers its current itself for heat (Heidelberg state 8)."""

    @property
    def currents_a(self) -> tuple[float | None, float | None, float | None]:
        """Measured currents on the charger's L1, L2, L3 (None without a meter)."""
        return (self.current_l1_a, self.current_l2_a, self.current_l3_a)


@dataclass(frozen=True, slots=True, kw_only=True)
class WatchdogStatus:
    """What the charger will do when Home Assistant stops talking to it."""

    timeout_s: float | None
    """Silence after which the charger falls back; None when only the device knows it."""
    failsafe_a: float | None
    """The current it falls back to (0 = stops charging)."""
    failsafe_matches: bool
    """False when the device's fail-safe differs from the one asked for (Alfen: set it in
    the installer app)."""
    rewrite_interval_s: float | None = None
    """The setpoint must be re-written at least this often (`maintain` does it)."""


def _number(value: Value | None) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def _same(device: Value | None, wanted: Value) -> bool:
    """Compare a decoded setting with the wanted one (scaled registers decode inexactly)."""
    if isinstance(device, int | float) and isinstance(wanted, int | float):
        return math.isclose(device, wanted, abs_tol=1e-6)
    return False


class Charger(ABC):
    """A charger on a bus. Subclasses say how their model does each thing."""

    has_watchdog: ClassVar[bool] = True
    """Whether the charger can fall back by itself when the controller goes silent."""
    reads_are_free: ClassVar[bool] = False
    """A read takes bus time (a timeout when silent) and may reset the watchdog."""
    write_grace_s: ClassVar[float | None] = None
    """A cycle waits for a write to its end: the bus's timeout bounds it."""
    fallback_after_s: float | None = None
    """The silence after which it falls back when the device sets it (see `AlfenEve`)."""
    max_limit_a: ClassVar[int] = 32
    """The highest limit the model accepts."""
    _readbacks: ClassVar[Mapping[str, str]] = {}
    """Persistent setting -> the register that reads it back, where the model has one."""
    _fast_fields: ClassVar[tuple[str, ...]] = ()
    _full_fields: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self,
        transport: RegisterTransport,
        profile: Profile,
        *,
        clock: Clock = time.monotonic,
        verify_interval_s: float = DEFAULT_VERIFY_INTERVAL_S,
    ) -> None:
        """Drive the charger at `transport` as `profile`; `clock` gives monotonic seconds."""
        if profile.kind != "charger":
            msg = f"{profile.id} is a {profile.kind}, not a charger"
            raise ValueError(msg)
        self._transport = transport
        self._profile = profile
        self._reader = RegisterReader(transport, profile)
        self._clock = clock
        self._verify_interval_s = verify_interval_s
        self._written: dict[str, Value] = {}
        self._wanted: dict[str, Value] = {}
        self._next_verify_at: float | None = None
        self._limit_a: int | None = None
        self._limit_written_at: float | None = None
        self._last_full: ChargerValues | None = None

    @property
    def profile(self) -> Profile:
        """The model this driver drives."""
        return self._profile

    @property
    def device_id(self) -> int:
        """Modbus device id of the charger."""
        return self._transport.device_id

    @property
    def disabled_registers(self) -> dict[str, str]:
        """Optional registers the charger refused and that are no longer read, and why."""
        return dict(self._reader.disabled)

    async def read(self, *, full: bool = True) -> ChargerValues:
        """
        Read state and phase currents, plus setpoint, power and energy when `full`.

        A fast read (not `full`) returns the last full read with this read's state and
        currents; the first read is a full one whatever `full` says (nothing to merge into).
        Raises `NoResponse` for a garbage state or current, and the transport's errors.
        """
        full = full or self._last_full is None
        if full:
            await self._before_full_read()
        fields = self._full_fields if full else self._fast_fields
        names = [n for n in fields if self._profile.has(n)]
        optional = [n for n in names if n not in self._fast_fields]
        values = await self._reader.read(names, optional=optional)
        self._check_settings(values)
        reading = self._reading(values)
        if full or self._last_full is None:
            self._last_full = reading
            return reading
        return dataclasses.replace(
            self._last_full,
            state=reading.state,
            current_l1_a=reading.current_l1_a,
            current_l2_a=reading.current_l2_a,
            current_l3_a=reading.current_l3_a,
            derating=reading.derating,
        )

    async def identity(self) -> DeviceIdentity:
        """Read the charger's firmware version and serial number (slow data, see identity)."""
        return await read_identity(self._reader, self._profile)

    async def set_limit(self, limit_a: int) -> None:
        """Set the charging current limit: 0 pauses, otherwise 6 A up to `max_limit_a`."""
        self._check_limit(limit_a)
        await self._write_limit(limit_a)
        self._limit_a = limit_a
        self._limit_written_at = self._clock()

    @abstractmethod
    async def arm_watchdog(self, *, timeout_s: float, failsafe_a: int) -> WatchdogStatus:
        """
        Make the charger fall back to `failsafe_a` after `timeout_s` of silence.

        Writes only what differs from the device. Raises `Unsupported` when the model has
        no watchdog, ValueError for values the model cannot take.
        """

    async def maintain(self) -> None:
        """
        Do the periodic duties: re-check persistent settings, re-write what expires.

        Call it every cycle while the controller is healthy; stop calling it (and stop
        talking to the charger) when the charger should fall back.
        """
        if self._readbacks:
            # A read showed the charger lost a setting (its read-back differs): write it now.
            for name, value in self._wanted.items():
                await self._ensure(name, value)
        now = self._clock()
        if self._wanted and (self._next_verify_at is None or now >= self._next_verify_at):
            self._next_verify_at = now + self._verify_interval_s
            await self._verify_settings()

    # --- helpers for subclasses --------------------------------------------------------

    async def _rewrite_limit_after(self, interval_s: float) -> None:
        """Write the last limit again once `interval_s` has passed since it was written."""
        if self._limit_a is None or self._limit_written_at is None:
            return
        if self._clock() - self._limit_written_at >= interval_s:
            await self.set_limit(self._limit_a)

    def _check_limit(self, limit_a: int, *, what: str = "limit") -> None:
        if isinstance(limit_a, bool) or not isinstance(limit_a, int):
            msg = f"{what} must be whole amperes, not {limit_a!r}"
            raise TypeError(msg)
        if limit_a != 0 and not MIN_CHARGE_A <= limit_a <= self.max_limit_a:
            msg = f"{what} {limit_a} A: must be 0 or {MIN_CHARGE_A:g}..{self.max_limit_a} A"
            raise ValueError(msg)

    @staticmethod
    def _whole_seconds(timeout_s: float, low: int, high: int, *, what: str) -> int:
        """Round a timeout to the whole seconds a register takes; ValueError outside."""
        seconds = round(timeout_s)
        if not low <= seconds <= high:
            msg = f"{what} {timeout_s} s: must be {low}..{high} s"
            raise ValueError(msg)
        return seconds

    async def _write(self, register: Register, value: Value) -> None:
        words = encode(register, value)
        code = 16 if len(words) > 1 else self._profile.write_function_code
        await self._transport.write(register.address, words, function_code=code)

    async def _ensure(self, name: str, value: Value) -> bool:
        """Write a persistent setting unless this driver already wrote that value."""
        if name in self._written and _same(self._written[name], value):
            return False
        await self._write(self._profile.registers[name], value)
        self._written[name] = value
        return True

    async def _verify_settings(self) -> None:
        """Read back persistent settings and re-write the ones the device lost."""
        actual = await self._reader.read(list(self._wanted))
        for name, value in self._wanted.items():
            if not _same(actual[name], value):
                self._written.pop(name, None)
            elif name not in self._written:
                self._written[name] = value  # already right on the device: nothing to write
            await self._ensure(name, value)

    def _check_settings(self, values: dict[str, Value | None]) -> None:
        """Notice from a read's read-back registers that the device lost a setting."""
        for name, readback in self._readbacks.items():
            device = values.get(readback)
            if (
                name in self._written
                and device is not None
                and not _same(device, self._written[name])
            ):
                self._written.pop(name)  # the charger lost it (reboot): re-write

    async def _before_full_read(self) -> None:  # noqa: B027 (a hook most models leave empty)
        """Do what a model needs before a full read (EVSE-WB: check its configuration)."""

    def _bad_state(self, raw: object) -> NoResponse:
        return self._garbage("charger_state", raw)

    @abstractmethod
    def _state(self, raw: Value | None) -> ChargerState:
        """Map the model's state register to an IEC 61851 letter (NoResponse if garbage)."""

    async def _write_limit(self, limit_a: int) -> None:
        await self._write(self._profile.registers["current_limit"], limit_a)

    def _garbage(self, what: str, raw: object) -> NoResponse:
        return NoResponse(f"charger {self.device_id}: {what} is not valid ({raw!r})")

    def _reading(self, values: dict[str, Value | None]) -> ChargerValues:
        currents: dict[str, float | None] = {}
        for phase in _PHASES:
            name = f"current_{phase}"
            if name in values:
                current = _number(values[name])
                if current is None or not 0 <= current <= _MAX_CURRENT_A:
                    raise self._garbage(name, values[name])
                currents[phase] = current
        setpoint_name = (
            "current_limit_readback" if "current_limit_readback" in values else "current_limit"
        )
        power = _number(values.get("power_total"))
        return ChargerValues(
            state=self._state(values.get("charger_state")),
            current_l1_a=currents.get("l1"),
            current_l2_a=currents.get("l2"),
            current_l3_a=currents.get("l3"),
            setpoint_a=self._setpoint(values.get(setpoint_name)),
            power_w=power if power is not None and power >= 0 else None,
            energy_total_kwh=self._energy(values, "energy_total"),
            energy_session_kwh=self._energy(values, "energy_session"),
            temperature_c=self._temperature(values.get("temperature")),
        )

    @staticmethod
    def _temperature(raw: Value | None) -> float | None:
        value = _number(raw)
        low, high = _TEMPERATURE_RANGE_C
        return value if value is not None and low <= value <= high else None

    def _setpoint(self, raw: Value | None) -> float | None:
        setpoint = _number(raw)
        return setpoint if setpoint is not None and 0 <= setpoint <= _MAX_CURRENT_A else None

    def _energy(self, values: dict[str, Value | None], name: str) -> float | None:
        raw = _number(values.get(name))
        if raw is None or raw < 0:
            return None
        unit = self._profile.registers[name].unit or "kWh"
        return raw * _KWH_PER_UNIT.get(unit, 1.0)


class _CodedStateCharger(Charger):
    """A charger whose state register holds a code from a table (`_STATES`)."""

    _STATES: ClassVar[Mapping[int, ChargerState]]

    def _state(self, raw: Value | None) -> ChargerState:
        state = self._STATES.get(raw) if isinstance(raw, int) else None
        if state is None:
            raise self._bad_state(raw)
        return state


class HeidelbergEnergyControl(_CodedStateCharger):
    """
    Heidelberg / Amperfied Energy Control (RTU, 19200 8E1).

    Standby is on from the factory: with no car plugged in the box stops answering, so a
    scan (read-only) may not see it; `arm_watchdog` turns standby off (258 = 4). A box that
    reports F (remote lock 259 = 0, e.g. after another master locked it) is unlocked by
    `maintain` writing 259 = 1, as evcc's `heidelberg-ec.go` does in state F.
    """

    max_limit_a = 16
    _fast_fields = ("charger_state", "current_l1", "current_l2", "current_l3")
    # The PCB temperature (input 9) follows the currents: one block with them.
    _full_fields = (*_fast_fields, "temperature", "power_total", "energy_total", "current_limit")
    _STANDBY_OFF: Final = 4
    _DERATING: Final = 8
    _MAX_TIMEOUT_MS: Final = 0xFFFF
    _UNLOCKED: Final = 1
    UNLOCK_RETRY_S: Final = 10.0
    """The box needs about 10 s to leave F (evcc#2287); unlock again after that at most."""
    _last_state: ChargerState | None = None
    _unlock_at: float | None = None
    # input register 5: 2=A1 3=A2 4=B1 5=B2 6=C1 7=C2 8=derating 9=E 10=F 11=error
    _STATES: ClassVar[Mapping[int, ChargerState]] = {
        2: ChargerState.A,
        3: ChargerState.A,
        4: ChargerState.B,
        5: ChargerState.B,
        6: ChargerState.C,
        7: ChargerState.C,
        8: ChargerState.C,
        9: ChargerState.E,
        10: ChargerState.F,
        11: ChargerState.E,
    }

    async def arm_watchdog(self, *, timeout_s: float, failsafe_a: int) -> WatchdogStatus:
        """Standby as `_standby_setting` says, watchdog timeout in ms (257), fail-safe (262)."""
        self._check_limit(failsafe_a, what="fail-safe current")
        timeout_ms = round(timeout_s * 1000)
        if not 0 < timeout_ms <= self._MAX_TIMEOUT_MS:
            msg = f"watchdog timeout {timeout_s} s: must be above 0 and at most 65.5 s"
            raise ValueError(msg)
        self._wanted = {
            **self._standby_setting(),
            "watchdog_timeout": timeout_ms,
            "failsafe_current": failsafe_a,
        }
        await self._verify_settings()
        self._next_verify_at = self._clock() + self._verify_interval_s
        return WatchdogStatus(
            timeout_s=timeout_ms / 1000, failsafe_a=failsafe_a, failsafe_matches=True
        )

    def _standby_setting(self) -> dict[str, Value]:
        """Standby off: a box asleep with no car would not answer, nor keep its watchdog."""
        return {"standby_control": self._STANDBY_OFF}

    def _state(self, raw: Value | None) -> ChargerState:
        self._last_state = super()._state(raw)
        return self._last_state

    def _reading(self, values: dict[str, Value | None]) -> ChargerValues:
        """Read state 8 as charging while the box derates itself, and say so."""
        reading = super()._reading(values)
        if values.get("charger_state") == self._DERATING:
            return dataclasses.replace(reading, derating=True)
        return reading

    async def maintain(self) -> None:
        """Do the upkeep, and clear the remote lock (259 = 1) while the box reports F."""
        await super().maintain()
        if self._last_state is not ChargerState.F:
            self._unlock_at = None
            return
        now = self._clock()
        if self._unlock_at is None or now >= self._unlock_at:
            self._unlock_at = now + self.UNLOCK_RETRY_S
            await self._write(self._profile.registers["remote_lock"], self._UNLOCKED)


class AbbTerraAc(Charger):
    """
    ABB Terra AC wallbox (RTU or TCP).

    State (0x400C byte 1), following evcc `charger/abb.go`: 0 A; 1 B1, 2 B2 and 3 C1 (the
    car wants to charge but no PWM is offered: paused) B; 4 C2 C; 5 "other": the session
    was stopped, as after a limit below 6 A (pause), so B when the socket lock state
    (0x400A) says a car is connected (>= 0x0101), else A. The read-backs 0x4020-0x4024
    (doc v1.8/v1.9) are optional: firmware without them refuses them once, then the
    settings are re-written on a slow cadence instead of checked.
    """

    max_limit_a = 32
    _fast_fields = (
        "socket_lock_state",
        "charger_state",
        "current_l1",
        "current_l2",
        "current_l3",
    )
    _full_fields = (
        *_fast_fields,
        "power_total",
        "energy_session",
        "current_limit_readback",
        "watchdog_timeout_readback",
        "failsafe_current_readback",
    )
    _MIN_TIMEOUT_S: Final = 10
    _MAX_TIMEOUT_S: Final = 0xFFFF
    REWRITE_INTERVAL_S: Final = 300.0
    """Without read-backs (firmware before doc v1.9), the settings are re-written this often."""
    # 0x400C byte 1, bits 0-6: 0=A 1=B1 2=B2 3=C1 4=C2 (5=other: see _OTHER)
    _STATES: Final = (
        ChargerState.A,
        ChargerState.B,
        ChargerState.B,
        ChargerState.B,
        ChargerState.C,
    )
    _OTHER: Final = 5
    _CAR_CONNECTED: Final = 0x0101
    """Socket lock state from here on: cable at the station and at the car (evcc)."""
    _readbacks: ClassVar[Mapping[str, str]] = {
        "watchdog_timeout": "watchdog_timeout_readback",
        "failsafe_current": "failsafe_current_readback",
    }
    _rewrite_at: float = 0.0
    _socket_lock: Value | None = None

    def _reading(self, values: dict[str, Value | None]) -> ChargerValues:
        self._socket_lock = values.get("socket_lock_state")
        return super()._reading(values)

    def _state(self, raw: Value | None) -> ChargerState:
        code = (raw >> 8) & 0x7F if isinstance(raw, int) else None
        if code == self._OTHER:
            lock = self._socket_lock if isinstance(self._socket_lock, int) else 0
            return ChargerState.B if lock >= self._CAR_CONNECTED else ChargerState.A
        if code is None or code >= len(self._STATES):
            raise self._bad_state(raw)
        return self._STATES[code]

    async def arm_watchdog(self, *, timeout_s: float, failsafe_a: int) -> WatchdogStatus:
        """Communication timeout in s (0x4106) and fallback current in A (0x4109)."""
        self._check_limit(failsafe_a, what="fail-safe current")
        seconds = self._whole_seconds(
            timeout_s, self._MIN_TIMEOUT_S, self._MAX_TIMEOUT_S, what="communication timeout"
        )
        self._wanted = {"watchdog_timeout": seconds, "failsafe_current": failsafe_a}
        for name, value in self._wanted.items():
            await self._ensure(name, value)
        self._next_verify_at = self._clock() + self._verify_interval_s
        self._rewrite_at = self._clock() + self.REWRITE_INTERVAL_S
        return WatchdogStatus(timeout_s=seconds, failsafe_a=failsafe_a, failsafe_matches=True)

    async def _verify_settings(self) -> None:
        readbacks = list(self._readbacks.values())
        values: dict[str, Value | None] | None = None
        if not any(name in self._reader.disabled for name in readbacks):
            try:
                values = await self._reader.read(readbacks)
            except DeviceRefused:
                values = None
        if values is not None:
            self._check_settings(values)
        elif self._clock() >= self._rewrite_at:
            # Firmware before doc v1.9 has no read-backs: re-write on a slow cadence instead.
            self._written.clear()
            self._rewrite_at = self._clock() + self.REWRITE_INTERVAL_S
        for name, value in self._wanted.items():
            await self._ensure(name, value)


class AlfenEve(Charger):
    """
    Alfen Eve Single/Double (Modbus TCP, one unit id per socket).

    A socket on a single-phase installation answers NaN for L2 and L3 (evcc `alfen.go`,
    the fix for its issue 4578): those lines are not wired, so NaN there reads as 0 A; a
    NaN on L1 is still garbage. States are the letter of 1201 ('C1' is C, as in evcc;
    evcc reports 'E' as A, which the engine treats alike: no car to allocate to).
    Register 1208 is the time left before the fall-back, not the validity time (and all
    ones before any setpoint); the validity time, set in Alfen's app, is what was left plus
    the time since the last write, measured in every full read after a write
    (`fallback_after_s`). The setpoint is re-written within half of it.
    The temperature (1102, the board's, not the air's: Alfen Modbus doc v2.3) is a station
    register at unit 200, read in full reads through a sibling handle on the same
    connection; a station that refuses or ignores it leaves the socket readable (`planner`).
    The setpoint read is the limit the socket applies (1206), not the one last written
    (1210): after a reboot 1210 is gone while the socket applies its safe current, and after
    the validity time ran out 1210 still shows the old limit (Alfen Modbus doc v2.3, 1.3.1
    and the note on 1214). A station without 1206 falls back to reading 1210.
    """

    max_limit_a = 32
    DEFAULT_REWRITE_INTERVAL_S: Final = 25.0
    """evcc's cadence; the station's validity time defaults to 60 s."""
    _fast_fields = ("charger_state", "current_l1", "current_l2", "current_l3")
    _full_fields = (
        *_fast_fields,
        "power_total",
        "energy_total",
        "current_limit",
        "current_limit_readback",
        "watchdog_remaining",
        "temperature",
    )
    _UNWIRED_LINES: Final = ("current_l2", "current_l3")
    _NO_SETPOINT: Final = 0xFFFFFFFF
    """1208 before any setpoint was written (all ones)."""
    rewrite_interval_s: float = DEFAULT_REWRITE_INTERVAL_S
    """How often the setpoint is re-written: evcc's 25 s, or half of the watchdog timeout
    the loop arms or of the validity time measured, whichever is shortest."""
    _asked_interval_s: float = DEFAULT_REWRITE_INTERVAL_S

    def _state(self, raw: Value | None) -> ChargerState:
        if isinstance(raw, str) and raw[:1] in ChargerState.__members__:
            return ChargerState(raw[:1])
        raise self._bad_state(raw)

    def _reading(self, values: dict[str, Value | None]) -> ChargerValues:
        values = {
            name: 0.0 if name in self._UNWIRED_LINES and value is None else value
            for name, value in values.items()
        }
        if _number(values.get("current_limit_readback")) is None:
            # Reserved on this firmware (NaN, or refused): the limit written is all there is.
            values.pop("current_limit_readback", None)
        self._measure_validity(values.get("watchdog_remaining"))
        return super()._reading(values)

    def _measure_validity(self, remaining: Value | None) -> None:
        """Learn the validity time from the time left (1208) and the time since the write."""
        left_s = _number(remaining)
        written_at = self._limit_written_at
        if left_s is None or written_at is None or not 0 < left_s < self._NO_SETPOINT:
            return  # no write yet, ran out already (0), or no such register
        self.fallback_after_s = float(round(left_s + self._clock() - written_at))
        self._set_rewrite_interval()

    def _set_rewrite_interval(self) -> None:
        """Re-write within half the validity time when known, and as asked (25 s at most)."""
        self.rewrite_interval_s = self._asked_interval_s
        if self.fallback_after_s is not None:
            self.rewrite_interval_s = min(self.rewrite_interval_s, self.fallback_after_s / 2)

    async def arm_watchdog(self, *, timeout_s: float, failsafe_a: int) -> WatchdogStatus:
        """
        Nothing to write: report the safe current, and re-write the setpoint often enough.

        The validity time and safe current are set in Alfen's installer app; the driver
        reads the safe current, keeps re-writing the setpoint every `rewrite_interval_s`
        (evcc's 25 s, or half of `timeout_s` when shorter), and says whether the safe
        current matches `failsafe_a`.
        """
        self._check_limit(failsafe_a, what="fail-safe current")
        values = await self._reader.read(["failsafe_current"])
        safe_a = _number(values["failsafe_current"])
        self._asked_interval_s = min(self.DEFAULT_REWRITE_INTERVAL_S, timeout_s / 2)
        self._set_rewrite_interval()
        return WatchdogStatus(
            timeout_s=None,
            failsafe_a=safe_a,
            failsafe_matches=safe_a is not None and abs(safe_a - failsafe_a) < 0.5,  # noqa: PLR2004
            rewrite_interval_s=self.rewrite_interval_s,
        )

    async def _write_limit(self, limit_a: int) -> None:
        # A float in two registers: Alfen requires both in one FC16 request.
        register = self._profile.registers["current_limit"]
        await self._transport.write(register.address, encode(register, float(limit_a)))

    async def maintain(self) -> None:
        """Re-write the setpoint before the station's validity time runs out."""
        await super().maintain()
        await self._rewrite_limit_after(self.rewrite_interval_s)


class EvseWbDin(_CodedStateCharger):
    """
    EVSE-WB / EVSE-DIN (SimpleEVSE): no meter, no watchdog.

    What keeps it safe instead, checked in full reads every `verify_interval_s` (the site
    stops calling `maintain` for a charger without a watchdog):
    - register 2000, the current it starts at after a power cut or reboot (openWB_lite's
      register dump shows 32 A from the factory), is written once to the fail-safe current
      by `arm_watchdog` (it is persistent) and re-written if it changed;
    - register 2001 must be 1, "Modbus enabled" (EVSE-WiFi `proto.h`): otherwise writes to
      1000 do nothing and, as the board measures no current, nobody would notice; a full
      read then raises `Unsupported`;
    - the limit's unit: 0.01 A when 2005 bit 7 is set, which firmware 17 and later honour
      (evcc, openWB `evse.py`, EVSE-WiFi `main.cpp`); re-read, as another tool may flip it.
    Register 2000 is always written in whole amperes: should a board read it in 0.01 A,
    that errs low (no charging), never 100 times high.
    """

    has_watchdog = False
    max_limit_a = 80
    _fast_fields = ("charger_state",)
    _full_fields = ("charger_state", "current_limit")
    _CONFIG: Final = ("firmware_version", "modbus_enabled", "config_bits")
    _CENTIAMPS_BIT: Final = 0x0080
    _CENTIAMPS_FROM_FIRMWARE: Final = 17
    _MODBUS_ENABLED: Final = 1
    _limit_register: Register | None = None
    """The limit register with its unit, once read from the board's configuration."""
    _config_due_at: float | None = None
    # register 1002: 1 ready (A), 2 EV present (B), 3 charging (C), 4 ventilation (D), 5 failure
    _STATES: ClassVar[Mapping[int, ChargerState]] = {
        1: ChargerState.A,
        2: ChargerState.B,
        3: ChargerState.C,
        4: ChargerState.D,
        5: ChargerState.E,
    }

    async def arm_watchdog(self, *, timeout_s: float, failsafe_a: int) -> WatchdogStatus:
        """
        Set the current after boot (2000) to `failsafe_a`, then raise Unsupported.

        The board keeps its last current when the master is silent: there is no watchdog.
        """
        self._check_limit(failsafe_a, what="fail-safe current")
        self._wanted = {"current_after_boot": failsafe_a}
        await self._verify_settings()
        msg = (
            f"{self._profile.name} has no watchdog: if Home Assistant stops, it keeps "
            f"charging at the last limit (asked: {failsafe_a} A after {timeout_s} s); after "
            f"a power cut it starts at {failsafe_a} A (register 2000)"
        )
        raise Unsupported(msg)

    async def _check_config(self) -> Register:
        """Read firmware, Modbus enable and unit bit; return the limit register in its unit."""
        config = await self._reader.read(self._CONFIG)
        enabled = config["modbus_enabled"]
        if enabled != self._MODBUS_ENABLED:
            self._limit_register = None
            msg = (
                f"charger {self.device_id}: Modbus control is off (register 2001 = "
                f"{enabled!r}, must be 1): the board ignores current limits"
            )
            raise Unsupported(msg)
        firmware, bits = config["firmware_version"], config["config_bits"]
        register = self._profile.registers["current_limit"]
        if (
            isinstance(firmware, int)
            and firmware >= self._CENTIAMPS_FROM_FIRMWARE
            and isinstance(bits, int)
            and bits & self._CENTIAMPS_BIT
        ):
            register = dataclasses.replace(register, scale=0.01)
        self._limit_register = register
        self._config_due_at = self._clock() + self._verify_interval_s
        return register

    async def _current_register(self) -> Register:
        """Return the limit register with its unit (1 A, or 0.01 A), re-read when due."""
        due = self._config_due_at is None or self._clock() >= self._config_due_at
        if self._limit_register is None or due:
            return await self._check_config()
        return self._limit_register

    async def _before_full_read(self) -> None:
        """Check the configured limit register (and the fail-safe current in 2000)."""
        due = self._config_due_at is None or self._clock() >= self._config_due_at
        await self._current_register()
        if due and self._wanted:
            await self._verify_settings()  # 2000 still the fail-safe current?

    def _setpoint(self, raw: Value | None) -> float | None:
        scale = self._limit_register.scale if self._limit_register is not None else 1
        return super()._setpoint(raw * scale if isinstance(raw, int | float) else raw)

    async def _write_limit(self, limit_a: int) -> None:
        await self._write(await self._current_register(), limit_a)


_CABLE_AND_CHARGING_FIELDS: Final = (
    "cable_state",
    "charging_state",
    "current_l1",
    "current_l2",
    "current_l3",
)


class HeartbeatWatchdog(Charger):
    """
    A watchdog that needs a sign of life: one register written more often than its timeout.

    `arm_watchdog` sets `heartbeat_interval_s` and writes the first one (`_beat`);
    `maintain` writes the next whenever it is due.
    """

    _HEARTBEATS_PER_TIMEOUT: ClassVar[int]
    _MIN_HEARTBEAT_S: Final = 1.0
    heartbeat_interval_s: float | None = None
    """How often `maintain` writes the heartbeat (None before `arm_watchdog`)."""
    _heartbeat_at: float | None = None

    @abstractmethod
    async def _heartbeat(self) -> None:
        """Write the sign of life."""

    def _start_heartbeat(self, timeout_s: float) -> float:
        """Set the cadence for a timeout of `timeout_s` (at least every second); return it."""
        self.heartbeat_interval_s = max(
            self._MIN_HEARTBEAT_S, timeout_s / self._HEARTBEATS_PER_TIMEOUT
        )
        return self.heartbeat_interval_s

    async def maintain(self) -> None:
        """Do the driver's upkeep, and write the heartbeat when it is due."""
        await super().maintain()
        if self.heartbeat_interval_s is None or self._heartbeat_at is None:
            return
        if self._clock() - self._heartbeat_at >= self.heartbeat_interval_s:
            await self._beat()

    async def _beat(self) -> None:
        await self._heartbeat()
        self._heartbeat_at = self._clock()


class _HeartbeatCharger(HeartbeatWatchdog):
    """
    A charger with a cable and a charging state, and a watchdog that needs a heartbeat.

    `arm_watchdog` writes the fail-safe current and timeout (checked like any persistent
    setting) and the first heartbeat; `maintain` writes a heartbeat every
    `1 / _HEARTBEATS_PER_TIMEOUT` of the timeout.
    """

    MIN_TIMEOUT_S: ClassVar[int]
    MAX_TIMEOUT_S: ClassVar[int]
    _fast_fields = _CABLE_AND_CHARGING_FIELDS

    @abstractmethod
    def _letter(self, cable: int, charging: int) -> ChargerState:
        """Map the cable and charging state to a state letter (NoResponse if garbage)."""

    def _reading(self, values: dict[str, Value | None]) -> ChargerValues:
        cable, charging = values.get("cable_state"), values.get("charging_state")
        if not isinstance(cable, int) or not isinstance(charging, int):
            raise self._bad_state((cable, charging))
        return super()._reading({**values, "charger_state": self._letter(cable, charging)})

    def _state(self, raw: Value | None) -> ChargerState:
        return ChargerState(str(raw))

    async def arm_watchdog(self, *, timeout_s: float, failsafe_a: int) -> WatchdogStatus:
        """Fail-safe current and timeout (whole seconds), then the heartbeat cadence."""
        self._check_limit(failsafe_a, what="fail-safe current")
        timeout = self._whole_seconds(
            timeout_s, self.MIN_TIMEOUT_S, self.MAX_TIMEOUT_S, what="fail-safe timeout"
        )
        self._wanted = {"failsafe_current": failsafe_a, "watchdog_timeout": timeout}
        await self._verify_settings()
        self._next_verify_at = self._clock() + self._verify_interval_s
        interval_s = self._start_heartbeat(timeout)
        await self._beat()
        return WatchdogStatus(
            timeout_s=float(timeout),
            failsafe_a=failsafe_a,
            failsafe_matches=True,
            rewrite_interval_s=interval_s,
        )


class VestelEvc04(_HeartbeatCharger):
    """
    Vestel EVC04 (also Webasto / Ampure Unite, E.ON Drive vBox): Modbus TCP, unit id 255.

    State as evcc `vestel.go`: a cable state (1004) of 2 or more means a car is plugged in
    (B), and charging state (1001) 1 means it charges (C); otherwise A. The limit (5004) is
    whole amperes written with FC6; 0 pauses. Watchdog: the master must write 1 to the alive
    register (6000) more often than the fail-safe timeout (2002, s), or the charger falls
    back to the fail-safe current (2000, A). evcc writes the alive register every quarter
    of the timeout; `maintain` does the same. The two fail-safe registers come from one
    community source (registers.yaml): they are written and then checked every minute.
    """

    max_limit_a = 32
    MIN_TIMEOUT_S = 3
    """The charger clears the alive register every half timeout, at least 3 s (my-gekko)."""
    MAX_TIMEOUT_S = 0xFFFF
    _HEARTBEATS_PER_TIMEOUT = 4
    _CABLE_WITH_CAR: Final = 2
    _CABLE_STATES: Final = range(4)
    _CHARGING: Final = 1
    _full_fields = (
        *_CABLE_AND_CHARGING_FIELDS,
        "power_total",
        "energy_total",
        "energy_session",
        "current_limit",
    )

    def _letter(self, cable: int, charging: int) -> ChargerState:
        if cable not in self._CABLE_STATES:
            raise self._bad_state((cable, charging))
        if cable < self._CABLE_WITH_CAR:
            return ChargerState.A
        return ChargerState.C if charging == self._CHARGING else ChargerState.B

    async def _heartbeat(self) -> None:
        await self._write(self._profile.registers["alive"], 1)


class KebaP30P40(_HeartbeatCharger):
    """
    KEBA KeContact P30 / P40 (Modbus TCP, unit id 255; also BMW and SolarEdge wallboxes).

    Every value is a 32-bit register pair read alone (evcc: no reads across values; the
    profile allows 2 registers per read). State as evcc `keba-modbus.go`: no car (cable
    state bit 2 clear) A; charging state 3 C; 4 (error) E; otherwise B. Limits are mA
    (5004, FC6). A P30 takes only 6-63 A there and pauses with its enable register (5014 =
    0); a P40 pauses with 5004 = 0. The product type (1016) tells them apart.

    Watchdog: fail-safe current (5016, mA) and timeout (5018, 10-600 s), read back at
    1600/1602 (KEBA's guide, as cited by two community drivers). Without a write for the
    timeout the charger applies the fail-safe current; the heartbeat re-writes the timeout
    every half timeout, as evcc does. The settings are not persisted (5020): after a
    reboot the read-back differs and they are written again.
    """

    max_limit_a = 32
    MIN_TIMEOUT_S = 10
    MAX_TIMEOUT_S = 600
    _HEARTBEATS_PER_TIMEOUT = 2
    _CAR_BIT: Final = 1 << 2
    _STATES: Final = range(6)
    _LETTERS: Final = {3: ChargerState.C, 4: ChargerState.E}
    """Charging state 3 charging, 4 error; the others with a car are B."""
    _full_fields = (
        *_CABLE_AND_CHARGING_FIELDS,
        "power_total",
        "energy_total",
        "failsafe_current_readback",
        "watchdog_timeout_readback",
    )
    _readbacks: ClassVar[Mapping[str, str]] = {
        "watchdog_timeout": "watchdog_timeout_readback",
        "failsafe_current": "failsafe_current_readback",
    }
    _series: str | None = None
    _enabled: bool | None = None

    def _letter(self, cable: int, charging: int) -> ChargerState:
        if charging not in self._STATES:
            raise self._bad_state((cable, charging))
        if not cable & self._CAR_BIT:
            return ChargerState.A
        return self._LETTERS.get(charging, ChargerState.B)

    async def series(self) -> str:
        """Return "P30" or "P40" from the product type (read once); Unsupported otherwise."""
        if self._series is None:
            code = str((await self._reader.read(["product_type"]))["product_type"])
            if len(code) == 6 and code.startswith("3"):  # noqa: PLR2004
                self._series = "P30"
            elif len(code) == 7 and code.startswith("4"):  # noqa: PLR2004
                self._series = "P40"
            else:
                msg = f"charger {self.device_id}: product type {code} is no KEBA P30 or P40"
                raise Unsupported(msg)
        return self._series

    async def _write_limit(self, limit_a: int) -> None:
        registers = self._profile.registers
        if await self.series() == "P40":
            await self._write(registers["current_limit"], limit_a)
            return
        # P30: 5004 takes 6-63 A only; the enable register pauses and resumes.
        if limit_a == 0:
            await self._write(registers["enable"], 0)
            self._enabled = False
            return
        await self._write(registers["current_limit"], limit_a)
        if self._enabled is not True:
            await self._write(registers["enable"], 1)
            self._enabled = True

    async def _verify_settings(self) -> None:
        self._check_settings(await self._reader.read(list(self._readbacks.values())))
        for name, value in self._wanted.items():
            await self._ensure(name, value)

    async def _heartbeat(self) -> None:
        registers = self._profile.registers
        await self._write(registers["watchdog_timeout"], self._wanted["watchdog_timeout"])


_DRIVERS: Final[dict[str, type[Charger]]] = {
    "heidelberg_energy_control": HeidelbergEnergyControl,
    "abb_terra_ac": AbbTerraAc,
    "alfen_eve": AlfenEve,
    "evse_wb_din": EvseWbDin,
    "vestel_evc04": VestelEvc04,
    "keba_p30_p40": KebaP30P40,
}

TCP_CHARGERS: Final = ("bender_cc612_cc613", "webasto_next", "amperfied_connect")
"""Second-wave models whose drivers live in `chargers_tcp` (imported when first wanted)."""

PHOENIX_CHARGERS: Final = ("phoenix_ev_ser", "phoenix_ev_eth", "phoenix_charx")
"""Phoenix Contact controllers, whose drivers live in `chargers_phoenix` (likewise)."""

SUPPORTED_CHARGERS: Final = frozenset({*_DRIVERS, *TCP_CHARGERS, *PHOENIX_CHARGERS})
"""Profile ids that have a charger driver."""


def _driver(profile_id: str) -> type[Charger] | None:
    # Imported here: those modules build on the classes above.
    if profile_id in TCP_CHARGERS:
        from .chargers_tcp import TCP_DRIVERS  # noqa: PLC0415

        return TCP_DRIVERS[profile_id]
    if profile_id in PHOENIX_CHARGERS:
        from .chargers_phoenix import PHOENIX_DRIVERS  # noqa: PLC0415

        return PHOENIX_DRIVERS[profile_id]
    return _DRIVERS.get(profile_id)


def max_limit_a_of(profile_id: str) -> int:
    """Return the highest limit the model's driver accepts; Unsupported without a driver."""
    driver = _driver(profile_id)
    if driver is None:
        msg = f"no driver for {profile_id}"
        raise Unsupported(msg)
    return driver.max_limit_a


def create_charger(
    transport: RegisterTransport,
    profile: Profile,
    *,
    clock: Clock = time.monotonic,
    verify_interval_s: float = DEFAULT_VERIFY_INTERVAL_S,
) -> Charger:
    """Return the driver for `profile`; Unsupported for a charger model without one."""
    driver = _driver(profile.id)
    if driver is None:
        msg = f"no driver for {profile.id} ({profile.name})"
        raise Unsupported(msg)
    return driver(transport, profile, clock=clock, verify_interval_s=verify_interval_s)
