"""The benchmark: the engine and the three baselines on one scenario, in one process."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from custom_components.headroom.engine.model import Mode
from tools.bench.controllers import EngineController, FixedController, OracleController
from tools.bench.runner import RunResult, run
from tools.bench.scenario import DAY_S, MINUTE_S

if TYPE_CHECKING:
    from tools.bench.controllers import Controller
    from tools.bench.scenario import Scenario

RUNS: Final = ("headroom", "static", "uncontrolled", "oracle")
"""The four runs, in the order of the JSON object and the table."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PlotWindow:
    """The part of the window the plot shows (model seconds) and why."""

    start_s: float
    end_s: float
    description: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Benchmark:
    """The four runs of one scenario."""

    scenario: Scenario
    results: dict[str, RunResult]
    wall_s: dict[str, float]
    plot_window: PlotWindow

    def as_json(self) -> dict[str, Any]:
        """Return the JSON object of DESIGN section 6 (its keys are fixed)."""
        oracle_kwh = self.results["oracle"].total_kwh
        figures: dict[str, Any] = {
            "name": self.scenario.name,
            "hours": round(self.scenario.hours, 3),
        }
        figures.update({label: self.results[label].figures(oracle_kwh) for label in RUNS})
        return figures


def run_benchmark(
    scenario: Scenario, *, plot_day: dt.date | None = None, peak_cap: bool = False
) -> Benchmark:
    """
    Run the engine and the baselines on `scenario`, recording the plot window.

    `peak_cap`: the engine caps the import at the peak target every second instead of
    budgeting the window (see `EngineController`).
    """
    window = plot_window(scenario, plot_day)
    controllers: dict[str, Controller] = {
        "oracle": OracleController(scenario),
        "headroom": EngineController(scenario, peak_cap=peak_cap),
        "static": FixedController.static(scenario),
        "uncontrolled": FixedController.uncontrolled(scenario),
    }
    results: dict[str, RunResult] = {}
    wall_s: dict[str, float] = {}
    for label, controller in controllers.items():
        started = time.perf_counter()
        results[label] = run(scenario, controller, trace_range_s=(window.start_s, window.end_s))
        wall_s[label] = time.perf_counter() - started
    return Benchmark(scenario=scenario, results=results, wall_s=wall_s, plot_window=window)


def plot_window(scenario: Scenario, day: dt.date | None = None) -> PlotWindow:
    """
    Choose the day to plot: `day` if given, else a representative whole day.

    Fast mode: the day with the house's highest one-minute phase current (where balancing
    works hardest). Solar modes: the day with the most PV energy. A window shorter than
    a day is shown whole.
    """
    offset_s = (scenario.start - scenario.start.replace(hour=0, minute=0, second=0)).seconds
    days: list[tuple[dt.date, float, float]] = []  # (date, start_s, end_s) of whole days
    first = 0.0 if offset_s == 0 else DAY_S - offset_s
    while first + DAY_S <= scenario.duration_s + 1e-9:
        days.append(((scenario.start + dt.timedelta(seconds=first)).date(), first, first + DAY_S))
        first += DAY_S
    if day is not None:
        for date, start_s, end_s in days:
            if date == day:
                return PlotWindow(start_s=start_s, end_s=end_s, description=f"{date}")
        msg = f"{day} is not a whole day of the scenario's window"
        raise ValueError(msg)
    if not days:
        return PlotWindow(start_s=0.0, end_s=scenario.duration_s, description="whole run")

    def minutes(start_s: float) -> range:
        return range(int(start_s // MINUTE_S), int(start_s // MINUTE_S) + DAY_S // MINUTE_S)

    if scenario.mode is Mode.FAST or scenario.pv_w is None:
        house = scenario.house_a
        date, start_s, end_s = max(
            days, key=lambda entry: max(max(house[minute]) for minute in minutes(entry[1]))
        )
        why = "day with the highest house load"
    else:
        pv = scenario.pv_w
        date, start_s, end_s = max(
            days, key=lambda entry: sum(pv[minute] for minute in minutes(entry[1]))
        )
        why = "day with the most PV energy"
    return PlotWindow(start_s=start_s, end_s=end_s, description=f"{date} ({why})")
