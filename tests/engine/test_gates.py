"""The per-charger gates, each by its own table of cases."""

from __future__ import annotations

import math

import pytest

from custom_components.headroom.engine.gates import CarCap, PauseClock, RaiseGate
from custom_components.headroom.engine.model import Constraint, SolarSettings
from custom_components.headroom.engine.solar import RideThrough, SolarGate, SurplusMean

HOLD_S = 10.0

# --- raise gate ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("gate", "cut_a", "rise_a", "now", "expected"),
    [
        # A cut goes through at once, whatever the clocks say.
        (RaiseGate(99.0, None, 0.0), 8.0, 8.0, 100.0, 8.0),
        (RaiseGate(99.0, 95.0, 12.0), 9.0, 8.0, 100.0, 9.0),
        # The deadband figure not above the setpoint: stay, and drop the raise.
        (RaiseGate(None, 50.0, 12.0), 11.0, 10.0, 100.0, 10.0),
        # A raise waits the hold from when the allocation first stood above...
        (RaiseGate(None, None, 0.0), 12.0, 12.0, 100.0, 10.0),
        (RaiseGate(None, 95.0, 12.0), 12.0, 12.0, 100.0, 10.0),
        (RaiseGate(None, 90.0, 12.0), 12.0, 12.0, 100.0, 12.0),
        # ...and the hold from the last change...
        (RaiseGate(95.0, 80.0, 12.0), 12.0, 12.0, 100.0, 10.0),
        (RaiseGate(90.0, 80.0, 12.0), 12.0, 12.0, 100.0, 12.0),
        # ...then goes to the lowest allocation seen meanwhile.
        (RaiseGate(None, 80.0, 11.0), 14.0, 14.0, 100.0, 11.0),
    ],
)
def test_raise_gate(gate, cut_a, rise_a, now, expected):
    result = gate.settle(setpoint_a=10.0, cut_a=cut_a, rise_a=rise_a, now=now, hold_s=HOLD_S)
    assert result == expected


def test_raise_gate_starts_again_after_a_change_and_after_forgetting():
    gate = RaiseGate()
    assert gate.settle(setpoint_a=10.0, cut_a=12.0, rise_a=12.0, now=0.0, hold_s=HOLD_S) == 10.0
    gate.forget()
    assert gate.settle(setpoint_a=10.0, cut_a=12.0, rise_a=12.0, now=5.0, hold_s=HOLD_S) == 10.0
    assert gate.settle(setpoint_a=10.0, cut_a=12.0, rise_a=12.0, now=14.0, hold_s=HOLD_S) == 10.0
    assert gate.settle(setpoint_a=10.0, cut_a=12.0, rise_a=12.0, now=15.0, hold_s=HOLD_S) == 12.0
    gate.changed(15.0)
    assert not gate.settled(20.0, after_s=HOLD_S)
    assert gate.settle(setpoint_a=12.0, cut_a=14.0, rise_a=14.0, now=25.0, hold_s=HOLD_S) == 12.0
    assert gate.settled(25.0, after_s=HOLD_S)


# --- pause clock ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old_a", "new_a", "reason", "expected"),
    [
        # A pause for lack of capacity starts the minimum pause...
        (10.0, 0.0, Constraint.BREAKER, (100.0, None, Constraint.BREAKER)),
        (10.0, 0.0, Constraint.CIRCUIT, (100.0, None, Constraint.CIRCUIT)),
        (6.0, 0.0, Constraint.SOLAR, (100.0, None, Constraint.SOLAR)),
        # ...any other stop does not (the car or the user stopped it).
        (10.0, 0.0, Constraint.CAR, (None, None, Constraint.CAR)),
        (10.0, 0.0, Constraint.MODE_OFF, (None, None, Constraint.MODE_OFF)),
        (10.0, 0.0, Constraint.FAIL_SAFE, (None, None, Constraint.FAIL_SAFE)),
        # A start ends the pause and starts the run; a change while running keeps both.
        (0.0, 6.0, Constraint.NONE, (None, 100.0, Constraint.SOLAR)),
        (8.0, 6.0, Constraint.BREAKER, (50.0, 40.0, Constraint.SOLAR)),
    ],
)
def test_pause_clock_changes(old_a, new_a, reason, expected):
    clock = PauseClock(paused_at=50.0, reason=Constraint.SOLAR, running_since=40.0)
    clock.changed(old_a=old_a, new_a=new_a, reason=reason, now=100.0)
    assert (clock.paused_at, clock.running_since, clock.reason) == expected


