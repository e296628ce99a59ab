"""
The balancer: a small stateful controller around the stateless allocation.

Each `step` takes a snapshot and returns a decision. Time comes only from
`snapshot.now`. The state kept between steps is per charger: its last command, when it
changed, and its gates (`gates.py`, `solar.SolarGate`): the raise gate, the pause clock,
the car cap and the solar gate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace

from .allocation import Demand, Limit, Share, allocate
from .fail_safe import fail_safe_currents_a
from .gates import CarCap, PauseClock, RaiseGate
from .model import (
    MIN_CHARGE_A,
    ChargerCommand,
    ChargerReading,
    ChargerSettings,
    ChargerState,
    Constraint,
    Decision,
    ImportWindow,
    Mode,
    SiteSettings,
    Snapshot,
    SolarSettings,
    SolarStatus,
    Supply,
)
from .peak import BudgetPlan, carry_w, chargers_budget_w, spare_j
from .plausibility import implausible_currents
from .solar import (
    DrawHistory,
    RideThrough,
    SolarGate,
    SurplusMean,
    grid_import_w,
    solar_power_w,
)
from .thermal import ThermalGate

_CAR_PRESENT = frozenset({ChargerState.B, ChargerState.C, ChargerState.D})
_CHARGING = frozenset({ChargerState.C, ChargerState.D})
_SEVERITY = (
    Constraint.FAIL_SAFE,
    Constraint.UNRESPONSIVE,
    Constraint.BREAKER,
    Constraint.CIRCUIT,
    Constraint.PEAK,
    Constraint.TEMPERATURE,
    Constraint.SOLAR,
    Constraint.CHARGER_MAX,
    Constraint.CAR,
    Constraint.MODE_OFF,
    Constraint.NONE,
)
"""Most restrictive first: the site's binding constraint is the first one any command has."""
_ACTIVE_LINE_A = 1.0
"""A charger line carrying at least this much is one the car charges on."""
_DISOBEY_TOLERANCE_A = 1.0
"""A car may draw this much above its limit (rounding, meter error) and still obey it."""


@dataclass(slots=True)
class _Memory:
    """What the balancer remembers about one charger between steps."""

    setpoint_a: float
    told_at: float | None = None
    """When the balancer first commanded it (None: not yet; it holds what it held before)."""
    replaced: list[tuple[float, float]] = field(default_factory=list)
    """(when, command) of the commands replaced within the last car response time, the
    latest last."""
    disobeying: bool = False
    """It drew more than any limit its car may still follow (see `_disobeys`)."""
    rise: RaiseGate = field(default_factory=RaiseGate)
    pause: PauseClock = field(default_factory=PauseClock)
    car: CarCap = field(default_factory=CarCap)
    solar: SolarGate = field(default_factory=SolarGate)
    thermal: ThermalGate = field(default_factory=ThermalGate)

    def forget_followed(self, now: float, *, response_s: float) -> None:
        """Drop the replaced commands older than a car response time: followed by now."""
        self.replaced = [(at, a) for at, a in self.replaced if now - at < response_s]


@dataclass(frozen=True, slots=True, kw_only=True)
class _Group:
    """Chargers that share one capacity: a main-breaker phase or a circuit's phase."""

    phase_index: int | None
    """Index of the supply phase for the main breaker; None for a shared circuit."""
    limit_a: float
    """The circuit's rating (unused for the main breaker, whose headroom varies)."""
    weights: dict[str, float]


def _groups(settings: SiteSettings) -> tuple[_Group, ...]:
    """Who shares what, worked out once per settings."""
    groups = [
        _Group(
            phase_index=index,
            limit_a=settings.breaker_a,
            weights={c.charger_id: 1.0 for c in settings.chargers if phase in c.phases},
        )
        for index, phase in enumerate(settings.supply.phases)
    ]
    for name, circuit_a in settings.circuits_a.items():
        for phase in settings.supply.phases:
            weights = {
                c.charger_id: 1.0
                for c in settings.chargers
                if c.circuit == name and phase in c.phases
            }
            if weights:
                groups.append(_Group(phase_index=None, limit_a=circuit_a, weights=weights))
    return tuple(groups)


@dataclass(slots=True, kw_only=True)
class _Charger:
    """One charger as this step sees it."""

    settings: ChargerSettings
    charger_id: str
    memory: _Memory
    readable: bool
    state: ChargerState | None
    lines_a: tuple[float, ...] | None
    """Measured current per charger line, None when unknown."""
    counted_a: tuple[float, ...]
    """Current per charger line taken off the grid reading to get the house load."""
    enabled: bool
    car_ok: bool
    min_a: float
    max_a: float
    held_a: float | None = None
    """The limit the charger holds as far as the site knows (None: unknown)."""
    idle: bool = False
    """Its car is offered the minimum but has not drawn for a while: not reserved."""
    disobeying: bool = False
    """It draws more than its limit (`_disobeys`): outside the allocation, at its draw."""
    temperature_c: float | None = None
    thermal_a: float | None = None
    """The cap its temperature sets (0: paused until it cools; None: no cap)."""

    @property
    def wants(self) -> bool:
        """Whether this charger should be charging if capacity allowed."""
        return self.enabled and self.readable and self.car_ok and not self.idle


