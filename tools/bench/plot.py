"""The benchmark's figure: grid current per phase, the limit, and each charger's current."""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING

import matplotlib as mpl

mpl.use("Agg")  # files only: no display on a build machine

import matplotlib.pyplot as plt

if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path

    from tools.bench.bench import Benchmark


def save_plot(benchmark: Benchmark, path: Path) -> None:
    """Draw the engine's run over the plot window (1 s steps) with the oracle's chargers."""
    scenario = benchmark.scenario
    site = scenario.site
    window = benchmark.plot_window
    headroom = benchmark.results["headroom"].trace
    oracle = benchmark.results["oracle"].trace
    if headroom is None or oracle is None:
        msg = "the runs recorded no trace to plot"
        raise ValueError(msg)

    def hours(times: Iterable[float]) -> list[float]:
        return [(time_s - window.start_s) / 3600 for time_s in times]

    figure, (grid_axes, charger_axes) = plt.subplots(
        2, 1, figsize=(14, 8), sharex=True, height_ratios=(3, 2)
    )
    title = (
        f"{scenario.name}: headroom engine, {window.description}, 1 s resolution\n"
        f"house load: {scenario.house_note}"
    )
    if scenario.pv_w is not None:
        title += "\n" + textwrap.fill(scenario.pv_note, width=180)
    figure.suptitle(title, fontsize=8)
    time_h = hours(headroom.time_s)
    for phase, currents in enumerate(headroom.grid_a, start=1):
        grid_axes.step(time_h, currents, where="post", linewidth=0.7, label=f"grid L{phase}")
    if scenario.pv_w is not None:
        grid_axes.step(
            time_h,
            headroom.pv_a,
            where="post",
            linewidth=0.7,
            color="goldenrod",
            label="PV per phase",
        )
    grid_axes.axhline(site.breaker_a, color="red", linewidth=1, label="breaker rating")
    grid_axes.axhline(
        site.breaker_a - site.margin_a,
        color="red",
        linestyle="--",
        linewidth=0.8,
        label="breaker - margin",
    )
    grid_axes.set_ylabel("grid current (A)")
    grid_axes.legend(loc="upper left", fontsize=8, ncols=3)
    grid_axes.grid(alpha=0.3)

    oracle_h = hours(oracle.time_s)
    for name, draw in headroom.draw_a.items():
        lines = charger_axes.step(time_h, draw, where="post", linewidth=0.9, label=f"{name} draw")
        charger_axes.step(
            oracle_h,
            oracle.draw_a[name],
            where="post",
            linewidth=0.8,
            linestyle="--",
            alpha=0.5,
            color=lines[0].get_color(),
            label=f"{name} oracle",
        )
    charger_axes.set_ylabel("charger current (A)")
    charger_axes.set_xlabel(f"hours after {window.description.split(' ')[0]} 00:00")
    charger_axes.legend(loc="upper left", fontsize=8, ncols=2)
    charger_axes.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
