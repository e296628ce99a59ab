"""The balancer's rules, case by case (DESIGN section 2)."""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Callable

import pytest
from engine_support import (
    Car,
    Loop,
    Step,
    charger,
    currents,
    idle,
    reading,
    setpoint_changes,
    site,
    snapshot,
)

from custom_components.headroom.engine import Balancer
from custom_components.headroom.engine.model import (
    ChargerState,
    Constraint,
    Decision,
    Mode,
    SiteSettings,
    Snapshot,
    SolarSettings,
    Supply,
    TimingSettings,
)

FAST_TIMING = TimingSettings(raise_hold_s=10.0, min_pause_s=30.0, turn_s=120.0)


def run(
    balancer: Balancer, make: Callable[[float], Snapshot], start: float, seconds: int
) -> list[Decision]:
    return [balancer.step(make(start + offset)) for offset in range(seconds)]


def settled(
    settings: SiteSettings, make: Callable[[float], Snapshot], seconds: int = 40
) -> Decision:
    return run(Balancer(settings), make, 0.0, seconds)[-1]


# --- house load and headroom -------------------------------------------------------------


@pytest.mark.parametrize(
    ("supply", "phases", "grid_a", "lines_a", "house_a"),
    [
        (Supply.SINGLE_PHASE, (1,), (30.0,), (12.0,), (18.0,)),
        # A 1-phase charger on L2 of a three-phase supply.
        (Supply.THREE_PHASE, (2,), (10.0, 20.0, 10.0), (8.0,), (10.0, 12.0, 10.0)),
        # A 3-phase charger wired with rotation: its L1 on grid L2, L2 on L3, L3 on L1.
        (Supply.THREE_PHASE, (2, 3, 1), (20.0, 20.0, 20.0), (5.0, 6.0, 7.0), (13.0, 15.0, 14.0)),
        # Split phase: a 240 V charger draws on both legs.
        (Supply.SPLIT_PHASE, (1, 2), (40.0, 35.0), (30.0, 30.0), (10.0, 5.0)),
        # ... and many report the current once.
        (Supply.SPLIT_PHASE, (1, 2), (40.0, 35.0), (30.0,), (10.0, 5.0)),
        # A 3-phase charger whose meter reports one line only: the others count as 0.
        (Supply.THREE_PHASE, (1, 2, 3), (20.0, 20.0, 20.0), (8.0,), (12.0, 20.0, 20.0)),
        # Grid below what the charger says it draws (PV export, meter error): never below 0.
        (Supply.SINGLE_PHASE, (1,), (3.0,), (16.0,), (0.0,)),
    ],
)
def test_house_load_is_grid_minus_charger_draw_per_phase(supply, phases, grid_a, lines_a, house_a):
    settings = site(charger(phases=phases, max_a=32.0), supply=supply, breaker_a=50.0)
    decision = Balancer(settings).step(snapshot(0.0, grid_a, reading(currents_a=lines_a)))
    assert decision.house_a == pytest.approx(house_a)
    assert decision.headroom_a == pytest.approx(tuple(49.0 - h for h in house_a))
    assert decision.available_a == pytest.approx(min(49.0 - h for h in house_a))


def test_a_charger_that_cannot_measure_counts_its_command_once_the_car_followed():
    balancer = Balancer(site(charger(max_a=32.0)))
    # Reported limit 16 A at start; no current measurement.
    decision = balancer.step(snapshot(0.0, (26.0,), reading(currents_a=None, setpoint_a=16.0)))
    assert decision.house_a == (10.0,)
    # Not charging (state B): its draw stays in the house load.
    decision = balancer.step(
        snapshot(1.0, (26.0,), reading(currents_a=None, setpoint_a=16.0, state=ChargerState.B))
    )
    assert decision.house_a == (26.0,)


def test_a_charger_that_cannot_measure_counts_its_old_command_while_the_car_responds():
    settings = site(charger(max_a=32.0), breaker_a=40.0, timing=FAST_TIMING)
    balancer = Balancer(settings)
    balancer.step(snapshot(0.0, (36.0,), reading(currents_a=None, setpoint_a=20.0)))
    # House 16 -> 26: cut from 20 to 13 at once.
    decision = balancer.step(snapshot(1.0, (46.0,), reading(currents_a=None, setpoint_a=20.0)))
    assert currents(decision) == {"a": 13.0}
    # The car still draws 20 A for a few seconds: the house is still 26 A, not 33 A.
    decision = balancer.step(snapshot(2.0, (46.0,), reading(currents_a=None, setpoint_a=13.0)))
    assert decision.house_a == (26.0,)
    assert currents(decision) == {"a": 13.0}
    decision = balancer.step(snapshot(7.0, (39.0,), reading(currents_a=None, setpoint_a=13.0)))
    assert decision.house_a == (26.0,)


# --- what a charger gets -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("max_a", "house_a", "expected", "reason"),
    [
        (32.0, 10.0, 29.0, Constraint.BREAKER),
        (16.0, 10.0, 16.0, Constraint.CHARGER_MAX),
        (32.0, 22.5, 16.0, Constraint.BREAKER),  # 16.5 rounds down
        # Starting needs the minimum plus 1 A of hysteresis plus the 0.25 A raise deadband.
        (32.0, 31.7, 7.0, Constraint.BREAKER),
        (32.0, 31.8, 0.0, Constraint.BREAKER),
        (32.0, 33.0, 0.0, Constraint.BREAKER),
        (32.0, 33.5, 0.0, Constraint.BREAKER),  # 5.5 A cannot charge: pause
        (32.0, 45.0, 0.0, Constraint.BREAKER),  # the house alone is over the limit
        (16.5, 0.0, 16.0, Constraint.CHARGER_MAX),  # a fractional maximum rounds down
    ],
)
def test_one_charger_gets_the_headroom_up_to_its_maximum(max_a, house_a, expected, reason):
    settings = site(charger(max_a=max_a))

    def make(now: float) -> Snapshot:
        return snapshot(now, (house_a,), idle())

    decision = settled(settings, make)
    assert currents(decision) == {"a": expected}
    assert decision.commands[0].reason == reason


@pytest.mark.parametrize(
    ("house_a", "circuit_a", "expected", "reason"),
    [
        ((0.0, 0.0, 0.0), 40.0, {"a": 12.0, "b": 12.0}, Constraint.BREAKER),
        ((0.0, 0.0, 0.0), 21.0, {"a": 11.0, "b": 10.0}, Constraint.CIRCUIT),
        ((0.0, 0.0, 0.0), 25.0, {"a": 12.0, "b": 12.0}, Constraint.BREAKER),
        ((0.0, 0.0, 0.0), 90.0, {"a": 12.0, "b": 12.0}, Constraint.BREAKER),
        ((0.0, 10.5, 0.0), 40.0, {"a": 7.0, "b": 6.0}, Constraint.BREAKER),
        # 12 A on L2: the second would start at 6 A but needs 7 A (hysteresis).
        ((0.0, 12.0, 0.0), 40.0, {"a": 12.0, "b": 0.0}, Constraint.BREAKER),
        ((10.0, 8.0, 0.0), 40.0, {"a": 8.0, "b": 8.0}, Constraint.BREAKER),
        # L1 is short for the 3-phase charger only: the 1-phase one takes the rest of L2.
        ((14.0, 0.0, 0.0), 40.0, {"a": 10.0, "b": 14.0}, Constraint.BREAKER),
    ],
)
def test_two_chargers_three_phase_with_a_shared_circuit(house_a, circuit_a, expected, reason):
    settings = site(
        charger("a", (1, 2, 3), 16.0, circuit="shared"),
        charger("b", (2,), 16.0, circuit="shared"),
        supply=Supply.THREE_PHASE,
        breaker_a=25.0,
        circuits_a={"shared": circuit_a},
    )

    def make(now: float) -> Snapshot:
        return snapshot(now, house_a, idle("a"), idle("b"))

    decision = settled(settings, make)
    assert currents(decision) == expected
    assert decision.binding == reason


