"""The loop-cost benchmark's summary of the diagnostics' cycles."""

from __future__ import annotations

from tools.loop_cost import summarize


def cycle(
    duration_s: float, cpu_s: float, *, full: bool = False, writes: int = 0, now: float = 0.0
) -> dict:
    return {
        "duration_s": duration_s,
        "cpu_s": cpu_s,
        "full": full,
        "writes": writes,
        "snapshot": {"now": now},
    }


def test_control_and_detail_cycles_are_summarized_apart() -> None:
    cycles = [
        cycle(1.1, 0.02, full=True, writes=8),  # the first: arming the watchdogs
        *(cycle(0.120 + i / 1000, 0.004) for i in range(9)),
        cycle(0.450, 0.008, full=True),
        *(cycle(0.125, 0.005) for _ in range(9)),
    ]
    summary = summarize(cycles)
    control = summary["control"]
    assert control["cycles"] == 18
    assert control["bus_ms"]["median"] == 125.0
    assert control["bus_ms"]["max"] == 128.0
    assert control["cpu_ms"]["p90"] == 5.0
    full = summary["full"]
    assert full["cycles"] == 2
    assert full["bus_ms"]["max"] == 1100.0
    assert summary["slowest"][0] == {"cycle": 1, "bus_ms": 1100.0, "writes": 8, "full": True}
    assert summary["slowest"][1]["cycle"] == 11


def test_no_detail_cycle_sampled() -> None:
    summary = summarize([cycle(0.1, 0.001)])
    assert summary["full"] == {"cycles": 0}
    assert summary["control"]["bus_ms"] == {
        "median": 100.0,
        "p90": 100.0,
        "p99": 100.0,
        "max": 100.0,
    }


def test_gaps_between_cycle_starts_count_as_skipped_cycles() -> None:
    starts = [0.0, 1.0, 2.0, 4.1, 5.0, 5.9, 9.0]  # 2.1 s: one tick skipped; 3.1 s: two
    summary = summarize([cycle(0.1, 0.001, now=now) for now in starts])
    assert summary["cycles"] == 7
    assert summary["skipped_cycles"] == 3
    assert summary["gap_max_s"] == 3.1
    # A late cycle (1.2 s after the one before) is not a skipped one.
    assert summarize([cycle(0.1, 0.001, now=n) for n in (0.0, 1.2, 2.0)])["skipped_cycles"] == 0
