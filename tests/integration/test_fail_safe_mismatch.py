"""A charger whose own fail-safe current is above Headroom's: a repair issue and diagnostics."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from homeassistant.config_entries import ConfigSubentryData
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)

from tests.integration.helpers import charger_subentry, setup_site, site_entry, step, stop_simulator
from tests.integration.test_setup import issue
from tools.simulator import Simulator
from tools.simulator.line import LineSettings
from tools.simulator.personalities import AlfenDevice
from tools.simulator.simulator import DeviceSpec
from tools.simulator.site import StaticSite

METER_ID = 1
SOCKET = 1


@pytest.fixture
async def alfen_site(
    hass: HomeAssistant, tmp_path: Path, sim_site: StaticSite, socket_enabled: None
) -> AsyncIterator[Simulator]:
    """An SDM630 on a pty and an Alfen Eve (socket 1) on its own Modbus TCP socket."""
    del socket_enabled
    simulator = Simulator(
        sim_site,
        [DeviceSpec("eastron_sdm630", METER_ID), DeviceSpec("alfen_eve", SOCKET, "garage")],
        line=LineSettings(9600),
        link=tmp_path / "ttyRS485",
        modbus_tcp_port=None,
        rtu_over_tcp_port=None,
        native_tcp_port=0,
    )
    await simulator.start()
    yield simulator
    await stop_simulator(hass, simulator)


def _alfen(port: int) -> ConfigSubentryData:
    subentry = charger_subentry("garage", "Garage", "alfen_eve", SOCKET, "-")
    data = {k: v for k, v in subentry["data"].items() if k not in {"device", "baudrate"}}
    data = {k: v for k, v in data.items() if k not in {"parity", "stopbits"}}
    return ConfigSubentryData(
        data=data | {"connection": "tcp", "host": "127.0.0.1", "port": port},
        subentry_id="garage",
        subentry_type="charger",
        title="Garage",
        unique_id=f"tcp:127.0.0.1:{port}_{SOCKET}",
    )


async def test_a_safe_current_above_the_fail_safe_raises_a_repair(
    hass: HomeAssistant, alfen_site: Simulator, hass_client
) -> None:
    """
    Alfen's safe current is set in its installer app, not over Modbus. 16 A where Headroom
    computed 6 A: when Home Assistant stops, the breaker may trip. Lower would be safe.
    """
    device = alfen_site.tcp_devices[SOCKET]
    assert isinstance(device, AlfenDevice)
    device.safe_current_a = 16.0
    port = alfen_site.endpoints().native_tcp_port
    assert port is not None
    entry = site_entry(
        alfen_site.endpoints().pty or "", chargers=[_alfen(port)], watchdog_timeout_s=15.0
    )
    coordinator = await setup_site(hass, entry)
    raised = issue(hass, "fail_safe_above_garage")
    assert raised is not None
    assert raised.translation_key == "charger_fail_safe_above"
    assert raised.translation_placeholders == {
        "site": "Home",
        "charger": "Garage",
        "device_a": "16",
        "fail_safe_a": "6",
    }
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    fail_safe = diagnostics["fail_safes"]["garage"]
    assert (fail_safe["asked_a"], fail_safe["unsupported"]) == (6, False)
    assert fail_safe["watchdog"]["failsafe_a"] == 16.0
    assert not fail_safe["watchdog"]["failsafe_matches"]

    # The installer lowers it in the app; a new timeout arms the watchdog again.
    device.safe_current_a = 6.0
    hass.config_entries.async_update_entry(
        entry, options={**entry.options, "watchdog_timeout_s": 20.0}
    )
    await hass.async_block_till_done()
    await step(coordinator)
    assert issue(hass, "fail_safe_above_garage") is None

    device.safe_current_a = 0.0  # stops charging: safe, no repair
    hass.config_entries.async_update_entry(
        entry, options={**entry.options, "watchdog_timeout_s": 25.0}
    )
    await hass.async_block_till_done()
    await step(coordinator)
    assert issue(hass, "fail_safe_above_garage") is None
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    assert diagnostics["fail_safes"]["garage"]["watchdog"]["failsafe_a"] == 0.0