@pytest.mark.parametrize(
    ("house_a", "expected", "reason"),
    [
        ((10.0, 10.0), {"a": 30.0, "b": 30.0}, Constraint.CIRCUIT),
        # Leg 1 has 29 A left and both chargers draw on it.
        ((70.0, 10.0), {"a": 15.0, "b": 14.0}, Constraint.BREAKER),
        ((20.0, 80.0), {"a": 10.0, "b": 9.0}, Constraint.BREAKER),
        ((0.0, 0.0), {"a": 30.0, "b": 30.0}, Constraint.CIRCUIT),
    ],
)
def test_split_phase_chargers_count_on_both_legs(house_a, expected, reason):
    settings = site(
        charger("a", (1, 2), 40.0, circuit="garage"),
        charger("b", (1, 2), 40.0, circuit="garage"),
        supply=Supply.SPLIT_PHASE,
        voltage_v=120.0,
        breaker_a=100.0,
        circuits_a={"garage": 60.0},
    )

    def make(now: float) -> Snapshot:
        return snapshot(now, house_a, idle("a"), idle("b"))

    decision = settled(settings, make)
    assert currents(decision) == expected
    assert decision.binding == reason


def test_higher_priority_charges_first():
    settings = site(
        charger("low", priority=1, max_a=32.0),
        charger("high", priority=2, max_a=16.0),
        breaker_a=40.0,
    )

    def make(house_a: float) -> Callable[[float], Snapshot]:
        return lambda now: snapshot(now, (house_a,), idle("low"), idle("high"))

    assert currents(settled(settings, make(10.0))) == {"high": 16.0, "low": 13.0}
    assert currents(settled(settings, make(18.0))) == {"high": 16.0, "low": 0.0}


def test_power_sharing_without_a_meter():
    settings = site(
        charger("a", max_a=32.0),
        charger("b", max_a=32.0),
        breaker_a=40.0,
        margin_a=2.0,
        has_meter=False,
    )
    decision = settled(settings, lambda now: snapshot(now, None, idle("a"), idle("b")))
    assert currents(decision) == {"a": 19.0, "b": 19.0}
    assert decision.fail_safe is False
    assert decision.house_a == (0.0,)
    assert decision.available_a == 38.0


@pytest.mark.parametrize(
    ("settings_change", "reading_change", "reason"),
    [
        ({"mode": Mode.OFF}, {}, Constraint.MODE_OFF),
        ({}, {"state": ChargerState.A}, Constraint.CAR),
        ({}, {"state": ChargerState.E}, Constraint.CAR),
        ({}, {"state": ChargerState.F}, Constraint.CAR),
        ({}, {"wants_charge": False}, Constraint.CAR),
    ],
)
def test_off_and_no_car_mean_zero_at_once(settings_change, reading_change, reason):
    balancer = Balancer(site(charger(max_a=16.0)))
    decision = balancer.step(snapshot(0.0, (26.0,), reading(currents_a=(16.0,), setpoint_a=16.0)))
    assert currents(decision) == {"a": 16.0}
    if settings_change:
        balancer.settings = site(charger(max_a=16.0), **settings_change)
    decision = balancer.step(
        snapshot(1.0, (26.0,), reading(currents_a=(16.0,), setpoint_a=16.0, **reading_change))
    )
    assert currents(decision) == {"a": 0.0}
    assert decision.commands[0].reason == reason


def test_a_user_paused_charger_is_off_and_the_other_takes_the_room():
    settings = site(charger("a", max_a=32.0, paused=True), charger("b", max_a=32.0))
    decision = settled(settings, lambda now: snapshot(now, (9.0,), idle("a"), idle("b")))
    assert currents(decision) == {"a": 0.0, "b": 30.0}
    assert decision.commands[0].reason == Constraint.MODE_OFF


# --- cut at once, raise gently ------------------------------------------------------------


def test_cut_at_once_by_the_whole_overshoot():
    balancer = Balancer(site(charger(max_a=32.0)))
    decision = balancer.step(snapshot(0.0, (39.0,), reading(currents_a=(29.0,), setpoint_a=29.0)))
    assert currents(decision) == {"a": 29.0}
    # The house jumps by 9.5 A: the same cycle cuts by 10 A.
    decision = balancer.step(snapshot(1.0, (48.5,), reading(currents_a=(29.0,))))
    assert currents(decision) == {"a": 19.0}
    assert decision.commands[0].reason == Constraint.BREAKER
    # The car has not followed yet: nothing more to cut.
    decision = balancer.step(snapshot(2.0, (48.5,), reading(currents_a=(29.0,))))
    assert currents(decision) == {"a": 19.0}


def test_raise_waits_for_the_hold_and_a_stable_headroom():
    timing = TimingSettings(raise_hold_s=10.0)
    balancer = Balancer(site(charger(max_a=32.0), timing=timing))
    balancer.step(snapshot(0.0, (39.0,), reading(currents_a=(29.0,), setpoint_a=29.0)))
    balancer.step(snapshot(1.0, (45.0,), reading(currents_a=(29.0,))))  # cut to 23
    # The house drops back at t=2, but the car follows the cut only at t=4. The raise
    # waits for 10 s of stable headroom (from t=2) and 10 s after the cut (from t=1).
    for now in range(2, 12):
        draw = 29.0 if now < 4 else 23.0
        decision = balancer.step(snapshot(now, (11.0 + draw,), reading(currents_a=(draw,))))
        assert currents(decision) == {"a": 23.0}, now
    decision = balancer.step(snapshot(12.0, (34.0,), reading(currents_a=(23.0,))))
    assert currents(decision) == {"a": 28.0}


def test_a_raise_goes_to_the_lowest_figure_seen_while_waiting():
    timing = TimingSettings(raise_hold_s=10.0)
    balancer = Balancer(site(charger(max_a=32.0), timing=timing))
    balancer.step(snapshot(0.0, (22.0,), reading(currents_a=(10.0,), setpoint_a=10.0)))
    houses = [12.0, 15.0, 12.0, 12.0, 12.0, 12.0, 12.0, 12.0, 12.0, 12.0]
    decisions = [
        balancer.step(snapshot(1.0 + i, (house + 10.0,), reading(currents_a=(10.0,))))
        for i, house in enumerate(houses)
    ]
    assert [currents(d)["a"] for d in decisions[:-1]] == [10.0] * 9
    # Waited the hold (t=0..10) and goes to 39 - 15 = 24, not 27.
    assert currents(decisions[-1]) == {"a": 24.0}


def test_no_hunting_on_a_rounding_edge():
    # Headroom flickers between 17.9 and 18.1 A every second.
    balancer = Balancer(site(charger(max_a=32.0)))
    decisions = []
    for now in range(300):
        house = 21.1 if now % 2 else 20.9
        decisions.append(
            balancer.step(
                snapshot(float(now), (house + 17.0,), reading(currents_a=(17.0,), setpoint_a=17.0))
            )
        )
    assert [currents(d) for d in decisions] == [{"a": 17.0}] * 300