class Balancer:
    """Keeps the main breaker from tripping while the chargers charge as fast as allowed."""

    def __init__(self, settings: SiteSettings) -> None:
        """Start with no history: the first raise waits the hold time."""
        _validate(settings)
        self._settings = settings
        self._groups = _groups(settings)
        self._bounds_a = _bounds_a(settings)
        self._fail_safe_a = fail_safe_currents_a(settings)
        self._last_allocation: dict[float, tuple[object, dict[str, Share]]] = {}
        self._draw_history = DrawHistory(keep_s=settings.solar.surplus_stale_after_s)
        self._ride_through = RideThrough()
        self._surplus_mean = SurplusMean(keep_s=settings.solar.join_mean_s)
        self._solar_status: SolarStatus | None = None
        self._memory: dict[str, _Memory] = {}
        zeros = tuple(0.0 for _ in settings.supply.phases)
        self._house_a = zeros
        self._hidden_a = zeros
        self._headroom_a = tuple(settings.breaker_a - settings.margin_a for _ in zeros)
        self._peak_w: float | None = None
        self._peak_plan = BudgetPlan()

    @property
    def settings(self) -> SiteSettings:
        """The site settings in force."""
        return self._settings

    @settings.setter
    def settings(self, settings: SiteSettings) -> None:
        """Swap the settings (mode, limits) and keep the timers of the chargers that stay."""
        _validate(settings)
        ids = {charger.charger_id for charger in settings.chargers}
        self._memory = {key: value for key, value in self._memory.items() if key in ids}
        if settings.supply != self._settings.supply:
            zeros = tuple(0.0 for _ in settings.supply.phases)
            self._house_a = zeros
            self._hidden_a = zeros
            self._headroom_a = tuple(settings.breaker_a - settings.margin_a for _ in zeros)
        self._settings = settings
        self._groups = _groups(settings)
        self._bounds_a = _bounds_a(settings)
        self._fail_safe_a = fail_safe_currents_a(settings)
        self._draw_history.keep_s = settings.solar.surplus_stale_after_s
        self._surplus_mean.keep_s = settings.solar.join_mean_s

    def step(self, snapshot: Snapshot) -> Decision:
        """Decide every charger's current for this cycle."""
        settings = self._settings
        now = snapshot.now
        self._solar_status = None
        readings = {reading.charger_id: reading for reading in snapshot.chargers}
        chargers = [
            self._see(charger, readings.get(charger.charger_id), now)
            for charger in settings.chargers
        ]
        if settings.has_meter and not _meter_fresh(snapshot, settings):
            return self._fail_safe(chargers, now)

        if settings.has_meter and snapshot.meter is not None:
            balance_a = _house_balance_a(settings, snapshot.meter.currents_a, chargers)
        else:
            balance_a = tuple(0.0 for _ in settings.supply.phases)
        # Never below zero: PV export is not counted as breaker capacity. What the floor
        # hides still counts as the raise deadband's room (see `_limits`).
        self._house_a = tuple(max(0.0, a) for a in balance_a)
        self._hidden_a = tuple(max(0.0, -a) for a in balance_a)
        limit_a = settings.breaker_a - settings.margin_a
        self._headroom_a = tuple(limit_a - house_a for house_a in self._house_a)
        self._peak_w = self._peak_budget_w(snapshot, chargers)

        for charger in chargers:
            self._track_car(charger, now)
            self._track_temperature(charger, now)
        order = self._admission_order(chargers, now)
        solar_a = self._solar_shares(order, snapshot, now)

        idle = [c for c in order if c.readable and c.idle and not c.disobeying]
        readable = [c for c in order if c.readable and not c.idle and not c.disobeying]
        cut = self._allocate(chargers, readable, solar_a, now, margin_a=0.0)
        # The stricter raise figure only matters when some charger could go up.
        rising = any(cut[c.charger_id].current_a > c.memory.setpoint_a for c in readable)
        deadband_a = settings.timing.raise_deadband_a
        rise = (
            self._allocate(chargers, readable, solar_a, now, margin_a=deadband_a) if rising else cut
        )

        outcome = {
            c.charger_id: (
                self._settle(c, cut[c.charger_id], rise[c.charger_id], now),
                self._blame(c, cut[c.charger_id].reason, chargers),
            )
            for c in readable
        }
        # An idle car keeps the minimum offered outside the allocation: should it start,
        # its draw is seen like a house load step and the others are cut at once.
        outcome.update({c.charger_id: (c.min_a, Constraint.CAR) for c in idle})
        if len(outcome) < len(chargers):
            outcome.update(self._outside(chargers, outcome, solar_a, now))
        commands = [self._record(c, *outcome[c.charger_id], now) for c in chargers]
        available_a = max(0.0, min(self._headroom_a))
        return self._decision(commands, available_a, fail_safe=False)

    def _blame(self, charger: _Charger, reason: Constraint, chargers: list[_Charger]) -> Constraint:
        """
        Name a charger outside the allocation as the reason when it shares the binding limit.

        Its reservation (a charger that cannot be read, or one that does not take its
        limit) is what limits this charger, not the house: such a cut is no capacity pause
        (which would keep this car waiting for minutes after the fault).
        """
        if reason not in {Constraint.BREAKER, Constraint.CIRCUIT}:
            return reason
        for fault, outside in (
            (Constraint.FAIL_SAFE, {c.charger_id for c in chargers if not c.readable}),
            (Constraint.UNRESPONSIVE, {c.charger_id for c in chargers if c.disobeying}),
        ):
            if any(
                charger.charger_id in group.weights and outside.intersection(group.weights)
                for group in self._groups
            ):
                return fault
        return reason

    def _outside(
        self,
        chargers: list[_Charger],
        outcome: dict[str, tuple[float, Constraint]],
        solar_a: dict[str, float],
        now: float,
    ) -> dict[str, tuple[float, Constraint]]:
        """
        Command the chargers outside the allocation (reserved in the limits for the others).

        One that cannot be read is assumed at its maximum and sent the fail-safe current,
        which its own watchdog falls back to as well. One that does not take its limit
        (`_disobeys`) is assumed at what it draws and keeps its limit, which is below that:
        whenever it takes it, it only frees room; less when its own rules (solar, a pause,
        its car) allow less. Either gets less when that does not fit what the other
        chargers leave of the headroom or circuit.
        """
        left_a = [
            (self._headroom_a[g.phase_index] if g.phase_index is not None else g.limit_a)
            - sum(outcome[key][0] for key in g.weights if key in outcome)
            for g in self._groups
        ]
        result = {}
        for charger in chargers:
            if charger.charger_id in outcome:
                continue
            if not charger.enabled:
                result[charger.charger_id] = (0.0, Constraint.MODE_OFF)
                continue
            wanted_a, reason = self._fail_safe_a[charger.charger_id], Constraint.FAIL_SAFE
            if charger.readable:
                cap_a = self._demand(charger, solar_a, now, margin_a=0.0).cap_a
                wanted_a = min(charger.memory.setpoint_a, cap_a)
                reason = Constraint.UNRESPONSIVE
            indexes = [i for i, g in enumerate(self._groups) if charger.charger_id in g.weights]
            current_a = min(wanted_a, float(math.floor(min(left_a[i] for i in indexes))))
            if current_a < charger.min_a:
                current_a = 0.0
            for index in indexes:
                left_a[index] -= current_a
            result[charger.charger_id] = (current_a, reason)
        return result

    def _see(
        self, charger: ChargerSettings, reading: ChargerReading | None, now: float
    ) -> _Charger:
        memory = self._memory.get(charger.charger_id)
        if memory is None:
            # Start from what the charger says it applies, so an unchanged limit is not
            # rewritten after a restart; an unknown or invalid one is written at once.
            reported_a = reading.setpoint_a if reading is not None else None
            setpoint_a = _valid_setpoint_a(reported_a, charger)
            memory = _Memory(setpoint_a=setpoint_a)
            self._memory[charger.charger_id] = memory
        readable = reading is not None and reading.state is not None
        lines_a = _line_currents_a(charger, reading, self._settings.supply)
        state = reading.state if reading is not None else None
        disobeying = lines_a is not None and _disobeys(memory, lines_a, now, self._settings)
        if lines_a is not None:
            counted_a = lines_a
        elif state in _CHARGING:
            counted_a = tuple(_assumed_draw_a(memory, now, self._settings) for _ in charger.phases)
        else:
            # Unknown draw stays in the house load: that overstates the house, never under.
            counted_a = tuple(0.0 for _ in charger.phases)
        return _Charger(
            settings=charger,
            charger_id=charger.charger_id,
            memory=memory,
            readable=readable,
            state=state,
            lines_a=lines_a,
            counted_a=counted_a,
            enabled=self._settings.mode != Mode.OFF and not charger.paused,
            car_ok=reading is not None and state in _CAR_PRESENT and reading.wants_charge,
            min_a=self._bounds_a[charger.charger_id][0],
            max_a=self._bounds_a[charger.charger_id][1],
            held_a=reading.setpoint_a if reading is not None else None,
            temperature_c=reading.temperature_c if reading is not None else None,
            disobeying=disobeying,
        )

    def _track_car(self, charger: _Charger, now: float) -> None:
        """Feed the car cap what the car draws against what it is offered."""
        memory = charger.memory
        timing = self._settings.timing
        if charger.lines_a is not None:
            drawing = max(charger.lines_a, default=0.0) >= _ACTIVE_LINE_A
        else:
            drawing = charger.state in _CHARGING
        offered = charger.enabled and charger.readable and charger.car_ok
        memory.car.watch(
            offered=offered and memory.setpoint_a >= charger.min_a, drawing=drawing, now=now
        )
        charger.idle = memory.car.idle(now, after_s=timing.idle_after_s)
        tracked = charger.lines_a is not None and memory.setpoint_a > 0.0 and charger.car_ok
        memory.car.track(
            draw_a=max(charger.lines_a) if tracked and charger.lines_a else None,
            setpoint_a=memory.setpoint_a,
            min_a=charger.min_a,
            slack_a=timing.car_slack_a,
            settled=memory.rise.settled(now, after_s=timing.car_response_s),
            now=now,
            hold_s=timing.raise_hold_s,
        )

    def _track_temperature(self, charger: _Charger, now: float) -> None:
        """Feed the thermal gate the charger's temperature (where it has limits)."""
        limits = charger.settings.thermal
        if limits is None:
            return
        drawn_a = max(charger.lines_a) if charger.lines_a else charger.memory.setpoint_a
        charger.thermal_a = charger.memory.thermal.update(
            temperature_c=charger.temperature_c,
            limits=limits,
            drawn_a=drawn_a,
            min_a=charger.min_a,
            max_a=charger.max_a,
            now=now,
        )

    def _pause_blocked(self, charger: _Charger, now: float) -> bool:
        return charger.memory.pause.blocked(
            setpoint_a=charger.memory.setpoint_a,
            now=now,
            min_pause_s=self._settings.timing.min_pause_s,
        )

    def _admission_order(self, chargers: list[_Charger], now: float) -> list[_Charger]:
        """
        Order the chargers for admission at their minimum.

        Within a priority: running chargers, then the longest waiting, then running
        chargers whose turn is over (so that two cars take turns on one 6 A slot).
        """

        def key(indexed: tuple[int, _Charger]) -> tuple[int, int, float, int]:
            index, charger = indexed
            memory = charger.memory
            if memory.setpoint_a > 0.0:
                group = 2 if self._turn_over(charger, chargers, now) else 0
                since = memory.pause.running_since
            else:
                group = 1
                since = memory.pause.waiting_since
            return (-charger.settings.priority, group, now if since is None else since, index)

        return [charger for _, charger in sorted(enumerate(chargers), key=key)]

    def _turn_over(self, charger: _Charger, chargers: list[_Charger], now: float) -> bool:
        waiting_since = [
            since
            for rival in chargers
            if rival is not charger
            and rival.settings.priority == charger.settings.priority
            and (since := rival.memory.pause.waiting_since) is not None
            and not self._pause_blocked(rival, now)
        ]
        return charger.memory.pause.turn_over(
            waiting_since, now=now, turn_s=self._settings.timing.turn_s
        )

    def _solar_shares(
        self, order: list[_Charger], snapshot: Snapshot, now: float
    ) -> dict[str, float]:
        """Share the PV power between the chargers (solar modes) and run the solar gates."""
        settings = self._settings
        if settings.mode not in {Mode.SOLAR, Mode.MIN_SOLAR}:
            return {}
        draw_w = sum(sum(c.counted_a) for c in order if c.readable) * settings.voltage_v
        self._draw_history.add(now, draw_w)
        surplus = snapshot.surplus
        if surplus is not None and not math.isfinite(surplus.power_w):
            surplus = None
        stale_after_s = settings.solar.surplus_stale_after_s
        power_w = solar_power_w(
            surplus,
            now=now,
            chargers_draw_w=self._draw_history.at(surplus.at) if surplus else draw_w,
            stale_after_s=stale_after_s,
        )
        import_w = grid_import_w(
            surplus, now=now, chargers_draw_w=draw_w, stale_after_s=stale_after_s
        )
        pv = _Surplus(power_w=power_w, voltage_v=settings.voltage_v, now=now)
        mean_w = self._surplus_mean.add(now, power_w)
        candidates, ahead = _solar_order(
            [c for c in order if c.wants and not self._pause_blocked(c, now)],
            pv,
            settings=settings.solar,
        )
        weights = {c.charger_id: settings.voltage_v * _active_lines(c) for c in candidates}
        demands = []
        # Minimum + solar: every car runs at its minimum anyway, so the surplus is shared
        # by all of them; admitting only those whose minimum the surplus covers would hand
        # one car the share of another that charges from the grid regardless, and the two
        # would trade it back and forth.
        floor_a = 0.0 if settings.mode == Mode.MIN_SOLAR else None
        for charger in candidates:
            need_a = charger.min_a if floor_a is None else floor_a
            if settings.mode == Mode.SOLAR and charger.memory.solar.on:
                # A running charger keeps going while the import stays within tolerance.
                need_a -= settings.solar.grid_tolerance_w / weights[charger.charger_id]
            cap_a, reason = charger.memory.car.limit(charger.max_a)
            demands.append(
                Demand(
                    charger_id=charger.charger_id,
                    priority=charger.settings.priority,
                    min_a=charger.min_a if floor_a is None else floor_a,
                    need_a=need_a,
                    cap_a=cap_a,
                    cap_reason=reason,
                )
            )
        limits = [Limit(reason=Constraint.SOLAR, capacity=power_w, weights=weights)]
        shared = allocate(demands, limits, whole_amps=False)
        solar_a = {charger_id: share.current_a for charger_id, share in shared.items()}
        if settings.mode == Mode.SOLAR:
            solar_a = _surplus_left_over(ahead, demands, limits, solar_a)
        riding = False
        if settings.mode == Mode.SOLAR:
            riding = self._ride_through.update(
                solar_w=draw_w - import_w,
                import_w=import_w,
                now=now,
                settings=settings.solar,
                pv_w=power_w,
            )
        else:
            self._ride_through.pause()
        self._run_solar_gates(
            order, candidates, ahead, pv, solar_a, mean_w=mean_w, riding=riding, import_w=import_w
        )
        if settings.mode == Mode.SOLAR:
            solar_a = _riders_keep_their_minimum(candidates, demands, power_w, weights, solar_a)
            self._solar_status = SolarStatus(
                power_w=power_w,
                mean_w=mean_w,
                ride_budget_wh=self._ride_through.balance_wh,
            )
        return solar_a

    def _run_solar_gates(  # noqa: PLR0913 (one cycle's solar figures, each named)
        self,
        order: list[_Charger],
        candidates: list[_Charger],
        ahead: set[str],
        pv: _Surplus,
        solar_a: dict[str, float],
        *,
        mean_w: float,
        riding: bool,
        import_w: float,
    ) -> None:
        """
        Feed each charger's solar gate this cycle's share of the surplus.

        A car starts only on a lasting surplus when it would join running cars, or when it
        has run on the surplus before (a cloud, a turn or a larger car stopped it): what
        the running cars leave of the surplus, averaged over `join_mean_s`, must cover its
        minimum too. Short sunny spells between clouds then no longer start and stop it;
        a car's first start alone waits only its start delay.

        Only the cars with the smallest minimum ride through a cloud on the grid budget
        (`RideThrough`): a 1-phase car keeps charging on 1.4 kW from the grid where a
        3-phase car needs 4.1 kW, so the budget keeps a car running three times as long;
        a larger car stops on a cloud as before. A car giving way at the end of its turn
        does not ride either: that is no cloud.
        """
        settings = self._settings
        mean_left_w = mean_w - sum(pv.min_w(c) for c in candidates if c.charger_id in ahead)
        smallest_w = min((pv.min_w(c) for c in candidates), default=0.0)
        for charger in order:
            gate = charger.memory.solar
            if settings.mode != Mode.SOLAR or not charger.wants:
                gate.reset()
                continue
            if charger.charger_id not in solar_a:
                continue
            covered = solar_a[charger.charger_id] > 0.0
            joining = bool(ahead) and charger.charger_id not in ahead
            if not gate.on and (joining or gate.ran_s > 0.0):
                covered = covered and mean_left_w >= pv.min_w(charger)
            smallest = math.isclose(pv.min_w(charger), smallest_w)
            gate.update(
                covered=covered,
                now=pv.now,
                import_w=import_w,
                settings=settings.solar,
                riding=riding and charger.charger_id in ahead and smallest,
            )

    def _demand(
        self, charger: _Charger, solar_a: dict[str, float], now: float, *, margin_a: float
    ) -> Demand:
        """Say what a readable charger may take, keeping `margin_a` of the surplus unused."""
        settings = self._settings
        memory = charger.memory
        cap_a = 0.0
        reason = Constraint.NONE
        if not charger.enabled:
            reason = Constraint.MODE_OFF
        elif not charger.car_ok:
            reason = Constraint.CAR
        elif self._pause_blocked(charger, now):
            reason = memory.pause.reason
        elif settings.mode == Mode.SOLAR and not memory.solar.on:
            reason = Constraint.SOLAR
        else:
            cap_a, reason = memory.car.limit(charger.max_a)
            if charger.thermal_a is not None and charger.thermal_a < cap_a:
                cap_a, reason = charger.thermal_a, Constraint.TEMPERATURE
            pv_a = solar_a.get(charger.charger_id, 0.0)
            # The margin guards a rounding edge of the surplus; a share the charger's or
            # the car's maximum holds has none.
            if settings.mode in {Mode.SOLAR, Mode.MIN_SOLAR} and pv_a < cap_a:
                cap_a, reason = max(charger.min_a, pv_a - margin_a), Constraint.SOLAR
        need_a = charger.min_a
        if memory.setpoint_a <= 0.0:
            need_a += settings.timing.resume_hysteresis_a
        return Demand(
            charger_id=charger.charger_id,
            priority=charger.settings.priority,
            min_a=charger.min_a,
            need_a=need_a,
            cap_a=cap_a,
            cap_reason=reason,
            setpoint_a=memory.setpoint_a,
        )

    def _allocate(
        self,
        chargers: list[_Charger],
        readable: list[_Charger],
        solar_a: dict[str, float],
        now: float,
        *,
        margin_a: float,
    ) -> dict[str, Share]:
        """Allocate with `margin_a` kept free of every limit (the raise deadband, or none)."""
        demands = tuple(
            self._demand(charger, solar_a, now, margin_a=margin_a) for charger in readable
        )
        limits = self._limits(chargers, margin_a=margin_a)
        # The allocation is a pure function of these; inputs often repeat from one cycle
        # to the next (a steady house), so the last result is kept.
        key = (
            demands,
            tuple((limit.reason, limit.capacity, tuple(limit.weights.items())) for limit in limits),
        )
        cached = self._last_allocation.get(margin_a)
        if cached is not None and cached[0] == key:
            return cached[1]
        shares = allocate(demands, limits, whole_amps=True)
        self._last_allocation[margin_a] = (key, shares)
        return shares

    def _limits(self, chargers: list[_Charger], *, margin_a: float) -> list[Limit]:
        """
        Build the limits: the main breaker per phase and each shared circuit per phase.

        Room is reserved on their phases for the chargers outside the allocation (that
        cannot be read, or do not take their limit): see `_reserved_a`.
        """
        outside_a = {
            c.charger_id: self._reserved_a(c) for c in chargers if not c.readable or c.disobeying
        }
        limits = []
        for group in self._groups:
            if group.phase_index is None:
                # A circuit's rating is a figure, not a measurement: no noise to guard.
                reason, capacity_a, keep_a = Constraint.CIRCUIT, group.limit_a, 0.0
            else:
                reason, capacity_a = Constraint.BREAKER, self._headroom_a[group.phase_index]
                # An export the house load's floor hides is room the deadband asks for.
                keep_a = max(0.0, margin_a - self._hidden_a[group.phase_index])
            weights = group.weights
            if outside_a:
                capacity_a -= sum(outside_a.get(key, 0.0) for key in weights)
                weights = {key: 1.0 for key in weights if key not in outside_a}
            limits.append(Limit(reason=reason, capacity=capacity_a - keep_a, weights=weights))
        if self._peak_w is not None:
            limits.append(self._peak_limit(chargers, outside_a, margin_a=margin_a))
        return limits

    def _peak_budget_w(self, snapshot: Snapshot, chargers: list[_Charger]) -> float | None:
        """Return the power the import budget leaves the chargers (None: no budget set)."""
        settings = self._settings
        if settings.peak is None or not settings.has_meter:
            return None
        window = snapshot.window
        if window is not None and not all(
            math.isfinite(value)
            for value in (window.elapsed_s, window.imported_wh, window.import_w)
        ):
            window = None
        draw_w = sum(sum(c.counted_a) for c in chargers) * settings.voltage_v
        response_s = settings.timing.car_response_s
        if window is None:
            self._peak_plan.forget()
            return chargers_budget_w(
                settings.peak,
                None,
                chargers_draw_w=draw_w,
                house_w=sum(self._house_a) * settings.voltage_v,
                response_s=response_s,
            )
        plan = self._peak_plan
        left_s = settings.peak.window_s - window.elapsed_s
        house_w = plan.house_w(window.import_w - draw_w, now=snapshot.now)
        window = ImportWindow(
            elapsed_s=window.elapsed_s, imported_wh=window.imported_wh, import_w=house_w + draw_w
        )
        share_w = chargers_budget_w(
            settings.peak, window, chargers_draw_w=draw_w, house_w=0.0, response_s=response_s
        )
        voltage_v = settings.voltage_v
        planned_w = plan.settle(
            share_w=share_w,
            spare_j=spare_j(settings.peak, window, chargers_draw_w=draw_w, response_s=response_s),
            left_s=left_s,
            elapsed_s=window.elapsed_s,
            floor_w=sum(
                c.min_a * voltage_v * _active_lines(c)
                for c in chargers
                if c.wants and c.memory.setpoint_a > 0.0
            ),
            step_w=sum(voltage_v * _active_lines(c) for c in chargers if c.wants),
        )
        # Running on at the minimum (the plan) never carries more into the next window
        # than it can absorb.
        return min(
            planned_w, carry_w(settings.peak, window, house_now_w=house_w, response_s=response_s)
        )

    def _peak_limit(
        self, chargers: list[_Charger], outside_a: dict[str, float], *, margin_a: float
    ) -> Limit:
        """Return the import budget as a power limit (a charger outside keeps its room)."""
        voltage_v = self._settings.voltage_v
        weights = {
            c.charger_id: voltage_v * _active_lines(c)
            for c in chargers
            if c.charger_id not in outside_a
        }
        reserved_w = sum(
            reserved_a * voltage_v * len(c.settings.phases)
            for c in chargers
            if (reserved_a := outside_a.get(c.charger_id)) is not None
        )
        capacity_w = (self._peak_w or 0.0) - reserved_w - margin_a * voltage_v
        return Limit(reason=Constraint.PEAK, capacity=capacity_w, weights=weights)

    def _reserved_a(self, charger: _Charger) -> float:
        """
        Return what a charger outside the allocation may draw: at least the limit it holds.

        Unreadable: what it draws now is unknown, so it stays in the house load (that
        overstates the house, never understates it); on top, it may rise to the limit it
        holds, or to the fail-safe current its own watchdog falls back to. Not taking its
        limit (`_disobeys`): what it draws, or the limit it holds if higher. Unknown limit:
        its maximum.
        """
        held_a = charger.held_a
        if held_a is None or not math.isfinite(held_a):
            return charger.max_a
        floor_a = self._fail_safe_a[charger.charger_id]
        if charger.readable:
            floor_a = max(charger.lines_a or (0.0,))
        return min(charger.max_a, max(held_a, floor_a))

    def _settle(self, charger: _Charger, cut: Share, rise: Share, now: float) -> float:
        """
        Move the setpoint towards the allocation through the raise gate.

        A raise that only the PV surplus limits waits for the car's response, not for the
        whole raise hold: the hold lets a house load settle under the breaker, and PV
        export is never breaker room; a cloud's edge passes within seconds.
        """
        timing = self._settings.timing
        hold_s = timing.raise_hold_s
        if cut.reason == Constraint.SOLAR and rise.reason == Constraint.SOLAR:
            hold_s = min(hold_s, timing.car_response_s)
        return charger.memory.rise.settle(
            setpoint_a=charger.memory.setpoint_a,
            cut_a=cut.current_a,
            rise_a=rise.current_a,
            now=now,
            hold_s=hold_s,
        )

    def _record(
        self, charger: _Charger, current_a: float, reason: Constraint, now: float
    ) -> ChargerCommand:
        memory = charger.memory
        if memory.told_at is None:
            memory.told_at = now
        if current_a != memory.setpoint_a:
            memory.pause.changed(old_a=memory.setpoint_a, new_a=current_a, reason=reason, now=now)
            memory.forget_followed(now, response_s=self._settings.timing.car_response_s)
            memory.replaced.append((now, memory.setpoint_a))
            memory.setpoint_a = current_a
            memory.rise.changed(now)
        memory.pause.wait(waiting=charger.wants and current_a <= 0.0, now=now)
        return ChargerCommand(charger_id=charger.charger_id, current_a=current_a, reason=reason)

    def _fail_safe(self, chargers: list[_Charger], now: float) -> Decision:
        """Send every enabled charger to the fail-safe current at once: the meter is silent."""
        settings = self._settings
        # Lowered where the chargers together would not fit the breaker or a circuit.
        current_a = fail_safe_currents_a(
            settings, enabled=(c.charger_id for c in chargers if c.enabled)
        )
        commands = []
        for charger in chargers:
            reason = Constraint.FAIL_SAFE if charger.enabled else Constraint.MODE_OFF
            # The fail-safe is no pause, and no raise may rest on readings from before it.
            charger.memory.pause.forget_pause()
            charger.memory.rise.forget()
            commands.append(self._record(charger, current_a[charger.charger_id], reason, now))
        return self._decision(commands, settings.fail_safe_a, fail_safe=True)

    def _decision(
        self, commands: list[ChargerCommand], available_a: float, *, fail_safe: bool
    ) -> Decision:
        reasons = {command.reason for command in commands}
        if fail_safe:
            reasons.add(Constraint.FAIL_SAFE)
        binding = next((reason for reason in _SEVERITY if reason in reasons), Constraint.NONE)
        return Decision(
            commands=tuple(commands),
            house_a=self._house_a,
            headroom_a=self._headroom_a,
            available_a=available_a,
            binding=binding,
            fail_safe=fail_safe,
            solar=self._solar_status,
        )


