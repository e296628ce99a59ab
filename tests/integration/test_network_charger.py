"""
A charger at its own network address beside an RS-485 meter, set up through the flows.

The simulator serves the meter and a Heidelberg on its pty (RS-485) and a KEBA P30 on its
own Modbus TCP server (unit 255), all on one simulated site: one headroom for both.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from unittest.mock import patch

import pytest
from homeassistant.config_entries import (
    SOURCE_USB,
    SOURCE_USER,
    ConfigEntryState,
    ConfigSubentryData,
)
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.headroom.const import DOMAIN
from custom_components.headroom.coordinator import HeadroomCoordinator
from custom_components.headroom.devices.bus import SerialSettings, TcpSettings
from custom_components.headroom.diagnostics import async_get_config_entry_diagnostics
from custom_components.headroom.settings import bus_settings
from tests.integration.fake_devices import FakeDsmr, World, add_fakes
from tests.integration.helpers import (
    CARPORT_ID,
    GARAGE_ID,
    METER_ID,
    FakeClock,
    charger_subentry,
    setup_site,
    site_entry,
    step,
    stop_simulator,
)
from tests.integration.test_config_flow import (
    SITE,
    FakeScanner,
    adapter_at,
    found_on,
    scan_serial,
)
from tests.integration.test_entity_devices import entity_site
from tools.simulator import DeviceSpec, LineSettings, Simulator, StaticCharger, StaticSite

KEBA = "keba_p30_p40"
KEBA_UNIT = 255
CHARGER = {"phases": "1_2_3", "max_a": 16, "shared_circuit": False, "priority": 1}


@pytest.fixture
def sim_site() -> StaticSite:
    """A house drawing 5 A per phase, two cars plugged in that follow at once."""
    return StaticSite(
        house_currents_a=(5.0, 5.0, 5.0),
        chargers=[
            StaticCharger(name="garage", response_s=0.0),
            StaticCharger(name="keba", response_s=0.0),
            StaticCharger(name="carport", response_s=0.0, car_connected=False),
        ],
    )


@pytest.fixture
async def simulator(
    hass: HomeAssistant, tmp_path: Path, socket_enabled: None, sim_site: StaticSite
) -> AsyncIterator[Simulator]:
    """
    An SDM630, a Heidelberg and an ABB on a 9600 baud pty, a KEBA on its own Modbus TCP port.

    The pty's devices are also served by an RTU-over-TCP bridge.
    """
    del socket_enabled
    simulator = Simulator(
        sim_site,
        [
            DeviceSpec("eastron_sdm630", METER_ID),
            DeviceSpec("heidelberg_energy_control", GARAGE_ID, "garage"),
            DeviceSpec(KEBA, KEBA_UNIT, "keba"),
            DeviceSpec("abb_terra_ac", CARPORT_ID, "carport"),
        ],
        line=LineSettings(9600),
        link=tmp_path / "ttyRS485",
        modbus_tcp_port=None,
        rtu_over_tcp_port=0,
        native_tcp_port=0,
    )
    await simulator.start()
    yield simulator
    await stop_simulator(hass, simulator)


@pytest.fixture(autouse=True)
def fake_scanner() -> Iterator[None]:
    """The scan is the config flow tests' concern: it reports the pty's devices here."""
    FakeScanner.outcome = ()
    FakeScanner.skipped = ()
    FakeScanner.block = None
    with patch("custom_components.headroom.flow_scan.Scanner", FakeScanner):
        yield


def keba_port(simulator: Simulator) -> int:
    """The KEBA's own Modbus TCP port on 127.0.0.1."""
    return simulator.endpoints().native_tcp_port or 0


def setpoint_of(sim_site: StaticSite, name: str) -> float:
    """The current limit a simulated charger applies."""
    return sim_site.charger_view(name).setpoint_a


