"""`scripts/bench SCENARIO.yaml [--json] [--plot FILE.png] [--hindsight]`: the benchmark."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path

from tools.bench.bench import run_benchmark
from tools.bench.controllers import OracleController
from tools.bench.hindsight import describe as describe_hindsight
from tools.bench.hindsight import hindsight
from tools.bench.report import describe, format_table
from tools.bench.runner import run
from tools.bench.scenario import ScenarioError, load_scenario


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; 0 on success, 2 on a bad scenario or argument."""
    parser = argparse.ArgumentParser(
        prog="scripts/bench",
        description=(
            "Run the balancing engine and three baselines (static, uncontrolled, oracle) "
            "against the site model of a scenario, at one-second steps."
        ),
    )
    parser.add_argument("scenario", type=Path, help="scenario YAML (DESIGN section 6)")
    parser.add_argument(
        "--json", action="store_true", help="print one JSON object instead of the table"
    )
    parser.add_argument("--plot", type=Path, metavar="FILE.png", help="save a figure")
    parser.add_argument(
        "--plot-day",
        type=dt.date.fromisoformat,
        metavar="YYYY-MM-DD",
        help="the day to plot (default: a representative day of the window)",
    )
    parser.add_argument(
        "--peak-cap",
        action="store_true",
        help=(
            "with a peak section: run the engine with a plain instantaneous cap at the "
            "target instead of the window budget (the variant to compare)"
        ),
    )
    parser.add_argument(
        "--hindsight",
        action="store_true",
        help=(
            "solar only: instead of the four runs, find the on/off schedule of the cars that "
            "takes the most PV within --stops-per-day and --grid-share knowing the whole "
            "week's clouds, and run it (what a perfect forecast would be worth)"
        ),
    )
    parser.add_argument(
        "--stops-per-day",
        type=float,
        default=2.0,
        metavar="N",
        help="with --hindsight: stops per car per day at most (default 2)",
    )
    parser.add_argument(
        "--grid-share",
        type=float,
        default=0.03,
        metavar="X",
        help="with --hindsight: grid energy as a share of the EV energy at most (default 0.03)",
    )
    args = parser.parse_args(argv)
    if args.hindsight:
        return _hindsight(args.scenario, stops_per_day=args.stops_per_day, grid=args.grid_share)
    try:
        scenario = load_scenario(args.scenario)
        benchmark = run_benchmark(scenario, plot_day=args.plot_day, peak_cap=args.peak_cap)
    except (ScenarioError, ValueError) as err:
        print(f"scripts/bench: {err}", file=sys.stderr)
        return 2
    if args.json:
        # stdout holds exactly the JSON object; what was simulated goes to stderr.
        for line in describe(benchmark):
            print(line, file=sys.stderr)
        print(json.dumps(benchmark.as_json(), indent=2))
    else:
        print(format_table(benchmark))
    if args.plot is not None:
        from tools.bench.plot import save_plot  # noqa: PLC0415  (matplotlib is slow to import)

        save_plot(benchmark, args.plot)
        print(f"plot: {args.plot} ({benchmark.plot_window.description})", file=sys.stderr)
    return 0


def _hindsight(path: Path, *, stops_per_day: float, grid: float) -> int:
    """Print the best schedule knowing the week; 0, or 2 on a bad scenario."""
    try:
        scenario = load_scenario(path)
        found = hindsight(scenario, stops_per_day=stops_per_day, grid_share=grid)
    except (ScenarioError, ValueError) as err:
        print(f"scripts/bench: {err}", file=sys.stderr)
        return 2
    oracle = run(scenario, OracleController(scenario))
    for line in describe_hindsight(scenario, found, oracle):
        print(line)
    return 0
