"""
Hindsight: when the cars should have started and stopped, knowing the week's clouds.

The engine decides every start and stop of a solar-only day without knowing how long a
cloud will last. This finds, for a solar-only scenario, the on/off schedule of the cars
that takes the most PV energy with at most so many stops per car per day and at most
such a share of the EV energy from the grid, knowing the whole week in advance; then it
runs that schedule in the benchmark's loop like any controller (the cars follow at once,
as the oracle's). Whether a pause target can be met at all, and what a forecast of the
clouds would be worth, is read off its figures.

The search works on a model of the week at the scenario's one-minute resolution: in a
minute, the cars that are on take the surplus between the sum of their minimums and of
their maximums, the grid gives what their minimums need beyond the surplus, and a stop is
a car going off while it is plugged in. It maximises `PV - grid_weight * grid - sum of
stop_cost * stops` exactly (dynamic programming over the on/off states), for a grid of
weights; the constrained best is the feasible schedule of most PV among them. The search
knows nothing of a car's response delay or of its filling up; the loop does, so the
figures that count are the loop's.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from custom_components.headroom.engine.model import Mode
from tools.bench.controllers import OracleController
from tools.bench.runner import RunResult, run
from tools.bench.scenario import DAY_S, MINUTE_S, expand_sessions

if TYPE_CHECKING:
    from collections.abc import Sequence

    from tools.bench.scenario import Scenario
    from tools.site_model import SiteModel

GRID_WEIGHTS: Final = (0.5, 1.0, 1.5, 2.0, 3.0, 5.0, 8.0, 1000.0)
"""Watts of PV a watt from the grid is worth in the search (each is tried; the last: none)."""
STOP_COSTS_WH: Final = (25.0, 50.0, 100.0, 200.0, 400.0, 800.0, 1600.0)
"""Watt-hours of PV one stop of one car is worth in the search (each, per car)."""
_MINUTE_H: Final = MINUTE_S / 3600.0
_J_PER_KWH: Final = 3.6e6


@dataclass(frozen=True, slots=True, kw_only=True)
class Car:
    """One charger with its car, as the search sees it."""

    name: str
    min_w: float
    max_w: float
    plugged: tuple[bool, ...]
    """Whether a car is plugged in, for every minute of the window."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Tally:
    """What a schedule gives in the search's model."""

    pv_kwh: float
    grid_kwh: float
    stops: tuple[int, ...]
    """Stops of each car (in scenario order) over the window."""

    def grid_share(self) -> float:
        """Grid energy as a share of the EV energy (0 with none)."""
        total = self.pv_kwh + self.grid_kwh
        return self.grid_kwh / total if total > 0 else 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Hindsight:
    """The best schedule found, what the search's model says of it, and its run."""

    masks: tuple[int, ...]
    """Which cars are on in each minute: bit i is the scenario's i-th charger."""
    tally: Tally
    result: RunResult


def cars_of(scenario: Scenario) -> tuple[Car, ...]:
    """Return each charger's car with its power range and when it is plugged in."""
    minutes = round(scenario.duration_s / MINUTE_S)
    voltage = scenario.site.voltage_v
    cars = []
    for charger in scenario.chargers:
        visits = expand_sessions(charger, scenario.start, scenario.duration_s)
        if not visits:
            cars.append(Car(name=charger.name, min_w=0.0, max_w=0.0, plugged=(False,) * minutes))
            continue
        session = visits[0].session
        if any(
            (visit.session.car_phases, visit.session.car_max_a)
            != (session.car_phases, session.car_max_a)
            for visit in visits
        ):
            msg = f"chargers.{charger.name}: --hindsight needs the same car in every session"
            raise ValueError(msg)
        plugged = tuple(
            any(visit.arrive_s <= minute * MINUTE_S < visit.depart_s for visit in visits)
            for minute in range(minutes)
        )
        lines = session.car_phases
        cars.append(
            Car(
                name=charger.name,
                min_w=charger.min_a * lines * voltage,
                max_w=min(charger.max_a, session.car_max_a) * lines * voltage,
                plugged=plugged,
            )
        )
    return tuple(cars)


