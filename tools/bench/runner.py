"""
The closed loop: a controller against the site model, measured (DESIGN section 6).

The model is advanced from one change to the next (a controller decision, a trace minute,
a car event); everything is constant in between, so the figures are exact sums over those
intervals rather than samples.
"""

from __future__ import annotations

import math
from array import array
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from custom_components.headroom.engine.model import MIN_CHARGE_A
from tools.site_model import SiteModel

if TYPE_CHECKING:
    from collections.abc import Mapping

    from tools.bench.controllers import Controller
    from tools.bench.scenario import Scenario

_EXCESS_EPS_A: Final = 1e-9
"""Currents summed from parts can exceed the rating by float error; that is no overload."""
_J_PER_KWH: Final = 3.6e6
_WINDOW_EPS_J: Final = 1e-3
"""A window's energy above its budget by float error alone is not above it."""


@dataclass(slots=True)
class Trace:
    """Time series of one run within a time range, for the plot (step-wise constant)."""

    start_s: float
    end_s: float
    time_s: array[float] = field(default_factory=lambda: array("d"))
    grid_a: list[array[float]] = field(default_factory=list)
    draw_a: dict[str, array[float]] = field(default_factory=dict)
    pv_a: array[float] = field(default_factory=lambda: array("d"))


@dataclass(slots=True)
class RunResult:
    """What one run measured."""

    hours: float
    amp_seconds: float = 0.0
    max_excess_a: float = 0.0
    longest_s: float = 0.0
    events: int = 0
    energy_kwh: dict[str, float] = field(default_factory=dict)
    setpoint_changes: int = 0
    pauses: int = 0
    pauses_by_charger: dict[str, int] = field(default_factory=dict)
    resumes: int = 0
    has_pv: bool = False
    ev_from_pv_j: float = 0.0
    """PV energy that went into the cars."""
    grid_import_j: float = 0.0
    exported_waiting_j: float = 0.0
    trace: Trace | None = None
    peak_target_w: float | None = None
    """The scenario's import budget per window (None: no `peak` section)."""
    peak_window_s: float = 0.0
    window_import_j: list[float] = field(default_factory=list)
    """Grid energy imported in each complete wall-clock window."""
    window_house_j: list[float] = field(default_factory=list)
    """What the house alone (less PV) would have imported in each of those windows."""

    @property
    def total_kwh(self) -> float:
        """Energy delivered by all chargers."""
        return sum(self.energy_kwh.values())

    def figures(self, oracle_kwh: float) -> dict[str, Any]:
        """Return the figures of DESIGN section 6, relative to the oracle's energy."""
        total = self.total_kwh
        solar: dict[str, Any] | None = None
        if self.has_pv:
            solar = {
                "pv_share": round(self.ev_from_pv_j / _J_PER_KWH / total, 4) if total else None,
                "grid_import_kwh": round(self.grid_import_j / _J_PER_KWH, 3),
                "exported_while_waiting_kwh": round(self.exported_waiting_j / _J_PER_KWH, 3),
                "ev_from_pv_kwh": round(self.ev_from_pv_j / _J_PER_KWH, 3),
            }
        return {
            "overload": {
                "amp_seconds": round(self.amp_seconds, 1),
                "max_excess_a": round(self.max_excess_a, 2),
                "longest_s": round(self.longest_s, 1),
                "events": self.events,
            },
            "ev": {
                "energy_kwh": {name: round(kwh, 3) for name, kwh in self.energy_kwh.items()},
                "total_kwh": round(total, 3),
                "headroom_used": round(total / oracle_kwh, 4) if oracle_kwh > 0 else None,
            },
            "stability": {
                "setpoint_changes_per_hour": round(self.setpoint_changes / self.hours, 3),
                "pauses": self.pauses,
                "resumes": self.resumes,
                "pauses_per_charger_per_day": {
                    name: round(count * 24.0 / self.hours, 2)
                    for name, count in self.pauses_by_charger.items()
                },
            },
            "solar": solar,
            "peak": self._peak_figures(),
        }

    def _peak_figures(self) -> dict[str, Any] | None:
        """Highest window average, windows above the target, and those the house broke."""
        target_w = self.peak_target_w
        if target_w is None or not self.window_import_j:
            return None
        window_s = self.peak_window_s
        limit_j = target_w * window_s + _WINDOW_EPS_J
        over = [index for index, j in enumerate(self.window_import_j) if j > limit_j]
        return {
            "max_window_kw": round(max(self.window_import_j) / window_s / 1000.0, 3),
            "windows_over_target": len(over),
            "house_only_windows_over_target": sum(
                self.window_house_j[index] > limit_j for index in over
            ),
        }


