"""Builders and a small closed-loop site for the engine tests."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from custom_components.headroom.engine import Balancer
from custom_components.headroom.engine.model import (
    ChargerReading,
    ChargerSettings,
    ChargerState,
    Decision,
    ImportWindow,
    MeterReading,
    Mode,
    SiteSettings,
    Snapshot,
    Supply,
    SurplusReading,
)


def charger(
    charger_id: str = "a",
    phases: tuple[int, ...] = (1,),
    max_a: float = 16.0,
    **kwargs: object,
) -> ChargerSettings:
    return ChargerSettings(charger_id=charger_id, phases=phases, max_a=max_a, **kwargs)


def site(*chargers: ChargerSettings, **overrides: object) -> SiteSettings:
    """A single-phase 40 A site (1 A margin, 6 A fail-safe, fast) unless overridden."""
    values: dict[str, object] = {
        "supply": Supply.SINGLE_PHASE,
        "voltage_v": 230.0,
        "breaker_a": 40.0,
        "margin_a": 1.0,
        "fail_safe_a": 6.0,
        "chargers": chargers or (charger(),),
        "mode": Mode.FAST,
    }
    values.update({key: value for key, value in overrides.items() if value is not None})
    return SiteSettings(**values)


def reading(
    charger_id: str = "a",
    currents_a: tuple[float, ...] | None = (0.0,),
    state: ChargerState | None = ChargerState.C,
    **kwargs: object,
) -> ChargerReading:
    return ChargerReading(charger_id=charger_id, state=state, currents_a=currents_a, **kwargs)


def idle(charger_id: str = "a", **kwargs: object) -> ChargerReading:
    """A car plugged in that has not started to draw, on a charger that cannot measure."""
    return reading(charger_id, None, ChargerState.B, **kwargs)


def snapshot(
    now: float,
    grid_a: tuple[float, ...] | None,
    *readings: ChargerReading,
    meter_at: float | None = None,
    surplus_w: float | None = None,
    surplus_at: float | None = None,
) -> Snapshot:
    meter = None
    if grid_a is not None:
        meter = MeterReading(currents_a=grid_a, at=now if meter_at is None else meter_at)
    surplus = None
    if surplus_w is not None:
        surplus = SurplusReading(power_w=surplus_w, at=now if surplus_at is None else surplus_at)
    return Snapshot(now=now, meter=meter, chargers=readings or (reading(),), surplus=surplus)


def currents(decision: Decision) -> dict[str, float]:
    return {command.charger_id: command.current_a for command in decision.commands}


def setpoint_changes(decisions: Iterable[Decision]) -> int:
    """Count the commands that differ from the charger's previous one, decision to decision."""
    return sum(
        command.current_a != currents(before).get(command.charger_id)
        for before, after in itertools.pairwise(decisions)
        for command in after.commands
    )


@dataclass
class Car:
    """A car behind one charger: it follows its setpoint after a delay, up to its maximum."""

    max_a: float = 32.0
    response_s: float = 3.0
    lines: int | None = None
    """Lines it charges on (None: all the charger's lines)."""
    wants_charge: bool = True
    """False: full, or waiting for its own timer; it draws nothing whatever it is offered."""
    wakes_at: float | None = None
    """When a car that does not want charge starts to draw what it is offered."""
    deaf_from: float | None = None
    """From then on its charger takes no new limit (a write that hangs, a charger that
    ignores its limit): it keeps what it was offered last."""
    pending: list[tuple[float, float]] = field(default_factory=list)
    offered_a: float = 0.0
    draw_a: float = 0.0

    def command(self, now: float, setpoint_a: float) -> None:
        if self.deaf_from is not None and now >= self.deaf_from:
            return
        self.pending.append((now + self.response_s, setpoint_a))

    def advance(self, now: float) -> None:
        while self.pending and self.pending[0][0] <= now:
            _, self.offered_a = self.pending.pop(0)
        if self.wakes_at is not None and now >= self.wakes_at:
            self.wants_charge = True
            self.wakes_at = None
        self.draw_a = min(self.offered_a, self.max_a) if self.wants_charge else 0.0


