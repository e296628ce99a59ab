"""
Energy meter driver: one data-driven class for every meter profile.

A meter is read through its profile's table; nothing here knows a vendor. What a model
lacks is None in the reading (a single-phase meter has no L2/L3, the SDM72D-M v1 has no
currents at all).

Garbage handling (never returned as a value):
- a phase current that is NaN, infinite, "not available" or implausible raises
  `NoResponse`: the currents drive the breaker protection, so a meter that sends garbage
  there is treated like a meter that did not answer (the caller's fail-safe applies);
- any other quantity that is garbage or implausible (negative voltage, 0 Hz, negative
  energy counter...) becomes None in the reading.

Only the control registers (`FAST_FIELDS`, what a fast read reads) are required: a register
that feeds a sensor alone and that the meter refuses is dropped (see `planner`), listed in
`disabled_registers`. A fast read returns the last full read with its own currents and total
power merged in.

Transformer ratios: a meter whose profile maps `ct_ratio` / `vt_ratio` (Chint DTSU666:
IrAt 0x0006, UrAt 0x0007) reports secondary-side values that must be multiplied by them
(openWB `chint/counter.py`: current x IrAt, voltage x UrAt/10, power x IrAt x UrAt/10;
mbmd and SmartEVSE-3 leave them out, assuming a direct-connect meter with IrAt = 1). The
ratios are read before the first reading and again with the identity (periodically); a
combination outside what the Chint manual allows raises `Unsupported` rather than giving
readings that are off by an unknown factor. Energy counters are left out (None) on a meter
with ratios other than 1: the sources disagree on whether 0x101E/0x1028 already include
them (see registers.yaml).
"""

from __future__ import annotations

import contextlib
import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from .errors import DeviceRefused, NoResponse, Unsupported
from .identity import DeviceIdentity, read_identity
from .planner import RegisterReader

if TYPE_CHECKING:
    from .registers import Profile, Value
    from .transport import RegisterTransport

PHASES: Final = ("l1", "l2", "l3")

METER_FIELDS: Final = (
    *(f"current_{p}" for p in PHASES),
    *(f"voltage_{p}" for p in PHASES),
    *(f"power_{p}" for p in PHASES),
    "power_total",
    "energy_import",
    "energy_export",
    "frequency",
)
"""Canonical register names a `MeterValues` is built from."""

FAST_FIELDS: Final = (*(f"current_{p}" for p in PHASES), "power_total")
"""What the control loop needs every cycle: the fewest registers, the shortest bus time."""

