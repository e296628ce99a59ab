"""The simulated devices on TCP: Modbus TCP (MBAP) and RTU over TCP, on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import struct
from typing import TYPE_CHECKING, Final, Literal

from .frames import MBAP_HEADER_LEN, RtuRequestSplitter, mbap_frame

if TYPE_CHECKING:
    from .line import SimulatedLine

_MAX_MBAP_LENGTH: Final = 254
_READ_SIZE: Final = 4096

type Framing = Literal["mbap", "rtu"]


class TcpServer:
    """Serves a `SimulatedLine` on a TCP port, as a gateway or a TCP-native device."""

    def __init__(
        self,
        line: SimulatedLine,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        framing: Framing = "mbap",
    ) -> None:
        """Serve `line` with `framing` on `host:port` (port 0: any free port)."""
        self._line = line
        self._host = host
        self._requested_port = port
        self.framing: Framing = framing
        self._server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        """The port listened on (known after `start()`)."""
        if self._server is None:
            return self._requested_port
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def host(self) -> str:
        """The address listened on."""
        return self._host

    async def start(self) -> None:
        """Listen and answer."""
        handler = self._serve_mbap if self.framing == "mbap" else self._serve_rtu
        self._server = await asyncio.start_server(handler, self._host, self._requested_port)

    async def close(self) -> None:
        """Stop listening and drop every connection, as a gateway switched off."""
        if self._server is None:
            return
        server, self._server = self._server, None
        self._requested_port = int(server.sockets[0].getsockname()[1])
        server.close()
        server.close_clients()
        await server.wait_closed()

    async def _serve_mbap(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:
                header = await reader.readexactly(MBAP_HEADER_LEN)
                transaction_id, protocol_id, length, unit_id = struct.unpack(">HHHB", header)
                if protocol_id != 0 or not 2 <= length <= _MAX_MBAP_LENGTH:  # noqa: PLR2004
                    break
                pdu = await reader.readexactly(length - 1)
                result = await self._line.exchange_pdu(unit_id, pdu, received_at=loop.time())
                if result is None:
                    continue
                response, corrupt = result
                # A garbled answer: one the client cannot match to its request.
                reply_id = (transaction_id + 1) & 0xFFFF if corrupt else transaction_id
                writer.write(mbap_frame(reply_id, unit_id, response))
                await writer.drain()
        await _close(writer)

    async def _serve_rtu(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        splitter = RtuRequestSplitter()
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(_READ_SIZE):
                frames = splitter.feed(data)
                if splitter.awaits_silence and (whole := splitter.flush()):
                    # A gateway forwards each TCP segment as one frame.
                    frames.append(whole)
                for frame in frames:
                    response = await self._line.exchange_rtu(frame, received_at=loop.time())
                    if response is not None:
                        writer.write(response)
                        await writer.drain()
        await _close(writer)


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(ConnectionError):
        await writer.wait_closed()
