"""The capacity tariff's import budget in Home Assistant, against the simulator."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from homeassistant.config_entries import ConfigSubentryData
from homeassistant.core import HomeAssistant, State
from homeassistant.data_entry_flow import FlowResultType
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    mock_restore_cache_with_extra_data,
)

from custom_components.headroom.engine.model import Constraint
from tests.integration.helpers import setup_site, site_entry, step

if TYPE_CHECKING:
    from custom_components.headroom.coordinator import HeadroomCoordinator
    from tools.simulator import Simulator, StaticSite

QUARTER_START = datetime(2026, 11, 30, 10, 0, tzinfo=UTC).timestamp()


class WallClock:
    """Local wall-clock seconds, stepped with the engine's clock."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def run(coordinator: HeadroomCoordinator, wall: WallClock, cycles: int) -> None:
    for _ in range(cycles):
        wall.now += 1.0
        await step(coordinator)


async def test_the_budget_limits_the_chargers_and_the_window_is_shown(
    hass: HomeAssistant, simulator: Simulator, sim_site: StaticSite
) -> None:
    # House 5 A per phase (3.45 kW); a 6 kW target leaves about 2.5 kW: one 6 A minimum
    # (4.1 kW on three phases) does not fit, so no car charges, for the peak's reason.
    coordinator = await setup_site(
        hass, site_entry(simulator.endpoints().pty or "", peak_target_kw=6.0)
    )
    wall = WallClock(QUARTER_START)
    coordinator.wall_clock = wall
    await run(coordinator, wall, 15)
    assert coordinator.site.balancer.settings.peak is not None
    assert coordinator.data.snapshot.window is not None
    assert {s.command_a for s in coordinator.data.chargers.values()} == {0.0}
    assert coordinator.data.chargers["garage"].reason is Constraint.PEAK
    assert hass.states.get("sensor.home_binding_constraint").state == "peak"
    average_kw = float(hass.states.get("sensor.home_import_this_window").state)
    assert 3.0 < average_kw < 4.0  # the simulator's meter: 5 A x 230 V x 3 plus its noise
    assert hass.states.get("sensor.home_import_at_window_end").state != "unknown"
    assert hass.states.get("number.home_peak_import_target").state == "6.0"

    # An automation raises the target for the cheap period: a car may charge again.
    await hass.services.async_call(
        "number",
        "set_value",
        {"entity_id": "number.home_peak_import_target", "value": 9.0},
        blocking=True,
    )
    await hass.async_block_till_done()
    assert coordinator.site.balancer.settings.peak.target_w == 9000.0
    await run(coordinator, wall, 15)
    assert max(s.command_a or 0.0 for s in coordinator.data.chargers.values()) >= 6.0

    # 0: no budget at all.
    await hass.services.async_call(
        "number",
        "set_value",
        {"entity_id": "number.home_peak_import_target", "value": 0},
        blocking=True,
    )
    await hass.async_block_till_done()
    assert coordinator.site.balancer.settings.peak is None


async def test_the_month_peak_survives_a_restart(hass: HomeAssistant, simulator: Simulator) -> None:
    wall = WallClock(QUARTER_START)
    month = datetime.fromtimestamp(wall.now, UTC).strftime("%Y-%m")
    mock_restore_cache_with_extra_data(
        hass,
        [
            (
                State("sensor.home_highest_window_this_month", "7.5", {"month": month}),
                {"native_value": 7.5, "native_unit_of_measurement": "kW"},
            )
        ],
    )
    coordinator = await setup_site(hass, site_entry(simulator.endpoints().pty or ""))
    coordinator.wall_clock = wall
    await run(coordinator, wall, 2)
    assert coordinator.site.window_meter.month_peak_w == 7500.0
    state = hass.states.get("sensor.home_highest_window_this_month")
    assert state.state == "7.5"
    assert state.attributes["month"] == month


async def test_the_options_offer_the_budget_with_a_meter(
    hass: HomeAssistant, simulator: Simulator
) -> None:
    coordinator = await setup_site(hass, site_entry(simulator.endpoints().pty or ""))
    entry = coordinator.config_entry
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert "peak_target_kw" in result["data_schema"].schema
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {
            "breaker_a": 25.0,
            "margin_a": 1.0,
            "fail_safe_a": 6.0,
            "peak_target_kw": 2.5,
            "peak_window_min": "60",
        },
    )
    assert result["step_id"] == "solar"
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"solar_source": "none"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    peak = entry.runtime_data.coordinator.site.balancer.settings.peak
    assert peak is not None
    assert (peak.target_w, peak.window_s) == (2500.0, 3600.0)
    assert entry.runtime_data.coordinator.site.window_meter.window_s == 3600.0


async def test_without_a_meter_there_is_no_budget(
    hass: HomeAssistant, simulator: Simulator
) -> None:
    entry = site_entry(simulator.endpoints().pty or "", peak_target_kw=6.0)
    data = {k: v for k, v in entry.data.items() if k not in {"meter_model", "meter_device_id"}}
    entry = MockConfigEntry(
        domain=entry.domain,
        entry_id=entry.entry_id,
        title=entry.title,
        unique_id=entry.unique_id,
        data=data,
        options=dict(entry.options),
        subentries_data=[
            ConfigSubentryData(
                data=dict(sub.data),
                subentry_id=sub.subentry_id,
                subentry_type=sub.subentry_type,
                title=sub.title,
                unique_id=sub.unique_id,
            )
            for sub in entry.subentries.values()
        ],
    )
    coordinator = await setup_site(hass, entry)
    await step(coordinator, cycles=2)
    assert coordinator.site.balancer.settings.peak is None
    assert coordinator.data.window is None
    assert hass.states.get("number.home_peak_import_target") is None
    assert hass.states.get("sensor.home_import_this_window") is None
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert "peak_target_kw" not in result["data_schema"].schema
