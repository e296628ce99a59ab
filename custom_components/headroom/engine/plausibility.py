"""
Which meter readings are measurements at all.

A grid phase current is signed: positive while importing, negative while exporting. Both
load the main breaker, but the chargers can only add to an import (and only take from an
export), so the engine takes the house load as import minus the chargers' draw, never
below zero: export gives the chargers no room beyond the breaker rating, and takes none.

Some values cannot be measurements, whatever the meter's CRC says:
- an export larger than the breaker rating: the PV would have to push more through the
  main breaker than it carries. Real causes are a current transformer mounted the wrong way
  round under a heavy import, a wrong scale, or garbage. Taking it as export would give the
  chargers the whole breaker while the house may be near its limit;
- an import of more than `MAX_IMPORT_RATIO` times the rating: the breaker's instantaneous
  release opens well below that (5-10 times for the B and C curves of IEC 60898).
Such a reading is treated as a meter that did not answer: after the stale time the chargers
go to the fail-safe current. A real overload up to several times the rating is a reading,
and is cut at once.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Iterable

MAX_IMPORT_RATIO: Final = 10.0
"""An import above this many times the breaker rating is no measurement."""


def implausible_currents(currents_a: Iterable[float | None], breaker_a: float) -> str | None:
    """Say why these grid phase currents are no measurement, or None when they are one."""
    for phase, current_a in enumerate(currents_a, start=1):
        if current_a is None or not math.isfinite(current_a):
            return f"L{phase} current is not a number: {current_a}"
        if current_a < -breaker_a:
            return (
                f"L{phase} exports {-current_a:g} A, more than the {breaker_a:g} A breaker "
                "carries (a current transformer the wrong way round?)"
            )
        if current_a > MAX_IMPORT_RATIO * breaker_a:
            return f"L{phase} imports {current_a:g} A, beyond what a {breaker_a:g} A supply carries"
    return None
