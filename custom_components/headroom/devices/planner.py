"""
Plan register reads: merge the registers a driver wants into as few requests as fit.

Registers of one function code (and one unit id) are merged into a block when the gap
between them is small: a gap costs two bytes per register on the wire, a new request
costs a whole frame plus the silent interval, so bridging up to `max_gap` registers is
cheaper. Gap registers the profile does not map are riskier (some devices answer an
illegal-address exception for the whole block), so at most `max_unmapped_gap` of them
are bridged. A block never exceeds the device's registers-per-read limit.

Optional registers (those that only feed a sensor) are read in the same blocks as the
control registers while the device answers them. When a device refuses a read (firmware
without a register, a meter variant that lacks one: Carlo Gavazzi EM24 at kWh(-) 0x5C,
evcc issue 31143; ABB Terra AC read-backs 0x4020-0x4024 on older firmware), the reader
reads the required registers alone and each optional one on its own; an optional register
the device refuses is dropped for good (logged once, listed in `RegisterReader.disabled`),
so a register that only feeds a sensor never makes the control read fail.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from .errors import DeviceRefused, NoResponse
from .registers import InvalidValueError, Profile, Register, Value, decode

if TYPE_CHECKING:
    from collections.abc import Collection, Iterable, Mapping

    from .transport import RegisterTransport

_LOGGER = logging.getLogger(__name__)

COILS: Final = 1
HOLDING: Final = 3
INPUT: Final = 4
ILLEGAL_DATA_ADDRESS: Final = 2

DEFAULT_MAX_GAP: Final = 10
"""Registers bridged between two wanted ones (about the cost of one extra request)."""

DEFAULT_MAX_UNMAPPED_GAP: Final = 2
"""Registers bridged that no profile entry describes (reserved slots between values)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadBlock:
    """One read request and the registers decoded from its answer."""

    function_code: int
    address: int
    count: int
    unit_id: int | None
    registers: tuple[Register, ...]

    @property
    def end(self) -> int:
        """First address after the block."""
        return self.address + self.count

    def words_of(self, register: Register, words: list[int]) -> list[int]:
        """Return the slice of this block's answer `words` that holds `register`."""
        start = register.address - self.address
        return words[start : start + register.count]


def _mapped_addresses(registers: Iterable[Register]) -> dict[tuple[int | None, int], set[int]]:
    mapped: dict[tuple[int | None, int], set[int]] = {}
    for register in registers:
        space = mapped.setdefault((register.unit_id, register.function_code), set())
        space.update(range(register.address, register.end))
    return mapped


def plan_reads(
    wanted: Collection[Register],
    *,
    max_registers: int,
    mapped: Iterable[Register] = (),
    max_gap: int = DEFAULT_MAX_GAP,
    max_unmapped_gap: int = DEFAULT_MAX_UNMAPPED_GAP,
) -> list[ReadBlock]:
    """
    Merge `wanted` registers into read blocks, in address order per function code.

    `mapped` is every register the device's table knows (the wanted ones are always
    counted as mapped); a gap is bridged only when it is at most `max_gap` registers long,
    at most `max_unmapped_gap` of them are unmapped, and the merged block stays within
    `max_registers`. Raises ValueError for a register that is not readable, uses no read
    function code the transport offers, or alone exceeds `max_registers`.
    """
    for register in wanted:
        if not register.readable:
            msg = f"{register.name} is write-only"
            raise ValueError(msg)
        if register.function_code not in {COILS, HOLDING, INPUT}:
            msg = f"{register.name}: function code {register.function_code} is not supported"
            raise ValueError(msg)
        if register.count > max_registers:
            msg = f"{register.name} spans {register.count} > {max_registers} registers"
            raise ValueError(msg)
    known = _mapped_addresses([*mapped, *wanted])
    blocks: list[ReadBlock] = []
    ordered = sorted(
        set(wanted), key=lambda r: (r.unit_id or 0, r.function_code, r.address, r.name)
    )
    current: list[Register] = []
    for register in ordered:
        if current and _fits(current, register, known, max_registers, max_gap, max_unmapped_gap):
            current.append(register)
            continue
        if current:
            blocks.append(_block(current))
        current = [register]
    if current:
        blocks.append(_block(current))
    return blocks


def _fits(  # noqa: PLR0913  (all of them decide whether a gap is worth bridging)
    current: list[Register],
    register: Register,
    known: Mapping[tuple[int | None, int], set[int]],
    max_registers: int,
    max_gap: int,
    max_unmapped_gap: int,
) -> bool:
    first = current[0]
    if (register.unit_id, register.function_code) != (first.unit_id, first.function_code):
        return False
    end = max(r.end for r in current)
    if max(end, register.end) - first.address > max_registers:
        return False
    gap = range(end, register.address)
    if len(gap) > max_gap:
        return False
    mapped = known[(register.unit_id, register.function_code)]
    return sum(1 for address in gap if address not in mapped) <= max_unmapped_gap


