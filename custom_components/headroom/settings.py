"""
Turn what the config entry stores into the engine's and the bus's settings.

No Home Assistant import: plain mappings in, engine and device-layer values out, so the
same rules serve the config flow's checks, the coordinator and the tests.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Final, Literal, cast

from .const import (
    CONF_BAUDRATE,
    CONF_BREAKER,
    CONF_BREAKER_LOWERED,
    CONF_CIRCUIT,
    CONF_CONNECTION,
    CONF_DEVICE_ID,
    CONF_FAIL_SAFE,
    CONF_GRID_TOLERANCE,
    CONF_MARGIN,
    CONF_MAX_CURRENT,
    CONF_MAX_LOWERED,
    CONF_METER_ID,
    CONF_METER_MODEL,
    CONF_METER_STALE,
    CONF_MODE,
    CONF_MODEL,
    CONF_PARITY,
    CONF_PAUSED,
    CONF_PEAK_TARGET,
    CONF_PEAK_WINDOW,
    CONF_PHASES,
    CONF_PRIORITY,
    CONF_SHARED_CIRCUIT,
    CONF_SOLAR_START_DELAY,
    CONF_SOLAR_STOP_DELAY,
    CONF_STOPBITS,
    CONF_SUPPLY,
    CONF_SURPLUS_STALE,
    CONF_VOLTAGE,
    CONF_WATCHDOG_TIMEOUT,
    CONNECTION_RTU_OVER_TCP,
    CONNECTION_SERIAL,
    CYCLE_INTERVAL,
    DEFAULT_BAUDRATE,
    DEFAULT_GRID_TOLERANCE_W,
    DEFAULT_MARGIN_A,
    DEFAULT_METER_STALE_S,
    DEFAULT_PARITY,
    DEFAULT_PRIORITY,
    DEFAULT_SOLAR_START_DELAY_S,
    DEFAULT_SOLAR_STOP_DELAY_S,
    DEFAULT_STOPBITS,
    DEFAULT_SURPLUS_STALE_S,
    DEFAULT_TCP_PORT,
    DEFAULT_VOLTAGE_V,
    DEFAULT_WATCHDOG_TIMEOUT_S,
    MAX_BREAKER_A,
    MAX_CHARGER_A,
    MAX_PEAK_TARGET_KW,
    MAX_PRIORITY,
    MIN_BREAKER_A,
    PEAK_WINDOWS_MIN,
    SHARED_CIRCUIT_NAME,
)
from .devices.bus import BusSettings, SerialSettings, TcpSettings
from .devices.chargers import SUPPORTED_CHARGERS, max_limit_a_of
from .devices.registers import get_profile
from .engine import Balancer
from .engine.fail_safe import fail_safe_fits, max_fail_safe_a
from .engine.model import (
    MIN_CHARGE_A,
    ChargerSettings,
    Mode,
    PeakSettings,
    SiteSettings,
    SolarSettings,
    Supply,
    TimingSettings,
)
from .engine.thermal import ThermalLimits
from .entity_config import (
    CONF_BACKUP_METER,
    CONF_METER_ENTITIES,
    EntityChargerConfig,
    EntityMeterConfig,
    entity_charger_config,
    entity_meter_config,
    is_entity_charger,
    status_mapping,
    used_twice,
)

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

CONF_DEVICE: Final = "device"
"""Home Assistant's CONF_DEVICE, repeated here to keep this module free of it."""
CONF_HOST: Final = "host"
CONF_PORT: Final = "port"


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceLocation:
    """Which model a meter or charger is and where it answers."""

    model: str
    device_id: int
    bus: BusSettings


@dataclass(frozen=True, slots=True, kw_only=True)
class ChargerConfig:
    """One charger subentry: its id (the subentry id) and its stored data."""

    charger_id: str
    data: Mapping[str, Any]


def bus_settings(data: Mapping[str, Any]) -> BusSettings:
    """Return the port or gateway a config entry (or charger subentry) talks to."""
    connection = data[CONF_CONNECTION]
    if connection == CONNECTION_SERIAL:
        return SerialSettings(
            port=data[CONF_DEVICE],
            baudrate=int(data.get(CONF_BAUDRATE, DEFAULT_BAUDRATE)),
            parity=cast("Literal['N', 'E', 'O']", data.get(CONF_PARITY, DEFAULT_PARITY)),
            stopbits=cast("Literal[1, 2]", int(data.get(CONF_STOPBITS, DEFAULT_STOPBITS))),
        )
    return TcpSettings(
        host=data[CONF_HOST],
        port=int(data.get(CONF_PORT, DEFAULT_TCP_PORT)),
        framer="rtu" if connection == CONNECTION_RTU_OVER_TCP else "socket",
    )