@pytest.mark.parametrize(
    ("headroom_a", "expected"),
    [(18.1, 17.0), (18.2, 17.0), (18.3, 18.0), (19.0, 19.0)],
)
def test_a_raise_needs_a_little_more_than_the_next_ampere(headroom_a, expected):
    balancer = Balancer(site(charger(max_a=32.0)))
    house = 39.0 - headroom_a
    decision = None
    for now in range(30):
        decision = balancer.step(
            snapshot(float(now), (house + 17.0,), reading(currents_a=(17.0,), setpoint_a=17.0))
        )
    assert decision is not None
    assert currents(decision) == {"a": expected}


def _two_on_one_limit(settings: SiteSettings, house_a: float, cycles: int) -> dict[str, float]:
    """Run two single-phase chargers on L1 from 12 A and 11 A (a cut left them so)."""
    balancer = Balancer(settings)
    setpoints = {"a": 12.0, "b": 11.0}
    decision = None
    for now in range(cycles):
        draw_a = sum(setpoints.values())
        decision = balancer.step(
            snapshot(
                float(now),
                (house_a + draw_a,) + (0.0,) * (len(settings.supply.phases) - 1),
                *(reading(k, currents_a=(v,), setpoint_a=v) for k, v in setpoints.items()),
            )
        )
        setpoints = currents(decision)
    assert decision is not None
    return setpoints


@pytest.mark.parametrize(
    ("house_a", "expected"),
    [
        # The phase exports 5 A beyond the chargers' draw: the house counts as 0 A (export
        # is no capacity), and the 5 A the floor hides is the deadband's room: equal shares.
        (-5.0, {"a": 12.0, "b": 12.0}),
        (-0.25, {"a": 12.0, "b": 12.0}),
        # Within the deadband of the edge, or a real house load there: no raise (no hunting).
        (-0.1, {"a": 12.0, "b": 11.0}),
        (0.1, {"a": 12.0, "b": 11.0}),
    ],
)
def test_an_exporting_phase_gives_its_last_whole_ampere(house_a, expected):
    settings = site(charger("a"), charger("b"), breaker_a=25.0)
    assert _two_on_one_limit(settings, house_a, cycles=40) == expected


def test_a_shared_circuit_gives_its_last_whole_ampere():
    # A 24 A circuit for two chargers, well under the breaker: its rating is a figure, not
    # a measurement, so no deadband keeps the second charger 1 A below the first.
    settings = site(
        charger("a", circuit="carport"),
        charger("b", circuit="carport"),
        breaker_a=63.0,
        circuits_a={"carport": 24.0},
    )
    assert _two_on_one_limit(settings, 10.0, cycles=40) == {"a": 12.0, "b": 12.0}


# --- pause, minimum pause and resume ---------------------------------------------------------


def test_pause_stays_for_the_minimum_time_and_resumes_with_hysteresis():
    timing = TimingSettings(raise_hold_s=10.0, min_pause_s=60.0, resume_hysteresis_a=1.0)
    balancer = Balancer(site(charger(max_a=32.0), timing=timing))
    balancer.step(snapshot(0.0, (40.0,), reading(currents_a=(10.0,), setpoint_a=10.0)))
    decision = balancer.step(snapshot(1.0, (44.0,), reading(currents_a=(10.0,))))  # 5 A left
    assert currents(decision) == {"a": 0.0}
    assert decision.commands[0].reason == Constraint.BREAKER
    # Room comes back at once, but the pause holds for 60 s.
    for now in range(2, 61):
        decision = balancer.step(snapshot(float(now), (20.0,), reading(currents_a=(0.0,))))
        assert currents(decision) == {"a": 0.0}, now
    # After the pause, 6.5 A is not enough to resume (6 + 1 A hysteresis) ...
    for now in range(61, 100):
        decision = balancer.step(snapshot(float(now), (32.5,), reading(currents_a=(0.0,))))
        assert currents(decision) == {"a": 0.0}, now
    # ... 7.5 A is, once it has held for the hold time.
    decisions = [
        balancer.step(snapshot(float(now), (31.5,), reading(currents_a=(0.0,))))
        for now in range(100, 111)
    ]
    assert [currents(d)["a"] for d in decisions] == [0.0] * 10 + [7.0]


def test_a_charger_stopped_by_its_car_resumes_without_the_minimum_pause():
    timing = TimingSettings(raise_hold_s=10.0, min_pause_s=600.0)
    balancer = Balancer(site(charger(max_a=16.0), timing=timing))
    balancer.step(snapshot(0.0, (20.0,), reading(currents_a=(16.0,), setpoint_a=16.0)))
    decision = balancer.step(snapshot(1.0, (4.0,), reading(wants_charge=False)))
    assert currents(decision) == {"a": 0.0}
    decisions = [balancer.step(snapshot(float(t), (4.0,), reading())) for t in range(2, 13)]
    assert currents(decisions[-1]) == {"a": 16.0}


def test_two_cars_take_turns_on_one_slot():
    timing = TimingSettings(raise_hold_s=10.0, min_pause_s=30.0, turn_s=120.0)
    settings = site(charger("a", max_a=16.0), charger("b", max_a=16.0), timing=timing)
    cars = {"a": Car(), "b": Car()}
    # 39 - 30 = 9 A: one car at a time.
    loop = Loop(settings, cars, house_a=lambda _now: (30.0,))
    steps = loop.run(800)
    running = [
        tuple(name for name, value in currents(step.decision).items() if value > 0)
        for step in steps
    ]
    assert all(len(names) <= 1 for names in running)
    holders = [names[0] for names in running if names]
    switches = sum(1 for first, second in itertools.pairwise(holders) if first != second)
    assert switches >= 4
    assert holders.count("a") > 200
    assert holders.count("b") > 200
    # Never above the breaker for longer than the car takes to follow.
    assert max(step.grid_a[0] for step in steps) <= 39.0 + 1e-9


def test_no_turns_when_both_fit():
    timing = TimingSettings(raise_hold_s=10.0, turn_s=60.0)
    settings = site(charger("a", max_a=16.0), charger("b", max_a=16.0), timing=timing)
    loop = Loop(settings, {"a": Car(), "b": Car()}, house_a=lambda _now: (20.0,))
    steps = loop.run(400)
    assert currents(steps[-1].decision) == {"a": 10.0, "b": 9.0}
    assert setpoint_changes(step.decision for step in steps[59:]) == 0


# --- the car's measured draw ---------------------------------------------------------------


def test_a_car_drawing_less_gives_its_room_to_the_other_and_can_rise_back():
    settings = site(charger("a", max_a=32.0), charger("b", max_a=32.0), breaker_a=50.0)
    cars = {"a": Car(max_a=10.0), "b": Car(max_a=32.0)}
    loop = Loop(settings, cars, house_a=lambda _now: (9.0,))
    steps = loop.run(120)
    decision = steps[-1].decision
    assert currents(decision) == {"a": 12.0, "b": 28.0}
    assert decision.commands[0].reason == Constraint.CAR
    # The car now takes more: it draws its 12 A, the cap goes, equal shares return.
    cars["a"].max_a = 32.0
    cars["a"].command(loop.now, 12.0)
    steps = loop.run(120)
    assert currents(steps[-1].decision) == {"a": 20.0, "b": 20.0}
    assert max(step.grid_a[0] for step in steps) <= 50.0


def test_a_car_that_draws_nothing_keeps_the_minimum_offered():
    settings = site(charger(max_a=32.0))
    balancer = Balancer(settings)
    decisions = run(
        balancer,
        lambda now: snapshot(
            now, (5.0,), reading(currents_a=(0.0,), setpoint_a=32.0, state=ChargerState.B)
        ),
        0.0,
        40,
    )
    assert currents(decisions[-1]) == {"a": 6.0}
    assert decisions[-1].commands[0].reason == Constraint.CAR


