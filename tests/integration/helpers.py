"""Helpers for the integration tests: entries on the simulator's port, a stepped clock."""

from __future__ import annotations

import time
from typing import Any

from homeassistant.config_entries import ConfigEntryState, ConfigSubentryData
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.headroom.const import DOMAIN
from custom_components.headroom.coordinator import HeadroomCoordinator
from custom_components.headroom.site import ChargerStatus
from tools.simulator import Simulator

METER_ID = 1
GARAGE_ID = 2
CARPORT_ID = 3
DRIVEWAY_ID = 4
ENTRY_ID = "01JHEADROOMTESTENTRY00000"


class FakeClock:
    """The engine's monotonic clock, stepped by the test."""

    def __init__(self) -> None:
        self.now = time.monotonic()

    def __call__(self) -> float:
        return self.now

    def tick(self, seconds: float = 1.0) -> None:
        self.now += seconds


def serial_data(port: str) -> dict[str, Any]:
    """Connection data of a serial bus at 9600 8N1."""
    return {"connection": "serial", "device": port, "baudrate": 9600, "parity": "N", "stopbits": 1}


def charger_subentry(
    subentry_id: str, title: str, model: str, device_id: int, port: str, **extra: Any
) -> ConfigSubentryData:
    """A charger subentry on the simulator's port."""
    return ConfigSubentryData(
        data={
            **serial_data(port),
            "model": model,
            "device_id": device_id,
            "phases": [1, 2, 3],
            "max_a": 16,
            "shared_circuit": False,
            "priority": 1,
            "paused": False,
            **extra,
        },
        subentry_id=subentry_id,
        subentry_type="charger",
        title=title,
        unique_id=f"serial:{port}_{device_id}",
    )


def site_entry(
    port: str,
    *,
    chargers: list[ConfigSubentryData] | None = None,
    entry_id: str = ENTRY_ID,
    **options: Any,
) -> MockConfigEntry:
    """A three-phase 25 A site with the simulator's meter and `chargers` (default: two)."""
    return MockConfigEntry(
        domain=DOMAIN,
        entry_id=entry_id,
        title="Home",
        unique_id=f"serial:{port}",
        data={**serial_data(port), "meter_model": "eastron_sdm630", "meter_device_id": METER_ID},
        options={
            "supply": "three_phase",
            "voltage_v": 230.0,
            "breaker_a": 25.0,
            "margin_a": 1.0,
            "fail_safe_a": 6.0,
            "mode": "fast",
            "meter_stale_after_s": 3.0,
            **options,
        },
        subentries_data=[
            charger_subentry("garage", "Garage", "heidelberg_energy_control", GARAGE_ID, port),
            charger_subentry("carport", "Carport", "abb_terra_ac", CARPORT_ID, port),
        ]
        if chargers is None
        else chargers,
    )


async def setup_site(hass: HomeAssistant, entry: MockConfigEntry) -> HeadroomCoordinator:
    """Set the entry up, stop the timer-driven loop and hand the test a stepped clock."""
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    coordinator: HeadroomCoordinator = entry.runtime_data.coordinator
    await coordinator.stop_ticking()
    coordinator.clock = FakeClock()
    return coordinator


async def step(coordinator: HeadroomCoordinator, seconds: float = 1.0, cycles: int = 1) -> None:
    """Let `seconds` pass on the engine's clock before each of `cycles` cycles."""
    clock = coordinator.clock
    assert isinstance(clock, FakeClock)
    for _ in range(cycles):
        clock.tick(seconds)
        await coordinator.async_refresh()


async def stop_simulator(hass: HomeAssistant, simulator: Simulator) -> None:
    """Unload every loaded site first (chargers to fail-safe, port closed), then stop."""
    for entry in hass.config_entries.async_entries(DOMAIN):
        if entry.state is ConfigEntryState.LOADED:
            await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    await simulator.close()


async def advance_and_step(
    coordinator: HeadroomCoordinator, simulator: Simulator, seconds: int
) -> list[ChargerStatus]:
    """
    Advance the simulator and the loop together, one second a cycle.

    Return the garage's status after each cycle.
    """
    results = []
    for _ in range(seconds):
        simulator.advance(1.0)
        await step(coordinator)
        results.append(coordinator.data.chargers["garage"])
    return results
