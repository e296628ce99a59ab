"""
The only module that imports pymodbus: one client, pymodbus results mapped to errors.py.

pymodbus's own retries, reconnection and "close the port after N silent requests" are
switched off here, because the `Bus` owns them (and on pymodbus 3.13.1 that last feature
closes a serial port for every device on it when a single device is dead). Every wait
is bounded by the caller's timeout: pymodbus's own response timeout is only a backstop,
and on 3.13.1 it turns cancellation into `ModbusIOException` anyway, so the request runs
in a task of its own and is abandoned, not cancelled from outside, when time is up.
Works on pymodbus 3.13.1 (Home Assistant 2026.10's pin) and 3.16.
"""

from __future__ import annotations

import asyncio
import os
from typing import TYPE_CHECKING, Final

from pymodbus import ExceptionResponse, FramerType, ModbusException
from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.exceptions import ConnectionException

from .errors import ConnectionLost, DeviceRefused, NoResponse

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Sequence

    from pymodbus.pdu import ModbusPDU

# pymodbus's own response timeout: never reached before the caller's timeout.
_BACKSTOP_TIMEOUT_S: Final = 60.0
# Silent requests before pymodbus closes the connection: never, the Bus decides.
_NEVER_DISCONNECT: Final = 1_000_000_000

MAX_READ_COUNT: Final = 125
MAX_COIL_READ_COUNT: Final = 2000
MAX_WRITE_COUNT: Final = 123
MAX_DEVICE_ID: Final = 247
MAX_TCP_UNIT_ID: Final = 255
"""Modbus TCP unit ids go to 255 (Vestel, KEBA answer on 255); RTU device ids stop at 247."""
_MAX_ADDRESS: Final = 0xFFFF

type _PymodbusClient = AsyncModbusSerialClient | AsyncModbusTcpClient