def surplus_w(scenario: Scenario) -> tuple[float, ...]:
    """Return the PV power less the house's, for every minute of the window."""
    if scenario.pv_w is None:
        msg = "the hindsight search needs a scenario with PV"
        raise ValueError(msg)
    voltage = scenario.site.voltage_v
    return tuple(
        pv - sum(house) * voltage for pv, house in zip(scenario.pv_w, scenario.house_a, strict=True)
    )


def flows_w(cars: Sequence[Car], mask: int, surplus: float) -> tuple[float, float]:
    """Return the PV power and the grid power the cars of `mask` take on `surplus`."""
    on = _on(cars, mask)
    if not on:
        return 0.0, 0.0
    ev_w = min(max(surplus, sum(car.min_w for car in on)), sum(car.max_w for car in on))
    return min(ev_w, max(0.0, surplus)), max(0.0, ev_w - surplus)


def _stops(cars: Sequence[Car], before: int, after: int, minute: int) -> list[int]:
    """Return the cars that go off between two masks while plugged in at `minute`."""
    return [
        index
        for index, car in enumerate(cars)
        if before >> index & 1 and not after >> index & 1 and car.plugged[minute]
    ]


@dataclass(frozen=True, slots=True)
class Week:
    """The cars and the surplus of a window, with what every set of cars takes in each minute."""

    cars: tuple[Car, ...]
    surplus: tuple[float, ...]
    flows_wh: tuple[dict[int, tuple[float, float]], ...]
    """Per minute, for every set of cars that may be on: its PV and grid energy (Wh)."""

    @classmethod
    def of(cls, cars: Sequence[Car], surplus: Sequence[float]) -> Week:
        """Work out the energies of every allowed set of cars in every minute."""
        masks = range(1 << len(cars))
        flows: list[dict[int, tuple[float, float]]] = []
        for minute, power in enumerate(surplus):
            step = {}
            for mask in masks:
                if all(car.plugged[minute] for car in _on(cars, mask)):
                    pv_w, grid_w = flows_w(cars, mask, power)
                    step[mask] = (pv_w * _MINUTE_H, grid_w * _MINUTE_H)
            flows.append(step)
        return cls(tuple(cars), tuple(surplus), tuple(flows))

    def schedule(self, *, grid_weight: float, stop_costs_wh: Sequence[float]) -> tuple[int, ...]:
        """
        Return the masks that maximise `PV - grid_weight * grid - stop costs` (Wh), exactly.

        A car can only be on while it is plugged in; every car is off before the window.
        """
        cars = self.cars
        value = {0: 0.0}
        back: list[dict[int, int]] = []
        for minute, step in enumerate(self.flows_wh):
            new: dict[int, float] = {}
            came_from: dict[int, int] = {}
            for mask, (pv_wh, grid_wh) in step.items():
                best_from, best = 0, -math.inf
                for previous, before in value.items():
                    worth = before - sum(
                        stop_costs_wh[index] for index in _stops(cars, previous, mask, minute)
                    )
                    if worth > best:
                        best_from, best = previous, worth
                new[mask] = best + pv_wh - grid_weight * grid_wh
                came_from[mask] = best_from
            value = new
            back.append(came_from)
        mask = max(value, key=value.__getitem__)
        path = []
        for came_from in reversed(back):
            path.append(mask)
            mask = came_from[mask]
        return tuple(reversed(path))

    def tally(self, masks: Sequence[int]) -> Tally:
        """Return the PV and grid energy and the stops of each car of a schedule."""
        pv_wh = grid_wh = 0.0
        stops = [0] * len(self.cars)
        previous = 0
        for minute, mask in enumerate(masks):
            pv, grid = self.flows_wh[minute][mask]
            pv_wh += pv
            grid_wh += grid
            for index in _stops(self.cars, previous, mask, minute):
                stops[index] += 1
            previous = mask
        return Tally(pv_kwh=pv_wh / 1000.0, grid_kwh=grid_wh / 1000.0, stops=tuple(stops))


