"""The Bus against real pymodbus servers: RTU on socat pty pairs, Modbus TCP, RTU over TCP."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import termios
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from pymodbus import FramerType
from pymodbus.exceptions import ConnectionException, ModbusIOException
from pymodbus.server import ModbusSerialServer, ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from custom_components.headroom.devices.bus import (
    Bus,
    BusDevice,
    Reconnection,
    RequestStats,
    SerialSettings,
    TcpSettings,
    open_parity,
)
from custom_components.headroom.devices.errors import (
    ConnectionLost,
    DeviceRefused,
    NoResponse,
)
from custom_components.headroom.devices.modbus_client import ModbusClient
from custom_components.headroom.devices.transport import RegisterTransport

VALUES = list(range(100, 120))
SILENT_ID = 3
CORRUPT_ID = 4
SHORT_ID = 5
WRONG_FC_ID = 6
FAST_RECONNECTION = Reconnection(backoff_min_s=0.05)


def crc16(frame: bytes) -> bytes:
    crc = 0xFFFF
    for byte in frame:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc.to_bytes(2, "little")


def devices() -> list[SimDevice]:
    return [
        SimDevice(
            id=device_id,
            simdata=[SimData(address=0, values=list(VALUES), datatype=DataType.REGISTERS)],
        )
        for device_id in (1, 2, SILENT_ID, CORRUPT_ID, SHORT_ID, WRONG_FC_ID)
    ]


def rtu_faults(sending: bool, data: bytes) -> bytes:
    """Server-side packet hook: make some ids misbehave as a real device would."""
    if not sending or not data:
        return data
    if data[0] == SILENT_ID:
        return b""
    if data[0] == CORRUPT_ID:
        return data[:-1] + bytes([data[-1] ^ 0xFF])
    if data[0] == SHORT_ID and data[1] in {3, 4}:
        # A valid frame, with a good CRC, that carries one register less than asked.
        body = data[:2] + bytes([data[2] - 2]) + data[3 : 3 + data[2] - 2]
        return body + crc16(body)
    if data[0] == WRONG_FC_ID:
        body = data[:1] + bytes([4 if data[1] == 3 else 3]) + data[2:-2]
        return body + crc16(body)
    return data


@dataclass
class PtyPair:
    """A socat pty pair standing in for an RS-485 adapter and the line behind it."""

    directory: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def server_path(self) -> str:
        return str(self.directory / "line")

    @property
    def client_path(self) -> str:
        return str(self.directory / "adapter")

    async def start(self) -> None:
        socat = shutil.which("socat")
        assert socat is not None, "socat is missing: run scripts/setup"
        self.process = subprocess.Popen(  # noqa: ASYNC220, S603 (a fixed command; polled below)
            [
                socat,
                f"pty,raw,echo=0,link={self.server_path}",
                f"pty,raw,echo=0,link={self.client_path}",
            ],
        )
        deadline = time.monotonic() + 5
        while not self.created():
            assert time.monotonic() < deadline, "socat did not create the pty pair"
            await asyncio.sleep(0.01)

    def created(self) -> bool:
        return Path(self.server_path).exists() and Path(self.client_path).exists()

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=5)
            self.process = None
        for path in (self.server_path, self.client_path):
            Path(path).unlink(missing_ok=True)


@dataclass
class RtuLine:
    """A pty pair with a pymodbus RTU server on its far end."""

    pair: PtyPair
    baudrate: int = 9600
    server: ModbusSerialServer | None = None
    trace: Callable[[bool, bytes], bytes] = field(default=rtu_faults)

    async def start(self) -> None:
        await self.pair.start()
        self.server = ModbusSerialServer(
            devices(),
            framer=FramerType.RTU,
            port=self.pair.server_path,
            baudrate=self.baudrate,
            trace_packet=self.trace,
        )
        await self.server.serve_forever(background=True)

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.shutdown()
            self.server = None
        self.pair.stop()

    def settings(self) -> SerialSettings:
        return SerialSettings(self.pair.client_path, self.baudrate)


@pytest.fixture
async def line(tmp_path: Path) -> AsyncIterator[RtuLine]:
    rtu = RtuLine(PtyPair(tmp_path))
    await rtu.start()
    yield rtu
    await rtu.stop()


@pytest.fixture
async def rtu_bus(line: RtuLine) -> AsyncIterator[Bus]:
    bus = Bus(line.settings(), timeout_s=0.1, retries=2, reconnection=FAST_RECONNECTION)
    await bus.connect()
    yield bus
    await bus.close()


# --- settings ---------------------------------------------------------------------------


def test_serial_timing_follows_the_line_settings():
    assert SerialSettings("/dev/x", 9600).char_time_s == pytest.approx(10 / 9600)
    assert SerialSettings("/dev/x", 19200, "E").char_time_s == pytest.approx(11 / 19200)
    assert SerialSettings("/dev/x", 9600, "N", 2).inter_frame_gap_s == pytest.approx(
        3.5 * 11 / 9600
    )
    assert SerialSettings("/dev/x", 115200).inter_frame_gap_s == pytest.approx(0.00175)


def test_bus_rejects_nonsense_settings():
    with pytest.raises(ValueError, match="timeout_s"):
        Bus(SerialSettings("/dev/x", 9600), timeout_s=0)
    with pytest.raises(ValueError, match="retries"):
        Bus(SerialSettings("/dev/x", 9600), retries=-1)


# --- RTU on a pty ---------------------------------------------------------------------------


async def test_reads_and_writes_over_rtu(rtu_bus: Bus, line: RtuLine):
    transport: RegisterTransport = rtu_bus.device(1)
    assert transport.device_id == 1
    assert rtu_bus.settings == line.settings()
    device = rtu_bus.device(1)
    assert device.bus is rtu_bus
    assert rtu_bus.connected
    assert await device.read_holding(0, 4) == VALUES[:4]
    assert await device.read_input(10, 3) == VALUES[10:13]
    await device.write(2, [7], function_code=6)
    await device.write(3, [8, 9])
    assert await device.read_holding(2, 3) == [7, 8, 9]
    assert await rtu_bus.device(2).read_holding(2, 1) == [VALUES[2]]


async def test_exception_reply_is_refused_and_not_retried(rtu_bus: Bus):
    device = rtu_bus.device(1)
    with pytest.raises(DeviceRefused) as refused:
        await device.read_holding(500, 2)
    assert refused.value.exception_code == 2
    assert device.stats.retries == 0
    assert device.stats.errors == 1
    assert device.stats.latency_last_s is not None


async def test_silent_device_gives_no_response_after_retries(rtu_bus: Bus):
    silent = rtu_bus.device(SILENT_ID)
    started = time.monotonic()
    with pytest.raises(NoResponse, match="no answer within 100 ms"):
        await silent.read_holding(0, 2)
    assert time.monotonic() - started < 1.0
    assert silent.stats.timeouts == 3
    assert silent.stats.retries == 2
    assert silent.stats.errors == 1


async def test_one_silent_device_does_not_take_the_bus_down(rtu_bus: Bus):
    # pymodbus 3.13.1 closes the port after retries+3 unanswered requests by default.
    silent = rtu_bus.device(SILENT_ID, retries=0, timeout_s=0.03)
    for _ in range(12):
        with pytest.raises(NoResponse):
            await silent.read_input(0, 1)
    assert rtu_bus.connected
    assert await rtu_bus.device(1).read_input(0, 2) == VALUES[:2]
    assert rtu_bus.stats.reconnects == 0


async def test_corrupted_and_short_frames_are_no_response(rtu_bus: Bus):
    with pytest.raises(NoResponse):
        await rtu_bus.device(CORRUPT_ID, retries=0).read_holding(0, 2)
    with pytest.raises(NoResponse, match="expected 3 registers, got 2"):
        await rtu_bus.device(SHORT_ID, retries=1).read_holding(0, 3)
    assert rtu_bus.stats.for_device(SHORT_ID).retries == 1
    with pytest.raises(NoResponse, match="function code 4 to a function code 3"):
        await rtu_bus.device(WRONG_FC_ID, retries=0).read_holding(0, 1)


async def test_timeout_never_hangs_even_with_nothing_on_the_line(tmp_path: Path):
    pair = PtyPair(tmp_path)
    await pair.start()
    try:
        bus = Bus(SerialSettings(pair.client_path, 9600), timeout_s=0.05, retries=1)
        await bus.connect()
        devices_on_bus = [bus.device(device_id) for device_id in (1, 2, 3)]
        async with asyncio.timeout(2):
            results = await asyncio.gather(
                *(device.read_holding(0, 1) for device in devices_on_bus),
                return_exceptions=True,
            )
        assert all(isinstance(result, NoResponse) for result in results)
        assert bus.stats.timeouts == 6
        await bus.close()
    finally:
        pair.stop()


async def test_missing_port_raises_connection_lost_with_a_clear_message(tmp_path: Path):
    bus = Bus(SerialSettings(str(tmp_path / "ttyUSB9"), 9600))
    with pytest.raises(ConnectionLost, match="no such device"):
        await bus.connect()
    assert not bus.connected


async def test_port_in_use_raises_connection_lost(rtu_bus: Bus, line: RtuLine):
    second = Bus(line.settings())
    with pytest.raises(ConnectionLost, match="in use"):
        await second.connect()
    await second.close()
    assert await rtu_bus.device(1).read_holding(0, 1) == VALUES[:1]


async def test_bus_recovers_after_the_adapter_disappears_and_returns(rtu_bus: Bus, line: RtuLine):
    device = rtu_bus.device(1)
    assert await device.read_holding(0, 1) == VALUES[:1]
    await line.stop()
    with pytest.raises(ConnectionLost):
        await device.read_holding(0, 1)
    # Within the backoff the bus does not even try: the caller learns it at once.
    with pytest.raises(ConnectionLost, match="next reconnection attempt"):
        await device.read_holding(0, 1)
    await line.start()
    await asyncio.sleep(0.3)
    assert await device.read_holding(0, 2) == VALUES[:2]
    assert rtu_bus.stats.reconnects == 1
    assert rtu_bus.connected


async def test_link_lost_during_a_request_ends_it_at_once(rtu_bus: Bus, line: RtuLine):
    silent = rtu_bus.device(SILENT_ID, timeout_s=5, retries=0)
    request = asyncio.ensure_future(silent.read_holding(0, 1))
    await asyncio.sleep(0.1)
    started = time.monotonic()
    await line.stop()
    with pytest.raises(ConnectionLost):
        await request
    assert time.monotonic() - started < 1.0


async def test_backoff_doubles_between_failed_reconnections(tmp_path: Path):
    bus = Bus(
        SerialSettings(str(tmp_path / "gone"), 9600),
        reconnection=Reconnection(backoff_min_s=0.05, backoff_max_s=0.1),
    )
    device = bus.device(1)
    for wait_s in (0.06, 0.11, 0.11):
        with pytest.raises(ConnectionLost, match="no such device"):
            await device.read_holding(0, 1)
        with pytest.raises(ConnectionLost, match="next reconnection attempt"):
            await device.read_holding(0, 1)
        await asyncio.sleep(wait_s)
    assert bus.stats.reconnects == 0


async def test_slow_open_raises_connection_lost(socket_enabled: None):
    del socket_enabled
    # A listener whose accept queue is full: the kernel drops further SYNs, connect hangs.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        address = listener.getsockname()
        fillers = [socket.socket() for _ in range(3)]
        for filler in fillers:
            filler.setblocking(False)
            filler.connect_ex(address)
        bus = Bus(TcpSettings(*address), reconnection=Reconnection(connect_timeout_s=0.2))
        try:
            started = time.monotonic()
            with pytest.raises(ConnectionLost, match=r"within 0\.2 s"):
                await bus.connect()
            assert time.monotonic() - started < 1
        finally:
            await bus.close()
            for filler in fillers:
                filler.close()


async def test_client_refuses_requests_before_it_is_open(line: RtuLine):
    client = ModbusClient.serial(line.pair.client_path, baudrate=9600, label="the pty")
    with pytest.raises(ConnectionLost, match="is not open"):
        await client.read_holding(1, 0, 1, timeout_s=0.1)


class FailingPymodbusClient:
    """Stands in for pymodbus where no real transport can make it fail this way."""

    connected = True

    def __init__(self, error: Exception) -> None:
        self.error = error

    async def connect(self) -> bool:
        raise self.error

    def set_max_no_responses(self, count: int) -> None:
        assert count > 1000

    def close(self) -> None:
        self.connected = False

    async def read_input_registers(self, *_args: object, **_kwargs: object) -> None:
        raise self.error


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (ModbusIOException("request uses device id=1 but received 2"), NoResponse),
        (ConnectionException("Not connected"), ConnectionLost),
    ],
)
async def test_pymodbus_exceptions_map_to_device_errors(error, expected):
    client = ModbusClient(lambda _hook: FailingPymodbusClient(error), label="x", path=None)
    with pytest.raises(expected):
        await client.read_input(1, 0, 1, timeout_s=0.1)


async def test_open_failures_of_any_kind_are_connection_lost():
    # pyserial lets termios.error (not an OSError) escape, e.g. when a pty refuses parity.
    error = termios.error(22, "Invalid argument")
    client = ModbusClient(lambda _hook: FailingPymodbusClient(error), label="x", path=None)
    with pytest.raises(ConnectionLost, match="Invalid argument"):
        await client.connect(timeout_s=1)


async def test_closed_bus_refuses_requests(rtu_bus: Bus):
    await rtu_bus.close()
    with pytest.raises(ConnectionLost, match="closed"):
        await rtu_bus.device(1).read_holding(0, 1)
    await rtu_bus.connect()
    assert await rtu_bus.device(1).read_holding(0, 1) == VALUES[:1]


async def test_requests_are_opened_lazily_and_async_with_closes(line: RtuLine):
    bus = Bus(line.settings(), timeout_s=0.2)
    assert await bus.device(2).read_input(0, 1) == VALUES[:1]
    assert bus.stats.reconnects == 0
    await bus.close()
    async with Bus(line.settings()) as scoped:
        assert scoped.connected
    assert not scoped.connected


async def test_pacing_is_per_device_and_keeps_the_inter_frame_gap(rtu_bus: Bus):
    # A pacing far longer than a round trip on the pty (about a millisecond), so that a
    # loaded machine cannot make the unpaced device look paced.
    paced = rtu_bus.device(1, pacing_s=0.5)
    other = rtu_bus.device(2)
    await paced.read_holding(0, 1)
    started = time.monotonic()
    await other.read_holding(0, 1)
    assert time.monotonic() - started < 0.4
    await paced.read_holding(0, 1)
    assert time.monotonic() - started >= 0.5


async def test_invalid_arguments_are_caller_bugs(rtu_bus: Bus):
    device = rtu_bus.device(1)
    with pytest.raises(ValueError, match="exactly one register"):
        await device.write(0, [1, 2], function_code=6)
    with pytest.raises(ValueError, match="cannot read 126"):
        await device.read_holding(0, 126)
    with pytest.raises(ValueError, match="cannot write 0"):
        await device.write(0, [])
    with pytest.raises(ValueError, match=r"0\.\.65535"):
        await device.write(0, [70000])
    with pytest.raises(ValueError, match=r"outside 0\.\.65535"):
        await device.read_input(-1, 1)
    with pytest.raises(ValueError, match=r"outside 0\.\.247"):
        await rtu_bus.device(248).read_input(0, 1)


async def test_stats_count_requests_errors_and_latency(line: RtuLine):
    # A timeout a busy machine's event loop cannot outlast (a 0.4 s stall once failed a good
    # read at 0.1 s): only the silent device may time out here.
    timeout_s = 1.0
    bus = Bus(line.settings(), timeout_s=timeout_s, retries=2, reconnection=FAST_RECONNECTION)
    await bus.connect()
    try:
        device = bus.device(1)
        for _ in range(3):
            await device.read_holding(0, 2)
        with pytest.raises(NoResponse):
            await bus.device(SILENT_ID, retries=1).read_holding(0, 1)
    finally:
        await bus.close()
    stats = bus.stats
    assert (stats.requests, stats.timeouts, stats.errors, stats.retries) == (4, 2, 1, 1)
    assert stats.latency_avg_s is not None
    assert stats.latency_max_s is not None
    assert 0 < stats.latency_avg_s <= stats.latency_max_s < timeout_s
    assert device.stats.requests == 3
    assert RequestStats().latency_avg_s is None


# --- TCP ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class TcpGateway:
    """A pymodbus TCP server on 127.0.0.1, Modbus TCP or RTU framing."""

    framer: FramerType
    port: int = field(default_factory=free_port)
    server: ModbusTcpServer | None = None

    async def start(self) -> None:
        self.server = ModbusTcpServer(
            devices(), framer=self.framer, address=("127.0.0.1", self.port)
        )
        await self.server.serve_forever(background=True)

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.shutdown()
            self.server = None


@pytest.fixture(params=[FramerType.SOCKET, FramerType.RTU], ids=["modbus-tcp", "rtu-over-tcp"])
async def gateway(
    request: pytest.FixtureRequest, socket_enabled: None
) -> AsyncIterator[TcpGateway]:
    del socket_enabled
    server = TcpGateway(request.param)
    await server.start()
    yield server
    await server.stop()


def tcp_bus(gateway: TcpGateway) -> Bus:
    framer = "rtu" if gateway.framer == FramerType.RTU else "socket"
    return Bus(
        TcpSettings("127.0.0.1", gateway.port, framer),
        timeout_s=0.3,
        reconnection=FAST_RECONNECTION,
    )


async def test_reads_writes_and_refusals_over_tcp(gateway: TcpGateway):
    bus = tcp_bus(gateway)
    await bus.connect()
    device: BusDevice = bus.device(2)
    assert await device.read_input(0, 3) == VALUES[:3]
    await device.write(0, [42], function_code=6)
    assert await device.read_holding(0, 1) == [42]
    with pytest.raises(DeviceRefused) as refused:
        await device.read_holding(900, 1)
    assert refused.value.exception_code == 2
    await bus.close()


async def test_tcp_bus_reconnects_after_the_gateway_restarts(gateway: TcpGateway):
    bus = tcp_bus(gateway)
    device = bus.device(1)
    assert await device.read_holding(0, 1) == VALUES[:1]
    await gateway.stop()
    await asyncio.sleep(0.05)
    with pytest.raises(ConnectionLost):
        await device.read_holding(0, 1)
    await gateway.start()
    await asyncio.sleep(0.1)
    assert await device.read_holding(1, 1) == VALUES[1:2]
    assert bus.stats.reconnects == 1
    await bus.close()


async def test_unreachable_gateway_raises_connection_lost(socket_enabled: None):
    del socket_enabled
    bus = Bus(TcpSettings("127.0.0.1", free_port()), reconnection=Reconnection(connect_timeout_s=1))
    with pytest.raises(ConnectionLost, match=r"cannot connect to Modbus TCP gateway 127\.0\.0\.1"):
        await bus.connect()
    await bus.close()


async def test_gateway_that_drops_every_request_fails_after_one_reconnection(socket_enabled: None):
    del socket_enabled

    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1)
        writer.close()
        await writer.wait_closed()

    server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    bus = Bus(TcpSettings("127.0.0.1", port), timeout_s=2)
    try:
        started = time.monotonic()
        with pytest.raises(ConnectionLost, match="lost the connection"):
            await bus.device(1).read_holding(0, 1)
        assert time.monotonic() - started < 1.5
        assert bus.stats.reconnects == 1
        assert bus.stats.retries == 1
    finally:
        await bus.close()
        server.close()
        await server.wait_closed()


async def test_line_parity_on_a_pty_opens_without_parity(line: RtuLine):
    """A pty carries no parity; the Bus still reaches devices of an 8E1 line through one."""
    settings = SerialSettings(line.pair.client_path, line.baudrate, "E")
    assert open_parity(settings) == "N"
    assert open_parity(SerialSettings("/dev/ttyUSB0", 9600, "E")) == "E"
    async with Bus(settings, timeout_s=0.2, retries=1) as bus:
        assert await bus.device(1).read_holding(0, 2) == VALUES[:2]


@pytest.mark.parametrize(
    ("settings", "key", "label", "line"),
    [
        (
            SerialSettings("/dev/ttyUSB0", 19200, "E"),
            "serial:/dev/ttyUSB0",
            "serial port /dev/ttyUSB0",
            "19200 8E1",
        ),
        (
            TcpSettings("192.0.2.1", 502),
            "tcp:192.0.2.1:502",
            "Modbus TCP gateway 192.0.2.1:502",
            "socket framing",
        ),
        (
            TcpSettings("192.0.2.1", 502, framer="rtu"),
            "tcp:192.0.2.1:502",
            "RTU-over-TCP gateway 192.0.2.1:502",
            "rtu framing",
        ),
    ],
)
def test_a_bus_has_one_key_and_one_label(settings, key, label, line):
    # The key is also the site's unique id: existing entries depend on its form.
    assert (settings.key, settings.label, settings.line) == (key, label, line)
    assert SerialSettings("/dev/ttyUSB0", 9600).key == SerialSettings("/dev/ttyUSB0", 19200).key
