"""
Modbus framing the simulator speaks: RTU CRC and frames, MBAP headers, request PDUs.

Written from the Modbus specifications (Modbus over Serial Line V1.02, Application
Protocol V1.1b3), independently of pymodbus, so that the simulator and the product's
client cannot share one misunderstanding.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING, Final, Protocol

if TYPE_CHECKING:
    from collections.abc import Sequence

ILLEGAL_FUNCTION: Final = 1
ILLEGAL_DATA_ADDRESS: Final = 2
ILLEGAL_DATA_VALUE: Final = 3
SERVER_DEVICE_FAILURE: Final = 4

READ_COILS: Final = 1
READ_HOLDING: Final = 3
READ_INPUT: Final = 4
WRITE_COIL: Final = 5
WRITE_SINGLE: Final = 6
WRITE_MULTIPLE: Final = 16

MAX_READ_COUNT: Final = 125
MAX_COIL_READ_COUNT: Final = 2000
COIL_ON: Final = 0xFF00
COIL_OFF: Final = 0x0000
MAX_WRITE_COUNT: Final = 123
MBAP_HEADER_LEN: Final = 7
_ADDRESS_SPACE: Final = 0x10000
_RTU_OVERHEAD: Final = 3  # device id + CRC
_FIXED_REQUEST_LEN: Final = 8  # FC 1-6: id, fc, 4 data bytes, CRC
_MULTIPLE_HEADER_LEN: Final = 7  # FC 15/16 up to the byte count
_KNOWN_LENGTH_CODES: Final = frozenset({1, 2, 3, 4, 5, 6, 15, 16})


class ModbusError(Exception):
    """A request the device answers with a Modbus exception code."""

    def __init__(self, code: int) -> None:
        """Keep the exception code (1 illegal function, 2 illegal address, 3 value)."""
        super().__init__(f"Modbus exception {code}")
        self.code = code


class RegisterDevice(Protocol):
    """What a request is dispatched to: one device's registers behind one unit id."""

    def read(self, function_code: int, unit_id: int, address: int, count: int) -> list[int]:
        """Return `count` registers (FC 3 or 4) or coils as 0/1 (FC 1); raise ModbusError."""
        ...

    def write(self, function_code: int, unit_id: int, address: int, values: Sequence[int]) -> None:
        """Store registers (FC 6 or 16) or one coil as 0/1 (FC 5); raise ModbusError."""
        ...


def crc16(data: bytes) -> bytes:
    """Modbus RTU CRC-16 (polynomial 0xA001, initial 0xFFFF), low byte first."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc.to_bytes(2, "little")


def rtu_frame(device_id: int, pdu: bytes) -> bytes:
    """Wrap a PDU in an RTU frame: device id, PDU, CRC."""
    body = bytes([device_id]) + pdu
    return body + crc16(body)


def crc_ok(frame: bytes) -> bool:
    """Tell whether an RTU frame's last two bytes are the CRC of the rest."""
    return len(frame) > _RTU_OVERHEAD and crc16(frame[:-2]) == frame[-2:]


def rtu_request_length(buffer: bytes) -> int | None:
    """
    Length of the request frame at the start of `buffer`, None when not known yet.

    A master's requests for FC 1-6 have a fixed length and FC 15/16 carry a byte count;
    any other function code can only be delimited by the silence after it.
    """
    if len(buffer) < 2:  # noqa: PLR2004 (id and function code)
        return None
    function_code = buffer[1]
    if function_code not in _KNOWN_LENGTH_CODES:
        return None
    if function_code <= WRITE_SINGLE:
        return _FIXED_REQUEST_LEN
    if len(buffer) < _MULTIPLE_HEADER_LEN:
        return None
    return _MULTIPLE_HEADER_LEN + buffer[6] + 2


def mbap_frame(transaction_id: int, unit_id: int, pdu: bytes) -> bytes:
    """Wrap a PDU in a Modbus TCP (MBAP) frame."""
    return struct.pack(">HHHB", transaction_id, 0, len(pdu) + 1, unit_id) + pdu


def exception_pdu(function_code: int, code: int) -> bytes:
    """Build the PDU of an exception reply."""
    return bytes([function_code | 0x80, code])


def answer(device: RegisterDevice, unit_id: int, pdu: bytes) -> bytes:
    """Execute one request PDU on `device` and return the reply PDU (maybe an exception)."""
    function_code = pdu[0] if pdu else 0
    try:
        return _execute(device, unit_id, function_code, pdu)
    except ModbusError as err:
        return exception_pdu(function_code, err.code)