def _on(cars: Sequence[Car], mask: int) -> list[Car]:
    return [car for index, car in enumerate(cars) if mask >> index & 1]


def best_schedule(
    scenario: Scenario, *, stops_per_day: float, grid_share: float
) -> tuple[tuple[int, ...], Tally]:
    """
    Return the schedule of most PV, in the search's model, within both limits.

    Leaving every car off is within any limits; it is the answer if no weight tried gives
    a schedule within them that takes PV.
    """
    week = Week.of(cars_of(scenario), surplus_w(scenario))
    days = scenario.duration_s / DAY_S
    idle = (0,) * len(week.surplus)
    best = (idle, week.tally(idle))
    seen = {idle}
    for grid_weight in GRID_WEIGHTS:
        for costs in itertools.product(STOP_COSTS_WH, repeat=len(week.cars)):
            masks = week.schedule(grid_weight=grid_weight, stop_costs_wh=costs)
            if masks in seen:
                continue
            seen.add(masks)
            found = week.tally(masks)
            within = (
                max(found.stops, default=0) <= stops_per_day * days
                and found.grid_share() <= grid_share
            )
            if within and found.pv_kwh > best[1].pv_kwh:
                best = (masks, found)
    return best


class ScheduledController(OracleController):
    """
    The oracle, told which cars are on in every minute.

    A car that is on gets at least its minimum (from the grid if the surplus does not
    cover it) and more only from the surplus, as the oracle gives in minimum + solar; a car
    that is off gets 0 A.
    """

    def __init__(self, scenario: Scenario, masks: Sequence[int]) -> None:
        """Follow `masks` (one per minute of the window) on `scenario`."""
        super().__init__(scenario)
        self._mode = Mode.MIN_SOLAR
        self._masks = masks
        self._bits = {charger.name: 1 << index for index, charger in enumerate(scenario.chargers)}

    def _includes(self, name: str, model: SiteModel) -> bool:
        minute = min(int(model.time_s // MINUTE_S), len(self._masks) - 1)
        return bool(self._masks[minute] & self._bits[name])


def hindsight(scenario: Scenario, *, stops_per_day: float, grid_share: float) -> Hindsight:
    """Find the best schedule within the limits and run it in the benchmark's loop."""
    if scenario.mode is not Mode.SOLAR:
        msg = "--hindsight is for solar-only scenarios (mode: solar)"
        raise ValueError(msg)
    masks, counted = best_schedule(scenario, stops_per_day=stops_per_day, grid_share=grid_share)
    result = run(scenario, ScheduledController(scenario, masks))
    return Hindsight(masks=masks, tally=counted, result=result)


def describe(scenario: Scenario, found: Hindsight, oracle: RunResult) -> list[str]:
    """Return the lines the command prints: the run's figures, then the search's own."""
    result = found.result
    total_kwh = result.total_kwh
    pv_kwh = result.ev_from_pv_j / _J_PER_KWH
    oracle_pv_kwh = oracle.ev_from_pv_j / _J_PER_KWH
    grid_kwh = result.grid_import_j / _J_PER_KWH
    pauses = result.figures(oracle.total_kwh)["stability"]["pauses_per_charger_per_day"]
    per_day = ", ".join(f"{name} {count:.2f}" for name, count in pauses.items())
    share = f"{pv_kwh / oracle_pv_kwh:.3f}" if oracle_pv_kwh > 0 else "-"
    grid_share = f"{grid_kwh / total_kwh:.2%}" if total_kwh > 0 else "-"
    return [
        f"{scenario.name}: the schedule of most PV within the limits, knowing the week, run "
        "in the loop",
        f"pauses per charger per day: {per_day}",
        f"PV into the cars: {pv_kwh:.1f} kWh = {share} of the oracle's {oracle_pv_kwh:.1f} kWh",
        f"grid import: {grid_kwh:.2f} kWh = {grid_share} of the EV energy {total_kwh:.1f} kWh",
        f"the search's model: PV {found.tally.pv_kwh:.1f} kWh, grid {found.tally.grid_kwh:.2f} "
        f"kWh, stops {', '.join(map(str, found.tally.stops))}",
    ]
