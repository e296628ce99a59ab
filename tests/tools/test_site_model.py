"""The site's physical model on tiny synthetic traces."""

from __future__ import annotations

import datetime as dt

import pytest
from bench_support import Traces, base_raw

from tools.bench.scenario import parse_scenario
from tools.site_model import SiteModel

WATTS_PER_A = 230


@pytest.fixture
def raw():
    return base_raw()


@pytest.fixture
def traces(tmp_path):
    return Traces(tmp_path)


@pytest.fixture
def build(traces):
    return traces.build


def session(**changes):
    entry = {
        "arrive": "00:00",
        "depart": "00:30",
        "energy_kwh": 50,
        "car_max_a": 16,
        "car_phases": 1,
        "response_s": 0,
    }
    entry.update(changes)
    return entry


def test_car_follows_a_setpoint_after_its_response_delay(raw, build):
    raw["chargers"][0]["sessions"] = [session(response_s=3)]
    model = SiteModel(build(raw))
    model.advance_to(10)
    model.set_setpoint("a", 16)
    assert model.charger_view("a").setpoint_a == 16
    model.advance_to(12.9)
    assert model.charger_view("a").state == "B"
    assert model.grid_currents_a() == (10.0,)
    model.advance_to(13)
    view = model.charger_view("a")
    assert view.state == "C"
    assert view.currents_a == (16.0,)
    assert model.grid_currents_a() == (26.0,)
    # Cuts take the same delay: the car still draws 16 A for 3 s after being told 6 A.
    model.set_setpoint("a", 6)
    model.advance_to(15.5)
    assert model.charger_draw_a("a") == 16
    model.advance_to(16)
    assert model.charger_draw_a("a") == 6


def test_car_on_arrival_starts_after_its_response_delay(raw, build):
    raw["chargers"][0]["sessions"] = [session(arrive="00:10", response_s=5)]
    model = SiteModel(build(raw))
    model.set_setpoint("a", 16)
    assert model.charger_view("a").state == "A"
    model.advance_to(600)
    assert model.charger_view("a").state == "B"
    model.advance_to(604.999)
    assert model.charger_draw_a("a") == 0
    model.advance_to(605)
    assert model.charger_draw_a("a") == 16


def test_car_does_not_draw_below_6_a_and_honours_its_own_maximum(raw, build):
    raw["chargers"][0]["sessions"] = [session(car_max_a=10)]
    model = SiteModel(build(raw))
    model.set_setpoint("a", 5)
    model.advance(1)
    assert model.charger_view("a").state == "B"
    assert model.charger_draw_a("a") == 0
    model.set_setpoint("a", 16)
    assert model.charger_draw_a("a") == 10


def test_car_stops_when_full_and_the_charger_goes_back_to_b(raw, build):
    raw["chargers"][0]["sessions"] = [session(energy_kwh=1)]
    model = SiteModel(build(raw))
    model.set_setpoint("a", 16)
    # 1 kWh at 16 A x 230 V takes 978.26 s.
    model.advance_to(978)
    assert model.charger_view("a").state == "C"
    model.advance_to(979)
    view = model.charger_view("a")
    assert view.state == "B"
    assert not view.wants_charge
    assert view.session_energy_kwh == pytest.approx(1.0, abs=1e-9)
    assert model.charger_energy_kwh("a") == pytest.approx(1.0, abs=1e-9)
    assert model.car_demand("a") is None
    assert model.grid_currents_a() == (10.0,)


def test_one_big_step_equals_many_small_ones(raw, build):
    raw["chargers"][0]["sessions"] = [session(energy_kwh=2, response_s=2.5)]
    scenario = build(raw)
    coarse, fine = SiteModel(scenario), SiteModel(scenario)
    for model in (coarse, fine):
        model.set_setpoint("a", 13)
    coarse.advance(3600)
    for _ in range(3600):
        fine.advance(1)
    assert coarse.time_s == fine.time_s == 3600
    assert coarse.charger_energy_kwh("a") == pytest.approx(fine.charger_energy_kwh("a"))
    # The car left at 00:30 after 1797.5 s at 13 A, before it was full.
    assert coarse.charger_energy_kwh("a") == pytest.approx(13 * 230 * 1797.5 / 3.6e6)
    assert coarse.charger_view("a").state == "A"
    assert coarse.charger_view("a").session_energy_kwh == coarse.charger_energy_kwh("a")


