"""The engine's guards: numbers that are not numbers, readings that are no measurements,
a fail-safe current that fits the breaker, a charger that cannot be read, and one that does
not take its limit."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from custom_components.headroom.engine import Balancer
from custom_components.headroom.engine.fail_safe import (
    fail_safe_currents_a,
    fail_safe_fits,
    max_fail_safe_a,
)
from custom_components.headroom.engine.model import (
    ChargerState,
    Constraint,
    Mode,
    Supply,
    TimingSettings,
)
from custom_components.headroom.engine.plausibility import (
    MAX_IMPORT_RATIO,
    implausible_currents,
)
from tests.engine.engine_support import charger, currents, reading, setpoint_changes, site, snapshot

NOT_NUMBERS = [math.nan, math.inf, -math.inf]


@pytest.mark.parametrize("value", NOT_NUMBERS)
@pytest.mark.parametrize(
    "change",
    [
        lambda s, v: dataclasses.replace(s, breaker_a=v),
        lambda s, v: dataclasses.replace(s, margin_a=v),
        lambda s, v: dataclasses.replace(s, fail_safe_a=v),
        lambda s, v: dataclasses.replace(s, voltage_v=v),
        lambda s, v: dataclasses.replace(s, chargers=(charger(max_a=v),)),
        lambda s, v: dataclasses.replace(s, chargers=(charger(min_a=v),)),
        lambda s, v: dataclasses.replace(s, timing=TimingSettings(meter_stale_after_s=v)),
        lambda s, v: dataclasses.replace(s, chargers=(charger(circuit="c"),), circuits_a={"c": v}),
    ],
    ids=["breaker", "margin", "fail_safe", "voltage", "max", "min", "stale", "circuit"],
)
def test_numbers_that_are_not_numbers_are_refused(change, value):
    with pytest.raises(ValueError, match="must be a finite number"):
        Balancer(change(site(), value))


def test_a_breaker_that_leaves_nothing_is_refused():
    with pytest.raises(ValueError, match="leaves no current"):
        Balancer(site(breaker_a=10.0, margin_a=10.0))
    with pytest.raises(ValueError, match="leaves no current"):
        Balancer(site(margin_a=-1.0))


@pytest.mark.parametrize(
    ("currents_a", "breaker_a", "refused"),
    [
        ((-40.0,), 32.0, "exports 40 A"),  # the fault run's reading
        ((-32.0,), 32.0, None),  # export up to the rating is a reading
        ((10.0, -33.0, 2.0), 32.0, "L2 exports"),
        ((MAX_IMPORT_RATIO * 25.0,), 25.0, None),  # a real overload is cut, not ignored
        ((MAX_IMPORT_RATIO * 25.0 + 1.0,), 25.0, "imports 251 A"),
        ((math.nan,), 25.0, "not a number"),
        ((None,), 25.0, "not a number"),
    ],
)
def test_which_readings_are_measurements(currents_a, breaker_a, refused):
    problem = implausible_currents(currents_a, breaker_a)
    if refused is None:
        assert problem is None
    else:
        assert problem is not None
        assert refused in problem


def test_an_impossible_export_is_no_reading_for_the_engine():
    settings = site(breaker_a=32.0)
    balancer = Balancer(settings)
    assert not balancer.step(snapshot(0.0, (3.0,), reading())).fail_safe
    # -40 A on a 32 A supply: the house would look empty and the chargers raised.
    decision = balancer.step(snapshot(1.0, (-40.0,), reading()))
    assert decision.fail_safe
    assert currents(decision) == {"a": 6.0}


# --- the fail-safe current fits the breaker ---------------------------------------------


@pytest.mark.parametrize(
    ("chargers", "breaker_a", "fail_safe_a", "circuits_a", "expected", "most_a"),
    [
        # The fault run: 16 A each on a 32 A breaker (1 A margin) would be 32 A.
        ((("a", (1, 2, 3), 16.0), ("b", (1, 2, 3), 16.0)), 32.0, 16.0, {}, [15, 15], 15),
        ((("a", (1, 2, 3), 16.0), ("b", (1, 2, 3), 16.0)), 32.0, 6.0, {}, [6, 6], 15),
        # Chargers on different phases do not share one.
        ((("a", (1,), 16.0), ("b", (2,), 16.0)), 20.0, 16.0, {}, [16, 16], 16),
        # A charger below its share leaves the rest to the others.
        ((("a", (1,), 8.0), ("b", (1,), 32.0)), 25.0, 20.0, {}, [8, 16], 16),
        # Not even 6 A each fits: both stop.
        ((("a", (1,), 16.0), ("b", (1,), 16.0)), 12.0, 16.0, {}, [0, 0], 0),
        # A shared circuit first, then the main breaker.
        (
            (("a", (1,), 16.0, "c"), ("b", (1,), 16.0, "c"), ("x", (1,), 16.0)),
            40.0,
            16.0,
            {"c": 20.0},
            [10, 10, 16],
            10,
        ),
    ],
)
def test_fail_safe_currents_fit_every_phase_and_circuit(  # noqa: PLR0913 (one table row)
    chargers, breaker_a, fail_safe_a, circuits_a, expected, most_a
):
    settings = site(
        *(
            charger(spec[0], spec[1], spec[2], circuit=spec[3] if len(spec) > 3 else None)
            for spec in chargers
        ),
        supply=Supply.THREE_PHASE,
        breaker_a=breaker_a,
        fail_safe_a=fail_safe_a,
        circuits_a=circuits_a,
    )
    assert list(fail_safe_currents_a(settings).values()) == expected
    assert max_fail_safe_a(settings) == most_a
    assert fail_safe_fits(settings) == (fail_safe_a <= most_a)


@given(
    breaker_a=st.integers(6, 100),
    margin_a=st.sampled_from([0.0, 0.5, 1.0, 2.0]),
    fail_safe_a=st.integers(0, 80),
    maxima=st.lists(st.integers(6, 80), min_size=1, max_size=4),
    phases=st.lists(st.sampled_from([(1,), (2,), (3,), (1, 2, 3)]), min_size=4, max_size=4),
)
def test_fail_safe_currents_never_exceed_the_breaker(
    breaker_a, margin_a, fail_safe_a, maxima, phases
):
    if breaker_a - margin_a <= 0:
        return
    settings = site(
        *(charger(f"c{i}", phases[i], float(m)) for i, m in enumerate(maxima)),
        supply=Supply.THREE_PHASE,
        breaker_a=float(breaker_a),
        margin_a=margin_a,
        fail_safe_a=float(fail_safe_a),
    )
    fitted = fail_safe_currents_a(settings)
    for phase in (1, 2, 3):
        on_phase = [c for c in settings.chargers if phase in c.phases]
        assert sum(fitted[c.charger_id] for c in on_phase) <= breaker_a - margin_a
    for c in settings.chargers:
        assert fitted[c.charger_id] == 0.0 or 6.0 <= fitted[c.charger_id] <= c.max_a
    # The largest figure the flows allow fits as it is.
    assert fail_safe_fits(dataclasses.replace(settings, fail_safe_a=max_fail_safe_a(settings)))


# --- a charger that cannot be read -------------------------------------------------------


def test_an_unreadable_charger_costs_only_what_it_holds():
    settings = site(charger("a"), charger("b"), breaker_a=32.0, fail_safe_a=6.0)
    balancer = Balancer(settings)
    # b holds 16 A and cannot be read; its draw stays in the grid reading (3 A house).
    unreadable = reading("b", None, state=None, setpoint_a=16.0)
    decision = balancer.step(snapshot(0.0, (3.0 + 16.0,), reading("a"), unreadable))
    # 31 A - 19 A seen - 16 A it may rise to: nothing left for a, but that is no pause.
    assert currents(decision) == {"a": 0.0, "b": 6.0}
    assert decision.commands[0].reason == Constraint.FAIL_SAFE
    # The write reached it: it holds 6 A now, and a gets the room back after the raise
    # hold, not after a 5-minute capacity pause.
    unreadable = reading("b", None, state=None, setpoint_a=6.0)
    resumed_at = None
    for now in range(1, 60):
        decision = balancer.step(snapshot(float(now), (3.0 + 6.0,), reading("a"), unreadable))
        if resumed_at is None and currents(decision)["a"] > 0.0:
            resumed_at = now
            assert currents(decision)["a"] == 16.0  # 31 - 9 seen - 6 held
    assert resumed_at is not None
    assert resumed_at <= settings.timing.raise_hold_s + 1


def test_an_unreadable_charger_with_an_unknown_limit_reserves_its_maximum():
    settings = site(charger("a"), charger("b"), breaker_a=32.0, fail_safe_a=6.0)
    balancer = Balancer(settings)
    unreadable = reading("b", None, state=None)
    setpoint_a = 0.0
    for now in range(30):
        # a's car draws what it is offered; the grid carries it.
        car = reading("a", (setpoint_a,), ChargerState.C)
        decision = balancer.step(snapshot(float(now), (3.0 + setpoint_a,), car, unreadable))
        setpoint_a = currents(decision)["a"]
    assert currents(decision) == {"a": 12.0, "b": 6.0}  # 31 - 3 - 16 reserved for b


def test_a_capacity_cut_still_keeps_its_minimum_pause():
    timing = TimingSettings(min_pause_s=300.0)
    settings = site(charger("a"), breaker_a=20.0, fail_safe_a=6.0, timing=timing)
    balancer = Balancer(settings)
    car = reading("a", (10.0,), ChargerState.C, setpoint_a=16.0)
    for now in range(20):
        balancer.step(snapshot(float(now), (12.0,), car))
    # The house takes the breaker: a pause for capacity, kept 5 minutes.
    assert currents(balancer.step(snapshot(20.0, (25.0,), car)))["a"] == 0.0
    idle_car = reading("a", (0.0,), ChargerState.B)
    for now in range(21, 200):
        decision = balancer.step(snapshot(float(now), (2.0,), idle_car))
    assert currents(decision)["a"] == 0.0


def test_min_solar_does_not_trade_the_surplus_between_two_cars():
    # Found by the constant-inputs property: two chargers that cannot measure, a surplus
    # 1 W short of both minimums. Each car runs at its minimum anyway in Minimum + solar;
    # handing one of them the other's share made them swap 6 A and 8 A every 30 s.
    settings = site(
        charger("ev1", (1, 2), 8.0),
        charger("ev2", (1, 2), 8.0),
        supply=Supply.SPLIT_PHASE,
        voltage_v=120.0,
        breaker_a=16.0,
        margin_a=0.0,
        mode=Mode.MIN_SOLAR,
    )
    balancer = Balancer(settings)
    cars = (reading("ev1", None, ChargerState.C), reading("ev2", None, ChargerState.C))
    decisions = [
        balancer.step(
            snapshot(float(now), (0.0, 0.0), *cars, surplus_w=-1.0, surplus_at=float(now))
        )
        for now in range(0, 2300, 10)
    ]
    assert setpoint_changes(decisions[29:]) == 0  # none from t=300 on
    decision = decisions[-1]
    assert currents(decision) == {"ev1": 6.0, "ev2": 6.0}


# --- a charger that does not take its limit ----------------------------------------------


def _two_cars(
    b_draws: Callable[[int, float], float], seconds: int, house_a: Callable[[int], float]
) -> tuple[list[dict[str, float]], list[dict[str, Constraint]]]:
    """a obeys at once; b draws `b_draws(now, its command)`. Each second's commands, reasons."""
    balancer = Balancer(site(charger("a"), charger("b"), breaker_a=32.0))
    told = {"a": 0.0, "b": 16.0}
    commands, reasons = [], []
    for now in range(seconds):
        b_a = b_draws(now, told["b"])
        cars = (
            reading("a", (told["a"],), ChargerState.C, setpoint_a=told["a"] or None),
            reading("b", (b_a,), ChargerState.C, setpoint_a=told["b"]),
        )
        decision = balancer.step(snapshot(float(now), (house_a(now) + told["a"] + b_a,), *cars))
        told = currents(decision)
        commands.append(told)
        reasons.append({c.charger_id: c.reason for c in decision.commands})
    return commands, reasons