def test_a_full_cars_minimum_goes_to_the_other_car_until_it_draws_again():
    # 39 A under the margin, 23 A of house: 16 A for two chargers.
    settings = site(charger("a", max_a=16.0), charger("b", max_a=16.0))
    cars = {"a": Car(wants_charge=False), "b": Car()}
    loop = Loop(settings, cars, house_a=lambda _now: (23.0,))
    steps = loop.run(60)
    # Offered its minimum, the full car still holds 6 A of the 16 A.
    assert currents(steps[-1].decision) == {"a": 6.0, "b": 10.0}
    steps = loop.run(60)
    # Idle for a minute: its charger keeps offering 6 A, the other car gets the room.
    decision = steps[-1].decision
    assert currents(decision) == {"a": 6.0, "b": 16.0}
    assert [c.reason for c in decision.commands] == [Constraint.CAR, Constraint.CHARGER_MAX]
    # The car starts again (its own timer): like a house load step, the other is cut at once.
    cars["a"].wakes_at = loop.now
    steps = loop.run(60)
    over = [step.now for step in steps if step.grid_a[0] > 40.0 + 1e-9]
    assert over
    assert max(over) - min(over) <= cars["b"].response_s + 1.0
    assert currents(steps[-1].decision) == {"a": 8.0, "b": 8.0}


def test_a_tapering_car_is_offered_less_as_it_draws_less():
    settings = site(charger(max_a=32.0))
    balancer = Balancer(settings)
    run(
        balancer,
        lambda now: snapshot(now, (20.0,), reading(currents_a=(10.0,), setpoint_a=32.0)),
        0.0,
        30,
    )
    decisions = run(
        balancer, lambda now: snapshot(now, (14.0,), reading(currents_a=(4.0,))), 30.0, 40
    )
    assert currents(decisions[-1]) == {"a": 6.0}


# --- fail-safe -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("meter_age_s", "grid_a", "fail_safe"),
    [
        (0.0, (10.0,), False),
        (5.0, (10.0,), False),
        (5.1, (10.0,), True),
        (60.0, (10.0,), True),
        (0.0, None, True),
        (0.0, (10.0, 10.0), True),  # a reading that does not match the supply
    ],
)
def test_a_silent_meter_sends_every_charger_to_the_fail_safe(meter_age_s, grid_a, fail_safe):
    settings = site(charger("a", max_a=32.0), charger("b", max_a=8.0), fail_safe_a=10.0)
    balancer = Balancer(settings)
    balancer.step(
        snapshot(
            0.0,
            (30.0,),
            reading("a", (20.0,), setpoint_a=20.0),
            reading("b", (8.0,), setpoint_a=8.0),
        )
    )
    decision = balancer.step(
        snapshot(
            100.0, grid_a, reading("a", (20.0,)), reading("b", (8.0,)), meter_at=100.0 - meter_age_s
        )
    )
    assert decision.fail_safe is fail_safe
    if fail_safe:
        assert currents(decision) == {"a": 10.0, "b": 8.0}
        assert {c.reason for c in decision.commands} == {Constraint.FAIL_SAFE}
        assert decision.binding == Constraint.FAIL_SAFE
        assert decision.available_a == 10.0
        assert decision.house_a == (2.0,)  # the last known house load
    else:
        assert currents(decision) == {"a": 29.0, "b": 8.0}


@pytest.mark.parametrize(
    ("fail_safe_a", "mode", "expected"),
    [
        (0.0, Mode.FAST, {"a": 0.0, "b": 0.0}),
        (4.0, Mode.FAST, {"a": 0.0, "b": 0.0}),  # below 6 A is no current at all
        (16.0, Mode.FAST, {"a": 16.0, "b": 12.0}),  # never above a charger's maximum
        (16.0, Mode.OFF, {"a": 0.0, "b": 0.0}),
    ],
)
def test_fail_safe_current_per_charger(fail_safe_a, mode, expected):
    settings = site(
        charger("a", max_a=32.0), charger("b", max_a=12.0), fail_safe_a=fail_safe_a, mode=mode
    )
    decision = Balancer(settings).step(snapshot(0.0, None, reading("a"), reading("b")))
    assert currents(decision) == expected
    assert decision.fail_safe is True


def test_fail_safe_keeps_a_shared_circuit_within_its_rating():
    settings = site(
        charger("a", max_a=32.0, circuit="c"),
        charger("b", max_a=32.0, circuit="c"),
        charger("c", max_a=32.0),
        fail_safe_a=16.0,
        circuits_a={"c": 20.0},
    )
    decision = Balancer(settings).step(
        snapshot(0.0, None, reading("a"), reading("b"), reading("c"))
    )
    assert currents(decision) == {"a": 10.0, "b": 10.0, "c": 16.0}
    settings = site(
        charger("a", max_a=32.0, circuit="c"),
        charger("b", max_a=32.0, circuit="c"),
        fail_safe_a=16.0,
        circuits_a={"c": 11.0},
    )
    decision = Balancer(settings).step(snapshot(0.0, None, reading("a"), reading("b")))
    assert currents(decision) == {"a": 0.0, "b": 0.0}


def test_after_the_fail_safe_the_meter_is_trusted_again_and_raises_wait():
    timing = TimingSettings(raise_hold_s=10.0, meter_stale_after_s=5.0)
    balancer = Balancer(site(charger(max_a=32.0), fail_safe_a=10.0, timing=timing))
    balancer.step(snapshot(0.0, (30.0,), reading(currents_a=(20.0,), setpoint_a=20.0)))
    for now in range(1, 6):
        decision = balancer.step(
            snapshot(float(now), (30.0,), reading(currents_a=(20.0,)), meter_at=0.0)
        )
        assert not decision.fail_safe
    decision = balancer.step(snapshot(6.0, (30.0,), reading(currents_a=(20.0,)), meter_at=0.0))
    assert decision.fail_safe
    assert currents(decision) == {"a": 10.0}
    decisions = run(
        balancer, lambda now: snapshot(now, (20.0,), reading(currents_a=(10.0,))), 7.0, 12
    )
    assert [currents(d)["a"] for d in decisions[:9]] == [10.0] * 9
    assert currents(decisions[-1]) == {"a": 29.0}


def test_an_unreadable_charger_is_assumed_at_its_maximum():
    settings = site(charger("a", max_a=16.0), charger("b", max_a=32.0), fail_safe_a=8.0)
    # "a" cannot be read: it gets the fail-safe and "b" keeps room for a's 16 A.
    decision = settled(
        settings,
        lambda now: snapshot(now, (20.0,), reading("a", None, state=None), idle("b")),
    )
    assert currents(decision) == {"a": 8.0, "b": 0.0}
    decision = settled(
        settings, lambda now: snapshot(now, (10.0,), reading("a", None, state=None), idle("b"))
    )
    # House 10 A (a's draw is unknown, so it stays in the house), 29 - 16 = 13 A for "b".
    assert currents(decision) == {"a": 8.0, "b": 13.0}
    assert decision.commands[0].reason == Constraint.FAIL_SAFE
    # A charger missing from the snapshot is unreadable too.
    decision = settled(settings, lambda now: snapshot(now, (10.0,), idle("b")))
    assert currents(decision) == {"a": 8.0, "b": 13.0}


def test_an_unreadable_charger_is_off_when_the_user_switched_it_off():
    settings = site(charger("a", max_a=16.0, paused=True), fail_safe_a=8.0)
    decision = Balancer(settings).step(snapshot(0.0, (10.0,), reading("a", None, state=None)))
    assert currents(decision) == {"a": 0.0}
    assert decision.commands[0].reason == Constraint.MODE_OFF


