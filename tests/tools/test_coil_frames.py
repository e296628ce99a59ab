"""The simulator answers coils (FC 1 / FC 5) as a device with coils does; others refuse."""

from __future__ import annotations

import struct

from custom_components.headroom.devices.registers import get_profile
from tools.simulator.devices import ProfileDevice
from tools.simulator.frames import answer


def _pdu(function_code: int, address: int, value: int) -> bytes:
    return struct.pack(">BHH", function_code, address, value)


def test_coil_written_with_fc5_reads_back_with_fc1() -> None:
    device = ProfileDevice(get_profile("phoenix_ev_eth"), 255)
    assert answer(device, 255, _pdu(1, 400, 1)) == b"\x01\x01\x00"
    assert answer(device, 255, _pdu(5, 400, 0xFF00)) == _pdu(5, 400, 0xFF00)
    assert answer(device, 255, _pdu(1, 400, 1)) == b"\x01\x01\x01"
    assert answer(device, 255, _pdu(5, 400, 0x0000)) == _pdu(5, 400, 0x0000)
    assert answer(device, 255, _pdu(1, 400, 1)) == b"\x01\x01\x00"


def test_coil_requests_the_hardware_refuses() -> None:
    device = ProfileDevice(get_profile("phoenix_ev_eth"), 255)
    # FC 5 takes only 0xFF00 or 0x0000 (exception 3), a read-only coil cannot be written
    # and an unmapped one does not exist (exception 2).
    assert answer(device, 255, _pdu(5, 400, 0x0001)) == b"\x85\x03"
    assert answer(device, 255, _pdu(5, 419, 0xFF00)) == b"\x85\x02"
    assert answer(device, 255, _pdu(5, 5000, 0xFF00)) == b"\x85\x02"
    # FC 15 (write multiple coils): neither evcc nor nymea use it; not offered.
    assert answer(device, 255, bytes.fromhex("0f01900001010001")) == b"\x8f\x01"
    # A device without coils does not know the coil functions at all.
    meter = ProfileDevice(get_profile("eastron_sdm630"), 1)
    assert answer(meter, 1, _pdu(1, 0, 1)) == b"\x81\x01"
    assert answer(meter, 1, _pdu(5, 0, 0xFF00)) == b"\x85\x01"