def _numbers(settings: SiteSettings) -> dict[str, float]:
    """Every number of the settings, by name, for the finiteness check."""
    values = {
        "voltage_v": settings.voltage_v,
        "breaker_a": settings.breaker_a,
        "margin_a": settings.margin_a,
        "fail_safe_a": settings.fail_safe_a,
        **{f"circuit {name}": rating for name, rating in settings.circuits_a.items()},
        **{f"solar.{f.name}": getattr(settings.solar, f.name) for f in fields(settings.solar)},
        **{f"timing.{f.name}": getattr(settings.timing, f.name) for f in fields(settings.timing)},
    }
    if settings.peak is not None:
        values["peak.target_w"] = settings.peak.target_w
        values["peak.window_s"] = settings.peak.window_s
    for charger in settings.chargers:
        values[f"{charger.charger_id}.max_a"] = charger.max_a
        values[f"{charger.charger_id}.min_a"] = charger.min_a
        if charger.thermal is not None:
            for f in fields(charger.thermal):
                values[f"{charger.charger_id}.thermal.{f.name}"] = getattr(charger.thermal, f.name)
    return values


def _validate(settings: SiteSettings) -> None:
    """
    Reject settings that cannot work (the integration shows them as a repair issue).

    The integration checks the installer's input first (`validation.validate`); this is the
    engine's own guard: no number that is not finite, no limit that is not positive.
    """
    problems = [
        f"{name} must be a finite number, got {value}"
        for name, value in _numbers(settings).items()
        if not math.isfinite(value)
    ]
    if problems:
        raise ValueError("; ".join(problems))
    if settings.breaker_a - settings.margin_a <= 0.0 or settings.margin_a < 0.0:
        problems.append(
            f"breaker_a {settings.breaker_a} minus margin_a {settings.margin_a} leaves no current"
        )
    if settings.voltage_v <= 0.0:
        problems.append(f"voltage_v must be positive, got {settings.voltage_v}")
    if settings.fail_safe_a < 0.0:
        problems.append(f"fail_safe_a must not be negative, got {settings.fail_safe_a}")
    problems.extend(_optional_limit_problems(settings))
    ids = [charger.charger_id for charger in settings.chargers]
    if len(set(ids)) != len(ids):
        problems.append(f"charger ids must be unique, got {ids}")
    for charger in settings.chargers:
        name = charger.charger_id
        if not charger.phases or len(set(charger.phases)) != len(charger.phases):
            problems.append(f"{name}: phases must be distinct and not empty")
        if not set(charger.phases) <= set(settings.supply.phases):
            problems.append(f"{name}: phases {charger.phases} not on a {settings.supply} supply")
        if charger.max_a < _min_a(charger):
            problems.append(f"{name}: max_a {charger.max_a} is below its minimum")
        if charger.circuit is not None and charger.circuit not in settings.circuits_a:
            problems.append(f"{name}: unknown circuit {charger.circuit!r}")
    if problems:
        raise ValueError("; ".join(problems))