def run(
    scenario: Scenario,
    controller: Controller,
    *,
    trace_range_s: tuple[float, float] | None = None,
) -> RunResult:
    """Run `controller` against a fresh model of `scenario` over the whole window."""
    model = SiteModel(scenario, instant_response=controller.instant_response)
    loop = _Loop(scenario, model, trace_range_s)
    end_s = scenario.duration_s
    period_s = controller.period_s
    decisions = 0
    next_decision_s = 0.0
    time_s = 0.0
    while time_s < end_s:
        if period_s is None or time_s >= next_decision_s:
            loop.apply(controller.decide(model))
            if period_s is not None:
                decisions += 1
                # Multiples of the period, not a running sum: no drift over a week.
                next_decision_s = decisions * period_s
        until_s = min(end_s, model.next_change_s())
        if period_s is not None:
            until_s = min(until_s, next_decision_s)
        loop.measure(time_s)
        model.advance_to(until_s)
        time_s = until_s
    return loop.finish(end_s)


class _Loop:
    """Counts setpoint changes and integrates the figures over constant intervals."""

    def __init__(
        self,
        scenario: Scenario,
        model: SiteModel,
        trace_range_s: tuple[float, float] | None,
    ) -> None:
        self._model = model
        self._breaker_a = scenario.site.breaker_a
        self._has_pv = scenario.pv_w is not None
        self._names = model.charger_names()
        self._setpoints: dict[str, float] | None = None
        self._paused_session: dict[str, float | None] = dict.fromkeys(self._names)
        self._in_excess = False
        self._excess_run_s = 0.0
        # The open interval: since when the state below has held, and its rates.
        self._grid_a: tuple[float, ...] | None = None
        self._open_s = 0.0
        self._excess_a = 0.0
        self._worst_a = 0.0
        self._ev_from_pv_w = 0.0
        self._import_w = 0.0
        self._export_waiting_w = 0.0
        self.result = RunResult(
            hours=scenario.hours,
            has_pv=self._has_pv,
            pauses_by_charger=dict.fromkeys(self._names, 0),
        )
        self._windows = _Windows(scenario) if scenario.peak is not None else None
        if scenario.peak is not None:
            self.result.peak_target_w = scenario.peak.target_w
            self.result.peak_window_s = scenario.peak.window_s
        self._trace: Trace | None = None
        if trace_range_s is not None:
            self._trace = Trace(start_s=trace_range_s[0], end_s=trace_range_s[1])
            self._trace.grid_a = [array("d") for _ in range(scenario.site.phase_count)]
            self._trace.draw_a = {name: array("d") for name in self._names}
            self.result.trace = self._trace

    def apply(self, setpoints: Mapping[str, float]) -> None:
        """Write a controller's setpoints to the model, counting what changed."""
        model = self._model
        if self._setpoints is None:
            # The first decision sets the starting point; changes are counted from there.
            self._setpoints = dict.fromkeys(self._names, 0.0)
            for name, current in setpoints.items():
                self._setpoints[name] = current
                model.set_setpoint(name, current)
            return
        previous = self._setpoints
        for name, current in setpoints.items():
            old = previous[name]
            if current == old:
                continue
            previous[name] = current
            self.result.setpoint_changes += 1
            self._count_pause(name, old, current)
            model.set_setpoint(name, current)

    def _count_pause(self, name: str, old: float, new: float) -> None:
        view = self._model.charger_view(name)
        if not view.wants_charge:
            return
        if old >= MIN_CHARGE_A > new:
            self.result.pauses += 1
            self.result.pauses_by_charger[name] += 1
            self._paused_session[name] = view.session_start_s
        elif new >= MIN_CHARGE_A > old and self._paused_session[name] == view.session_start_s:
            self.result.resumes += 1
            self._paused_session[name] = None

    def measure(self, start_s: float) -> None:
        """Note the model's state at `start_s`; it holds until the next call that differs."""
        grid = self._model.grid_currents_a()
        # The model makes a new tuple whenever any current may change: the same tuple means
        # the same state, and the open interval simply goes on.
        if grid is self._grid_a:
            return
        self._close(start_s)
        self._grid_a = grid
        self._open_s = start_s
        model = self._model
        breaker_a = self._breaker_a
        self._excess_a = sum(
            abs(current) - breaker_a for current in grid if abs(current) - breaker_a > _EXCESS_EPS_A
        )
        self._worst_a = max(*grid, -min(grid)) - breaker_a
        if self._windows is not None:
            self._windows.rates(
                import_w=max(0.0, model.grid_power_w()),
                house_w=max(0.0, model.house_power_w() - model.pv_power_w()),
            )
        if self._has_pv:
            grid_w = model.grid_power_w()
            ev_w = model.ev_power_w()
            # PV serves the house first; what is left over goes to the cars.
            surplus_w = model.pv_power_w() - model.house_power_w()
            self._ev_from_pv_w = min(ev_w, max(0.0, surplus_w)) if ev_w > 0 else 0.0
            self._import_w = max(0.0, grid_w) if ev_w > 0 else 0.0
            self._export_waiting_w = -grid_w if grid_w < 0 and model.cars_waiting() else 0.0
        trace = self._trace
        if trace is not None and trace.start_s <= start_s < trace.end_s:
            trace.time_s.append(start_s)
            for phase, current in enumerate(grid):
                trace.grid_a[phase].append(current)
            for name in self._names:
                trace.draw_a[name].append(model.charger_draw_a(name))
            trace.pv_a.append(model.pv_currents_a()[0])

    def _close(self, end_s: float) -> None:
        """Add the open interval, over which every current was constant."""
        dt_s = end_s - self._open_s
        if dt_s <= 0:
            return
        result = self.result
        if self._worst_a > _EXCESS_EPS_A:
            result.amp_seconds += self._excess_a * dt_s
            result.max_excess_a = max(result.max_excess_a, self._worst_a)
            if not self._in_excess:
                self._in_excess = True
                self._excess_run_s = 0.0
                result.events += 1
            self._excess_run_s += dt_s
            result.longest_s = max(result.longest_s, self._excess_run_s)
        else:
            self._in_excess = False
        if self._windows is not None:
            self._windows.add(self._open_s, end_s)
        result.ev_from_pv_j += self._ev_from_pv_w * dt_s
        result.grid_import_j += self._import_w * dt_s
        result.exported_waiting_j += self._export_waiting_w * dt_s

    def finish(self, end_s: float) -> RunResult:
        """Close the last interval; return the result with each charger's energy."""
        self._close(end_s)
        self.result.energy_kwh = {
            name: self._model.charger_energy_kwh(name) for name in self._names
        }
        if self._windows is not None:
            self.result.window_import_j, self.result.window_house_j = self._windows.complete()
        return self.result