# Plausible ranges (inclusive) per quantity; outside them a value is garbage.
_MAX_CURRENT_A: Final = 10_000.0  # CT meters reach a few kA; more is a decoding error
_MAX_VOLTAGE_V: Final = 1_000.0
_MAX_POWER_W: Final = 10_000_000.0
_FREQUENCY_HZ: Final = (40.0, 70.0)
_MAX_ENERGY_KWH: Final = 1e12
_KWH_PER_UNIT: Final = {"kWh": 1.0, "Wh": 0.001, "VAh": 0.001, "kVAh": 1.0}
_RATIO_NAMES: Final = ("ct_ratio", "vt_ratio")
_CT_RATIO: Final = (1, 9999)
"""IrAt: a whole number (Chint manual: 1..9999; 1 = direct connection)."""
_VT_RATIO: Final = (0.1, 999.9)
"""UrAt in 0.1 steps (raw 1..9999; raw 10 = 1.0 = direct connection)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Ratios:
    """Transformer ratios a meter applies to nothing itself: primary = secondary x ratio."""

    current: float = 1.0
    voltage: float = 1.0

    @property
    def power(self) -> float:
        """Power (and energy) scale with both."""
        return self.current * self.voltage


@dataclass(frozen=True, slots=True, kw_only=True)
class MeterValues:
    """
    One read of a meter; None where the model has no such value or sent garbage.

    Power is signed where the meter signs it (negative = export).
    """

    current_l1_a: float | None = None
    current_l2_a: float | None = None
    current_l3_a: float | None = None
    voltage_l1_v: float | None = None
    voltage_l2_v: float | None = None
    voltage_l3_v: float | None = None
    power_l1_w: float | None = None
    power_l2_w: float | None = None
    power_l3_w: float | None = None
    power_total_w: float | None = None
    energy_import_kwh: float | None = None
    energy_export_kwh: float | None = None
    frequency_hz: float | None = None

    @property
    def currents_a(self) -> tuple[float | None, float | None, float | None]:
        """Phase currents L1, L2, L3."""
        return (self.current_l1_a, self.current_l2_a, self.current_l3_a)


def _number(value: Value | None) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def _within(value: float | None, low: float, high: float) -> float | None:
    return value if value is not None and low <= value <= high else None


class Meter:
    """A meter on a bus: reads its profile's registers into `MeterValues`s."""

    def __init__(self, transport: RegisterTransport, profile: Profile) -> None:
        """Drive the meter at `transport` as the model `profile` (kind must be meter)."""
        if profile.kind != "meter":
            msg = f"{profile.id} is a {profile.kind}, not a meter"
            raise ValueError(msg)
        self._profile = profile
        self._reader = RegisterReader(transport, profile)
        self._available = tuple(name for name in METER_FIELDS if profile.has(name))
        self._has_ratios = all(profile.has(name) for name in _RATIO_NAMES)
        self._ratios: Ratios | None = None if self._has_ratios else Ratios()
        self._last_full: MeterValues | None = None

    @property
    def profile(self) -> Profile:
        """The model this driver reads."""
        return self._profile

    @property
    def device_id(self) -> int:
        """Modbus device id of the meter."""
        return self._reader.transport.device_id

    @property
    def has_phase_currents(self) -> bool:
        """Tell whether the model measures phase currents (needed for load balancing)."""
        return self._profile.has("current_l1")

    @property
    def fields(self) -> tuple[str, ...]:
        """The reading's canonical names this model has."""
        return self._available

    @property
    def ratios(self) -> Ratios | None:
        """The transformer ratios applied (None before they were first read)."""
        return self._ratios

    @property
    def disabled_registers(self) -> dict[str, str]:
        """Optional registers the meter refused and that are no longer read, and why."""
        return dict(self._reader.disabled)

    async def read(self, *, full: bool = True) -> MeterValues:
        """
        Read the meter: every field it has (`full`), or only what balancing needs.

        A fast read (not `full`) reads `FAST_FIELDS` and returns them merged into the last
        full read (alone before the first one). Fields the model lacks are skipped, not
        errors, except the phase currents of a fast read: a model without them (the
        SDM72D-M v1 keeps totals only) raises `Unsupported`, since a missing current must
        never pass for 0 A. Raises `NoResponse` when a phase current is garbage, and the
        transport's `DeviceError`s.
        """
        if not full and not self.has_phase_currents:
            msg = (
                f"meter {self.device_id} ({self._profile.name}) measures no phase currents: "
                "it cannot protect the breaker; use a meter that measures each phase"
            )
            raise Unsupported(msg)
        wanted = self._available if full else [f for f in self._available if f in FAST_FIELDS]
        if self._ratios is None:
            await self.read_ratios()
        optional = [name for name in wanted if name not in FAST_FIELDS]
        values = await self._reader.read(wanted, optional=optional) if wanted else {}
        reading = self._reading(values)
        if full:
            self._last_full = reading
        elif self._last_full is not None:
            reading = dataclasses.replace(
                self._last_full,
                current_l1_a=reading.current_l1_a,
                current_l2_a=reading.current_l2_a,
                current_l3_a=reading.current_l3_a,
                power_total_w=reading.power_total_w,
            )
        return reading

    async def identity(self) -> DeviceIdentity:
        """Read firmware version and serial number (slow data, see identity), and the ratios."""
        identity = await read_identity(self._reader, self._profile)
        if self._has_ratios:
            # An identity read never decides anything; a refusal is for read() to raise.
            with contextlib.suppress(DeviceRefused):
                await self.read_ratios()
        return identity

    async def read_ratios(self) -> Ratios:
        """
        Read the CT and VT ratios the meter is set to (models without them: 1 and 1).

        Raises `Unsupported` for a combination the driver does not understand, and the
        transport's errors.
        """
        if not self._has_ratios:
            return Ratios()
        values = await self._reader.read(_RATIO_NAMES)
        ct, vt = values["ct_ratio"], values["vt_ratio"]
        if (
            not isinstance(ct, int | float)
            or not isinstance(vt, int | float)
            or not float(ct).is_integer()
            or not _CT_RATIO[0] <= ct <= _CT_RATIO[1]
            or not _VT_RATIO[0] - 1e-9 <= vt <= _VT_RATIO[1] + 1e-9
        ):
            self._ratios = None
            msg = (
                f"meter {self.device_id}: transformer ratios IrAt={ct!r}, UrAt={vt!r} are not "
                "understood (expected IrAt 1-9999, UrAt 0.1-999.9); check the meter's settings"
            )
            raise Unsupported(msg)
        self._ratios = Ratios(current=float(ct), voltage=round(float(vt), 1))
        return self._ratios

    def _reading(self, values: dict[str, Value | None]) -> MeterValues:
        ratios = self._ratios or Ratios()

        def scaled(name: str, ratio: float) -> float | None:
            number = _number(values.get(name))
            return None if number is None else number * ratio

        currents: dict[str, float | None] = {}
        for phase in PHASES:
            name = f"current_{phase}"
            if name not in values:
                continue
            current = _within(scaled(name, ratios.current), -_MAX_CURRENT_A, _MAX_CURRENT_A)
            if current is None:
                msg = f"meter {self.device_id}: {name} is not a measurement ({values[name]!r})"
                raise NoResponse(msg)
            currents[phase] = current

        def power(name: str) -> float | None:
            return _within(scaled(name, ratios.power), -_MAX_POWER_W, _MAX_POWER_W)

        def voltage(name: str) -> float | None:
            return _within(scaled(name, ratios.voltage), 0.0, _MAX_VOLTAGE_V)

        def energy(name: str) -> float | None:
            if ratios != Ratios():
                return None  # whether the counters include the ratios is unknown
            raw = _number(values.get(name))
            unit = self._profile.registers[name].unit if name in values else None
            kwh = None if raw is None else raw * _KWH_PER_UNIT.get(unit or "kWh", 1.0)
            return _within(kwh, 0.0, _MAX_ENERGY_KWH)

        power_total = power("power_total")
        power_l1 = power("power_l1")
        if power_l1 is None and self._profile.phases == 1:
            power_l1 = power_total  # a single-phase meter's total is its phase power
        return MeterValues(
            current_l1_a=currents.get("l1"),
            current_l2_a=currents.get("l2"),
            current_l3_a=currents.get("l3"),
            voltage_l1_v=voltage("voltage_l1"),
            voltage_l2_v=voltage("voltage_l2"),
            voltage_l3_v=voltage("voltage_l3"),
            power_l1_w=power_l1,
            power_l2_w=power("power_l2"),
            power_l3_w=power("power_l3"),
            power_total_w=power_total,
            energy_import_kwh=energy("energy_import"),
            energy_export_kwh=energy("energy_export"),
            frequency_hz=_within(_number(values.get("frequency")), *_FREQUENCY_HZ),
        )
