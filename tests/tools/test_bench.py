"""The benchmark: scenario validation, baselines, figures worked out by hand, the CLI."""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from bench_support import Traces, base_raw

from tools.bench.bench import RUNS, plot_window, run_benchmark
from tools.bench.cli import main
from tools.bench.controllers import FixedController, OracleController, static_current_a
from tools.bench.report import format_table
from tools.bench.runner import run
from tools.bench.scenario import ScenarioError, load_scenario, parse_scenario

SCENARIOS = Path(__file__).parents[2] / "tools" / "bench" / "scenarios"


@pytest.fixture
def raw():
    return base_raw()


@pytest.fixture
def traces(tmp_path):
    return Traces(tmp_path)


@pytest.fixture
def build(traces):
    return traces.build


def figures(scenario, controller, oracle_kwh=None):
    result = run(scenario, controller)
    return result.figures(oracle_kwh or result.total_kwh or 1.0)


# --- scenario validation -------------------------------------------------------------------


def _set(raw, path, value):
    *parents, key = path
    target = raw
    for part in parents:
        target = target[part]
    if value is _DELETE:
        del target[key]
    else:
        target[key] = value


_DELETE = object()


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("name",), _DELETE, "name: required"),
        (("site", "supply"), "four_phase", "site.supply"),
        (("site", "breaker_a"), _DELETE, "site.breaker_a: required"),
        (("site", "breaker_a"), "forty", "site.breaker_a: 'forty' is not a number"),
        (("site", "voltage_v"), 0, "site.voltage_v: must be above 0"),
        (("site", "margin_a"), 25, "site.margin_a: must be below"),
        (("household", "csv"), "missing.csv", "household.csv:"),
        (("household", "spread"), "evenly", "household.spread"),
        (("household", "hours"), 2, "household.hours: 2 h runs past the end"),
        (("household", "start"), "2006-12-23T00:00:30", "household.start"),
        (("household", "start"), "2007-01-01T00:00:00", "household.start"),
        (("chargers",), [], "chargers: required"),
        (("chargers", 0, "phases"), [2], "chargers.a.phases"),
        (("chargers", 0, "phases"), [1, 1], "lists a phase twice"),
        (("chargers", 0, "min_a"), 5, "chargers.a.min_a: must be at least 6"),
        (("chargers", 0, "max_a"), 5.5, "chargers.a.max_a: must be at least min_a"),
        (("chargers", 0, "circuit"), "garage", "chargers.a.circuit"),
        (("chargers", 0, "priority"), 1.5, "chargers.a.priority"),
        (("chargers", 0, "sessions", 0, "arrive"), 1080, 'quoted "HH:MM"'),
        (("chargers", 0, "sessions", 0, "depart"), "25:00", "sessions[0].depart"),
        (("chargers", 0, "sessions", 0, "depart"), "00:00", "arrive and depart are the same"),
        (("chargers", 0, "sessions", 0, "energy_kwh"), -1, "energy_kwh: must be above 0"),
        (("chargers", 0, "sessions", 0, "car_phases"), 4, "car_phases"),
        (("chargers", 0, "sessions", 0, "response_s"), -1, "response_s: must be at least 0"),
        (("mode",), "turbo", "mode:"),
        (("mode",), "solar", "mode: solar needs a pv section"),
        (("meter_period_s",), 0, "meter_period_s: must be above 0"),
        (("circuits",), {"shared": {"limit_a": -3}}, "circuits.shared.limit_a"),
    ],
)
def test_scenario_errors_name_the_key(raw, build, path, value, message):
    _set(raw, path, value)
    with pytest.raises(ScenarioError, match=message.replace("[", r"\[").replace("]", r"\]")):
        build(raw)


def test_overlapping_sessions_are_refused(raw, build):
    raw["chargers"][0]["sessions"].append({"arrive": "00:20", "depart": "01:00", "energy_kwh": 5})
    with pytest.raises(ScenarioError, match="two sessions overlap"):
        build(raw)


def test_duplicate_charger_names_are_refused(raw, build):
    raw["chargers"].append(dict(raw["chargers"][0]))
    with pytest.raises(ScenarioError, match="two chargers have this name"):
        build(raw)