@pytest.mark.parametrize(
    ("setpoint_a", "paused_at", "now", "blocked"),
    [
        (0.0, 100.0, 100.0, True),
        (0.0, 100.0, 399.0, True),
        (0.0, 100.0, 400.0, False),
        (0.0, None, 100.0, False),
        (6.0, 100.0, 100.0, False),
    ],
)
def test_pause_clock_keeps_the_minimum_pause(setpoint_a, paused_at, now, blocked):
    clock = PauseClock(paused_at=paused_at)
    assert clock.blocked(setpoint_a=setpoint_a, now=now, min_pause_s=300.0) is blocked
    clock.forget_pause()
    assert not clock.blocked(setpoint_a=setpoint_a, now=now, min_pause_s=300.0)


@pytest.mark.parametrize(
    ("running_since", "rivals", "now", "over"),
    [
        (None, [0.0], 1000.0, False),  # not running
        (0.0, [], 1000.0, False),  # nobody waits
        (0.0, [500.0], 1399.0, False),  # the turn runs from when the rival began to wait
        (0.0, [500.0], 1400.0, True),
        (600.0, [0.0], 1499.0, False),  # ...or from its own start, whichever is later
        (600.0, [0.0], 1500.0, True),
        (0.0, [800.0, 500.0], 1400.0, True),  # the longest waiting rival counts
    ],
)
def test_pause_clock_turns(running_since, rivals, now, over):
    clock = PauseClock(running_since=running_since)
    assert clock.turn_over(rivals, now=now, turn_s=900.0) is over


def test_pause_clock_waits_from_the_first_cycle_offered_nothing():
    clock = PauseClock()
    clock.wait(waiting=True, now=10.0)
    clock.wait(waiting=True, now=20.0)
    assert clock.waiting_since == 10.0
    clock.wait(waiting=False, now=30.0)
    assert clock.waiting_since is None


# --- car cap -------------------------------------------------------------------------------


def track(cap: CarCap, draw_a: float | None, now: float, *, settled: bool = True) -> None:
    cap.track(
        draw_a=draw_a,
        setpoint_a=16.0,
        min_a=6.0,
        slack_a=2.0,
        settled=settled,
        now=now,
        hold_s=HOLD_S,
    )


@pytest.mark.parametrize(
    ("draws", "settled", "cap_a"),
    [
        # Drawing close to the offer: no cap.
        ([15.5, 15.5], True, None),
        ([14.5, 14.5], True, None),  # within the slack
        # Drawing well below it for the hold time: its draw plus the slack.
        ([10.0, 10.0], True, 12.0),
        ([10.05, 10.05], True, 12.0),  # meter resolution: 10.05 A is 10 A
        ([0.0, 0.0], True, 6.0),  # never below the minimum
        # Not for less than the hold time, nor while the car may still follow a change.
        ([10.0], True, None),
        ([10.0, 10.0], False, None),
        # Unknown draw, no car or nothing offered: no cap.
        ([None, None], True, None),
    ],
)
def test_car_cap(draws, settled, cap_a):
    cap = CarCap()
    for index, draw_a in enumerate(draws):
        track(cap, draw_a, index * HOLD_S, settled=settled)
    assert cap.cap_a == cap_a
    expected = (cap_a, Constraint.CAR) if cap_a is not None else (16.0, Constraint.CHARGER_MAX)
    assert cap.limit(16.0) == expected


def test_car_cap_tightens_as_the_car_tapers_and_goes_when_it_draws_again():
    cap = CarCap()
    track(cap, 10.0, 0.0)
    track(cap, 10.0, HOLD_S)
    assert cap.cap_a == 12.0
    track(cap, 11.0, 20.0)  # 11 A + 2 A is no tighter: the cap holds
    assert cap.cap_a == 12.0
    track(cap, 7.0, 30.0)
    track(cap, 7.0, 40.0)
    assert cap.cap_a == 9.0
    track(cap, 15.5, 50.0)  # close to its setpoint again
    assert cap.cap_a is None


@pytest.mark.parametrize(
    ("cycles", "idle"),
    [
        # Offered its minimum, drawing nothing: idle once the time has passed.
        ([(True, False, 0.0), (True, False, 59.0)], False),
        ([(True, False, 0.0), (True, False, 60.0)], True),
        # Any draw, or no offer, starts the clock again.
        ([(True, False, 0.0), (True, True, 30.0), (True, False, 31.0), (True, False, 90.0)], False),
        (
            [(True, False, 0.0), (False, False, 30.0), (True, False, 31.0), (True, False, 91.0)],
            True,
        ),
        ([(True, False, 0.0), (True, False, 60.0), (True, True, 61.0)], False),
    ],
)
def test_car_cap_idle(cycles, idle):
    cap = CarCap()
    for offered, drawing, now in cycles:
        cap.watch(offered=offered, drawing=drawing, now=now)
    assert cap.idle(cycles[-1][2], after_s=60.0) is idle


