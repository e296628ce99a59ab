"""
The simulated RS-485 line on a pseudo-terminal whose master side the simulator holds.

The client opens the slave side (by its /dev/pts path or a stable symlink) like a USB
adapter. Holding the master side lets the simulator see the baud rate the client set
(`termios.tcgetattr(master)[4]`): a client at another baud rate gets silence, as it would
get only noise on a real line. Parity and stop bits are not kept by the Linux pty
driver, so they cannot be checked; they only count for the emulated wire time.

The simulator does not keep the slave side open itself: reading the master then fails
(EIO) while no client has the port open, which is how it notices a client leaving. It
then parks the port at 50 baud, because some C libraries (glibc 2.42 with Python 3.14,
as on this project's machines) refuse a `tcsetattr` that changes the flags but not the
speed: a client that reopens at the same baud rate with parity (which the pty dropped)
would otherwise fail to open the port.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import termios
import tty
from pathlib import Path
from typing import TYPE_CHECKING, Final

from .frames import RtuRequestSplitter

if TYPE_CHECKING:
    from .line import SimulatedLine

# Silence that ends a frame of unknown length when the line's own gap is shorter.
_MIN_SILENCE_S: Final = 0.005
_READ_SIZE: Final = 4096
# How often to look for a client while nobody has the port open.
_CLIENT_POLL_S: Final = 0.02


def baud_constant(baudrate: int) -> int:
    """Return the termios speed constant for a baud rate (termios.B19200 for 19200)."""
    constant: int | None = getattr(termios, f"B{baudrate}", None)
    if constant is None:
        msg = f"{baudrate} is not a baud rate this system knows"
        raise ValueError(msg)
    return constant


class PtyServer:
    """Serves a `SimulatedLine` as RTU on a pty; restartable, as an adapter replugged."""

    def __init__(self, line: SimulatedLine, *, link: Path | str | None = None) -> None:
        """Serve `line`; `link` is a symlink kept pointing at the current pty."""
        if line.settings is None:
            msg = "a serial line needs its settings (baud rate)"
            raise ValueError(msg)
        self._line = line
        self._settings = line.settings
        self._expected_speed = baud_constant(self._settings.baudrate)
        self._link = Path(link) if link is not None else None
        self._master: int | None = None
        self._slave_path = ""
        self._client_poll: asyncio.TimerHandle | None = None
        self._splitter = RtuRequestSplitter()
        self._silence: asyncio.TimerHandle | None = None
        self._queue: asyncio.Queue[tuple[bytes, float]] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None
        self.noise_bytes = 0
        """Bytes ignored because the client's baud rate differs from the line's."""
        self.last_client_speed: int | None = None
        """The termios speed the last client that sent something had set."""

    @property
    def path(self) -> str:
        """What a client opens: the symlink if there is one, else the pty's own path."""
        return str(self._link) if self._link is not None else self._slave_path

    @property
    def device_path(self) -> str:
        """The pty's own /dev/pts path."""
        return self._slave_path

    @property
    def running(self) -> bool:
        """Tell whether the pty exists (the adapter is plugged in)."""
        return self._master is not None

    async def start(self) -> None:
        """Create the pty (and the link) and start answering."""
        master, slave = os.openpty()
        # Raw from the start: no echo or line editing before the client configures it.
        tty.setraw(slave)
        self._slave_path = os.ttyname(slave)
        os.close(slave)
        os.set_blocking(master, False)
        self._master = master
        self._park()
        if self._link is not None:
            temporary = self._link.with_name(self._link.name + ".new")
            temporary.unlink(missing_ok=True)
            temporary.symlink_to(self._slave_path)
            temporary.replace(self._link)
        loop = asyncio.get_running_loop()
        self._worker = loop.create_task(self._answer_requests(), name="simulator pty")
        self._check_client()

    async def close(self) -> None:
        """Remove the pty, as an adapter unplugged: the client's port fails."""
        if self._master is None:
            return
        asyncio.get_running_loop().remove_reader(self._master)
        for timer in (self._silence, self._client_poll):
            if timer is not None:
                timer.cancel()
        self._silence = self._client_poll = None
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
            self._worker = None
        os.close(self._master)
        self._master = None
        self._splitter = RtuRequestSplitter()
        self._queue = asyncio.Queue()
        if self._link is not None and self._link.is_symlink():
            self._link.unlink()

    def client_baud_matches(self) -> bool:
        """Tell whether the client set the line's baud rate on its side."""
        if self._master is None:
            return False
        speed: int = termios.tcgetattr(self._master)[4]
        self.last_client_speed = speed
        return speed == self._expected_speed

    def _on_readable(self) -> None:
        if self._master is None:
            return
        try:
            data = os.read(self._master, _READ_SIZE)
        except BlockingIOError:
            return
        except OSError:
            # EIO: the client closed the port.
            asyncio.get_running_loop().remove_reader(self._master)
            self._park()
            self._check_client()
            return
        self._received(data)

    def _park(self) -> None:
        """Set the port to 50 baud, so that the next client's settings change the speed."""
        if self._master is None:
            return
        attributes = termios.tcgetattr(self._master)
        attributes[4] = attributes[5] = termios.B50
        termios.tcsetattr(self._master, termios.TCSANOW, attributes)
        self._splitter = RtuRequestSplitter()

    def _check_client(self) -> None:
        self._client_poll = None
        if self._master is None:
            return
        loop = asyncio.get_running_loop()
        try:
            data = os.read(self._master, _READ_SIZE)
        except BlockingIOError:
            data = b""
        except OSError:
            # Nobody has the port open yet; a read would fail at once, so look later.
            self._client_poll = loop.call_later(_CLIENT_POLL_S, self._check_client)
            return
        loop.add_reader(self._master, self._on_readable)
        if data:
            self._received(data)

    def _received(self, data: bytes) -> None:
        if not self.client_baud_matches():
            self.noise_bytes += len(data)
            return
        now = asyncio.get_running_loop().time()
        for frame in self._splitter.feed(data):
            self._queue.put_nowait((frame, now))
        self._arm_silence()

    def _arm_silence(self) -> None:
        if self._silence is not None:
            self._silence.cancel()
            self._silence = None
        if self._splitter.pending:
            self._silence = asyncio.get_running_loop().call_later(
                max(self._settings.gap_s, _MIN_SILENCE_S), self._on_silence
            )

    def _on_silence(self) -> None:
        self._silence = None
        frame = self._splitter.flush()
        if frame is not None:
            self._queue.put_nowait((frame, asyncio.get_running_loop().time()))

    async def _answer_requests(self) -> None:
        while True:
            frame, received_at = await self._queue.get()
            response = await self._line.exchange_rtu(frame, received_at=received_at)
            if response is not None and self._master is not None:
                with contextlib.suppress(OSError):
                    os.write(self._master, response)