def _optional_limit_problems(settings: SiteSettings) -> list[str]:
    """Check the limits beside the breaker: the import budget and the thermal limits."""
    problems = [
        f"{charger.charger_id}: thermal limits cannot work: {charger.thermal}"
        for charger in settings.chargers
        if charger.thermal is not None and not charger.thermal.workable
    ]
    peak = settings.peak
    if peak is not None and (peak.target_w < 0.0 or peak.window_s <= 0.0):
        problems.append(f"peak: target must not be negative, window positive: {peak}")
    return problems


def _bounds_a(settings: SiteSettings) -> dict[str, tuple[float, float]]:
    """Each charger's whole-ampere minimum and maximum, worked out once per settings."""
    return {c.charger_id: (_min_a(c), float(math.floor(c.max_a))) for c in settings.chargers}


def _min_a(charger: ChargerSettings) -> float:
    """Return the charger's minimum as whole amperes, never below 6 A."""
    return float(math.ceil(max(charger.min_a, MIN_CHARGE_A)))


def _valid_setpoint_a(reported_a: float | None, charger: ChargerSettings) -> float:
    """Return the nearest valid command at or below the limit a charger reports (0: none)."""
    if reported_a is None or not math.isfinite(reported_a) or reported_a <= 0.0:
        return 0.0
    setpoint_a = float(math.floor(min(reported_a, charger.max_a)))
    return setpoint_a if setpoint_a >= _min_a(charger) else 0.0