def test_an_unreadable_charger_on_a_circuit_reserves_its_maximum_there():
    settings = site(
        charger("a", max_a=16.0, circuit="c"),
        charger("b", max_a=32.0, circuit="c"),
        breaker_a=100.0,
        fail_safe_a=6.0,
        circuits_a={"c": 30.0},
    )
    decision = settled(
        settings, lambda now: snapshot(now, (0.0,), reading("a", None, state=None), idle("b"))
    )
    assert currents(decision) == {"a": 6.0, "b": 14.0}
    # What holds b back is the room kept for the charger that cannot be read.
    assert decision.commands[1].reason == Constraint.FAIL_SAFE


# --- solar ---------------------------------------------------------------------------------

SOLAR_TIMING = TimingSettings(raise_hold_s=10.0, min_pause_s=30.0)
SOLAR = SolarSettings(
    start_delay_s=60.0, stop_delay_s=120.0, grid_tolerance_w=100.0, stop_import_wh=1000.0
)


def solar_loop(mode: Mode, pv_w: Callable[[float], float], **kwargs: object) -> Loop:
    settings = site(charger(max_a=32.0), mode=mode, timing=SOLAR_TIMING, solar=SOLAR, **kwargs)
    return Loop(settings, {"a": Car()}, house_a=lambda _now: (2.0,), pv_w=pv_w)


def test_solar_only_starts_after_the_start_delay_and_follows_the_surplus():
    # 2 A of house (460 W) and 3 kW PV: 2540 W, 11.04 A.
    loop = solar_loop(Mode.SOLAR, lambda _now: 3000.0)
    steps = loop.run(200)
    first_on = next(step.now for step in steps if currents(step.decision)["a"] > 0)
    assert 60.0 <= first_on <= 75.0
    assert currents(steps[-1].decision) == {"a": 11.0}
    assert steps[-1].decision.commands[0].reason == Constraint.SOLAR
    assert all(step.surplus_w >= 0.0 for step in steps)


def test_solar_only_holds_the_minimum_through_the_stop_delay_then_stops():
    loop = solar_loop(Mode.SOLAR, lambda now: 3000.0 if now < 200 else 1200.0)
    steps = loop.run(500)
    at = {int(step.now): currents(step.decision)["a"] for step in steps}
    assert at[199] == 11.0
    assert at[201] == 6.0  # cut at once to the minimum
    assert at[310] == 6.0  # still within the stop delay
    assert at[330] == 0.0
    settled_steps = [step for step in steps if step.now >= 340]
    assert all(step.surplus_w >= 0.0 for step in settled_steps)
    assert setpoint_changes(step.decision for step in steps if step.now >= 339) == 0


@pytest.mark.parametrize(
    ("pv_after_w", "stop_import_wh", "stops_at"),
    [
        # No PV: the car's 11 A come from the grid until it follows the cut (3 s), then
        # its 6 A (1380 W); 10 Wh are used up 22 s later.
        (0.0, 10.0, 225),
        (0.0, 5.0, 212),
        # 1200 W of PV for 460 W of house: 640 W from the grid at 6 A.
        (1200.0, 10.0, 253),
        # 140 W from the grid: the 120 s stop delay runs out first.
        (1700.0, 10.0, 320),
    ],
)
def test_solar_only_stops_sooner_when_the_grid_energy_budget_runs_out(
    pv_after_w, stop_import_wh, stops_at
):
    solar = SolarSettings(start_delay_s=60.0, stop_delay_s=120.0, stop_import_wh=stop_import_wh)
    settings = site(charger(max_a=32.0), mode=Mode.SOLAR, timing=SOLAR_TIMING, solar=solar)
    loop = Loop(
        settings,
        {"a": Car()},
        house_a=lambda _now: (2.0,),
        pv_w=lambda now: 3000.0 if now < 200 else pv_after_w,
    )
    steps = loop.run(400)
    first_off = next(s.now for s in steps if s.now > 200 and currents(s.decision)["a"] == 0.0)
    assert first_off == pytest.approx(stops_at, abs=1.0)


@pytest.mark.parametrize("mode", [Mode.SOLAR, Mode.MIN_SOLAR])
def test_a_raise_the_surplus_limits_waits_for_the_car_not_the_hold(mode):
    # The sun comes out from behind a cloud at t=200: 690 W (3 A) more. Only the surplus
    # limits the raise, so it waits the car's response (5 s), not the 10 s raise hold
    # that lets a house load settle under the breaker (test_raise_waits_for_the_hold_...).
    loop = solar_loop(mode, lambda now: 3000.0 if now < 200 else 3690.0)
    steps = loop.run(260)
    at = {int(step.now): step.decision for step in steps}
    assert currents(at[199]) == {"a": 11.0}
    assert at[199].commands[0].reason == Constraint.SOLAR
    first_rise = next(s for s in steps if s.now >= 200 and currents(s.decision)["a"] > 11.0)
    assert first_rise.now == 205.0
    assert currents(first_rise.decision) == {"a": 14.0}


def test_solar_only_does_not_start_on_a_short_sunny_spell():
    loop = solar_loop(Mode.SOLAR, lambda now: 3000.0 if now % 100 < 50 else 500.0)
    steps = loop.run(600)
    assert all(currents(step.decision)["a"] == 0.0 for step in steps)


def test_solar_only_keeps_running_on_a_deficit_within_the_tolerance():
    # Minimum is 6 A = 1380 W; the PV gives 460 + 1300 W: 80 W short, within 100 W.
    loop = solar_loop(Mode.SOLAR, lambda now: 3000.0 if now < 100 else 1760.0)
    steps = loop.run(600)
    assert currents(steps[-1].decision) == {"a": 6.0}
    assert steps[-1].surplus_w == pytest.approx(-80.0)


def test_stale_surplus_counts_as_no_surplus():
    settings = site(charger(max_a=32.0), mode=Mode.SOLAR, timing=SOLAR_TIMING, solar=SOLAR)
    balancer = Balancer(settings)
    draw_a = 0.0
    for now in range(100):  # 2300 W of PV; the car follows at once
        decision = balancer.step(
            snapshot(
                now, (2.0 + draw_a,), reading(currents_a=(draw_a,)), surplus_w=2300.0 - 230 * draw_a
            )
        )
        draw_a = currents(decision)["a"]
    assert draw_a == 10.0
    decisions = run(
        balancer,
        lambda now: snapshot(
            now, (12.0,), reading(currents_a=(10.0,)), surplus_w=5000.0, surplus_at=50.0
        ),
        100.0,
        200,
    )
    assert currents(decisions[0]) == {"a": 6.0}
    assert currents(decisions[-1]) == {"a": 0.0}


def test_min_solar_never_below_the_minimum_and_adds_the_surplus():
    loop = solar_loop(Mode.MIN_SOLAR, lambda now: 0.0 if now < 100 else 4000.0)
    steps = loop.run(300)
    at = {int(step.now): step.decision for step in steps}
    assert currents(at[15]) == {"a": 6.0}
    assert currents(at[99]) == {"a": 6.0}
    assert at[99].commands[0].reason == Constraint.SOLAR
    # 4000 - 460 W = 15.4 A
    assert currents(at[299]) == {"a": 15.0}


def test_min_solar_without_a_surplus_reading_charges_at_the_minimum():
    settings = site(charger(max_a=32.0), mode=Mode.MIN_SOLAR)
    decision = settled(settings, lambda now: snapshot(now, (12.0,), reading(currents_a=(0.0,))))
    assert currents(decision) == {"a": 6.0}


