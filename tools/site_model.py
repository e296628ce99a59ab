"""
The site's physical model: house load, PV and cars behind the main breaker.

Step-based and exact: `advance(dt_s)` integrates over any interval, splitting it at every
moment something changes (a trace minute, a car following a setpoint, a car arriving,
leaving or becoming full), so the benchmark can step it second by second and the device
simulator can step it by wall-clock time. Between those moments every current is constant.

Physics (DESIGN section 4):
- house load per phase from the household trace, constant within each trace minute;
- PV power from its trace, spread equally over the supply's phases;
- grid current per phase = house + chargers - PV (signed: negative is export);
- a car draws min(its charger's setpoint, its own maximum) once `response_s` has passed
  since the setpoint changed (also on arrival), nothing while that setpoint is below 6 A,
  and nothing once its session's energy target is delivered (the charger goes back to B);
- a 1-phase car on a 3-phase charger draws on the charger's first line only; on a
  split-phase supply a car draws the same current on every leg its charger is wired to
  (240 V is one phase across two legs).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from custom_components.headroom.engine.model import MIN_CHARGE_A, Supply
from tools.bench.scenario import MINUTE_S, expand_sessions

if TYPE_CHECKING:
    from tools.bench.scenario import Charger, Scenario, Visit

_EPS_S: Final = 1e-9
"""Events this close to the current time are due (float time is summed from parts)."""
_FULL_EPS_KWH: Final = 1e-9
_J_PER_KWH: Final = 3.6e6


@dataclass(frozen=True, slots=True, kw_only=True)
class ChargerView:
    """What a charger reports about itself (what the engine and the simulator read)."""

    state: str
    """IEC 61851 state: A no car, B car connected and not drawing, C charging."""
    currents_a: tuple[float, ...]
    """Measured current on each of the charger's lines (L1, L2, ...)."""
    setpoint_a: float
    """The current limit the charger is applying (what it was last told)."""
    session_energy_kwh: float
    """Energy of the current session, or of the last one while no car is connected."""
    wants_charge: bool
    """A car is connected and not yet full."""
    session_start_s: float | None
    """When the connected car arrived (model time, 0 if before the window); None without one."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CarDemand:
    """What a connected car that still wants charge could take (what an oracle knows)."""

    grid_phases: tuple[int, ...]
    """Grid phases the car draws from (1-based)."""
    max_a: float
    """The car's own maximum current."""


class _Car:
    """A car during one visit."""

    __slots__ = (
        "applied_a",
        "delivered_kwh",
        "full",
        "full_at_s",
        "lines",
        "max_a",
        "pending",
        "response_s",
        "target_kwh",
        "visit",
        "watts_per_a",
    )

    def __init__(self, visit: Visit, lines: tuple[int, ...], voltage_v: float) -> None:
        self.visit = visit
        self.lines = lines
        self.max_a = visit.session.car_max_a
        self.target_kwh = visit.session.energy_kwh
        self.response_s = visit.session.response_s
        self.watts_per_a = voltage_v * len(lines)
        self.delivered_kwh = 0.0
        self.full = False
        self.full_at_s = float("inf")
        self.applied_a = 0.0
        """The setpoint the car currently follows."""
        self.pending: deque[tuple[float, float]] = deque()
        """Setpoint changes the car has not followed yet: (when it will, new setpoint)."""


class _Point:
    """One charger and whatever car is plugged into it."""

    __slots__ = (
        "car",
        "draw_a",
        "energy_kwh",
        "grid_index",
        "last_session_kwh",
        "next_visit",
        "setpoint_a",
        "spec",
        "visits",
    )

    def __init__(self, spec: Charger, visits: tuple[Visit, ...]) -> None:
        self.spec = spec
        self.grid_index = tuple(phase - 1 for phase in spec.phases)
        self.visits = visits
        self.next_visit = 0
        self.car: _Car | None = None
        self.setpoint_a = 0.0
        self.draw_a = 0.0
        self.energy_kwh = 0.0
        """Energy delivered through this charger since the start."""
        self.last_session_kwh = 0.0


