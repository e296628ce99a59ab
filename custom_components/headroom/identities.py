"""
When the control loop reads a device's identity (firmware, serial number), and what it read.

No Home Assistant import. At most one device per cycle: after first contact, after it was
away, then every few hours; a failed read backs off.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .devices.errors import DeviceError

if TYPE_CHECKING:
    from collections.abc import Iterable

    from .devices.identity import DeviceIdentity
    from .devices.interfaces import ChargerDevice, MeterDevice

IDENTITY_REFRESH_S = 6 * 3600.0
"""A device's identity is read again this often (a firmware update without a restart)."""
IDENTITY_RETRY_S = 60.0
"""After a failed identity read, the next attempt waits this long, doubling per failure
(a model that stays silent on an identity register costs a timeout ever more rarely)."""


@dataclass(slots=True)
class _IdentityTimer:
    """When to read a device's identity: after contact, then rarely, backing off on errors."""

    due_at: float | None = None
    """None: not before the device answers."""
    failures: int = 0

    def contact(self, now: float) -> None:
        """Read it now: the device answers (first contact, or back after it was away)."""
        self.due_at = now
        self.failures = 0

    def is_due(self, now: float) -> bool:
        """Tell whether to read the identity now."""
        return self.due_at is not None and now >= self.due_at

    def done(self, now: float, *, ok: bool) -> None:
        """Schedule the next read after one that succeeded or failed."""
        if ok:
            self.failures = 0
            self.due_at = now + IDENTITY_REFRESH_S
        else:
            self.failures += 1
            backoff_s = IDENTITY_RETRY_S * 2 ** (self.failures - 1)
            self.due_at = now + min(backoff_s, IDENTITY_REFRESH_S)


class IdentityReader:
    """The identities read so far, and when each device's is due."""

    def __init__(self, keys: Iterable[str]) -> None:
        """Schedule the devices by key (`METER_KEY`, charger ids); none is due before contact."""
        self._timers = {key: _IdentityTimer() for key in keys}
        self.identities: dict[str, DeviceIdentity] = {}

    def contact(self, key: str, now: float) -> None:
        """Read a device's identity now: it answers (first contact, or back after it was away)."""
        self._timers[key].contact(now)

    async def read_one(
        self, now: float, reachable: Iterable[tuple[str, MeterDevice | ChargerDevice]]
    ) -> None:
        """Read the identity of at most one device that answered and whose read is due."""
        due = [(key, driver) for key, driver in reachable if self._timers[key].is_due(now)]
        if not due:
            return
        key, driver = due[0]
        try:
            self.identities[key] = await driver.identity()
        except DeviceError:
            self._timers[key].done(now, ok=False)
        else:
            self._timers[key].done(now, ok=True)
