"""
What sets the chargers' currents in a benchmark run: the engine and the three baselines.

Each controller looks at the site model and returns a setpoint per charger. The engine
only sees what the product would read (meter and charger registers); the oracle sees
everything, including what each car could take.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Protocol

from custom_components.headroom.engine import Balancer, suggest_fail_safe_a
from custom_components.headroom.engine.model import (
    MIN_CHARGE_A,
    ChargerReading,
    ChargerSettings,
    ChargerState,
    MeterReading,
    Mode,
    PeakSettings,
    SiteSettings,
    Snapshot,
    SurplusReading,
)
from custom_components.headroom.import_window import WindowMeter
from tools.bench.scenario import MINUTE_S

if TYPE_CHECKING:
    from collections.abc import Mapping

    from tools.bench.scenario import Scenario
    from tools.site_model import SiteModel

_ROUNDING_EPS: Final = 1e-9
"""Keeps floor() of an exact whole number from dropping an ampere to float error."""


class Controller(Protocol):
    """Decides the chargers' setpoints from the model."""

    @property
    def period_s(self) -> float | None:
        """Seconds between decisions; None: decide whenever the model changes."""

    @property
    def instant_response(self) -> bool:
        """Whether the cars follow this controller's setpoints without delay."""

    def decide(self, model: SiteModel) -> Mapping[str, float]:
        """Setpoint per charger name (a charger left out keeps its setpoint)."""


def static_current_a(scenario: Scenario) -> dict[str, float]:
    """
    Return a fixed current per charger that never trips on the household trace.

    The breaker rating minus the house's worst one-minute phase current, shared equally
    by the chargers (and by those on a shared circuit), capped at each charger's maximum,
    rounded down; 0 when that is below the charger's minimum. (The product's fail-safe
    suggestion is the same but also keeps the margin free.)
    """
    worst_house_a = max(max(minute) for minute in scenario.house_a)
    share_a = (scenario.site.breaker_a - worst_house_a) / len(scenario.chargers)
    currents: dict[str, float] = {}
    for charger in scenario.chargers:
        current = min(share_a, charger.max_a)
        if charger.circuit is not None:
            sharing = sum(other.circuit == charger.circuit for other in scenario.chargers)
            current = min(current, scenario.circuits_a[charger.circuit] / sharing)
        current = math.floor(current + _ROUNDING_EPS)
        currents[charger.name] = float(current) if current >= charger.min_a else 0.0
    return currents


@dataclass(frozen=True, slots=True)
class FixedController:
    """The same setpoints forever: the `static` and `uncontrolled` baselines."""

    setpoints_a: Mapping[str, float]
    period_s: float | None = None
    instant_response: bool = False

    @classmethod
    def static(cls, scenario: Scenario) -> FixedController:
        """Set what an installer could without load balancing (see `static_current_a`)."""
        return cls(static_current_a(scenario))

    @classmethod
    def uncontrolled(cls, scenario: Scenario) -> FixedController:
        """Set every charger to its maximum, no balancing."""
        return cls({charger.name: charger.max_a for charger in scenario.chargers})

    def decide(self, model: SiteModel) -> Mapping[str, float]:  # noqa: ARG002
        """Return the fixed setpoints."""
        return self.setpoints_a


@dataclass(frozen=True, slots=True)
class _Slot:
    """One charger with a car wanting charge, as the oracle sees it."""

    name: str
    phases: tuple[int, ...]  # 0-based grid phases the car draws from
    min_a: float
    max_a: int
    watts_per_a: float
    circuit: str | None
    current_a: float  # its setpoint now


