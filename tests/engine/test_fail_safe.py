"""The fail-safe current: the installer's suggestion and what one charger can apply."""

from __future__ import annotations

import pytest

from custom_components.headroom.engine import suggest_fail_safe_a
from custom_components.headroom.engine.fail_safe import fail_safe_for_charger_a


@pytest.mark.parametrize(
    ("breaker_a", "margin_a", "max_house_a", "n_chargers", "expected"),
    [
        (40.0, 1.0, 20.0, 1, 19.0),
        (25.0, 1.0, 10.0, 2, 7.0),  # 14 A shared by two
        (25.0, 0.0, 10.5, 2, 7.0),  # 7.25 rounds down
        (25.0, 1.0, 13.0, 2, 0.0),  # 5.5 A each cannot charge a car
        (25.0, 1.0, 12.0, 2, 6.0),  # exactly the minimum
        (100.0, 2.0, 120.0, 2, 0.0),  # the house alone exceeds the breaker
        (32.0, 0.0, 0.0, 2, 16.0),
    ],
)
def test_suggest_fail_safe(breaker_a, margin_a, max_house_a, n_chargers, expected):
    assert suggest_fail_safe_a(breaker_a, margin_a, max_house_a, n_chargers) == expected


def test_suggest_fail_safe_needs_a_charger():
    with pytest.raises(ValueError, match="n_chargers"):
        suggest_fail_safe_a(40.0, 1.0, 10.0, 0)


@pytest.mark.parametrize(
    ("fail_safe_a", "max_a", "expected"),
    [(0.0, 16.0, 0.0), (5.0, 16.0, 0.0), (6.0, 16.0, 6.0), (10.7, 16.0, 10.0), (20.0, 16.0, 16.0)],
)
def test_fail_safe_for_charger(fail_safe_a, max_a, expected):
    assert fail_safe_for_charger_a(fail_safe_a, min_a=6.0, max_a=max_a) == expected
