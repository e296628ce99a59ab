"""
What the control loop needs of a meter and of a charger, whatever speaks to them.

The Modbus drivers (`meters.Meter`, `chargers.Charger`) satisfy these protocols as they
are; the Home Assistant layer adds devices that are entities of other integrations. Every
implementation raises the errors of `errors` (a silent entity is a `NoResponse`), so the
loop treats them all alike.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from .chargers import ChargerValues, WatchdogStatus
    from .identity import DeviceIdentity
    from .meters import MeterValues


class MeterDevice(Protocol):
    """A meter the loop reads every cycle."""

    @property
    def disabled_registers(self) -> dict[str, str]:
        """Optional values the meter refused and that are no longer read, and why."""
        ...

    async def read(self, *, full: bool = True) -> MeterValues:
        """Read what control needs, and every other value when `full`; raise `DeviceError`."""
        ...

    async def identity(self) -> DeviceIdentity:
        """Read firmware version and serial number."""
        ...


@runtime_checkable
class AgedMeterDevice(MeterDevice, Protocol):
    """A meter whose last reading may be older than the read (a sensor that reports)."""

    @property
    def reading_age_s(self) -> float:
        """How old the values of the last `read` were when it returned (seconds)."""
        ...


class ChargerDevice(Protocol):
    """A charger the loop reads and commands every cycle."""

    @property
    def max_limit_a(self) -> int:
        """The highest limit the charger accepts."""
        ...

    @property
    def disabled_registers(self) -> dict[str, str]:
        """Optional values the charger refused and that are no longer read, and why."""
        ...

    @property
    def reads_are_free(self) -> bool:
        """
        Whether a read costs no bus time and resets no watchdog (entities in Home Assistant).

        Such a charger is read every cycle while it is silent, so it is back at once.
        """
        ...

    @property
    def write_grace_s(self) -> float | None:
        """
        How long a cycle waits for a limit write before it goes on without it (None: to its end).

        A write that may take seconds (another integration's service call) goes on in the
        background meanwhile (`ChargerLink.write`); a Modbus write is bounded by its bus.
        """
        ...

    @property
    def fallback_after_s(self) -> float | None:
        """
        The silence after which the charger falls back, where only the device sets it.

        An Alfen's validity time is set in its app, and measured from its read-backs; None:
        the watchdog timeout the loop arms (or none is known).
        """
        ...

    async def read(self, *, full: bool = True) -> ChargerValues:
        """Read state and line currents (and the slower values when `full`)."""
        ...

    async def set_limit(self, limit_a: int) -> None:
        """Set the current limit: 0 pauses, otherwise 6 A up to `max_limit_a`."""
        ...

    async def arm_watchdog(self, *, timeout_s: float, failsafe_a: int) -> WatchdogStatus:
        """Make the charger fall back by itself; `Unsupported` when it cannot."""
        ...

    async def maintain(self) -> None:
        """Do the periodic duties while the controller is healthy."""
        ...

    async def identity(self) -> DeviceIdentity:
        """Read firmware version and serial number."""
        ...


class MeterSource(StrEnum):
    """Which meter the loop balances on (the meter fallback chain)."""

    PRIMARY = "primary"
    BACKUP = "backup"
    NONE = "none"
    """Neither gave a fresh measurement: the fail-safe current applies."""
