"""The fail-safe current: what the chargers may draw while the meter is silent."""

from __future__ import annotations

import math

from .model import MIN_CHARGE_A


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
    if fail_safe_a < min_a:
        return 0.0
    return min(float(math.floor(fail_safe_a)), max_a)
