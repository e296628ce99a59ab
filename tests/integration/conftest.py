"""Fixtures for the Home Assistant layer: the device simulator on a pty, a site entry."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from unittest.mock import PropertyMock, patch

import pytest
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.syrupy import HomeAssistantSnapshotExtension
from syrupy.assertion import SnapshotAssertion

from tests.integration.helpers import (
    CARPORT_ID,
    DRIVEWAY_ID,
    GARAGE_ID,
    METER_ID,
    stop_simulator,
)
from tools.simulator import DeviceSpec, LineSettings, Simulator, StaticCharger, StaticSite


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Let Home Assistant load the integration from this repository."""
    return


@pytest.fixture
def sim_site() -> StaticSite:
    """A house drawing 5 A per phase, two cars plugged in that follow at once."""
    return StaticSite(
        house_currents_a=(5.0, 5.0, 5.0),
        chargers=[
            StaticCharger(name="garage", response_s=0.0),
            StaticCharger(name="carport", response_s=0.0),
            StaticCharger(name="driveway", response_s=0.0, car_connected=False),
        ],
    )


@pytest.fixture
async def simulator(
    hass: HomeAssistant, tmp_path: Path, sim_site: StaticSite
) -> AsyncIterator[Simulator]:
    """An SDM630, a Heidelberg, an ABB Terra AC and an EVSE-WB on one 9600 baud pty."""
    simulator = Simulator(
        sim_site,
        [
            DeviceSpec("eastron_sdm630", METER_ID),
            DeviceSpec("heidelberg_energy_control", GARAGE_ID, "garage"),
            DeviceSpec("abb_terra_ac", CARPORT_ID, "carport"),
            DeviceSpec("evse_wb_din", DRIVEWAY_ID, "driveway"),
        ],
        line=LineSettings(9600),
        link=tmp_path / "ttyRS485",
        modbus_tcp_port=None,
        rtu_over_tcp_port=None,
        native_tcp_port=None,
    )
    await simulator.start()
    yield simulator
    await stop_simulator(hass, simulator)


WALL_CLOCK_S = 1795860420.0
"""2026-11-28 10:07:00 local: 7 minutes into a 15-minute import window."""


@pytest.fixture(autouse=True)
def fixed_wall_clock() -> Iterator[None]:
    """
    Stop the wall clock the import windows follow, so that entity states do not depend on
    the time of day a test runs (a test that needs windows to pass steps its own).
    """
    with patch("custom_components.headroom.coordinator._local_wall_s", return_value=WALL_CLOCK_S):
        yield


@pytest.fixture
def entity_registry_enabled_by_default() -> Iterator[None]:
    """Enable every entity, also those disabled by default (as core's fixture does)."""
    with patch(
        "homeassistant.helpers.entity.Entity.entity_registry_enabled_default",
        new_callable=PropertyMock,
        return_value=True,
    ):
        yield


@pytest.fixture
def snapshot(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    """Serialize registry entries and states the Home Assistant way (ids as ANY)."""
    return snapshot.use_extension(HomeAssistantSnapshotExtension)
