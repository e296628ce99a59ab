"""
Checks of the entities a user picks for a meter or charger, against their live states.

Each returns `Problem`s (translation keys of `rules.ProblemKey`) at the form field they
are about. An entity that is unavailable or unknown right now passes: its device may be
asleep; the loop treats it as silent until it reports.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from homeassistant.components.number import ATTR_MAX, ATTR_MIN, ATTR_STEP
from homeassistant.const import (
    ATTR_UNIT_OF_MEASUREMENT,
    STATE_UNAVAILABLE,
    STATE_UNKNOWN,
)
from homeassistant.util.unit_conversion import (
    BaseUnitConverter,
    ElectricCurrentConverter,
)

from .engine.model import MIN_CHARGE_A
from .entity_meter import units_per_ampere
from .rules import Problem, ProblemKey

if TYPE_CHECKING:
    from collections.abc import Iterable

    from homeassistant.core import HomeAssistant

_STEP_TOLERANCE = 1e-6
"""6 A is on the number's grid of steps within this (float steps such as 0.1)."""


def sensor_problems(
    hass: HomeAssistant,
    entities: Iterable[str],
    converter: type[BaseUnitConverter],
    *,
    field: str,
    unit_required: bool = True,
) -> list[Problem]:
    """Check sensors give numbers in a unit `converter` knows (a current, a power...)."""
    problems: list[Problem] = []
    for entity_id in entities:
        state = hass.states.get(entity_id)
        if state is None:
            problems.append(_problem(ProblemKey.NOT_NUMERIC, field, entity_id, "does not exist"))
            continue
        unit = state.attributes.get(ATTR_UNIT_OF_MEASUREMENT)
        if (unit is not None or unit_required) and unit not in converter.VALID_UNITS:
            problems.append(_problem(ProblemKey.WRONG_UNIT, field, entity_id, f"is in {unit}"))
            continue
        if state.state in (STATE_UNAVAILABLE, STATE_UNKNOWN):
            continue
        try:
            value = float(state.state)
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            problems.append(
                _problem(ProblemKey.NOT_NUMERIC, field, entity_id, f"is {state.state!r}")
            )
    return problems


def missing_problems(hass: HomeAssistant, entities: Iterable[str], *, field: str) -> list[Problem]:
    """
    Check entities exist; one that is unavailable now passes.

    A status or pause entity that does not exist would leave the charger never answering,
    its maximum reserved for good.
    """
    return [
        _problem(ProblemKey.ENTITY_MISSING, field, entity_id, "does not exist")
        for entity_id in entities
        if hass.states.get(entity_id) is None
    ]


def limit_problems(
    hass: HomeAssistant, entity_id: str, *, field: str, max_a: float, pause_by_minimum: bool
) -> list[Problem]:
    """
    Check a charger's current-limit number: a current, able to express 6 A and the maximum.

    Pausing by the number needs a minimum below 6 A (0 on most chargers).
    """
    problems = sensor_problems(
        hass, [entity_id], ElectricCurrentConverter, field=field, unit_required=False
    )
    state = hass.states.get(entity_id)
    if problems or state is None:
        return problems
    # Range and step are in the number's unit, compared in A: a current (the check above).
    per_a = units_per_ampere(state) or 1.0
    try:
        minimum = float(state.attributes.get(ATTR_MIN, 0.0)) / per_a
        maximum = float(state.attributes.get(ATTR_MAX, 100.0 * per_a)) / per_a
        step = (float(state.attributes.get(ATTR_STEP, 1.0)) or 1.0) / per_a
    except TypeError, ValueError:
        return [_problem(ProblemKey.LIMIT_RANGE, field, entity_id, "has no numeric range")]
    steps = (MIN_CHARGE_A - minimum) / step
    if not minimum <= MIN_CHARGE_A <= maximum or abs(steps - round(steps)) > _STEP_TOLERANCE:
        return [
            _problem(
                ProblemKey.LIMIT_RANGE,
                field,
                entity_id,
                f"ranges {minimum:g}..{maximum:g} in steps of {step:g}: 6 A cannot be set",
            )
        ]
    if max_a > maximum:
        return [
            _problem(ProblemKey.LIMIT_RANGE, "max_a", entity_id, f"goes up to {maximum:g} A only")
        ]
    if pause_by_minimum and minimum >= MIN_CHARGE_A:
        return [
            _problem(ProblemKey.CANNOT_PAUSE, field, entity_id, f"cannot go below {minimum:g} A")
        ]
    return []


def _problem(key: ProblemKey, field: str, entity_id: str, what: str) -> Problem:
    return Problem(
        key=key,
        field=field,
        detail=f"{entity_id} {what}",
        placeholders={"entity": entity_id},
    )
