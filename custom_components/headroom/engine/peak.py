"""
The import budget per wall-clock window (capacity tariffs).

A utility that bills the month's highest 15-minute (or hourly) average import does not
care how the energy is spread inside the window, only how much of it there is. So the
chargers may spend what is left of the window's budget, `target x window length`, over
the time left, after what the house draws now: a car charges faster while the house is
quiet and slower after the kettle, where an instantaneous cap at the target would waste
every watt the house does not use.

The loop says where in the window it is (`ImportWindow`); nothing here reads a clock.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .model import ImportWindow, PeakSettings

_J_PER_WH = 3600.0
_MIN_LEFT_S = 1.0
"""The shortest time the budget left is spread over (no division by 0 at the end)."""
HOLD_END_S = 120.0
"""In the window's last this many seconds a held budget has no tolerance below the share."""
HOUSE_HOLD_S = 120.0
"""The plan counts the house at the highest it drew in this long (`BudgetPlan.house_w`)."""
RAISE_WORTH_S = 180.0
"""A held budget rises only when the rise would be worth a step for this long or more."""
RUN_SHORT_SHARE = 0.6
"""Running chargers the share cannot carry at their minimum stay at it down to this share."""
_RUN_ON_S = 1.0
"""Running short: never beyond the last second of the minimum the budget leaves."""


def chargers_budget_w(
    peak: PeakSettings,
    window: ImportWindow | None,
    *,
    chargers_draw_w: float,
    house_w: float,
    response_s: float,
) -> float:
    """
    Return the power the chargers may draw now so the window's average import stays in.

    With the window known: the house is expected to keep drawing what it draws now
    (`window.import_w` minus the chargers' draw), and the chargers to keep their present
    draw for a car's response time (a cut takes that long to show); what is left of the
    budget over the rest of the window is theirs. Once the window's budget is spent,
    they may still take what the house would export (PV): that adds nothing to the
    import, so in the solar modes the budget only ever lowers the grid share. The result
    may be below any charger's minimum (then they pause) and is never negative.

    Without the window (the meter gave no total power) it falls back to an instantaneous
    cap: the target minus `house_w`, the house load the breaker rule worked out (never
    negative, so it overstates the import and never understates it).
    """
    if window is None:
        return max(0.0, peak.target_w - house_w)
    house_now_w = window.import_w - chargers_draw_w
    left_s = max(0.0, peak.window_s - window.elapsed_s)
    budget_j = peak.target_w * peak.window_s - window.imported_wh * _J_PER_WH
    # Until a cut shows, the chargers keep drawing what they draw now.
    lag_s = min(response_s, left_s)
    budget_j -= max(0.0, house_now_w + chargers_draw_w) * lag_s
    # Close to the end nothing commanded now shows before the window closes; the budget
    # left is then spread over one second, which only cuts when it is already spent.
    rate_w = budget_j / max(left_s - lag_s, _MIN_LEFT_S)
    budget_w = max(0.0, max(rate_w, 0.0) - house_now_w)
    return min(budget_w, carry_w(peak, window, house_now_w=house_now_w, response_s=response_s))


def carry_w(
    peak: PeakSettings, window: ImportWindow, *, house_now_w: float, response_s: float
) -> float:
    """
    Return the most the chargers may draw as the window closes (infinite before that).

    What they draw then goes on for a response time into the next window: no more than
    the next window can absorb with the house as now.
    """
    left_s = max(0.0, peak.window_s - window.elapsed_s)
    if left_s > 2.0 * response_s + _MIN_LEFT_S or response_s <= 0.0:
        return math.inf
    return max(0.0, peak.target_w - house_now_w) * peak.window_s / response_s


