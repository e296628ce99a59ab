"""
A device that answers at the addresses of its `registers.yaml` profile.

The register layout, data types, word order and scale come from the product's own
profiles and codec (`devices/registers.py`); a personality only says what values its
registers hold and how writes behave. Reads must fall inside the device's register
areas: reserved slots between values answer 0 (as Eastron and Carlo Gavazzi meters
do), anything further away answers exception 2, as real devices do.
"""

from __future__ import annotations

import math
import struct
from typing import TYPE_CHECKING, Final

from custom_components.headroom.devices.registers import (
    DataType,
    InvalidValueError,
    Profile,
    Register,
    Value,
    decode,
    encode,
)

from .frames import (
    ILLEGAL_DATA_ADDRESS,
    ILLEGAL_DATA_VALUE,
    ILLEGAL_FUNCTION,
    READ_COILS,
    READ_HOLDING,
    READ_INPUT,
    WRITE_COIL,
    ModbusError,
)
from .line import Faults

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

_BRIDGED_GAP: Final = 16
"""Reserved registers between two values that still answer (as zeros)."""

type _Space = tuple[int | None, int]


class ProfileDevice:
    """Registers of one profile; subclasses supply live values and write behaviour."""

    def __init__(self, profile: Profile, device_id: int) -> None:
        """Lay out `profile`'s registers for a device at `device_id`."""
        self.profile = profile
        self.device_id = device_id
        self.faults = Faults()
        self.settings: dict[str, Value] = {}
        """Values of the writable registers, as last written (or their defaults)."""
        self.refused: set[str] = set()
        """Registers this variant or firmware lacks: a read touching one answers exception 2."""
        self.requests = 0
        self.now_s = 0.0
        """The device's own clock: seconds advanced by `tick`."""
        fixed = {r.unit_id for r in profile.registers.values() if r.unit_id is not None}
        self._fixed_units = frozenset(fixed)
        self._unit_ids = (device_id, *sorted(fixed - {device_id}))
        self._spaces: dict[_Space, list[Register]] = {}
        self._overlays: dict[tuple[_Space, int, int], Register] = {}
        for register in profile.registers.values():
            self._spaces.setdefault(self._space_of(register), []).append(register)
        for item in profile.identification:
            self._add_identification(item.register)
        self._areas = {space: _areas(registers) for space, registers in self._spaces.items()}
        has_coils = any(code == READ_COILS for _, code in self._spaces)
        self._coil_codes = frozenset({READ_COILS, WRITE_COIL}) if has_coils else frozenset()

    @property
    def unit_ids(self) -> tuple[int, ...]:
        """The unit ids the device answers on (Alfen: its socket and the station, 200)."""
        return self._unit_ids

    def answers(self) -> bool:
        """Tell whether the device listens now."""
        return True

    def tick(self, dt_s: float) -> None:
        """Advance the device's clock."""
        self.now_s += dt_s

    def values(self) -> Mapping[str, Value]:
        """Live values by register name (what the site says now)."""
        return {}

    def validate(self, name: str, value: Value) -> None:
        """Raise ModbusError(3) for a value this device would refuse."""
        del name, value

    def apply(self, name: str, value: Value) -> None:
        """Take a written value (all of a request's values passed `validate`)."""
        self.settings[name] = value

    def on_request(self) -> None:
        """Any request reached the device (watchdogs reset here)."""
        self.requests += 1

    def read(self, function_code: int, unit_id: int, address: int, count: int) -> list[int]:
        """Answer a read of `count` registers (or coils, FC 1) from `address`."""
        if function_code not in {READ_HOLDING, READ_INPUT, *self._coil_codes}:
            raise ModbusError(ILLEGAL_FUNCTION)
        self.on_request()
        space = (unit_id if unit_id in self._fixed_units else None, function_code)
        overlay = self._overlays.get((space, address, count))
        if overlay is not None:
            return self._words(overlay, self.values())
        if count > self.profile.max_registers_per_read:
            raise ModbusError(ILLEGAL_DATA_VALUE)
        end = address + count
        if not any(start <= address and end <= stop for start, stop in self._areas.get(space, [])):
            raise ModbusError(ILLEGAL_DATA_ADDRESS)
        if any(
            r.name in self.refused and r.address < end and r.end > address
            for r in self._spaces[space]
        ):
            raise ModbusError(ILLEGAL_DATA_ADDRESS)
        values = self.values()
        words = [0] * count
        for register in self._spaces[space]:
            if register.end <= address or register.address >= end or not register.readable:
                continue
            for offset, word in enumerate(self._words(register, values)):
                if address <= register.address + offset < end:
                    words[register.address + offset - address] = word
        return words

    def write(self, function_code: int, unit_id: int, address: int, values: Sequence[int]) -> None:
        """Answer a write: whole writable registers (or one coil) only, values checked first."""
        if function_code == WRITE_COIL and not self._coil_codes:
            # A device with no coils does not know the function (Modbus exception 1).
            raise ModbusError(ILLEGAL_FUNCTION)
        self.on_request()
        bank = READ_COILS if function_code == WRITE_COIL else READ_HOLDING
        space = (unit_id if unit_id in self._fixed_units else None, bank)
        end = address + len(values)
        touched = [r for r in self._spaces.get(space, []) if r.address < end and r.end > address]
        if (
            not touched
            or any(not r.writable or r.address < address or r.end > end for r in touched)
            or sum(r.count for r in touched) != len(values)
        ):
            raise ModbusError(ILLEGAL_DATA_ADDRESS)
        decoded: dict[str, Value] = {}
        for register in touched:
            words = list(values[register.address - address : register.end - address])
            try:
                decoded[register.name] = decode(register, words)
            except InvalidValueError as err:
                raise ModbusError(ILLEGAL_DATA_VALUE) from err
        for name, value in decoded.items():
            self.validate(name, value)
        for name, value in decoded.items():
            self.apply(name, value)

    def _words(self, register: Register, values: Mapping[str, Value]) -> list[int]:
        value = values.get(register.name, self.settings.get(register.name))
        if value is None:
            value = "" if register.data_type is DataType.STRING else 0
        if isinstance(value, float) and math.isnan(value) and register.data_type.is_float:
            # What meters send for a quantity they do not measure (Alfen's unwired lines).
            fmt = ">d" if register.count == 4 else ">f"  # noqa: PLR2004
            raw = struct.pack(fmt, math.nan)
            return [int.from_bytes(raw[i : i + 2], "big") for i in range(0, len(raw), 2)]
        try:
            return encode(register, value)
        except ValueError, TypeError:
            # A value the type cannot hold reads as zeros, never as a crash.
            return [0] * register.count

    def _space_of(self, register: Register) -> _Space:
        return (register.unit_id, register.function_code)

    def _add_identification(self, register: Register) -> None:
        if register.name in self.profile.registers:
            return
        space = self._space_of(register)
        neighbours = self._spaces.setdefault(space, [])
        if any(r.address < register.end and r.end > register.address for r in neighbours):
            # Read alone, it answers the id; inside a block, the data it overlaps.
            self._overlays[(space, register.address, register.count)] = register
        else:
            neighbours.append(register)


def _areas(registers: list[Register]) -> list[tuple[int, int]]:
    areas: list[tuple[int, int]] = []
    for register in sorted(registers, key=lambda r: r.address):
        if areas and register.address - areas[-1][1] <= _BRIDGED_GAP:
            areas[-1] = (areas[-1][0], max(areas[-1][1], register.end))
        else:
            areas.append((register.address, register.end))
    return areas
