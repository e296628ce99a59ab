"""
The minimum time between writes to a device (cloud integrations rate-limit their API).

Every attempt counts, whether it succeeds or fails: a write that fails is retried at the
next allowed moment, never in a tight loop.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(slots=True)
class WritePacer:
    """Lets writes through at least `min_interval_s` apart."""

    min_interval_s: float
    last_attempt_at: float = -math.inf

    def wait_s(self, now: float) -> float:
        """Return how long until the next write is allowed (0: now)."""
        return max(0.0, self.last_attempt_at + self.min_interval_s - now)

    def attempt(self, now: float) -> bool:
        """Take the write slot at `now` if it is free; tell whether the write may go."""
        if now - self.last_attempt_at < self.min_interval_s:
            return False
        self.last_attempt_at = now
        return True