class OracleController:
    """
    Instant and all-knowing: the best allocation of the true headroom at every change.

    It knows the house load, the PV and what every car could take, and its cars follow
    without delay. Under the same limits as the engine (breaker minus margin on every
    phase, shared circuits, charger and car maxima, whole amperes, 6 A minimum) it gives
    the allocation that delivers the most power now; among equals, the one with the
    most even shares, then the one that changes fewest setpoints. Solar only: the EV power
    never exceeds the PV surplus. Minimum + solar: every car that fits gets at least its
    minimum, and more only from the surplus. A charger without a car that wants charge
    gets 0 A, as the engine parks it (so both count the same writes on arrival and departure).

    With a `peak` section it also keeps every window's import within the budget, knowing
    the house load to the window's end: every meter period it gives the cars what is left
    of the window's budget after the house's import to the end of the window (all of it
    now, which is as good as any spread when the cars follow at once), plus what the house
    would export.
    """

    instant_response = True

    def __init__(self, scenario: Scenario) -> None:
        """Prepare the limits of the scenario."""
        site = scenario.site
        self._limit_a = site.breaker_a - site.margin_a
        self._voltage_v = site.voltage_v
        self._chargers = scenario.chargers
        self._circuits_a = scenario.circuits_a
        self._mode = scenario.mode
        self.period_s: float | None = None
        self._budget = _WindowBudget(scenario) if scenario.peak is not None else None
        if self._budget is not None:
            self.period_s = scenario.meter_period_s

    def decide(self, model: SiteModel) -> Mapping[str, float]:
        """Return the best allocation now."""
        house = model.house_currents_a()
        pv = model.pv_currents_a()
        free = [self._limit_a - house[phase] + pv[phase] for phase in range(len(house))]
        slots: list[_Slot] = []
        for charger in self._chargers:
            demand = model.car_demand(charger.name)
            if demand is None or not self._includes(charger.name, model):
                continue
            slots.append(
                _Slot(
                    name=charger.name,
                    phases=tuple(phase - 1 for phase in demand.grid_phases),
                    min_a=max(charger.min_a, MIN_CHARGE_A),
                    max_a=math.floor(min(charger.max_a, demand.max_a) + _ROUNDING_EPS),
                    watts_per_a=self._voltage_v * len(demand.grid_phases),
                    circuit=charger.circuit,
                    current_a=model.charger_view(charger.name).setpoint_a,
                )
            )
        setpoints = {charger.name: 0.0 for charger in self._chargers}
        peak_w = math.inf
        if self._budget is not None:
            peak_w = self._budget.ev_allowance_w(model, period_s=self.period_s or 1.0)
        ev_w = 0.0
        if slots:
            surplus_w = model.pv_power_w() - model.house_power_w()
            best = self._search(slots, free, surplus_w, peak_w)
            setpoints.update(
                (slot.name, float(current)) for slot, current in zip(slots, best, strict=True)
            )
            ev_w = sum(
                slot.watts_per_a * current for slot, current in zip(slots, best, strict=True)
            )
        if self._budget is not None:
            # Its cars follow at once: this is the import until the next decision.
            self._budget.importing(max(0.0, model.house_power_w() - model.pv_power_w() + ev_w))
        return setpoints

    def _includes(self, name: str, model: SiteModel) -> bool:  # noqa: ARG002
        """Whether the charger's car is allocated now (every car that wants charge is)."""
        return True

    def _search(
        self, slots: list[_Slot], free: list[float], surplus_w: float, peak_w: float
    ) -> tuple[int, ...]:
        circuit_free = {
            (name, phase): limit
            for name, limit in self._circuits_a.items()
            for phase in range(len(free))
        }
        best: tuple[int, ...] = (0,) * len(slots)
        best_key: tuple[float, ...] | None = None
        for head in self._heads(slots[:-1], free, circuit_free):
            residual = list(free)
            residual_circuit = dict(circuit_free)
            for slot, current in zip(slots[:-1], head, strict=True):
                _take(slot, current, residual, residual_circuit)
            # Only the phases the chosen chargers draw from must fit: a phase that the house
            # alone overloads stops the chargers on it, not the others.
            if not all(
                _fits(slot, residual, residual_circuit)
                for slot, current in zip(slots[:-1], head, strict=True)
                if current
            ):
                continue
            last = slots[-1]
            current = self._largest(
                last, head, slots, residual, residual_circuit, surplus_w, peak_w
            )
            allocation = (*head, current)
            key = self._key(slots, allocation, surplus_w, peak_w)
            if key is not None and (best_key is None or key > best_key):
                best, best_key = allocation, key
        return best

    def _heads(
        self, slots: list[_Slot], free: list[float], circuit_free: dict[tuple[str, int], float]
    ) -> list[tuple[int, ...]]:
        """List every combination of candidate currents for all chargers but the last."""
        heads: list[tuple[int, ...]] = [()]
        for slot in slots:
            cap = min(free[phase] for phase in slot.phases)
            if slot.circuit is not None:
                cap = min(cap, *(circuit_free[slot.circuit, phase] for phase in slot.phases))
            top = min(slot.max_a, math.floor(cap + _ROUNDING_EPS))
            candidates = [0, *range(math.ceil(slot.min_a), top + 1)]
            heads = [(*head, current) for head in heads for current in candidates]
        return heads

    def _largest(  # noqa: PLR0913
        self,
        last: _Slot,
        head: tuple[int, ...],
        slots: list[_Slot],
        residual: list[float],
        residual_circuit: dict[tuple[str, int], float],
        surplus_w: float,
        peak_w: float,
    ) -> int:
        """Return the most current the last charger can get next to the others' `head`."""
        cap = min(residual[phase] for phase in last.phases)
        if last.circuit is not None:
            cap = min(cap, *(residual_circuit[last.circuit, phase] for phase in last.phases))
        others_w = sum(
            slot.watts_per_a * current for slot, current in zip(slots, head, strict=False)
        )
        if self._mode is Mode.SOLAR:
            cap = min(cap, (surplus_w - others_w) / last.watts_per_a)
        elif self._mode is Mode.MIN_SOLAR:
            minimum_w = sum(
                slot.watts_per_a * slot.min_a
                for slot, current in zip(slots, head, strict=False)
                if current
            )
            allowed_w = max(surplus_w, minimum_w + last.watts_per_a * last.min_a)
            cap = min(cap, (allowed_w - others_w) / last.watts_per_a)
        cap = min(cap, (peak_w - others_w) / last.watts_per_a)
        current = min(last.max_a, math.floor(cap + _ROUNDING_EPS))
        return current if current >= last.min_a else 0

    def _key(
        self, slots: list[_Slot], allocation: tuple[int, ...], surplus_w: float, peak_w: float
    ) -> tuple[float, ...] | None:
        """Rate an allocation (higher is better); None when the mode or budget forbids it."""
        power_w = sum(
            slot.watts_per_a * current for slot, current in zip(slots, allocation, strict=True)
        )
        if power_w > peak_w + _ROUNDING_EPS:
            return None
        charging = [slot for slot, current in zip(slots, allocation, strict=True) if current]
        if self._mode is Mode.SOLAR and power_w > surplus_w + _ROUNDING_EPS:
            return None
        if self._mode is Mode.MIN_SOLAR:
            minimum_w = sum(slot.watts_per_a * slot.min_a for slot in charging)
            if power_w > max(surplus_w, minimum_w) + _ROUNDING_EPS:
                return None
        changes = sum(
            current != slot.current_a for slot, current in zip(slots, allocation, strict=True)
        )
        return (
            len(charging) if self._mode is Mode.MIN_SOLAR else 0,
            round(power_w, 6),
            min(allocation),
            -changes,
        )


