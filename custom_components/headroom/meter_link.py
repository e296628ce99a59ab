"""
What the control loop knows about the site's meter: its last measurement and whether it answers.

No Home Assistant import. A `MeterLink` is the one owner of the measurement the engine
balances on; `Site` decides from its age whether the loop is blind (the fail-safe).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .devices.errors import DeviceError
from .devices.fallback import MeterChain, reading_age_s
from .devices.interfaces import MeterSource
from .engine.model import MeterReading
from .engine.plausibility import implausible_currents

if TYPE_CHECKING:
    from .devices.interfaces import MeterDevice
    from .devices.meters import MeterValues


@dataclass(slots=True, kw_only=True)
class MeterLink:
    """The meter as the loop sees it."""

    driver: MeterDevice
    measurement: MeterReading | None = None
    """The last answer that was a measurement, for the engine (None: none yet)."""
    values: MeterValues | None = None
    """That answer's values (merged, by the driver, into its last full read)."""
    reachable: bool = False
    source: MeterSource = MeterSource.NONE
    """The meter that gave the measurement (primary, or the chain's backup)."""

    async def read(self, now: float, *, full: bool, phases: int, breaker_a: float) -> str | None:
        """
        Read it; return why its answer is no measurement (None: it is one, and is kept).

        Raises the driver's `DeviceError` when it does not answer.
        """
        try:
            reading = await self.driver.read(full=full)
        except DeviceError:
            self.reachable = False
            raise
        self.reachable = True
        currents = reading.currents_a[:phases]
        if any(current is None for current in currents):
            return f"the meter gives no current for every phase: {currents}"
        implausible = implausible_currents(currents, breaker_a)
        if implausible is not None:
            return f"not a measurement: {implausible}"
        # A sensor's value is as old as its last report, not as the read.
        self.measurement = MeterReading(
            currents_a=tuple(float(current or 0.0) for current in currents),
            at=now - reading_age_s(self.driver),
        )
        self.source = (
            self.driver.source if isinstance(self.driver, MeterChain) else MeterSource.PRIMARY
        )
        self.values = reading
        return None