def line_conflict(first: BusSettings, second: BusSettings) -> bool:
    """Tell whether two devices on one port need different line settings or framing."""
    return first.key == second.key and first != second


def charger_phases(value: Iterable[int | str]) -> tuple[int, ...]:
    """Return the stored grid-phase wiring as a tuple of phase numbers."""
    return tuple(int(phase) for phase in value)


class ProblemKey(StrEnum):
    """What makes settings unworkable: each is a translation key (flow error, repair, action)."""

    NOT_A_NUMBER = "not_a_number"
    OUT_OF_RANGE = "out_of_range"
    BREAKER_TOO_LOW = "breaker_too_low"
    MARGIN_TOO_LARGE = "margin_too_large"
    PHASES_NOT_ON_SUPPLY = "phases_not_on_supply"
    CHARGER_ABOVE_BREAKER = "charger_above_breaker"
    CHARGER_ABOVE_MODEL = "charger_above_model"
    FAIL_SAFE_BELOW_MINIMUM = "fail_safe_below_minimum"
    FAIL_SAFE_TOO_HIGH = "fail_safe_too_high"
    WATCHDOG_TOO_SHORT = "watchdog_too_short"
    INVALID_SETTINGS = "invalid_settings"
    # Devices made of Home Assistant entities
    WRONG_UNIT = "wrong_unit"
    NOT_NUMERIC = "not_numeric"
    LIMIT_RANGE = "limit_range"
    ENTITY_USED_TWICE = "entity_used_twice"
    ENTITY_COUNT = "entity_count"
    STATUS_MAPPING = "status_mapping"
    CANNOT_PAUSE = "cannot_pause"


@dataclass(frozen=True, slots=True, kw_only=True)
class Problem:
    """One reason the settings cannot work."""

    key: ProblemKey
    field: str | None = None
    """The option or charger setting it is about (a flow shows the error there)."""
    detail: str
    """In plain words, for logs and repairs."""
    placeholders: Mapping[str, str] = dataclass_field(default_factory=dict)


class SettingsError(ValueError):
    """The stored or entered settings cannot protect the breaker."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        """Keep every problem; the message lists them."""
        self.problems = tuple(problems)
        super().__init__("; ".join(problem.detail for problem in self.problems))


@dataclass(frozen=True, slots=True)
class NumberRule:
    """A number the installer sets: where it is stored, its default and its range."""

    key: str
    default: float | None
    minimum: float
    maximum: float


SITE_NUMBERS: Final = (
    NumberRule(CONF_VOLTAGE, DEFAULT_VOLTAGE_V, 100.0, 400.0),
    NumberRule(CONF_BREAKER, None, MIN_BREAKER_A, MAX_BREAKER_A),
    NumberRule(CONF_BREAKER_LOWERED, MAX_BREAKER_A, MIN_BREAKER_A, MAX_BREAKER_A),
    NumberRule(CONF_MARGIN, DEFAULT_MARGIN_A, 0.0, 50.0),
    NumberRule(CONF_FAIL_SAFE, 0.0, 0.0, MAX_CHARGER_A),
    NumberRule(CONF_CIRCUIT, 0.0, 0.0, MAX_BREAKER_A),
    NumberRule(CONF_METER_STALE, DEFAULT_METER_STALE_S, 2.0, 60.0),
    # The model's own range is the driver's to check (a repair names it).
    NumberRule(CONF_WATCHDOG_TIMEOUT, DEFAULT_WATCHDOG_TIMEOUT_S, 1.0, 3600.0),
    NumberRule(CONF_SOLAR_START_DELAY, DEFAULT_SOLAR_START_DELAY_S, 0.0, 3600.0),
    NumberRule(CONF_SOLAR_STOP_DELAY, DEFAULT_SOLAR_STOP_DELAY_S, 0.0, 3600.0),
    NumberRule(CONF_GRID_TOLERANCE, DEFAULT_GRID_TOLERANCE_W, 0.0, 5000.0),
    NumberRule(CONF_SURPLUS_STALE, DEFAULT_SURPLUS_STALE_S, 5.0, 600.0),
    NumberRule(CONF_PEAK_TARGET, 0.0, 0.0, MAX_PEAK_TARGET_KW),
    NumberRule(CONF_PEAK_WINDOW, PEAK_WINDOWS_MIN[0], PEAK_WINDOWS_MIN[0], PEAK_WINDOWS_MIN[-1]),
)
"""The site's numbers, checked wherever they come from (flows, entities, storage)."""
CHARGER_NUMBERS: Final = (
    NumberRule(CONF_MAX_CURRENT, None, MIN_CHARGE_A, MAX_CHARGER_A),
    NumberRule(CONF_MAX_LOWERED, MAX_CHARGER_A, MIN_CHARGE_A, MAX_CHARGER_A),
    NumberRule(CONF_PRIORITY, DEFAULT_PRIORITY, 1.0, MAX_PRIORITY),
)
"""A charger's numbers."""
RULES: Final = {rule.key: rule for rule in (*SITE_NUMBERS, *CHARGER_NUMBERS)}