class _WindowBudget:
    """The oracle's view of the import budget: it knows the house load to the window's end."""

    def __init__(self, scenario: Scenario) -> None:
        assert scenario.peak is not None  # noqa: S101 (only built with a peak section)
        self._target_w = scenario.peak.target_w
        self._window_s = scenario.peak.window_s
        midnight = scenario.start.replace(hour=0, minute=0, second=0, microsecond=0)
        self._offset_s = (scenario.start - midnight).total_seconds()
        voltage_v = scenario.site.voltage_v
        pv = scenario.pv_w
        # What the house alone imports, per trace minute, and its running sum in joules.
        self._house_w = [
            max(0.0, sum(minute) * voltage_v - (pv[index] if pv is not None else 0.0))
            for index, minute in enumerate(scenario.house_a)
        ]
        self._sum_j = [0.0]
        for power_w in self._house_w:
            self._sum_j.append(self._sum_j[-1] + power_w * MINUTE_S)
        self._window = -1
        self._imported_j = 0.0
        self._last_s = 0.0
        self._last_import_w = 0.0

    def ev_allowance_w(self, model: SiteModel, *, period_s: float) -> float:
        """Return the EV power the budget allows for the next period."""
        now_s = model.time_s
        index = math.floor((self._offset_s + now_s) / self._window_s + 1e-9)
        if index != self._window:
            self._window = index
            self._imported_j = 0.0
        else:
            self._imported_j += self._last_import_w * (now_s - self._last_s)
        self._last_s = now_s
        end_s = (index + 1) * self._window_s - self._offset_s
        budget_j = self._target_w * self._window_s - self._imported_j
        budget_j -= self._house_j(now_s, end_s)
        export_w = max(0.0, model.pv_power_w() - model.house_power_w())
        return max(0.0, budget_j) / period_s + export_w

    def importing(self, import_w: float) -> None:
        """Note the grid import from now until the next decision."""
        self._last_import_w = import_w

    def _house_j(self, start_s: float, end_s: float) -> float:
        return self._house_at(end_s) - self._house_at(start_s)

    def _house_at(self, time_s: float) -> float:
        minute = min(int(time_s // MINUTE_S), len(self._house_w))
        within_s = time_s - minute * MINUTE_S
        rest = self._house_w[minute] * within_s if minute < len(self._house_w) else 0.0
        return self._sum_j[minute] + rest


def _fits(slot: _Slot, free: list[float], circuit_free: dict[tuple[str, int], float]) -> bool:
    return all(
        free[phase] >= -_ROUNDING_EPS
        and (slot.circuit is None or circuit_free[slot.circuit, phase] >= -_ROUNDING_EPS)
        for phase in slot.phases
    )


def _take(
    slot: _Slot, current: int, free: list[float], circuit_free: dict[tuple[str, int], float]
) -> None:
    for phase in slot.phases:
        free[phase] -= current
        if slot.circuit is not None:
            circuit_free[slot.circuit, phase] -= current


def site_settings(scenario: Scenario) -> SiteSettings:
    """
    Return the engine's settings for the site, as the product's setup would make them.

    The fail-safe current is the one the setup suggests from the worst house minute.
    """
    site = scenario.site
    return SiteSettings(
        supply=site.supply,
        voltage_v=site.voltage_v,
        breaker_a=site.breaker_a,
        margin_a=site.margin_a,
        fail_safe_a=suggest_fail_safe_a(
            site.breaker_a,
            site.margin_a,
            max(max(minute) for minute in scenario.house_a),
            len(scenario.chargers),
        ),
        chargers=tuple(
            ChargerSettings(
                charger_id=charger.name,
                phases=charger.phases,
                max_a=charger.max_a,
                min_a=charger.min_a,
                priority=charger.priority,
                circuit=charger.circuit,
            )
            for charger in scenario.chargers
        ),
        circuits_a=dict(scenario.circuits_a),
        mode=scenario.mode,
        peak=(
            PeakSettings(target_w=scenario.peak.target_w, window_s=scenario.peak.window_s)
            if scenario.peak is not None
            else None
        ),
    )


def wall_clock_s(scenario: Scenario, time_s: float) -> float:
    """Return the scenario's local wall-clock time in seconds (as the coordinator gives it)."""
    return scenario.start.replace(tzinfo=dt.UTC).timestamp() + time_s


class EngineController:
    """The production engine (`Balancer`), fed what the product would read each cycle."""

    instant_response = False

    def __init__(self, scenario: Scenario, *, peak_cap: bool = False) -> None:
        """
        Start the engine with the scenario's settings; it runs every meter period.

        With a `peak` section the engine gets the import window as the product's window
        meter counts it; `peak_cap` withholds it, so the engine caps the import at the
        target every second instead of budgeting the window (the variant to compare).
        """
        self.period_s: float | None = scenario.meter_period_s
        self._scenario = scenario
        self._has_pv = scenario.pv_w is not None
        self._window_meter: WindowMeter | None = None
        if scenario.peak is not None and not peak_cap:
            self._window_meter = WindowMeter(window_s=scenario.peak.window_s)
        self._names = tuple(charger.name for charger in scenario.chargers)
        self._balancer = Balancer(site_settings(scenario))
        self._readings: tuple[ChargerReading, ...] = ()
        self._revision = -1

    def decide(self, model: SiteModel) -> Mapping[str, float]:
        """One engine cycle on the meter and charger readings now."""
        now = model.time_s
        if model.revision != self._revision:
            # The chargers' registers only change with the model's revision: reuse the rest.
            self._revision = model.revision
            self._readings = tuple(self._reading(model, name) for name in self._names)
        surplus = SurplusReading(power_w=-model.grid_power_w(), at=now) if self._has_pv else None
        window = None
        if self._window_meter is not None:
            assert self._scenario.peak is not None  # noqa: S101 (the meter needs a peak)
            window = self._window_meter.update(
                wall_clock_s(self._scenario, now),
                model.grid_power_w(),
                target_w=self._scenario.peak.target_w,
            )
        decision = self._balancer.step(
            Snapshot(
                now=now,
                meter=MeterReading(currents_a=model.grid_currents_a(), at=now),
                chargers=self._readings,
                surplus=surplus,
                window=window,
            )
        )
        return {command.charger_id: command.current_a for command in decision.commands}

    @staticmethod
    def _reading(model: SiteModel, name: str) -> ChargerReading:
        # What site.py gives the engine: state, line currents and setpoint from the
        # charger's registers; never the model's knowledge that a car is full.
        view = model.charger_view(name)
        return ChargerReading(
            charger_id=name,
            state=ChargerState(view.state),
            currents_a=view.currents_a,
            setpoint_a=view.setpoint_a,
        )