def test_sessions_repeat_daily_and_cross_midnight(raw, build):
    raw["chargers"][0]["sessions"] = [session(arrive="22:00", depart="06:00", energy_kwh=1)]
    raw["household"]["start"] = "2006-12-23T00:00:00"
    raw["household"]["hours"] = 48
    model = SiteModel(build(raw, house=[(0, 0, 0, 0, 0)] * 2880))

    def state_at(hours: float) -> str:
        model.advance_to(hours * 3600)
        return model.charger_view("a").state

    # The car that came the evening before the window is there at the start.
    assert state_at(0) == "B"
    assert state_at(5.99) == "B"
    assert state_at(6) == "A"
    assert state_at(21.99) == "A"
    assert state_at(22) == "B"
    assert state_at(29.99) == "B"  # 05:59 the next day
    assert state_at(30) == "A"
    assert state_at(46) == "B"


def test_each_visit_brings_a_new_energy_target(raw, build):
    raw["chargers"][0]["sessions"] = [session(arrive="01:00", depart="02:00", energy_kwh=1)]
    raw["household"]["hours"] = 48
    model = SiteModel(build(raw, house=[(0, 0, 0, 0, 0)] * 2880))
    model.set_setpoint("a", 16)
    model.advance_to(48 * 3600)
    assert model.charger_energy_kwh("a") == pytest.approx(2.0)


def test_three_phase_sub_meter_spread_sums_to_the_total(raw, build):
    raw["site"] = {"supply": "three_phase", "voltage_v": 230, "breaker_a": 25, "margin_a": 1}
    raw["household"]["spread"] = "sub_meters"
    raw["chargers"][0]["phases"] = [1, 2, 3]
    rows = [(4600, 20, 690, 1380, 0), (2300, 10, 0, 0, 1610), (930, 4, 0, 120, 60)]
    model = SiteModel(build(raw, house=rows))
    for power, _, kitchen, laundry, heater in rows:
        house = model.house_currents_a()
        rest = power - kitchen - laundry - heater
        assert sum(house) * 230 == pytest.approx(power)
        assert house[0] == pytest.approx((kitchen + rest / 3) / 230)
        assert house[1] == pytest.approx((laundry + rest / 3) / 230)
        assert house[2] == pytest.approx((heater + rest / 3) / 230)
        model.advance(60)
    assert "sub-meter rule" in model.scenario.house_note


def test_total_spread_splits_power_equally_and_scale_multiplies(raw, build):
    raw["site"] = {"supply": "three_phase", "voltage_v": 230, "breaker_a": 25, "margin_a": 1}
    raw["household"].update(spread="total", scale=2)
    raw["chargers"][0]["phases"] = [1, 2, 3]
    model = SiteModel(build(raw, house=[(2070, 9, 2070, 0, 0)]))
    assert model.house_currents_a() == pytest.approx((6.0, 6.0, 6.0))


def test_single_and_split_phase_use_the_trace_current(raw, build):
    rows = [(2000, 9.6, 0, 0, 0)]
    assert SiteModel(build(raw, house=rows)).house_currents_a() == (9.6,)
    raw["site"] = {"supply": "split_phase", "voltage_v": 120, "breaker_a": 100, "margin_a": 2}
    raw["chargers"][0]["phases"] = [1, 2]
    split = SiteModel(build(raw, house=rows))
    assert split.house_currents_a() == (9.6, 9.6)
    assert "each 120 V leg" in split.scenario.house_note


def test_split_phase_car_draws_on_both_legs(raw, build):
    raw["site"] = {"supply": "split_phase", "voltage_v": 120, "breaker_a": 100, "margin_a": 2}
    raw["chargers"][0]["phases"] = [1, 2]
    raw["chargers"][0]["sessions"] = [session(car_phases=1)]
    model = SiteModel(build(raw, house=[(0, 5, 0, 0, 0)] * 60))
    model.set_setpoint("a", 16)
    assert model.grid_currents_a() == (21.0, 21.0)
    assert model.ev_power_w() == 16 * 240
    assert model.charger_view("a").currents_a == (16.0, 16.0)


