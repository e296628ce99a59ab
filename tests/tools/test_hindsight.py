"""The hindsight search: the schedule it finds is the best one, and the loop runs it as found."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
import yaml
from bench_support import Traces, base_raw
from hypothesis import given, settings
from hypothesis import strategies as st

from tools.bench.cli import main
from tools.bench.hindsight import Car, ScheduledController, Week, best_schedule, hindsight
from tools.bench.runner import run
from tools.bench.scenario import parse_scenario


@pytest.fixture
def traces(tmp_path):
    return Traces(tmp_path)


ONE_PHASE = {"min_w": 1380.0, "max_w": 3680.0}  # 6-16 A at 230 V
THREE_PHASE = {"min_w": 4140.0, "max_w": 11040.0}


def _value(week, masks, grid_weight, stop_costs_wh):
    found = week.tally(masks)
    stops = sum(cost * count for cost, count in zip(stop_costs_wh, found.stops, strict=True))
    return 1000.0 * (found.pv_kwh - grid_weight * found.grid_kwh) - stops


def _allowed(week, minute, mask):
    return all(car.plugged[minute] for index, car in enumerate(week.cars) if mask >> index & 1)


@settings(max_examples=150, deadline=None)
@given(
    data=st.data(),
    minutes=st.integers(min_value=1, max_value=5),
    two=st.booleans(),
    grid_weight=st.sampled_from([0.0, 0.5, 1.0, 3.0]),
)
def test_the_schedule_is_the_best_of_all_schedules(data, minutes, two, grid_weight):
    # Every sequence of on/off states, tried one by one, is no better than the search's.
    kinds = [ONE_PHASE, THREE_PHASE] if two else [ONE_PHASE]
    cars = [
        Car(
            name=f"car{index}",
            plugged=tuple(data.draw(st.lists(st.booleans(), min_size=minutes, max_size=minutes))),
            **kind,
        )
        for index, kind in enumerate(kinds)
    ]
    surplus = data.draw(
        st.lists(st.floats(min_value=-3000, max_value=12000), min_size=minutes, max_size=minutes)
    )
    costs = data.draw(
        st.lists(st.sampled_from([0.0, 5.0, 50.0]), min_size=len(cars), max_size=len(cars))
    )
    week = Week.of(cars, surplus)
    found = week.schedule(grid_weight=grid_weight, stop_costs_wh=costs)
    assert len(found) == minutes
    assert all(_allowed(week, minute, mask) for minute, mask in enumerate(found))
    best = max(
        _value(week, masks, grid_weight, costs)
        for masks in itertools.product(range(1 << len(cars)), repeat=minutes)
        if all(_allowed(week, minute, mask) for minute, mask in enumerate(masks))
    )
    assert _value(week, found, grid_weight, costs) == pytest.approx(best, abs=1e-6)


@pytest.mark.parametrize(
    ("grid_weight", "stop_cost_wh", "masks"),
    [
        # Riding through the cloud: 5000 W min of PV less 380 W min from the grid...
        (1.0, 0.0, (1, 1, 1)),
        # ...beats stopping (4000 W min of PV) unless the grid is worth 5 W of PV a watt...
        (5.0, 0.0, (1, 0, 1)),
        # ...and then a stop worth 20 Wh tips it back: 3100/60 > 4000/60 - 20.
        (5.0, 20.0, (1, 1, 1)),
    ],
)
def test_riding_or_stopping_by_hand(grid_weight, stop_cost_wh, masks):
    # A 1-phase car (1380-3680 W) on 2000, 1000 and 2000 W of surplus, a minute each.
    week = Week.of([Car(name="a", plugged=(True,) * 3, **ONE_PHASE)], [2000.0, 1000.0, 2000.0])
    assert week.schedule(grid_weight=grid_weight, stop_costs_wh=[stop_cost_wh]) == masks


def _cloud_raw():
    # One 1-phase car 00:00-00:30 on 2300 W of surplus (10 A), with 1000 W for
    # minutes 10-14: riding costs 380 W for 5 minutes, 31.7 Wh of 1073 Wh (2.95 %).
    raw = base_raw()
    raw["mode"] = "solar"
    raw["household"] = {"csv": "house.csv", "spread": "total"}
    raw["pv"] = {"csv": "pv.csv", "peak_w": 2300}
    return raw


def _cloud_scenario(tmp_path, traces):
    traces.house([(0, 0, 0, 0, 0)] * 60)
    traces.pv([(dt.date(2021, 4, 14), lambda minute: 1000.0 if 10 <= minute < 15 else 2300.0)])
    return parse_scenario(_cloud_raw(), base_dir=tmp_path)


@pytest.mark.parametrize(
    ("limits", "pauses", "grid_wh"),
    [
        ((0.0, 0.03), 0, 380 * 5 / 60),  # no stop allowed, the grid allows the ride
        ((24.0, 0.01), 1, 0.0),  # one stop in the hour allowed, the grid does not allow it
        ((0.0, 0.01), 0, 0.0),  # neither: the car charges only after the cloud
    ],
)
def test_the_limits_hold_in_the_loop(tmp_path, traces, limits, pauses, grid_wh):
    scenario = _cloud_scenario(tmp_path, traces)
    stops_per_day, grid_share = limits
    found = hindsight(scenario, stops_per_day=stops_per_day, grid_share=grid_share)
    result = found.result
    assert result.pauses == pauses == sum(found.tally.stops)
    assert result.grid_import_j / 3600 == pytest.approx(grid_wh, abs=1e-6)
    assert result.amp_seconds == 0
    if pauses or grid_wh:
        # What the search's model says is what the loop measured.
        assert result.ev_from_pv_j / 3.6e6 == pytest.approx(found.tally.pv_kwh, abs=1e-9)


def test_a_car_the_schedule_leaves_off_gets_no_current(tmp_path, traces):
    scenario = _cloud_scenario(tmp_path, traces)
    masks = [1] * 5 + [0] * 55  # on for 5 minutes, then off while still plugged in
    result = run(scenario, ScheduledController(scenario, masks))
    assert result.energy_kwh == {"a": pytest.approx(10 * 230 * 300 / 3.6e6, abs=1e-9)}
    assert result.pauses == 1


def test_the_stop_limit_counts_per_day(tmp_path, traces):
    scenario = _cloud_scenario(tmp_path, traces)
    # 23 stops a day is under one in this hour: no stop, and no grid to ride on. The car
    # charges after the cloud until it leaves (15 minutes), not before it (10).
    masks, found = best_schedule(scenario, stops_per_day=23.0, grid_share=0.01)
    assert found.stops == (0,)
    assert found.grid_kwh == 0
    assert masks == (0,) * 15 + (1,) * 15 + (0,) * 30


def test_the_command(tmp_path, traces, capsys):
    _cloud_scenario(tmp_path, traces)
    path = tmp_path / "cloud.yaml"
    path.write_text(yaml.safe_dump(_cloud_raw()), encoding="utf-8")
    assert main([str(path), "--hindsight", "--stops-per-day", "0"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1] == "pauses per charger per day: a 0.00"
    assert out[2] == "PV into the cars: 1.0 kWh = 1.087 of the oracle's 1.0 kWh"
    assert out[3] == "grid import: 0.03 kWh = 2.95% of the EV energy 1.1 kWh"

    fast = tmp_path / "fast.yaml"
    raw = _cloud_raw()
    raw["mode"] = "fast"
    fast.write_text(yaml.safe_dump(raw), encoding="utf-8")
    assert main([str(fast), "--hindsight"]) == 2
    assert "solar-only scenarios" in capsys.readouterr().err


def test_a_charger_whose_sessions_bring_different_cars_is_refused(tmp_path, traces):
    raw = _cloud_raw()
    session = raw["chargers"][0]["sessions"][0]
    raw["chargers"][0]["sessions"].append(
        {**session, "arrive": "00:40", "depart": "00:50", "car_max_a": 10}
    )
    _cloud_scenario(tmp_path, traces)
    scenario = parse_scenario(raw, base_dir=tmp_path)
    with pytest.raises(ValueError, match="the same car in every session"):
        hindsight(scenario, stops_per_day=2, grid_share=0.03)
