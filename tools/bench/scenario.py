"""
Benchmark scenarios: the YAML schema of DESIGN section 6, validated, with its traces loaded.

A scenario names the site, the household trace (and how it is spread over the phases), an
optional PV trace, the chargers with their cars' sessions, and the mode. Loading reads the
traces and cuts them to the simulated window, so that `SiteModel` needs no file access.
Every error names the key that is wrong.
"""

from __future__ import annotations

import csv
import datetime as dt
import itertools
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import yaml

from custom_components.headroom.engine.model import MIN_CHARGE_A, Mode, Supply

MINUTE_S: Final = 60
DAY_S: Final = 86_400
DEFAULT_METER_PERIOD_S: Final = 1.0
"""The product reads the meter every second by default (DESIGN section 2)."""
DEFAULT_RESPONSE_S: Final = 5.0
"""Cars take up to about 5 s to follow a new setpoint (IEC 61851)."""
SCENARIO_MODES: Final = (Mode.FAST, Mode.SOLAR, Mode.MIN_SOLAR)

_SUB_METERS: Final = ("sub1_kitchen_W", "sub2_laundry_W", "sub3_waterheater_ac_W")


class ScenarioError(ValueError):
    """The scenario does not follow the schema; the message names the offending key."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Site:
    """The supply and its main breaker."""

    supply: Supply
    voltage_v: float
    breaker_a: float
    margin_a: float

    @property
    def phase_count(self) -> int:
        """Number of grid phases (legs) of the supply."""
        return len(self.supply.phases)


@dataclass(frozen=True, slots=True, kw_only=True)
class Session:
    """One daily visit of a car to a charger (times of day in seconds after midnight)."""

    arrive_s: int
    depart_s: int
    energy_kwh: float
    car_max_a: float
    car_phases: int
    response_s: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Charger:
    """One charger as installed, with its cars' daily sessions."""

    name: str
    phases: tuple[int, ...]
    min_a: float
    max_a: float
    priority: int
    circuit: str | None
    sessions: tuple[Session, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Visit:
    """A session placed in the simulated window (seconds after the window's start)."""

    arrive_s: float
    depart_s: float
    session: Session


@dataclass(frozen=True, slots=True, kw_only=True)
class Peak:
    """An import budget per wall-clock window (capacity tariffs)."""

    target_w: float
    window_s: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Scenario:
    """A validated scenario with its traces cut to the simulated window."""

    name: str
    site: Site
    chargers: tuple[Charger, ...]
    circuits_a: dict[str, float]
    mode: Mode
    meter_period_s: float
    start: dt.datetime
    """Local wall-clock time of the window's first second (the household trace's clock)."""
    duration_s: float
    house_a: tuple[tuple[float, ...], ...]
    """House current per supply phase for every minute of the window."""
    house_note: str
    """How the household trace became per-phase currents (every result says it)."""
    pv_w: tuple[float, ...] | None = None
    """PV power for every minute of the window (None: no PV)."""
    pv_note: str = "no PV"
    """Which PV days were paired with which household days, and the scaling."""
    warnings: tuple[str, ...] = field(default=())
    """Keys the schema does not know (accepted, reported)."""
    peak: Peak | None = None
    """The import budget per window, if the scenario has a `peak` section."""

    @property
    def hours(self) -> float:
        """Length of the simulated window in hours."""
        return self.duration_s / 3600

    def charger(self, name: str) -> Charger:
        """Return the charger called `name`."""
        for charger in self.chargers:
            if charger.name == name:
                return charger
        msg = f"no charger named {name!r}"
        raise KeyError(msg)


def load_scenario(path: Path | str) -> Scenario:
    """Read and validate a scenario file; csv paths are relative to the file."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as err:
        msg = f"{path}: cannot read the scenario: {err.strerror}"
        raise ScenarioError(msg) from err
    except yaml.YAMLError as err:
        msg = f"{path}: not valid YAML: {err}"
        raise ScenarioError(msg) from err
    return parse_scenario(raw, base_dir=path.parent)


def parse_scenario(raw: object, *, base_dir: Path) -> Scenario:
    """Validate a scenario mapping (as read from YAML) and load its traces."""
    warnings: list[str] = []
    top = _mapping(raw, "scenario")
    _note_unknown(
        top,
        "",
        {
            "name",
            "site",
            "household",
            "pv",
            "chargers",
            "circuits",
            "mode",
            "meter_period_s",
            "peak",
        },
        warnings,
    )
    name = top.get("name")
    if not isinstance(name, str) or not name.strip():
        msg = "name: required, a non-empty text"
        raise ScenarioError(msg)
    site = _parse_site(_mapping(top.get("site"), "site"), warnings)
    circuits = _parse_circuits(top.get("circuits"), warnings)
    chargers = _parse_chargers(top.get("chargers"), site, circuits, warnings)
    mode_raw = top.get("mode", Mode.FAST.value)
    if mode_raw not in [mode.value for mode in SCENARIO_MODES]:
        msg = f"mode: {mode_raw!r} is not one of fast, solar, min_solar"
        raise ScenarioError(msg)
    mode = Mode(mode_raw)
    meter_period_s = _number(top, "meter_period_s", default=DEFAULT_METER_PERIOD_S, positive=True)

    household = _mapping(top.get("household"), "household")
    _note_unknown(household, "household.", {"csv", "start", "hours", "spread", "scale"}, warnings)
    start, duration_s, house_a, house_note = _load_household(household, site, base_dir)

    pv_w: tuple[float, ...] | None = None
    pv_note = "no PV"
    if top.get("pv") is not None:
        pv = _mapping(top.get("pv"), "pv")
        _note_unknown(pv, "pv.", {"csv", "peak_w", "days"}, warnings)
        pv_w, pv_note = _load_pv(pv, base_dir, start, len(house_a))
    elif mode is not Mode.FAST:
        msg = f"mode: {mode.value} needs a pv section"
        raise ScenarioError(msg)

    peak = None
    if top.get("peak") is not None:
        peak_raw = _mapping(top.get("peak"), "peak")
        _note_unknown(peak_raw, "peak.", {"target_kw", "window_min"}, warnings)
        window_min = _number(peak_raw, "peak.window_min", default=15.0, positive=True)
        if (DAY_S / MINUTE_S) % window_min:
            msg = f"peak.window_min: {window_min:g} does not divide a day into whole windows"
            raise ScenarioError(msg)
        peak = Peak(
            target_w=1000.0 * _number(peak_raw, "peak.target_kw", positive=True),
            window_s=MINUTE_S * window_min,
        )

    for charger in chargers:
        expand_sessions(charger, start, duration_s)  # rejects overlapping sessions early
    return Scenario(
        name=name,
        site=site,
        chargers=chargers,
        circuits_a=circuits,
        mode=mode,
        meter_period_s=meter_period_s,
        start=start,
        duration_s=duration_s,
        house_a=house_a,
        house_note=house_note,
        pv_w=pv_w,
        pv_note=pv_note,
        warnings=tuple(warnings),
        peak=peak,
    )


def expand_sessions(charger: Charger, start: dt.datetime, duration_s: float) -> tuple[Visit, ...]:
    """
    Place the charger's daily sessions in the window, in time order.

    Sessions repeat every day; a departure at or before the arrival time is the next day.
    A visit that began the evening before the window is included (its car is plugged in at
    the start with its whole energy target still to charge).
    """
    midnight = start.replace(hour=0, minute=0, second=0, microsecond=0)
    offset_s = (start - midnight).total_seconds()
    visits: list[Visit] = []
    for day in range(-1, math.ceil((offset_s + duration_s) / DAY_S) + 1):
        for session in charger.sessions:
            arrive = day * DAY_S + session.arrive_s - offset_s
            depart = day * DAY_S + session.depart_s - offset_s
            if session.depart_s <= session.arrive_s:
                depart += DAY_S
            if depart > 0 and arrive < duration_s:
                visits.append(Visit(arrive_s=arrive, depart_s=depart, session=session))
    visits.sort(key=lambda visit: visit.arrive_s)
    for earlier, later in itertools.pairwise(visits):
        if later.arrive_s < earlier.depart_s:
            msg = f"chargers.{charger.name}.sessions: two sessions overlap"
            raise ScenarioError(msg)
    return tuple(visits)


# --- sections -----------------------------------------------------------------------------


def _parse_site(site: dict[str, Any], warnings: list[str]) -> Site:
    _note_unknown(site, "site.", {"supply", "voltage_v", "breaker_a", "margin_a"}, warnings)
    supply_raw = site.get("supply")
    if supply_raw not in [supply.value for supply in Supply]:
        msg = f"site.supply: {supply_raw!r} is not one of single_phase, split_phase, three_phase"
        raise ScenarioError(msg)
    breaker_a = _number(site, "site.breaker_a", positive=True)
    margin_a = _number(site, "site.margin_a", default=0.0, minimum=0.0)
    if margin_a >= breaker_a:
        msg = "site.margin_a: must be below site.breaker_a"
        raise ScenarioError(msg)
    return Site(
        supply=Supply(supply_raw),
        voltage_v=_number(site, "site.voltage_v", positive=True),
        breaker_a=breaker_a,
        margin_a=margin_a,
    )


def _parse_circuits(raw: object, warnings: list[str]) -> dict[str, float]:
    if raw is None:
        return {}
    circuits: dict[str, float] = {}
    for name, spec in _mapping(raw, "circuits").items():
        where = f"circuits.{name}"
        entry = _mapping(spec, where)
        _note_unknown(entry, f"{where}.", {"limit_a"}, warnings)
        circuits[str(name)] = _number(entry, f"{where}.limit_a", positive=True)
    return circuits


def _parse_chargers(
    raw: object, site: Site, circuits: dict[str, float], warnings: list[str]
) -> tuple[Charger, ...]:
    if not isinstance(raw, list) or not raw:
        msg = "chargers: required, a list of at least one charger"
        raise ScenarioError(msg)
    chargers: list[Charger] = []
    for index, item in enumerate(raw):
        entry = _mapping(item, f"chargers[{index}]")
        name = entry.get("name")
        if not isinstance(name, str) or not name.strip():
            msg = f"chargers[{index}].name: required, a non-empty text"
            raise ScenarioError(msg)
        if any(charger.name == name for charger in chargers):
            msg = f"chargers.{name}: two chargers have this name"
            raise ScenarioError(msg)
        where = f"chargers.{name}"
        _note_unknown(
            entry,
            f"{where}.",
            {"name", "phases", "min_a", "max_a", "priority", "circuit", "sessions"},
            warnings,
        )
        phases = _parse_phases(entry.get("phases"), site.supply, f"{where}.phases")
        min_a = _number(entry, f"{where}.min_a", default=MIN_CHARGE_A)
        if min_a < MIN_CHARGE_A:
            msg = f"{where}.min_a: must be at least {MIN_CHARGE_A:g} A (IEC 61851)"
            raise ScenarioError(msg)
        max_a = _number(entry, f"{where}.max_a")
        if max_a < min_a:
            msg = f"{where}.max_a: must be at least min_a"
            raise ScenarioError(msg)
        priority = entry.get("priority", 1)
        if not isinstance(priority, int) or isinstance(priority, bool):
            msg = f"{where}.priority: must be a whole number"
            raise ScenarioError(msg)
        circuit = entry.get("circuit")
        if circuit is not None and circuit not in circuits:
            msg = f"{where}.circuit: {circuit!r} is not listed under circuits"
            raise ScenarioError(msg)
        sessions_raw = entry.get("sessions", [])
        if not isinstance(sessions_raw, list):
            msg = f"{where}.sessions: must be a list"
            raise ScenarioError(msg)
        sessions = tuple(
            _parse_session(
                _mapping(session, f"{where}.sessions[{number}]"),
                f"{where}.sessions[{number}]",
                max_a,
                phases,
                warnings,
            )
            for number, session in enumerate(sessions_raw)
        )
        chargers.append(
            Charger(
                name=name,
                phases=phases,
                min_a=min_a,
                max_a=max_a,
                priority=priority,
                circuit=circuit,
                sessions=sessions,
            )
        )
    return tuple(chargers)


def _parse_phases(raw: object, supply: Supply, where: str) -> tuple[int, ...]:
    if not isinstance(raw, list) or not raw:
        msg = f"{where}: required, a list of grid phases such as [1, 2, 3]"
        raise ScenarioError(msg)
    if any(phase not in supply.phases or isinstance(phase, bool) for phase in raw):
        msg = f"{where}: {raw} uses a phase that a {supply.value} supply does not have"
        raise ScenarioError(msg)
    if len(set(raw)) != len(raw):
        msg = f"{where}: {raw} lists a phase twice"
        raise ScenarioError(msg)
    return tuple(raw)


def _parse_session(
    entry: dict[str, Any],
    where: str,
    charger_max_a: float,
    phases: tuple[int, ...],
    warnings: list[str],
) -> Session:
    _note_unknown(
        entry,
        f"{where}.",
        {"arrive", "depart", "energy_kwh", "car_max_a", "car_phases", "response_s"},
        warnings,
    )
    arrive_s = _time_of_day(entry.get("arrive"), f"{where}.arrive")
    depart_s = _time_of_day(entry.get("depart"), f"{where}.depart")
    if arrive_s == depart_s:
        msg = f"{where}: arrive and depart are the same time"
        raise ScenarioError(msg)
    car_max_a = _number(entry, f"{where}.car_max_a", default=charger_max_a)
    if car_max_a < MIN_CHARGE_A:
        msg = f"{where}.car_max_a: must be at least {MIN_CHARGE_A:g} A"
        raise ScenarioError(msg)
    car_phases = entry.get("car_phases", len(phases))
    if car_phases not in (1, 2, 3) or isinstance(car_phases, bool):
        msg = f"{where}.car_phases: must be 1, 2 or 3"
        raise ScenarioError(msg)
    return Session(
        arrive_s=arrive_s,
        depart_s=depart_s,
        energy_kwh=_number(entry, f"{where}.energy_kwh", positive=True),
        car_max_a=car_max_a,
        car_phases=car_phases,
        response_s=_number(entry, f"{where}.response_s", default=DEFAULT_RESPONSE_S, minimum=0.0),
    )


# --- traces -------------------------------------------------------------------------------


def _load_household(
    household: dict[str, Any], site: Site, base_dir: Path
) -> tuple[dt.datetime, float, tuple[tuple[float, ...], ...], str]:
    path = _csv_path(household, "household", base_dir)
    spread = household.get("spread", "sub_meters")
    if spread not in ("sub_meters", "total"):
        msg = f"household.spread: {spread!r} is not one of sub_meters, total"
        raise ScenarioError(msg)
    scale = _number(household, "household.scale", default=1.0, minimum=0.0)
    needed = ["timestamp", "active_power_W", "current_A"]
    if site.supply is Supply.THREE_PHASE and spread == "sub_meters":
        needed += _SUB_METERS
    rows = _read_csv(path, "household.csv", needed)
    first = _timestamp(rows[0]["timestamp"], "household.csv")
    for number, row in enumerate(rows):
        expected = first + dt.timedelta(minutes=number)
        if _timestamp(row["timestamp"], "household.csv") != expected:
            msg = f"household.csv: {path.name}: minute {expected.isoformat()} is missing"
            raise ScenarioError(msg)

    start = first
    if household.get("start") is not None:
        start = _start(household["start"])
    offset_min = (start - first).total_seconds() / MINUTE_S
    if offset_min < 0 or offset_min >= len(rows) or offset_min != int(offset_min):
        msg = (
            f"household.start: {start.isoformat()} is not a minute of {path.name} "
            f"({first.isoformat()} .. {rows[-1]['timestamp']})"
        )
        raise ScenarioError(msg)
    available_h = (len(rows) - offset_min) / 60
    hours = _number(household, "household.hours", default=available_h, positive=True)
    if hours > available_h + 1e-9:
        msg = f"household.hours: {hours:g} h runs past the end of {path.name} ({available_h:g} h)"
        raise ScenarioError(msg)
    window = rows[int(offset_min) : int(offset_min) + math.ceil(hours * 60)]
    house_a, note = _spread_house(window, site, spread, scale)
    return start, hours * 3600, house_a, f"{note} ({path.name})"


def _spread_house(
    rows: list[dict[str, str]], site: Site, spread: str, scale: float
) -> tuple[tuple[tuple[float, ...], ...], str]:
    scaled = "" if scale == 1 else f", x {scale:g}"
    volts = site.voltage_v
    if site.supply is Supply.THREE_PHASE and spread == "sub_meters":
        house: list[tuple[float, ...]] = []
        for row in rows:
            subs = [_float(row[column], "household.csv") for column in _SUB_METERS]
            rest = _float(row["active_power_W"], "household.csv") - sum(subs)
            house.append(tuple((sub + rest / 3) / volts * scale for sub in subs))
        note = (
            "three-phase spread by the sub-meter rule: L1 = kitchen + rest/3, "
            "L2 = laundry + rest/3, L3 = water heater/AC + rest/3, "
            f"current = power / {volts:g} V{scaled}"
        )
        return tuple(house), note
    if site.supply is Supply.THREE_PHASE:
        house = [
            (_float(row["active_power_W"], "household.csv") / volts / 3 * scale,) * 3
            for row in rows
        ]
        note = f"three-phase spread: total power split equally over L1-L3 at {volts:g} V{scaled}"
        return tuple(house), note
    count = site.phase_count
    house = [(_float(row["current_A"], "household.csv") * scale,) * count for row in rows]
    where = "L1" if count == 1 else "each 120 V leg (L1 and L2)"
    return tuple(house), f"whole-house current_A on {where}{scaled}"


def _load_pv(
    pv: dict[str, Any], base_dir: Path, start: dt.datetime, minutes: int
) -> tuple[tuple[float, ...], str]:
    path = _csv_path(pv, "pv", base_dir)
    peak_w = _number(pv, "pv.peak_w", positive=True)
    rows = _read_csv(path, "pv.csv", ["timestamp", "ac_power_W"])
    # The PV trace's own clock (local standard time at the array) gives the time of day.
    days: dict[dt.date, list[float | None]] = {}
    for row in rows:
        stamp = _timestamp(row["timestamp"], "pv.csv")
        day = days.setdefault(stamp.date(), [None] * (DAY_S // MINUTE_S))
        day[stamp.hour * 60 + stamp.minute] = _float(row["ac_power_W"], "pv.csv")
    chosen = _pv_days(pv, days)
    partial = {
        day: sum(value is not None for value in values)
        for day, values in days.items()
        if None in values and day in chosen
    }
    if partial and "days" in pv:
        named = ", ".join(
            f"{day} ({count} of {len(days[day])} minutes)" for day, count in partial.items()
        )
        msg = f"pv.days: not complete in {path.name}: {named}"
        raise ScenarioError(msg)
    full_days = [
        (day, [value for value in values if value is not None])
        for day, values in sorted(days.items())
        if day in chosen and day not in partial
    ]
    if not full_days:
        msg = f"pv.csv: {path.name} holds no complete day of minutes"
        raise ScenarioError(msg)
    trace_peak = max(max(values) for _, values in full_days)
    if trace_peak <= 0:
        msg = f"pv.csv: {path.name} never produces power"
        raise ScenarioError(msg)
    factor = peak_w / trace_peak
    power: list[float] = []
    pairs: dict[dt.date, dt.date] = {}
    for minute in range(minutes):
        when = start + dt.timedelta(minutes=minute)
        pv_day, values = full_days[(when.date() - start.date()).days % len(full_days)]
        pairs[when.date()] = pv_day
        power.append(values[when.hour * 60 + when.minute] * factor)
    paired = ", ".join(f"{house} <- {pv_day}" for house, pv_day in pairs.items())
    # A partial day cannot stand in for a whole one: say which were left out.
    dropped = "".join(
        f"; partial day {day} left out ({count} of {DAY_S // MINUTE_S} minutes)"
        for day, count in sorted(partial.items())
    )
    note = (
        f"PV {path.name}: ac_power_W x {factor:.4f} (peak {trace_peak:g} W -> {peak_w:g} W), "
        f"aligned by time of day, days paired (house <- PV): {paired}{dropped}"
    )
    return tuple(power), note


def _pv_days(pv: dict[str, Any], days: dict[dt.date, list[float | None]]) -> set[dt.date]:
    """Return the PV days a scenario uses: those under `pv.days`, else all of them."""
    raw = pv.get("days")
    if raw is None:
        return set(days)
    if not isinstance(raw, list) or not raw:
        msg = "pv.days: expected a list of dates (YYYY-MM-DD)"
        raise ScenarioError(msg)
    chosen = set()
    for item in raw:
        try:
            day = dt.date.fromisoformat(str(item))
        except ValueError:
            msg = f"pv.days: {item!r} is not a date (YYYY-MM-DD)"
            raise ScenarioError(msg) from None
        if day not in days:
            msg = f"pv.days: {day} is not in the PV trace"
            raise ScenarioError(msg)
        chosen.add(day)
    return chosen


def _read_csv(path: Path, where: str, columns: list[str]) -> list[dict[str, str]]:
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            reader = csv.DictReader(handle)
            missing = [column for column in columns if column not in (reader.fieldnames or [])]
            if missing:
                msg = f"{where}: {path.name} has no column {', '.join(missing)}"
                raise ScenarioError(msg)
            rows = list(reader)
    except OSError as err:
        msg = f"{where}: cannot read {path}: {err.strerror}"
        raise ScenarioError(msg) from err
    if not rows:
        msg = f"{where}: {path.name} has no rows"
        raise ScenarioError(msg)
    return rows


# --- small validators ---------------------------------------------------------------------


def _mapping(raw: object, where: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        msg = f"{where}: required, a mapping"
        raise ScenarioError(msg)
    return raw


def _note_unknown(entry: dict[str, Any], prefix: str, known: set[str], warnings: list[str]) -> None:
    warnings.extend(f"unknown key {prefix}{key} ignored" for key in entry if key not in known)


_REQUIRED: Final = object()


def _number(
    entry: dict[str, Any],
    where: str,
    *,
    default: float | object = _REQUIRED,
    positive: bool = False,
    minimum: float | None = None,
) -> float:
    """Read the number at `where` (a dotted key path whose last part is the key in `entry`)."""
    value = entry.get(where.rsplit(".", 1)[-1])
    if value is None:
        if isinstance(default, float):
            return default
        msg = f"{where}: required, a number"
        raise ScenarioError(msg)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        msg = f"{where}: {value!r} is not a number"
        raise ScenarioError(msg)
    if positive and value <= 0:
        msg = f"{where}: must be above 0"
        raise ScenarioError(msg)
    if minimum is not None and value < minimum:
        msg = f"{where}: must be at least {minimum:g}"
        raise ScenarioError(msg)
    return float(value)


def _time_of_day(raw: object, where: str) -> int:
    """Seconds after midnight of an "HH:MM" (or "HH:MM:SS") text."""
    if not isinstance(raw, str):
        # An unquoted 18:00 is a base-60 integer in YAML 1.1: insist on quotes.
        msg = f'{where}: write the time of day as a quoted "HH:MM" text'
        raise ScenarioError(msg)
    try:
        clock = dt.time.fromisoformat(raw)
    except ValueError:
        msg = f'{where}: {raw!r} is not a time of day "HH:MM"'
        raise ScenarioError(msg) from None
    return clock.hour * 3600 + clock.minute * 60 + clock.second


def _start(raw: object) -> dt.datetime:
    if isinstance(raw, dt.datetime):
        return raw.replace(tzinfo=None)
    if isinstance(raw, str):
        try:
            return dt.datetime.fromisoformat(raw).replace(tzinfo=None)
        except ValueError:
            pass
    msg = f'household.start: {raw!r} is not a date and time such as "2006-12-23T00:00:00"'
    raise ScenarioError(msg)


def _timestamp(raw: str, where: str) -> dt.datetime:
    try:
        stamp = dt.datetime.fromisoformat(raw)
    except ValueError:
        msg = f"{where}: {raw!r} is not an ISO 8601 timestamp"
        raise ScenarioError(msg) from None
    # Keep the trace's own wall clock (drop any UTC offset): time of day pairs the traces.
    return stamp.replace(tzinfo=None)


def _float(raw: str, where: str) -> float:
    try:
        return float(raw)
    except ValueError:
        msg = f"{where}: {raw!r} is not a number"
        raise ScenarioError(msg) from None


def _csv_path(entry: dict[str, Any], where: str, base_dir: Path) -> Path:
    raw = entry.get("csv")
    if not isinstance(raw, str) or not raw:
        msg = f"{where}.csv: required, a path relative to the scenario file"
        raise ScenarioError(msg)
    path = base_dir / raw
    if not path.is_file():
        msg = f"{where}.csv: {path} does not exist"
        raise ScenarioError(msg)
    return path
