"""Every profile in registers.yaml: schema, codec round trip, no overlapping registers."""

from __future__ import annotations

import math
from itertools import pairwise

import pytest

from custom_components.headroom.devices.discovery import FIRST_WAVE_CHARGERS, FIRST_WAVE_METERS
from custom_components.headroom.devices.registers import (
    MODBUS_MAX_REGISTERS_PER_READ,
    DataType,
    Profile,
    Register,
    decode,
    encode,
    get_profile,
    load_profiles,
)

PROFILES = load_profiles()


def _sample(register: Register) -> float | int | str:
    """A value every register type can hold exactly enough to compare."""
    if register.data_type is DataType.STRING:
        return "AB"[: 2 * register.count]
    if register.data_type is DataType.COIL:
        return 1
    if register.data_type in {DataType.UINT16, DataType.INT16}:
        return 123 * register.scale
    return 12345 * register.scale


def _check_register(register: Register) -> None:
    assert register.name
    assert register.name == register.name.lower()
    assert 0 <= register.address <= 0xFFFF - register.count + 1
    assert register.function_code in {1, 3, 4}
    assert register.count >= 1
    assert register.access in {"r", "w", "rw"}
    value = _sample(register)
    decoded = decode(register, encode(register, value))
    if isinstance(value, str):
        assert decoded == value
    else:
        assert isinstance(decoded, int | float)
        assert math.isclose(decoded, value, rel_tol=1e-6)


@pytest.mark.parametrize("profile", PROFILES.values(), ids=list(PROFILES))
def test_profile(profile: Profile) -> None:
    assert profile.kind in {"meter", "charger"}
    assert profile.confidence in {"high", "medium", "low"}
    assert profile.name
    assert 1 <= profile.max_registers_per_read <= MODBUS_MAX_REGISTERS_PER_READ
    assert profile.serial is not None or profile.tcp is not None or "rtu" in profile.transports
    if profile.serial is not None:
        assert profile.serial.parity in {"N", "E", "O"}
        assert profile.serial.stopbits in {1, 2}
        assert 1 <= profile.serial.device_id <= 247
    assert get_profile(profile.id) is profile
    for name, register in profile.registers.items():
        assert name == register.name
        assert register.count <= profile.max_registers_per_read
        _check_register(register)
    for item in profile.identification:
        _check_register(item.register)
    spaces: dict[tuple[int | None, int], list[Register]] = {}
    for register in profile.registers.values():
        spaces.setdefault((register.unit_id, register.function_code), []).append(register)
    for registers in spaces.values():
        ordered = sorted(registers, key=lambda r: r.address)
        for before, after in pairwise(ordered):
            assert after.address >= before.end, (before.name, after.name)


@pytest.mark.parametrize("profile_id", FIRST_WAVE_METERS)
def test_first_wave_meters_have_what_balancing_needs(profile_id: str) -> None:
    profile = get_profile(profile_id)
    assert profile.kind == "meter"
    assert profile.serial is not None
    phases = ("l1",) if profile.phases == 1 else ("l1", "l2", "l3")
    for phase in phases:
        assert profile.has(f"current_{phase}")
        assert profile.has(f"voltage_{phase}")
    assert profile.has("power_total")
    assert profile.has("energy_import")


@pytest.mark.parametrize("profile_id", FIRST_WAVE_CHARGERS)
def test_first_wave_chargers_have_state_and_limit(profile_id: str) -> None:
    profile = get_profile(profile_id)
    assert profile.kind == "charger"
    assert profile.has("charger_state")
    assert profile.register("current_limit").writable
