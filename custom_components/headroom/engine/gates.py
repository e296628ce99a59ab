"""
The per-charger rules that need memory, each a small state machine.

Each gate holds only its own clocks and answers one question, so a rule lives in one
place: `RaiseGate` says how fast a current may rise again after a change, `PauseClock`
when a paused charger may start again and whose turn it is, `CarCap` what the car has
shown it takes (less than offered, or nothing at all). The solar start/stop gate
(`solar.SolarGate`) has the same shape.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .model import Constraint

_PAUSE_REASONS = frozenset(
    {Constraint.BREAKER, Constraint.CIRCUIT, Constraint.PEAK, Constraint.SOLAR}
)
"""Pauses the engine decided for lack of capacity: these keep the minimum pause."""
_DRAW_RESOLUTION_A = 0.1
"""Measured draws within this of a whole ampere count as that ampere (meter resolution)."""


@dataclass(slots=True)
class RaiseGate:
    """Cut at once, raise gently: a raise waits for the car and for a settled headroom."""

    changed_at: float | None = None
    """When the setpoint last changed (None: never, so nothing to wait for)."""
    rising_since: float | None = None
    """Since when the allocation has stood above the setpoint."""
    lowest_a: float = 0.0
    """The lowest allocation seen since then: a raise goes no higher."""

    def settle(
        self, *, setpoint_a: float, cut_a: float, rise_a: float, now: float, hold_s: float
    ) -> float:
        """
        Return the new setpoint for an allocation of `cut_a` (`rise_a` with the deadband).

        Below the setpoint: at once. Above: once the stricter figure has stayed above the
        setpoint for the hold time and the last change is at least the hold time old, to
        the lowest allocation seen meanwhile.
        """
        if cut_a < setpoint_a:
            return cut_a
        if min(rise_a, cut_a) <= setpoint_a:
            self.rising_since = None
            return setpoint_a
        if self.rising_since is None:
            self.rising_since = now
            self.lowest_a = cut_a
        else:
            self.lowest_a = min(self.lowest_a, cut_a)
        if self.settled(now, after_s=hold_s) and now - self.rising_since >= hold_s:
            return self.lowest_a
        return setpoint_a

    def changed(self, now: float) -> None:
        """Note a new setpoint: the next raise waits from here."""
        self.changed_at = now
        self.rising_since = None

    def forget(self) -> None:
        """Drop a raise in preparation: it rests on readings that no longer count."""
        self.rising_since = None

    def settled(self, now: float, *, after_s: float) -> bool:
        """Whether the last change is at least `after_s` old."""
        return self.changed_at is None or now - self.changed_at >= after_s


@dataclass(slots=True)
class PauseClock:
    """When a paused charger may start again, and whose turn it is on a shared slot."""

    paused_at: float | None = None
    """When the engine paused it for lack of capacity (None: no minimum pause runs)."""
    reason: Constraint = Constraint.NONE
    """Why it was last paused."""
    running_since: float | None = None
    waiting_since: float | None = None
    """Since when it has wanted charge and been offered nothing."""

    def blocked(self, *, setpoint_a: float, now: float, min_pause_s: float) -> bool:
        """Whether a paused charger must stay paused (the minimum pause has not passed)."""
        return (
            setpoint_a <= 0.0 and self.paused_at is not None and now - self.paused_at < min_pause_s
        )

    def changed(self, *, old_a: float, new_a: float, reason: Constraint, now: float) -> None:
        """Note a new setpoint and why: a pause for lack of capacity starts the pause."""
        if new_a <= 0.0:
            self.running_since = None
            self.paused_at = now if reason in _PAUSE_REASONS else None
            self.reason = reason
        elif old_a <= 0.0:
            self.running_since = now
            self.paused_at = None

    def wait(self, *, waiting: bool, now: float) -> None:
        """Note whether the charger waits this cycle (wants charge, offered nothing)."""
        if not waiting:
            self.waiting_since = None
        elif self.waiting_since is None:
            self.waiting_since = now

    def turn_over(self, rivals_waiting_since: list[float], *, now: float, turn_s: float) -> bool:
        """Whether a running charger's turn is over: a rival has waited through a turn."""
        if not rivals_waiting_since or self.running_since is None:
            return False
        turn_started = max(self.running_since, min(rivals_waiting_since))
        return now - turn_started >= turn_s

    def forget_pause(self) -> None:
        """End the minimum pause (the fail-safe is no pause)."""
        self.paused_at = None


@dataclass(slots=True)
class CarCap:
    """A car that draws much less than offered is offered its draw plus some slack."""

    cap_a: float | None = None
    """What the car is offered at most (None: no cap, it gets its full share)."""
    underdraw_since: float | None = None
    idle_since: float | None = None
    """Since when the car has been offered at least its minimum and drawn nothing."""

    def watch(self, *, offered: bool, drawing: bool, now: float) -> None:
        """Feed whether the car is offered its minimum or more, and whether it draws."""
        if not offered or drawing:
            self.idle_since = None
        elif self.idle_since is None:
            self.idle_since = now

    def idle(self, now: float, *, after_s: float) -> bool:
        """
        Whether the car is idle: offered its minimum and drawn nothing for `after_s`.

        An idle car (full, or waiting for its own timer) is no longer reserved a share;
        its charger keeps offering the minimum so that it can start again.
        """
        return self.idle_since is not None and now - self.idle_since >= after_s

    def track(  # noqa: PLR0913
        self,
        *,
        draw_a: float | None,
        setpoint_a: float,
        min_a: float,
        slack_a: float,
        settled: bool,
        now: float,
        hold_s: float,
    ) -> None:
        """
        Feed the car's draw (None: unknown, not offered or no car) against its setpoint.

        The cap comes after the car has drawn less than its setpoint minus the slack for
        the hold time, once it had time to follow the last change; it only ever tightens
        while the car under-draws, and goes once the car draws close to its offer (the
        slack lets it rise back).
        """
        if draw_a is None or draw_a >= setpoint_a - 1.0:
            self.cap_a = None
            self.underdraw_since = None
            return
        offer_a = max(min_a, math.ceil(draw_a - _DRAW_RESOLUTION_A) + math.ceil(slack_a))
        current_cap_a = self.cap_a if self.cap_a is not None else math.inf
        if not settled or draw_a > setpoint_a - slack_a or offer_a >= current_cap_a:
            self.underdraw_since = None
            return
        if self.underdraw_since is None:
            self.underdraw_since = now
        if now - self.underdraw_since >= hold_s:
            self.cap_a = float(offer_a)
            self.underdraw_since = None

    def limit(self, max_a: float) -> tuple[float, Constraint]:
        """Return the charger's maximum, or less when its car has shown it draws less."""
        if self.cap_a is not None and self.cap_a < max_a:
            return self.cap_a, Constraint.CAR
        return max_a, Constraint.CHARGER_MAX
