"""A real Home Assistant on a fresh configuration and the demo site's simulator."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tools.demo.harness import (
    Child,
    HassClient,
    free_port,
    modbus_gateway_port,
    prepare_config,
    start_hass,
    start_simulator,
)

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


@pytest.fixture
def simulator(tmp_path: Path, socket_enabled: None) -> Iterator[Child]:
    """The demo site's simulator: its RS-485 pty at tmp_path/rs485, its TCP gateway."""
    del socket_enabled
    child = start_simulator(tmp_path / "rs485", tmp_path / "simulator.log")
    try:
        yield child
    finally:
        child.stop()


@pytest.fixture
def gateway_port(simulator: Child) -> int:
    """The simulator's Modbus TCP gateway (where Home Assistant's modbus reaches the EVSE)."""
    return modbus_gateway_port(simulator)


@pytest.fixture
def demo(tmp_path: Path, gateway_port: int) -> Iterator[tuple[HassClient, str]]:
    """
    Start a fresh Home Assistant beside the simulator; always stop it.

    Its configuration has the driveway's charger in Home Assistant's modbus and template
    integrations (tools/demo/driveway.yaml), on the simulator's gateway.
    """
    port = free_port()
    prepare_config(tmp_path / "config", modbus_port=gateway_port)
    hass = start_hass(tmp_path / "config", tmp_path / "hass.log", port=port)
    try:
        client = HassClient(f"http://127.0.0.1:{port}")
        client.wait_until_up(hass, timeout_s=120)
        yield client, str(tmp_path / "rs485")
    finally:
        hass.stop()