def test_solar_gate_counts_how_long_it_ran_until_the_car_leaves():
    settings = SolarSettings(start_delay_s=60.0, stop_delay_s=180.0, stop_import_wh=1000.0)
    gate = SolarGate()
    for now in range(0, 200, 10):  # on at 60 s
        gate.update(covered=True, now=float(now), import_w=0.0, settings=settings)
    assert gate.ran_s == 130.0
    for now in range(200, 500, 10):  # short from 200 s, off at 380 s
        gate.update(covered=False, now=float(now), import_w=0.0, settings=settings)
    assert not gate.on
    assert gate.ran_s == 320.0  # from 60 s to 380 s
    gate.reset()
    assert gate.ran_s == 0.0


@pytest.mark.parametrize(
    ("cycles", "running", "fits_s"),
    [
        # (now, whether the surplus carries the waiting car's minimum alone) per cycle.
        ([(0.0, True)], False, 0.0),
        ([(0.0, True), (120.0, True), (300.0, True)], False, 300.0),
        # A break starts the count over: the surplus must carry it without one.
        ([(0.0, True), (200.0, False), (250.0, True), (300.0, True)], False, 50.0),
        ([(0.0, True), (300.0, False)], False, 0.0),
        # A running car takes over from nobody.
        ([(0.0, True), (300.0, True)], True, 0.0),
    ],
)
def test_solar_gate_counts_how_long_the_surplus_carried_a_waiting_car_alone(
    cycles, running, fits_s
):
    gate = SolarGate(on=running)
    result = [gate.fits(alone=alone, now=now) for now, alone in cycles]
    assert result[-1] == fits_s
    gate.reset()
    assert gate.fits_since is None
    assert not gate.yielding


def test_a_yielding_gate_forgets_it_once_covered_again_or_stopped():
    settings = SolarSettings(start_delay_s=60.0, stop_delay_s=180.0, stop_import_wh=10.0)
    gate = SolarGate(on=True, yielding=True)
    gate.update(covered=True, now=0.0, import_w=0.0, settings=settings)
    assert gate.on
    assert not gate.yielding
    gate.yielding = True
    for now in range(1, 200, 10):
        gate.update(covered=False, now=float(now), import_w=0.0, settings=settings)
    assert not gate.on
    assert not gate.yielding


# --- ride-through budget -------------------------------------------------------------------

RIDE = SolarSettings(ride_through_share=0.025, ride_through_wh=300.0)


@pytest.mark.parametrize(
    ("cycles", "balance_wh", "riding"),
    [
        # Each cycle's powers held since the cycle before. Nothing earned yet: a car that
        # falls short stops as before.
        ([(0.0, 0.0, 0.0)], 0.0, False),
        # An hour on 4 kW of sun earns 2.5 % of 4 kWh: 100 Wh to spend on clouds.
        ([(0.0, 0.0, 0.0), (3600.0, 4000.0, 0.0)], 100.0, True),
        # Two minutes of 1380 W from the grid at the minimum spend 46 Wh of it...
        ([(0.0, 0.0, 0.0), (3600.0, 4000.0, 0.0), (3720.0, 0.0, 1380.0)], 54.0, True),
        # ...five minutes spend it all: the car stops as before.
        ([(0.0, 0.0, 0.0), (3600.0, 4000.0, 0.0), (3900.0, 0.0, 1380.0)], -15.0, False),
        # A whole sunny day saves no more than one fill (300 Wh).
        ([(0.0, 0.0, 0.0), (36000.0, 8000.0, 0.0)], 300.0, True),
        # Solar and grid power at once (a thin cloud): it earns and spends.
        ([(0.0, 0.0, 0.0), (3600.0, 1000.0, 400.0)], -375.0, False),
    ],
)
def test_ride_through_budget(cycles, balance_wh, riding):
    budget = RideThrough()
    result = False
    for now, solar_w, import_w in cycles:
        result = budget.update(solar_w=solar_w, import_w=import_w, now=now, settings=RIDE)
    assert budget.balance_j / 3600.0 == pytest.approx(balance_wh)
    assert result is riding


