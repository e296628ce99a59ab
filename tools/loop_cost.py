"""
The control loop's cost per cycle inside a running Home Assistant: bus time and CPU time.

    .venv/bin/python -m tools.loop_cost [--seconds 120] [--json]

A benchmark, not a test (about 2.5 minutes; `--seconds 1800` is the 30-minute soak). The
device simulator (in this process) serves an Eastron SDM630 and two Heidelberg chargers with
cars on a pty RS-485 line at 9600 baud 8N1, the wire time of every frame emulated; a real
Home Assistant (`hass`, a child process with a fresh configuration) runs this integration,
set up through its REST config flow. Every 15 s the benchmark downloads the site's
diagnostics, which keep each of the last cycles' wall time (`duration_s`: nearly all of it
waiting on the bus) and CPU time (`cpu_s`: the event-loop thread's CPU during the cycle, so
an upper bound: other Home Assistant work that ran while the cycle waited on the bus is
counted in it), and reports control cycles and full-read cycles (energy counters, voltages;
each device every 10th cycle, on a cycle of its own) apart. The control loop ticks every
second: a gap of more than 1.5 s between two cycles' start times is a skipped cycle (the
site's own count of ticks it had to skip is in the diagnostics too, and reported beside it).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Final

from tools.demo.harness import HassError
from tools.demo.live import BAUD, LiveSite, live_site
from tools.simulator import StaticCharger, StaticSite

SKIPPED_GAP_S: Final = 1.5
"""Two cycles further apart than this (on a 1 s tick) have a skipped one between them."""
SAMPLE_EVERY_S: Final = 15.0
"""Diagnostics keep the last 20 cycles: sampling faster than that loses none."""


def summarize(cycles: list[dict[str, Any]]) -> dict[str, Any]:
    """Return median, p90 and max of wall and CPU time, control and full-read cycles apart."""

    def figures(records: list[dict[str, Any]]) -> dict[str, Any]:
        walls = sorted(record["duration_s"] * 1000 for record in records)
        cpus = sorted(record["cpu_s"] * 1000 for record in records)
        if not walls:
            return {"cycles": 0}
        return {
            "cycles": len(walls),
            "bus_ms": _stats(walls),
            "cpu_ms": _stats(cpus),
        }

    slowest = sorted(range(len(cycles)), key=lambda i: -cycles[i]["duration_s"])[:3]
    starts = [cycle["snapshot"]["now"] for cycle in cycles]
    gaps = [later - earlier for earlier, later in itertools.pairwise(starts)]
    return {
        "cycles": len(cycles),
        "skipped_cycles": sum(round(gap) - 1 for gap in gaps if gap > SKIPPED_GAP_S),
        "gap_max_s": round(max(gaps, default=0.0), 3),
        "all_bus_ms": _stats(sorted(c["duration_s"] * 1000 for c in cycles)) if cycles else {},
        "control": figures([c for c in cycles if not c["full"]]),
        "full": figures([c for c in cycles if c["full"]]),
        # Which cycles were slowest: the first (arming the watchdogs, reading identities)?
        "slowest": [
            {
                "cycle": index + 1,
                "bus_ms": round(cycles[index]["duration_s"] * 1000, 1),
                "writes": cycles[index]["writes"],
                "full": cycles[index]["full"],
            }
            for index in slowest
        ],
    }


def _stats(ordered: list[float]) -> dict[str, float]:
    def percentile(share: float) -> float:
        return ordered[min(len(ordered) - 1, round(share * len(ordered) + 0.5) - 1)]

    return {
        "median": round(statistics.median(ordered), 1),
        "p90": round(percentile(0.9), 1),
        "p99": round(percentile(0.99), 1),
        "max": round(ordered[-1], 1),
    }


def collect(live: LiveSite, seconds: float) -> tuple[list[dict[str, Any]], int]:
    """
    Download the diagnostics every `SAMPLE_EVERY_S` for `seconds`; every cycle once.

    Also returns the site's own count of skipped ticks at the end.
    """
    seen: dict[float, dict[str, Any]] = {}
    deadline = time.monotonic() + seconds
    while True:
        live.check()
        path = f"/api/diagnostics/config_entry/{live.entry_id}"
        try:
            diagnostics = live.client.request("GET", path)
        except HassError as err:
            if "HTTP 401" in str(err):
                # Access tokens last 30 minutes: a soak outlives its first one.
                live.client.login()
                continue
            # Until the entry has loaded (the flow returns before), there are none yet.
            if seen or time.monotonic() >= deadline:
                raise
            time.sleep(1.0)
            continue
        for cycle in diagnostics["data"]["cycles"]:
            seen[cycle["snapshot"]["now"]] = cycle
        if time.monotonic() >= deadline:
            skipped = int(diagnostics["data"]["loop"]["skipped_cycles"])
            return [seen[now] for now in sorted(seen)], skipped
        time.sleep(min(SAMPLE_EVERY_S, max(deadline - time.monotonic(), 0.0)))


async def run(seconds: float, workdir: Path) -> dict[str, Any]:
    """Start the simulator here and Home Assistant as a child; sample the cycles."""
    site = StaticSite(
        house_currents_a=(6.0, 4.0, 3.0),
        chargers=[
            StaticCharger(name="garage", car_max_a=16.0, car_phases=3),
            StaticCharger(name="carport", car_max_a=16.0, car_phases=1),
        ],
    )
    async with live_site(site, workdir) as live:
        print(f"site added; sampling the cycles for {seconds:g} s", file=sys.stderr, flush=True)
        cycles, skipped = await asyncio.to_thread(collect, live, seconds)
    return {**summarize(cycles), "skipped_by_site": skipped}


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(prog="python -m tools.loop_cost", description=__doc__)
    parser.add_argument("--seconds", type=float, default=120.0, help="how long to sample (120)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="headroom-loop-") as tmp:
        summary = asyncio.run(run(args.seconds, Path(tmp)))
    if args.json:
        print(json.dumps({"baud": BAUD, **summary}))
        return 0
    print(f"loop cost per cycle inside Home Assistant ({BAUD} baud, wire time emulated):")
    print(
        f"  {summary['cycles']} cycles sampled, {summary['skipped_cycles']} skipped "
        f"(the site counted {summary['skipped_by_site']}), longest gap {summary['gap_max_s']} s, "
        f"cycle p99 {summary['all_bus_ms'].get('p99')} ms"
    )
    for kind in ("control", "full"):
        figures = summary[kind]
        if not figures["cycles"]:
            continue
        bus, cpu = figures["bus_ms"], figures["cpu_ms"]
        print(
            f"  {kind:8} {figures['cycles']:>4} cycles  "
            f"wall (bus) median {bus['median']} ms, p90 {bus['p90']} ms, max {bus['max']} ms; "
            f"CPU median {cpu['median']} ms, p90 {cpu['p90']} ms, max {cpu['max']} ms"
        )
    slowest = ", ".join(
        f"#{c['cycle']} {c['bus_ms']} ms ({c['writes']} writes{', full read' if c['full'] else ''})"
        for c in summary["slowest"]
    )
    print(f"  slowest (numbered from the first cycle sampled): {slowest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
