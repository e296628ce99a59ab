"""The control loop in Home Assistant against the device simulator on a pty."""

from __future__ import annotations

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_OFF, STATE_ON, STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir

from custom_components.headroom.const import DOMAIN
from custom_components.headroom.diagnostics import async_get_config_entry_diagnostics
from custom_components.headroom.engine.model import Constraint, Mode
from tests.integration.helpers import CARPORT_ID, GARAGE_ID, METER_ID, setup_site, site_entry, step
from tools.simulator import Simulator, StaticSite


def limit_of(simulator: Simulator, device_id: int) -> float:
    """The current limit a simulated charger holds."""
    return float(simulator.devices[device_id].settings["current_limit"])


async def test_chargers_share_the_headroom(hass: HomeAssistant, simulator: Simulator) -> None:
    coordinator = await setup_site(hass, site_entry(simulator.endpoints().pty or ""))
    # Raises wait for the hold time; then the 19 A of headroom are shared.
    await step(coordinator, cycles=11)
    assert coordinator.data.chargers["garage"].setpoint_a == 10
    assert coordinator.data.chargers["carport"].setpoint_a == 9
    assert limit_of(simulator, GARAGE_ID) == 10
    headroom_a = round(coordinator.data.decision.headroom_a[0], 2)
    assert float(hass.states.get("sensor.home_headroom_l1").state) == headroom_a
    assert hass.states.get("sensor.garage_setpoint").state == "10"
    assert hass.states.get("sensor.garage_state").state in {"connected", "charging"}


async def test_house_load_step_cuts_within_one_cycle(
    hass: HomeAssistant, simulator: Simulator, sim_site: StaticSite
) -> None:
    coordinator = await setup_site(hass, site_entry(simulator.endpoints().pty or ""))
    await step(coordinator, cycles=12)
    assert coordinator.data.chargers["garage"].setpoint_a == 10

    sim_site.set_house_currents_a((12.0, 12.0, 12.0))
    await step(coordinator)
    garage = coordinator.data.chargers["garage"].setpoint_a or 0
    carport = coordinator.data.chargers["carport"].setpoint_a or 0
    # 25 A - 1 A margin - 12 A house: 12 A left for both, written in this very cycle.
    assert garage + carport <= 12
    assert limit_of(simulator, GARAGE_ID) + limit_of(simulator, CARPORT_ID) <= 12
    assert coordinator.data.decision.binding is Constraint.BREAKER
    assert hass.states.get("binary_sensor.home_limiting").state == STATE_ON


async def test_silent_meter_sends_chargers_to_fail_safe(
    hass: HomeAssistant, simulator: Simulator
) -> None:
    coordinator = await setup_site(hass, site_entry(simulator.endpoints().pty or ""))
    await step(coordinator, cycles=12)
    assert limit_of(simulator, GARAGE_ID) == 10

    simulator.devices[METER_ID].faults.silent = True
    await step(coordinator, cycles=4)  # stale after 3 s
    assert coordinator.data.decision.fail_safe
    assert limit_of(simulator, GARAGE_ID) == 6
    assert limit_of(simulator, CARPORT_ID) == 6
    assert hass.states.get("binary_sensor.home_meter_meter_communication").state == STATE_OFF
    assert hass.states.get("sensor.home_meter_current_l1").state == STATE_UNAVAILABLE
    issues = ir.async_get(hass)
    entry_id = coordinator.config_entry.entry_id
    assert issues.async_get_issue(DOMAIN, f"{entry_id}_meter_silent") is not None

    simulator.devices[METER_ID].faults.silent = False
    await step(coordinator)
    assert not coordinator.data.decision.fail_safe
    assert issues.async_get_issue(DOMAIN, f"{entry_id}_meter_silent") is None


async def test_charger_that_stops_answering_goes_unavailable_and_back(
    hass: HomeAssistant, simulator: Simulator
) -> None:
    coordinator = await setup_site(hass, site_entry(simulator.endpoints().pty or ""))
    await step(coordinator, cycles=2)
    assert hass.states.get("sensor.carport_state").state != STATE_UNAVAILABLE

    simulator.devices[CARPORT_ID].faults.silent = True
    await step(coordinator)
    assert not coordinator.data.chargers["carport"].available
    assert hass.states.get("sensor.carport_state").state == STATE_UNAVAILABLE
    assert hass.states.get("sensor.garage_state").state != STATE_UNAVAILABLE

    simulator.devices[CARPORT_ID].faults.silent = False
    await step(coordinator)
    assert coordinator.data.chargers["carport"].available
    assert hass.states.get("sensor.carport_state").state != STATE_UNAVAILABLE