def test_a_missing_household_minute_is_refused(raw, build, traces):
    rows = traces.constant_house(60)
    build(raw, house=rows)  # the complete trace is fine
    lines = (traces.directory / "house.csv").read_text().splitlines()
    (traces.directory / "house.csv").write_text("\n".join(lines[:10] + lines[11:]) + "\n")
    with pytest.raises(ScenarioError, match="minute 2006-12-23T00:09:00 is missing"):
        parse_scenario(raw, base_dir=traces.directory)


def test_optional_keys_take_their_defaults_and_unknown_keys_are_reported(raw, build):
    del raw["household"]["spread"]
    del raw["chargers"][0]["min_a"]
    raw["chargers"][0]["sessions"] = [{"arrive": "00:00", "depart": "00:30", "energy_kwh": 5}]
    del raw["mode"]
    raw["household"]["colour"] = "blue"
    raw["owner"] = "me"
    scenario = build(raw)
    assert scenario.meter_period_s == 1
    assert scenario.hours == 1
    assert scenario.start == dt.datetime.fromisoformat("2006-12-23T00:00:00")
    charger = scenario.charger("a")
    assert charger.min_a == 6
    assert charger.priority == 1
    assert charger.sessions[0].car_max_a == 16
    assert charger.sessions[0].car_phases == 1
    assert charger.sessions[0].response_s == 5
    assert scenario.mode.value == "fast"
    assert set(scenario.warnings) == {
        "unknown key owner ignored",
        "unknown key household.colour ignored",
    }


def test_csv_paths_are_relative_to_the_scenario_file(tmp_path, raw, traces):
    traces.house(traces.constant_house(60))
    (tmp_path / "scenarios").mkdir()
    raw["household"]["csv"] = "../house.csv"
    raw["household"]["start"] = "2006-12-23T00:10:00"
    raw["household"]["hours"] = 0.5
    path = tmp_path / "scenarios" / "tiny.yaml"
    path.write_text(json.dumps(raw))  # JSON is YAML
    scenario = load_scenario(path)
    assert scenario.duration_s == 1800
    assert len(scenario.house_a) == 30
    path.write_text("name: [unclosed")
    with pytest.raises(ScenarioError, match="not valid YAML"):
        load_scenario(path)


@pytest.mark.parametrize("path", sorted(SCENARIOS.glob("*.yaml")), ids=lambda path: path.stem)
def test_the_repository_scenarios_load(path):
    scenario = load_scenario(path)
    assert scenario.hours == 168
    assert not scenario.warnings
    assert scenario.house_note
    if scenario.pv_w is not None:
        assert "days paired" in scenario.pv_note
        assert max(scenario.pv_w) == pytest.approx(yaml.safe_load(path.read_text())["pv"]["peak_w"])


# --- figures worked out by hand -----------------------------------------------------------


def test_uncontrolled_charger_over_a_known_overload(raw, build):
    # 10 A house, 20 A breaker, the car takes 16 A from 00:00 + 3 s until it leaves at 00:30:
    # 6 A too much for 1797 s.
    raw["chargers"][0]["sessions"][0]["response_s"] = 3
    scenario = build(raw)
    result = figures(scenario, FixedController.uncontrolled(scenario))
    assert result["overload"] == {
        "amp_seconds": pytest.approx(6 * 1797),
        "max_excess_a": 6.0,
        "longest_s": 1797.0,
        "events": 1,
    }
    assert result["ev"]["energy_kwh"] == {"a": pytest.approx(16 * 230 * 1797 / 3.6e6, abs=1e-3)}
    assert result["stability"] == {
        "setpoint_changes_per_hour": 0.0,
        "pauses": 0,
        "resumes": 0,
        "pauses_per_charger_per_day": {"a": 0.0},
    }
    assert result["solar"] is None


