"""One allocation round: admission at the minimum, priorities, equal shares, whole amperes."""

from __future__ import annotations

import pytest

from custom_components.headroom.engine.allocation import Demand, Limit, allocate
from custom_components.headroom.engine.model import Constraint


def demand(charger_id: str, cap_a: float = 16.0, **overrides: object) -> Demand:
    values: dict[str, object] = {
        "priority": 1,
        "min_a": 6.0,
        "cap_reason": Constraint.CHARGER_MAX,
        **overrides,
    }
    values.setdefault("need_a", values["min_a"])
    return Demand(charger_id=charger_id, cap_a=cap_a, **values)


def phase(capacity: float, *ids: str, reason: Constraint = Constraint.BREAKER) -> Limit:
    return Limit(reason=reason, capacity=capacity, weights=dict.fromkeys(ids, 1.0))


def result(shares: dict, *ids: str) -> list[tuple[float, Constraint]]:
    return [(shares[i].current_a, shares[i].reason) for i in ids]


@pytest.mark.parametrize(
    ("capacity", "expected"),
    [
        (30.0, (16.0, Constraint.CHARGER_MAX)),
        (16.0, (16.0, Constraint.CHARGER_MAX)),
        (12.7, (12.0, Constraint.BREAKER)),
        (6.0, (6.0, Constraint.BREAKER)),
        (5.9, (0.0, Constraint.BREAKER)),
        (-3.0, (0.0, Constraint.BREAKER)),
    ],
)
def test_one_charger_takes_what_fits_or_pauses(capacity, expected):
    shares = allocate([demand("a")], [phase(capacity, "a")], whole_amps=True)
    assert result(shares, "a") == [expected]


@pytest.mark.parametrize(
    ("capacity", "expected"),
    [
        (40.0, [(16.0, Constraint.CHARGER_MAX), (16.0, Constraint.CHARGER_MAX)]),
        (24.0, [(12.0, Constraint.BREAKER), (12.0, Constraint.BREAKER)]),
        # 25 A: 12.5 each rounds down to 12; the freed ampere goes to the first.
        (25.0, [(13.0, Constraint.BREAKER), (12.0, Constraint.BREAKER)]),
        (12.0, [(6.0, Constraint.BREAKER), (6.0, Constraint.BREAKER)]),
        # One 6 A slot: the first in order gets it, the second pauses.
        (11.0, [(11.0, Constraint.BREAKER), (0.0, Constraint.BREAKER)]),
        (5.0, [(0.0, Constraint.BREAKER), (0.0, Constraint.BREAKER)]),
    ],
)
def test_equal_shares_within_a_priority(capacity, expected):
    shares = allocate([demand("a"), demand("b")], [phase(capacity, "a", "b")], whole_amps=True)
    assert result(shares, "a", "b") == expected


def test_a_capped_charger_leaves_the_rest_to_the_other():
    demands = [demand("a", 8.0, cap_reason=Constraint.CAR), demand("b", 32.0)]
    shares = allocate(demands, [phase(30.0, "a", "b")], whole_amps=True)
    assert result(shares, "a", "b") == [(8.0, Constraint.CAR), (22.0, Constraint.BREAKER)]


@pytest.mark.parametrize(
    ("capacity", "expected"),
    [
        (40.0, [(16.0, Constraint.CHARGER_MAX), (16.0, Constraint.CHARGER_MAX)]),
        (22.0, [(16.0, Constraint.CHARGER_MAX), (6.0, Constraint.BREAKER)]),
        (20.0, [(16.0, Constraint.CHARGER_MAX), (0.0, Constraint.BREAKER)]),
        (9.0, [(9.0, Constraint.BREAKER), (0.0, Constraint.BREAKER)]),
    ],
)
def test_higher_priority_first(capacity, expected):
    demands = [demand("low", priority=1), demand("high", priority=2)]
    shares = allocate(demands, [phase(capacity, "low", "high")], whole_amps=True)
    assert result(shares, "high", "low") == expected