def _execute(device: RegisterDevice, unit_id: int, function_code: int, pdu: bytes) -> bytes:
    if function_code == READ_COILS:
        return _read_coils(device, unit_id, pdu)
    if function_code == WRITE_COIL:
        return _write_coil(device, unit_id, pdu)
    if function_code in {READ_HOLDING, READ_INPUT}:
        if len(pdu) != 5:  # noqa: PLR2004 (fc, address, count)
            raise ModbusError(ILLEGAL_DATA_VALUE)
        address, count = struct.unpack(">HH", pdu[1:5])
        if not 1 <= count <= MAX_READ_COUNT:
            raise ModbusError(ILLEGAL_DATA_VALUE)
        if address + count > _ADDRESS_SPACE:
            raise ModbusError(ILLEGAL_DATA_ADDRESS)
        words = device.read(function_code, unit_id, address, count)
        return bytes([function_code, 2 * count]) + struct.pack(f">{count}H", *words)
    if function_code == WRITE_SINGLE:
        if len(pdu) != 5:  # noqa: PLR2004
            raise ModbusError(ILLEGAL_DATA_VALUE)
        address, value = struct.unpack(">HH", pdu[1:5])
        device.write(function_code, unit_id, address, [value])
        return pdu[:5]
    if function_code == WRITE_MULTIPLE:
        if len(pdu) < 6:  # noqa: PLR2004 (fc, address, count, byte count)
            raise ModbusError(ILLEGAL_DATA_VALUE)
        address, count, byte_count = struct.unpack(">HHB", pdu[1:6])
        if (
            not 1 <= count <= MAX_WRITE_COUNT
            or byte_count != 2 * count
            or len(pdu) != 6 + byte_count
        ):
            raise ModbusError(ILLEGAL_DATA_VALUE)
        if address + count > _ADDRESS_SPACE:
            raise ModbusError(ILLEGAL_DATA_ADDRESS)
        values = list(struct.unpack(f">{count}H", pdu[6:]))
        device.write(function_code, unit_id, address, values)
        return pdu[:5]
    raise ModbusError(ILLEGAL_FUNCTION)


def _read_coils(device: RegisterDevice, unit_id: int, pdu: bytes) -> bytes:
    if len(pdu) != 5:  # noqa: PLR2004 (fc, address, count)
        raise ModbusError(ILLEGAL_DATA_VALUE)
    address, count = struct.unpack(">HH", pdu[1:5])
    if not 1 <= count <= MAX_COIL_READ_COUNT:
        raise ModbusError(ILLEGAL_DATA_VALUE)
    if address + count > _ADDRESS_SPACE:
        raise ModbusError(ILLEGAL_DATA_ADDRESS)
    bits = device.read(READ_COILS, unit_id, address, count)
    # Coil n is bit n % 8 of byte n // 8, the last byte padded with zeros.
    packed = bytearray((count + 7) // 8)
    for index, bit in enumerate(bits):
        if bit:
            packed[index // 8] |= 1 << (index % 8)
    return bytes([READ_COILS, len(packed)]) + bytes(packed)


def _write_coil(device: RegisterDevice, unit_id: int, pdu: bytes) -> bytes:
    if len(pdu) != 5:  # noqa: PLR2004 (fc, address, value)
        raise ModbusError(ILLEGAL_DATA_VALUE)
    address, value = struct.unpack(">HH", pdu[1:5])
    # The specification allows only these two values (Application Protocol 6.5).
    if value not in {COIL_ON, COIL_OFF}:
        raise ModbusError(ILLEGAL_DATA_VALUE)
    device.write(WRITE_COIL, unit_id, address, [1 if value == COIL_ON else 0])
    return pdu[:5]


class RtuRequestSplitter:
    """
    Cuts a byte stream from a master into RTU request frames.

    Requests of known length are cut as soon as they are complete; a frame with a bad
    CRC is noise and throws away everything received so far (a real device resyncs at
    the next silence). A request of unknown length is only complete at the silence after
    it: call `flush()` then.
    """

    def __init__(self) -> None:
        """Start with nothing received."""
        self._buffer = b""

    @property
    def pending(self) -> bool:
        """Tell whether bytes are waiting for more data or a silence."""
        return bool(self._buffer)

    @property
    def awaits_silence(self) -> bool:
        """Tell whether the pending request has a function code of unknown length."""
        return len(self._buffer) >= 2 and self._buffer[1] not in _KNOWN_LENGTH_CODES  # noqa: PLR2004

    def feed(self, data: bytes) -> list[bytes]:
        """Add received bytes; return the complete requests with a good CRC."""
        self._buffer += data
        frames: list[bytes] = []
        while self._buffer:
            length = rtu_request_length(self._buffer)
            if length is None or len(self._buffer) < length:
                break
            frame, self._buffer = self._buffer[:length], self._buffer[length:]
            if not crc_ok(frame):
                self._buffer = b""
                break
            frames.append(frame)
        return frames

    def flush(self) -> bytes | None:
        """At a silence: return what was received as one frame if its CRC holds."""
        frame, self._buffer = self._buffer, b""
        return frame if crc_ok(frame) else None