def test_overload_events_and_longest_excess_over_phases(raw, build):
    # Three phases, 20 A breaker, a 1-phase car at 16 A on L1 from the start. The house puts
    # 10 A on L1 in minutes 1, 3 and 4 (on every phase in minute 4): L1 is 6 A over in
    # two separate spells, of 60 s and 120 s; L2 and L3 never exceed.
    raw["site"] = {"supply": "three_phase", "voltage_v": 230, "breaker_a": 20, "margin_a": 1}
    raw["chargers"][0]["phases"] = [1, 2, 3]
    raw["household"]["spread"] = "sub_meters"
    quiet = (0, 0, 0, 0, 0)
    busy = (2300, 10, 2300, 0, 0)  # 10 A on L1
    both = (6900, 30, 2300, 2300, 2300)  # 10 A on every phase
    house = [quiet, busy, quiet, busy, both] + [quiet] * 55
    scenario = build(raw, house=house)
    result = figures(scenario, FixedController.uncontrolled(scenario))["overload"]
    assert result == {
        "amp_seconds": pytest.approx(6 * 60 * 3),
        "max_excess_a": 6.0,
        "longest_s": 120.0,
        "events": 2,
    }


def test_static_current_is_what_the_worst_minute_leaves_shared_and_rounded_down(raw, build):
    house = [(0, 10, 0, 0, 0)] * 59 + [(0, 12.5, 0, 0, 0)]
    scenario = build(raw, house=house)
    assert static_current_a(scenario) == {"a": 7.0}  # floor(20 - 12.5)
    two = dict(raw["chargers"][0], name="b")
    raw["chargers"].append(two)
    assert static_current_a(build(raw, house=house)) == {"a": 0.0, "b": 0.0}  # 3.75 A each
    raw["site"]["breaker_a"] = 40
    raw["circuits"] = {"shared": {"limit_a": 16}}
    for charger in raw["chargers"]:
        charger["circuit"] = "shared"
    # (40 - 12.5) / 2 = 13.75 A each, but the 16 A circuit leaves 8 A each.
    assert static_current_a(build(raw, house=house)) == {"a": 8.0, "b": 8.0}


def test_static_run_never_overloads_and_delivers_the_static_current(raw, build):
    scenario = build(raw, house=[(0, 10, 0, 0, 0)] * 59 + [(0, 12.5, 0, 0, 0)])
    result = figures(scenario, FixedController.static(scenario))
    assert result["overload"]["amp_seconds"] == 0
    assert result["ev"]["total_kwh"] == pytest.approx(7 * 230 * 1800 / 3.6e6, abs=1e-3)


def test_oracle_takes_the_whole_headroom_at_once(raw, build):
    # 20 A - 1 A margin - 10 A house = 9 A, then 15 A when the house drops to 4 A.
    house = [(0, 10, 0, 0, 0)] * 10 + [(0, 4, 0, 0, 0)] * 50
    scenario = build(raw, house=house)
    result = figures(scenario, OracleController(scenario))
    expected_kwh = (9 * 600 + 15 * 1200) * 230 / 3.6e6
    assert result["ev"]["total_kwh"] == pytest.approx(expected_kwh, abs=1e-3)
    assert result["overload"]["amp_seconds"] == 0
    # 9 -> 15 A at 00:10, 15 -> 0 A when the car leaves at 00:30, in one hour.
    assert result["stability"]["setpoint_changes_per_hour"] == 2


def test_oracle_pauses_below_6_a_and_resumes(raw, build):
    house = [(0, 10, 0, 0, 0)] * 10 + [(0, 15, 0, 0, 0)] * 10 + [(0, 10, 0, 0, 0)] * 40
    scenario = build(raw, house=house)
    result = figures(scenario, OracleController(scenario))
    # 9 -> 0 -> 9 A, then 0 A when the car leaves (not a pause: it no longer wants charge).
    assert result["stability"] == {
        "setpoint_changes_per_hour": 3.0,
        "pauses": 1,
        "resumes": 1,
        "pauses_per_charger_per_day": {"a": 24.0},  # one pause in one hour
    }
    assert result["ev"]["total_kwh"] == pytest.approx(9 * 230 * 1200 / 3.6e6, abs=1e-3)


