"""
The control loop's glue between the buses, the drivers and the engine (DESIGN section 2).

No Home Assistant import. One `Site` owns the buses, the `Balancer`, a `MeterLink` (the
meter's last measurement) and a `ChargerLink` per charger (the setpoint it holds, its
watchdog, when to read it again); `await site.cycle(now)` does one cycle:

1. reads the meter (the few registers control needs; everything on `full` cycles);
2. unless the meter has been silent too long, reads every charger;
3. builds the engine's `Snapshot`, runs `Balancer.step`;
4. arms each charger's own watchdog (once, and again when the fail-safe changes) and
   lets the driver do its periodic duties;
5. writes only the setpoints that differ from what the charger holds;
6. reads the identity (firmware, serial number) of at most one device that answered and
   whose identity is due: after first contact, after it was away, and every few hours.

While the meter is silent (the engine's fail-safe), every charger is sent the fail-safe
current once and then left alone: no reads, no watchdog upkeep. A charger whose watchdog
resets on any Modbus traffic (Heidelberg) would otherwise be kept alive by a blind
controller instead of falling back by itself.

A charger that does not answer is sent its fail-safe current (a write may reach it when
answers do not), and the engine reserves what it may hold. It is read again every cycle for
the meter's stale time (a lost frame or two), then once per watchdog timeout: a charger
whose watchdog any request resets (Heidelberg) must be left alone to fall back by itself
(`ChargerLink.read_due`).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .charger_link import ChargerLink
from .const import FULL_READ_EVERY_CYCLES, HISTORY_CYCLES
from .devices.errors import ConnectionLost, DeviceError
from .devices.interfaces import MeterSource
from .engine.fail_safe import fail_safe_currents_a
from .engine.model import (
    ChargerCommand,
    Constraint,
    Decision,
    ImportWindow,
    Snapshot,
    SurplusReading,
)
from .identities import IdentityReader
from .import_window import WindowMeter, WindowStatus
from .meter_link import MeterLink

if TYPE_CHECKING:
    from collections.abc import Collection, Iterable, Mapping

    from .devices.bus import Bus
    from .devices.chargers import ChargerValues, WatchdogStatus
    from .devices.identity import DeviceIdentity
    from .devices.interfaces import ChargerDevice, MeterDevice
    from .devices.meters import MeterValues
    from .engine import Balancer

METER_KEY = "meter"
"""Key of the meter in `CycleResult.identities` (chargers use their charger ids)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ChargerStatus:
    """One charger after a cycle, for the entities and diagnostics."""

    charger_id: str
    reading: ChargerValues | None
    """This cycle's read merged (by the driver) into its last full one; None when it did not answer
    (or was not read because the meter is silent)."""
    available: bool
    error: str | None
    """Why it could not be read or written this cycle."""
    setpoint_a: int | None
    """The limit the charger holds as far as the loop knows (None: unknown)."""
    command_a: float | None
    """What the engine decided this cycle."""
    reason: Constraint | None = None
    """What limited that command (the binding constraint's words for this charger)."""
    watchdog: WatchdogStatus | None
    watchdog_unsupported: bool
    watchdog_error: str | None
    """Why the watchdog could not be armed with these settings (ValueError from the driver)."""
    fail_safe_a: int | None = None
    """The fail-safe current the watchdog was last armed for (None before the first try)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CycleResult:
    """What one cycle saw, decided and did."""

    at: float
    meter: MeterValues | None
    """The last meter values (this cycle's merged, by the driver, into its last full read)."""
    meter_ok: bool
    """The meter answered this cycle with a measurement (always True without a meter)."""
    meter_fresh: bool
    """The last measurement is recent enough to balance on (always True without a meter):
    a meter that misses a few answers stays fresh, one silent for the stale time does not."""
    meter_error: str | None
    chargers: Mapping[str, ChargerStatus]
    snapshot: Snapshot
    decision: Decision
    writes: int
    """Setpoints written this cycle."""
    connection_lost: bool
    """Every device failed because the port or gateway is gone."""
    duration_s: float
    """Wall time of the cycle (bus time dominates)."""
    cpu_s: float
    """CPU time the cycle's own code used (the thread's, so other tasks can add to it)."""
    identities: Mapping[str, DeviceIdentity] = field(default_factory=dict)
    """Firmware and serial number of the devices read so far (`METER_KEY`, charger ids)."""
    window: WindowStatus | None = None
    """The current import window and the month's peak (None: no meter, or no wall clock)."""
    meter_source: MeterSource | None = None
    """Which meter the cycle balanced on; None without a meter."""

    def record(self, *, full: bool) -> CycleRecord:
        """Return what diagnostics keep of this cycle (`full`: it was a full read)."""
        return CycleRecord(
            snapshot=self.snapshot,
            decision=self.decision,
            writes=self.writes,
            duration_s=self.duration_s,
            cpu_s=self.cpu_s,
            full=full,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class CycleRecord:
    """Engine input and output of one cycle, kept for diagnostics."""

    snapshot: Snapshot
    decision: Decision
    writes: int
    duration_s: float
    cpu_s: float
    full: bool
    """The cycle also read energy counters, voltages and the chargers' setpoints (a full read)."""


@dataclass(slots=True)
class _CycleLog:
    """What the cycle being run saw of each device."""

    readings: dict[str, ChargerValues | None] = field(default_factory=dict)
    errors: dict[str, str | None] = field(default_factory=dict)
    lost: list[bool] = field(default_factory=list)
    probed: set[str] = field(default_factory=set)
    """Chargers asked this cycle (an unreadable one is left alone between its probes)."""
    meter_error: str | None = None
    """Why the meter gave no measurement this cycle (None: it did, or there is no meter)."""


class Site:
    """One installation: buses, meter, chargers and the balancer, run one cycle at a time."""

    def __init__(
        self,
        *,
        balancer: Balancer,
        buses: Iterable[Bus],
        meter: MeterDevice | None,
        chargers: Mapping[str, ChargerDevice],
        watchdog_timeout_s: float,
    ) -> None:
        """
        Drive `chargers` (by the engine's charger ids) from `meter` with `balancer`.

        `watchdog_timeout_s` is the silence after which a charger falls back by itself.
        """
        self.balancer = balancer
        self._buses = tuple(buses)
        self._meter = meter
        """The meter's driver (its `MeterLink` keeps what the loop knows of it)."""
        self._links = {
            cid: ChargerLink(charger_id=cid, driver=driver) for cid, driver in chargers.items()
        }
        self._watchdog_timeout_s = watchdog_timeout_s
        self._meter_link = MeterLink(driver=meter) if meter is not None else None
        self._identity = IdentityReader((METER_KEY, *chargers))
        self.history: deque[CycleRecord] = deque(maxlen=HISTORY_CYCLES)
        self.window_meter = WindowMeter()
        """The grid import per wall-clock window (capacity tariffs); needs the meter."""

    @property
    def watchdog_timeout_s(self) -> float:
        """Silence after which a charger falls back to its fail-safe current by itself."""
        return self._watchdog_timeout_s

    @watchdog_timeout_s.setter
    def watchdog_timeout_s(self, timeout_s: float) -> None:
        """Change the timeout; every watchdog is armed again on its next cycle."""
        if timeout_s != self._watchdog_timeout_s:
            self._watchdog_timeout_s = timeout_s
            for link in self._links.values():
                link.rearm()

    @property
    def buses(self) -> tuple[Bus, ...]:
        """The ports and gateways this site talks to."""
        return self._buses

    def driver(self, charger_id: str) -> ChargerDevice:
        """Return the driver of one charger."""
        return self._links[charger_id].driver

    @property
    def disabled_registers(self) -> dict[str, dict[str, str]]:
        """Optional registers each device refused and that are no longer read, and why."""
        drivers: dict[str, MeterDevice | ChargerDevice] = {
            cid: link.driver for cid, link in self._links.items()
        }
        if self._meter is not None:
            drivers[METER_KEY] = self._meter
        return {key: d.disabled_registers for key, d in drivers.items() if d.disabled_registers}

    async def connect(self) -> None:
        """
        Open every bus; raise `ConnectionLost` only when none of them opens.

        A charger behind a gateway that is down must not stop the others: its bus keeps
        reconnecting on its own, and the charger is unavailable meanwhile.
        """
        failure: ConnectionLost | None = None
        opened = False
        for bus in self._buses:
            try:
                await bus.connect()
            except ConnectionLost as err:
                failure = err
            else:
                opened = True
        if failure is not None and not opened:
            raise failure

    def full_read_keys(self, cycle_number: int) -> frozenset[str]:
        """
        Return the devices read in full (energy, voltages, setpoints) this cycle.

        Each device once every `FULL_READ_EVERY_CYCLES` cycles, on a cycle of its own, so that
        no cycle carries every slow read at once and pushes the next tick out.
        """
        keys = (METER_KEY, *self._links) if self._meter is not None else (*self._links,)
        slot = cycle_number % FULL_READ_EVERY_CYCLES
        return frozenset(
            key for index, key in enumerate(keys) if index % FULL_READ_EVERY_CYCLES == slot
        )

    async def cycle(
        self,
        now: float,
        *,
        full: bool | Collection[str] = False,
        surplus: SurplusReading | None = None,
        wall_s: float | None = None,
    ) -> CycleResult:
        """
        Run one control cycle at `now` (monotonic seconds); never raises a device error.

        `full` also reads energy counters, voltages and the chargers' setpoints and
        power (slower): True for every device, or the keys of some (`METER_KEY`, charger
        ids; see `full_read_keys`). `wall_s` is the local wall-clock time in seconds: with it
        and a meter, the import per wall-clock window is accounted (capacity tariffs).
        """
        started = (time.perf_counter(), time.thread_time())
        full_keys = frozenset((METER_KEY, *self._links)) if full is True else full or ()
        log = _CycleLog()
        # Read
        log.meter_error = await self._read_meter(now, full=METER_KEY in full_keys, log=log)
        blind = self._blind(now)
        if not blind:
            await self._read_chargers(now, full_keys, log)
        # Step
        snapshot = self._snapshot(now, log, surplus=surplus, wall_s=wall_s)
        decision = self.balancer.step(snapshot)
        # Actuate
        commands = {command.charger_id: command for command in decision.commands}
        writes = await self._actuate(commands, now=now, blind=blind, log=log)
        if not blind:
            await self._read_identity(now)
        # Record
        meter = self._meter_link
        result = CycleResult(
            at=now,
            meter=meter.values if meter is not None else None,
            meter_ok=log.meter_error is None,
            meter_fresh=not blind,
            meter_error=log.meter_error,
            chargers={
                cid: _charger_status(link, log, commands) for cid, link in self._links.items()
            },
            snapshot=snapshot,
            decision=decision,
            writes=writes,
            connection_lost=bool(log.lost) and all(log.lost),
            duration_s=time.perf_counter() - started[0],
            cpu_s=time.thread_time() - started[1],
            identities=dict(self._identity.identities),
            window=(
                self.window_meter.status(wall_s)
                if wall_s is not None and meter is not None
                else None
            ),
            meter_source=self._meter_source(blind=blind),
        )
        self.history.append(result.record(full=bool(full_keys)))
        return result

    def _snapshot(
        self, now: float, log: _CycleLog, *, surplus: SurplusReading | None, wall_s: float | None
    ) -> Snapshot:
        """Build the engine's input: the meter's measurement, each charger's reading, the window."""
        meter = self._meter_link
        window = None
        if wall_s is not None and meter is not None:
            window = self._import_window(wall_s, meter.values if log.meter_error is None else None)
        return Snapshot(
            now=now,
            meter=meter.measurement if meter is not None else None,
            chargers=tuple(
                link.engine_reading(log.readings.get(charger_id))
                for charger_id, link in self._links.items()
            ),
            surplus=surplus,
            window=window,
        )

    def _import_window(self, wall_s: float, values: MeterValues | None) -> ImportWindow | None:
        """Feed the window meter the meter's total power (import positive) of this cycle."""
        peak = self.balancer.settings.peak
        if peak is not None:
            self.window_meter.resize(peak.window_s)
        import_w = values.power_total_w if values is not None else None
        return self.window_meter.update(
            wall_s, import_w, target_w=peak.target_w if peak is not None else 0.0
        )

    def _meter_source(self, *, blind: bool) -> MeterSource | None:
        """Which meter the cycle balanced on (NONE: no fresh measurement, the fail-safe)."""
        if self._meter_link is None:
            return None
        return MeterSource.NONE if blind else self._meter_link.source

    def _blind(self, now: float) -> bool:
        """Tell whether the meter has been silent too long to balance on (the fail-safe)."""
        settings = self.balancer.settings
        last = self._meter_link.measurement if self._meter_link is not None else None
        return settings.has_meter and (
            last is None or now - last.at > settings.timing.meter_stale_after_s
        )

    async def _read_chargers(self, now: float, full_keys: Collection[str], log: _CycleLog) -> None:
        """Read every charger that answers, and those that did not when they are due."""
        for charger_id, link in self._links.items():
            if not link.read_due(now, watchdog_timeout_s=self._watchdog_timeout_s):
                continue
            log.probed.add(charger_id)
            back = not link.reachable
            try:
                log.readings[charger_id] = await link.read(
                    now,
                    full=charger_id in full_keys,
                    grace_s=self.balancer.settings.timing.meter_stale_after_s,
                    watchdog_timeout_s=self._watchdog_timeout_s,
                )
            except DeviceError as err:
                log.lost.append(isinstance(err, ConnectionLost))
                log.readings[charger_id] = None
                log.errors[charger_id] = str(err)
                continue
            log.lost.append(False)
            if back:
                self._identity.contact(charger_id, now)  # first contact, or back: updated?

    async def _actuate(
        self,
        commands: Mapping[str, ChargerCommand],
        *,
        now: float,
        blind: bool,
        log: _CycleLog,
    ) -> int:
        """
        Arm or keep up the watchdogs and write the setpoints that changed; count writes.

        The chargers are served side by side, cuts first: one whose write is slow holds up no
        other charger's cut, and a write slower than its driver's grace goes on in the
        background (a charger behind another integration's service call, until its timeout:
        `ChargerLink.write`); chargers on one bus still take turns on it. One that draws
        above its limit (the engine says *unresponsive*) is sent it again.
        """
        response_s = self.balancer.settings.timing.car_response_s

        async def serve(charger_id: str, link: ChargerLink) -> int:
            # The engine commands every charger of its settings.
            target_a = int(commands[charger_id].current_a)
            if commands[charger_id].reason is Constraint.UNRESPONSIVE:
                link.ignored(now, after_s=response_s)
            if blind:
                # Tell it the fail-safe once, then stay quiet so its watchdog can act.
                return await self._write(link, target_a, now, log)
            if log.readings.get(charger_id) is not None:
                await self._keep_watchdog(link, log)
            elif charger_id not in log.probed:
                return 0  # left alone so that its own watchdog can act
            # An unreadable charger is sent its fail-safe too: a write may reach it when
            # answers do not.
            return await self._write(link, target_a, now, log)

        def cut_first(item: tuple[str, ChargerLink]) -> bool:
            charger_id, link = item
            held = link.setpoint_a
            return not (held is None or commands[charger_id].current_a < held)

        served = sorted(self._links.items(), key=cut_first)
        return sum(await asyncio.gather(*(serve(key, link) for key, link in served)))

    async def release(self) -> None:
        """Leave every charger that answers at its fail-safe current (on unload)."""
        fail_safe_a = fail_safe_currents_a(self.balancer.settings)
        for charger_id, link in self._links.items():
            if link.reachable:
                await link.release(fail_safe_a[charger_id])

    async def close(self) -> None:
        """Cancel the writes still in flight, close every bus (the serial port is released)."""
        for link in self._links.values():
            await link.abandon()
        for bus in self._buses:
            await bus.close()

    # --- steps --------------------------------------------------------------------------

    async def _read_meter(self, now: float, *, full: bool, log: _CycleLog) -> str | None:
        """Read the meter; return why there is no measurement this cycle (None: there is)."""
        link = self._meter_link
        if link is None:
            return None
        back = not link.reachable
        settings = self.balancer.settings
        try:
            error = await link.read(
                now, full=full, phases=len(settings.supply.phases), breaker_a=settings.breaker_a
            )
        except DeviceError as err:
            log.lost.append(isinstance(err, ConnectionLost))
            return str(err)
        log.lost.append(False)
        if back:
            self._identity.contact(METER_KEY, now)  # first contact, or back: updated?
        return error

    async def _read_identity(self, now: float) -> None:
        """Read the identity of at most one device that answered and whose read is due."""
        reachable: list[tuple[str, MeterDevice | ChargerDevice]] = []
        if self._meter_link is not None and self._meter_link.reachable:
            reachable.append((METER_KEY, self._meter_link.driver))
        reachable.extend(
            (charger_id, link.driver) for charger_id, link in self._links.items() if link.reachable
        )
        await self._identity.read_one(now, reachable)

    async def _keep_watchdog(self, link: ChargerLink, log: _CycleLog) -> None:
        """Arm the charger's watchdog with its fail-safe current, or do its upkeep."""
        fail_safe_a = fail_safe_currents_a(self.balancer.settings)[link.charger_id]
        try:
            await link.keep_watchdog(fail_safe_a, timeout_s=self._watchdog_timeout_s)
        except DeviceError as err:
            log.errors[link.charger_id] = str(err)

    async def _write(self, link: ChargerLink, target_a: int, now: float, log: _CycleLog) -> int:
        """Write the setpoint if it changed; count the write."""
        try:
            return await link.write(target_a, now)
        except DeviceError as err:
            log.errors[link.charger_id] = str(err)
            return 0


def _charger_status(
    link: ChargerLink, log: _CycleLog, commands: Mapping[str, ChargerCommand]
) -> ChargerStatus:
    """Say what one charger saw, was told and holds after this cycle."""
    charger_id = link.charger_id
    command = commands.get(charger_id)
    reading = log.readings.get(charger_id)
    return ChargerStatus(
        charger_id=charger_id,
        reading=reading,
        available=reading is not None,
        error=log.errors.get(charger_id),
        setpoint_a=link.setpoint_a,
        command_a=command.current_a if command is not None else None,
        reason=command.reason if command is not None else None,
        watchdog=link.watchdog,
        watchdog_unsupported=link.watchdog_unsupported,
        watchdog_error=link.watchdog_error,
        fail_safe_a=link.armed_for_a,
    )
