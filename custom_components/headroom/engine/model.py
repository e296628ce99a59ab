"""
The balancing engine's inputs and outputs: plain, immutable values.

Everything here is pure data. Currents are in amperes, power in watts, times in seconds
on a monotonic clock that the caller supplies (the engine never reads a clock).

Phases: grid phases are numbered 1, 2, 3. A supply uses grid phases
single_phase -> (1,), split_phase -> (1, 2) (the two 120 V legs), three_phase -> (1, 2, 3).
Per-phase tuples (`*_a` with one value per phase) always hold one value per phase of the
supply, in grid-phase order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .thermal import ThermalLimits

MIN_CHARGE_A = 6.0
"""IEC 61851: a conforming car does not charge below 6 A (10 % PWM duty)."""


class Supply(StrEnum):
    """How the home is connected to the grid."""

    SINGLE_PHASE = "single_phase"
    SPLIT_PHASE = "split_phase"
    THREE_PHASE = "three_phase"

    @property
    def phases(self) -> tuple[int, ...]:
        """Grid phases of this supply."""
        return {
            Supply.SINGLE_PHASE: (1,),
            Supply.SPLIT_PHASE: (1, 2),
            Supply.THREE_PHASE: (1, 2, 3),
        }[self]


class Mode(StrEnum):
    """What the user asked the chargers to do."""

    OFF = "off"
    FAST = "fast"
    SOLAR = "solar"
    MIN_SOLAR = "min_solar"


class ChargerState(StrEnum):
    """IEC 61851 control-pilot state of a charger."""

    A = "A"  # no vehicle
    B = "B"  # vehicle connected, not charging
    C = "C"  # charging
    D = "D"  # charging, ventilation required
    E = "E"  # error (CP shorted, no power)
    F = "F"  # charger not available


class Constraint(StrEnum):
    """What limited a charger's current this cycle (the binding constraint)."""

    NONE = "none"  # nothing limited it: it got what its car asks for
    BREAKER = "breaker"  # the main breaker's headroom on a phase it draws from
    CIRCUIT = "circuit"  # a shared charger circuit breaker
    CHARGER_MAX = "charger_max"  # the charger's own maximum
    CAR = "car"  # the car draws less than offered (or is full / not connected)
    SOLAR = "solar"  # the PV surplus
    FAIL_SAFE = "fail_safe"  # the meter is silent: fail-safe current
    MODE_OFF = "mode_off"  # the user switched charging off or paused this charger
    PEAK = "peak"  # the import budget of the current wall-clock window (capacity tariff)
    TEMPERATURE = "temperature"  # the charger is hot: derated, or paused until it cools
    UNRESPONSIVE = "unresponsive"  # it draws above its limit: the others make room for it