class ModbusClient:
    """
    One pymodbus client (serial RTU, Modbus TCP or RTU over TCP) with typed errors.

    Requests raise only `ConnectionLost`, `NoResponse` or `DeviceRefused`; arguments out
    of the Modbus range raise `ValueError` (a caller bug, not a device condition). The
    client does not serialize requests or retry: that is the `Bus`'s job.
    """

    def __init__(
        self,
        make_client: Callable[[Callable[[bool], None]], _PymodbusClient],
        *,
        label: str,
        path: str | None,
    ) -> None:
        """
        Wrap a pymodbus client; use `serial()` or `tcp()` to build one.

        `make_client` receives the hook pymodbus calls when the link opens or drops; `label`
        names the port or gateway in messages (the bus settings' `label`).
        """
        self._lost = asyncio.Event()
        self._client = make_client(self._connection_changed)
        self._client.set_max_no_responses(_NEVER_DISCONNECT)
        tcp = isinstance(self._client, AsyncModbusTcpClient)
        self._max_id = MAX_TCP_UNIT_ID if tcp else MAX_DEVICE_ID
        self._label = label
        self._path = path

    @classmethod
    def serial(  # noqa: PLR0913 (the line settings, and the label the bus gives the port)
        cls,
        port: str,
        *,
        baudrate: int,
        parity: str = "N",
        stopbits: int = 1,
        bytesize: int = 8,
        label: str,
    ) -> ModbusClient:
        """Build an RTU client on a serial port (a device path or a pyserial URL)."""
        return cls(
            lambda on_connect: AsyncModbusSerialClient(
                port,
                framer=FramerType.RTU,
                baudrate=baudrate,
                parity=parity,
                stopbits=stopbits,
                bytesize=bytesize,
                timeout=_BACKSTOP_TIMEOUT_S,
                retries=0,
                reconnect_delay=0,
                trace_connect=on_connect,
            ),
            label=label,
            path=None if "://" in port else port,
        )

    @classmethod
    def tcp(cls, host: str, port: int, *, rtu_framing: bool = False, label: str) -> ModbusClient:
        """Build a Modbus TCP client, or an RTU-over-TCP one with `rtu_framing`."""
        return cls(
            lambda on_connect: AsyncModbusTcpClient(
                host,
                port=port,
                framer=FramerType.RTU if rtu_framing else FramerType.SOCKET,
                timeout=_BACKSTOP_TIMEOUT_S,
                retries=0,
                reconnect_delay=0,
                trace_connect=on_connect,
            ),
            label=label,
            path=None,
        )

    @property
    def connected(self) -> bool:
        """Tell whether the port or socket is open."""
        return self._client.connected and not self._lost.is_set()

    async def connect(self, *, timeout_s: float) -> None:
        """Open the port or socket; raise `ConnectionLost` with the reason if it fails."""
        self._client.close()
        self._lost.clear()
        try:
            opened = await _bounded(self._client.connect(), timeout_s, self._lost)
        except TimeoutError:
            self._client.close()
            # pymodbus 3.13's connect() itself sleeps 0.1 s after opening.
            msg = f"cannot open {self._label} within {timeout_s:g} s"
            raise ConnectionLost(msg) from None
        except Exception as err:
            # pyserial lets termios.error (not an OSError) escape from opening a port.
            self._client.close()
            msg = f"cannot open {self._label}: {err!r}"
            raise ConnectionLost(msg) from err
        if opened and self._client.connected:
            self._lost.clear()
            return
        self._client.close()
        raise ConnectionLost(self._why_not_open())

    def close(self) -> None:
        """Close the port or socket (safe to call more than once)."""
        self._client.close()

    async def read_holding(
        self, device_id: int, address: int, count: int, *, timeout_s: float
    ) -> list[int]:
        """Read holding registers (FC 3) within `timeout_s`."""
        _check_read(device_id, address, count, self._max_id)
        response = await self._request(
            lambda: self._client.read_holding_registers(address, count=count, device_id=device_id),
            function_code=3,
            timeout_s=timeout_s,
        )
        return self._registers(response, count)

    async def read_input(
        self, device_id: int, address: int, count: int, *, timeout_s: float
    ) -> list[int]:
        """Read input registers (FC 4) within `timeout_s`."""
        _check_read(device_id, address, count, self._max_id)
        response = await self._request(
            lambda: self._client.read_input_registers(address, count=count, device_id=device_id),
            function_code=4,
            timeout_s=timeout_s,
        )
        return self._registers(response, count)

    async def write_register(
        self, device_id: int, address: int, value: int, *, timeout_s: float
    ) -> None:
        """Write one holding register (FC 6) within `timeout_s`."""
        _check_write(device_id, address, [value], self._max_id)
        await self._request(
            lambda: self._client.write_register(address, value, device_id=device_id),
            function_code=6,
            timeout_s=timeout_s,
        )

    async def write_registers(
        self, device_id: int, address: int, values: Sequence[int], *, timeout_s: float
    ) -> None:
        """Write one or more holding registers (FC 16) within `timeout_s`."""
        _check_write(device_id, address, values, self._max_id)
        await self._request(
            lambda: self._client.write_registers(address, list(values), device_id=device_id),
            function_code=16,
            timeout_s=timeout_s,
        )

    async def read_coils(
        self, device_id: int, address: int, count: int, *, timeout_s: float
    ) -> list[int]:
        """Read coils (FC 1) within `timeout_s`: one 0 or 1 per coil."""
        _check_common(device_id, address, self._max_id)
        if not 1 <= count <= MAX_COIL_READ_COUNT or address + count - 1 > _MAX_ADDRESS:
            msg = f"cannot read {count} coils from {address}"
            raise ValueError(msg)
        response = await self._request(
            lambda: self._client.read_coils(address, count=count, device_id=device_id),
            function_code=1,
            timeout_s=timeout_s,
        )
        # The answer carries whole bytes: the bits past `count` are padding.
        bits = list(response.bits)
        if len(bits) < count:
            msg = f"expected {count} coils, got {len(bits)} ({self._label})"
            raise NoResponse(msg)
        return [1 if bit else 0 for bit in bits[:count]]

    async def write_coil(self, device_id: int, address: int, *, on: bool, timeout_s: float) -> None:
        """Write one coil (FC 5) within `timeout_s`."""
        _check_common(device_id, address, self._max_id)
        await self._request(
            lambda: self._client.write_coil(address, on, device_id=device_id),
            function_code=5,
            timeout_s=timeout_s,
        )

    def _connection_changed(self, connected: bool) -> None:  # noqa: FBT001 (pymodbus's signature)
        if not connected:
            self._lost.set()

    def _registers(self, response: ModbusPDU, count: int) -> list[int]:
        # A frame with a good CRC but the wrong length is not the answer we asked for.
        if len(response.registers) != count:
            msg = f"expected {count} registers, got {len(response.registers)} ({self._label})"
            raise NoResponse(msg)
        return list(response.registers)

    async def _request(
        self, call: Callable[[], Awaitable[ModbusPDU]], *, function_code: int, timeout_s: float
    ) -> ModbusPDU:
        if not self.connected:
            msg = f"{self._label} is not open"
            raise ConnectionLost(msg)
        try:
            response = await _bounded(call(), timeout_s, self._lost)
        except TimeoutError as exc:
            if not self.connected:
                raise ConnectionLost(self._lost_message(None)) from exc
            msg = f"no answer within {timeout_s * 1000:.0f} ms ({self._label})"
            raise NoResponse(msg) from exc
        except ModbusException as exc:
            # ModbusIOException: an answer from another device id or transaction.
            if isinstance(exc, ConnectionException) or not self.connected:
                raise ConnectionLost(self._lost_message(exc)) from exc
            msg = f"invalid answer ({self._label}): {exc}"
            raise NoResponse(msg) from exc
        # pymodbus does not match the answer's function code to the request's.
        if response.function_code & 0x7F != function_code:
            msg = (
                f"answer with function code {response.function_code} to a function code "
                f"{function_code} request ({self._label})"
            )
            raise NoResponse(msg)
        if isinstance(response, ExceptionResponse):
            code = response.exception_code
            msg = f"device refused the request with Modbus exception {code}"
            raise DeviceRefused(msg, exception_code=code)
        return response

    def _lost_message(self, exc: Exception | None) -> str:
        reason = f": {exc}" if exc else ""
        return f"lost the connection to {self._label}{reason}"

    def _why_not_open(self) -> str:
        if self._path is not None:
            if not os.path.exists(self._path):  # noqa: PTH110 (a device path, not a file)
                return f"cannot open {self._label}: no such device (is the adapter plugged in?)"
            return (
                f"cannot open {self._label}: "
                "it is in use by another program, not permitted, or not a serial port"
            )
        return f"cannot connect to {self._label}: refused or unreachable"