def _block(registers: list[Register]) -> ReadBlock:
    first = registers[0]
    end = max(r.end for r in registers)
    return ReadBlock(
        function_code=first.function_code,
        address=first.address,
        count=end - first.address,
        unit_id=first.unit_id,
        registers=tuple(registers),
    )


class RegisterReader:
    """
    Read named registers of one device through planned block reads.

    Plans are cached per set of names. When a device refuses a block that bridges
    unmapped registers (illegal data address), the reader stops bridging unmapped gaps
    for that device and reads again, so a conservative device costs one refused request.
    Optional registers the device refuses are dropped (see the module docstring).
    """

    def __init__(self, transport: RegisterTransport, profile: Profile) -> None:
        """Read `profile`'s registers from `transport` (registers on the device's unit id)."""
        self._transport = transport
        self._profile = profile
        self._max_unmapped_gap = DEFAULT_MAX_UNMAPPED_GAP
        self._plans: dict[frozenset[str], list[ReadBlock]] = {}
        self._disabled: dict[str, str] = {}

    @property
    def transport(self) -> RegisterTransport:
        """The device handle reads go through."""
        return self._transport

    @property
    def disabled(self) -> Mapping[str, str]:
        """Optional registers the device refused, and why; they are no longer read."""
        return dict(self._disabled)

    def plan(self, names: Collection[str]) -> list[ReadBlock]:
        """Return the blocks that read `names` (KeyError for a name the profile lacks)."""
        key = frozenset(names)
        if key not in self._plans:
            wanted = [self._profile.registers[name] for name in key]
            self._plans[key] = plan_reads(
                wanted,
                max_registers=self._profile.max_registers_per_read,
                mapped=[
                    r for r in self._profile.registers.values() if r.name not in self._disabled
                ],
                max_unmapped_gap=self._max_unmapped_gap,
            )
        return self._plans[key]

    async def read(
        self, names: Collection[str], *, optional: Collection[str] = ()
    ) -> dict[str, Value | None]:
        """
        Read and decode `names`; a value that is NaN, infinite or "not available" is None.

        Names in `optional` may be dropped: one the device refuses is disabled and left out
        of the result (and of every later read). Raises the transport's DeviceError
        subclasses, `DeviceRefused` only when a required register is refused.
        """
        optional_names = {n for n in optional if n in names}
        wanted = [n for n in names if n not in self._disabled]
        try:
            return await self._read_names(wanted)
        except DeviceRefused:
            if not optional_names.intersection(wanted):
                raise
        required = [n for n in wanted if n not in optional_names]
        values = await self._read_names(required) if required else {}
        for name in sorted(optional_names.intersection(wanted)):
            try:
                values |= await self._read_names([name])
            except DeviceRefused as err:
                self._disable(name, err)
        return values

    def _disable(self, name: str, err: DeviceRefused) -> None:
        register = self._profile.registers[name]
        reason = f"refused (exception {err.exception_code}) at {register.address:#06x}"
        self._disabled[name] = reason
        self._plans.clear()
        _LOGGER.warning(
            "%s at id %s: %s %s; no longer read (it only feeds a sensor)",
            self._profile.name,
            self._transport.device_id,
            name,
            reason,
        )

    async def _read_names(self, names: Collection[str]) -> dict[str, Value | None]:
        try:
            return await self._read_plan(self.plan(names))
        except DeviceRefused as err:
            if err.exception_code != ILLEGAL_DATA_ADDRESS or not self._max_unmapped_gap:
                raise
            self._max_unmapped_gap = 0
            self._plans.clear()
            return await self._read_plan(self.plan(names))

    async def _read_plan(self, blocks: list[ReadBlock]) -> dict[str, Value | None]:
        values: dict[str, Value | None] = {}
        for block in blocks:
            if block.function_code == HOLDING:
                words = await self._transport.read_holding(block.address, block.count)
            elif block.function_code == COILS:
                words = await self._transport.read_coils(block.address, block.count)
            else:
                words = await self._transport.read_input(block.address, block.count)
            if len(words) != block.count:
                msg = f"asked {block.count} registers at {block.address}, got {len(words)}"
                raise NoResponse(msg)
            for register in block.registers:
                try:
                    values[register.name] = decode(register, block.words_of(register, words))
                except InvalidValueError:
                    values[register.name] = None
        return values