class _Windows:
    """
    Grid import per wall-clock window (:00, :15, ... of the scenario's clock).

    Only windows wholly inside the run are reported: a utility would bill the ones cut by
    the run's start and end with the rest of their quarter hour.
    """

    def __init__(self, scenario: Scenario) -> None:
        assert scenario.peak is not None  # noqa: S101 (only built with a peak section)
        self._window_s = scenario.peak.window_s
        midnight = scenario.start.replace(hour=0, minute=0, second=0, microsecond=0)
        self._offset_s = (scenario.start - midnight).total_seconds()
        self._duration_s = scenario.duration_s
        self._import: dict[int, float] = {}
        self._house: dict[int, float] = {}
        self._import_w = 0.0
        self._house_w = 0.0

    def rates(self, *, import_w: float, house_w: float) -> None:
        """Set the import, and what the house alone would import, from now on."""
        self._import_w = import_w
        self._house_w = house_w

    def add(self, start_s: float, end_s: float) -> None:
        """Add the interval at the current rates, split at window boundaries."""
        while start_s < end_s:
            index = math.floor((self._offset_s + start_s) / self._window_s)
            boundary_s = (index + 1) * self._window_s - self._offset_s
            part_end_s = min(end_s, boundary_s)
            dt_s = part_end_s - start_s
            self._import[index] = self._import.get(index, 0.0) + self._import_w * dt_s
            self._house[index] = self._house.get(index, 0.0) + self._house_w * dt_s
            start_s = part_end_s

    def complete(self) -> tuple[list[float], list[float]]:
        """Return the energies of the windows wholly inside the run, in time order."""
        first = math.ceil(self._offset_s / self._window_s)
        last = math.floor((self._offset_s + self._duration_s) / self._window_s)
        indexes = range(first, last)
        return (
            [self._import.get(index, 0.0) for index in indexes],
            [self._house.get(index, 0.0) for index in indexes],
        )