@dataclass
class Step:
    """One second of a closed-loop run."""

    now: float
    decision: Decision
    grid_a: tuple[float, ...]
    house_a: tuple[float, ...]
    draw_a: dict[str, tuple[float, ...]]
    surplus_w: float
    import_w: float = 0.0
    """Grid import power during this second (import positive)."""


@dataclass
class Loop:
    """A site in closed loop: house load, PV and cars around a real Balancer."""

    settings: SiteSettings
    cars: dict[str, Car]
    house_a: Callable[[float], Sequence[float]]
    pv_w: Callable[[float], float] = lambda _now: 0.0
    meter_ok: Callable[[float], bool] = lambda _now: True
    balancer: Balancer = field(init=False)
    now: float = 0.0
    history: list[Step] = field(default_factory=list)
    sent_a: dict[str, float] = field(default_factory=dict)
    window_wh: float = 0.0
    """Energy imported since the current wall-clock window began (with a peak budget)."""

    def __post_init__(self) -> None:
        self.balancer = Balancer(self.settings)

    def lines_a(self, charger_settings: ChargerSettings) -> tuple[float, ...]:
        car = self.cars[charger_settings.charger_id]
        active = len(charger_settings.phases) if car.lines is None else car.lines
        return tuple(
            car.draw_a if index < active else 0.0 for index in range(len(charger_settings.phases))
        )

    def run(self, seconds: int) -> list[Step]:
        steps = []
        for _ in range(seconds):
            steps.append(self.tick())
            self.now += 1.0
        return steps

    def tick(self) -> Step:
        settings = self.settings
        for car in self.cars.values():
            car.advance(self.now)
        house = tuple(self.house_a(self.now))
        grid = list(house)
        draws = {}
        charger_w = 0.0
        for charger_settings in settings.chargers:
            lines = self.lines_a(charger_settings)
            draws[charger_settings.charger_id] = lines
            for phase, line_a in zip(charger_settings.phases, lines, strict=True):
                grid[phase - 1] += line_a
            charger_w += sum(lines) * settings.voltage_v
        surplus_w = self.pv_w(self.now) - sum(house) * settings.voltage_v - charger_w
        # What a charger shows: its state and line currents, never whether its car is full.
        readings = tuple(
            ChargerReading(
                charger_id=c.charger_id,
                state=ChargerState.C if self.cars[c.charger_id].draw_a > 0 else ChargerState.B,
                currents_a=draws[c.charger_id],
            )
            for c in settings.chargers
        )
        meter = (
            MeterReading(currents_a=tuple(grid), at=self.now) if self.meter_ok(self.now) else None
        )
        import_w = -surplus_w
        window = None
        if settings.peak is not None:
            elapsed_s = self.now % settings.peak.window_s
            if elapsed_s == 0.0:
                self.window_wh = 0.0
            window = ImportWindow(
                elapsed_s=elapsed_s, imported_wh=self.window_wh, import_w=import_w
            )
        decision = self.balancer.step(
            Snapshot(
                now=self.now,
                meter=meter,
                chargers=readings,
                surplus=SurplusReading(power_w=surplus_w, at=self.now),
                window=window,
            )
        )
        self.window_wh += max(0.0, import_w) / 3600.0  # an export pays back no import
        for command in decision.commands:
            # The car hears a setpoint when it differs from the one sent last (the site's rule).
            if self.sent_a.get(command.charger_id) != command.current_a:
                self.sent_a[command.charger_id] = command.current_a
                self.cars[command.charger_id].command(self.now, command.current_a)
        step = Step(
            now=self.now,
            decision=decision,
            grid_a=tuple(grid),
            house_a=house,
            draw_a=draws,
            surplus_w=surplus_w,
            import_w=import_w,
        )
        self.history.append(step)
        return step