async def _bounded[T](awaitable: Awaitable[T], timeout_s: float, lost: asyncio.Event) -> T:
    """
    Await in a task of its own, giving up after `timeout_s` or when the link is lost.

    Raises TimeoutError in both cases. The abandoned request is cancelled and reaped here,
    whatever pymodbus turns the cancellation into.
    """
    task = asyncio.ensure_future(awaitable)
    watcher = asyncio.ensure_future(lost.wait())
    try:
        done, _ = await asyncio.wait(
            {task, watcher}, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED
        )
        if task in done:
            return task.result()
        raise TimeoutError
    finally:
        task.cancel()
        watcher.cancel()
        # Reap both (no-op for a finished one); their outcome was handled above.
        await asyncio.gather(task, watcher, return_exceptions=True)


def _check_read(device_id: int, address: int, count: int, max_id: int) -> None:
    _check_common(device_id, address, max_id)
    if not 1 <= count <= MAX_READ_COUNT or address + count - 1 > _MAX_ADDRESS:
        msg = f"cannot read {count} registers from {address}"
        raise ValueError(msg)


def _check_write(device_id: int, address: int, values: Sequence[int], max_id: int) -> None:
    _check_common(device_id, address, max_id)
    if not 1 <= len(values) <= MAX_WRITE_COUNT or address + len(values) - 1 > _MAX_ADDRESS:
        msg = f"cannot write {len(values)} registers at {address}"
        raise ValueError(msg)
    if any(not 0 <= value <= _MAX_ADDRESS for value in values):
        msg = f"register values must be 0..65535: {list(values)}"
        raise ValueError(msg)


def _check_common(device_id: int, address: int, max_id: int) -> None:
    if not 0 <= device_id <= max_id:
        msg = f"device id {device_id} is outside 0..{max_id}"
        raise ValueError(msg)
    if not 0 <= address <= _MAX_ADDRESS:
        msg = f"register address {address} is outside 0..65535"
        raise ValueError(msg)