def number(value: object) -> float | None:
    """Return a stored or entered value as a finite number, None when it is not one."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        result = float(value)
    except ValueError:
        return None
    return result if math.isfinite(result) else None


def number_problem(rule: NumberRule, value: object) -> Problem | None:
    """Check one number against its rule: missing, not finite, or out of range."""
    if value is None and rule.default is not None:
        return None
    result = number(value)
    if result is None:
        return Problem(
            key=ProblemKey.NOT_A_NUMBER,
            field=rule.key,
            detail=f"{rule.key} is not a number: {value!r}",
            placeholders={"field": rule.key},
        )
    if rule.key in {CONF_BREAKER, CONF_BREAKER_LOWERED} and result < rule.minimum:
        return Problem(
            key=ProblemKey.BREAKER_TOO_LOW,
            field=rule.key,
            detail=f"{rule.key} {result:g} A is below {rule.minimum:g} A",
        )
    if not rule.minimum <= result <= rule.maximum:
        return Problem(
            key=ProblemKey.OUT_OF_RANGE,
            field=rule.key,
            detail=f"{rule.key} {result:g} is outside {rule.minimum:g}..{rule.maximum:g}",
            placeholders={
                "field": rule.key,
                "minimum": f"{rule.minimum:g}",
                "maximum": f"{rule.maximum:g}",
            },
        )
    return None


def _value(mapping: Mapping[str, Any], rule: NumberRule) -> float:
    """Return a number that `number_problem` accepted (its default when absent or None)."""
    value = mapping.get(rule.key)
    result = number(rule.default if value is None else value)
    if result is None:  # pragma: no cover (checked first)
        msg = f"{rule.key} was not checked"
        raise AssertionError(msg)
    return result


def breaker_a(options: Mapping[str, Any]) -> float:
    """Return the main breaker rating in force: the installer's, or lower if a user lowered it."""
    return min(_value(options, RULES[CONF_BREAKER]), _value(options, RULES[CONF_BREAKER_LOWERED]))


def charger_max_a(data: Mapping[str, Any]) -> float:
    """Return a charger's maximum in force: the installer's, or lower if a user lowered it."""
    return min(_value(data, RULES[CONF_MAX_CURRENT]), _value(data, RULES[CONF_MAX_LOWERED]))


def watchdog_timeout_s(options: Mapping[str, Any]) -> float:
    """Return the chargers' watchdog timeout (its default when not a valid number)."""
    rule = RULES[CONF_WATCHDOG_TIMEOUT]
    value = number(options.get(rule.key, rule.default))
    return value if value is not None and value > 0 else DEFAULT_WATCHDOG_TIMEOUT_S


def _enum_problem(options: Mapping[str, Any], key: str, kind: type[StrEnum]) -> Problem | None:
    value = options.get(key)
    if key == CONF_MODE and value is None:
        return None
    if value in {member.value for member in kind}:
        return None
    return Problem(
        key=ProblemKey.INVALID_SETTINGS, field=key, detail=f"{key} {value!r} is not known"
    )