class SiteModel:
    """House, PV and cars of one scenario, advanced in time by the caller."""

    def __init__(self, scenario: Scenario, *, instant_response: bool = False) -> None:
        """
        Build the model at time 0 with every setpoint at 0 A.

        `instant_response` makes every car follow a setpoint at once (the oracle's cars).
        """
        self._scenario = scenario
        site = scenario.site
        self._voltage_v = site.voltage_v
        self._phases = site.phase_count
        self._split_phase = site.supply is Supply.SPLIT_PHASE
        self._instant = instant_response
        self._house = scenario.house_a
        self._pv_w = scenario.pv_w
        self._points = {
            spec.name: _Point(spec, expand_sessions(spec, scenario.start, scenario.duration_s))
            for spec in scenario.chargers
        }
        self._time_s = 0.0
        self._settled_s = 0.0
        self._minute = 0
        self._grid_a: tuple[float, ...] = ()
        self._ev_a: tuple[float, ...] = ()
        self._next_s = 0.0
        self._revision = 0
        self._process_events()

    # --- reading ----------------------------------------------------------------------

    @property
    def time_s(self) -> float:
        """Seconds since the start of the scenario's window."""
        return self._time_s

    @property
    def scenario(self) -> Scenario:
        """The scenario this model runs."""
        return self._scenario

    def voltage_v(self, phase: int) -> float:
        """Voltage of a grid phase (1-based): the site's nominal phase-to-neutral voltage."""
        if not 1 <= phase <= self._phases:
            msg = f"the supply has no phase {phase}"
            raise ValueError(msg)
        return self._voltage_v

    def house_currents_a(self) -> tuple[float, ...]:
        """House load per supply phase now."""
        return self._house[self._minute]

    def pv_power_w(self) -> float:
        """PV production now (0 without PV; the trace's small night-time standby draw is kept)."""
        return 0.0 if self._pv_w is None else self._pv_w[self._minute]

    def pv_currents_a(self) -> tuple[float, ...]:
        """PV current per supply phase now (the inverter feeds all phases equally)."""
        return (self.pv_power_w() / self._voltage_v / self._phases,) * self._phases

    def grid_currents_a(self) -> tuple[float, ...]:
        """Grid current per supply phase now: house + chargers - PV (negative = export)."""
        return self._grid_a

    def grid_power_w(self) -> float:
        """Net grid power now, summed over the phases (negative = export)."""
        return sum(self._grid_a) * self._voltage_v

    def house_power_w(self) -> float:
        """House consumption now."""
        return sum(self._house[self._minute]) * self._voltage_v

    def ev_power_w(self) -> float:
        """Power all chargers draw now."""
        return sum(self._ev_a) * self._voltage_v

    def charger_names(self) -> tuple[str, ...]:
        """Return the chargers' names, in scenario order."""
        return tuple(self._points)

    def charger_view(self, name: str) -> ChargerView:
        """Return the charger's state, line currents, setpoint and session energy."""
        self._settle()
        point = self._points[name]
        car = point.car
        lines = len(point.grid_index)
        if car is None:
            return ChargerView(
                state="A",
                currents_a=(0.0,) * lines,
                setpoint_a=point.setpoint_a,
                session_energy_kwh=point.last_session_kwh,
                wants_charge=False,
                session_start_s=None,
            )
        draw = point.draw_a
        return ChargerView(
            state="C" if draw > 0 else "B",
            currents_a=tuple(draw if line < len(car.lines) else 0.0 for line in range(lines)),
            setpoint_a=point.setpoint_a,
            session_energy_kwh=car.delivered_kwh,
            wants_charge=not car.full,
            session_start_s=max(0.0, car.visit.arrive_s),
        )

    def charger_draw_a(self, name: str) -> float:
        """Return the current the charger's car draws now, on each line it uses."""
        return self._points[name].draw_a

    def charger_energy_kwh(self, name: str) -> float:
        """Energy delivered through the charger since the start of the window."""
        self._settle()
        return self._points[name].energy_kwh

    def car_demand(self, name: str) -> CarDemand | None:
        """Return what the connected car could take now (None: no car wanting charge)."""
        point = self._points[name]
        car = point.car
        if car is None or car.full:
            return None
        phases = tuple(point.spec.phases[line] for line in range(len(car.lines)))
        return CarDemand(grid_phases=phases, max_a=car.max_a)

    def cars_waiting(self) -> bool:
        """Whether any car is plugged in and not yet full."""
        return any(point.car is not None and not point.car.full for point in self._points.values())

    def next_change_s(self) -> float:
        """When something in the model next changes by itself (house, PV, cars)."""
        return self._next_s

    @property
    def revision(self) -> int:
        """A number that changes whenever a charger's state, currents or setpoint may have."""
        return self._revision

    # --- acting -----------------------------------------------------------------------

    def set_setpoint(self, charger_name: str, current_a: float) -> None:
        """Give a charger a new current limit; its car follows after its response delay."""
        point = self._points[charger_name]
        if current_a < 0:
            msg = f"{charger_name}: a setpoint cannot be negative ({current_a} A)"
            raise ValueError(msg)
        if current_a == point.setpoint_a:
            return
        point.setpoint_a = current_a
        self._revision += 1
        car = point.car
        if car is None:
            return
        if self._instant or car.response_s <= 0:
            self._settle()
            car.pending.clear()
            car.applied_a = current_a
            self._update_draw(point)
            self._update_currents()
            self._next_s = self._upcoming()
        else:
            car.pending.append((self._time_s + car.response_s, current_a))
            self._next_s = min(self._next_s, self._time_s + car.response_s)

    def advance(self, dt_s: float) -> None:
        """Let `dt_s` seconds pass."""
        self.advance_to(self._time_s + dt_s)

    def advance_to(self, time_s: float) -> None:
        """Let time pass until `time_s` (model time, seconds since the window's start)."""
        if time_s < self._time_s:
            msg = f"time cannot go back ({time_s} < {self._time_s})"
            raise ValueError(msg)
        while self._next_s <= time_s:
            self._time_s = max(self._time_s, self._next_s)
            self._process_events()
        # Nothing changes until time_s (the common one-second step): the energy is added
        # when something next changes or is read.
        self._time_s = time_s

    # --- internals --------------------------------------------------------------------

    def _settle(self) -> None:
        """Add the energy delivered since the last settlement (draws were constant)."""
        dt_s = self._time_s - self._settled_s
        if dt_s <= 0:
            return
        self._settled_s = self._time_s
        for point in self._points.values():
            car = point.car
            if car is not None and point.draw_a > 0:
                energy = point.draw_a * car.watts_per_a * dt_s / _J_PER_KWH
                car.delivered_kwh += energy
                point.energy_kwh += energy

    def _process_events(self) -> None:
        self._settle()
        due = self._time_s + _EPS_S
        self._minute = min(int(due // MINUTE_S), len(self._house) - 1)
        for point in self._points.values():
            if point.car is not None and point.car.visit.depart_s <= due:
                point.last_session_kwh = point.car.delivered_kwh
                point.car = None
            if point.car is None and point.next_visit < len(point.visits):
                visit = point.visits[point.next_visit]
                if visit.arrive_s <= due:
                    point.next_visit += 1
                    point.car = self._arrive(point, visit)
            car = point.car
            if car is not None:
                while car.pending and car.pending[0][0] <= due:
                    car.applied_a = car.pending.popleft()[1]
                if not car.full and (
                    car.full_at_s <= due or car.target_kwh - car.delivered_kwh <= _FULL_EPS_KWH
                ):
                    car.full = True
            self._update_draw(point)
        self._update_currents()
        self._next_s = self._upcoming()
        self._revision += 1

    def _upcoming(self) -> float:
        # After the trace's last minute the house holds still (the window ends there).
        last = self._minute + 1 >= len(self._house)
        upcoming = float("inf") if last else (self._minute + 1) * MINUTE_S
        for point in self._points.values():
            car = point.car
            if car is None:
                if point.next_visit < len(point.visits):
                    upcoming = min(upcoming, point.visits[point.next_visit].arrive_s)
                continue
            upcoming = min(upcoming, car.visit.depart_s, car.full_at_s)
            if car.pending:
                upcoming = min(upcoming, car.pending[0][0])
        return upcoming

    def _arrive(self, point: _Point, visit: Visit) -> _Car:
        lines = len(point.grid_index)
        if not self._split_phase:
            lines = min(lines, visit.session.car_phases)
        car = _Car(visit, point.grid_index[:lines], self._voltage_v)
        if self._instant or car.response_s <= 0:
            car.applied_a = point.setpoint_a
        elif point.setpoint_a > 0:
            car.pending.append((self._time_s + car.response_s, point.setpoint_a))
        return car

    def _update_draw(self, point: _Point) -> None:
        car = point.car
        if car is None or car.full or car.applied_a < MIN_CHARGE_A:
            point.draw_a = 0.0
            if car is not None:
                car.full_at_s = float("inf")
            return
        point.draw_a = min(car.applied_a, car.max_a)
        remaining_j = (car.target_kwh - car.delivered_kwh) * _J_PER_KWH
        car.full_at_s = self._time_s + remaining_j / (point.draw_a * car.watts_per_a)

    def _update_currents(self) -> None:
        ev = [0.0] * self._phases
        for point in self._points.values():
            car = point.car
            if car is not None and point.draw_a > 0:
                for phase in car.lines:
                    ev[phase] += point.draw_a
        pv_a = 0.0 if self._pv_w is None else self._pv_w[self._minute] / self._voltage_v
        pv_a /= self._phases
        house = self._house[self._minute]
        self._ev_a = tuple(ev)
        self._grid_a = tuple(house[phase] + ev[phase] - pv_a for phase in range(self._phases))
