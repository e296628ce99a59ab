"""The benchmark's readable table."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tools.bench.bench import RUNS

if TYPE_CHECKING:
    from tools.bench.bench import Benchmark

_ROWS = (
    ("overload", ("amp_seconds",), "overload A*s"),
    ("overload", ("max_excess_a",), "max excess A"),
    ("overload", ("longest_s",), "longest excess s"),
    ("overload", ("events",), "excess events"),
    ("ev", ("total_kwh",), "EV energy kWh"),
    ("ev", ("headroom_used",), "headroom used"),
    ("stability", ("setpoint_changes_per_hour",), "setpoint changes/h"),
    ("stability", ("pauses",), "pauses"),
    ("stability", ("resumes",), "resumes"),
)
_SOLAR_ROWS = (
    ("solar", ("pv_share",), "PV share"),
    ("solar", ("ev_from_pv_kwh",), "EV from PV kWh"),
    ("solar", ("grid_import_kwh",), "grid import kWh"),
    ("solar", ("exported_while_waiting_kwh",), "exported waiting kWh"),
)
_PEAK_ROWS = (
    ("peak", ("max_window_kw",), "max window kW"),
    ("peak", ("windows_over_target",), "windows over target"),
    ("peak", ("house_only_windows_over_target",), "  by the house alone"),
)
_LABEL_WIDTH = 24
_COLUMN_WIDTH = 13


def describe(benchmark: Benchmark) -> list[str]:
    """Say what was simulated: site, window, house load spread, PV days paired."""
    scenario = benchmark.scenario
    site = scenario.site
    lines = [
        f"{scenario.name}: {scenario.hours:g} h from {scenario.start.isoformat()}, "
        f"{site.supply.value} {site.voltage_v:g} V, breaker {site.breaker_a:g} A "
        f"(margin {site.margin_a:g} A), mode {scenario.mode.value}, "
        f"meter every {scenario.meter_period_s:g} s",
        *(
            [
                f"peak: import budget {scenario.peak.target_w / 1000:g} kW per "
                f"{scenario.peak.window_s / 60:g} min window"
            ]
            if scenario.peak is not None
            else []
        ),
        f"house load: {scenario.house_note}",
        f"pv: {scenario.pv_note}",
    ]
    lines.extend(f"note: {warning}" for warning in scenario.warnings)
    return lines


def format_table(benchmark: Benchmark) -> str:
    """Lay out the four runs' figures side by side, below what was simulated."""
    figures = benchmark.as_json()
    lines = describe(benchmark)
    lines.append("")
    lines.append(" " * _LABEL_WIDTH + "".join(f"{label:>{_COLUMN_WIDTH}}" for label in RUNS))
    rows: list[tuple[str, tuple[str, ...], str]] = list(_ROWS)
    for charger in reversed(benchmark.scenario.chargers):
        rows.insert(5, ("ev", ("energy_kwh", charger.name), f"  {charger.name} kWh"))
    pauses_at = rows.index(("stability", ("pauses",), "pauses")) + 1
    for charger in reversed(benchmark.scenario.chargers):
        per_day = ("pauses_per_charger_per_day", charger.name)
        rows.insert(pauses_at, ("stability", per_day, f"  {charger.name} pauses/day"))
    if benchmark.scenario.pv_w is not None:
        rows.extend(_SOLAR_ROWS)
    if benchmark.scenario.peak is not None:
        rows.extend(_PEAK_ROWS)
    for section, keys, title in rows:
        cells = "".join(
            f"{_cell(_lookup(figures[label][section], keys)):>{_COLUMN_WIDTH}}" for label in RUNS
        )
        lines.append(f"{title:<{_LABEL_WIDTH}}{cells}")
    wall = "".join(f"{benchmark.wall_s[label]:>{_COLUMN_WIDTH}.1f}" for label in RUNS)
    lines.append(f"{'wall time s':<{_LABEL_WIDTH}}{wall}")
    return "\n".join(lines)


def _lookup(section: dict[str, Any] | None, keys: tuple[str, ...]) -> Any:
    value: Any = section
    for key in keys:
        if value is None:
            return None
        value = value[key]
    return value


def _cell(value: float | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, int):
        return str(value)
    return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"  # noqa: PLR2004
