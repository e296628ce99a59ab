"""Options, charger subentries and reconfiguring a running site."""

from __future__ import annotations

from pathlib import Path

from homeassistant.config_entries import SOURCE_USER, ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import entity_registry as er

from tests.integration.helpers import (
    CARPORT_ID,
    DRIVEWAY_ID,
    GARAGE_ID,
    charger_subentry,
    setup_site,
    site_entry,
    step,
)
from tools.simulator import Simulator

LIMITS = {
    "breaker_a": 32,
    "margin_a": 2,
    "fail_safe_a": 6,
    "circuit_a": 0,
    "meter_stale_after_s": 5,
    "watchdog_timeout_s": 15,
}
SOLAR = {"solar_start_delay_s": 60, "solar_stop_delay_s": 180, "grid_tolerance_w": 100}


async def test_options_flow(hass: HomeAssistant, simulator: Simulator) -> None:
    entry = site_entry(simulator.endpoints().pty or "")
    coordinator = await setup_site(hass, entry)
    await step(coordinator, cycles=2)
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["step_id"] == "init"
    # Largest house load seen: 5 A; (25 - 1 - 5) / 2 chargers = 9 A.
    assert result["description_placeholders"] == {"suggested": "9", "maximum": "12"}
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {**LIMITS, "breaker_a": 4}
    )
    assert result["errors"] == {"breaker_a": "breaker_too_low"}
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {**LIMITS, "breaker_a": 12}
    )
    assert result["errors"] == {"breaker_a": "charger_above_breaker"}
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {**LIMITS, "fail_safe_a": 2}
    )
    assert result["errors"] == {"fail_safe_a": "fail_safe_below_minimum"}
    result = await hass.config_entries.options.async_configure(result["flow_id"], LIMITS)
    assert result["step_id"] == "solar"
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {**SOLAR, "solar_source": "pv_house", "pv_power_entity": "sensor.pv"}
    )
    assert result["errors"] == {"house_power_entity": "entity_required"}
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {**SOLAR, "solar_source": "none"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert entry.options["mode"] == "fast"
    # Applied without a reload.
    assert entry.runtime_data.coordinator is coordinator
    assert coordinator.site.balancer.settings.breaker_a == 32
    assert hass.states.get("sensor.home_pv_surplus") is None

    # A solar source adds the PV surplus sensor: that needs a reload.
    result = await hass.config_entries.options.async_init(entry.entry_id)
    result = await hass.config_entries.options.async_configure(result["flow_id"], LIMITS)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {**SOLAR, "solar_source": "grid", "grid_power_entity": "sensor.grid"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert entry.options["grid_power_entity"] == "sensor.grid"
    assert entry.state is ConfigEntryState.LOADED
    assert entry.runtime_data.coordinator is not coordinator
    assert hass.states.get("sensor.home_pv_surplus") is not None

    # Without a source again, the sensor is gone, not left behind as unavailable.
    result = await hass.config_entries.options.async_init(entry.entry_id)
    result = await hass.config_entries.options.async_configure(result["flow_id"], LIMITS)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {**SOLAR, "solar_source": "none"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert "grid_power_entity" not in entry.options
    assert er.async_get(hass).async_get("sensor.home_pv_surplus") is None


async def test_options_of_a_site_that_is_not_loaded(hass: HomeAssistant, tmp_path: Path) -> None:
    entry = site_entry(str(tmp_path / "ttyUSB0"), chargers=[])
    entry.add_to_hass(hass)
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["description_placeholders"] == {"suggested": "24", "maximum": "24"}


async def test_add_change_and_remove_a_charger(hass: HomeAssistant, simulator: Simulator) -> None:
    port = simulator.endpoints().pty or ""
    entry = site_entry(
        port, chargers=[charger_subentry("garage", "Garage", "heidelberg_energy_control", 2, port)]
    )
    await setup_site(hass, entry)
    line = {"baudrate": "9600", "parity": "N", "stopbits": "1"}

    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, "charger"), context={"source": SOURCE_USER}
    )
    assert result["step_id"] == "user"
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"next_step_id": "port"}
    )
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"model": "heidelberg_energy_control", "device_id": GARAGE_ID, **line}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"

    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, "charger"), context={"source": SOURCE_USER}
    )
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"next_step_id": "port"}
    )
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"],
        {"model": "abb_terra_ac", "device_id": CARPORT_ID, **line, "baudrate": "19200"},
    )
    assert result["errors"] == {"base": "line_conflict"}
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"model": "abb_terra_ac", "device_id": 9, **line}
    )
    assert result["errors"] == {"base": "no_answer"}
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"model": "alfen_eve", "device_id": CARPORT_ID, **line}
    )
    assert result["errors"] == {"base": "wrong_model"}
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"model": "abb_terra_ac", "device_id": CARPORT_ID, **line}
    )
    assert result["step_id"] == "settings"
    settings = {"name": "Carport", "phases": "2_3_1", "shared_circuit": False, "priority": 1}
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {**settings, "max_a": 40}
    )
    assert result["errors"] == {"max_a": "charger_above_breaker"}
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {**settings, "max_a": 16}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    # A new charger reloads the site: its entities appear without a restart.
    assert entry.state is ConfigEntryState.LOADED
    assert hass.states.get("sensor.carport_state") is not None
    carport = next(s for s in entry.subentries.values() if s.title == "Carport")
    assert carport.data["phases"] == [2, 3, 1]

    result = await entry.start_subentry_reconfigure_flow(hass, carport.subentry_id)
    assert result["step_id"] == "reconfigure"
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"phases": "1", "max_a": 26, "shared_circuit": True, "priority": 3}
    )
    assert result["errors"] == {"max_a": "charger_above_breaker"}
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"phases": "1", "max_a": 16, "shared_circuit": True, "priority": 3}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done()
    settings_in_force = entry.runtime_data.coordinator.site.balancer.settings
    assert {c.charger_id: c.priority for c in settings_in_force.chargers}[carport.subentry_id] == 3
    # Wired to one line now: the sensors of lines 2 and 3 are gone, line 1 stays.
    registry = er.async_get(hass)
    assert hass.states.get("sensor.carport_current_line_1") is not None
    assert registry.async_get("sensor.carport_current_line_2") is None
    assert registry.async_get("sensor.carport_current_line_3") is None

    assert hass.config_entries.async_remove_subentry(entry, carport.subentry_id)
    await hass.async_block_till_done()
    assert hass.states.get("sensor.carport_state") is None


