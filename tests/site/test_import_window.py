"""The import per wall-clock window: alignment, energy, the month's peak (no Home Assistant)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from custom_components.headroom.import_window import WindowMeter, month_of

# 2026-11-30 10:07:00 "local", as the coordinator passes it (seconds with the UTC offset).
T0 = datetime(2026, 11, 30, 10, 7, tzinfo=UTC).timestamp()
QUARTER_START = datetime(2026, 11, 30, 10, 0, tzinfo=UTC).timestamp()


def run(meter: WindowMeter, start: float, seconds: int, power_w: float, target_w: float = 6000.0):
    window = None
    for second in range(seconds):
        window = meter.update(start + second, power_w, target_w=target_w)
    return window


def test_windows_are_aligned_to_the_clock_and_a_mid_window_start_counts_at_the_target():
    meter = WindowMeter(window_s=900.0)
    window = meter.update(T0, 2000.0, target_w=6000.0)
    assert window is not None
    assert window.elapsed_s == pytest.approx(420.0)  # 10:07 is 7 minutes into 10:00-10:15
    # The 7 minutes before the loop started are unknown: counted at the target.
    assert window.imported_wh == pytest.approx(6000.0 * 420.0 / 3600.0)
    assert window.import_w == 2000.0


def test_energy_follows_the_power_and_restarts_with_each_window():
    meter = WindowMeter(window_s=900.0)
    start = QUARTER_START + 900.0  # 10:15:00 sharp
    meter.update(start - 1.0, 3000.0, target_w=6000.0)  # the end of the 10:00 window
    window = run(meter, start, 601, 3000.0)  # 10:15:00 .. 10:25:00
    assert window is not None
    assert window.elapsed_s == pytest.approx(600.0)
    assert window.imported_wh == pytest.approx(3000.0 * 600.0 / 3600.0)
    status = meter.status(start + 600.0)
    assert status.average_w == pytest.approx(3000.0)
    # Ten minutes at 3 kW then five more at 3 kW: 3 kW at the end.
    assert status.projected_w == pytest.approx(3000.0)


def test_the_month_peak_takes_only_windows_measured_throughout():
    meter = WindowMeter(window_s=900.0)
    # Starts mid-window (unmeasured, at the target 6 kW), then a full window at 4 kW,
    # then one at 2 kW: the month's peak is 4 kW, not the assumed 6 kW.
    run(meter, T0, int(QUARTER_START + 900.0 - T0), 4000.0)
    run(meter, QUARTER_START + 900.0, 900, 4000.0)
    run(meter, QUARTER_START + 1800.0, 901, 2000.0)
    status = meter.status(QUARTER_START + 2700.0)
    assert status.month_peak_w == pytest.approx(4000.0)
    assert status.month == "2026-11"


def test_a_silent_meter_gives_no_window_and_its_stretch_counts_at_the_target():
    meter = WindowMeter(window_s=900.0)
    start = QUARTER_START + 900.0
    meter.update(start, 1000.0, target_w=5000.0)
    meter.update(start + 1.0, 1000.0, target_w=5000.0)
    assert meter.update(start + 2.0, None, target_w=5000.0) is None
    # 20 s without a reading, then power again: those seconds count at 5 kW.
    window = meter.update(start + 22.0, 1000.0, target_w=5000.0)
    assert window is not None
    assert window.imported_wh == pytest.approx((2 * 1000.0 + 20 * 5000.0) / 3600.0)


def test_a_new_month_starts_without_a_peak_and_a_restored_one_counts():
    meter = WindowMeter(window_s=900.0)
    meter.restore(month="2026-11", peak_w=7000.0)
    assert meter.status(T0).month_peak_w == 7000.0
    meter.restore(month="2026-11", peak_w=float("nan"))
    assert meter.status(T0).month_peak_w == 7000.0
    december = datetime(2026, 12, 1, 0, 0, 5, tzinfo=UTC).timestamp()
    assert month_of(december) == "2026-12"
    assert meter.status(december).month_peak_w is None


def test_a_clock_jump_starts_over_unmeasured():
    meter = WindowMeter(window_s=900.0)
    run(meter, QUARTER_START, 10, 1000.0)
    window = meter.update(QUARTER_START - 3600.0, 1000.0, target_w=6000.0)
    assert window is not None
    assert window.elapsed_s == 0.0
    assert not meter.measured


def test_an_hourly_window():
    meter = WindowMeter()
    meter.resize(3600.0)
    window = meter.update(T0, 1000.0, target_w=6000.0)
    assert window is not None
    assert window.elapsed_s == pytest.approx(420.0)  # 10:07 in the 10:00-11:00 hour


def test_an_export_pays_back_no_import():
    """Utilities bill the energy imported: a PV export in the window does not cancel it."""
    meter = WindowMeter(window_s=900.0)
    start = QUARTER_START + 900.0
    run(meter, start, 61, 3000.0)
    window = run(meter, start + 61.0, 60, -2000.0)
    assert window is not None
    assert window.imported_wh == pytest.approx(3000.0 * 61.0 / 3600.0)