def _charger_problems(
    charger: ChargerConfig, supply: Supply, site_breaker_a: float
) -> list[Problem]:
    """Check one charger: its numbers, wiring, and maximum against the breaker and model."""
    data = charger.data
    problems = [
        problem
        for rule in CHARGER_NUMBERS
        if (problem := number_problem(rule, data.get(rule.key))) is not None
    ]
    phases = data.get(CONF_PHASES)
    try:
        wired = charger_phases(phases) if isinstance(phases, list | tuple) else ()
    except TypeError, ValueError:
        wired = ()
    if not wired or not set(wired) <= set(supply.phases):
        problems.append(
            Problem(
                key=ProblemKey.PHASES_NOT_ON_SUPPLY,
                field=CONF_PHASES,
                detail=f"{charger.charger_id}: phases {phases!r} are not on a {supply} supply",
            )
        )
    if problems:
        return problems
    max_a = charger_max_a(data)
    if max_a > site_breaker_a:
        problems.append(
            Problem(
                key=ProblemKey.CHARGER_ABOVE_BREAKER,
                field=CONF_MAX_CURRENT,
                detail=f"{charger.charger_id}: maximum {max_a:g} A is above the breaker",
            )
        )
    if is_entity_charger(data):
        try:
            status_mapping(data)
        except ValueError as err:
            problems.append(
                Problem(
                    key=ProblemKey.STATUS_MAPPING,
                    field="status_manual",
                    detail=f"{charger.charger_id}: {err}",
                    placeholders={"error": str(err)},
                )
            )
    model = data.get(CONF_MODEL)
    if isinstance(model, str) and model in SUPPORTED_CHARGERS and max_a > max_limit_a_of(model):
        problems.append(
            Problem(
                key=ProblemKey.CHARGER_ABOVE_MODEL,
                field=CONF_MAX_CURRENT,
                detail=f"{charger.charger_id}: maximum {max_a:g} A is above what {model} takes",
            )
        )
    return problems


def _build(
    data: Mapping[str, Any], options: Mapping[str, Any], chargers: Iterable[ChargerConfig]
) -> SiteSettings:
    """Build the engine's settings from values that were checked."""
    circuit_a = _value(options, RULES[CONF_CIRCUIT])
    # Marked as shared but no rating given: the chargers then share the main breaker only.
    shared = circuit_a > 0
    charger_settings = tuple(
        ChargerSettings(
            charger_id=charger.charger_id,
            phases=charger_phases(charger.data[CONF_PHASES]),
            max_a=charger_max_a(charger.data),
            priority=int(_value(charger.data, RULES[CONF_PRIORITY])),
            circuit=(
                SHARED_CIRCUIT_NAME if shared and charger.data.get(CONF_SHARED_CIRCUIT) else None
            ),
            paused=bool(charger.data.get(CONF_PAUSED, False)),
            thermal=thermal_limits(charger.data.get(CONF_MODEL)),
        )
        for charger in chargers
    )
    uses_circuit = any(charger.circuit is not None for charger in charger_settings)
    return SiteSettings(
        supply=Supply(options[CONF_SUPPLY]),
        voltage_v=_value(options, RULES[CONF_VOLTAGE]),
        breaker_a=breaker_a(options),
        margin_a=_value(options, RULES[CONF_MARGIN]),
        fail_safe_a=_value(options, RULES[CONF_FAIL_SAFE]),
        chargers=charger_settings,
        circuits_a={SHARED_CIRCUIT_NAME: circuit_a} if uses_circuit else {},
        mode=Mode(options.get(CONF_MODE, Mode.FAST)),
        has_meter=has_meter(data),
        solar=SolarSettings(
            start_delay_s=_value(options, RULES[CONF_SOLAR_START_DELAY]),
            stop_delay_s=_value(options, RULES[CONF_SOLAR_STOP_DELAY]),
            grid_tolerance_w=_value(options, RULES[CONF_GRID_TOLERANCE]),
            surplus_stale_after_s=_value(options, RULES[CONF_SURPLUS_STALE]),
        ),
        timing=TimingSettings(
            meter_stale_after_s=_value(options, RULES[CONF_METER_STALE]),
            # The slowest car behind an integration sets how long a raise waits for it.
            car_response_s=max(
                (
                    entity_charger_config(c.data, lines=1, voltage_v=230.0).response_s
                    for c in chargers
                    if is_entity_charger(c.data)
                ),
                default=TimingSettings().car_response_s,
            ),
        ),
        peak=_peak(data, options),
    )


