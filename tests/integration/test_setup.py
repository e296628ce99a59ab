"""Setting up a site: errors, repairs, surplus sources, diagnostics and entity snapshots."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace
from unittest.mock import patch

import pytest
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_OFF, STATE_ON, STATE_UNAVAILABLE, Platform
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers import issue_registry as ir
from pytest_homeassistant_custom_component.common import snapshot_platform
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from syrupy.assertion import SnapshotAssertion

from custom_components.headroom.const import DOMAIN
from tests.integration.helpers import (
    DRIVEWAY_ID,
    ENTRY_ID,
    charger_subentry,
    serial_data,
    setup_site,
    site_entry,
    step,
)
from tools.simulator import Simulator

FROZEN_TIME = SimpleNamespace(perf_counter=lambda: 0.0, thread_time=lambda: 0.0)


@pytest.fixture
async def frozen(simulator: Simulator) -> Simulator:
    """The simulator with its clock stopped: every value stays what it was at start."""
    assert simulator._clock is not None
    simulator._clock.cancel()
    return simulator


def issue(hass: HomeAssistant, suffix: str) -> ir.IssueEntry | None:
    return ir.async_get(hass).async_get_issue(DOMAIN, f"{ENTRY_ID}_{suffix}")


@pytest.mark.parametrize(
    "platform",
    [Platform.SENSOR, Platform.BINARY_SENSOR, Platform.NUMBER, Platform.SELECT, Platform.SWITCH],
)
@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_entities(
    hass: HomeAssistant,
    frozen: Simulator,
    entity_registry: er.EntityRegistry,
    snapshot: SnapshotAssertion,
    platform: Platform,
) -> None:
    entry = site_entry(frozen.endpoints().pty or "", solar_source="grid")
    with (
        patch("custom_components.headroom.PLATFORMS", [platform]),
        patch("custom_components.headroom.site.time", FROZEN_TIME),
    ):
        await setup_site(hass, entry)
    await snapshot_platform(hass, entity_registry, snapshot, entry.entry_id)


async def test_diagnostics(
    hass: HomeAssistant, frozen: Simulator, hass_client, snapshot: SnapshotAssertion
) -> None:
    entry = site_entry(frozen.endpoints().pty or "")
    with patch("custom_components.headroom.site.time", FROZEN_TIME):
        await setup_site(hass, entry)
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    for bus in diagnostics["buses"]:
        # Latencies are measured on the wall clock.
        for key in ("latency_last_s", "latency_max_s", "latency_avg_s"):
            bus.pop(key)
        bus["devices"] = sorted(bus["devices"])
    for cycle in diagnostics["cycles"]:
        cycle["snapshot"].pop("now")
        cycle["snapshot"]["meter"].pop("at")
    assert diagnostics == snapshot


async def test_missing_port_retries_setup(hass: HomeAssistant, tmp_path: Path) -> None:
    entry = site_entry(str(tmp_path / "ttyUSB0"))
    entry.add_to_hass(hass)
    assert not await hass.config_entries.async_setup(entry.entry_id)
    assert entry.state is ConfigEntryState.SETUP_RETRY


async def test_settings_that_cannot_work(hass: HomeAssistant, tmp_path: Path) -> None:
    # The port is missing too: the settings' repair shows while setup retries.
    entry = site_entry(str(tmp_path / "ttyUSB0"), breaker_a=10.0)
    entry.add_to_hass(hass)
    assert not await hass.config_entries.async_setup(entry.entry_id)
    assert entry.state is ConfigEntryState.SETUP_RETRY
    assert issue(hass, "charger_above_breaker") is not None
    await hass.config_entries.async_remove(entry.entry_id)
    assert issue(hass, "charger_above_breaker") is None


async def test_two_line_settings_on_one_port(hass: HomeAssistant, tmp_path: Path) -> None:
    port = str(tmp_path / "ttyUSB0")
    entry = site_entry(
        port, chargers=[charger_subentry("g", "G", "abb_terra_ac", 3, port, baudrate=19200)]
    )
    entry.add_to_hass(hass)
    assert not await hass.config_entries.async_setup(entry.entry_id)
    assert entry.state is ConfigEntryState.SETUP_ERROR


async def test_repairs_for_watchdogs_and_fail_safe(
    hass: HomeAssistant, simulator: Simulator
) -> None:
    port = simulator.endpoints().pty or ""
    entry = site_entry(
        port,
        chargers=[
            charger_subentry("carport", "Carport", "abb_terra_ac", 3, port),
            charger_subentry("driveway", "Driveway", "evse_wb_din", DRIVEWAY_ID, port),
        ],
        fail_safe_a=16.0,
        watchdog_timeout_s=5.0,
    )
    coordinator = await setup_site(hass, entry)
    assert issue(hass, "no_watchdog_driveway") is not None
    # The ABB takes 10 s at least: the watchdog cannot be armed with 5 s.
    assert issue(hass, "watchdog_settings_carport") is not None
    assert issue(hass, "fail_safe_too_high") is not None

    hass.config_entries.async_update_entry(
        entry, options={**entry.options, "fail_safe_a": 6.0, "watchdog_timeout_s": 15.0}
    )
    await hass.async_block_till_done()
    await step(coordinator)
    assert issue(hass, "watchdog_settings_carport") is None
    assert issue(hass, "fail_safe_too_high") is None
    # The EVSE-WB has no watchdog, but starts at the fail-safe current after a power cut.
    assert simulator.devices[DRIVEWAY_ID].settings["current_after_boot"] == 6
    hass.config_entries.async_update_entry(entry, options={**entry.options, "fail_safe_a": 8.0})
    await hass.async_block_till_done()
    await step(coordinator)
    assert simulator.devices[DRIVEWAY_ID].settings["current_after_boot"] == 8

    # Settings that cannot work are refused and the old ones stay in force.
    hass.config_entries.async_update_entry(entry, options={**entry.options, "breaker_a": 8.0})
    await hass.async_block_till_done()
    assert issue(hass, "charger_above_breaker") is not None
    assert coordinator.site.balancer.settings.breaker_a == 25.0
    hass.config_entries.async_update_entry(entry, options={**entry.options, "breaker_a": 30.0})
    await hass.async_block_till_done()
    assert issue(hass, "invalid_settings") is None

    assert await hass.config_entries.async_unload(entry.entry_id)
    assert issue(hass, "no_watchdog_driveway") is None


async def test_controls_refuse_settings_that_cannot_work(
    hass: HomeAssistant, simulator: Simulator
) -> None:
    await setup_site(hass, site_entry(simulator.endpoints().pty or ""))
    with pytest.raises(ServiceValidationError) as raised:
        await hass.services.async_call(
            "number",
            "set_value",
            {"entity_id": "number.home_main_breaker", "value": 12},
            blocking=True,
        )
    assert raised.value.translation_key == "charger_above_breaker"


@pytest.mark.parametrize(
    ("options", "states", "surplus_w"),
    [
        (
            {"solar_source": "grid", "grid_power_entity": "sensor.grid"},
            {"sensor.grid": ("-1.5", "kW")},
            1500.0,
        ),
        (
            {
                "solar_source": "pv_house",
                "pv_power_entity": "sensor.pv",
                "house_power_entity": "sensor.house",
            },
            {"sensor.pv": ("4000", "W"), "sensor.house": ("1200", "W")},
            2800.0,
        ),
        (
            {
                "solar_source": "pv_house",
                "pv_power_entity": "sensor.pv",
                "house_power_entity": "sensor.house",
            },
            {"sensor.pv": ("4000", "W")},
            None,
        ),
        (
            {"solar_source": "grid", "grid_power_entity": "sensor.grid"},
            {"sensor.grid": ("unavailable", "W")},
            None,
        ),
        (
            {"solar_source": "grid", "grid_power_entity": "sensor.grid"},
            {"sensor.grid": ("12", "A")},
            None,
        ),
        (
            {"solar_source": "grid", "grid_power_entity": "sensor.grid"},
            {"sensor.grid": ("lots", "W")},
            None,
        ),
    ],
)
async def test_surplus_from_home_assistant_sensors(
    hass: HomeAssistant,
    simulator: Simulator,
    options: dict[str, str],
    states: dict[str, tuple[str, str]],
    surplus_w: float | None,
) -> None:
    for entity_id, (state, unit) in states.items():
        hass.states.async_set(entity_id, state, {"unit_of_measurement": unit})
    coordinator = await setup_site(hass, site_entry(simulator.endpoints().pty or "", **options))
    await step(coordinator)
    surplus = coordinator.data.snapshot.surplus
    assert (surplus.power_w if surplus else None) == surplus_w
    expected = "unknown" if surplus_w is None else f"{surplus_w:.1f}"
    assert hass.states.get("sensor.home_pv_surplus").state == expected


async def test_port_lost_and_back(hass: HomeAssistant, simulator: Simulator) -> None:
    coordinator = await setup_site(hass, site_entry(simulator.endpoints().pty or ""))
    assert simulator.pty is not None
    await simulator.pty.close()
    await step(coordinator, cycles=5)  # past the 3 s stale time
    # The site tells the truth about the moment it matters; only measurements are gone.
    assert coordinator.last_update_success
    assert hass.states.get("binary_sensor.home_fail_safe_active").state == STATE_ON
    assert hass.states.get("binary_sensor.home_meter_meter_communication").state == STATE_OFF
    assert hass.states.get("sensor.home_binding_constraint").state == "fail_safe"
    assert hass.states.get("sensor.home_meter_current_l1").state == STATE_UNAVAILABLE
    assert hass.states.get("sensor.garage_state").state == STATE_UNAVAILABLE
    # The controls keep working.
    await hass.services.async_call(
        "select",
        "select_option",
        {"entity_id": "select.home_charging_mode", "option": "off"},
        blocking=True,
    )
    assert hass.states.get("select.home_charging_mode").state == "off"

    await simulator.pty.start()
    for _ in range(20):
        # The bus reconnects after its backoff, which runs on the wall clock.
        await asyncio.sleep(0.3)
        await step(coordinator)
        if coordinator.data.meter_fresh:
            break
    assert hass.states.get("binary_sensor.home_meter_meter_communication").state == STATE_ON
    assert hass.states.get("binary_sensor.home_fail_safe_active").state == STATE_OFF


async def test_stale_devices_can_be_removed(
    hass: HomeAssistant, simulator: Simulator, device_registry: dr.DeviceRegistry
) -> None:
    entry = site_entry(simulator.endpoints().pty or "")
    await setup_site(hass, entry)
    site_device = device_registry.async_get_device_by_identifier(
        (DOMAIN, entry.entry_id), entry.entry_id
    )
    assert site_device is not None
    stale = device_registry.async_get_or_create(
        config_entry_id=entry.entry_id, identifiers={(DOMAIN, f"{entry.entry_id}_gone")}
    )
    from custom_components.headroom import async_remove_config_entry_device  # noqa: PLC0415

    assert not await async_remove_config_entry_device(hass, entry, site_device)
    assert await async_remove_config_entry_device(hass, entry, stale)


async def test_power_sharing_without_a_meter(hass: HomeAssistant, simulator: Simulator) -> None:
    port = simulator.endpoints().pty or ""
    entry = site_entry(port)
    entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(entry, data=serial_data(port))
    coordinator = await setup_site(hass, entry)
    assert not coordinator.site.balancer.settings.has_meter
    assert hass.states.get("sensor.home_meter_current_l1") is None
    await step(coordinator, cycles=11)
    # Without a meter the chargers share the 24 A the breaker allows after the margin.
    assert coordinator.data.chargers["garage"].setpoint_a == 12
    assert coordinator.data.chargers["carport"].setpoint_a == 12

    assert simulator.pty is not None
    await simulator.pty.close()
    await step(coordinator)
    assert hass.states.get("sensor.garage_state").state == STATE_UNAVAILABLE
    assert hass.states.get("binary_sensor.home_fail_safe_active").state == STATE_OFF


async def test_device_registry_shows_what_the_devices_say(
    hass: HomeAssistant, simulator: Simulator, device_registry: dr.DeviceRegistry
) -> None:
    entry = site_entry(simulator.endpoints().pty or "")
    coordinator = await setup_site(hass, entry)
    await step(coordinator, cycles=3)  # one device's identity per cycle

    meter = device_registry.async_get_device_by_identifier(
        (DOMAIN, f"{entry.entry_id}_meter"), entry.entry_id
    )
    garage = device_registry.async_get_device_by_identifier(
        (DOMAIN, f"{entry.entry_id}_garage"), entry.entry_id
    )
    assert meter is not None
    assert garage is not None
    # The simulated SDM630 and Heidelberg answer what registers.yaml expects of them.
    assert (meter.sw_version, meter.serial_number) == ("0x0203", "21000630")
    assert (garage.sw_version, garage.serial_number) == ("0x0108", None)
    assert meter.model == "Eastron SDM630-Modbus (v1/v2, incl. MID) / SDM630MCT"
