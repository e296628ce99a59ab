"""
A live site for the whole-chain benchmarks: the simulator in this process, `hass` a child.

`live_site(site, workdir)` starts the device simulator (an Eastron SDM630 at id 1 and two
Heidelberg chargers, "garage" at id 2 and "carport" at id 3, on a pty RS-485 line at 9600
baud 8N1 with the wire time of every frame emulated) driven by `site`, then a real Home
Assistant on a fresh configuration, onboards it and adds the Headroom site through the
REST config flow; on leaving, it stops both.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from tools.demo.harness import Child, HassClient, free_port, prepare_config, start_hass
from tools.simulator import DeviceSpec, LineSettings, Simulator, Site

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path


BAUD: Final = 9600
DEVICES: Final = (
    DeviceSpec("eastron_sdm630", 1),
    DeviceSpec("heidelberg_energy_control", 2, "garage"),
    DeviceSpec("heidelberg_energy_control", 3, "carport"),
)


@dataclass(frozen=True, slots=True)
class LiveSite:
    """What runs: Home Assistant (its process and REST client) and the site's entry."""

    hass: Child
    client: HassClient
    entry_id: str

    def check(self) -> None:
        """Raise RuntimeError, with the end of its log, when Home Assistant has exited."""
        if self.hass.process.poll() is not None:
            msg = f"Home Assistant exited during the run:\n{self.hass.tail()}"
            raise RuntimeError(msg)


@contextlib.asynccontextmanager
async def live_site(
    site: Site, workdir: Path, *, breaker_a: float = 25.0
) -> AsyncIterator[LiveSite]:
    """Run the simulator on `site` and Home Assistant with the Headroom site added."""
    link = workdir / "rs485"
    simulator = Simulator(
        site,
        list(DEVICES),
        line=LineSettings(BAUD, "N", 1),
        wire_time=True,
        link=link,
        modbus_tcp_port=None,
        rtu_over_tcp_port=None,
        native_tcp_port=None,
    )
    await simulator.start()
    hass: Child | None = None
    try:
        port = free_port()
        prepare_config(workdir / "config")
        hass = start_hass(workdir / "config", workdir / "hass.log", port=port)
        client = HassClient(f"http://127.0.0.1:{port}")
        # The REST calls block: run them in a thread so the simulator keeps answering.
        await asyncio.to_thread(client.wait_until_up, hass)
        await asyncio.to_thread(client.onboard)
        entry_id = await asyncio.to_thread(client.add_site, str(link), breaker_a=breaker_a)
        yield LiveSite(hass=hass, client=client, entry_id=entry_id)
    finally:
        if hass is not None:
            await asyncio.to_thread(hass.stop)
        await simulator.close()