def test_a_charger_that_keeps_drawing_above_its_cut_is_made_room_for():
    # Both share 28 A; at 30 s the house takes 10 A more: both are cut, but b does not
    # follow (its write hangs) and keeps drawing 15 A.
    at, reasons = _two_cars(
        lambda now, told_a: 15.0 if now >= 30 else told_a,
        60,
        lambda now: 3.0 if now < 30 else 13.0,
    )
    assert at[29]["a"] + at[29]["b"] == 28.0
    response_s = int(TimingSettings().car_response_s)
    # Within its response time b may still be following its cut: a is cut to its share.
    assert at[30] == {"a": 9.0, "b": 9.0}
    assert reasons[30 + response_s - 1]["b"] == Constraint.BREAKER
    # Then b does not take its limit: a gets what b's 15 A leave, no more, at once.
    after = 30 + response_s
    assert at[after]["a"] == 0.0  # 31 - 13 - 15 = 3 A: below a's minimum
    assert reasons[after] == {"a": Constraint.UNRESPONSIVE, "b": Constraint.UNRESPONSIVE}
    assert at[after]["b"] == 9.0  # b keeps its limit: whenever it takes it, room is freed
    assert at[59] == at[after]


def test_a_charger_that_takes_its_limit_again_rejoins_and_the_other_has_no_capacity_pause():
    # b ignores its limits from 30 s to 50 s (15 A), then follows again.
    at, reasons = _two_cars(
        lambda now, told_a: 15.0 if 30 <= now < 50 else told_a, 120, lambda _now: 13.0
    )
    assert at[29] == {"a": 9.0, "b": 9.0}
    assert at[45]["a"] == 0.0  # 31 - 13 - 15 = 3 A: a pauses for b...
    assert reasons[45]["a"] == Constraint.UNRESPONSIVE  # ...which is no capacity pause
    assert reasons[51]["b"] != Constraint.UNRESPONSIVE  # it draws 9 A again: back in
    resumed = next(now for now in range(50, 120) if at[now]["a"] > 0.0)
    assert resumed <= 50 + TimingSettings().raise_hold_s + 5  # not a 5-minute pause
    assert at[119] == {"a": 9.0, "b": 9.0}


@pytest.mark.parametrize("over_a", [0.0, 0.5, 1.0])
def test_a_car_drawing_up_to_1_a_above_its_limit_still_obeys(over_a: float):
    at, reasons = _two_cars(
        lambda _now, told_a: told_a + over_a if told_a else 0.0, 60, lambda _now: 3.0
    )
    assert all(reason != Constraint.UNRESPONSIVE for each in reasons for reason in each.values())
    assert at[-1]["a"] + at[-1]["b"] >= 28.0 - 2 * over_a