def test_oracle_shares_a_circuit_evenly_and_fills_the_bigger_car_first(raw, build):
    raw["site"] = {"supply": "three_phase", "voltage_v": 230, "breaker_a": 40, "margin_a": 0}
    raw["household"]["spread"] = "total"
    raw["circuits"] = {"shared": {"limit_a": 25}}
    raw["chargers"] = [
        {
            "name": name,
            "phases": phases,
            "max_a": 16,
            "circuit": "shared",
            "sessions": [
                {"arrive": "00:00", "depart": "00:30", "energy_kwh": 50, "car_phases": cars}
            ],
        }
        for name, phases, cars in (("garage", [1, 2, 3], 3), ("carport", [2], 1))
    ]
    scenario = build(raw, house=[(0, 0, 0, 0, 0)] * 60)
    model_result = run(scenario, OracleController(scenario))
    # L2 carries both: 25 A. The 3-phase car gives three times the power per ampere.
    assert model_result.energy_kwh["garage"] == pytest.approx(16 * 3 * 230 * 1800 / 3.6e6)
    assert model_result.energy_kwh["carport"] == pytest.approx(9 * 230 * 1800 / 3.6e6)
    # Two identical 3-phase cars on the same circuit get equal shares.
    raw["chargers"][1]["phases"] = [1, 2, 3]
    raw["chargers"][1]["sessions"][0]["car_phases"] = 3
    twins = run(build(raw), OracleController(build(raw))).energy_kwh
    assert twins["garage"] == pytest.approx(twins["carport"], rel=0.1)


def test_oracle_charges_on_the_phases_the_house_leaves_free(raw, build):
    # The house alone overloads L3: the 3-phase car must wait, the 1-phase car on L2 not.
    raw["site"] = {"supply": "three_phase", "voltage_v": 230, "breaker_a": 20, "margin_a": 0}
    raw["household"]["spread"] = "sub_meters"
    raw["chargers"] = [
        {
            "name": name,
            "phases": phases,
            "max_a": 16,
            "sessions": [
                {"arrive": "00:00", "depart": "00:30", "energy_kwh": 50, "car_phases": cars}
            ],
        }
        for name, phases, cars in (("garage", [1, 2, 3], 3), ("carport", [2], 1))
    ]
    scenario = build(raw, house=[(25 * 230, 25, 0, 0, 25 * 230)] * 60)
    energy = run(scenario, OracleController(scenario)).energy_kwh
    assert energy == {"garage": 0.0, "carport": pytest.approx(16 * 230 * 1800 / 3.6e6)}


def test_pause_and_resume_are_counted_for_a_car_that_wants_charge(raw, build):
    class Script:
        period_s = 60.0
        instant_response = False

        def __init__(self):
            self.plan = iter([16, 0, 16, 10, 10] + [10] * 100)

        def decide(self, _model):
            return {"a": next(self.plan)}

    result = figures(build(raw), Script())["stability"]
    assert result == {
        "setpoint_changes_per_hour": 3.0,
        "pauses": 1,
        "resumes": 1,
        "pauses_per_charger_per_day": {"a": 24.0},
    }


def test_solar_figures_by_hand(raw, traces, tmp_path):
    # PV 2300 W all day, house 2 A (460 W): the surplus is 1840 W = 8 A at 230 V.
    raw["pv"] = {"csv": traces.pv([(dt.date(2021, 4, 14), lambda _: 2300.0)]), "peak_w": 2300}
    raw["mode"] = "solar"
    traces.house([(460, 2, 0, 0, 0)] * 60)
    scenario = parse_scenario(raw, base_dir=tmp_path)

    oracle = figures(scenario, OracleController(scenario))
    assert oracle["ev"]["total_kwh"] == pytest.approx(8 * 230 * 1800 / 3.6e6, abs=1e-3)
    assert oracle["solar"] == {
        "pv_share": 1.0,
        "grid_import_kwh": 0.0,
        "exported_while_waiting_kwh": 0.0,
        "ev_from_pv_kwh": pytest.approx(1840 * 1800 / 3.6e6, abs=1e-3),
    }
    # The uncontrolled car takes 16 A: half of it from PV, 1840 W from the grid; after it
    # leaves at 00:30 nobody waits, so the export then does not count.
    uncontrolled = figures(scenario, FixedController.uncontrolled(scenario))["solar"]
    assert uncontrolled == {
        "pv_share": 0.5,
        "grid_import_kwh": pytest.approx(1840 * 1800 / 3.6e6, abs=1e-3),
        "exported_while_waiting_kwh": 0.0,
        "ev_from_pv_kwh": pytest.approx(1840 * 1800 / 3.6e6, abs=1e-3),
    }
    # A static 0 A charger exports the whole surplus while its car waits.
    waiting = figures(scenario, FixedController({"a": 0.0}))["solar"]
    assert waiting["exported_while_waiting_kwh"] == pytest.approx(1840 * 1800 / 3.6e6, abs=1e-3)
    assert waiting["pv_share"] is None


