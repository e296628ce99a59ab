"""
End-to-end latency: a house load step at the meter to the charger's new current limit.

    .venv/bin/python -m tools.e2e_latency [--steps 100] [--seed 1] [--json]

A benchmark, not a test (about 10 minutes for 100 steps). It runs the whole chain as in a
home: the device simulator (in this process) serves an Eastron SDM630 and two Heidelberg
chargers on a pty RS-485 line at 9600 baud 8N1 with the wire time of every frame emulated;
a real Home Assistant (`hass`, a child process with a fresh configuration) runs this
integration, set up through its REST config flow, and reads the meter once a second. Each
step raises the house load on L1 to 2 A more than the garage's car leaves room for under
the breaker, so the engine must cut the car's current in the next cycle; the latency is from
the step to the moment the simulated charger receives the new limit (its register write).
Steps come at random moments of the one-second cycle (seeded), so the figures include the
wait for the next meter read. Once the limit is below 10 A the load drops back and the car
climbs again (the engine raises gently: that time is not counted).

Home Assistant gets its port as its default (SETUP_PORT), not from an `http:` block, which
2026.10 would turn into a trial setting reverted after 5 minutes with a restart (a plain
`hass` then stops, and earlier runs ended after 40-51 steps); see `tools.demo.harness`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Final

from tools.demo.live import BAUD, live_site
from tools.simulator import StaticCharger, StaticSite

if TYPE_CHECKING:
    from collections.abc import Callable

BREAKER_A: Final = 25.0
MARGIN_A: Final = 1.0
CAR_MAX_A: Final = 16.0
BASE_HOUSE_A: Final = (BREAKER_A - MARGIN_A - CAR_MAX_A, 2.0, 2.0)
"""The house load that, with the car at 16 A, leaves no headroom on L1."""
STEP_A: Final = 2.0
MIN_START_A: Final = 10.0
"""Cut from 16 A down to 8 A at most (clear of the 6 A pause), then let the car climb."""
RESUME_A: Final = 12.0
"""The limit from which the cuts start again."""
CUT_TIMEOUT_S: Final = 10.0
RECOVER_TIMEOUT_S: Final = 400.0
"""Long enough for a pause (5 minutes at least) should a cut ever go below 6 A."""
TARGET_P99_S: Final = 1.5


class SteppedSite(StaticSite):
    """The static site with a house load that can step, and every setpoint write timed."""

    def __init__(self) -> None:
        """Two chargers: a car in the garage (3-phase, 16 A), none in the carport."""
        super().__init__(
            house_currents_a=BASE_HOUSE_A,
            chargers=[
                StaticCharger(name="garage", car_max_a=CAR_MAX_A, car_phases=3, response_s=1.0),
                StaticCharger(name="carport", car_connected=False),
            ],
        )
        self.writes: list[tuple[float, str, float]] = []
        """(monotonic time, charger, limit) of every setpoint the chargers received."""

    def set_house(self, currents_a: tuple[float, ...]) -> None:
        """Change the house load at once (the meter reports it from its next read)."""
        self._house = currents_a

    def set_setpoint(self, charger_name: str, current_a: float) -> None:
        """Record the write, then apply it."""
        self.writes.append((time.monotonic(), charger_name, current_a))
        super().set_setpoint(charger_name, current_a)

    def setpoint_a(self, name: str) -> float:
        """Return the limit the charger applies now."""
        return self.chargers[name].setpoint_a


@dataclass
class Result:
    """The latencies measured, in seconds."""

    latencies_s: list[float] = field(default_factory=list)
    missed: int = 0

    def summary(self) -> dict[str, float | int]:
        """Return steps, p50, p90, p99, max and mean."""
        ordered = sorted(self.latencies_s)
        return {
            "steps": len(ordered),
            "missed": self.missed,
            "p50_s": round(percentile(ordered, 50), 3),
            "p90_s": round(percentile(ordered, 90), 3),
            "p99_s": round(percentile(ordered, 99), 3),
            "max_s": round(ordered[-1], 3) if ordered else float("nan"),
            "mean_s": round(statistics.fmean(ordered), 3) if ordered else float("nan"),
        }


def percentile(ordered: list[float], pct: float) -> float:
    """Return the `pct` percentile of sorted values (nearest rank)."""
    if not ordered:
        return float("nan")
    rank = max(1, round(pct / 100 * len(ordered) + 0.5 - 1e-9))
    return ordered[min(rank, len(ordered)) - 1]


def _still_running() -> None:
    """Check nothing (measure() without a Home Assistant to watch)."""


async def wait_for(
    predicate: Callable[[], bool],
    timeout_s: float,
    poll_s: float = 0.01,
    check: Callable[[], None] = _still_running,
) -> bool:
    """Poll `predicate()` until true or `timeout_s` passes; `check()` raises to give up."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        check()
        await asyncio.sleep(poll_s)
    return False