def _meter_fresh(snapshot: Snapshot, settings: SiteSettings) -> bool:
    meter = snapshot.meter
    # A reading that is not a measurement (see plausibility) is none: the meter is silent.
    return (
        meter is not None
        and len(meter.currents_a) == len(settings.supply.phases)
        and implausible_currents(meter.currents_a, settings.breaker_a) is None
        and snapshot.now - meter.at <= settings.timing.meter_stale_after_s
    )


def _line_currents_a(
    charger: ChargerSettings, reading: ChargerReading | None, supply: Supply
) -> tuple[float, ...] | None:
    """Measured current per charger line, one per wired phase; None when unknown."""
    if reading is None or reading.state is None or not reading.currents_a:
        return None
    if not all(math.isfinite(value) for value in reading.currents_a):
        return None
    values = [abs(value) for value in reading.currents_a[: len(charger.phases)]]
    if supply == Supply.SPLIT_PHASE and len(values) == 1:
        # A 240 V charger draws the same current on both legs; many report it once.
        values *= len(charger.phases)
    values += [0.0] * (len(charger.phases) - len(values))
    return tuple(values)


def _assumed_draw_a(memory: _Memory, now: float, settings: SiteSettings) -> float:
    """
    Estimate the draw of a charging car whose charger cannot measure it.

    Its command, or the one before while the car may still be following the change.
    """
    settled = memory.rise.settled(now, after_s=settings.timing.car_response_s)
    if settled or not memory.replaced:
        return memory.setpoint_a
    return memory.replaced[-1][1]  # it changed within the response time: the one before