THERMAL_LIMITS: Final = ThermalLimits(derate_c=70.0, stop_c=80.0, hysteresis_c=10.0)
"""
For every charger that reports a temperature. The vendors publish no thresholds for the
temperatures they report (Heidelberg's PCB): conservative values, stated in the README.
"""


def thermal_limits(model: object) -> ThermalLimits | None:
    """Return the thermal limits of a charger model that reports its temperature."""
    if model not in SUPPORTED_CHARGERS:
        return None
    return THERMAL_LIMITS if get_profile(str(model)).has("temperature") else None


def _peak(data: Mapping[str, Any], options: Mapping[str, Any]) -> PeakSettings | None:
    """Return the import budget per window, if one is set (it needs the meter's power)."""
    target_kw = _value(options, RULES[CONF_PEAK_TARGET])
    if target_kw <= 0.0 or not measures_import(data):
        return None
    window_min = _value(options, RULES[CONF_PEAK_WINDOW])
    return PeakSettings(target_w=1000.0 * target_kw, window_s=60.0 * window_min)


def peak_window_s(options: Mapping[str, Any]) -> float:
    """Return the import window's length in seconds (kept without a target; 15 min unset)."""
    window_min = number(options.get(CONF_PEAK_WINDOW))
    return 60.0 * (window_min if window_min in PEAK_WINDOWS_MIN else PEAK_WINDOWS_MIN[0])


def has_meter(data: Mapping[str, Any]) -> bool:
    """Tell whether the site has a meter: a Modbus one, or sensors."""
    return CONF_METER_ID in data or entity_meter_config(data.get(CONF_METER_ENTITIES)) is not None


def measures_import(data: Mapping[str, Any]) -> bool:
    """
    Tell whether the site's meter gives its total power (what an import budget is spent on).

    A Modbus meter does; a meter made of sensors only when they are power sensors.
    """
    if CONF_METER_ID in data:
        return True
    meter = entity_meter_config(data.get(CONF_METER_ENTITIES))
    return meter is not None and bool(meter.power_entities)


def entity_problems(
    data: Mapping[str, Any], options: Mapping[str, Any], chargers: Iterable[ChargerConfig]
) -> list[Problem]:
    """
    Check what devices made of entities store: one sensor per phase, each entity used once.

    Units, numbers and ranges need Home Assistant's states: the flows check those.
    """
    supply_value = options.get(CONF_SUPPLY)
    phases = len(Supply(supply_value).phases) if supply_value in set(Supply) else None
    problems: list[Problem] = []
    groups: list[tuple[str, ...]] = []
    for key in (CONF_METER_ENTITIES, CONF_BACKUP_METER):
        source = data if key == CONF_METER_ENTITIES else options
        meter = entity_meter_config(source.get(key))
        if meter is None:
            continue
        groups.append(meter.entities)
        counts = [
            len(group)
            for group in (meter.current_entities, meter.power_entities, meter.voltage_entities)
            if group
        ]
        if phases is not None and any(count != phases for count in counts):
            problems.append(
                Problem(
                    key=ProblemKey.ENTITY_COUNT,
                    field=key,
                    detail=f"{key}: one sensor per phase is needed ({phases})",
                    placeholders={"phases": str(phases)},
                )
            )
    for charger in chargers:
        if is_entity_charger(charger.data):
            config = entity_charger_config(charger.data, lines=1, voltage_v=230.0)
            groups.append(config.entities)
    problems.extend(
        Problem(
            key=ProblemKey.ENTITY_USED_TWICE,
            detail=f"{entity} is used twice",
            placeholders={"entity": entity},
        )
        for entity in used_twice(groups)
    )
    return problems