async def measure(
    site: SteppedSite,
    steps: int,
    rng: random.Random,
    check: Callable[[], None] = _still_running,
) -> Result:
    """
    Step the house load `steps` times; time each cut of the garage's limit.

    Each step raises L1 to 2 A more than the garage's present limit leaves room for, so
    every step needs a cut whatever the limit is now. Below 10 A the load drops back and
    the car is given up to `RECOVER_TIMEOUT_S` to climb again (the engine raises gently).
    `check()` raises when the run cannot go on (Home Assistant has exited).
    """
    result = Result()
    limit_a = BREAKER_A - MARGIN_A
    if not await wait_for(
        lambda: site.setpoint_a("garage") >= CAR_MAX_A, RECOVER_TIMEOUT_S, check=check
    ):
        msg = f"the garage did not reach {CAR_MAX_A:g} A within {RECOVER_TIMEOUT_S:g} s"
        raise RuntimeError(msg)
    while len(result.latencies_s) + result.missed < steps:
        before = site.setpoint_a("garage")
        if before < MIN_START_A:
            site.set_house(BASE_HOUSE_A)
            if not await wait_for(
                lambda: site.setpoint_a("garage") >= RESUME_A, RECOVER_TIMEOUT_S, check=check
            ):
                msg = f"the garage stayed below {RESUME_A:g} A for {RECOVER_TIMEOUT_S:g} s"
                raise RuntimeError(msg)
            continue
        await asyncio.sleep(rng.uniform(1.0, 2.0))  # a random moment of the cycle
        check()
        before = site.setpoint_a("garage")
        house = list(BASE_HOUSE_A)
        house[0] = limit_a - before + STEP_A
        stepped_at = time.monotonic()
        site.set_house(tuple(house))

        def cut(was_a: float = before) -> bool:
            return site.setpoint_a("garage") < was_a

        if not await wait_for(cut, CUT_TIMEOUT_S, check=check):
            result.missed += 1
            continue
        write_at = next(
            t
            for t, name, value in site.writes
            if t >= stepped_at and name == "garage" and value < before
        )
        result.latencies_s.append(write_at - stepped_at)
        print(
            f"step {len(result.latencies_s):>3}: house L1 {house[0]:4.1f} A -> "
            f"limit {site.setpoint_a('garage'):4.1f} A after {write_at - stepped_at:.3f} s",
            file=sys.stderr,
            flush=True,
        )
    return result


async def run(steps: int, seed: int, workdir: Path) -> Result:
    """Start the simulator here and Home Assistant as a child; measure."""
    site = SteppedSite()
    async with live_site(site, workdir, breaker_a=BREAKER_A) as live:
        print("site added; waiting for the garage to reach 16 A", file=sys.stderr, flush=True)
        return await measure(site, steps, random.Random(seed), live.check)  # noqa: S311 (timing)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(prog="python -m tools.e2e_latency", description=__doc__)
    parser.add_argument("--steps", type=int, default=100, help="load steps to time (100)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the step timing (1)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="headroom-latency-") as tmp:
        result = asyncio.run(run(args.steps, args.seed, Path(tmp)))
    summary = result.summary()
    if args.json:
        print(json.dumps({"baud": BAUD, "meter_period_s": 1.0, **summary}))
    else:
        print(
            f"end-to-end latency, load step -> charger limit written ({BAUD} baud, wire time "
            f"emulated, meter read every 1 s, real Home Assistant):\n"
            f"  steps {summary['steps']} (missed {summary['missed']})  "
            f"p50 {summary['p50_s']:.3f} s  p90 {summary['p90_s']:.3f} s  "
            f"p99 {summary['p99_s']:.3f} s  "
            f"max {summary['max_s']:.3f} s  mean {summary['mean_s']:.3f} s  "
            f"(target p99 <= {TARGET_P99_S} s)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