def _told_a(memory: _Memory, now: float, settings: SiteSettings) -> float:
    """
    Return the most a car that obeys may draw: any command it may still be following.

    Any current until the first command has had time to take effect.
    """
    response_s = settings.timing.car_response_s
    if memory.told_at is None or now - memory.told_at < response_s:
        return math.inf
    memory.forget_followed(now, response_s=response_s)
    return max([memory.setpoint_a, *(a for _, a in memory.replaced)])


def _disobeys(
    memory: _Memory, lines_a: tuple[float, ...], now: float, settings: SiteSettings
) -> bool:
    """
    Tell whether a charger draws more than any limit its car may still be following.

    Such a charger does not take its limit (its write hangs or was lost, it ignores it,
    or its current sensor lags): what it draws is no command's to take back. It leaves the
    allocation (`Balancer._outside`): the others share what its draw leaves, and it keeps
    its limit until it draws within it again.
    """
    told_a = memory.setpoint_a if memory.disobeying else _told_a(memory, now, settings)
    memory.disobeying = max(lines_a, default=0.0) > told_a + _DISOBEY_TOLERANCE_A
    return memory.disobeying


def _house_balance_a(
    settings: SiteSettings, grid_a: tuple[float, ...], chargers: list[_Charger]
) -> tuple[float, ...]:
    """
    Compute the house load per grid phase: grid current minus what the chargers draw.

    Below zero where the phase exports (PV): the caller decides what that may count for.
    """
    phases = settings.supply.phases
    draw_a = dict.fromkeys(phases, 0.0)
    for charger in chargers:
        for phase, line_a in zip(charger.settings.phases, charger.counted_a, strict=True):
            draw_a[phase] += line_a
    return tuple(grid - draw_a[phase] for phase, grid in zip(phases, grid_a, strict=True))


