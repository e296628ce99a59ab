"""decode / encode: word order, scale, sentinels, garbage, and the loader's validation."""

from __future__ import annotations

import math
import struct

import pytest

from custom_components.headroom.devices.registers import (
    DataType,
    InvalidValueError,
    ProfileError,
    Register,
    decode,
    encode,
    parse_profiles,
)


def _reg(data_type: DataType, *, scale: float = 1, count: int | None = None, **kw) -> Register:
    return Register(
        name="x",
        address=0,
        function_code=1 if data_type is DataType.COIL else 3,
        data_type=data_type,
        count=count or data_type.words,
        scale=scale,
        **kw,
    )


@pytest.mark.parametrize(
    ("data_type", "words", "expected"),
    [
        (DataType.UINT16, [0xFFFF], 65535),
        (DataType.INT16, [0xFFFF], -1),
        (DataType.UINT32_ABCD, [0x0001, 0x0002], 0x00010002),
        (DataType.UINT32_CDAB, [0x0002, 0x0001], 0x00010002),
        (DataType.INT32_ABCD, [0xFFFF, 0xFFFE], -2),
        (DataType.INT32_CDAB, [0xFFFE, 0xFFFF], -2),
        (DataType.FLOAT32_ABCD, [0x4366, 0x0000], 230.0),
        (DataType.FLOAT32_CDAB, [0x0000, 0x4366], 230.0),
        (DataType.UINT64_ABCD, [0, 0, 1, 0], 65536),
        (DataType.UINT64_CDAB, [0, 1, 0, 0], 65536),
        (DataType.INT64_ABCD, [0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF], -1),
        (DataType.FLOAT64_ABCD, list(struct.unpack(">4H", struct.pack(">d", 1.5))), 1.5),
        (DataType.COIL, [1], 1),
        (DataType.COIL, [0], 0),
    ],
)
def test_decode_known_words(data_type: DataType, words: list[int], expected: float) -> None:
    register = _reg(data_type)
    assert decode(register, words) == expected
    assert decode(register, encode(register, expected)) == expected


def test_strings_are_high_byte_first_and_trimmed() -> None:
    register = _reg(DataType.STRING, count=3)
    assert decode(register, [0x4232, 0x3320, 0x0000]) == "B23"
    assert encode(register, "B1") == [0x4231, 0, 0]
    with pytest.raises(ValueError, match="longer"):
        encode(register, "TOO LONG")
    with pytest.raises(TypeError):
        encode(register, 1)


def test_scale_is_applied_both_ways() -> None:
    register = _reg(DataType.UINT16, scale=0.1)
    assert encode(register, 16) == [160]
    assert decode(register, [160]) == pytest.approx(16.0)
    assert isinstance(decode(_reg(DataType.UINT16), [1]), int)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_float_garbage_is_never_a_value(value: float) -> None:
    register = _reg(DataType.FLOAT32_ABCD)
    words = list(struct.unpack(">2H", struct.pack(">f", value)))
    with pytest.raises(InvalidValueError):
        decode(register, words)
    with pytest.raises(ValueError, match="cannot encode"):
        encode(register, value)


@pytest.mark.parametrize(
    ("data_type", "words"),
    [
        (DataType.UINT32_ABCD, [0xFFFF, 0xFFFF]),
        (DataType.INT32_ABCD, [0x7FFF, 0xFFFF]),
        (DataType.UINT64_ABCD, [0xFFFF] * 4),
        (DataType.INT16, [0x7FFF]),
    ],
)
def test_not_available_sentinels(data_type: DataType, words: list[int]) -> None:
    with pytest.raises(InvalidValueError):
        decode(_reg(data_type, not_available_sentinel=True), words)
    # Without the profile's sentinel flag the same words are a number.
    assert isinstance(decode(_reg(data_type), words), int)


def test_wrong_word_count_and_out_of_range() -> None:
    with pytest.raises(ValueError, match="expected 2 words"):
        decode(_reg(DataType.UINT32_ABCD), [1])
    with pytest.raises(ValueError, match="does not fit"):
        encode(_reg(DataType.UINT16), 70000)
    with pytest.raises(ValueError, match="does not fit"):
        encode(_reg(DataType.FLOAT32_ABCD), 1e300)
    with pytest.raises(TypeError):
        encode(_reg(DataType.UINT16), "1")


def test_register_access_flags() -> None:
    register = _reg(DataType.UINT16, access="w")
    assert register.writable
    assert not register.readable
    assert register.end == 1


_GOOD_REGISTER = "{name: a, address: 0, fc: 3, type: uint16}"


def _yaml(register: str = _GOOD_REGISTER, extra: str = "") -> str:
    return f"""
meters:
- id: m
  name: M
  confidence: high
  phases: 3
  transport: [rtu]
  serial_defaults: {{baud: 9600, parity: N, stop_bits: 1, slave_id: 1}}
{extra}
  registers:
  - {register}
"""


def test_parse_minimal_profile() -> None:
    profile = parse_profiles(_yaml())["m"]
    assert profile.serial is not None
    assert profile.serial.verified
    assert profile.write_function_code == 16


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("- just a list", "not a mapping"),
        (_yaml("{name: a, address: 0, fc: 3, type: uint99}"), "bad register"),
        (_yaml("{name: a, address: 70000, fc: 3, type: uint16}"), "address"),
        (_yaml("{name: a, address: 0, fc: 2, type: uint16}"), "function code"),
        (_yaml("{name: a, address: 0, fc: 1, type: uint16}"), "coils"),
        (_yaml("{name: a, address: 0, fc: 3, type: string}"), "count"),
        (_yaml("{name: a, address: 65535, fc: 3, type: uint32_abcd}"), "past"),
        (_yaml("{name: a, address: 0, fc: 3, type: uint16, scale: 0}"), "scale"),
        (_yaml("{name: a, address: 0, fc: 3, type: uint16, rw: x}"), "rw"),
        (_yaml(_GOOD_REGISTER + "\n  - " + _GOOD_REGISTER), "twice"),
        (
            _yaml(_GOOD_REGISTER + "\n  - {name: b, address: 0, fc: 3, type: uint16}"),
            "overlap",
        ),
        (_yaml(extra="  limits: {max_registers_per_read: 500}"), "max_registers_per_read"),
        (
            _yaml(
                "{name: a, address: 0, fc: 3, type: string, count: 9}",
                "  limits: {max_registers_per_read: 8}",
            ),
            "longer than one read",
        ),
        (_yaml().replace("confidence: high", "confidence: great"), "confidence"),
        (_yaml().replace("  confidence: high\n", ""), "missing confidence"),
        ("a: [", "not YAML"),
        (_yaml().replace("parity: N", "parity: X"), "serial defaults"),
        (_yaml() + _yaml().replace("meters:", ""), "id appears twice"),
    ],
)
def test_parse_rejects(text: str, match: str) -> None:
    with pytest.raises(ProfileError, match=match):
        parse_profiles(text)


def test_parse_defaults_without_serial_or_tcp() -> None:
    text = _yaml().replace(
        "  serial_defaults: {baud: 9600, parity: N, stop_bits: 1, slave_id: 1}\n",
        "  serial_defaults: {baud: null, parity: N, stop_bits: 1, slave_id: null}\n"
        "  tcp_defaults: {port: 1502, unit_id: '7 (doc)'}\n"
        "  function_codes: {write: [6]}\n",
    )
    profile = parse_profiles(text)["m"]
    assert profile.serial is None
    assert profile.tcp is not None
    assert (profile.tcp.port, profile.tcp.unit_id) == (1502, 7)
    assert profile.write_function_code == 6
