"""The loop-cost benchmark's summary of the diagnostics' cycles."""

from __future__ import annotations

from tools.loop_cost import summarize


def cycle(duration_s: float, cpu_s: float, *, details: bool = False, writes: int = 0) -> dict:
    return {"duration_s": duration_s, "cpu_s": cpu_s, "details": details, "writes": writes}


def test_control_and_detail_cycles_are_summarized_apart() -> None:
    cycles = [
        cycle(1.1, 0.02, details=True, writes=8),  # the first: arming the watchdogs
        *(cycle(0.120 + i / 1000, 0.004) for i in range(9)),
        cycle(0.450, 0.008, details=True),
        *(cycle(0.125, 0.005) for _ in range(9)),
    ]
    summary = summarize(cycles)
    control = summary["control"]
    assert control["cycles"] == 18
    assert control["bus_ms"]["median"] == 125.0
    assert control["bus_ms"]["max"] == 128.0
    assert control["cpu_ms"]["p90"] == 5.0
    details = summary["details"]
    assert details["cycles"] == 2
    assert details["bus_ms"]["max"] == 1100.0
    assert summary["slowest"][0] == {"cycle": 1, "bus_ms": 1100.0, "writes": 8, "details": True}
    assert summary["slowest"][1]["cycle"] == 11


def test_no_detail_cycle_sampled() -> None:
    summary = summarize([cycle(0.1, 0.001)])
    assert summary["details"] == {"cycles": 0}
    assert summary["control"]["bus_ms"] == {"median": 100.0, "p90": 100.0, "max": 100.0}