@dataclass(frozen=True, slots=True, kw_only=True)
class ChargerSettings:
    """How one charger is installed and what the user allows it."""

    charger_id: str
    phases: tuple[int, ...]
    """Grid phase each of the charger's lines is wired to: charger L1 -> phases[0], ...
    A 1-phase charger on L2 is (2,); a split-phase 240 V charger is (1, 2)."""
    max_a: float
    min_a: float = MIN_CHARGE_A
    priority: int = 1
    """Higher first; equal priorities share equally."""
    circuit: str | None = None
    """Name of a shared charger circuit (see SiteSettings.circuits_a), if any."""
    paused: bool = False
    """The user paused this charger."""
    thermal: ThermalLimits | None = None
    """When it derates and pauses for heat (only where it reports its temperature)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SolarSettings:
    """Thresholds for the solar modes."""

    start_delay_s: float = 60.0
    stop_delay_s: float = 180.0
    stop_import_wh: float = 10.0
    """Solar only: stop before the stop delay once this much grid energy has gone into
    the cars since the surplus fell short of their minimum."""
    ride_through_share: float = 0.025
    """Solar only: a running car rides through a cloud at its minimum on grid power while
    the cars have drawn from the grid less than this share of the solar energy they took
    (see `solar.RideThrough`); meanwhile the stop delay and stop budget wait."""
    ride_through_wh: float = 300.0
    """Solar only: the most grid energy saved up for riding through clouds."""
    grid_tolerance_w: float = 100.0
    """Solar only: grid import tolerated while following the surplus."""
    surplus_stale_after_s: float = 30.0
    turn_s: float = 3600.0
    """Solar only: when the surplus carries fewer cars than want it, a running car gives way
    to a waiting one of the same priority and size once it has run this much longer on the
    surplus (turns over the day, not on every cloud)."""
    join_mean_s: float = 600.0
    """Solar only: a car that would start beside running cars, or start again after running
    on the surplus, waits until what the running cars leave of it, averaged over this long,
    covers its minimum too (besides the start delay): a car that starts on a short sunny
    spell between clouds is stopped by the next one."""
    takeover_s: float = 300.0
    """Solar only: when the surplus carries one car but not two, a waiting car that can take
    more of it than the running one takes over once the surplus has carried its minimum
    alone for this long (a car on three phases from one on one phase)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TimingSettings:
    """The controller's timers (seconds)."""

    meter_stale_after_s: float = 5.0
    """No meter reading for this long: every charger goes to the fail-safe current."""
    raise_hold_s: float = 10.0
    """After any change, wait this long before raising a charger again (a raise that only
    the PV surplus limits waits `car_response_s`, if shorter)."""
    min_pause_s: float = 300.0
    """A charger paused for lack of headroom stays paused at least this long."""
    turn_s: float = 900.0
    """When only one 6 A slot exists for two cars, each gets it for this long in turn."""
    car_response_s: float = 5.0
    """How long a car may take to follow a new setpoint (IEC 61851 allows about 5 s)."""
    raise_deadband_a: float = 0.25
    """A raise needs this much more headroom than the next whole ampere: no hunting on
    noise at a rounding edge. Cuts never wait for it. It guards measured headroom only: a
    phase that exports at least this much beyond its chargers' draw (PV, never counted as
    capacity) has the room already, and a shared circuit's rating is not measured."""
    resume_hysteresis_a: float = 1.0
    """A paused charger resumes only when its minimum plus this much fits."""
    car_slack_a: float = 2.0
    """A car drawing this much less than offered is offered its draw plus this much."""
    idle_after_s: float = 60.0
    """A car offered its minimum that draws nothing for this long is idle (full, or on its
    own timer): its reservation goes to the others. Longer than a car takes to start after
    a pause (IEC 61851 allows about 5 s to follow; waking and closing the contactor takes
    some cars tens of seconds), as openWB's 60 s."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PeakSettings:
    """An import budget per wall-clock window (capacity tariffs): see `peak.py`."""

    target_w: float
    """The window's average grid import must stay at or below this."""
    window_s: float = 900.0
    """The window's length: 900 s (Flanders) or 3600 s (Norway, Sweden)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SiteSettings:
    """The installation: supply, main breaker, chargers, circuits, mode."""

    supply: Supply
    voltage_v: float
    """Phase-to-neutral voltage (split phase: each leg, 120 V)."""
    breaker_a: float
    margin_a: float
    fail_safe_a: float
    """Current each charger falls back to when the meter is silent: 0 or >= 6 A."""
    chargers: tuple[ChargerSettings, ...]
    circuits_a: dict[str, float] = field(default_factory=dict)
    """Shared charger circuits: name -> breaker rating per phase."""
    mode: Mode = Mode.FAST
    has_meter: bool = True
    """False: power sharing only (chargers share breaker_a, house load unknown)."""
    solar: SolarSettings = field(default_factory=SolarSettings)
    timing: TimingSettings = field(default_factory=TimingSettings)
    peak: PeakSettings | None = None
    """The import budget per window, if the user set one (needs a meter)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class MeterReading:
    """Grid current per phase as the main meter measured it."""

    currents_a: tuple[float, ...]
    """One value per supply phase (see module docstring)."""
    at: float
    """When it was measured (caller's monotonic clock)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ChargerReading:
    """One charger as read this cycle."""

    charger_id: str
    state: ChargerState | None
    """None when the charger could not be read: it is then assumed to draw its maximum."""
    currents_a: tuple[float, ...] | None
    """Measured current per charger line (L1..), None when unknown or the charger has no meter."""
    setpoint_a: float | None = None
    """The limit the charger reports it is applying, if it can say."""
    wants_charge: bool = True
    """False when the car is full or declined charge (known from the car or the session)."""
    temperature_c: float | None = None
    """The charger's own temperature, where it reports one (read on the slow cadence)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SurplusReading:
    """PV surplus from the user's Home Assistant sensors (positive = exporting)."""

    power_w: float
    at: float


@dataclass(frozen=True, slots=True, kw_only=True)
class ImportWindow:
    """Where the loop is in the current wall-clock import window, and what it imported."""

    elapsed_s: float
    """Time since the window began (the loop reads the wall clock, the engine does not)."""
    imported_wh: float
    """Grid energy imported since the window began (an export does not count against it)."""
    import_w: float
    """Grid power now, import positive: the meter's total power."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Snapshot:
    """Everything the engine knows this cycle."""

    now: float
    meter: MeterReading | None
    chargers: tuple[ChargerReading, ...]
    surplus: SurplusReading | None = None
    window: ImportWindow | None = None
    """The import window (only with `SiteSettings.peak`); None: the meter gave no power."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ChargerCommand:
    """What one charger should do now, and why."""

    charger_id: str
    current_a: float
    """0 = paused, otherwise within [min_a, max_a]; whole amperes."""
    reason: Constraint


@dataclass(frozen=True, slots=True, kw_only=True)
class SolarStatus:
    """Solar only: what the start and ride-through rules saw this cycle (for diagnostics)."""

    power_w: float
    """The PV power the chargers may take now (what they draw plus the export)."""
    mean_w: float
    """Its average over `SolarSettings.join_mean_s`: a car that would join running ones, or
    start again, needs its minimum covered by this, less the running cars' minimums."""
    ride_budget_wh: float
    """Grid energy saved up for riding through clouds (below zero: owed, see `RideThrough`)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    """The engine's output for one cycle."""

    commands: tuple[ChargerCommand, ...]
    house_a: tuple[float, ...]
    """House load per supply phase (grid current minus the chargers' draw)."""
    headroom_a: tuple[float, ...]
    """Breaker minus margin minus house load, per supply phase."""
    available_a: float
    """Current available to the chargers (the smallest phase headroom, or the fail-safe)."""
    binding: Constraint
    """What limited the site this cycle (the most restrictive command's reason)."""
    fail_safe: bool
    """True while the meter is silent and the fail-safe current applies."""
    solar: SolarStatus | None = None
    """Solar only mode: the surplus and the grid budget the solar rules saw (else None)."""