async def test_setup_flow_adds_a_network_charger_beside_the_rs485_meter(
    hass: HomeAssistant, simulator: Simulator, sim_site: StaticSite
) -> None:
    port = simulator.endpoints().pty or ""
    FakeScanner.outcome = found_on(SerialSettings(port, 9600))
    flow = hass.config_entries.flow
    result = await scan_serial(hass, port)
    result = await flow.async_configure(result["flow_id"], {"meter": "0"})
    result = await flow.async_configure(result["flow_id"], SITE)
    result = await flow.async_configure(
        result["flow_id"], {"chargers": ["1"], "add_manual": False, "add_network": True}
    )
    assert result["step_id"] == "charger_network"
    assert "KEBA 255" in result["description_placeholders"]["unit_ids"]
    keba = {"model": KEBA, "connection": "tcp", "host": "127.0.0.1", "port": keba_port(simulator)}
    result = await flow.async_configure(result["flow_id"], {**keba, "host": " "})
    assert result["errors"] == {"host": "host_empty"}
    # Nothing listens there: the KEBA's Modbus interface is off, or the address is wrong.
    closed = await _closed_port()
    result = await flow.async_configure(result["flow_id"], {**keba, "port": closed})
    assert result["errors"] == {"base": "cannot_connect"}
    result = await flow.async_configure(result["flow_id"], {**keba, "device_id": 7})
    assert result["errors"] == {"base": "no_answer"}
    # The unit id left empty: the KEBA's own 255.
    result = await flow.async_configure(result["flow_id"], keba)
    assert result["step_id"] == "charger"
    assert result["description_placeholders"]["device_id"] == str(GARAGE_ID)
    result = await flow.async_configure(result["flow_id"], {"name": "Garage", **CHARGER})
    assert result["step_id"] == "charger"
    assert result["description_placeholders"]["device_id"] == str(KEBA_UNIT)
    result = await flow.async_configure(result["flow_id"], {"name": "Driveway", **CHARGER})
    assert result["step_id"] == "fail_safe"
    result = await flow.async_configure(result["flow_id"], {"fail_safe_a": 6, "circuit_a": 0})
    assert result["type"] is FlowResultType.CREATE_ENTRY

    entry = result["result"]
    assert entry.data["connection"] == "serial"
    driveway = next(s for s in entry.subentries.values() if s.title == "Driveway")
    # Its own connection, nothing of the serial port's: no device path, no line settings.
    assert driveway.data == network_keba("127.0.0.1", keba_port(simulator))["data"]
    assert driveway.unique_id == f"tcp:127.0.0.1:{keba_port(simulator)}_{KEBA_UNIT}"
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    diagnostics = await async_get_config_entry_diagnostics(hass, entry)
    assert sorted(bus["kind"] for bus in diagnostics["buses"]) == ["SerialSettings", "TcpSettings"]
    assert all(bus["connected"] for bus in diagnostics["buses"])
    assert diagnostics["entry"]["chargers"][driveway.subentry_id]["data"]["host"] == "**REDACTED**"
    assert hass.states.get("sensor.driveway_state").state != STATE_UNAVAILABLE
    assert hass.states.get("sensor.garage_state").state != STATE_UNAVAILABLE


