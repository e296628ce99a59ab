"""An in-memory register bank that implements RegisterTransport, and a fake bus of them."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from custom_components.headroom.devices.errors import DeviceError, DeviceRefused, NoResponse
from custom_components.headroom.devices.registers import Profile, Register, Value, encode

ILLEGAL_ADDRESS = 2


@dataclass
class FakeDevice:
    """One device id: holding and input registers by address, and what was asked of it.

    Reading an address nobody set answers exception 2 (like a real meter) unless
    `strict` is False, then 0. `silent` makes every request time out. `answers_lost`: the
    device hears and does every request (a write lands), but its answers never arrive
    (corrupt or late on the line), so every request times out for the master.
    """

    device_id: int = 1
    holding: dict[int, int] = field(default_factory=dict)
    input: dict[int, int] = field(default_factory=dict)
    coils: dict[int, int] = field(default_factory=dict)
    strict: bool = True
    silent: bool = False
    answers_lost: bool = False
    reads: list[tuple[int, int, int]] = field(default_factory=list)
    writes: list[tuple[int, list[int], int]] = field(default_factory=list)
    fail_next: list[DeviceError] = field(default_factory=list)
    on_write: Callable[[FakeDevice, int, list[int]], None] | None = None
    units: dict[int, FakeDevice] = field(default_factory=dict)
    """Other unit ids behind the same connection (Alfen's station, 200); absent: this bank."""

    @classmethod
    def from_profile(
        cls,
        profile: Profile,
        values: Mapping[str, Value],
        *,
        device_id: int = 1,
        strict: bool = True,
    ) -> FakeDevice:
        """A device whose registers hold `values` (canonical names of `profile`)."""
        device = cls(device_id=device_id, strict=strict)
        for name, value in values.items():
            device.set(profile.registers[name], value)
        return device

    def set(self, register: Register, value: Value) -> None:
        """Store `value` in `register`'s words."""
        self.set_words(register, encode(register, value))

    def _bank(self, register: Register) -> dict[int, int]:
        return {1: self.coils, 3: self.holding}.get(register.function_code, self.input)

    def set_words(self, register: Register, words: Sequence[int]) -> None:
        """Store raw words (a coil: 0 or 1) at `register`'s address."""
        bank = self._bank(register)
        for offset, word in enumerate(words):
            bank[register.address + offset] = word

    def words(self, register: Register) -> list[int]:
        """Raw words at `register`'s address."""
        bank = self._bank(register)
        return [bank.get(register.address + i, 0) for i in range(register.count)]

    def _check(self) -> None:
        if self.silent:
            msg = f"device {self.device_id}: no answer"
            raise NoResponse(msg)
        if self.fail_next:
            raise self.fail_next.pop(0)

    def _read(self, bank: dict[int, int], address: int, count: int) -> list[int]:
        self._check()
        if self.strict and any(a not in bank for a in range(address, address + count)):
            msg = f"illegal address {address}+{count}"
            raise DeviceRefused(msg, exception_code=ILLEGAL_ADDRESS)
        return [bank.get(a, 0) for a in range(address, address + count)]

    async def read_holding(self, address: int, count: int) -> list[int]:
        """FC 3."""
        self.reads.append((3, address, count))
        words = self._read(self.holding, address, count)
        self._answer()
        return words

    async def read_input(self, address: int, count: int) -> list[int]:
        """FC 4."""
        self.reads.append((4, address, count))
        words = self._read(self.input, address, count)
        self._answer()
        return words

    async def read_coils(self, address: int, count: int) -> list[int]:
        """FC 1."""
        self.reads.append((1, address, count))
        bits = self._read(self.coils, address, count)
        self._answer()
        return bits

    async def write_coil(self, address: int, *, on: bool) -> None:
        """FC 5: recorded in `writes` as ([1] or [0], 5)."""
        self._check()
        value = 1 if on else 0
        self.writes.append((address, [value], 5))
        self.coils[address] = value
        if self.on_write is not None:
            self.on_write(self, address, [value])
        self._answer()

    def _answer(self) -> None:
        if self.answers_lost:
            msg = f"device {self.device_id}: answer lost"
            raise NoResponse(msg)

    async def write(
        self, address: int, values: Sequence[int], *, function_code: Literal[6, 16] = 16
    ) -> None:
        """FC 6 / 16: store into holding registers."""
        self._check()
        self.writes.append((address, list(values), function_code))
        for offset, word in enumerate(values):
            self.holding[address + offset] = word
        if self.on_write is not None:
            self.on_write(self, address, list(values))
        self._answer()

    def unit(self, unit_id: int) -> FakeDevice:
        """The device at another unit id on the same connection (this one unless set)."""
        return self.units.get(unit_id, self)

    def written(self, register: Register) -> list[list[int]]:
        """Every write that started at `register`'s address."""
        return [values for address, values, _ in self.writes if address == register.address]


class FakeBus:
    """A bus of FakeDevices, with the `Bus` methods discovery uses."""

    def __init__(
        self,
        devices: Mapping[int, FakeDevice],
        *,
        probe_delay_s: float = 0.0,
        connect_error: DeviceError | None = None,
    ) -> None:
        """Devices by id; absent ids time out after `probe_delay_s`."""
        self.devices = dict(devices)
        self.probe_delay_s = probe_delay_s
        self.connect_error = connect_error
        self.connected = False
        self.closed = False
        self.handles: list[tuple[int, float | None, int | None]] = []

    async def connect(self) -> None:
        """Open, or raise the configured error."""
        if self.connect_error is not None:
            raise self.connect_error
        self.connected = True

    async def close(self) -> None:
        """Close."""
        self.closed = True
        self.connected = False

    def device(
        self,
        device_id: int,
        *,
        pacing_s: float = 0.0,  # noqa: ARG002  (the Bus signature)
        timeout_s: float | None = None,
        retries: int | None = None,
    ) -> FakeDevice | _Absent:
        """The device at `device_id`, or a handle that never answers."""
        self.handles.append((device_id, timeout_s, retries))
        if device_id in self.devices:
            return self.devices[device_id]
        return _Absent(device_id, self.probe_delay_s)

    def all_writes(self) -> list[tuple[int, list[int], int]]:
        """Every write any device on this bus saw."""
        return [w for d in self.devices.values() for w in d.writes]


@dataclass
class _Absent:
    device_id: int
    delay_s: float

    async def _timeout(self) -> list[int]:
        await asyncio.sleep(self.delay_s)
        msg = f"device {self.device_id}: no answer"
        raise NoResponse(msg)

    async def read_holding(self, address: int, count: int) -> list[int]:  # noqa: ARG002
        return await self._timeout()

    async def read_input(self, address: int, count: int) -> list[int]:  # noqa: ARG002
        return await self._timeout()

    async def write(
        self,
        address: int,  # noqa: ARG002
        values: Sequence[int],  # noqa: ARG002
        *,
        function_code: Literal[6, 16] = 16,  # noqa: ARG002
    ) -> None:
        await self._timeout()

    async def read_coils(self, address: int, count: int) -> list[int]:  # noqa: ARG002
        return await self._timeout()

    async def write_coil(self, address: int, *, on: bool) -> None:  # noqa: ARG002
        await self._timeout()

    def unit(self, unit_id: int) -> _Absent:
        return _Absent(unit_id, self.delay_s)


# What a first-wave device answers at its identification registers and a few values.
_METER_3P: dict[str, Value] = {
    "voltage_l1": 230.0,
    "voltage_l2": 231.0,
    "voltage_l3": 229.0,
    "current_l1": 5.0,
    "current_l2": 4.0,
    "current_l3": 3.0,
    "power_total": 2800.0,
    "energy_import": 100.0,
    "frequency": 50.0,
}
_METER_1P: dict[str, Value] = {
    "voltage_l1": 230.0,
    "current_l1": 5.0,
    "power_total": 1150.0,
    "energy_import": 100.0,
    "frequency": 50.0,
}
FIRST_WAVE_IDENTITY: dict[str, dict[str, Value]] = {
    "eastron_sdm630": {"meter_code": 112},
    "eastron_sdm120": {"meter_code": 0x0020},
    "eastron_sdm230": {},
    "eastron_sdm72dm_v2": {"meter_code": 137},
    "chint_dtsu666": {"sw_version": 204, "ct_ratio": 1, "vt_ratio": 1.0},
    "chint_ddsu666": {},
    "carlogavazzi_em3xx": {"model_id": 340},
    "carlogavazzi_em1xx": {"model_id": 120},
    "abb_b2x": {"product_type": int.from_bytes(b"B23 ", "big")},
    "abb_b21": {"product_type": int.from_bytes(b"B21 ", "big")},
    "orno_we516_517": {},
    "heidelberg_energy_control": {
        "layout_version": 0x0108,
        "charger_state": 2,
        "current_l1": 0.0,
        "hw_max_current": 16,
        "hw_min_current": 6,
    },
    "abb_terra_ac": {"charger_state": 0, "user_settable_max_current": 32.0, "current_l1": 0.0},
    "evse_wb_din": {"charger_state": 1, "firmware_version": 17, "current_limit": 16},
    "alfen_eve": {"charger_state": "A", "failsafe_current": 6.0, "current_l1": 0.0},
    # second wave: the scan finds these too
    "shelly_pro_3em": {"model": "SPEM-003CEBEU"},
    "schneider_iem3x5x": {"meter_model": "iEM3155"},
    "finder_7m38": {},
    "finder_7m24": {},
    "bernecker_mpm3pm": {},
    "orno_we514_515": {},
    "eastron_sdm72dm_v1": {"energy_export": 3.0, "energy_total": 103.0},
    "ccs_wattnode_modbus": {"model": 205},
    # "A1": no car, no PWM (the letter in the high byte); the limit in whole amperes
    "phoenix_ev_ser": {"charger_state": 0x4131, "current_limit": 16},
}


def first_wave_device(profile: Profile, device_id: int | None = None) -> FakeDevice:
    """A strict fake of a scanned model, answering its fingerprint registers."""
    device_id = device_id or (profile.serial.device_id if profile.serial else 1)
    values: dict[str, Value] = {}
    if profile.kind == "meter":
        base = _METER_1P if profile.phases == 1 else _METER_3P
        values = {k: v for k, v in base.items() if profile.has(k)}
    identity = FIRST_WAVE_IDENTITY[profile.id]
    if profile.id == "chint_dtsu666":
        identity = identity | {"address": device_id}
    device = FakeDevice.from_profile(profile, values, device_id=device_id)
    identification = {i.register.name: i.register for i in profile.identification}
    for name, value in identity.items():
        register = profile.registers.get(name) or identification[name]
        device.set(register, value)
    return device