# --- the whole benchmark ------------------------------------------------------------------


def _short(name, hours, start):
    scenario = load_scenario(SCENARIOS / f"{name}.yaml")
    first = int((start - scenario.start).total_seconds() // 60)
    return dataclasses.replace(
        scenario,
        start=start,
        duration_s=hours * 3600,
        house_a=scenario.house_a[first : first + int(hours * 60)],
        pv_w=None if scenario.pv_w is None else scenario.pv_w[first : first + int(hours * 60)],
    )


def test_two_hour_closed_loop_with_the_engine_keeps_the_breaker_safe():
    # The evening peak of the three-phase winter house, both cars plugged in.
    scenario = _short(
        "three-phase-25a-two-16a-winter", 2, dt.datetime.fromisoformat("2006-12-25T20:30")
    )
    benchmark = run_benchmark(scenario)
    result = benchmark.as_json()
    assert set(result) == {"name", "hours", *RUNS}
    assert result["hours"] == 2
    headroom, uncontrolled = result["headroom"], result["uncontrolled"]
    slowest_car_s = max(s.response_s for c in scenario.chargers for s in c.sessions)
    assert headroom["overload"]["longest_s"] <= slowest_car_s + 2
    assert uncontrolled["overload"]["amp_seconds"] > 100 * headroom["overload"]["amp_seconds"]
    assert headroom["ev"]["total_kwh"] > result["static"]["ev"]["total_kwh"]
    assert headroom["ev"]["headroom_used"] > 0.8
    assert result["oracle"]["ev"]["headroom_used"] == 1


def test_a_plot_day_outside_the_window_is_refused(capsys):
    scenario = SCENARIOS / "solar-only-summer.yaml"
    assert main([str(scenario), "--json", "--plot-day", "1999-01-01"]) == 2
    assert "1999-01-01 is not a whole day" in capsys.readouterr().err


def test_cli_json_and_plot(tmp_path, capsys, raw, traces):
    raw["pv"] = {"csv": traces.pv([(dt.date(2021, 4, 14), lambda m: 10.0 * m)]), "peak_w": 5000}
    raw["mode"] = "min_solar"
    traces.house(traces.constant_house(120, 3.0))
    raw["household"]["start"] = "2006-12-23T00:30:00"
    path = tmp_path / "tiny.yaml"
    path.write_text(json.dumps(raw))
    plot = tmp_path / "tiny.png"

    assert main([str(path), "--json", "--plot", str(plot)]) == 0
    out, err = capsys.readouterr()
    result = json.loads(out)
    assert list(result) == ["name", "hours", "headroom", "static", "uncontrolled", "oracle"]
    for label in RUNS:
        assert list(result[label]) == ["overload", "ev", "stability", "solar", "peak"]
        assert list(result[label]["overload"]) == [
            "amp_seconds",
            "max_excess_a",
            "longest_s",
            "events",
        ]
        assert list(result[label]["ev"]) == ["energy_kwh", "total_kwh", "headroom_used"]
        assert list(result[label]["ev"]["energy_kwh"]) == ["a"]
        assert list(result[label]["stability"]) == [
            "setpoint_changes_per_hour",
            "pauses",
            "resumes",
            "pauses_per_charger_per_day",  # beyond the contract's keys: allowed
        ]
        assert list(result[label]["solar"]) == [
            "pv_share",
            "grid_import_kwh",
            "exported_while_waiting_kwh",
            "ev_from_pv_kwh",
        ]
        assert result[label]["peak"] is None  # no peak section
    assert result["hours"] == 1.5  # from 00:30 to the end of the 2-hour trace
    assert "whole-house current_A on L1" in err
    assert "days paired (house <- PV): 2006-12-23 <- 2021-04-14" in err
    assert plot.read_bytes().startswith(b"\x89PNG")

    assert main([str(path)]) == 0
    table = capsys.readouterr().out
    assert "house load: whole-house current_A on L1" in table
    assert "PV share" in table
    assert main([str(tmp_path / "nowhere.yaml")]) == 2
    assert "cannot read the scenario" in capsys.readouterr().err


def test_table_lists_every_charger(raw, build):
    raw["chargers"].append(dict(raw["chargers"][0], name="b"))
    benchmark = run_benchmark(build(raw))
    table = format_table(benchmark)
    assert "  a kWh" in table
    assert "  b kWh" in table
    assert "pv: no PV" in table


def test_the_plot_shows_the_busiest_day_or_the_sunniest(raw, traces, tmp_path):
    raw["household"]["hours"] = 72
    quiet, busy = (0, 1, 0, 0, 0), (0, 30, 0, 0, 0)
    house = [quiet] * 1440 + [quiet] * 1000 + [busy] + [quiet] * 439 + [quiet] * 1440
    traces.house(house)
    fast = parse_scenario(raw, base_dir=tmp_path)
    window = plot_window(fast)
    assert (window.start_s, window.end_s) == (86400, 2 * 86400)
    assert window.description == "2006-12-24 (day with the highest house load)"
    assert plot_window(fast, dt.date(2006, 12, 25)).start_s == 2 * 86400

    dull, sunny = dt.date(2021, 4, 14), dt.date(2021, 4, 15)  # house days: dull, sunny, dull
    raw["pv"] = {
        "csv": traces.pv([(dull, lambda _: 10.0), (sunny, lambda _: 500.0)]),
        "peak_w": 500,
    }
    raw["mode"] = "solar"
    window = plot_window(parse_scenario(raw, base_dir=tmp_path))
    assert window.description == "2006-12-24 (day with the most PV energy)"

    raw["household"].update(start="2006-12-23T06:00:00", hours=12)
    assert plot_window(parse_scenario(raw, base_dir=tmp_path)).description == "whole run"


def test_the_command_runs_without_importing_home_assistant(tmp_path, raw, traces):
    traces.house(traces.constant_house(30))
    path = tmp_path / "tiny.yaml"
    path.write_text(json.dumps(raw))
    root = Path(__file__).parents[2]
    probe = (
        "import runpy, sys; sys.argv = ['bench', sys.argv[1], '--json']\n"
        "try:\n"
        "    runpy.run_module('tools.bench', run_name='__main__')\n"
        "except SystemExit as done:\n"
        "    assert not [m for m in sys.modules if m.startswith('homeassistant')]\n"
        "    raise\n"
    )
    done = subprocess.run(  # noqa: S603  (our own interpreter and module)
        [sys.executable, "-P", "-c", probe, str(path)],
        env={**os.environ, "PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert set(json.loads(done.stdout)) == {"name", "hours", *RUNS}


def test_pv_days_can_be_chosen_and_a_partial_day_is_named_not_dropped_silently(tmp_path, raw):
    traces = Traces(tmp_path)
    traces.house(traces.constant_house(3 * 1440))
    raw["household"]["hours"] = 72
    raw["mode"] = "solar"
    dull, sunny = dt.date(2021, 4, 14), dt.date(2021, 4, 15)
    csv_name = traces.pv([(dull, lambda _: 10.0), (sunny, lambda _: 500.0)], partial_minutes=200)
    raw["pv"] = {"csv": csv_name, "peak_w": 500}
    both = parse_scenario(copy.deepcopy(raw), base_dir=tmp_path)
    assert "partial day 2021-04-16 left out (200 of 1440 minutes)" in both.pv_note
    assert both.pv_w is not None
    assert [both.pv_w[day * 1440] for day in range(3)] == [10.0, 500.0, 10.0]

    raw["pv"]["days"] = ["2021-04-15"]
    sunny_only = parse_scenario(copy.deepcopy(raw), base_dir=tmp_path)
    assert sunny_only.pv_w is not None
    assert set(sunny_only.pv_w) == {500.0}
    assert "partial day" not in sunny_only.pv_note

    for days, message in [
        (["2021-04-16"], r"pv.days: not complete in pv.csv: 2021-04-16 \(200 of 1440 minutes\)"),
        (["2021-04-17"], "pv.days: 2021-04-17 is not in the PV trace"),
        (["April"], "pv.days: 'April' is not a date"),
        ([], "pv.days: expected a list of dates"),
    ]:
        raw["pv"]["days"] = days
        with pytest.raises(ScenarioError, match=message):
            parse_scenario(copy.deepcopy(raw), base_dir=tmp_path)


# --- the import budget per window (capacity tariffs) ---------------------------------------


def _peak_raw(raw, traces):
    """
    A 32 A site and car; the house draws nothing but 12 A (2.76 kW) in the third and fourth
    minute of every quarter hour (an oven); target 3.45 kW per 15 minutes.
    """
    raw["peak"] = {"target_kw": 3.45, "window_min": 15}
    raw["site"]["breaker_a"] = 40
    charger = raw["chargers"][0]
    charger["max_a"] = 32
    charger["sessions"][0].update(depart="01:00", car_max_a=32)
    rows = [
        traces.constant_house(1, 12.0 if minute % 15 in {2, 3} else 0.0)[0] for minute in range(60)
    ]
    traces.house(rows)
    return raw


@pytest.mark.parametrize(
    ("peak", "message"),
    [
        ({"window_min": 15}, "peak.target_kw: required"),
        ({"target_kw": -1}, "peak.target_kw: must be above 0"),
        ({"target_kw": 4, "window_min": 7}, "peak.window_min: 7 does not divide a day"),
    ],
)
def test_peak_errors_name_the_key(raw, build, peak, message):
    raw["peak"] = peak
    with pytest.raises(ScenarioError, match=message):
        build(raw)


def test_the_budget_spends_the_window_and_the_oracle_keeps_it(raw, traces, tmp_path):
    scenario = parse_scenario(_peak_raw(raw, traces), base_dir=tmp_path)
    result = run_benchmark(scenario).as_json()
    budget, oracle = result["headroom"]["peak"], result["oracle"]["peak"]
    # 3.45 kW x 15 min, of which the house takes 2.76 kW x 2 min: 0.7705 kWh per window
    # is the car's, four windows in the hour.
    assert result["oracle"]["ev"]["total_kwh"] == pytest.approx(4 * 0.7705, rel=0.02)
    assert oracle == {
        "max_window_kw": pytest.approx(3.45, abs=0.01),
        "windows_over_target": 0,
        "house_only_windows_over_target": 0,
    }
    assert budget["windows_over_target"] == 0
    assert budget["max_window_kw"] <= 3.45
    assert result["headroom"]["ev"]["headroom_used"] >= 0.9
    # Without a peak section the figures are null; uncontrolled breaks every window.
    assert result["uncontrolled"]["peak"]["windows_over_target"] == 4
    del raw["peak"]
    assert run_benchmark(parse_scenario(raw, base_dir=tmp_path)).as_json()["oracle"]["peak"] is None


def test_an_instantaneous_cap_wastes_what_the_house_leaves_in_the_window(raw, traces, tmp_path):
    scenario = parse_scenario(_peak_raw(raw, traces), base_dir=tmp_path)
    budget = run_benchmark(scenario).as_json()["headroom"]
    capped = run_benchmark(scenario, peak_cap=True).as_json()["headroom"]
    # Both pause for the oven (0.69 kW left, below 6 A) and for the 5-minute pause after it;
    # the cap then gives 3.45 kW (15 A), the budget also what the pause left unspent.
    assert capped["peak"]["windows_over_target"] == 0
    assert capped["ev"]["total_kwh"] < 0.85 * budget["ev"]["total_kwh"]


def test_a_house_that_breaks_the_window_alone_is_counted_apart(raw, traces, tmp_path):
    raw = _peak_raw(raw, traces)
    raw["peak"]["target_kw"] = 0.3  # below the house's own 2.76 kW x 2 min per window
    result = run_benchmark(parse_scenario(raw, base_dir=tmp_path)).as_json()
    for label in ("headroom", "oracle"):
        peak = result[label]["peak"]
        assert peak["windows_over_target"] == peak["house_only_windows_over_target"] == 4
    assert result["oracle"]["ev"]["total_kwh"] == 0
