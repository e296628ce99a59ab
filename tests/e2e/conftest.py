"""A real Home Assistant on a fresh configuration and the demo site's simulator."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tools.demo.harness import (
    HassClient,
    free_port,
    prepare_config,
    start_hass,
    start_simulator,
)

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


@pytest.fixture
def demo(tmp_path: Path, socket_enabled: None) -> Iterator[tuple[HassClient, str]]:
    """Start the simulator (the demo site) and a fresh Home Assistant; always stop both."""
    del socket_enabled
    link = tmp_path / "rs485"
    port = free_port()
    prepare_config(tmp_path / "config")
    simulator = start_simulator(link, tmp_path / "simulator.log")
    hass = None
    try:
        hass = start_hass(tmp_path / "config", tmp_path / "hass.log", port=port)
        client = HassClient(f"http://127.0.0.1:{port}")
        client.wait_until_up(hass, timeout_s=120)
        yield client, str(link)
    finally:
        if hass is not None:
            hass.stop()
        simulator.stop()