def _active_lines(charger: _Charger) -> int:
    """How many lines the car charges on: measured when it draws, else all wired ones."""
    if charger.lines_a is not None:
        active = sum(1 for line_a in charger.lines_a if line_a >= _ACTIVE_LINE_A)
        if active:
            return active
    return len(charger.settings.phases)


@dataclass(frozen=True, slots=True, kw_only=True)
class _Surplus:
    """The PV power the chargers may take this cycle, and what each charger takes of it."""

    power_w: float
    voltage_v: float
    now: float

    def min_w(self, charger: _Charger) -> float:
        """Return the power of the charger's minimum on the lines its car charges on."""
        return charger.min_a * self.voltage_v * _active_lines(charger)

    def max_w(self, charger: _Charger) -> float:
        """
        Return the charger's size: its maximum on every line it is wired to.

        A fixed figure, so that two chargers never swap sizes (and the surplus with them)
        when a car that is not drawing shows neither its lines nor its cap.
        """
        return charger.max_a * self.voltage_v * len(charger.settings.phases)


def _takers(
    candidates: list[_Charger], ahead: set[str], surplus: _Surplus, *, takeover_s: float
) -> set[str]:
    """
    Return the waiting cars that take over from a smaller running car (which then yields).

    When the surplus carries a waiting car's minimum alone but not beside a running car of
    its priority that takes less (a 1-phase car at its 3.7 kW maximum beside a 5 kW
    surplus), the waiting car takes the whole surplus once this has held for `takeover_s`:
    one car keeps running either way, and the one that takes more of the surplus loses
    less of it.
    """
    takers = set()
    for waiting in candidates:
        if waiting.memory.solar.on:
            continue
        smaller = [
            running
            for running in candidates
            if running.charger_id in ahead
            and running.settings.priority == waiting.settings.priority
            and surplus.max_w(running) < surplus.max_w(waiting)
            and surplus.power_w < surplus.min_w(waiting) + surplus.min_w(running)
        ]
        alone = bool(smaller) and surplus.power_w >= surplus.min_w(waiting)
        if waiting.memory.solar.fits(alone=alone, now=surplus.now) >= takeover_s and alone:
            takers.add(waiting.charger_id)
            for running in smaller:
                running.memory.solar.yielding = True
    return takers