async def test_add_a_charger_to_a_site_that_is_not_loaded(
    hass: HomeAssistant, simulator: Simulator
) -> None:
    port = simulator.endpoints().pty or ""
    entry = site_entry(port, chargers=[])
    entry.add_to_hass(hass)
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, "charger"), context={"source": SOURCE_USER}
    )
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"next_step_id": "port"}
    )
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"],
        {
            "model": "evse_wb_din",
            "device_id": DRIVEWAY_ID,
            "baudrate": "9600",
            "parity": "N",
            "stopbits": "1",
        },
    )
    assert result["step_id"] == "settings"


async def test_reconfigure_moves_the_site(
    hass: HomeAssistant, simulator: Simulator, tmp_path: Path
) -> None:
    port = simulator.endpoints().pty or ""
    entry = site_entry(str(tmp_path / "ttyUSB7"))
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    assert entry.state is ConfigEntryState.SETUP_RETRY

    result = await entry.start_reconfigure_flow(hass)
    assert result["step_id"] == "reconfigure"
    line = {"baudrate": "9600", "parity": "N", "stopbits": "1"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"device": str(tmp_path / "ttyUSB8"), **line}
    )
    assert result["errors"] == {"base": "port_missing"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"device": port, **line}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    assert entry.data["device"] == port
    assert all(s.data["device"] == port for s in entry.subentries.values())

    # Reconfiguring a running site releases its port to test the settings.
    result = await entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"device": port, **line}
    )
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED


async def test_reconfigure_cannot_take_another_sites_port(
    hass: HomeAssistant, tmp_path: Path
) -> None:
    first = site_entry(str(tmp_path / "ttyUSB0"), chargers=[])
    first.add_to_hass(hass)
    second = site_entry(str(tmp_path / "ttyUSB1"), chargers=[], entry_id="second")
    second.add_to_hass(hass)
    result = await second.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {"device": str(tmp_path / "ttyUSB0"), "baudrate": "9600", "parity": "N", "stopbits": "1"},
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


async def test_reconfigure_a_gateway_site(hass: HomeAssistant) -> None:
    entry = site_entry("unused", chargers=[])
    entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        entry,
        data={"connection": "tcp", "host": "192.0.2.1", "port": 502},
        unique_id="tcp:192.0.2.1:502",
    )
    result = await entry.start_reconfigure_flow(hass)
    assert result["step_id"] == "reconfigure"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"host": "192.0.2.2", "port": 1502}
    )
    assert result["reason"] == "reconfigure_successful"
    assert entry.unique_id == "tcp:192.0.2.2:1502"
    # The flow scheduled a reload that sets the site up on its new address: the test waits
    # for it (ending while it still ran left its tasks and timers behind, now and then).
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED


async def test_reconfigure_a_running_site_to_a_missing_port(
    hass: HomeAssistant, simulator: Simulator, tmp_path: Path
) -> None:
    port = simulator.endpoints().pty or ""
    # A charger on a second adapter that is unplugged: the site runs without it.
    far = charger_subentry("far", "Far", "abb_terra_ac", 9, str(tmp_path / "ttyUSB9"))
    entry = site_entry(port, chargers=[far])
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED

    result = await entry.start_reconfigure_flow(hass)
    line = {"baudrate": "9600", "parity": "N", "stopbits": "1"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"device": str(tmp_path / "ttyUSB8"), **line}
    )
    assert result["errors"] == {"base": "port_missing"}
    # Set up again on its old port.
    assert entry.state is ConfigEntryState.LOADED
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"device": port, **line}
    )
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done()
    # The charger on its own adapter stays where it is.
    assert entry.subentries["far"].data["device"] == str(tmp_path / "ttyUSB9")
