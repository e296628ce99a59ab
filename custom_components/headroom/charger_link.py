"""
What the control loop knows about one charger between cycles, and the requests it sends it.

No Home Assistant import. A `ChargerLink` is the one owner of the setpoint a charger holds
as far as the loop knows, and of the limit write in flight; it also keeps the charger's
watchdog state and when to read a charger again that did not answer. `Site` runs the cycle
over its links.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .const import CYCLE_INTERVAL
from .devices.errors import DeviceError, Unsupported
from .engine.model import ChargerReading

if TYPE_CHECKING:
    from .devices.chargers import ChargerValues, WatchdogStatus
    from .devices.interfaces import ChargerDevice


@dataclass(slots=True, kw_only=True)
class ChargerLink:
    """One charger as the loop sees it: what it holds, its watchdog, when to read it."""

    charger_id: str
    driver: ChargerDevice
    setpoint_a: int | None = None
    """The limit the charger holds as far as the loop knows (None: unknown)."""
    armed_for_a: int | None = None
    """The fail-safe current its watchdog was last armed for (None: arm it next cycle)."""
    watchdog: WatchdogStatus | None = None
    watchdog_unsupported: bool = False
    watchdog_error: str | None = None
    reachable: bool = False
    silent_since: float | None = None
    """When the current run of failed reads started (None: it answered last time)."""
    next_read_at: float = -math.inf
    """An unreadable charger is left alone until then (see `_schedule_read`)."""
    last_request_at: float = -math.inf
    """The last request sent to it: any that reached it may have reset its watchdog."""
    fell_back: bool = False
    """Unreadable, and left alone longer than its watchdog: it is at its fail-safe current,
    and every later probe sends it that current again."""
    writing: asyncio.Task[None] | None = field(default=None, repr=False)
    """The limit write in flight (see `write`): while it runs, no other is started."""
    writing_a: int | None = None
    """The limit that write sends."""
    written_at: float = -math.inf
    """When the last limit write was started."""

    def rearm(self) -> None:
        """Arm the watchdog again on the next cycle that reaches it (its timeout changed)."""
        self.armed_for_a = None

    def read_due(self, now: float, *, watchdog_timeout_s: float) -> bool:
        """
        Tell whether to read it this cycle: it answers, or it did not and its retry is due.

        A charger left alone longer than its watchdog is taken as fallen back by now.
        """
        if (
            not self.reachable
            and self.armed_for_a is not None
            and not self.watchdog_unsupported
            and now - self.last_request_at > self._falls_back_after_s(watchdog_timeout_s)
        ):
            self.fell_back = True  # its own watchdog has taken it there by now
        return self.reachable or now >= self.next_read_at

    async def read(
        self, now: float, *, full: bool, grace_s: float, watchdog_timeout_s: float
    ) -> ChargerValues:
        """
        Read it; raise the driver's `DeviceError` after scheduling the next try.

        `grace_s` is how long a silent charger is read every cycle (the meter's stale time).
        """
        self.last_request_at = now
        try:
            reading = await self.driver.read(full=full)
        except DeviceError:
            self.reachable = False
            self._schedule_read(now, grace_s=grace_s, watchdog_timeout_s=watchdog_timeout_s)
            raise
        if not self.reachable and reading.setpoint_a is not None:
            # Back (or first contact): trust what it reports rather than what we last wrote.
            self.setpoint_a = int(reading.setpoint_a)
        self.reachable = True
        self.fell_back = False
        self.silent_since = None
        self.next_read_at = -math.inf
        return reading

    def _schedule_read(self, now: float, *, grace_s: float, watchdog_timeout_s: float) -> None:
        """
        Decide when to try a charger again that did not answer.

        Every cycle at first (a lost frame or two). Once it has been silent for the meter's
        stale time, only after its watchdog timeout: some chargers (Heidelberg) reset their
        watchdog on any request that reaches them, even when the answer does not come back,
        so a loop that keeps asking would keep it from falling back by itself. A charger
        whose reads are free (entities) is read every cycle: it is back at once.
        """
        if self.silent_since is None:
            self.silent_since = now
        if self.driver.reads_are_free or now - self.silent_since < grace_s:
            self.next_read_at = now
        else:
            after_s = self._falls_back_after_s(watchdog_timeout_s)
            self.next_read_at = now + after_s + CYCLE_INTERVAL.total_seconds()

    def _falls_back_after_s(self, watchdog_timeout_s: float) -> float:
        """
        Return the silence after which it falls back: the timeout armed, or its own if longer.

        Its own: what it reported when armed (a Webasto NEXT's, set in its web interface)
        or what the driver learnt since (an Alfen's validity time).
        """
        reported_s = self.watchdog.timeout_s if self.watchdog is not None else None
        own_s = [s for s in (reported_s, self.driver.fallback_after_s) if s is not None]
        return max([watchdog_timeout_s, *own_s])

    async def keep_watchdog(self, fail_safe_a: float, *, timeout_s: float) -> None:
        """
        Arm its watchdog with the fail-safe current, or do its upkeep.

        Raises `DeviceError` when the charger does not take the request.
        """
        # Never more than fits the breaker with every charger at it (Home Assistant gone).
        target_a = min(math.floor(fail_safe_a), self.driver.max_limit_a)
        try:
            if self.armed_for_a != target_a:
                self.watchdog = await self.driver.arm_watchdog(
                    timeout_s=timeout_s, failsafe_a=target_a
                )
                self.armed_for_a = target_a
                self.watchdog_error = None
            else:
                # Without a watchdog too: the driver's periodic duties (a Bender's limit
                # re-written, an EVSE-WB's current after a reboot checked).
                await self.driver.maintain()
        except Unsupported:
            # No watchdog. The driver still stores what it can, once per fail-safe current
            # (an EVSE-WB's current after a reboot).
            self.watchdog_unsupported = True
            self.armed_for_a = target_a
        except ValueError as err:
            # The model cannot take this timeout or current: the user must change them.
            self.watchdog_error = str(err)
            self.armed_for_a = target_a

    async def write(self, target_a: int, now: float) -> int:
        """
        Write a setpoint that differs from what it holds; return how many writes ended well.

        The write runs as a task, and the cycle waits for it up to the driver's
        `write_grace_s` (None: until it ends). One that takes longer (another integration's
        service call, up to its timeout) goes on while the next cycles read the meter and
        cut the other chargers: a slow charger holds up neither. Until it ends, no other
        write is started and what the charger holds is unknown; the first cycle after it
        ended counts it, or raises its failure.

        Raises `DeviceError` when a write failed (what it holds is then unknown: the next
        cycle writes again).
        """
        # The settings keep each maximum within the model's; this only guards the driver.
        target_a = min(target_a, self.driver.max_limit_a)
        written = self._collect()
        if self.writing is not None or self.setpoint_a == target_a:
            return written
        self.last_request_at = self.written_at = now
        self.setpoint_a = None
        self.writing_a = target_a
        task = self.writing = asyncio.create_task(self.driver.set_limit(target_a))
        try:
            await asyncio.wait({task}, timeout=self.driver.write_grace_s)
        except asyncio.CancelledError:
            task.cancel()  # the cycle itself was cancelled (unload): so is its write
            raise
        return written + self._collect()

    def ignored(self, now: float, *, after_s: float) -> None:
        """
        Send the limit again: the charger draws above it (the engine says *unresponsive*).

        It may never have had it (a charger back from a reboot that reads back the limit the
        loop holds while it applies another), or the write was lost. At most once per
        `after_s`, never while a write is in flight.
        """
        if self.writing is None and now - self.written_at >= after_s:
            self.setpoint_a = None

    def _collect(self) -> int:
        """Account for the write that ended since (1: it ended well); raise its failure."""
        task, target_a = self.writing, self.writing_a
        if task is None or not task.done():
            return 0
        self.writing = self.writing_a = None
        if task.cancelled():
            return 0
        error = task.exception()
        if error is not None:
            raise error
        self.setpoint_a = target_a
        return 1

    async def release(self, fail_safe_a: float) -> None:
        """
        Leave it at its fail-safe current (on unload); a failed write is ignored.

        A write still in flight is waited for first (the driver's timeout bounds it), so the
        fail-safe current is the last one the charger is sent.
        """
        if self.writing is not None:
            await asyncio.wait({self.writing})
        with contextlib.suppress(DeviceError):
            self._collect()
        target_a = min(math.floor(fail_safe_a), self.driver.max_limit_a)
        if self.setpoint_a == target_a:
            return
        try:
            await self.driver.set_limit(target_a)
        except DeviceError:
            return
        self.setpoint_a = target_a

    async def abandon(self) -> None:
        """Cancel a write still in flight and wait for it to end (the site closes)."""
        task, self.writing, self.writing_a = self.writing, None, None
        if task is None:
            return
        task.cancel()
        await asyncio.wait({task})
        if not task.cancelled():
            task.exception()  # retrieved: its outcome no longer matters

    def engine_reading(self, reading: ChargerValues | None) -> ChargerReading:
        """
        Translate this cycle's reading (None: it did not answer) into the engine's.

        A charger that could not be read has no state; it holds the limit last written to it
        (when that write was answered), or the fail-safe current its own watchdog has surely
        fallen back to by now (see `fell_back`), else an unknown one. Where the device
        reported a fail-safe current of its own above that (an Alfen's safe current, set in
        its app), it may be at that one instead: its own timer runs out when it will.
        """
        if reading is None:
            held_a = self.armed_for_a if self.setpoint_a is None and self.fell_back else None
            setpoint_a: float | None = self.setpoint_a if held_a is None else held_a
            device_a = self.watchdog.failsafe_a if self.watchdog is not None else None
            if setpoint_a is not None and device_a is not None and device_a > setpoint_a:
                setpoint_a = device_a
            return ChargerReading(
                charger_id=self.charger_id, state=None, currents_a=None, setpoint_a=setpoint_a
            )
        currents = [current for current in reading.currents_a if current is not None]
        return ChargerReading(
            charger_id=self.charger_id,
            state=reading.state,
            currents_a=tuple(currents) if currents else None,
            setpoint_a=reading.setpoint_a,
            temperature_c=reading.temperature_c,
        )