@pytest.mark.parametrize(
    ("cycles", "balance_wh", "riding"),
    [
        # (now, solar W, grid W, PV W left for the cars). The evening: the last ride spends
        # the bucket and the stop delay draws 20 Wh more: that is owed (PV still shines).
        (
            [(0.0, 0.0, 0.0, 500.0), (60.0, 0.0, 1200.0, 500.0), (120.0, 0.0, 0.0, 0.0)],
            -20.0,
            False,
        ),
        # Dark for less than the night: still owed (a thick cloud is no night).
        (
            [
                (0.0, 0.0, 0.0, 500.0),
                (60.0, 0.0, 1200.0, 500.0),
                (60.0, 0.0, 0.0, 0.0),
                (3659.0, 0.0, 0.0, 0.0),
            ],
            -20.0,
            False,
        ),
        # Dark for the night: forgiven. The morning's first 10 minutes on 1.4 kW of sun
        # earn 5.8 Wh, and a cloud then finds the bucket holding them, not owing 14 Wh.
        (
            [
                (0.0, 0.0, 0.0, 500.0),
                (60.0, 0.0, 1200.0, 500.0),
                (60.0, 0.0, 0.0, 0.0),
                (3660.0, 0.0, 0.0, 0.0),
                (36000.0, 0.0, 0.0, 1400.0),
                (36600.0, 1400.0, 0.0, 1400.0),
            ],
            5.833,
            True,
        ),
        # A surplus not known (no PV reading given): never dark, the debt stays.
        (
            [(0.0, 0.0, 0.0, 500.0), (60.0, 0.0, 1200.0, None), (36000.0, 0.0, 0.0, None)],
            -20.0,
            False,
        ),
    ],
)
def test_ride_through_debt_does_not_outlive_the_solar_day(cycles, balance_wh, riding):
    budget = RideThrough()
    result = False
    for now, solar_w, import_w, pv_w in cycles:
        result = budget.update(
            solar_w=solar_w, import_w=import_w, now=now, settings=RIDE, pv_w=pv_w
        )
    assert budget.balance_j / 3600.0 == pytest.approx(balance_wh, abs=1e-3)
    assert result is riding


def test_ride_through_budget_does_not_count_the_time_out_of_solar_only_mode():
    budget = RideThrough()
    budget.update(solar_w=0.0, import_w=0.0, now=0.0, settings=RIDE)
    budget.update(solar_w=4000.0, import_w=0.0, now=3600.0, settings=RIDE)
    budget.pause()
    # Back in solar-only mode 10 hours later: only what comes from now on counts.
    assert budget.update(solar_w=0.0, import_w=1380.0, now=39600.0, settings=RIDE)
    assert budget.balance_j / 3600.0 == pytest.approx(100.0)


@pytest.mark.parametrize(
    ("riding", "stopped_at"),
    [
        # Short from 200 s with 2 kW from the grid: the 10 Wh stop budget ends it at 220 s.
        (False, 220.0),
        # Riding through: neither the stop budget nor the stop delay stops it.
        (True, None),
    ],
)
def test_solar_gate_rides_through_while_the_budget_lasts(riding, stopped_at):
    settings = SolarSettings(start_delay_s=60.0, stop_delay_s=180.0, stop_import_wh=10.0)
    gate = SolarGate()
    for now in range(0, 200, 10):
        gate.update(covered=True, now=float(now), import_w=0.0, settings=settings)
    first_off = None
    for now in range(200, 600, 10):
        on = gate.update(
            covered=False, now=float(now), import_w=2000.0, settings=settings, riding=riding
        )
        if not on and first_off is None:
            first_off = float(now)
    assert first_off == stopped_at
    # Once the budget is spent, the delays that ran meanwhile stop it at once.
    assert not gate.update(covered=False, now=600.0, import_w=2000.0, settings=settings)


# --- surplus mean --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("keep_s", "samples", "mean_w"),
    [
        # Every cycle weighs alike within the window...
        (600.0, [(0.0, 1000.0), (1.0, 2000.0), (2.0, 6000.0)], 3000.0),
        # ...and what is older than the window is forgotten: a two-minute sunny spell
        # after ten minutes of 1800 W averages 1800 + 4200 * 120 / 600 = 2640 W.
        (600.0, [(float(t), 1800.0 if t < 600 else 6000.0) for t in range(720)], 2640.0),
        # A window of nothing keeps the latest reading only.
        (0.0, [(0.0, 1000.0), (1.0, 2000.0)], 2000.0),
        # A gap longer than the window (the mode was not solar): only the new reading.
        (600.0, [(0.0, 9000.0), (5000.0, 1500.0)], 1500.0),
        # A power that is not a number counts as none, and does not spoil the mean after it.
        (600.0, [(0.0, math.inf), (1.0, 3000.0)], 1500.0),
        (600.0, [(0.0, math.nan), (1.0, 3000.0), (700.0, 1000.0)], 1000.0),
    ],
)
def test_surplus_mean(keep_s, samples, mean_w):
    mean = SurplusMean(keep_s=keep_s)
    result = [mean.add(now, power_w) for now, power_w in samples][-1]
    assert result == pytest.approx(mean_w)