def test_one_phase_car_on_a_three_phase_charger_uses_its_first_line(raw, build):
    raw["site"] = {"supply": "three_phase", "voltage_v": 230, "breaker_a": 25, "margin_a": 1}
    raw["household"]["spread"] = "total"
    raw["chargers"][0]["phases"] = [2, 3, 1]  # charger L1 is wired to grid L2
    raw["chargers"][0]["sessions"] = [session(car_phases=1)]
    model = SiteModel(build(raw, house=[(0, 0, 0, 0, 0)] * 60))
    model.set_setpoint("a", 10)
    assert model.grid_currents_a() == (0.0, 10.0, 0.0)
    assert model.charger_view("a").currents_a == (10.0, 0.0, 0.0)
    demand = model.car_demand("a")
    assert demand is not None
    assert demand.grid_phases == (2,)


def test_pv_is_scaled_to_its_peak_aligned_by_time_of_day_and_repeated(raw, traces, tmp_path):
    # PV day 1 produces 1000 W + minute, day 2 produces 10 W + minute; a partial third day
    # (nonsense values) must not be used.
    day1, day2 = dt.date(2021, 4, 14), dt.date(2021, 4, 15)
    raw["pv"] = {
        "csv": traces.pv(
            [(day1, lambda minute: 1000.0 + minute), (day2, lambda minute: 10.0 + minute)],
            partial_minutes=200,
        ),
        "peak_w": 4878,  # day 1's peak is 1000 + 1439 = 2439 W: the factor is 2
    }
    raw["household"]["hours"] = 72
    traces.house(traces.constant_house(3 * 1440, 0.0))
    scenario = parse_scenario(raw, base_dir=tmp_path)
    assert max(scenario.pv_w or ()) == pytest.approx(4878)
    model = SiteModel(scenario)
    checks = [  # (hours after the window's start, expected PV power)
        (0, 2 * 1000),
        (12.5, 2 * (1000 + 750)),  # 12:30 on house day 1 <- PV day 1
        (24 + 12.5, 2 * (10 + 750)),  # house day 2 <- PV day 2
        (48 + 12.5, 2 * (1000 + 750)),  # house day 3 <- PV day 1 again
    ]
    for hours, power_w in checks:
        model.advance_to(hours * 3600)
        assert model.pv_power_w() == pytest.approx(power_w)
        assert model.pv_currents_a() == pytest.approx((power_w / 230,))
        assert model.grid_currents_a() == pytest.approx((-power_w / 230,))
    assert "2006-12-23 <- 2021-04-14, 2006-12-24 <- 2021-04-15, 2006-12-25 <- 2021-04-14" in (
        scenario.pv_note
    )


def test_pv_current_is_spread_equally_over_three_phases(raw, traces, tmp_path):
    raw["site"] = {"supply": "three_phase", "voltage_v": 230, "breaker_a": 25, "margin_a": 1}
    raw["household"]["spread"] = "total"
    raw["chargers"][0]["phases"] = [1, 2, 3]
    raw["pv"] = {"csv": traces.pv([(dt.date(2021, 4, 14), lambda _: 6900.0)]), "peak_w": 6900}
    traces.house([(6900, 30, 0, 0, 0)] * 60)
    model = SiteModel(parse_scenario(raw, base_dir=tmp_path))
    assert model.house_currents_a() == pytest.approx((10.0, 10.0, 10.0))
    assert model.grid_currents_a() == pytest.approx((0.0, 0.0, 0.0))
    assert model.voltage_v(3) == 230


def test_misuse_is_refused(raw, build):
    model = SiteModel(build(raw))
    with pytest.raises(ValueError, match="negative"):
        model.set_setpoint("a", -1)
    model.advance(5)
    with pytest.raises(ValueError, match="back"):
        model.advance_to(4)
    with pytest.raises(ValueError, match="no phase 2"):
        model.voltage_v(2)
    with pytest.raises(KeyError):
        model.charger_view("nobody")