def test_the_breaker_wins_over_the_surplus():
    loop = solar_loop(Mode.MIN_SOLAR, lambda _now: 20000.0, breaker_a=20.0)
    steps = loop.run(100)
    assert currents(steps[-1].decision) == {"a": 17.0}
    assert steps[-1].decision.commands[0].reason == Constraint.BREAKER


def test_solar_uses_the_lines_the_car_charges_on():
    # A 3-phase charger with a 1-phase car: 230 W per ampere, not 690 W.
    settings = site(
        charger(phases=(1, 2, 3), max_a=16.0),
        supply=Supply.THREE_PHASE,
        breaker_a=25.0,
        mode=Mode.MIN_SOLAR,
        timing=SOLAR_TIMING,
        solar=SOLAR,
    )
    loop = Loop(
        settings,
        {"a": Car(lines=1)},
        house_a=lambda _now: (0.0, 0.0, 0.0),
        pv_w=lambda _now: 2500.0,
    )
    steps = loop.run(200)
    assert currents(steps[-1].decision) == {"a": 10.0}


def test_two_chargers_share_the_surplus():
    settings = site(
        charger("a", max_a=32.0),
        charger("b", max_a=32.0),
        mode=Mode.SOLAR,
        timing=SOLAR_TIMING,
        solar=SOLAR,
        breaker_a=100.0,
    )
    loop = Loop(
        settings, {"a": Car(), "b": Car()}, house_a=lambda _now: (0.0,), pv_w=lambda _now: 5000.0
    )
    steps = loop.run(300)
    assert currents(steps[-1].decision) == {"a": 10.0, "b": 10.0}
    assert steps[-1].surplus_w >= 0.0


def two_solar_cars(pv_w: Callable[[float], float], **solar: float) -> Loop:
    """Two 1-phase 16 A chargers on a solar-only surplus, no house load."""
    settings = site(
        charger("a", max_a=16.0),
        charger("b", max_a=16.0),
        mode=Mode.SOLAR,
        timing=SOLAR_TIMING,
        solar=dataclasses.replace(SOLAR, **solar),
        breaker_a=100.0,
    )
    return Loop(settings, {"a": Car(), "b": Car()}, house_a=lambda _now: (0.0,), pv_w=pv_w)


def running(step: Step) -> set[str]:
    return {name for name, current_a in currents(step.decision).items() if current_a > 0.0}


def test_a_waiting_car_starts_only_once_the_running_car_cannot_take_more():
    # 3500 W is 15.2 A: both minimums would fit, but the running car takes all of it.
    loop = two_solar_cars(lambda now: 2500.0 if now < 200 else 3500.0 if now < 600 else 4000.0)
    steps = loop.run(200)
    assert running(steps[-1]) == {"a"}
    steps = loop.run(400)
    assert all(running(step) == {"a"} for step in steps)
    assert currents(steps[-1].decision) == {"a": 15.0, "b": 0.0}
    assert steps[-1].decision.commands[1].reason == Constraint.SOLAR
    # 4000 W is 17.4 A: more than its 16 A maximum, so the other car starts and they share;
    # through the other's start delay the running car keeps taking all it can.
    steps = loop.run(200)
    assert all(currents(step.decision) == {"a": 16.0, "b": 0.0} for step in steps[15:55])
    assert running(steps[-1]) == {"a", "b"}
    assert currents(steps[-1].decision) == {"a": 8.0, "b": 8.0}


def test_on_a_cloud_one_car_keeps_running_on_what_the_surplus_carries():
    # Both run on 5000 W; a cloud leaves 2000 W, one car's minimum but not two.
    loop = two_solar_cars(lambda now: 5000.0 if now < 400 or now >= 1000 else 2000.0)
    steps = loop.run(400)
    assert running(steps[-1]) == {"a", "b"}
    steps = loop.run(600)
    # One stops, the other takes the whole surplus: 8 A at 230 V.
    assert running(steps[-1]) in ({"a"}, {"b"})
    assert sorted(currents(steps[-1].decision).values()) == [0.0, 8.0]
    assert steps[-1].surplus_w >= -SOLAR.grid_tolerance_w
    pauses = sum(
        1
        for before, after in itertools.pairwise(steps)
        for name in ("a", "b")
        if name in running(before) and name not in running(after)
    )
    assert pauses == 1


def test_the_car_that_ran_longer_gives_way_on_a_cloud_and_turns_come_over_the_day():
    # Enough for one car only; after a 20-minute turn the other gets the surplus.
    loop = two_solar_cars(lambda _now: 2500.0, turn_s=1200.0)
    steps = loop.run(5000)
    alone = [sorted(running(step)) for step in steps if len(running(step)) == 1]
    switches = sum(1 for first, second in itertools.pairwise(alone) if first != second)
    assert switches == 2
    seconds = {name: alone.count([name]) for name in ("a", "b")}
    assert min(seconds.values()) >= 1200
    # At a switch the one giving way runs on at its minimum until its stop delay is over.
    both_s = sum(len(running(step)) == 2 for step in steps)
    assert both_s <= switches * SOLAR.stop_delay_s


def cloud_after_sun(cloud_s: int, **solar: float) -> list[Step]:
    """One 1-phase car: 3 kW of PV for 30 minutes, then a cloud leaves 500 W for `cloud_s`."""
    settings = site(
        charger(max_a=32.0),
        mode=Mode.SOLAR,
        timing=SOLAR_TIMING,
        solar=dataclasses.replace(SOLAR, stop_import_wh=10.0, **solar),
    )
    loop = Loop(
        settings,
        {"a": Car()},
        house_a=lambda _now: (2.0,),
        pv_w=lambda now: 500.0 if 1800 <= now < 1800 + cloud_s else 3000.0,
    )
    return loop.run(1800 + cloud_s + 300)


@pytest.mark.parametrize(
    ("share", "cloud_s", "pauses"),
    [
        # 30 minutes on 2540 W earn 10 % of 1270 Wh: 127 Wh, enough for the 1340 W the car
        # draws from the grid at its minimum for five minutes...
        (0.1, 300, 0),
        # ...not for fifteen: it stops once the budget is spent (the stop delay is over).
        (0.1, 900, 1),
        # No budget: the 10 Wh stop budget stops it within seconds, as before.
        (0.0, 300, 1),
    ],
)
def test_solar_only_rides_through_a_passing_cloud_on_its_grid_budget(share, cloud_s, pauses):
    steps = cloud_after_sun(cloud_s, ride_through_share=share, ride_through_wh=300.0)
    charging = [currents(step.decision)["a"] > 0.0 for step in steps]
    assert sum(1 for was, now in itertools.pairwise(charging) if was and not now) == pauses
    in_cloud = [step for step in steps if 1800 <= step.now < 1800 + cloud_s]
    grid_wh = sum(max(0.0, -step.surplus_w) for step in in_cloud) / 3600.0
    # The cloud costs at most the budget saved up, plus the 10 Wh stop budget of one dip.
    assert grid_wh <= 127.0 * (share > 0.0) + 10.0 + 1380.0 * 5 / 3600.0


def test_on_a_cloud_the_car_that_joined_last_gives_way():
    # a runs alone on 2500 W; 6000 W lets b join (a is at its 16 A maximum); a cloud leaves
    # 2000 W, one minimum: b, the last to start, gives way and a keeps running.
    loop = two_solar_cars(
        lambda now: 2500.0 if now < 300 else 6000.0 if now < 900 else 2000.0,
        ride_through_share=0.0,
    )
    steps = loop.run(900)
    assert running(steps[-1]) == {"a", "b"}
    steps = loop.run(600)
    assert all("a" in running(step) for step in steps)
    assert running(steps[-1]) == {"a"}


