"""
One `Bus` per serial port or gateway: the client, the lock, pacing, retries, reconnection.

Devices are `(bus, device id)` handles (`Bus.device()`), each a `RegisterTransport`.
Every request goes through one lock, so frames never overlap on the wire, and waits:
- the 3.5-character gap after the previous frame on a serial line (Modbus RTU), and
- the device's own pacing since its last frame (Heidelberg needs 100 ms, EVSE-WB 200 ms).

Errors are handled by class:
- `NoResponse` (timeout, garbled or foreign frame) is retried `retries` times, after a
  short quiet time on RTU links so that a late answer cannot pass for the next one's;
- `DeviceRefused` (a Modbus exception reply) is never retried;
- `ConnectionLost` closes the client; the next request reconnects, no sooner than the
  exponential backoff allows, and a request that lost the link is retried once after a
  successful reconnection.
A silent device only costs its own requests their timeouts: the port stays open for
the others.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final, Literal, Self

from .errors import ConnectionLost, DeviceError, DeviceRefused, NoResponse
from .modbus_client import ModbusClient

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Sequence
    from types import TracebackType

_LOGGER = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S: Final = 0.5
DEFAULT_RETRIES: Final = 2
# After an unanswered request on an RTU link, wait this long (at most half the timeout)
# before the next frame: RTU answers carry no transaction id, so a late answer arriving
# after the next request went out would be taken as that request's answer.
LATE_ANSWER_GUARD_S: Final = 0.1
# Above 19200 baud the Modbus RTU spec fixes the inter-frame gap at 1.75 ms.
_FIXED_GAP_ABOVE_BAUD: Final = 19200
_FIXED_GAP_S: Final = 0.00175


@dataclass(frozen=True, slots=True)
class SerialSettings:
    """An RS-485 port: device path (or pyserial URL) and line settings."""

    port: str
    baudrate: int
    parity: Literal["N", "E", "O"] = "N"
    stopbits: Literal[1, 2] = 1
    bytesize: int = 8

    @property
    def key(self) -> str:
        """Identify the port: devices with one key share one bus, and a site is one per key."""
        return f"serial:{self.port}"

    @property
    def label(self) -> str:
        """Name the port for people (messages, logs, forms): `serial port /dev/ttyUSB0`."""
        return f"serial port {self.port}"

    @property
    def line(self) -> str:
        """The line settings the way an installer writes them: `9600 8N1`."""
        return f"{self.baudrate} {self.bytesize}{self.parity}{self.stopbits}"

    @property
    def char_time_s(self) -> float:
        """Seconds one character takes on the wire (start, data, parity, stop bits)."""
        bits = 1 + self.bytesize + (0 if self.parity == "N" else 1) + self.stopbits
        return bits / self.baudrate

    @property
    def inter_frame_gap_s(self) -> float:
        """The silent interval (3.5 characters) that must separate two RTU frames."""
        if self.baudrate > _FIXED_GAP_ABOVE_BAUD:
            return _FIXED_GAP_S
        return 3.5 * self.char_time_s


@dataclass(frozen=True, slots=True)
class TcpSettings:
    """A gateway: Modbus TCP (`socket` framer) or RTU over TCP (`rtu` framer)."""

    host: str
    port: int
    framer: Literal["socket", "rtu"] = "socket"

    @property
    def key(self) -> str:
        """Identify the gateway: devices with one key share one bus, and a site is one per key."""
        return f"tcp:{self.host}:{self.port}"

    @property
    def label(self) -> str:
        """Name the gateway for people: `Modbus TCP gateway 192.0.2.1:502`."""
        kind = "RTU-over-TCP gateway" if self.framer == "rtu" else "Modbus TCP gateway"
        return f"{kind} {self.host}:{self.port}"

    @property
    def line(self) -> str:
        """How frames travel on it: `socket framing` (Modbus TCP) or `rtu framing`."""
        return f"{self.framer} framing"


type BusSettings = SerialSettings | TcpSettings


@dataclass(frozen=True, slots=True)
class Reconnection:
    """
    How the bus reopens a lost port or socket.

    Opening waits at most `connect_timeout_s`. After a failed attempt, the next one is
    allowed `backoff_min_s` later, then twice as long each time up to `backoff_max_s`;
    requests in between fail at once with `ConnectionLost` instead of blocking the bus.
    """

    connect_timeout_s: float = 3.0
    backoff_min_s: float = 0.5
    backoff_max_s: float = 30.0


@dataclass(slots=True)
class RequestStats:
    """
    Counters and latency for a bus or one device on it.

    `requests` counts calls, `retries` the extra attempts, `timeouts` the attempts that
    got no (valid) answer, `errors` the calls that failed in the end. Latency is the time
    from sending a frame to its answer, of the attempts that got one.
    """

    requests: int = 0
    timeouts: int = 0
    errors: int = 0
    retries: int = 0
    latency_last_s: float | None = None
    latency_max_s: float | None = None
    _latency_sum_s: float = field(default=0.0, repr=False)
    _latency_count: int = field(default=0, repr=False)

    @property
    def latency_avg_s(self) -> float | None:
        """Mean latency of answered attempts, or None before the first answer."""
        if not self._latency_count:
            return None
        return self._latency_sum_s / self._latency_count

    def record_latency(self, latency_s: float) -> None:
        """Add one answered attempt's latency."""
        self.latency_last_s = latency_s
        self.latency_max_s = max(latency_s, self.latency_max_s or 0.0)
        self._latency_sum_s += latency_s
        self._latency_count += 1


