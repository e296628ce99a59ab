"""Thermal derating in Home Assistant, on the simulator with a box that heats under current."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from homeassistant.core import HomeAssistant

from custom_components.headroom.engine.model import Constraint
from tests.integration.helpers import (
    GARAGE_ID,
    advance_and_step,
    charger_subentry,
    setup_site,
    site_entry,
)

if TYPE_CHECKING:
    from custom_components.headroom.coordinator import HeadroomCoordinator
    from tools.simulator import Simulator
    from tools.simulator.personalities import HeidelbergDevice


@pytest.fixture
async def stepped(simulator: Simulator) -> Simulator:
    """The simulator with its clock stopped: the test advances it with the loop."""
    assert simulator._clock is not None
    simulator._clock.cancel()
    return simulator


async def garage_only(hass: HomeAssistant, simulator: Simulator) -> HeadroomCoordinator:
    port = simulator.endpoints().pty or ""
    garage = charger_subentry("garage", "Garage", "heidelberg_energy_control", GARAGE_ID, port)
    return await setup_site(hass, site_entry(port, chargers=[garage]))


async def test_a_box_that_heats_is_derated_paused_and_resumed(
    hass: HomeAssistant, stepped: Simulator
) -> None:
    box: HeidelbergDevice = stepped.devices[GARAGE_ID]  # type: ignore[assignment]
    # At 16 A the PCB would settle 64 degC above its 32.5 degC: far beyond the 80 degC stop.
    box.heat_under_current(c_per_a2=0.25, time_constant_s=20.0)
    coordinator = await garage_only(hass, stepped)
    results = await advance_and_step(coordinator, stepped, 200)
    commands = [(r.command_a, r.reason) for r in results]
    assert (16.0, Constraint.CHARGER_MAX) in commands
    # Derated a step below what it drew, then paused when still hotter, then back at 6 A.
    assert (14.0, Constraint.TEMPERATURE) in commands
    paused = commands.index((0.0, Constraint.TEMPERATURE))
    assert (6.0, Constraint.TEMPERATURE) in commands[paused:]
    # The sensor shows the box's temperature as last read (every tenth cycle).
    temperature = float(hass.states.get("sensor.garage_temperature").state)
    assert box.ambient_c < temperature < 85.0


async def test_a_box_too_hot_pauses_and_its_own_derating_is_shown(
    hass: HomeAssistant, stepped: Simulator
) -> None:
    coordinator = await garage_only(hass, stepped)
    await advance_and_step(coordinator, stepped, 12)
    assert coordinator.data.chargers["garage"].command_a == 16.0
    box: HeidelbergDevice = stepped.devices[GARAGE_ID]  # type: ignore[assignment]
    box.ambient_c = box.temperature_c = 90.0  # the box reports state 8 while it charges
    await advance_and_step(coordinator, stepped, 1)
    assert hass.states.get("sensor.garage_state").state == "derating"
    # The temperature is read on the slow cadence: within ten cycles the engine pauses it.
    results = await advance_and_step(coordinator, stepped, 10)
    assert results[-1].command_a == 0.0
    assert results[-1].reason is Constraint.TEMPERATURE
    assert hass.states.get("sensor.garage_limited_by").state == "temperature"
    assert float(hass.states.get("sensor.garage_temperature").state) == 90.0