def spare_j(
    peak: PeakSettings, window: ImportWindow, *, chargers_draw_w: float, response_s: float
) -> float:
    """
    Return the energy the window's budget leaves the chargers to its end.

    What is left of `target x window length` after what was imported, after everything
    drawing now for the chargers' response time, and after the house at its present draw
    to the window's end (may be negative: the house alone will break it).
    """
    house_now_w = window.import_w - chargers_draw_w
    left_s = max(0.0, peak.window_s - window.elapsed_s)
    lag_s = min(response_s, left_s)
    budget_j = peak.target_w * peak.window_s - window.imported_wh * _J_PER_WH
    budget_j -= max(0.0, house_now_w + chargers_draw_w) * lag_s
    return budget_j - house_now_w * (left_s - lag_s)


@dataclass(slots=True)
class BudgetPlan:
    """
    A calm use of the window's budget: a steady current, not one that follows the house.

    `chargers_budget_w` spreads what is left evenly over the rest of the window, so every
    kettle and fridge moves it; followed every second it makes the car step up and down
    all the time, and pause at the start of every quarter hour whose even share is below
    its minimum. The plan holds the power it gave the chargers instead:

    - **Hold.** It stays while the even share is within `step_w` of it (the power of one
      ampere on every charger): it cuts once the share falls further below it (at once, to
      the share) and rises once the share is a step above it and the rise is worth
      a step for `RAISE_WORTH_S` to the window's end. The overspend of holding is
      counted in the next share, and in the last `HOLD_END_S` of the window there is no
      tolerance below the share at all, so the window ends within its budget as before.
    - **Lower before pausing.** Running chargers whose minimum the share no longer
      carries to the window's end (`floor_w` above it) are lowered to their minimum and
      run on, rather than pausing now and starting again later in the same window: they
      overspend the share, so it falls as they run, and they pause once it is below
      `RUN_SHORT_SHARE` of their minimum (at once when the house rose that far). The
      pause then tends to span the window's end, and the car that resumes later in the
      next window runs on into the one after.
    - **The house at its recent highest** (`house_w`), not at every fluctuation.
    """

    held_w: float | None = None
    elapsed_s: float = -1.0
    house: deque[tuple[float, float]] = field(default_factory=deque)
    """The house's recent draws (time, W), each kept while no later one is higher."""

    def house_w(self, house_now_w: float, *, now: float) -> float:
        """
        Return the house draw to plan the rest of the window with: its highest recently.

        A fridge or a water heater cycling every few minutes is no reason to move the
        car: the plan counts the house at the highest it drew in the last `HOUSE_HOLD_S`,
        never less than now. That overstates the house, never understates it: what it
        leaves unspent is in the next share, spent later in the window.
        """
        house = self.house
        while house and (house[-1][1] <= house_now_w or house[-1][0] > now):
            house.pop()
        house.append((now, house_now_w))
        while house[0][0] < now - HOUSE_HOLD_S:
            house.popleft()
        return house[0][1]

    def settle(  # noqa: PLR0913
        self,
        *,
        share_w: float,
        spare_j: float,
        left_s: float,
        elapsed_s: float,
        floor_w: float,
        step_w: float,
    ) -> float:
        """
        Return the chargers' budget now, from the even share and the energy left them.

        `floor_w`: the running chargers' minimum power (0: none runs); `step_w`: one ampere
        on every charger that wants charge.
        """
        if elapsed_s < self.elapsed_s:
            self.held_w = None  # a new window: a new plan
        self.elapsed_s = elapsed_s
        if RUN_SHORT_SHARE * floor_w <= share_w < floor_w and spare_j >= floor_w * _RUN_ON_S:
            # Run on at the minimum, overspending the share: it falls as they do, and
            # they pause once it is below `RUN_SHORT_SHARE` of the minimum.
            self.held_w = floor_w
            return floor_w
        held_w = self.held_w
        tolerance_w = step_w if left_s > HOLD_END_S else 0.0
        worth = (share_w - (held_w or 0.0)) * left_s >= step_w * RAISE_WORTH_S
        rise = held_w is not None and share_w >= held_w + step_w and worth
        if held_w is None or held_w > share_w + tolerance_w or rise:
            self.held_w = held_w = share_w
        return held_w

    def forget(self) -> None:
        """Drop the plan (no window known): the next one starts from the share."""
        self.held_w = None
        self.elapsed_s = -1.0
        self.house.clear()