async def _closed_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on."""
    server = await asyncio.start_server(lambda _r, _w: None, "127.0.0.1", 0)
    port = int(server.sockets[0].getsockname()[1])
    server.close()
    await server.wait_closed()
    return port


async def _add_keba(hass: HomeAssistant, entry: Any, simulator: Simulator) -> dict[str, Any]:
    """Add the KEBA through "Add charger" on the running site; return the final result."""
    subentries = hass.config_entries.subentries
    result = await subentries.async_init(
        (entry.entry_id, "charger"), context={"source": SOURCE_USER}
    )
    assert result["type"] is FlowResultType.MENU
    assert result["menu_options"] == ["port", "network"]
    assert result["description_placeholders"] == {"bus": f"serial port {entry.data['device']}"}
    result = await subentries.async_configure(result["flow_id"], {"next_step_id": "network"})
    assert result["step_id"] == "network"
    keba = {"model": KEBA, "connection": "tcp", "host": "127.0.0.1", "port": keba_port(simulator)}
    result = await subentries.async_configure(result["flow_id"], {**keba, "host": ""})
    assert result["errors"] == {"host": "host_empty"}
    # Framing the KEBA does not speak: it drops the connection (a probe, not a line
    # conflict with the site's serial port).
    result = await subentries.async_configure(
        result["flow_id"], {**keba, "connection": "rtu_over_tcp"}
    )
    assert result["errors"] == {"base": "cannot_connect"}
    result = await subentries.async_configure(
        result["flow_id"], {**keba, "model": "alfen_eve", "device_id": KEBA_UNIT}
    )
    assert result["errors"] == {"base": "wrong_model"}
    result = await subentries.async_configure(result["flow_id"], keba)
    assert result["step_id"] == "settings"
    return await subentries.async_configure(result["flow_id"], {"name": "Driveway", **CHARGER})


async def _site_with_keba(
    hass: HomeAssistant, simulator: Simulator
) -> tuple[MockConfigEntry, HeadroomCoordinator, str]:
    """A site with the Heidelberg on the pty; the KEBA added through the flow; a stepped loop."""
    port = simulator.endpoints().pty or ""
    entry = site_entry(
        port, chargers=[charger_subentry("garage", "Garage", "heidelberg_energy_control", 2, port)]
    )
    await setup_site(hass, entry)
    result = await _add_keba(hass, entry, simulator)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    # The new charger reloaded the site: a new loop, stepped by the test again.
    coordinator: HeadroomCoordinator = entry.runtime_data.coordinator
    await coordinator.stop_ticking()
    coordinator.clock = FakeClock()
    driveway = next(s for s in entry.subentries.values() if s.title == "Driveway")
    return entry, coordinator, driveway.subentry_id


async def test_add_a_network_charger_to_a_running_rs485_site(
    hass: HomeAssistant, simulator: Simulator, sim_site: StaticSite
) -> None:
    entry, coordinator, driveway_id = await _site_with_keba(hass, simulator)
    assert entry.subentries[driveway_id].data["connection"] == "tcp"
    assert entry.subentries[driveway_id].data["device_id"] == KEBA_UNIT

    # The same charger again: already part of the site.
    subentries = hass.config_entries.subentries
    result = await subentries.async_init(
        (entry.entry_id, "charger"), context={"source": SOURCE_USER}
    )
    result = await subentries.async_configure(result["flow_id"], {"next_step_id": "network"})
    result = await subentries.async_configure(
        result["flow_id"],
        {"model": KEBA, "connection": "tcp", "host": "127.0.0.1", "port": keba_port(simulator)},
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"

    # One loop, two buses, one headroom.
    assert len(coordinator.site.buses) == 2
    await step(coordinator, cycles=12)
    garage = coordinator.data.chargers["garage"].setpoint_a or 0
    keba = coordinator.data.chargers[driveway_id].setpoint_a or 0
    # 25 A - 1 A margin - 5 A house: 19 A shared by both chargers.
    assert garage + keba == 19
    assert min(garage, keba) >= 9
    assert setpoint_of(sim_site, "garage") == garage
    assert setpoint_of(sim_site, "keba") == keba

    # Reconfigure changes its limits and keeps its own connection.
    result = await entry.start_subentry_reconfigure_flow(hass, driveway_id)
    result = await subentries.async_configure(
        result["flow_id"], {"phases": "1_2_3", "max_a": 8, "shared_circuit": False, "priority": 1}
    )
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done()
    data = entry.subentries[driveway_id].data
    assert (data["connection"], data["host"], data["port"], data["max_a"]) == (
        "tcp",
        "127.0.0.1",
        keba_port(simulator),
        8,
    )
    # Applied live: the KEBA at its new maximum, within the same headroom.
    await step(coordinator, cycles=2)
    assert setpoint_of(sim_site, "keba") == 8
    assert setpoint_of(sim_site, "garage") + 8 <= 19


async def test_network_charger_gone_leaves_the_rs485_side_running(
    hass: HomeAssistant, simulator: Simulator, sim_site: StaticSite
) -> None:
    entry, coordinator, driveway_id = await _site_with_keba(hass, simulator)
    await step(coordinator, cycles=12)
    assert setpoint_of(sim_site, "garage") + setpoint_of(sim_site, "keba") == 19

    # The KEBA's network goes away: its charger is unavailable, the RS-485 side runs on.
    assert simulator.native_tcp is not None
    await simulator.native_tcp.close()
    await step(coordinator, cycles=3)
    assert not coordinator.data.chargers[driveway_id].available
    assert not coordinator.data.connection_lost
    assert coordinator.data.meter_fresh
    assert not coordinator.data.decision.fail_safe
    assert hass.states.get("sensor.driveway_state").state == STATE_UNAVAILABLE
    assert hass.states.get("sensor.garage_state").state != STATE_UNAVAILABLE
    assert hass.states.get("sensor.home_meter_current_l1").state != STATE_UNAVAILABLE
    # The house draws 6 A more: the garage is still balanced, with the unreachable KEBA
    # counted at the current it may still draw (25 A - 1 A margin - 11 A house: 13 A).
    sim_site.set_house_currents_a((11.0, 11.0, 11.0))
    await step(coordinator)
    garage_now = coordinator.data.chargers["garage"].setpoint_a or 0
    assert setpoint_of(sim_site, "garage") == garage_now
    assert garage_now + setpoint_of(sim_site, "keba") <= 13

    # It comes back at the same address: the bus reconnects after its back-off (wall
    # time), the charger is available again and balanced with the garage.
    await simulator.native_tcp.start()
    for _ in range(40):
        await asyncio.sleep(0.1)
        await step(coordinator)
        if coordinator.data.chargers[driveway_id].available:
            break
    assert coordinator.data.chargers[driveway_id].available
    await step(coordinator, cycles=12)
    assert hass.states.get("sensor.driveway_state").state != STATE_UNAVAILABLE
    assert setpoint_of(sim_site, "garage") + setpoint_of(sim_site, "keba") <= 13

    # Unload releases both: the serial port and the KEBA's socket.
    buses = coordinator.site.buses
    assert all(bus.connected for bus in buses)
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert not any(bus.connected for bus in buses)


async def test_rs485_charger_behind_a_bridge_of_its_own(
    hass: HomeAssistant, simulator: Simulator
) -> None:
    port = simulator.endpoints().pty or ""
    entry = site_entry(port, chargers=[])
    await setup_site(hass, entry)
    subentries = hass.config_entries.subentries
    result = await subentries.async_init(
        (entry.entry_id, "charger"), context={"source": SOURCE_USER}
    )
    result = await subentries.async_configure(result["flow_id"], {"next_step_id": "network"})
    bridge = {
        "model": "abb_terra_ac",
        "connection": "rtu_over_tcp",
        "host": "127.0.0.1",
        "port": simulator.endpoints().rtu_over_tcp_port,
    }
    # No unit id: the ABB's factory device id 1, where the bridge's line has the meter.
    result = await subentries.async_configure(result["flow_id"], bridge)
    assert result["errors"] == {"base": "wrong_model"}
    result = await subentries.async_configure(
        result["flow_id"], {**bridge, "device_id": CARPORT_ID}
    )
    assert result["step_id"] == "settings"
    result = await subentries.async_configure(result["flow_id"], {"name": "Carport", **CHARGER})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    carport = next(iter(entry.subentries.values()))
    assert bus_settings(carport.data) == TcpSettings(
        "127.0.0.1", simulator.endpoints().rtu_over_tcp_port or 0, "rtu"
    )
    assert entry.state is ConfigEntryState.LOADED
    assert hass.states.get("sensor.carport_state").state != STATE_UNAVAILABLE


async def test_site_starts_while_the_network_charger_is_unreachable(
    hass: HomeAssistant, simulator: Simulator
) -> None:
    port = simulator.endpoints().pty or ""
    keba_at = keba_port(simulator)
    assert simulator.native_tcp is not None
    await simulator.native_tcp.close()
    entry = site_entry(
        port,
        chargers=[
            charger_subentry("garage", "Garage", "heidelberg_energy_control", GARAGE_ID, port),
            network_keba("127.0.0.1", keba_at),
        ],
    )
    coordinator = await setup_site(hass, entry)
    assert entry.state is ConfigEntryState.LOADED
    await step(coordinator, cycles=2)
    assert not coordinator.data.chargers["driveway"].available
    assert coordinator.data.chargers["garage"].available
    assert hass.states.get("sensor.driveway_state").state == STATE_UNAVAILABLE
    assert hass.states.get("sensor.garage_state").state != STATE_UNAVAILABLE


def network_keba(host: str, port: int) -> ConfigSubentryData:
    """The KEBA as its subentry stores it: its own Modbus TCP address, unit 255."""
    return ConfigSubentryData(
        data={
            "connection": "tcp",
            "host": host,
            "port": port,
            "model": KEBA,
            "device_id": KEBA_UNIT,
            **CHARGER,
            "phases": [1, 2, 3],
            "paused": False,
        },
        subentry_id="driveway",
        subentry_type="charger",
        title="Driveway",
        unique_id=f"tcp:{host}:{port}_{KEBA_UNIT}",
    )


async def test_a_replugged_adapter_leaves_the_network_charger_where_it_is(
    hass: HomeAssistant, tmp_path: Path
) -> None:
    by_id = tmp_path / "by-id"
    by_id.mkdir()
    old, new = str(tmp_path / "ttyACM0"), str(tmp_path / "ttyACM1")
    keba = {
        "connection": "tcp",
        "host": "192.0.2.7",
        "port": 502,
        "model": KEBA,
        "device_id": KEBA_UNIT,
        **CHARGER,
        "phases": [1, 2, 3],
        "paused": False,
    }
    entry = site_entry(
        old,
        chargers=[
            charger_subentry("garage", "Garage", "heidelberg_energy_control", GARAGE_ID, old),
            ConfigSubentryData(
                data=keba,
                subentry_id="driveway",
                subentry_type="charger",
                title="Driveway",
                unique_id=f"tcp:192.0.2.7:502_{KEBA_UNIT}",
            ),
        ],
    )
    entry.add_to_hass(hass)
    with (
        patch("custom_components.headroom.flow_scan.SERIAL_BY_ID", by_id),
        # Moved, not started: this test opens no port and no socket.
        patch.object(hass.config_entries, "async_schedule_reload") as reload,
    ):
        for device in (old, new):  # learnt on its port, then plugged into another socket
            await hass.config_entries.flow.async_init(
                DOMAIN, context={"source": SOURCE_USB}, data=adapter_at(device)
            )
        await hass.async_block_till_done()
    reload.assert_called_once_with(entry.entry_id)
    assert entry.data["device"] == new
    assert entry.subentries["garage"].data["device"] == new
    assert entry.subentries["driveway"].data == network_keba("192.0.2.7", 502)["data"]


async def test_a_network_charger_joins_a_site_with_no_port(
    hass: HomeAssistant,
    simulator: Simulator,
    sim_site: StaticSite,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A DSMR reader through Home Assistant and a KEBA on its own address: one headroom."""
    world = World(monkeypatch)
    await add_fakes(hass, world, [], [FakeDsmr(house_a=[5.0, 5.0, 5.0])])
    entry = entity_site()
    await setup_site(hass, entry)
    subentries = hass.config_entries.subentries
    result = await subentries.async_init(
        (entry.entry_id, "charger"), context={"source": SOURCE_USER}
    )
    assert result["step_id"] == "network"  # no port of the site's to offer
    keba = {"model": KEBA, "connection": "tcp", "host": "127.0.0.1", "port": keba_port(simulator)}
    result = await subentries.async_configure(result["flow_id"], keba)
    assert result["step_id"] == "settings"
    result = await subentries.async_configure(result["flow_id"], {"name": "Driveway", **CHARGER})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    coordinator: HeadroomCoordinator = entry.runtime_data.coordinator
    await coordinator.stop_ticking()
    coordinator.clock = FakeClock()
    driveway = next(s for s in entry.subentries.values() if s.title == "Driveway")

    assert len(coordinator.site.buses) == 1  # the KEBA's own: the site has none
    await world.step(coordinator, cycles=12)
    # 25 A - 1 A margin - 5 A house leaves 19 A: the KEBA's 16 A maximum binds.
    assert coordinator.data.chargers[driveway.subentry_id].setpoint_a == 16
    assert setpoint_of(sim_site, "keba") == 16
