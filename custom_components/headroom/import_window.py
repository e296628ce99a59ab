"""
The grid import per wall-clock window, as a capacity tariff meters it (no Home Assistant).

`WindowMeter` integrates the meter's total power (import positive) into the energy
imported since the current window began, windows aligned to the wall clock (:00, :15, ...
for 15 minutes), and keeps this month's highest window average. The loop feeds it once a
cycle and passes the engine an `ImportWindow`; the engine never reads a clock.

A stretch with no power reading (the loop just started mid-window, the meter was silent
or the clock jumped) counts as imported at the target: the budget is then spread as if
that part had spent its share. Such a window is not recorded as the month's peak.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime

from .engine.model import ImportWindow

_J_PER_WH = 3600.0
MAX_GAP_S = 10.0
"""A longer stretch between two power readings is not measured (counted at the target)."""


def month_of(wall_s: float) -> str:
    """Return the month ("2026-11") of a local wall-clock time in seconds."""
    return datetime.fromtimestamp(wall_s, UTC).strftime("%Y-%m")


@dataclass(frozen=True, slots=True, kw_only=True)
class WindowStatus:
    """The current window and this month's peak, for the entities."""

    window_s: float
    average_w: float | None
    """The window's average import so far (None in its first second)."""
    projected_w: float | None
    """Its average at the end if the import stays what it is now (None: no power)."""
    month_peak_w: float | None
    """This month's highest measured window average (None: none measured yet)."""
    month: str


@dataclass(slots=True)
class WindowMeter:
    """Energy imported in the current wall-clock window, and the month's highest window."""

    window_s: float = 900.0
    start_s: float | None = None
    """Wall-clock start of the current window (None: not started)."""
    energy_j: float = 0.0
    measured: bool = True
    """Every second of the current window so far came from power readings."""
    last_s: float = 0.0
    last_w: float | None = None
    month: str = ""
    month_peak_w: float | None = None

    def resize(self, window_s: float) -> None:
        """Use another window length from the next update on (that window is unmeasured)."""
        if window_s != self.window_s:
            self.window_s = window_s
            self.start_s = None

    def restore(self, *, month: str, peak_w: float) -> None:
        """Take the month's peak kept across a restart (ignored when a later one is known)."""
        if not math.isfinite(peak_w) or peak_w < 0.0:
            return
        if self.month in ("", month) and (self.month_peak_w is None or peak_w > self.month_peak_w):
            self.month = month
            self.month_peak_w = peak_w

    def update(
        self, wall_s: float, import_w: float | None, *, target_w: float
    ) -> ImportWindow | None:
        """
        Account for the time since the last update and return where the window stands.

        `wall_s` is local wall-clock time in seconds (so that windows and months follow
        the utility's clock); `import_w` the meter's total power now, None when it gave
        none (the engine then falls back to an instantaneous cap). `target_w` is what an
        unmeasured stretch counts as.
        """
        if import_w is not None and not math.isfinite(import_w):
            import_w = None
        start_s = math.floor(wall_s / self.window_s) * self.window_s
        gap_s = wall_s - self.last_s
        if self.start_s is None or gap_s < 0.0 or gap_s > self.window_s:
            self._begin(start_s, wall_s, target_w, measured=False)
        else:
            rate_w = self.last_w if self.last_w is not None and gap_s <= MAX_GAP_S else None
            while start_s > self.start_s:
                # The stretch up to the window's end belongs to the window that closes.
                end_s = self.start_s + self.window_s
                self._add(end_s - self.last_s, rate_w, target_w)
                self._close(end_s)
                self._begin(end_s, end_s, target_w, measured=True)
            self._add(wall_s - self.last_s, rate_w, target_w)
        self.last_s = wall_s
        self.last_w = import_w
        if import_w is None:
            return None
        return ImportWindow(
            elapsed_s=wall_s - start_s, imported_wh=self.energy_j / _J_PER_WH, import_w=import_w
        )

    def status(self, wall_s: float) -> WindowStatus:
        """Return the current window's average and projection, and the month's peak."""
        month = month_of(wall_s)
        peak_w = self.month_peak_w if self.month == month else None
        average_w = projected_w = None
        if self.start_s is not None:
            elapsed_s = wall_s - self.start_s
            if elapsed_s >= 1.0:
                average_w = self.energy_j / elapsed_s
            if self.last_w is not None:
                left_s = max(0.0, self.window_s - elapsed_s)
                projected_w = (self.energy_j + max(0.0, self.last_w) * left_s) / self.window_s
        return WindowStatus(
            window_s=self.window_s,
            average_w=average_w,
            projected_w=projected_w,
            month_peak_w=peak_w,
            month=month,
        )

    def _begin(self, start_s: float, wall_s: float, target_w: float, *, measured: bool) -> None:
        self.start_s = start_s
        self.energy_j = target_w * (wall_s - start_s)
        self.measured = measured and wall_s == start_s
        self.last_s = wall_s

    def _add(self, seconds: float, rate_w: float | None, target_w: float) -> None:
        if rate_w is None:
            self.measured = False
        # Utilities bill what is imported: an export does not pay back an import.
        self.energy_j += (target_w if rate_w is None else max(0.0, rate_w)) * seconds
        self.last_s += seconds

    def _close(self, end_s: float) -> None:
        """Record a window that ends: the month's peak, if it was measured throughout."""
        month = month_of(end_s - 1.0)
        if month != self.month:
            self.month = month
            self.month_peak_w = None
        if not self.measured:
            return
        average_w = self.energy_j / self.window_s
        if self.month_peak_w is None or average_w > self.month_peak_w:
            self.month_peak_w = average_w
