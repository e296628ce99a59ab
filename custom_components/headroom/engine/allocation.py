"""
Sharing capacity between chargers: priorities, equal shares and the 6 A minimum.

One allocation round is stateless. Capacities are linear limits (a phase of the main
breaker, a phase of a shared charger circuit, the PV surplus in watts); each limit says how
much of it one ampere of each charger uses. Chargers are admitted at their minimum in the
order given (higher priority first), and what is left is shared by progressive filling:
everyone admitted in a priority class rises together until it meets its cap or a limit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from .model import Constraint

_EPSILON = 1e-9
"""Floating-point slack when comparing currents (far below any meter's resolution)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Demand:
    """What one charger may take in one allocation round."""

    charger_id: str
    priority: int
    min_a: float
    """Smallest current it can run at (a whole number of amperes)."""
    need_a: float
    """What must fit for it to be admitted (its minimum, plus hysteresis when resuming)."""
    cap_a: float
    """The most it may take (charger maximum, car, solar)."""
    cap_reason: Constraint
    """What set cap_a."""
    setpoint_a: float = 0.0
    """Its current setpoint: amperes freed by rounding go first to those that keep one."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Limit:
    """A capacity shared by some chargers."""

    reason: Constraint
    capacity: float
    weights: Mapping[str, float]
    """Charger id -> how much of the capacity one ampere of that charger uses."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Share:
    """One charger's result: its current and what limited it."""

    current_a: float
    reason: Constraint


def allocate(
    demands: Sequence[Demand], limits: Sequence[Limit], *, whole_amps: bool
) -> dict[str, Share]:
    """
    Share the limits' capacity between the demands.

    Demands are admitted in the order given within each priority (higher priority
    first): a demand whose need does not fit what is left gets 0 A and the reason of the
    limit that stopped it. With `whole_amps`, every share is rounded down and the
    amperes freed by rounding go, one each, to the members of the class: first to those
    whose setpoint already holds them (fewest changes), then in order.
    """
    return _Round(demands, limits).run(whole_amps=whole_amps)


class _Round:
    """One allocation round; `uses` lists, per demand, the limits it draws on."""

    def __init__(self, demands: Sequence[Demand], limits: Sequence[Limit]) -> None:
        self.demands = demands
        self.limits = limits
        self.remaining = [limit.capacity for limit in limits]
        self.uses = {
            demand.charger_id: [
                (index, weight)
                for index, limit in enumerate(limits)
                if (weight := limit.weights.get(demand.charger_id, 0.0)) > 0.0
            ]
            for demand in demands
        }

    def run(self, *, whole_amps: bool) -> dict[str, Share]:
        shares: dict[str, Share] = {}
        for priority in sorted({demand.priority for demand in self.demands}, reverse=True):
            admitted: list[Demand] = []
            for demand in (d for d in self.demands if d.priority == priority):
                if demand.cap_a < demand.min_a - _EPSILON:
                    shares[demand.charger_id] = Share(current_a=0.0, reason=demand.cap_reason)
                    continue
                blocking = self.first_blocking(demand)
                if blocking is not None:
                    shares[demand.charger_id] = Share(current_a=0.0, reason=blocking.reason)
                    continue
                self.take(demand.charger_id, demand.min_a)
                admitted.append(demand)
            granted = self.fill(admitted)
            if whole_amps:
                granted = self.round_down(admitted, granted)
            shares.update(granted)
        return shares

    def first_blocking(self, demand: Demand) -> Limit | None:
        for index, weight in self.uses[demand.charger_id]:
            if self.remaining[index] < demand.need_a * weight - _EPSILON:
                return self.limits[index]
        return None

    def take(self, charger_id: str, current_a: float) -> None:
        for index, weight in self.uses[charger_id]:
            self.remaining[index] -= current_a * weight

    def fill(self, admitted: Sequence[Demand]) -> dict[str, Share]:
        """Raise every admitted demand together until each meets its cap or a limit."""
        remaining = self.remaining
        current = {demand.charger_id: demand.min_a for demand in admitted}
        reasons: dict[str, Constraint] = {}
        active = list(admitted)
        while active:
            # The largest equal step every active demand can take.
            step = min(demand.cap_a - current[demand.charger_id] for demand in active)
            load = dict.fromkeys(range(len(remaining)), 0.0)
            for demand in active:
                for index, weight in self.uses[demand.charger_id]:
                    load[index] += weight
            ratios = {index: remaining[index] / w for index, w in load.items() if w > 0.0}
            step = max(min(step, *ratios.values()) if ratios else step, 0.0)
            saturated = {index for index, ratio in ratios.items() if ratio <= step + _EPSILON}
            for demand in active:
                current[demand.charger_id] += step
                self.take(demand.charger_id, step)
            for index in saturated:
                remaining[index] = min(remaining[index], 0.0)
            still_active: list[Demand] = []
            for demand in active:
                hit = min(
                    (index for index, _ in self.uses[demand.charger_id] if index in saturated),
                    default=None,
                )
                if demand.cap_a - current[demand.charger_id] <= _EPSILON:
                    reasons[demand.charger_id] = demand.cap_reason
                elif hit is not None:
                    reasons[demand.charger_id] = self.limits[hit].reason
                else:
                    still_active.append(demand)
            active = still_active
        return {
            charger_id: Share(current_a=current_a, reason=reasons[charger_id])
            for charger_id, current_a in current.items()
        }

    def round_down(
        self, admitted: Sequence[Demand], granted: Mapping[str, Share]
    ) -> dict[str, Share]:
        """Round every share down, then hand the freed whole amperes out in admission order."""
        whole: dict[str, float] = {}
        for demand in admitted:
            share = granted[demand.charger_id]
            whole[demand.charger_id] = float(math.floor(share.current_a + _EPSILON))
            self.take(demand.charger_id, whole[demand.charger_id] - share.current_a)
        # Fewest changes first: a charger already above its rounded share keeps its ampere.
        keeps = sorted(admitted, key=lambda d: d.setpoint_a < whole[d.charger_id] + 1.0 - _EPSILON)
        for demand in keeps:
            extra_fits = all(
                self.remaining[index] >= weight - _EPSILON
                for index, weight in self.uses[demand.charger_id]
            )
            if extra_fits and whole[demand.charger_id] + 1.0 <= demand.cap_a + _EPSILON:
                whole[demand.charger_id] += 1.0
                self.take(demand.charger_id, 1.0)
        return {
            demand.charger_id: Share(
                current_a=whole[demand.charger_id], reason=granted[demand.charger_id].reason
            )
            for demand in admitted
        }