async def test_solar_only_switch_changes_what_the_engine_does(
    hass: HomeAssistant, simulator: Simulator
) -> None:
    coordinator = await setup_site(hass, site_entry(simulator.endpoints().pty or ""))
    await step(coordinator, cycles=12)
    assert coordinator.data.chargers["garage"].setpoint_a == 10

    await hass.services.async_call(
        "switch", "turn_on", {"entity_id": "switch.home_solar_only_charging"}, blocking=True
    )
    await hass.async_block_till_done()
    assert coordinator.site.balancer.settings.mode is Mode.SOLAR
    assert hass.states.get("select.home_charging_mode").state == "solar"
    # No PV surplus source: solar-only charging stops the chargers.
    await step(coordinator, cycles=2)
    assert coordinator.data.chargers["garage"].setpoint_a == 0
    assert limit_of(simulator, GARAGE_ID) == 0
    # Diagnostics say what the solar rules saw: no PV power, nothing saved for clouds.
    assert coordinator.config_entry is not None
    diagnostics = await async_get_config_entry_diagnostics(hass, coordinator.config_entry)
    assert diagnostics["cycles"][-1]["decision"]["solar"] == {
        "power_w": 0.0,
        "mean_w": 0.0,
        "ride_budget_wh": 0.0,
    }

    await hass.services.async_call(
        "switch", "turn_off", {"entity_id": "switch.home_solar_only_charging"}, blocking=True
    )
    assert coordinator.site.balancer.settings.mode is Mode.FAST


async def test_settings_survive_a_restart(hass: HomeAssistant, simulator: Simulator) -> None:
    entry = site_entry(simulator.endpoints().pty or "")
    await setup_site(hass, entry)
    await hass.services.async_call(
        "select",
        "select_option",
        {"entity_id": "select.home_charging_mode", "option": "min_solar"},
        blocking=True,
    )
    await hass.services.async_call(
        "number",
        "set_value",
        {"entity_id": "number.home_main_breaker", "value": 20},
        blocking=True,
    )
    await hass.services.async_call(
        "number",
        "set_value",
        {"entity_id": "number.garage_maximum_current", "value": 12},
        blocking=True,
    )
    await hass.services.async_call(
        "switch", "turn_on", {"entity_id": "switch.carport_pause"}, blocking=True
    )
    assert entry.state is ConfigEntryState.LOADED

    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    settings = entry.runtime_data.coordinator.site.balancer.settings
    assert settings.mode is Mode.MIN_SOLAR
    assert settings.breaker_a == 20
    assert {c.charger_id: c.max_a for c in settings.chargers}["garage"] == 12
    assert {c.charger_id: c.paused for c in settings.chargers}["carport"]
    assert hass.states.get("number.home_main_breaker").state == "20.0"
    assert hass.states.get("switch.carport_pause").state == STATE_ON
    await hass.services.async_call(
        "switch", "turn_off", {"entity_id": "switch.carport_pause"}, blocking=True
    )
    assert hass.states.get("switch.carport_pause").state == STATE_OFF


async def test_unloading_releases_the_port(hass: HomeAssistant, simulator: Simulator) -> None:
    port = simulator.endpoints().pty or ""
    entry = site_entry(port)
    coordinator = await setup_site(hass, entry)
    await step(coordinator, cycles=12)
    assert limit_of(simulator, GARAGE_ID) == 10

    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.NOT_LOADED
    # Left at the fail-safe current, and the port can be opened again (exclusive lock gone).
    assert limit_of(simulator, GARAGE_ID) == 6
    assert all(not bus.connected for bus in coordinator.site.buses)
    again = await setup_site(hass, site_entry(port, chargers=[]))
    assert again.data.meter_ok
    assert await hass.config_entries.async_unload(again.config_entry.entry_id)


async def test_meter_states_carry_no_float32_noise(
    hass: HomeAssistant, simulator: Simulator, sim_site: StaticSite
) -> None:
    coordinator = await setup_site(hass, site_entry(simulator.endpoints().pty or ""))
    sim_site.set_house_currents_a((7.123456789, 5.0, 5.0))
    await step(coordinator, cycles=2)
    # The float32 on the wire is 7.12345695...; shown with 2 digits, stored with 3.
    assert coordinator.data.meter is not None
    assert coordinator.data.meter.current_l1_a != 7.123
    assert hass.states.get("sensor.home_meter_current_l1").state == "7.123"
