"""
A simulated RS-485 line (or TCP gateway): devices by unit id, faults, wire time.

Every transport (the pty, Modbus TCP, RTU over TCP) hands its requests to a
`SimulatedLine`, which dispatches them to the device that owns the unit id, applies
that device's faults, and delays the answer by the time the frames would take on a
real line at the configured baud rate. Unit ids nobody owns stay silent, as on RS-485.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Literal, Protocol

from .frames import RegisterDevice, answer, crc_ok, exception_pdu, rtu_frame

if TYPE_CHECKING:
    from collections.abc import Iterable

# Above 19200 baud the RTU spec fixes the inter-frame gap at 1.75 ms.
_FIXED_GAP_ABOVE_BAUD: Final = 19200
_FIXED_GAP_S: Final = 0.00175
_RTU_OVERHEAD: Final = 3


@dataclass
class Faults:
    """
    Fault injection for one device, changeable while the simulator runs.

    `silent`: never answers. `corrupt`: answers with a bad CRC (RTU) or a foreign
    transaction id (Modbus TCP). `delay_s`: answers this much later. `exception_code`:
    answers every request with this Modbus exception.
    """

    silent: bool = False
    corrupt: bool = False
    delay_s: float = 0.0
    exception_code: int | None = None


class SimulatedDevice(RegisterDevice, Protocol):
    """A device on a simulated line."""

    faults: Faults

    @property
    def unit_ids(self) -> tuple[int, ...]:
        """The unit ids the device answers on."""
        ...

    def answers(self) -> bool:
        """Tell whether the device listens now (False: asleep, as a Heidelberg in standby)."""
        ...

    def tick(self, dt_s: float) -> None:
        """Advance the device's own timers and counters by `dt_s`."""
        ...


@dataclass(frozen=True, slots=True)
class LineSettings:
    """Serial settings of the simulated line (parity and stop bits only count for timing)."""

    baudrate: int
    parity: Literal["N", "E", "O"] = "N"
    stopbits: Literal[1, 2] = 1
    bytesize: int = 8

    @property
    def char_time_s(self) -> float:
        """Seconds per character: start, data, parity and stop bits."""
        bits = 1 + self.bytesize + (0 if self.parity == "N" else 1) + self.stopbits
        return bits / self.baudrate

    @property
    def gap_s(self) -> float:
        """The 3.5-character silence between frames."""
        if self.baudrate > _FIXED_GAP_ABOVE_BAUD:
            return _FIXED_GAP_S
        return 3.5 * self.char_time_s

    def describe(self) -> str:
        """Say it the way installers do: 19200 8E1."""
        return f"{self.baudrate} {self.bytesize}{self.parity}{self.stopbits}"


@dataclass(frozen=True, slots=True)
class Reply:
    """What a device sends back: a PDU, whether to garble it, and when."""

    pdu: bytes
    corrupt: bool
    delay_s: float


class SimulatedLine:
    """Devices sharing one line, answering one request at a time."""

    def __init__(
        self,
        devices: Iterable[SimulatedDevice] = (),
        *,
        settings: LineSettings | None = None,
        wire_time: bool = False,
    ) -> None:
        """Put `devices` on a line; `wire_time` delays answers as `settings`' baud would."""
        self.settings = settings
        self.wire_time = wire_time and settings is not None
        self._devices: dict[int, SimulatedDevice] = {}
        self._lock = asyncio.Lock()
        for device in devices:
            self.add(device)

    @property
    def devices(self) -> dict[int, SimulatedDevice]:
        """Devices by unit id (a device with several unit ids appears several times)."""
        return dict(self._devices)

    def add(self, device: SimulatedDevice) -> None:
        """Put a device on the line; its unit ids must be free."""
        for unit_id in device.unit_ids:
            if unit_id in self._devices:
                msg = f"unit id {unit_id} is taken"
                raise ValueError(msg)
            self._devices[unit_id] = device

    def reply(self, unit_id: int, pdu: bytes) -> Reply | None:
        """Work out the device's reply to a request PDU, None for silence."""
        device = self._devices.get(unit_id)
        if device is None or device.faults.silent or not device.answers():
            return None
        faults = device.faults
        if faults.exception_code is not None:
            response = exception_pdu(pdu[0] if pdu else 0, faults.exception_code)
        else:
            response = answer(device, unit_id, pdu)
        delay_s = faults.delay_s
        if self.wire_time and self.settings is not None:
            frames = len(pdu) + len(response) + 2 * _RTU_OVERHEAD
            delay_s += frames * self.settings.char_time_s + self.settings.gap_s
        return Reply(pdu=response, corrupt=faults.corrupt, delay_s=delay_s)

    async def exchange_rtu(self, frame: bytes, *, received_at: float) -> bytes | None:
        """Answer one RTU request frame, at the time the line allows; None for silence."""
        if not crc_ok(frame):
            return None
        async with self._lock:
            reply = self.reply(frame[0], frame[1:-2])
            if reply is None:
                return None
            await _sleep_until(received_at + reply.delay_s)
        response = rtu_frame(frame[0], reply.pdu)
        if reply.corrupt:
            return response[:-1] + bytes([response[-1] ^ 0xFF])
        return response

    async def exchange_pdu(
        self, unit_id: int, pdu: bytes, *, received_at: float
    ) -> tuple[bytes, bool] | None:
        """Answer one request PDU (Modbus TCP): the reply PDU and whether to garble it."""
        async with self._lock:
            reply = self.reply(unit_id, pdu)
            if reply is None:
                return None
            await _sleep_until(received_at + reply.delay_s)
        return reply.pdu, reply.corrupt

    def tick(self, dt_s: float) -> None:
        """Advance every device's timers."""
        for device in {id(d): d for d in self._devices.values()}.values():
            device.tick(dt_s)


async def _sleep_until(deadline: float) -> None:
    delay = deadline - asyncio.get_running_loop().time()
    if delay > 0:
        await asyncio.sleep(delay)
