"""
The meter fallback chain: a primary meter, and backup sensors while it is silent.

`MeterChain` is itself a meter. Each read asks the primary first; when the primary raises
a `DeviceError` the backup is read instead, and only when both fail does the read fail
(with the primary's error), so the loop's stale time and fail-safe apply as for one meter.
The primary is asked again every read, so the chain goes back to it as soon as it answers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import ConnectionLost, DeviceError, NoResponse
from .interfaces import AgedMeterDevice, MeterSource

if TYPE_CHECKING:
    from .identity import DeviceIdentity
    from .interfaces import MeterDevice
    from .meters import MeterValues


def reading_age_s(meter: MeterDevice) -> float:
    """How old the last reading of `meter` was when it was read (0: read from the device)."""
    return meter.reading_age_s if isinstance(meter, AgedMeterDevice) else 0.0


class MeterChain:
    """A primary meter with a backup: reads the backup while the primary is silent."""

    def __init__(self, primary: MeterDevice, backup: MeterDevice) -> None:
        """Balance on `primary`, on `backup` while the primary raises device errors."""
        self.primary = primary
        self.backup = backup
        self._source = MeterSource.NONE
        self._age_s = 0.0

    @property
    def source(self) -> MeterSource:
        """Which meter gave the last reading (NONE: the last read failed on both)."""
        return self._source

    @property
    def reading_age_s(self) -> float:
        """How old the last reading was when read (a backup sensor reports, it is not asked)."""
        return self._age_s

    @property
    def disabled_registers(self) -> dict[str, str]:
        """The primary's refused registers (the backup has none)."""
        return self.primary.disabled_registers

    async def read(self, *, full: bool = True) -> MeterValues:
        """Read the primary, or the backup when the primary fails; raise if both fail."""
        try:
            reading = await self.primary.read(full=full)
        except DeviceError as primary_error:
            try:
                reading = await self.backup.read(full=full)
            except DeviceError as backup_error:
                self._source = MeterSource.NONE
                msg = f"{primary_error}; backup: {backup_error}"
                lost = isinstance(primary_error, ConnectionLost)
                raise (ConnectionLost(msg) if lost else NoResponse(msg)) from backup_error
            self._source = MeterSource.BACKUP
            self._age_s = reading_age_s(self.backup)
            return reading
        self._source = MeterSource.PRIMARY
        self._age_s = reading_age_s(self.primary)
        return reading

    async def identity(self) -> DeviceIdentity:
        """Read the primary's identity (the meter device is the primary)."""
        return await self.primary.identity()