def test_a_charger_must_fit_every_limit_it_draws_from():
    # "a" is on phases 1 and 2 (split phase), "b" on phase 2 only, both on a circuit.
    limits = [
        phase(30.0, "a"),
        phase(20.0, "a", "b"),
        phase(25.0, "a", "b", reason=Constraint.CIRCUIT),
    ]
    shares = allocate([demand("a", 32.0), demand("b", 32.0)], limits, whole_amps=True)
    assert result(shares, "a", "b") == [(10.0, Constraint.BREAKER), (10.0, Constraint.BREAKER)]
    limits[1] = phase(40.0, "a", "b")
    shares = allocate([demand("a", 32.0), demand("b", 32.0)], limits, whole_amps=True)
    assert result(shares, "a", "b") == [(13.0, Constraint.CIRCUIT), (12.0, Constraint.CIRCUIT)]


def test_need_above_minimum_keeps_a_resuming_charger_out():
    # Resume hysteresis: 6 A fits but 7 A is asked for.
    shares = allocate([demand("a", need_a=7.0)], [phase(6.5, "a")], whole_amps=True)
    assert result(shares, "a") == [(0.0, Constraint.BREAKER)]
    shares = allocate([demand("a", need_a=7.0)], [phase(7.0, "a")], whole_amps=True)
    assert result(shares, "a") == [(7.0, Constraint.BREAKER)]


def test_cap_below_minimum_gives_nothing_with_the_cap_reason():
    shares = allocate(
        [demand("a", 0.0, cap_reason=Constraint.MODE_OFF)], [phase(30.0, "a")], whole_amps=True
    )
    assert result(shares, "a") == [(0.0, Constraint.MODE_OFF)]


def test_weighted_power_limit_without_rounding():
    # 3000 W of PV for a 1-phase (230 W/A) and a 3-phase (690 W/A) charger.
    limit = Limit(reason=Constraint.SOLAR, capacity=3000.0, weights={"a": 230.0, "b": 690.0})
    shares = allocate([demand("a"), demand("b")], [limit], whole_amps=False)
    assert shares["a"].current_a == pytest.approx(13.04, abs=0.01)
    assert shares["a"].reason == Constraint.SOLAR
    assert result(shares, "b") == [(0.0, Constraint.SOLAR)]
    limit = Limit(reason=Constraint.SOLAR, capacity=6000.0, weights={"a": 230.0, "b": 690.0})
    shares = allocate([demand("a"), demand("b")], [limit], whole_amps=False)
    assert shares["a"].current_a == pytest.approx(shares["b"].current_a)
    assert 230.0 * shares["a"].current_a + 690.0 * shares["b"].current_a == pytest.approx(6000.0)


def test_a_limit_that_nobody_draws_from_changes_nothing():
    shares = allocate([demand("a")], [phase(-10.0, "other"), phase(30.0, "a")], whole_amps=True)
    assert result(shares, "a") == [(16.0, Constraint.CHARGER_MAX)]


def test_freed_amperes_go_first_to_a_charger_that_already_has_them():
    # 25 A for two: 12.5 each; the spare ampere stays with "b" which holds 13 A.
    demands = [
        Demand(
            charger_id="a",
            priority=1,
            min_a=6.0,
            need_a=6.0,
            cap_a=16.0,
            cap_reason=Constraint.CHARGER_MAX,
            setpoint_a=12.0,
        ),
        Demand(
            charger_id="b",
            priority=1,
            min_a=6.0,
            need_a=6.0,
            cap_a=16.0,
            cap_reason=Constraint.CHARGER_MAX,
            setpoint_a=13.0,
        ),
    ]
    shares = allocate(demands, [phase(25.0, "a", "b")], whole_amps=True)
    assert result(shares, "a", "b") == [(12.0, Constraint.BREAKER), (13.0, Constraint.BREAKER)]