def test_a_second_car_joins_on_a_sustained_surplus_not_on_a_sunny_spell():
    # a runs alone on 1800 W. For an hour, two-minute sunny spells of 6000 W (room for b's
    # minimum for longer than its start delay) come every ten minutes: b stays waiting,
    # because what a leaves averages 2640 - 1380 W over ten minutes, under b's 1380 W. Then
    # the sun stays out: b starts once that average covers its minimum.
    def pv_w(now: float) -> float:
        if now < 1800:
            return 1800.0
        if now < 5400:
            return 6000.0 if now % 600 >= 480 else 1800.0
        return 6000.0

    # (No turns: a would give way to b after an hour.)
    loop = two_solar_cars(pv_w, ride_through_share=0.0, turn_s=86400.0)
    steps = loop.run(1800)
    assert running(steps[-1]) == {"a"}
    steps = loop.run(3600)
    assert all(running(step) == {"a"} for step in steps)
    assert steps[-1].decision.commands[1].reason == Constraint.SOLAR
    steps = loop.run(1200)
    joined_at = next(step.now for step in steps if "b" in running(step))
    # The ten-minute average crosses 2760 W 40 s after the spell that began at 5280 s.
    assert 5400 + SOLAR.start_delay_s <= joined_at <= 5400 + 120
    assert all(running(step) == {"a", "b"} for step in steps if step.now > joined_at)
    assert currents(steps[-1].decision) == {"a": 13.0, "b": 13.0}


def test_a_car_a_cloud_stopped_starts_again_on_a_sustained_surplus_not_on_a_sunny_spell():
    # The car runs on 2540 W for half an hour; a cloud leaves 40 W and stops it. For the
    # next 40 minutes, two-minute sunny spells every ten minutes (longer than its start
    # delay) average 540 W over ten minutes, under its 1380 W minimum: it stays stopped.
    # Then the sun stays out: it starts again once that average covers its minimum.
    def pv_w(now: float) -> float:
        if now < 1800:
            return 3000.0
        if now < 4800:
            return 3000.0 if now >= 2400 and now % 600 >= 480 else 500.0
        return 3000.0

    loop = solar_loop(Mode.SOLAR, pv_w)
    steps = loop.run(2400)
    assert stops(steps, "a") == 1
    assert not running(steps[-1])
    steps = loop.run(2400)
    assert not any(running(step) for step in steps)
    steps = loop.run(900)
    restarted_at = next(step.now for step in steps if running(step))
    # (2540 - 540) W more over ten minutes reach the 840 W missing after 252 s.
    assert 4800 + 252 - 5 <= restarted_at <= 4800 + 252 + SOLAR.start_delay_s
    assert currents(steps[-1].decision) == {"a": 11.0}


def test_the_decision_tells_what_the_solar_rules_saw():
    # For diagnostics: the PV power for the cars, its 10-minute average and the ride budget
    # (solar only); None in the other modes.
    def pv_w(now: float) -> float:
        return 1800.0 if now < 600 else 4000.0

    steps = two_solar_cars(pv_w, ride_through_share=0.1).run(900)
    status = steps[-1].decision.solar
    assert status is not None
    assert status.power_w == pytest.approx(4000.0)
    # The last 600 s of the window: 300 s at 1800 W and 300 s at 4000 W.
    assert status.mean_w == pytest.approx(2900.0, abs=10.0)
    # 10 % of the solar energy the car took (7 A, then 16 A), none drawn from the grid.
    taken_wh = sum(min(sum(map(sum, s.draw_a.values())) * 230.0, pv_w(s.now)) for s in steps)
    assert status.ride_budget_wh == pytest.approx(0.1 * taken_wh / 3600.0, rel=0.01)
    fast = Loop(
        site(charger("a", max_a=16.0), breaker_a=100.0),
        {"a": Car()},
        house_a=lambda _now: (0.0,),
    )
    assert all(step.decision.solar is None for step in fast.run(5))


def test_a_car_alone_starts_on_a_short_sunny_spell_after_its_start_delay():
    # The sustained-surplus rule is for a car joining running ones: a car that would run
    # alone starts after its start delay, as before.
    loop = two_solar_cars(lambda now: 0.0 if now < 600 else 2000.0)
    steps = loop.run(800)
    started_at = next(step.now for step in steps if running(step))
    assert 600 + SOLAR.start_delay_s <= started_at <= 600 + SOLAR.start_delay_s + 15


def three_and_one_phase_cars(pv_w: Callable[[float], float], **solar: float) -> Loop:
    """A 3-phase car (4.1-11 kW) and a 1-phase car (1.4-3.7 kW) on one surplus."""
    settings = site(
        charger("big", phases=(1, 2, 3)),
        charger("small", phases=(2,)),
        supply=Supply.THREE_PHASE,
        mode=Mode.SOLAR,
        timing=SOLAR_TIMING,
        solar=dataclasses.replace(SOLAR, **solar),
        breaker_a=100.0,
    )
    cars = {"big": Car(max_a=16.0), "small": Car(max_a=16.0)}
    return Loop(settings, cars, house_a=lambda _now: (0.0, 0.0, 0.0), pv_w=pv_w)


def test_a_larger_car_takes_over_a_surplus_that_carries_one_car_and_keeps_it():
    # 2500 W carries only the 1-phase car. 5200 W carries either car's minimum but not
    # both (5520 W): the 1-phase car at its 3680 W maximum would leave 1520 W unused, so
    # once the surplus has carried the 3-phase car's minimum for the takeover time, that
    # car takes all of it.
    loop = three_and_one_phase_cars(lambda now: 2500.0 if now < 600 else 5200.0)
    steps = loop.run(600)
    assert running(steps[-1]) == {"small"}
    steps = loop.run(300)
    assert all(running(step) == {"small"} for step in steps)
    assert currents(steps[-1].decision) == {"big": 0.0, "small": 16.0}
    # It starts after its start delay; the smaller car stops (no riding on the grid budget).
    steps = loop.run(int(SOLAR.start_delay_s + SOLAR.stop_delay_s) + 30)
    assert running(steps[-1]) == {"big"}
    assert currents(steps[-1].decision) == {"big": 7.0, "small": 0.0}
    # Cars of different sizes take no turns: after the turn time the larger one still runs.
    steps = loop.run(int(SOLAR.turn_s) + 1200)
    assert all(running(step) == {"big"} for step in steps)


@pytest.mark.parametrize("pv_w", [1000.0, 2500.0, 4500.0, 5200.0, 6000.0, 9000.0, 15000.0])
@pytest.mark.parametrize("small_first", [False, True])
def test_cars_of_different_sizes_do_not_trade_a_steady_surplus(pv_w, small_first):
    # Whatever the surplus and whichever car runs first, a steady surplus settles after at
    # most one handover: the sizes are fixed, so the surplus never goes back and forth, and
    # cars of different sizes take no turns (20-minute turns here).
    loop = three_and_one_phase_cars(
        lambda now: (2500.0 if now < 300 else pv_w) if small_first else pv_w, turn_s=1200.0
    )
    steps = loop.run(2 * 3600)
    stops = {
        name: sum(
            1
            for before, after in itertools.pairwise(steps)
            if name in running(before) and name not in running(after)
        )
        for name in ("big", "small")
    }
    assert sum(stops.values()) <= 1
    assert running(steps[-1]) == running(steps[-1800])


