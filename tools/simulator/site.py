"""
Where the simulated devices' values come from: a site with a house, PV and cars.

`Site` is the shape of the benchmark's physical model (`tools.site_model.SiteModel`):
the simulator reads currents and charger states from it, turns a charger's current
limit writes into `set_setpoint`, and advances it with the wall clock. `StaticSite` is
the small default: steady house load, steady voltage, cars that draw
min(setpoint, their maximum) a response delay after the setpoint changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final, Protocol

from custom_components.headroom.engine.model import MIN_CHARGE_A

if TYPE_CHECKING:
    from collections.abc import Iterable

_W_PER_KW: Final = 1000.0
_S_PER_H: Final = 3600.0


class ChargerView(Protocol):
    """What a charger reports about itself (the fields the simulator uses)."""

    @property
    def state(self) -> str:
        """IEC 61851 state letter: A no car, B connected, C charging."""
        ...

    @property
    def currents_a(self) -> tuple[float, ...]:
        """Measured current on each of the charger's lines."""
        ...

    @property
    def setpoint_a(self) -> float:
        """The current limit the charger applies."""
        ...

    @property
    def session_energy_kwh(self) -> float:
        """Energy of the current (or last) session."""
        ...


class Site(Protocol):
    """The physical model behind the registers."""

    def set_setpoint(self, charger_name: str, current_a: float) -> None:
        """Tell a charger to apply this current limit."""
        ...

    def advance(self, dt_s: float) -> None:
        """Let `dt_s` seconds pass."""
        ...

    def grid_currents_a(self) -> tuple[float, ...]:
        """Grid current per supply phase (negative: export)."""
        ...

    def house_currents_a(self) -> tuple[float, ...]:
        """House load per supply phase."""
        ...

    def pv_power_w(self) -> float:
        """PV production."""
        ...

    def voltage_v(self, phase: int) -> float:
        """Voltage of a supply phase (1-based)."""
        ...

    def charger_view(self, name: str) -> ChargerView:
        """Return a charger's state, line currents, setpoint and session energy."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class StaticChargerView:
    """A `ChargerView` of the static site."""

    state: str
    currents_a: tuple[float, ...]
    setpoint_a: float
    session_energy_kwh: float


@dataclass(slots=True, kw_only=True)
class StaticCharger:
    """
    A charger of the static site, with or without a car plugged in.

    The car draws min(setpoint, `car_max_a`) on `car_phases` lines once `response_s` has
    passed since the setpoint changed, and nothing while the setpoint is below 6 A.
    """

    name: str
    car_connected: bool = True
    car_max_a: float = 16.0
    car_phases: int = 3
    response_s: float = 2.0
    setpoint_a: float = 0.0
    draw_a: float = 0.0
    session_energy_kwh: float = 0.0
    _target_a: float = field(default=0.0, repr=False)
    _target_in_s: float = field(default=0.0, repr=False)


class StaticSite:
    """Steady house load and voltage, PV at a fixed power, cars that follow setpoints."""

    def __init__(
        self,
        *,
        house_currents_a: tuple[float, ...] = (3.0, 2.0, 1.5),
        voltage_v: float = 230.0,
        pv_power_w: float = 0.0,
        chargers: Iterable[StaticCharger] = (),
    ) -> None:
        """Describe the site; the chargers start at a 0 A setpoint."""
        self._house = tuple(house_currents_a)
        self._voltage_v = voltage_v
        self._pv_w = pv_power_w
        self._chargers = {charger.name: charger for charger in chargers}

    @property
    def chargers(self) -> dict[str, StaticCharger]:
        """The chargers by name (change `car_connected` to plug a car in or out)."""
        return self._chargers

    def set_house_currents_a(self, currents_a: tuple[float, ...]) -> None:
        """Step the house load (one value per phase), as a kettle or an oven would."""
        if len(currents_a) != len(self._house):
            msg = f"the site has {len(self._house)} phases, got {len(currents_a)} currents"
            raise ValueError(msg)
        self._house = tuple(currents_a)

    def set_pv_power_w(self, power_w: float) -> None:
        """Change the PV production (a cloud passing)."""
        self._pv_w = power_w

    def set_setpoint(self, charger_name: str, current_a: float) -> None:
        """Apply a new limit; the car follows after its response delay."""
        charger = self._chargers[charger_name]
        charger.setpoint_a = current_a
        charger._target_a = (  # noqa: SLF001 (the site owns its chargers)
            min(current_a, charger.car_max_a) if current_a >= MIN_CHARGE_A else 0.0
        )
        charger._target_in_s = charger.response_s  # noqa: SLF001

    def advance(self, dt_s: float) -> None:
        """Let time pass: cars follow their setpoints, sessions count energy."""
        for charger in self._chargers.values():
            if not charger.car_connected:
                charger.draw_a = 0.0
                continue
            charger._target_in_s -= dt_s  # noqa: SLF001
            if charger._target_in_s <= 0:  # noqa: SLF001
                charger.draw_a = charger._target_a  # noqa: SLF001
            power_w = charger.draw_a * self._voltage_v * charger.car_phases
            charger.session_energy_kwh += power_w * dt_s / _S_PER_H / _W_PER_KW

    def grid_currents_a(self) -> tuple[float, ...]:
        """House plus cars minus PV, per phase."""
        pv_a = self._pv_w / self._voltage_v / len(self._house)
        currents = [house - pv_a for house in self._house]
        for charger in self._chargers.values():
            for line in range(min(charger.car_phases, len(currents))):
                currents[line] += charger.draw_a if charger.car_connected else 0.0
        return tuple(currents)

    def house_currents_a(self) -> tuple[float, ...]:
        """Return the steady house load."""
        return self._house

    def pv_power_w(self) -> float:
        """Return the steady PV production."""
        return self._pv_w

    def voltage_v(self, phase: int) -> float:
        """Return the steady voltage, on every phase the site has."""
        if not 1 <= phase <= len(self._house):
            msg = f"the supply has no phase {phase}"
            raise ValueError(msg)
        return self._voltage_v

    def charger_view(self, name: str) -> StaticChargerView:
        """State A without a car, C while the car draws, B otherwise."""
        charger = self._chargers[name]
        lines = 3
        if not charger.car_connected:
            return StaticChargerView(
                state="A",
                currents_a=(0.0,) * lines,
                setpoint_a=charger.setpoint_a,
                session_energy_kwh=charger.session_energy_kwh,
            )
        return StaticChargerView(
            state="C" if charger.draw_a > 0 else "B",
            currents_a=tuple(
                charger.draw_a if line < charger.car_phases else 0.0 for line in range(lines)
            ),
            setpoint_a=charger.setpoint_a,
            session_energy_kwh=charger.session_energy_kwh,
        )
