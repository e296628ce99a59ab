"""
The control loop's glue between the buses, the drivers and the engine (DESIGN section 2).

No Home Assistant import. One `Site` owns the buses, the meter driver, the charger
drivers and the `Balancer`; `await site.cycle(now)` does one cycle:

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

A charger that does not answer is not written to (its watchdog takes it to its fail-safe
current, and the engine reserves its maximum); it is read again every cycle so it comes
back as soon as it answers.
"""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .const import CYCLE_INTERVAL, FULL_READ_EVERY_CYCLES, HISTORY_CYCLES
from .devices.bus import Bus
from .devices.chargers import ChargerValues, create_charger
from .devices.errors import ConnectionLost, DeviceError, Unsupported
from .devices.fallback import MeterChain, reading_age_s
from .devices.interfaces import MeterSource
from .devices.meters import Meter, MeterValues
from .devices.registers import get_profile
from .engine.fail_safe import fail_safe_currents_a
from .engine.model import (
    ChargerCommand,
    ChargerReading,
    Constraint,
    Decision,
    ImportWindow,
    MeterReading,
    Snapshot,
    SurplusReading,
)
from .engine.plausibility import implausible_currents
from .import_window import WindowMeter, WindowStatus
from .settings import DeviceLocation

if TYPE_CHECKING:
    from collections.abc import Collection, Iterable, Mapping

    from .devices.bus import BusSettings
    from .devices.chargers import WatchdogStatus
    from .devices.identity import DeviceIdentity
    from .devices.interfaces import ChargerDevice, MeterDevice
    from .engine import Balancer

METER_KEY = "meter"
"""Key of the meter in `CycleResult.identities` (chargers use their charger ids)."""
IDENTITY_REFRESH_S = 6 * 3600.0
"""A device's identity is read again this often (a firmware update without a restart)."""
IDENTITY_RETRY_S = 60.0
"""After a failed identity read, the next attempt waits this long, doubling per failure
(a model that stays silent on an identity register costs a timeout ever more rarely)."""


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
class _ChargerState:
    """What the loop knows about one charger between cycles."""

    driver: ChargerDevice
    setpoint_a: int | None = None
    armed_for_a: int | None = None
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


