"""
Thermal derating of an Alfen Eve, whose temperature is a station register (unit 200).

The simulator serves the meter on its pty and the Alfen on its own Modbus TCP port: the
socket at unit 1, the station (identity, board temperature) at unit 200 of the same server.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from homeassistant.config_entries import ConfigSubentryData
from homeassistant.const import STATE_UNKNOWN
from homeassistant.core import HomeAssistant

from custom_components.headroom.coordinator import HeadroomCoordinator
from custom_components.headroom.engine.model import Constraint
from tests.integration.helpers import (
    METER_ID,
    advance_and_step,
    setup_site,
    site_entry,
    stop_simulator,
)
from tools.simulator import DeviceSpec, LineSettings, Simulator, StaticCharger, StaticSite
from tools.simulator.personalities import AlfenDevice

ALFEN_SOCKET = 1
GATEWAY_TARGET_FAILED = 11
"""What a Modbus TCP gateway answers for a unit behind it that does not respond."""


@pytest.fixture
async def simulator(
    hass: HomeAssistant, tmp_path: Path, socket_enabled: None
) -> AsyncIterator[Simulator]:
    """An SDM630 on a 9600 baud pty, an Alfen Eve on its own Modbus TCP port; clock stopped."""
    del socket_enabled
    simulator = Simulator(
        StaticSite(
            house_currents_a=(5.0, 5.0, 5.0),
            chargers=[StaticCharger(name="garage", response_s=0.0)],
        ),
        [DeviceSpec("eastron_sdm630", METER_ID), DeviceSpec("alfen_eve", ALFEN_SOCKET, "garage")],
        line=LineSettings(9600),
        link=tmp_path / "ttyRS485",
        modbus_tcp_port=None,
        rtu_over_tcp_port=None,
        native_tcp_port=0,
    )
    await simulator.start()
    assert simulator._clock is not None
    simulator._clock.cancel()  # the test advances the simulator with the loop
    yield simulator
    await stop_simulator(hass, simulator)


def alfen(simulator: Simulator) -> AlfenDevice:
    """The simulated Alfen (socket and station)."""
    device = simulator.native_line.devices[ALFEN_SOCKET]
    assert isinstance(device, AlfenDevice)
    return device


async def garage_alfen(hass: HomeAssistant, simulator: Simulator) -> HeadroomCoordinator:
    """A site whose only charger is the Alfen, at its own network address."""
    port = simulator.endpoints().native_tcp_port
    assert port is not None
    garage = ConfigSubentryData(
        data={
            "connection": "tcp",
            "host": "127.0.0.1",
            "port": port,
            "model": "alfen_eve",
            "device_id": ALFEN_SOCKET,
            "phases": [1, 2, 3],
            "max_a": 16,
            "shared_circuit": False,
            "priority": 1,
            "paused": False,
        },
        subentry_id="garage",
        subentry_type="charger",
        title="Garage",
        unique_id=f"tcp:127.0.0.1:{port}_{ALFEN_SOCKET}",
    )
    return await setup_site(hass, site_entry(simulator.endpoints().pty or "", chargers=[garage]))


async def test_an_alfen_that_heats_is_derated_paused_and_resumed(
    hass: HomeAssistant, simulator: Simulator
) -> None:
    station = alfen(simulator)
    # At 16 A the board would settle 77 degC above its 30 degC, at 14 A 59: both beyond the
    # 80 degC stop; slowly enough that a read every ten seconds sees it pass 70 degC first.
    station.heat_under_current(c_per_a2=0.30, time_constant_s=60.0)
    coordinator = await garage_alfen(hass, simulator)
    results = await advance_and_step(coordinator, simulator, 300)
    commands = [(r.command_a, r.reason) for r in results]
    assert (16.0, Constraint.CHARGER_MAX) in commands
    # Derated a step below what it drew, then paused when still hotter, then back at 6 A.
    assert (14.0, Constraint.TEMPERATURE) in commands
    paused = commands.index((0.0, Constraint.TEMPERATURE))
    assert (6.0, Constraint.TEMPERATURE) in commands[paused:]
    assert station.applied_a == results[-1].command_a
    # The sensor shows the station's board temperature as last read (every tenth cycle).
    temperature = float(hass.states.get("sensor.garage_temperature").state)
    assert station.ambient_c < temperature < 80.0


async def test_a_station_that_refuses_leaves_the_socket_balanced(
    hass: HomeAssistant, simulator: Simulator
) -> None:
    station = alfen(simulator)
    station.station_exception = GATEWAY_TARGET_FAILED
    station.heat_under_current(c_per_a2=0.25, time_constant_s=20.0)
    coordinator = await garage_alfen(hass, simulator)
    results = await advance_and_step(coordinator, simulator, 30)
    # No temperature to act on: the socket is read and set as any charger.
    assert all(r.available for r in results)
    assert (results[-1].command_a, results[-1].reason) == (16.0, Constraint.CHARGER_MAX)
    assert station.applied_a == 16.0
    assert hass.states.get("sensor.garage_temperature").state == STATE_UNKNOWN
    disabled = coordinator.site.disabled_registers["garage"]
    assert "exception 11" in disabled["temperature"]


async def test_an_alfen_back_from_a_reboot_charges_on_at_its_safe_current(
    hass: HomeAssistant, simulator: Simulator
) -> None:
    # After a reboot the station applies its safe current (1206) and has no Modbus setpoint
    # (1210 reads 0): the loop starts from what it applies and never pauses the car.
    station = alfen(simulator)
    station.safe_current_a = 10.0
    station.fall_back(station.safe_current_a)
    simulator.advance(5.0)  # the car follows the 10 A
    coordinator = await garage_alfen(hass, simulator)
    commands, applied = [], []
    for _ in range(30):
        commands.append((await advance_and_step(coordinator, simulator, 1))[0].command_a)
        applied.append(station.applied_a)
    assert commands[0] == 10.0
    assert min(applied) == 10.0
    assert applied[-1] == 16.0
