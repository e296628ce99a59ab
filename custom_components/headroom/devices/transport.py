"""
The small protocol that everything above the bus talks to.

A `RegisterTransport` is one device id on one bus (an RTU port, a Modbus TCP gateway or an
RTU-over-TCP gateway). Drivers and discovery depend on this protocol only, so tests can
plug in a fake register bank and the pymodbus version can change in one place.
Addresses are 0-based wire addresses; values are 16-bit unsigned registers, coils 0 or 1.
Registers are what almost every device needs; coils (function codes 1 and 5) are for the
few that switch charging on and off through one (Phoenix Contact EV-SER / EV-ETH). A handle
gives a sibling for another unit id on the same connection (`unit`), for the few registers a
profile pins to a fixed unit (Alfen's station, 200).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, Protocol

if TYPE_CHECKING:
    from collections.abc import Sequence


class RegisterTransport(Protocol):
    """
    Read and write registers of one device.

    Every method raises only `errors.DeviceError` subclasses.
    """

    @property
    def device_id(self) -> int:
        """Modbus device id (1-247) of the device this handle talks to."""
        ...

    async def read_holding(self, address: int, count: int) -> list[int]:
        """Read `count` holding registers (function code 3)."""
        ...

    async def read_input(self, address: int, count: int) -> list[int]:
        """Read `count` input registers (function code 4)."""
        ...

    async def write(
        self, address: int, values: Sequence[int], *, function_code: Literal[6, 16] = 16
    ) -> None:
        """Write registers: FC 6 for a single register, FC 16 for one or more."""
        ...

    async def read_coils(self, address: int, count: int) -> list[int]:
        """Read `count` coils (function code 1), each 0 or 1."""
        ...

    async def write_coil(self, address: int, *, on: bool) -> None:
        """Switch one coil on or off (function code 5)."""
        ...

    def unit(self, unit_id: int) -> RegisterTransport:
        """
        Return a handle for another unit id behind the same connection.

        Alfen's station registers answer at unit 200 while each socket has its own unit.
        """
        ...