@dataclass(slots=True)
class _CycleLog:
    """Per-charger outcome of the cycle being run."""

    readings: dict[str, ChargerValues | None] = field(default_factory=dict)
    errors: dict[str, str | None] = field(default_factory=dict)
    lost: list[bool] = field(default_factory=list)
    probed: set[str] = field(default_factory=set)
    """Chargers asked this cycle (an unreadable one is left alone between its probes)."""


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
        self._chargers = {cid: _ChargerState(driver=driver) for cid, driver in chargers.items()}
        self._watchdog_timeout_s = watchdog_timeout_s
        self._last_meter: MeterReading | None = None
        self._meter_values: MeterValues | None = None
        self._meter_reachable = False
        self._balancing_on = MeterSource.NONE
        """The meter that gave the last measurement (primary, or the chain's backup)."""
        self._identity_timers = {key: _IdentityTimer() for key in (METER_KEY, *chargers)}
        self._identities: dict[str, DeviceIdentity] = {}
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
            for state in self._chargers.values():
                state.armed_for_a = None

    @property
    def buses(self) -> tuple[Bus, ...]:
        """The ports and gateways this site talks to."""
        return self._buses

    def driver(self, charger_id: str) -> ChargerDevice:
        """Return the driver of one charger."""
        return self._chargers[charger_id].driver

    @property
    def disabled_registers(self) -> dict[str, dict[str, str]]:
        """Optional registers each device refused and that are no longer read, and why."""
        drivers: dict[str, MeterDevice | ChargerDevice] = {
            cid: s.driver for cid, s in self._chargers.items()
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
        keys = (METER_KEY, *self._chargers) if self._meter is not None else (*self._chargers,)
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
        started = time.perf_counter()
        cpu_started = time.thread_time()
        full_keys = frozenset((METER_KEY, *self._chargers)) if full is True else full or ()
        log = _CycleLog()
        # Read
        meter_error = await self._read_meter(now, full=METER_KEY in full_keys, log=log)
        blind = self._blind(now)
        if not blind:
            await self._read_chargers(now, full_keys, log)
        # Step
        import_window = None
        if wall_s is not None and self._meter is not None:
            import_window = self._import_window(wall_s, meter_ok=meter_error is None)
        snapshot = Snapshot(
            now=now,
            meter=self._last_meter,
            chargers=tuple(
                _engine_reading(charger_id, log.readings.get(charger_id), state)
                for charger_id, state in self._chargers.items()
            ),
            surplus=surplus,
            window=import_window,
        )
        decision = self.balancer.step(snapshot)
        commands = {command.charger_id: command for command in decision.commands}
        # Actuate
        writes = await self._actuate(commands, now=now, blind=blind, log=log)
        if not blind:
            await self._read_identity(now)
        # Record
        duration_s = time.perf_counter() - started
        cpu_s = time.thread_time() - cpu_started
        self.history.append(
            CycleRecord(
                snapshot=snapshot,
                decision=decision,
                writes=writes,
                duration_s=duration_s,
                cpu_s=cpu_s,
                full=bool(full_keys),
            )
        )
        return CycleResult(
            at=now,
            meter=self._meter_values,
            meter_ok=meter_error is None,
            meter_fresh=not blind,
            meter_error=meter_error,
            chargers={
                charger_id: self._status(charger_id, state, log, commands)
                for charger_id, state in self._chargers.items()
            },
            snapshot=snapshot,
            decision=decision,
            writes=writes,
            connection_lost=bool(log.lost) and all(log.lost),
            duration_s=duration_s,
            cpu_s=cpu_s,
            identities=dict(self._identities),
            window=(
                self.window_meter.status(wall_s)
                if wall_s is not None and self._meter is not None
                else None
            ),
            meter_source=self._meter_source(blind=blind),
        )

    def _import_window(self, wall_s: float, *, meter_ok: bool) -> ImportWindow | None:
        """Feed the window meter the meter's total power (import positive) of this cycle."""
        peak = self.balancer.settings.peak
        if peak is not None:
            self.window_meter.resize(peak.window_s)
        values = self._meter_values
        import_w = values.power_total_w if meter_ok and values is not None else None
        return self.window_meter.update(
            wall_s, import_w, target_w=peak.target_w if peak is not None else 0.0
        )

    def _meter_source(self, *, blind: bool) -> MeterSource | None:
        """Which meter the cycle balanced on (NONE: no fresh measurement, the fail-safe)."""
        if self._meter is None:
            return None
        if blind:
            return MeterSource.NONE
        return self._balancing_on

    def _blind(self, now: float) -> bool:
        """Tell whether the meter has been silent too long to balance on (the fail-safe)."""
        settings = self.balancer.settings
        return settings.has_meter and (
            self._last_meter is None
            or now - self._last_meter.at > settings.timing.meter_stale_after_s
        )

    async def _read_chargers(self, now: float, full_keys: Collection[str], log: _CycleLog) -> None:
        """Read every charger that answers, and those that did not when they are due."""
        for charger_id, state in self._chargers.items():
            if (
                not state.reachable
                and state.armed_for_a is not None
                and not state.watchdog_unsupported
                and now - state.last_request_at > self._watchdog_timeout_s
            ):
                state.fell_back = True  # its own watchdog has taken it there by now
            if state.reachable or now >= state.next_read_at:
                log.probed.add(charger_id)
                await self._read_charger(
                    charger_id, state, now=now, full=charger_id in full_keys, log=log
                )

    async def _actuate(
        self,
        commands: Mapping[str, ChargerCommand],
        *,
        now: float,
        blind: bool,
        log: _CycleLog,
    ) -> int:
        """Arm or keep up the watchdogs and write the setpoints that changed; count writes."""
        writes = 0
        for charger_id, state in self._chargers.items():
            # The engine commands every charger of its settings.
            target_a = int(commands[charger_id].current_a)
            if blind:
                # Tell it the fail-safe once, then stay quiet so its watchdog can act.
                writes += await self._write(charger_id, state, target_a, log, now)
                continue
            if log.readings.get(charger_id) is not None:
                await self._keep_watchdog(state, log, charger_id)
            elif charger_id not in log.probed:
                continue  # left alone so that its own watchdog can act
            # An unreadable charger is sent its fail-safe too: a write may reach it when
            # answers do not.
            writes += await self._write(charger_id, state, target_a, log, now)
        return writes

    async def release(self) -> None:
        """Leave every charger that answers at its fail-safe current (on unload)."""
        fail_safe_a = fail_safe_currents_a(self.balancer.settings)
        for charger_id, state in self._chargers.items():
            if not state.reachable:
                continue
            target_a = min(math.floor(fail_safe_a[charger_id]), state.driver.max_limit_a)
            if state.setpoint_a == target_a:
                continue
            try:
                await state.driver.set_limit(target_a)
            except DeviceError:
                continue
            state.setpoint_a = target_a

    async def close(self) -> None:
        """Close every bus (the serial port is released)."""
        for bus in self._buses:
            await bus.close()

    # --- steps --------------------------------------------------------------------------

    async def _read_meter(self, now: float, *, full: bool, log: _CycleLog) -> str | None:
        if self._meter is None:
            return None
        phases = len(self.balancer.settings.supply.phases)
        try:
            reading = await self._meter.read(full=full)
        except DeviceError as err:
            log.lost.append(isinstance(err, ConnectionLost))
            self._meter_reachable = False
            return str(err)
        log.lost.append(False)
        if not self._meter_reachable:
            self._meter_reachable = True
            self._identity_timers[METER_KEY].contact(now)  # first contact, or back: updated?
        currents = reading.currents_a[:phases]
        if any(current is None for current in currents):
            return f"the meter gives no current for every phase: {currents}"
        implausible = implausible_currents(currents, self.balancer.settings.breaker_a)
        if implausible is not None:
            return f"not a measurement: {implausible}"
        # A sensor's value is as old as its last report, not as the read.
        self._last_meter = MeterReading(
            currents_a=tuple(float(current or 0.0) for current in currents),
            at=now - reading_age_s(self._meter),
        )
        self._balancing_on = (
            self._meter.source if isinstance(self._meter, MeterChain) else MeterSource.PRIMARY
        )
        self._meter_values = reading
        return None

    async def _read_charger(
        self, charger_id: str, state: _ChargerState, *, now: float, full: bool, log: _CycleLog
    ) -> None:
        state.last_request_at = now
        try:
            reading = await state.driver.read(full=full)
        except DeviceError as err:
            log.lost.append(isinstance(err, ConnectionLost))
            log.readings[charger_id] = None
            log.errors[charger_id] = str(err)
            state.reachable = False
            self._schedule_read(state, now)
            return
        log.lost.append(False)
        if not state.reachable and reading.setpoint_a is not None:
            # Back (or first contact): trust what it reports rather than what we last wrote.
            state.setpoint_a = int(reading.setpoint_a)
        if not state.reachable:
            self._identity_timers[charger_id].contact(now)  # first contact, or back: updated?
        state.reachable = True
        state.fell_back = False
        state.silent_since = None
        state.next_read_at = -math.inf
        log.readings[charger_id] = reading

    def _schedule_read(self, state: _ChargerState, now: float) -> None:
        """
        Decide when to try a charger again that did not answer.

        Every cycle at first (a lost frame or two). Once it has been silent for the meter's
        stale time, only after its watchdog timeout: some chargers (Heidelberg) reset their
        watchdog on any request that reaches them, even when the answer does not come back,
        so a loop that keeps asking would keep it from falling back by itself.
        """
        if state.silent_since is None:
            state.silent_since = now
        grace_s = self.balancer.settings.timing.meter_stale_after_s
        if now - state.silent_since < grace_s:
            state.next_read_at = now
        else:
            state.next_read_at = now + self._watchdog_timeout_s + CYCLE_INTERVAL.total_seconds()

    async def _read_identity(self, now: float) -> None:
        """Read the identity of at most one device that answered and whose read is due."""
        reachable: list[tuple[str, MeterDevice | ChargerDevice]] = []
        if self._meter is not None and self._meter_reachable:
            reachable.append((METER_KEY, self._meter))
        reachable.extend(
            (charger_id, state.driver)
            for charger_id, state in self._chargers.items()
            if state.reachable
        )
        due = [(key, driver) for key, driver in reachable if self._identity_timers[key].is_due(now)]
        if not due:
            return
        key, driver = due[0]
        try:
            self._identities[key] = await driver.identity()
        except DeviceError:
            self._identity_timers[key].done(now, ok=False)
        else:
            self._identity_timers[key].done(now, ok=True)

    async def _keep_watchdog(self, state: _ChargerState, log: _CycleLog, charger_id: str) -> None:
        """Arm the charger's watchdog with the fail-safe current, or do its upkeep."""
        # Never more than fits the breaker with every charger at it (Home Assistant gone).
        fail_safe_a = min(
            math.floor(fail_safe_currents_a(self.balancer.settings)[charger_id]),
            state.driver.max_limit_a,
        )
        try:
            if state.armed_for_a != fail_safe_a:
                state.watchdog = await state.driver.arm_watchdog(
                    timeout_s=self._watchdog_timeout_s, failsafe_a=fail_safe_a
                )
                state.armed_for_a = fail_safe_a
                state.watchdog_error = None
            else:
                # Without a watchdog too: the driver's periodic duties (a Bender's limit
                # re-written, an EVSE-WB's current after a reboot checked).
                await state.driver.maintain()
        except Unsupported:
            # No watchdog. The driver still stores what it can, once per fail-safe current
            # (an EVSE-WB's current after a reboot).
            state.watchdog_unsupported = True
            state.armed_for_a = fail_safe_a
        except ValueError as err:
            # The model cannot take this timeout or current: the user must change them.
            state.watchdog_error = str(err)
            state.armed_for_a = fail_safe_a
        except DeviceError as err:
            log.errors[charger_id] = str(err)

    async def _write(
        self, charger_id: str, state: _ChargerState, target_a: int, log: _CycleLog, now: float
    ) -> int:
        # The settings keep each maximum within the model's; this only guards the driver.
        target_a = min(target_a, state.driver.max_limit_a)
        if state.setpoint_a == target_a:
            return 0
        state.last_request_at = now
        try:
            await state.driver.set_limit(target_a)
        except DeviceError as err:
            log.errors[charger_id] = str(err)
            # Unknown now: the next cycle that reaches it writes again.
            state.setpoint_a = None
            return 0
        state.setpoint_a = target_a
        return 1

    def _status(
        self,
        charger_id: str,
        state: _ChargerState,
        log: _CycleLog,
        commands: Mapping[str, ChargerCommand],
    ) -> ChargerStatus:
        command = commands.get(charger_id)
        reading = log.readings.get(charger_id)
        return ChargerStatus(
            charger_id=charger_id,
            reading=reading,
            available=reading is not None,
            error=log.errors.get(charger_id),
            setpoint_a=state.setpoint_a,
            command_a=command.current_a if command is not None else None,
            reason=command.reason if command is not None else None,
            watchdog=state.watchdog,
            watchdog_unsupported=state.watchdog_unsupported,
            watchdog_error=state.watchdog_error,
            fail_safe_a=state.armed_for_a,
        )


def _engine_reading(
    charger_id: str, reading: ChargerValues | None, state: _ChargerState
) -> ChargerReading:
    """
    Translate a driver's reading into the engine's.

    A charger that could not be read has no state; it holds the limit last written to it
    (when that write was answered), or the fail-safe current its own watchdog has surely
    fallen back to by now (see `_ChargerState.fell_back`), else an unknown one.
    """
    if reading is None:
        held_a = state.armed_for_a if state.setpoint_a is None and state.fell_back else None
        return ChargerReading(
            charger_id=charger_id,
            state=None,
            currents_a=None,
            setpoint_a=state.setpoint_a if held_a is None else held_a,
        )
    currents = [current for current in reading.currents_a if current is not None]
    return ChargerReading(
        charger_id=charger_id,
        state=reading.state,
        currents_a=tuple(currents) if currents else None,
        setpoint_a=reading.setpoint_a,
        temperature_c=reading.temperature_c,
    )


METER_RETRIES = 1
"""The meter drives the breaker protection: one more attempt within the cycle."""
CHARGER_RETRIES = 0
"""A silent charger is read again next cycle; retries would only delay the meter."""


def build_site(
    *,
    balancer: Balancer,
    meter: DeviceLocation | MeterDevice | None,
    chargers: Mapping[str, DeviceLocation | ChargerDevice],
    watchdog_timeout_s: float,
    backup_meter: MeterDevice | None = None,
) -> Site:
    """
    Build the buses and drivers of a site; nothing is opened yet.

    A meter or charger given as a device (not a `DeviceLocation`) is used as it is: one
    that Home Assistant entities stand for. A `backup_meter` is read while the meter is
    silent (`MeterChain`). Devices on one port share one `Bus`. Raises `LineConflictError`
    when two devices on one port need different line settings, and `Unsupported` for a
    charger model without a driver.
    """
    buses: dict[str, Bus] = {}

    def bus_for(settings: BusSettings) -> Bus:
        key = settings.key
        bus = buses.get(key)
        if bus is None:
            bus = buses[key] = Bus(settings)
        elif bus.settings != settings:
            msg = f"{settings.label} cannot serve {bus.settings.line} and {settings.line} at once"
            raise LineConflictError(msg)
        return bus

    meter_driver: MeterDevice | None = None
    if meter is not None and not isinstance(meter, DeviceLocation):
        meter_driver = meter
    elif meter is not None:
        profile = get_profile(meter.model)
        meter_driver = Meter(
            bus_for(meter.bus).device(
                meter.device_id, pacing_s=profile.pacing_s, retries=METER_RETRIES
            ),
            profile,
        )
    if meter_driver is not None and backup_meter is not None:
        meter_driver = MeterChain(meter_driver, backup_meter)
    drivers: dict[str, ChargerDevice] = {}
    for charger_id, charger in chargers.items():
        if not isinstance(charger, DeviceLocation):
            drivers[charger_id] = charger
            continue
        profile = get_profile(charger.model)
        transport = bus_for(charger.bus).device(
            charger.device_id, pacing_s=profile.pacing_s, retries=CHARGER_RETRIES
        )
        drivers[charger_id] = create_charger(transport, profile)
    return Site(
        balancer=balancer,
        buses=buses.values(),
        meter=meter_driver,
        chargers=drivers,
        watchdog_timeout_s=watchdog_timeout_s,
    )


class LineConflictError(ValueError):
    """Two devices on one port need different line settings: they cannot share it."""
