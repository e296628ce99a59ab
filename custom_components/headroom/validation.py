"""
One check of a site's settings wherever they come from: `validate` returns typed problems.

No Home Assistant import: plain mappings in (the entry's data and options, the charger
subentries), `Problem`s or the engine's settings out, for the flows, the coordinator and
the tests alike.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .const import (
    CONF_FAIL_SAFE,
    CONF_MARGIN,
    CONF_MAX_CURRENT,
    CONF_METER_STALE,
    CONF_MODE,
    CONF_MODEL,
    CONF_PEAK_WINDOW,
    CONF_PHASES,
    CONF_SUPPLY,
    CONF_WATCHDOG_TIMEOUT,
    CYCLE_INTERVAL,
    PEAK_WINDOWS_MIN,
)
from .devices.chargers import SUPPORTED_CHARGERS, max_limit_a_of
from .engine import Balancer
from .engine.fail_safe import fail_safe_fits, max_fail_safe_a
from .engine.model import MIN_CHARGE_A, Mode, SiteSettings, Supply
from .engine_settings import ChargerConfig, build_settings, charger_phases
from .entity_config import (
    CONF_BACKUP_METER,
    CONF_METER_ENTITIES,
    entity_charger_config,
    entity_meter_config,
    is_entity_charger,
    status_mapping,
    used_twice,
)
from .rules import (
    CHARGER_NUMBERS,
    SITE_NUMBERS,
    Problem,
    ProblemKey,
    SettingsError,
    breaker_a,
    charger_max_a,
    checked_value,
    number_problem,
    stored_supply,
)

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from enum import StrEnum


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
    problems = _value_problems(options)
    if problems:
        return problems, None
    supply = Supply(options[CONF_SUPPLY])
    site_breaker_a = breaker_a(options)
    problems = [
        *(problem for check in _SITE_CHECKS if (problem := check(options)) is not None),
        *(
            problem
            for charger in chargers
            for problem in _charger_problems(charger, supply, site_breaker_a)
        ),
        *entity_problems(data, options, chargers),
    ]
    if problems:
        return problems, None
    settings = build_settings(data, options, chargers)
    problem = _engine_problem(settings)
    if problem is not None:
        return [problem], None
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


def fail_safe_problem(
    data: Mapping[str, Any], options: Mapping[str, Any], chargers: Iterable[ChargerConfig]
) -> Problem | None:
    """
    Return the fail-safe problem of a site as it would be with these chargers, if it has one.

    For a charger's form, which adds or changes one charger: the site's other problems are
    not that form's business. While the site has any, its fail-safe cannot be checked (the
    engine's settings cannot be built): None then, as when it fits.
    """
    problems, _ = validate(data, options, chargers)
    return next((p for p in problems if p.key is ProblemKey.FAIL_SAFE_TOO_HIGH), None)


def _value_problems(options: Mapping[str, Any]) -> list[Problem]:
    """Check the site's numbers and its supply and mode (the other checks need them)."""
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
    return problems


def _enum_problem(options: Mapping[str, Any], key: str, kind: type[StrEnum]) -> Problem | None:
    value = options.get(key)
    if key == CONF_MODE and value is None:
        return None
    if value in {member.value for member in kind}:
        return None
    return Problem(
        key=ProblemKey.INVALID_SETTINGS, field=key, detail=f"{key} {value!r} is not known"
    )


def _margin_problem(options: Mapping[str, Any]) -> Problem | None:
    """Check that the breaker rating minus the margin leaves a charger's minimum."""
    if breaker_a(options) - checked_value(options, CONF_MARGIN) >= MIN_CHARGE_A:
        return None
    return Problem(
        key=ProblemKey.MARGIN_TOO_LARGE,
        field=CONF_MARGIN,
        detail="the breaker rating minus the margin leaves less than 6 A",
    )


def _fail_safe_problem(options: Mapping[str, Any]) -> Problem | None:
    """Check that the fail-safe current is 0 A (stop) or one a car can charge at."""
    fail_safe = checked_value(options, CONF_FAIL_SAFE)
    if not 0.0 < fail_safe < MIN_CHARGE_A:
        return None
    return Problem(
        key=ProblemKey.FAIL_SAFE_BELOW_MINIMUM,
        field=CONF_FAIL_SAFE,
        detail=f"fail-safe current {fail_safe:g} A is between 0 and 6 A",
    )


def _window_problem(options: Mapping[str, Any]) -> Problem | None:
    """Check that the import window is one the tariffs use."""
    window_min = checked_value(options, CONF_PEAK_WINDOW)
    if window_min in PEAK_WINDOWS_MIN:
        return None
    return Problem(
        key=ProblemKey.INVALID_SETTINGS,
        field=CONF_PEAK_WINDOW,
        detail=f"the import window must be 15 or 60 minutes, not {window_min:g}",
    )


def _watchdog_problem(options: Mapping[str, Any]) -> Problem | None:
    """Check that a watchdog cannot fire before the loop notices a silent meter."""
    stale_s = checked_value(options, CONF_METER_STALE)
    shortest_s = stale_s + CYCLE_INTERVAL.total_seconds()
    if checked_value(options, CONF_WATCHDOG_TIMEOUT) >= shortest_s:
        return None
    return Problem(
        key=ProblemKey.WATCHDOG_TOO_SHORT,
        field=CONF_WATCHDOG_TIMEOUT,
        detail=f"the charger watchdog must be at least {shortest_s:g} s "
        f"(the meter's stale time {stale_s:g} s and one cycle)",
        placeholders={"minimum": f"{shortest_s:g}"},
    )


_SITE_CHECKS = (_margin_problem, _fail_safe_problem, _window_problem, _watchdog_problem)
"""The site-wide checks once its numbers are numbers, in the order their problems are listed."""


def _charger_problems(
    charger: ChargerConfig, supply: Supply, site_breaker_a: float
) -> list[Problem]:
    """Check one charger: its numbers and wiring, then its maximum and status mapping."""
    problems = _charger_wiring_problems(charger, supply)
    if problems:
        return problems
    return _charger_limit_problems(charger, site_breaker_a)


def _charger_wiring_problems(charger: ChargerConfig, supply: Supply) -> list[Problem]:
    """Check a charger's numbers and that it is wired to phases of the supply."""
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
    return problems


def _charger_limit_problems(charger: ChargerConfig, site_breaker_a: float) -> list[Problem]:
    """Check a charger's maximum against the breaker and its model, and its status mapping."""
    data = charger.data
    problems = []
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


def entity_problems(
    data: Mapping[str, Any], options: Mapping[str, Any], chargers: Iterable[ChargerConfig]
) -> list[Problem]:
    """
    Check what devices made of entities store: one sensor per phase, each entity used once.

    Units, numbers and ranges need Home Assistant's states: the flows check those.
    """
    supply = stored_supply(options)
    phases = len(supply.phases) if supply is not None else None
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


def _engine_problem(settings: SiteSettings) -> Problem | None:
    """Run the engine's own checks; check the chargers can all hold the fail-safe at once."""
    try:
        Balancer(settings)
    except ValueError as err:
        return Problem(key=ProblemKey.INVALID_SETTINGS, detail=str(err))
    if fail_safe_fits(settings):
        return None
    most_a = max_fail_safe_a(settings)
    return Problem(
        key=ProblemKey.FAIL_SAFE_TOO_HIGH,
        field=CONF_FAIL_SAFE,
        detail=f"at a fail-safe current of {settings.fail_safe_a:g} A the chargers that share a "
        f"phase or circuit could together exceed it; at most {most_a:g} A",
        placeholders={"maximum": f"{most_a:g}"},
    )