def _solar_order(
    candidates: list[_Charger], surplus: _Surplus, *, settings: SolarSettings
) -> tuple[list[_Charger], set[str]]:
    """
    Order the chargers for a surplus that may not carry every car's minimum.

    Within a priority, running cars go first, so a waiting car starts only on what they
    leave and the surplus keeps as many cars running as it carries; among them the one
    that started first (on a cloud, the last to start is the first to give way: a car
    that joined on a sunny spell, not the one that has run all along), unless the surplus
    still carries a car that takes more than the others: that one keeps running. Then the
    waiting cars, the one that has run less on the surplus first. A running car that has
    run `turn_s` longer than a waiting one of its priority that could take its place (as
    large a car) loses its place, so the cars take turns over the day, not on every cloud;
    cars of different sizes do not take turns: a larger one takes over from a smaller one
    (`_takers`). Returns the order and the running cars that keep their place.
    """

    def turn_over(charger: _Charger) -> bool:
        return any(
            rival.settings.priority == charger.settings.priority
            and math.isclose(surplus.max_w(rival), surplus.max_w(charger))
            and charger.memory.solar.ran_s - rival.memory.solar.ran_s >= settings.turn_s
            for rival in candidates
        )

    ahead = {c.charger_id for c in candidates if c.memory.solar.on and not turn_over(c)}
    takers = _takers(candidates, ahead, surplus, takeover_s=settings.takeover_s)
    ahead -= {c.charger_id for c in candidates if c.memory.solar.yielding}
    running_min_w = sum(surplus.min_w(c) for c in candidates if c.charger_id in ahead)

    def key(indexed: tuple[int, _Charger]) -> tuple[int, bool, float, float, int]:
        index, charger = indexed
        behind = charger.charger_id not in ahead
        since = charger.memory.pause.running_since
        # Among the running cars, the last to start is the first to give way.
        rank = charger.memory.solar.ran_s if behind or since is None else since
        if charger.charger_id in takers:
            rank = -math.inf
        # On a cloud that leaves room for one of the running cars, the one that takes most.
        keeps = not behind and surplus.min_w(charger) <= surplus.power_w < running_min_w
        size = -surplus.max_w(charger) if keeps else 0.0
        return (-charger.settings.priority, behind, size, rank, index)

    ordered = [charger for _, charger in sorted(enumerate(candidates), key=key)]
    return ordered, ahead


def _surplus_left_over(
    ahead: set[str],
    demands: list[Demand],
    limits: list[Limit],
    shared_a: dict[str, float],
) -> dict[str, float]:
    """
    Let a waiting car start only once the running cars cannot take more of the surplus.

    While the running cars (those that keep their place) can take the whole surplus, they
    get it and the others wait: one car that absorbs it all keeps running, where two cars
    at their minimums would lose one to the next cloud. Once they are at their maximum
    (charger or car), a car whose minimum fits beside theirs may start and they share.
    """
    if not ahead or len(ahead) == len(demands):
        return shared_a
    # Filling the running cars first: a class above the others within each priority.
    first = [replace(d, priority=2 * d.priority + (d.charger_id in ahead)) for d in demands]
    filled = allocate(first, limits, whole_amps=False)
    saturated = all(filled[key].reason != Constraint.SOLAR for key in ahead)
    # A car that may start counts its start delay on its equal share, while the running
    # ones keep taking the whole surplus until it has started.
    return {
        key: filled[key].current_a if key in ahead else share_a if saturated else 0.0
        for key, share_a in shared_a.items()
    }


def _riders_keep_their_minimum(
    candidates: list[_Charger],
    demands: list[Demand],
    power_w: float,
    weights: dict[str, float],
    solar_a: dict[str, float],
) -> dict[str, float]:
    """
    Take the minimum of the running cars the surplus no longer covers out of it first.

    Such a car keeps its minimum on grid power (riding through a cloud while the budget
    lasts, or through its stop delay); the others share only what is left of the surplus
    (never below their own minimum), so the cars together draw no more from the grid than
    that car's minimum needs.
    """
    riders = {
        c.charger_id
        for c in candidates
        if c.memory.solar.on and solar_a.get(c.charger_id, 0.0) <= 0.0
    }
    if not riders:
        return solar_a
    left_w = power_w - sum(
        d.min_a * weights[d.charger_id] for d in demands if d.charger_id in riders
    )
    others = [
        replace(d, min_a=0.0, need_a=0.0)
        for d in demands
        if d.charger_id not in riders and solar_a.get(d.charger_id, 0.0) > 0.0
    ]
    if not others:
        return solar_a
    limit = Limit(reason=Constraint.SOLAR, capacity=max(0.0, left_w), weights=weights)
    shared = allocate(others, [limit], whole_amps=False)
    return {**solar_a, **{key: share.current_a for key, share in shared.items()}}
