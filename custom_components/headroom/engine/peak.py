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

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .model import ImportWindow, PeakSettings

_J_PER_WH = 3600.0
_MIN_LEFT_S = 1.0
"""The shortest time the budget left is spread over (no division by 0 at the end)."""


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
    if left_s <= 2.0 * response_s + _MIN_LEFT_S and response_s > 0.0:
        # What the chargers draw as the window closes goes on for a response time into
        # the next one: no more than the next window can absorb with the house as now.
        carry_w = max(0.0, peak.target_w - house_now_w) * peak.window_s / response_s
        budget_w = min(budget_w, carry_w)
    return budget_w