def validate(
    data: Mapping[str, Any], options: Mapping[str, Any], chargers: Iterable[ChargerConfig]
) -> tuple[list[Problem], SiteSettings | None]:
    """
    Check a site's settings wherever they come from; return the problems and the settings.

    The settings are None when there is any problem. The checks: every number finite and in
    its range; the breaker leaves 6 A after the margin; each charger's wiring and maximum;
    a fail-safe current of 0 or at least 6 A that the chargers sharing a phase or circuit
    can all draw at once without exceeding it; a watchdog longer than the meter's stale time
    plus a cycle; and the engine's own checks.
    """
    chargers = list(chargers)
    problems = [
        problem
        for rule in SITE_NUMBERS
        if (problem := number_problem(rule, options.get(rule.key))) is not None
    ]
    problems.extend(
        problem
        for key, kind in ((CONF_SUPPLY, Supply), (CONF_MODE, Mode))
        if (problem := _enum_problem(options, key, kind)) is not None
    )
    if problems:
        return problems, None
    site_breaker_a = breaker_a(options)
    if site_breaker_a - _value(options, RULES[CONF_MARGIN]) < MIN_CHARGE_A:
        problems.append(
            Problem(
                key=ProblemKey.MARGIN_TOO_LARGE,
                field=CONF_MARGIN,
                detail="the breaker rating minus the margin leaves less than 6 A",
            )
        )
    fail_safe = _value(options, RULES[CONF_FAIL_SAFE])
    if 0.0 < fail_safe < MIN_CHARGE_A:
        problems.append(
            Problem(
                key=ProblemKey.FAIL_SAFE_BELOW_MINIMUM,
                field=CONF_FAIL_SAFE,
                detail=f"fail-safe current {fail_safe:g} A is between 0 and 6 A",
            )
        )
    window_min = _value(options, RULES[CONF_PEAK_WINDOW])
    if window_min not in PEAK_WINDOWS_MIN:
        problems.append(
            Problem(
                key=ProblemKey.INVALID_SETTINGS,
                field=CONF_PEAK_WINDOW,
                detail=f"the import window must be 15 or 60 minutes, not {window_min:g}",
            )
        )
    stale_s = _value(options, RULES[CONF_METER_STALE])
    shortest_s = stale_s + CYCLE_INTERVAL.total_seconds()
    if _value(options, RULES[CONF_WATCHDOG_TIMEOUT]) < shortest_s:
        problems.append(
            Problem(
                key=ProblemKey.WATCHDOG_TOO_SHORT,
                field=CONF_WATCHDOG_TIMEOUT,
                detail=f"the charger watchdog must be at least {shortest_s:g} s "
                f"(the meter's stale time {stale_s:g} s and one cycle)",
                placeholders={"minimum": f"{shortest_s:g}"},
            )
        )
    supply = Supply(options[CONF_SUPPLY])
    for charger in chargers:
        problems.extend(_charger_problems(charger, supply, site_breaker_a))
    problems.extend(entity_problems(data, options, chargers))
    if problems:
        return problems, None
    settings = _build(data, options, chargers)
    try:
        Balancer(settings)
    except ValueError as err:
        return [Problem(key=ProblemKey.INVALID_SETTINGS, detail=str(err))], None
    if not fail_safe_fits(settings):
        most_a = max_fail_safe_a(settings)
        problems.append(
            Problem(
                key=ProblemKey.FAIL_SAFE_TOO_HIGH,
                field=CONF_FAIL_SAFE,
                detail=f"at a fail-safe current of {fail_safe:g} A the chargers that share a "
                f"phase or circuit could together exceed it; at most {most_a:g} A",
                placeholders={"maximum": f"{most_a:g}"},
            )
        )
        return problems, None
    return [], settings


def site_settings(
    data: Mapping[str, Any], options: Mapping[str, Any], chargers: Iterable[ChargerConfig]
) -> SiteSettings:
    """
    Build the engine's settings from the entry's data and options and the chargers.

    Raises `SettingsError` with every problem when they cannot work.
    """
    problems, settings = validate(data, options, chargers)
    if settings is None:
        raise SettingsError(problems)
    return settings