@dataclass(slots=True)
class BusStats(RequestStats):
    """`RequestStats` for the whole bus, plus reconnections and per-device figures."""

    reconnects: int = 0
    devices: dict[int, RequestStats] = field(default_factory=dict)

    def for_device(self, device_id: int) -> RequestStats:
        """Return the figures of one device id (created on first use)."""
        return self.devices.setdefault(device_id, RequestStats())


@dataclass(frozen=True, slots=True)
class _Policy:
    pacing_s: float
    timeout_s: float
    retries: int


class Bus:
    """One serial port or gateway, shared by every device on it."""

    def __init__(
        self,
        settings: BusSettings,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        retries: int = DEFAULT_RETRIES,
        reconnection: Reconnection | None = None,
    ) -> None:
        """
        Describe the bus; nothing is opened until `connect()` or the first request.

        `timeout_s` is the wait for one answer, `retries` the extra attempts after no
        answer; both can be overridden per device. `reconnection` sets the connect timeout
        and the backoff between reconnection attempts.
        """
        if timeout_s <= 0 or retries < 0:
            msg = "timeout_s must be positive and retries not negative"
            raise ValueError(msg)
        self._settings = settings
        self._timeout_s = timeout_s
        self._retries = retries
        self._reconnection = reconnection or Reconnection()
        self._backoff_s = self._reconnection.backoff_min_s
        self._next_connect_at = 0.0
        self._ever_connected = False
        self._closed = False
        self._lock = asyncio.Lock()
        self._client = _build_client(settings)
        self._gap_s = settings.inter_frame_gap_s if isinstance(settings, SerialSettings) else 0.0
        self._rtu_framing = isinstance(settings, SerialSettings) or settings.framer == "rtu"
        self._last_frame_end = 0.0
        self._quiet_until = 0.0
        self._device_last_end: dict[int, float] = {}
        self.stats = BusStats()

    @property
    def settings(self) -> BusSettings:
        """The port or gateway this bus talks to."""
        return self._settings

    @property
    def connected(self) -> bool:
        """Tell whether the port or socket is open right now."""
        return self._client.connected

    async def connect(self) -> None:
        """Open the port or socket now; raise `ConnectionLost` with the reason if it fails."""
        async with self._lock:
            self._closed = False
            await self._open()

    async def close(self) -> None:
        """Close the port or socket; later requests raise `ConnectionLost`."""
        async with self._lock:
            self._closed = True
            self._client.close()

    async def __aenter__(self) -> Self:
        """Connect, for `async with Bus(...) as bus:`."""
        await self.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Close."""
        await self.close()

    def device(
        self,
        device_id: int,
        *,
        pacing_s: float = 0.0,
        timeout_s: float | None = None,
        retries: int | None = None,
    ) -> BusDevice:
        """Return a handle for one device id, with its pacing and optional overrides."""
        policy = _Policy(
            pacing_s=pacing_s,
            timeout_s=self._timeout_s if timeout_s is None else timeout_s,
            retries=self._retries if retries is None else retries,
        )
        return BusDevice(self, device_id, policy)

    async def _transact[T](
        self,
        device_id: int,
        policy: _Policy,
        call: Callable[[ModbusClient, float], Awaitable[T]],
    ) -> T:
        device_stats = self.stats.for_device(device_id)
        self.stats.requests += 1
        device_stats.requests += 1
        async with self._lock:
            try:
                return await self._attempts(device_id, policy, call, device_stats)
            except DeviceError:
                self.stats.errors += 1
                device_stats.errors += 1
                raise

    async def _attempts[T](
        self,
        device_id: int,
        policy: _Policy,
        call: Callable[[ModbusClient, float], Awaitable[T]],
        device_stats: RequestStats,
    ) -> T:
        reconnect_retry_left = True
        no_answer_retries_left = policy.retries
        while True:
            if self._closed:
                msg = f"the bus on {self._settings.label} is closed"
                raise ConnectionLost(msg)
            if not self._client.connected:
                await self._reconnect()
            await self._pace(device_id, policy.pacing_s)
            started = time.monotonic()
            try:
                result = await call(self._client, policy.timeout_s)
            except DeviceRefused:
                self._mark_end(device_id)
                self._record_latency(device_stats, started)
                raise
            except NoResponse as exc:
                self._mark_end(device_id)
                if self._rtu_framing:
                    guard_s = min(LATE_ANSWER_GUARD_S, policy.timeout_s / 2)
                    self._quiet_until = time.monotonic() + guard_s
                self.stats.timeouts += 1
                device_stats.timeouts += 1
                if no_answer_retries_left <= 0:
                    raise
                no_answer_retries_left -= 1
                _LOGGER.debug("device %s: %s; retrying", device_id, exc)
            except ConnectionLost as exc:
                self._client.close()
                if not reconnect_retry_left:
                    raise
                reconnect_retry_left = False
                _LOGGER.debug("device %s: %s; reconnecting", device_id, exc)
            else:
                self._mark_end(device_id)
                self._record_latency(device_stats, started)
                return result
            self.stats.retries += 1
            device_stats.retries += 1

    async def _reconnect(self) -> None:
        wait_s = self._next_connect_at - time.monotonic()
        if wait_s > 0:
            msg = (
                f"{self._settings.label} is unavailable; "
                f"next reconnection attempt in {wait_s:.1f} s"
            )
            raise ConnectionLost(msg)
        await self._open()

    async def _open(self) -> None:
        try:
            await self._client.connect(timeout_s=self._reconnection.connect_timeout_s)
        except ConnectionLost:
            self._next_connect_at = time.monotonic() + self._backoff_s
            self._backoff_s = min(2 * self._backoff_s, self._reconnection.backoff_max_s)
            raise
        if self._ever_connected:
            self.stats.reconnects += 1
            _LOGGER.info("reconnected to %s", self._settings.label)
        self._ever_connected = True
        self._backoff_s = self._reconnection.backoff_min_s
        self._next_connect_at = 0.0
        # A fresh link carries no frame yet: no gap to keep.
        self._last_frame_end = 0.0

    async def _pace(self, device_id: int, pacing_s: float) -> None:
        ready_at = max(
            self._last_frame_end + self._gap_s,
            self._device_last_end.get(device_id, 0.0) + pacing_s,
            self._quiet_until,
        )
        wait_s = ready_at - time.monotonic()
        if wait_s > 0:
            await asyncio.sleep(wait_s)

    def _record_latency(self, device_stats: RequestStats, started: float) -> None:
        latency_s = time.monotonic() - started
        self.stats.record_latency(latency_s)
        device_stats.record_latency(latency_s)

    def _mark_end(self, device_id: int) -> None:
        now = time.monotonic()
        self._last_frame_end = now
        self._device_last_end[device_id] = now


class BusDevice:
    """One device id on a `Bus`: the `RegisterTransport` drivers and discovery use."""

    def __init__(self, bus: Bus, device_id: int, policy: _Policy) -> None:
        """Use `Bus.device()` to make one."""
        self._bus = bus
        self._device_id = device_id
        self._policy = policy

    @property
    def device_id(self) -> int:
        """Modbus device id (1-247) of the device this handle talks to."""
        return self._device_id

    @property
    def bus(self) -> Bus:
        """The bus this device hangs on."""
        return self._bus

    @property
    def stats(self) -> RequestStats:
        """Return this device id's figures on the bus."""
        return self._bus.stats.for_device(self._device_id)

    async def read_holding(self, address: int, count: int) -> list[int]:
        """Read `count` holding registers (function code 3)."""
        return await self._bus._transact(  # noqa: SLF001 (the handle is part of the bus)
            self._device_id,
            self._policy,
            lambda client, timeout_s: client.read_holding(
                self._device_id, address, count, timeout_s=timeout_s
            ),
        )

    async def read_input(self, address: int, count: int) -> list[int]:
        """Read `count` input registers (function code 4)."""
        return await self._bus._transact(  # noqa: SLF001
            self._device_id,
            self._policy,
            lambda client, timeout_s: client.read_input(
                self._device_id, address, count, timeout_s=timeout_s
            ),
        )

    async def write(
        self, address: int, values: Sequence[int], *, function_code: Literal[6, 16] = 16
    ) -> None:
        """Write registers: FC 6 for a single register, FC 16 for one or more."""
        if function_code == 6:  # noqa: PLR2004 (the Modbus function code)
            if len(values) != 1:
                msg = f"FC 6 writes exactly one register, got {len(values)}"
                raise ValueError(msg)
            value = values[0]
            await self._bus._transact(  # noqa: SLF001
                self._device_id,
                self._policy,
                lambda client, timeout_s: client.write_register(
                    self._device_id, address, value, timeout_s=timeout_s
                ),
            )
            return
        registers = list(values)
        await self._bus._transact(  # noqa: SLF001
            self._device_id,
            self._policy,
            lambda client, timeout_s: client.write_registers(
                self._device_id, address, registers, timeout_s=timeout_s
            ),
        )

    async def read_coils(self, address: int, count: int) -> list[int]:
        """Read `count` coils (function code 1), each 0 or 1."""
        return await self._bus._transact(  # noqa: SLF001
            self._device_id,
            self._policy,
            lambda client, timeout_s: client.read_coils(
                self._device_id, address, count, timeout_s=timeout_s
            ),
        )

    async def write_coil(self, address: int, *, on: bool) -> None:
        """Switch one coil on or off (function code 5)."""
        await self._bus._transact(  # noqa: SLF001
            self._device_id,
            self._policy,
            lambda client, timeout_s: client.write_coil(
                self._device_id, address, on=on, timeout_s=timeout_s
            ),
        )

    def unit(self, unit_id: int) -> BusDevice:
        """Return a handle for `unit_id` on the same bus, with this handle's pacing and timeouts."""
        if unit_id == self._device_id:
            return self
        return BusDevice(self._bus, unit_id, self._policy)


def open_parity(settings: SerialSettings) -> Literal["N", "E", "O"]:
    """
    Parity to open the port with.

    A pseudo-terminal (the simulator, socat) carries no parity bits at all, and Linux
    refuses pyserial's parity setting on one, so a pty is opened without parity. Real
    adapters get the line's parity.
    """
    if settings.parity != "N" and os.path.realpath(settings.port).startswith("/dev/pts/"):
        return "N"
    return settings.parity


def _build_client(settings: BusSettings) -> ModbusClient:
    if isinstance(settings, SerialSettings):
        return ModbusClient.serial(
            settings.port,
            baudrate=settings.baudrate,
            parity=open_parity(settings),
            stopbits=settings.stopbits,
            bytesize=settings.bytesize,
            label=settings.label,
        )
    return ModbusClient.tcp(
        settings.host, settings.port, rtu_framing=settings.framer == "rtu", label=settings.label
    )
