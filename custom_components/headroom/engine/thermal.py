"""
Thermal derating: a hot charger gets less current, step by step, and pauses when too hot.

A charger that reports its temperature (Heidelberg: PCB temperature, Alfen: station
temperature) is read on the slow detail cadence; `ThermalGate` turns those readings into a
cap on the charger's current, with the reason `temperature`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class ThermalLimits:
    """When a charger derates and when it pauses (degrees Celsius, seconds, amperes)."""

    derate_c: float
    """At or above this the charger's cap is lowered one step per `step_s`."""
    stop_c: float
    """At or above this it pauses, until it has cooled to `stop_c - hysteresis_c`."""
    hysteresis_c: float = 10.0
    """It must cool this far below a limit before the cap goes back up or it resumes."""
    step_a: float = 2.0
    step_s: float = 60.0
    """Temperature follows current over minutes: one step per minute gives it time."""

    @property
    def workable(self) -> bool:
        """Whether these limits can work: derating below the stop, positive steps."""
        return (
            self.derate_c < self.stop_c
            and self.hysteresis_c > 0.0
            and self.step_a > 0.0
            and self.step_s >= 0.0
        )


@dataclass(slots=True)
class ThermalGate:
    """A charger's temperature cap: lowered step by step while hot, raised as it cools."""

    cap_a: float | None = None
    """The most the charger may get (None: no cap)."""
    stopped: bool = False
    stepped_at: float | None = None

    def update(  # noqa: PLR0913
        self,
        *,
        temperature_c: float | None,
        limits: ThermalLimits,
        drawn_a: float,
        min_a: float,
        max_a: float,
        now: float,
    ) -> float | None:
        """
        Feed the temperature read (None: not read, the gate keeps its state) and return the cap.

        0 while stopped. The first derating step starts from what the charger draws
        (`drawn_a`, its setpoint when it cannot measure), so that it is a real cut.
        """
        if temperature_c is None or not math.isfinite(temperature_c):
            return self.limit()
        due = self.stepped_at is None or now - self.stepped_at >= limits.step_s
        if temperature_c >= limits.stop_c:
            self.stopped = True
            self.cap_a = min_a
            self.stepped_at = now
        elif self.stopped:
            if temperature_c <= limits.stop_c - limits.hysteresis_c:
                # Resume at the minimum; the cap rises step by step as it cools further.
                self.stopped = False
                self.stepped_at = now
        elif temperature_c >= limits.derate_c:
            if due:
                start_a = self.cap_a if self.cap_a is not None else max(drawn_a, min_a)
                self.cap_a = max(min_a, math.floor(start_a - limits.step_a))
                self.stepped_at = now
        elif (
            self.cap_a is not None
            and temperature_c <= limits.derate_c - limits.hysteresis_c
            and due
        ):
            self.cap_a += limits.step_a
            self.stepped_at = now
            if self.cap_a >= max_a:
                self.cap_a = None
        return self.limit()

    def limit(self) -> float | None:
        """Return the cap in force: 0 while stopped, None when there is none."""
        return 0.0 if self.stopped else self.cap_a
