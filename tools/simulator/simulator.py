"""The simulator as a whole: a site, devices on a pty line and on TCP, and a clock."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from custom_components.headroom.devices.registers import get_profile

from .line import LineSettings, SimulatedLine
from .personalities import build_device
from .pty_server import PtyServer
from .tcp_server import TcpServer

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from .devices import ProfileDevice
    from .site import Site

DEFAULT_TICK_S: Final = 0.1


@dataclass(frozen=True, slots=True)
class DeviceSpec:
    """One simulated device: `registers.yaml` model id, unit id, site charger name."""

    model: str
    device_id: int
    charger_name: str | None = None


@dataclass(frozen=True, slots=True)
class Endpoints:
    """Where to connect; None for what is not served. TCP ports are on 127.0.0.1."""

    pty: str | None
    modbus_tcp_port: int | None
    rtu_over_tcp_port: int | None
    native_tcp_port: int | None


class Simulator:
    """Serves devices (RS-485 models on a pty and TCP gateways, TCP models on TCP)."""

    def __init__(  # noqa: PLR0913 (each is a separate, optional endpoint)
        self,
        site: Site,
        devices: Sequence[DeviceSpec],
        *,
        line: LineSettings,
        wire_time: bool = False,
        link: Path | str | None = None,
        modbus_tcp_port: int | None = 0,
        rtu_over_tcp_port: int | None = 0,
        native_tcp_port: int | None = 0,
        tick_s: float = DEFAULT_TICK_S,
        site_speed: float = 1.0,
    ) -> None:
        """
        Build the devices; a port of None turns that endpoint off (0: any free port).

        RS-485 models share one line with `line`'s settings, served on a pty (whose path
        `link` names) and through a Modbus TCP and an RTU-over-TCP gateway; TCP-only
        models (Alfen) are served on their own Modbus TCP port. `wire_time` delays
        answers on the RS-485 line as its baud rate would. `site_speed` runs the site's
        time faster than the wall clock (a day of a scenario in minutes), while the
        devices' own timers (watchdogs) keep real time.
        """
        self.site = site
        self.serial_line = SimulatedLine(settings=line, wire_time=wire_time)
        self.native_line = SimulatedLine()
        self.devices: dict[int, ProfileDevice] = {}
        """The RS-485 line's devices by id."""
        self.tcp_devices: dict[int, ProfileDevice] = {}
        """TCP-only devices (Alfen) by their socket's unit id."""
        for spec in devices:
            device = build_device(
                spec.model,
                spec.device_id,
                site,
                charger_name=spec.charger_name,
                line=line,
            )
            if get_profile(spec.model).serial is None:
                self.native_line.add(device)
                self.tcp_devices[spec.device_id] = device
            else:
                self.serial_line.add(device)
                self.devices[spec.device_id] = device
        self.pty = PtyServer(self.serial_line, link=link) if self.serial_line.devices else None
        self.modbus_tcp = _tcp(self.serial_line, modbus_tcp_port, "mbap")
        self.rtu_over_tcp = _tcp(self.serial_line, rtu_over_tcp_port, "rtu")
        self.native_tcp = (
            _tcp(self.native_line, native_tcp_port, "mbap") if self.native_line.devices else None
        )
        self._tick_s = tick_s
        self._site_speed = site_speed
        self._clock: asyncio.Task[None] | None = None

    def endpoints(self) -> Endpoints:
        """Where clients connect (after `start()`)."""
        return Endpoints(
            pty=self.pty.path if self.pty is not None else None,
            modbus_tcp_port=self.modbus_tcp.port if self.modbus_tcp is not None else None,
            rtu_over_tcp_port=self.rtu_over_tcp.port if self.rtu_over_tcp is not None else None,
            native_tcp_port=self.native_tcp.port if self.native_tcp is not None else None,
        )

    async def start(self) -> None:
        """Open every endpoint and start the clock."""
        for server in self._servers():
            await server.start()
        self._clock = asyncio.get_running_loop().create_task(self._run_clock(), name="sim clock")

    async def close(self) -> None:
        """Stop the clock and close every endpoint."""
        if self._clock is not None:
            self._clock.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._clock
            self._clock = None
        for server in self._servers():
            await server.close()

    def advance(self, dt_s: float) -> None:
        """Let `dt_s` pass for every device, and `dt_s` x site speed for the site."""
        self.site.advance(dt_s * self._site_speed)
        self.serial_line.tick(dt_s)
        self.native_line.tick(dt_s)

    def _servers(self) -> list[PtyServer | TcpServer]:
        servers = [self.pty, self.modbus_tcp, self.rtu_over_tcp, self.native_tcp]
        return [server for server in servers if server is not None]

    async def _run_clock(self) -> None:
        loop = asyncio.get_running_loop()
        last = loop.time()
        while True:
            await asyncio.sleep(self._tick_s)
            now = loop.time()
            self.advance(now - last)
            last = now


def _tcp(line: SimulatedLine, port: int | None, framing: str) -> TcpServer | None:
    if port is None or not line.devices:
        return None
    return TcpServer(line, port=port, framing="rtu" if framing == "rtu" else "mbap")
