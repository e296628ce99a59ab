"""
The numbers an installer sets (their defaults and ranges) and the typed problems of settings.

No Home Assistant import: the flows, the entities, the repairs and the coordinator check a
number and name what is wrong with it the same way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Final

from .const import (
    CONF_BREAKER,
    CONF_BREAKER_LOWERED,
    CONF_CIRCUIT,
    CONF_FAIL_SAFE,
    CONF_GRID_TOLERANCE,
    CONF_MARGIN,
    CONF_MAX_CURRENT,
    CONF_MAX_LOWERED,
    CONF_METER_STALE,
    CONF_PEAK_TARGET,
    CONF_PEAK_WINDOW,
    CONF_PRIORITY,
    CONF_SOLAR_START_DELAY,
    CONF_SOLAR_STOP_DELAY,
    CONF_SUPPLY,
    CONF_SURPLUS_STALE,
    CONF_VOLTAGE,
    CONF_WATCHDOG_TIMEOUT,
    DEFAULT_GRID_TOLERANCE_W,
    DEFAULT_MARGIN_A,
    DEFAULT_METER_STALE_S,
    DEFAULT_PRIORITY,
    DEFAULT_SOLAR_START_DELAY_S,
    DEFAULT_SOLAR_STOP_DELAY_S,
    DEFAULT_SURPLUS_STALE_S,
    DEFAULT_VOLTAGE_V,
    DEFAULT_WATCHDOG_TIMEOUT_S,
    MAX_BREAKER_A,
    MAX_CHARGER_A,
    MAX_PEAK_TARGET_KW,
    MAX_PRIORITY,
    MIN_BREAKER_A,
    PEAK_WINDOWS_MIN,
)
from .engine.model import MIN_CHARGE_A, Supply

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping


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
    ENTITY_MISSING = "entity_missing"
    LIMIT_RANGE = "limit_range"
    ENTITY_USED_TWICE = "entity_used_twice"
    ENTITY_COUNT = "entity_count"
    STATUS_MAPPING = "status_mapping"
    STATUS_MAPPING_NEEDED = "status_mapping_needed"
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


def stored_supply(options: Mapping[str, Any]) -> Supply | None:
    """Return the site's stored supply, or None when it is missing or unknown (a repair)."""
    value = options.get(CONF_SUPPLY)
    return Supply(value) if value in set(Supply) else None


def checked_value(mapping: Mapping[str, Any], key: str) -> float:
    """Return a number that `number_problem` accepted (its default when absent or None)."""
    rule = RULES[key]
    value = mapping.get(rule.key)
    result = number(rule.default if value is None else value)
    if result is None:  # pragma: no cover (checked first)
        msg = f"{rule.key} was not checked"
        raise AssertionError(msg)
    return result


def breaker_a(options: Mapping[str, Any]) -> float:
    """Return the main breaker rating in force: the installer's, or lower if a user lowered it."""
    return min(checked_value(options, CONF_BREAKER), checked_value(options, CONF_BREAKER_LOWERED))


def charger_max_a(data: Mapping[str, Any]) -> float:
    """Return a charger's maximum in force: the installer's, or lower if a user lowered it."""
    return min(checked_value(data, CONF_MAX_CURRENT), checked_value(data, CONF_MAX_LOWERED))


def watchdog_timeout_s(options: Mapping[str, Any]) -> float:
    """Return the chargers' watchdog timeout (its default when not a valid number)."""
    rule = RULES[CONF_WATCHDOG_TIMEOUT]
    value = number(options.get(rule.key, rule.default))
    return value if value is not None and value > 0 else DEFAULT_WATCHDOG_TIMEOUT_S


def peak_window_s(options: Mapping[str, Any]) -> float:
    """Return the import window's length in seconds (kept without a target; 15 min unset)."""
    window_min = number(options.get(CONF_PEAK_WINDOW))
    return 60.0 * (window_min if window_min in PEAK_WINDOWS_MIN else PEAK_WINDOWS_MIN[0])
