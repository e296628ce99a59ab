"""The minimum time between writes of a charger behind another integration (a property)."""

from __future__ import annotations

from itertools import pairwise

from hypothesis import given
from hypothesis import strategies as st

from custom_components.headroom.devices.pacing import WritePacer

intervals = st.floats(min_value=0.0, max_value=600.0, allow_nan=False)
steps = st.lists(st.floats(min_value=0.0, max_value=30.0, allow_nan=False), max_size=200)


@given(interval_s=intervals, gaps_s=steps)
def test_writes_are_never_closer_than_the_interval_and_never_held_longer(
    interval_s: float, gaps_s: list[float]
) -> None:
    pacer = WritePacer(interval_s)
    now = 0.0
    allowed: list[float] = []
    for gap_s in gaps_s:
        now += gap_s
        last = allowed[-1] if allowed else None
        went = pacer.attempt(now)
        if went:
            allowed.append(now)
        # Never two writes inside the interval; once it has passed, the write goes.
        assert went == (last is None or now - last >= interval_s)
    assert all(b - a >= interval_s for a, b in pairwise(allowed))