def stops(steps: list[Step], name: str) -> int:
    return sum(
        1
        for before, after in itertools.pairwise(steps)
        if name in running(before) and name not in running(after)
    )


def test_only_the_smaller_car_rides_through_a_cloud_on_the_grid_budget():
    # Both cars run on 7000 W for half an hour, which fills a 100 Wh budget; then a
    # three-minute cloud takes all the PV. The 1-phase car rides through it at its 1380 W
    # minimum (69 Wh); the 3-phase car stops once its 10 Wh stop budget is spent. Were both
    # to ride, their 5520 W would empty the budget in 65 s and both would stop.
    loop = three_and_one_phase_cars(
        lambda now: 0.0 if 1800 <= now < 1980 else 7000.0,
        ride_through_share=0.1,
        ride_through_wh=100.0,
        stop_import_wh=10.0,
    )
    steps = loop.run(1800)
    assert running(steps[-1]) == {"big", "small"}
    steps = loop.run(180)
    assert stops(steps, "small") == 0
    assert stops(steps, "big") == 1
    assert running(steps[-1]) == {"small"}


def test_on_a_cloud_that_leaves_room_for_one_car_the_larger_one_keeps_running():
    # The 1-phase car starts alone; 7000 W lets the 3-phase car join; a cloud leaves 4500 W,
    # enough for the 3-phase car's minimum only: it keeps running on all of it, although it
    # joined last (it takes 4500 W where the 1-phase car would take 3680 W).
    loop = three_and_one_phase_cars(
        lambda now: 2500.0 if now < 300 else 7000.0 if now < 900 else 4500.0,
        ride_through_share=0.0,
    )
    steps = loop.run(900)
    assert running(steps[-1]) == {"big", "small"}
    steps = loop.run(600)
    assert all("big" in running(step) for step in steps)
    assert running(steps[-1]) == {"big"}
    assert currents(steps[-1].decision) == {"big": 6.0, "small": 0.0}


# --- settings --------------------------------------------------------------------------------


def test_new_settings_keep_the_timers():
    balancer = Balancer(site(charger("a", max_a=32.0), timing=TimingSettings(raise_hold_s=10.0)))
    balancer.step(snapshot(0.0, (40.0,), reading(currents_a=(29.0,), setpoint_a=29.0)))
    balancer.step(snapshot(1.0, (45.0,), reading(currents_a=(29.0,))))  # cut to 23
    # A new breaker rating arrives: the hold after the cut still applies.
    new = site(charger("a", max_a=32.0), breaker_a=50.0, timing=TimingSettings(raise_hold_s=10.0))
    balancer.settings = new
    assert balancer.settings is new
    decisions = run(
        balancer, lambda now: snapshot(now, (39.0,), reading(currents_a=(23.0,))), 2.0, 11
    )
    assert [currents(d)["a"] for d in decisions[:-1]] == [23.0] * 10
    assert currents(decisions[-1]) == {"a": 32.0}


def test_new_settings_drop_removed_chargers_and_add_new_ones():
    balancer = Balancer(site(charger("a"), charger("b")))
    first = balancer.step(snapshot(0.0, (10.0,), reading("a", setpoint_a=16.0), reading("b")))
    balancer.settings = site(charger("a"), charger("c"), supply=Supply.SINGLE_PHASE)
    decision = balancer.step(snapshot(1.0, (10.0,), reading("a"), reading("c", setpoint_a=6.0)))
    assert [c.charger_id for c in decision.commands] == ["a", "c"]
    # Neither changes: "a" keeps its command, the new "c" what it reports it applies.
    assert currents(decision) == {"a": currents(first)["a"], "c": 6.0}
    balancer.settings = site(
        charger("a", phases=(1, 2, 3)), supply=Supply.THREE_PHASE, breaker_a=25.0
    )
    decision = balancer.step(snapshot(2.0, (10.0, 10.0, 10.0), reading("a", (0.0, 0.0, 0.0))))
    assert decision.headroom_a == (14.0, 14.0, 14.0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"chargers": (charger("a"), charger("a"))}, "unique"),
        ({"chargers": (charger(phases=(2,)),)}, "not on a"),
        ({"chargers": (charger(phases=()),)}, "distinct"),
        ({"chargers": (charger(max_a=5.0),)}, "below its minimum"),
        ({"chargers": (charger(min_a=10.0, max_a=8.0),)}, "below its minimum"),
        ({"chargers": (charger(circuit="nope"),)}, "unknown circuit"),
        ({"voltage_v": 0.0}, "voltage_v"),
        ({"fail_safe_a": -1.0}, "fail_safe_a"),
    ],
)
def test_settings_that_cannot_work_are_refused(kwargs, message):
    kwargs = dict(kwargs)
    settings = site(*kwargs.pop("chargers", ()), **kwargs)
    with pytest.raises(ValueError, match=message):
        Balancer(settings)
    balancer = Balancer(site())
    with pytest.raises(ValueError, match=message):
        balancer.settings = settings


# --- readings that are not numbers ------------------------------------------------------------


def test_a_meter_reading_that_is_not_a_number_counts_as_silent():
    balancer = Balancer(site(charger(max_a=32.0), fail_safe_a=10.0))
    decision = balancer.step(snapshot(0.0, (math.nan,), reading(currents_a=(10.0,))))
    assert decision.fail_safe
    assert currents(decision) == {"a": 10.0}
    decision = balancer.step(snapshot(1.0, (math.inf,), reading(currents_a=(10.0,))))
    assert decision.fail_safe


def test_charger_readings_that_are_not_numbers_count_as_unknown():
    balancer = Balancer(site(charger(max_a=32.0)))
    decision = balancer.step(
        snapshot(0.0, (26.0,), reading(currents_a=(math.nan,), setpoint_a=math.nan))
    )
    # The draw is unknown and no limit was applied before: the house keeps all 26 A.
    assert decision.house_a == (26.0,)
    assert currents(decision) == {"a": 0.0}


def test_a_surplus_that_is_not_a_number_counts_as_no_surplus():
    settings = site(charger(max_a=32.0), mode=Mode.MIN_SOLAR)
    decision = settled(
        settings,
        lambda now: snapshot(
            now, (12.0,), reading(currents_a=(6.0,), setpoint_a=6.0), surplus_w=math.nan
        ),
    )
    assert currents(decision) == {"a": 6.0}


def test_a_lagging_surplus_is_paired_with_the_draw_it_saw():
    # The surplus sensor reports 20 s late. PV 4000 W, house 460 W: 15.4 A is right.
    settings = site(charger(max_a=32.0), mode=Mode.MIN_SOLAR, timing=SOLAR_TIMING, solar=SOLAR)
    cars = {"a": Car()}
    history: list[float] = []

    def surplus_at(now: float) -> float:
        return history[max(0, int(now) - 20)]

    balancer = Balancer(settings)
    setpoints: list[float] = []
    for now in range(400):
        cars["a"].advance(float(now))
        draw = cars["a"].draw_a
        history.append(4000.0 - 460.0 - draw * 230.0)
        decision = balancer.step(
            snapshot(
                float(now),
                (2.0 + draw,),
                reading(currents_a=(draw,)),
                surplus_w=surplus_at(now),
                surplus_at=float(max(0, now - 20)),
            )
        )
        if setpoints[-1:] != [decision.commands[0].current_a]:
            cars["a"].command(float(now), decision.commands[0].current_a)
        setpoints.append(decision.commands[0].current_a)
    assert setpoints[-1] == 15.0
    # It never overshoots the surplus on old data.
    assert max(setpoints) == 15.0
