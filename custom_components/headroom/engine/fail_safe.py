"""The fail-safe current: what the chargers may draw while the meter is silent."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from .model import MIN_CHARGE_A

if TYPE_CHECKING:
    from collections.abc import Iterable

    from .model import ChargerSettings, SiteSettings


def suggest_fail_safe_a(
    breaker_a: float, margin_a: float, max_house_a: float, n_chargers: int
) -> float:
    """
    Suggest a fail-safe current per charger for the installer.

    The breaker rating minus the margin and the largest house load seen, shared equally
    by the chargers and rounded down to whole amperes; 0 when that is below 6 A, since a
    car cannot charge below it.
    """
    if n_chargers < 1:
        msg = f"n_chargers must be at least 1, got {n_chargers}"
        raise ValueError(msg)
    share_a = float(math.floor((breaker_a - margin_a - max_house_a) / n_chargers))
    return share_a if share_a >= MIN_CHARGE_A else 0.0


def fail_safe_for_charger_a(fail_safe_a: float, *, min_a: float, max_a: float) -> float:
    """Return the installer's fail-safe current as one charger can apply it: 0 or [min, max]."""
    if not fail_safe_a >= min_a:  # also NaN
        return 0.0
    return min(float(math.floor(fail_safe_a)), max_a)


def _sharing_groups(settings: SiteSettings) -> list[tuple[float, list[ChargerSettings]]]:
    """Return (rating, chargers) for each shared circuit phase, then each main-breaker phase."""
    groups = [
        (circuit_a, [c for c in settings.chargers if c.circuit == name and phase in c.phases])
        for name, circuit_a in settings.circuits_a.items()
        for phase in settings.supply.phases
    ]
    groups.extend(
        (
            settings.breaker_a - settings.margin_a,
            [c for c in settings.chargers if phase in c.phases],
        )
        for phase in settings.supply.phases
    )
    return [(limit_a, members) for limit_a, members in groups if members]


def fail_safe_currents_a(
    settings: SiteSettings, *, enabled: Iterable[str] | None = None
) -> dict[str, float]:
    """
    Return the fail-safe current each charger may be given (armed, written, fallen back to).

    The installer's figure as each charger can apply it, lowered where the chargers that
    share a main-breaker phase or a circuit could together exceed its rating (breaker minus
    margin; the circuit's rating): they then share that rating equally, in whole amperes,
    and a share below a charger's minimum is 0. `enabled` (default: all) are the chargers
    that draw at all; the others get 0 and leave their share to the rest.
    """
    allowed = None if enabled is None else set(enabled)
    current_a = {
        c.charger_id: (
            fail_safe_for_charger_a(settings.fail_safe_a, min_a=c.min_a, max_a=c.max_a)
            if allowed is None or c.charger_id in allowed
            else 0.0
        )
        for c in settings.chargers
    }
    # Circuits first: what they lower leaves more of the main breaker to the others.
    for limit_a, members in _sharing_groups(settings):
        drawing = sorted(
            (c for c in members if current_a[c.charger_id] > 0.0),
            key=lambda c: current_a[c.charger_id],
        )
        if sum(current_a[c.charger_id] for c in drawing) <= limit_a:
            continue
        # Equal shares: the chargers set below the share keep their figure, the others all
        # get the share of what those leave (0 when it is below their minimum).
        left_a = max(limit_a, 0.0)
        for index, charger in enumerate(drawing):
            share_a = float(math.floor(left_a / (len(drawing) - index)))
            if current_a[charger.charger_id] <= share_a:
                left_a -= current_a[charger.charger_id]
                continue
            for lowered in drawing[index:]:
                minimum_a = max(lowered.min_a, MIN_CHARGE_A)
                current_a[lowered.charger_id] = share_a if share_a >= minimum_a else 0.0
            break
    return current_a


def fail_safe_fits(settings: SiteSettings) -> bool:
    """Tell whether every charger can take the installer's fail-safe current at once."""
    fitted = fail_safe_currents_a(settings)
    return all(
        fitted[c.charger_id]
        == fail_safe_for_charger_a(settings.fail_safe_a, min_a=c.min_a, max_a=c.max_a)
        for c in settings.chargers
    )


def max_fail_safe_a(settings: SiteSettings) -> float:
    """
    Return the largest fail-safe current the installer may set on this site.

    Every charger that shares a main-breaker phase or a circuit may fall back to it at once
    (a silent meter, Home Assistant stopped): together they must fit the rating. 0 when not
    even 6 A fits.
    """
    groups = _sharing_groups(settings)
    ceiling_a = math.floor(
        max(
            (c.max_a for c in settings.chargers),
            default=settings.breaker_a - settings.margin_a,
        )
    )
    for candidate in range(int(ceiling_a), math.ceil(MIN_CHARGE_A) - 1, -1):
        if all(
            sum(fail_safe_for_charger_a(candidate, min_a=c.min_a, max_a=c.max_a) for c in members)
            <= limit_a
            for limit_a, members in groups
        ):
            return float(candidate)
    return 0.0
