"""Solar charging: the power the chargers may take from PV, and the start/stop gate."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .model import SolarSettings, SurplusReading

_J_PER_WH = 3600.0
NIGHT_S = 3600.0
"""No PV power for the cars for this long ends the solar day (`RideThrough`'s debt)."""


def solar_power_w(
    surplus: SurplusReading | None, *, now: float, chargers_draw_w: float, stale_after_s: float
) -> float:
    """
    Power the chargers may take from PV without importing from the grid.

    The surplus is the grid export the house sensors report, which already includes what
    the chargers draw now; the chargers may therefore take their present draw plus the
    surplus. Counting the surplus alone would halve every step and make the loop swing.
    A stale or missing surplus counts as no PV at all, so solar charging winds down.
    """
    if surplus is None or now - surplus.at > stale_after_s:
        return 0.0
    return max(0.0, chargers_draw_w + surplus.power_w)


def grid_import_w(
    surplus: SurplusReading | None, *, now: float, chargers_draw_w: float, stale_after_s: float
) -> float:
    """Return what the chargers draw from the grid now (all of it, surplus unknown)."""
    if surplus is None or now - surplus.at > stale_after_s:
        return chargers_draw_w
    return min(chargers_draw_w, max(0.0, -surplus.power_w))


@dataclass(slots=True)
class DrawHistory:
    """
    What the chargers drew recently.

    A surplus reading can lag the charger readings by seconds; paired with the draw it
    saw, it still gives the right PV power instead of counting a change twice.
    """

    keep_s: float
    samples: deque[tuple[float, float]] = field(default_factory=deque)

    def add(self, now: float, draw_w: float) -> None:
        """Record the chargers' draw now and forget what no surplus can refer to."""
        self.samples.append((now, draw_w))
        while len(self.samples) > 1 and self.samples[1][0] <= now - self.keep_s:
            self.samples.popleft()

    def at(self, time_s: float) -> float:
        """Return the draw at `time_s` (the latest sample not after it, else the oldest)."""
        for sample_s, draw_w in reversed(self.samples):
            if sample_s <= time_s:
                return draw_w
        return self.samples[0][1]


@dataclass(slots=True)
class SurplusMean:
    """
    The PV power left for the cars, averaged over the last `keep_s` (every cycle alike).

    A car that would start beside running ones asks it (`SolarSettings.join_mean_s`): a
    sunny spell of a minute or two is no reason to start a second car that the next cloud
    stops again.
    """

    keep_s: float
    samples: deque[tuple[float, float]] = field(default_factory=deque)
    total_w: float = 0.0

    def add(self, now: float, power_w: float) -> float:
        """
        Record the PV power for the cars now; return its mean over the last `keep_s`.

        A power that is not a finite number counts as none (no PV to start a car on).
        """
        if not math.isfinite(power_w):
            power_w = 0.0
        self.samples.append((now, power_w))
        self.total_w += power_w
        while len(self.samples) > 1 and self.samples[0][0] <= now - self.keep_s:
            self.total_w -= self.samples.popleft()[1]
        if len(self.samples) == 1:
            self.total_w = power_w  # no rounding carried over from what was forgotten
        return self.total_w / len(self.samples)


@dataclass(slots=True)
class RideThrough:
    """
    Solar only: the grid energy the cars may spend to ride through passing clouds.

    A bucket: every watt-hour of solar energy the cars take adds `ride_through_share` of a
    watt-hour, up to `ride_through_wh`; every watt-hour they draw from the grid takes one
    out. While it holds energy, a running car whose minimum the surplus no longer covers
    keeps charging at its minimum instead of stopping: a homeowner's car keeps charging
    at 6 A through a passing cloud, paying from the grid at most that share of the solar
    energy it took (plus the bucket's one fill), and a long overcast spell stops it as
    before once the bucket is empty.

    The bucket can go below empty within a solar day: the grid energy of a stop delay or
    of the last ride's final seconds is owed and paid back from the next solar energy, so
    the day's grid share stays bounded. A debt does not outlive the solar day, though:
    once no PV power has been left for the cars for `NIGHT_S` (the night), what is owed
    is forgiven, and the next morning's first cloud finds the bucket empty, not in debt.
    """

    balance_j: float = 0.0
    last_at: float | None = None
    dark_since: float | None = None
    """Since when no PV power has been left for the cars (None: there is some now)."""

    def update(
        self,
        *,
        solar_w: float,
        import_w: float,
        now: float,
        settings: SolarSettings,
        pv_w: float | None = None,
    ) -> bool:
        """
        Feed the cars' solar and grid power now; return whether a car may ride through.

        `pv_w`: the PV power the chargers may take now (None: not known, never dark).
        """
        if self.last_at is not None:
            elapsed_s = max(0.0, now - self.last_at)
            earned_j = settings.ride_through_share * max(0.0, solar_w) * elapsed_s
            self.balance_j += earned_j - max(0.0, import_w) * elapsed_s
            self.balance_j = min(self.balance_j, settings.ride_through_wh * _J_PER_WH)
        self.last_at = now
        if pv_w is None or pv_w > 0.0:
            self.dark_since = None
        elif self.dark_since is None:
            self.dark_since = now
        elif now - self.dark_since >= NIGHT_S:
            self.balance_j = max(self.balance_j, 0.0)
        return self.balance_j > 0.0

    @property
    def balance_wh(self) -> float:
        """Return the grid energy saved up for riding (below zero: owed)."""
        return self.balance_j / _J_PER_WH

    def pause(self) -> None:
        """Stop counting (not in solar-only mode): the time until the next update is none."""
        self.last_at = None


@dataclass(slots=True)
class SolarGate:
    """
    Solar only: whether a charger may run, with start and stop delays against flapping.

    While the site's ride-through budget (`RideThrough`) lasts, a running car whose
    minimum the surplus no longer covers keeps charging at its minimum instead of stopping.
    """

    on: bool = False
    covered_since: float | None = None
    short_since: float | None = None
    short_import_j: float = 0.0
    """Grid energy drawn since the surplus fell short."""
    last_at: float = 0.0
    ran_s: float = 0.0
    """How long it has run on the surplus since its car came: who goes first next."""
    fits_since: float | None = None
    """Waiting: since when the surplus has carried its minimum alone (see `fits`)."""
    yielding: bool = False
    """Running: a car that takes more of the surplus takes over; this one stops, not rides."""

    def update(
        self,
        *,
        covered: bool,
        now: float,
        import_w: float,
        settings: SolarSettings,
        riding: bool = False,
    ) -> bool:
        """
        Feed whether the surplus covers the charger's minimum now; return whether it runs.

        It starts once the surplus has covered the minimum for the start delay and stops
        once it has not for the stop delay, or sooner once the grid energy drawn since
        then reaches the stop budget (a cloud that takes all the PV should not cost three
        minutes of grid power); in between it keeps its state. While `riding` (the site's
        ride-through budget lasts, see `RideThrough`) a running car does not stop.
        """
        if self.on:
            self.ran_s += now - self.last_at
        if covered:
            self.short_since = None
            self.yielding = False
            if self.covered_since is None:
                self.covered_since = now
            if now - self.covered_since >= settings.start_delay_s:
                self.on = True
        else:
            self.covered_since = None
            if self.short_since is None:
                self.short_since = now
                self.short_import_j = 0.0
            else:
                self.short_import_j += import_w * (now - self.last_at)
            over_budget = self.short_import_j >= settings.stop_import_wh * _J_PER_WH
            stop = now - self.short_since >= settings.stop_delay_s or over_budget
            if stop and not riding:
                self.on = False
                self.yielding = False
        self.last_at = now
        return self.on

    def reset(self) -> None:
        """Forget the surplus history (the car left or does not want charge)."""
        self.on = False
        self.covered_since = None
        self.short_since = None
        self.ran_s = 0.0
        self.fits_since = None
        self.yielding = False

    def fits(self, *, alone: bool, now: float) -> float:
        """
        Feed whether the surplus carries this waiting car's minimum alone; return how long.

        Alone: not beside the running ones. The time counts without a break; 0 while the
        car runs.
        """
        if not alone or self.on:
            self.fits_since = None
            return 0.0
        if self.fits_since is None:
            self.fits_since = now
        return now - self.fits_since
