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

A register the profile pins to another unit id (Alfen's station registers, unit 200, beside
a socket's 1 or 2) is read through a sibling handle on the same connection
(`RegisterTransport.unit`). When it is optional it is read after the device's own
registers, and neither a refusal nor silence there fails the read: a station that does not
answer must not make the socket unreadable. A refused one is dropped for good; a silent one
is skipped for `SILENT_SKIP_READS` reads and then tried again (one timeout now and then,
not one every read, and a value that comes back after a network hiccup).
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

SILENT_SKIP_READS: Final = 30
"""Reads an optional register of a silent other unit is skipped for (5 min of full reads)."""


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
        self._units: dict[int, RegisterTransport] = {}
        self._silent: dict[str, int] = {}
        """Optional registers of another unit that went unanswered: reads left to skip."""

    @property
    def transport(self) -> RegisterTransport:
        """The device handle reads go through."""
        return self._transport

    @property
    def disabled(self) -> Mapping[str, str]:
        """Optional registers the device refused (no longer read) or left unanswered, and why."""
        silent = {
            name: f"not answered {self._where(name)}; tried again every {SILENT_SKIP_READS} reads"
            for name in self._silent
        }
        return self._disabled | silent

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
        of the result (and of every later read); one of another unit that does not answer is
        left out for a while (see the module docstring). Raises the transport's DeviceError
        subclasses, `DeviceRefused` only when a required register is refused.
        """
        optional_names = {n for n in optional if n in names}
        wanted = [n for n in names if n not in self._disabled]
        elsewhere = sorted(n for n in optional_names.intersection(wanted) if self._elsewhere(n))
        values = await self._read_own([n for n in wanted if n not in elsewhere], optional_names)
        due = []
        for name in elsewhere:
            if self._silent.get(name, 0) > 0:
                self._silent[name] -= 1
            else:
                due.append(name)
        if due:
            values |= await self._read_elsewhere(due)
        return values

    async def _read_own(
        self, wanted: list[str], optional_names: set[str]
    ) -> dict[str, Value | None]:
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

    async def _read_elsewhere(self, names: list[str]) -> dict[str, Value | None]:
        """Read optional registers of another unit; drop those it refuses or ignores."""
        try:
            # Not `_read_names`: a refusal there must not stop the device's own gap bridging.
            values = await self._read_plan(self.plan(names))
        except NoResponse as err:
            for name in names:
                if name not in self._silent:
                    _LOGGER.warning(
                        "%s at id %s: %s not answered %s (%s); tried again every %s reads",
                        self._profile.name,
                        self._transport.device_id,
                        name,
                        self._where(name),
                        err,
                        SILENT_SKIP_READS,
                    )
                self._silent[name] = SILENT_SKIP_READS
            return {}
        except DeviceRefused as err:
            if len(names) == 1:
                self._silent.pop(names[0], None)
                self._disable(names[0], err)
                return {}
            values = {}
            for name in names:
                values |= await self._read_elsewhere([name])
            return values
        for name in names:
            if self._silent.pop(name, None) is not None:
                _LOGGER.info("%s: %s answers again", self._profile.name, name)
        return values

    def _elsewhere(self, name: str) -> bool:
        unit_id = self._profile.registers[name].unit_id
        return unit_id is not None and unit_id != self._transport.device_id

    def _where(self, name: str) -> str:
        register = self._profile.registers[name]
        unit = "" if register.unit_id is None else f" of unit {register.unit_id}"
        return f"at {register.address:#06x}{unit}"

    def _disable(self, name: str, err: DeviceRefused) -> None:
        reason = f"refused (exception {err.exception_code}) {self._where(name)}"
        self._disabled[name] = reason
        self._plans.clear()
        _LOGGER.warning(
            "%s at id %s: %s %s; no longer read (it is optional)",
            self._profile.name,
            self._transport.device_id,
            name,
            reason,
        )

    def _handle(self, unit_id: int | None) -> RegisterTransport:
        """Return the device's own handle, or a sibling for a register pinned to another unit."""
        if unit_id is None or unit_id == self._transport.device_id:
            return self._transport
        if unit_id not in self._units:
            self._units[unit_id] = self._transport.unit(unit_id)
        return self._units[unit_id]

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
            transport = self._handle(block.unit_id)
            if block.function_code == HOLDING:
                words = await transport.read_holding(block.address, block.count)
            elif block.function_code == COILS:
                words = await transport.read_coils(block.address, block.count)
            else:
                words = await transport.read_input(block.address, block.count)
            if len(words) != block.count:
                msg = f"asked {block.count} registers at {block.address}, got {len(words)}"
                raise NoResponse(msg)
            for register in block.registers:
                try:
                    values[register.name] = decode(register, block.words_of(register, words))
                except InvalidValueError:
                    values[register.name] = None
        return values