def hold_settings(
    data: Mapping[str, Any], options: Mapping[str, Any], chargers: Iterable[ChargerConfig]
) -> SiteSettings:
    """
    Return settings that hold every charger at 0 A: for a site whose settings cannot work.

    The loop keeps running (the meter is read, the watchdogs are armed at 0 A) until the
    installer corrects the settings; nothing here comes from the values that failed.
    """
    supply_value = options.get(CONF_SUPPLY)
    supply = (
        Supply(supply_value) if supply_value in {s.value for s in Supply} else Supply.THREE_PHASE
    )
    stored_breaker_a = number(options.get(CONF_BREAKER))
    hold_breaker_a = (
        stored_breaker_a
        if stored_breaker_a is not None and MIN_BREAKER_A <= stored_breaker_a <= MAX_BREAKER_A
        else MIN_BREAKER_A
    )
    held = []
    for charger in chargers:
        try:
            phases = tuple(
                p for p in charger_phases(charger.data.get(CONF_PHASES) or ()) if p in supply.phases
            )
        except TypeError, ValueError:
            phases = ()
        held.append(
            ChargerSettings(
                charger_id=charger.charger_id,
                phases=tuple(dict.fromkeys(phases)) or supply.phases,
                max_a=MIN_CHARGE_A,
            )
        )
    return SiteSettings(
        supply=supply,
        voltage_v=DEFAULT_VOLTAGE_V,
        breaker_a=hold_breaker_a,
        margin_a=0.0,
        fail_safe_a=0.0,
        chargers=tuple(held),
        mode=Mode.OFF,
        has_meter=has_meter(data),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class SiteConfig:
    """
    A site's stored configuration, parsed once: where its devices are, the settings in force.

    While `problems` holds anything, `settings` are the 0 A hold (`hold_settings`).
    """

    meter: DeviceLocation | None
    chargers: Mapping[str, DeviceLocation]
    """The Modbus chargers."""
    entity_meter: EntityMeterConfig | None = None
    """The meter when it is made of sensors (then `meter` is None)."""
    backup_meter: EntityMeterConfig | None = None
    """Sensors read while the Modbus meter is silent (the meter fallback chain)."""
    entity_chargers: Mapping[str, EntityChargerConfig] = dataclass_field(default_factory=dict)
    """The chargers other integrations control, by charger id."""
    settings: SiteSettings
    problems: tuple[Problem, ...]
    watchdog_timeout_s: float
    peak_window_s: float
    """Length of the import window (capacity tariffs), kept without a target."""
    installer_breaker_a: float | None = None
    """The installer's main breaker rating (a user may lower the one in force, not raise it)."""
    installer_max_a: Mapping[str, float | None] = dataclass_field(default_factory=dict)
    """Each charger's maximum as the installer set it, by charger id."""


def site_config(
    data: Mapping[str, Any], options: Mapping[str, Any], chargers: Iterable[ChargerConfig]
) -> SiteConfig:
    """
    Parse an entry's data, options and charger subentries once.

    Settings that cannot work give the 0 A hold and their problems; a device whose location
    cannot be read (no model, no id) raises KeyError or ValueError: that is no setting a
    user can correct in the options.
    """
    chargers = list(chargers)
    problems, settings = validate(data, options, chargers)
    settings = settings or hold_settings(data, options, chargers)
    lines = {c.charger_id: len(c.phases) for c in settings.chargers}
    return SiteConfig(
        meter=DeviceLocation(
            model=str(data[CONF_METER_MODEL]),
            device_id=int(data[CONF_METER_ID]),
            bus=bus_settings(data),
        )
        if CONF_METER_ID in data
        else None,
        chargers={
            charger.charger_id: DeviceLocation(
                model=str(charger.data[CONF_MODEL]),
                device_id=int(charger.data[CONF_DEVICE_ID]),
                bus=bus_settings(charger.data),
            )
            for charger in chargers
            if not is_entity_charger(charger.data)
        },
        entity_meter=entity_meter_config(data.get(CONF_METER_ENTITIES)),
        backup_meter=(
            entity_meter_config(options.get(CONF_BACKUP_METER)) if CONF_METER_ID in data else None
        ),
        entity_chargers={
            charger.charger_id: entity_charger_config(
                charger.data, lines=lines[charger.charger_id], voltage_v=settings.voltage_v
            )
            for charger in chargers
            if is_entity_charger(charger.data)
        },
        settings=settings,
        problems=tuple(problems),
        watchdog_timeout_s=watchdog_timeout_s(options),
        peak_window_s=peak_window_s(options),
        installer_breaker_a=number(options.get(CONF_BREAKER)),
        installer_max_a={
            charger.charger_id: number(charger.data.get(CONF_MAX_CURRENT)) for charger in chargers
        },
    )
