"""
The engine's `SiteSettings` built from an entry's stored values (checked first by `validate`).

No Home Assistant import. Also what a site's meter can do (`has_meter`, `measures_import`)
and the 0 A hold a site runs on while its settings cannot work.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from .const import (
    CONF_BREAKER,
    CONF_CIRCUIT,
    CONF_FAIL_SAFE,
    CONF_GRID_TOLERANCE,
    CONF_MARGIN,
    CONF_METER_ID,
    CONF_METER_STALE,
    CONF_MODE,
    CONF_MODEL,
    CONF_PAUSED,
    CONF_PEAK_TARGET,
    CONF_PEAK_WINDOW,
    CONF_PHASES,
    CONF_PRIORITY,
    CONF_SHARED_CIRCUIT,
    CONF_SOLAR_START_DELAY,
    CONF_SOLAR_STOP_DELAY,
    CONF_SUPPLY,
    CONF_SURPLUS_STALE,
    CONF_VOLTAGE,
    DEFAULT_VOLTAGE_V,
    MAX_BREAKER_A,
    MIN_BREAKER_A,
    SHARED_CIRCUIT_NAME,
)
from .devices.chargers import SUPPORTED_CHARGERS
from .devices.registers import get_profile
from .engine.model import (
    MIN_CHARGE_A,
    ChargerSettings,
    Mode,
    PeakSettings,
    SiteSettings,
    SolarSettings,
    Supply,
    TimingSettings,
)
from .engine.thermal import ThermalLimits
from .entity_config import (
    CONF_METER_ENTITIES,
    entity_charger_config,
    entity_meter_config,
    is_entity_charger,
)
from .rules import breaker_a, charger_max_a, checked_value, number, stored_supply

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping


@dataclass(frozen=True, slots=True, kw_only=True)
class ChargerConfig:
    """One charger subentry: its id (the subentry id) and its stored data."""

    charger_id: str
    data: Mapping[str, Any]


def charger_phases(value: Iterable[int | str]) -> tuple[int, ...]:
    """Return the stored grid-phase wiring as a tuple of phase numbers."""
    return tuple(int(phase) for phase in value)


THERMAL_LIMITS: Final = ThermalLimits(derate_c=70.0, stop_c=80.0, hysteresis_c=10.0)
"""
For every charger that reports a temperature. The vendors publish no thresholds for the
temperatures they report (Heidelberg's and Amperfied's PCB, Alfen's board): conservative values,
stated in the README.
"""


def thermal_limits(model: object) -> ThermalLimits | None:
    """Return the thermal limits of a charger model that reports its temperature."""
    if model not in SUPPORTED_CHARGERS:
        return None
    return THERMAL_LIMITS if get_profile(str(model)).has("temperature") else None


def has_meter(data: Mapping[str, Any]) -> bool:
    """Tell whether the site has a meter: a Modbus one, or sensors."""
    return CONF_METER_ID in data or entity_meter_config(data.get(CONF_METER_ENTITIES)) is not None


def measures_import(data: Mapping[str, Any]) -> bool:
    """
    Tell whether the site's meter gives its total power (what an import budget is spent on).

    A Modbus meter does; a meter made of sensors only when they are power sensors.
    """
    if CONF_METER_ID in data:
        return True
    meter = entity_meter_config(data.get(CONF_METER_ENTITIES))
    return meter is not None and bool(meter.power_entities)


def build_settings(
    data: Mapping[str, Any], options: Mapping[str, Any], chargers: Iterable[ChargerConfig]
) -> SiteSettings:
    """Build the engine's settings from values that were checked."""
    circuit_a = checked_value(options, CONF_CIRCUIT)
    # Marked as shared but no rating given: the chargers then share the main breaker only.
    shared = circuit_a > 0
    charger_settings = tuple(
        ChargerSettings(
            charger_id=charger.charger_id,
            phases=charger_phases(charger.data[CONF_PHASES]),
            max_a=charger_max_a(charger.data),
            priority=int(checked_value(charger.data, CONF_PRIORITY)),
            circuit=(
                SHARED_CIRCUIT_NAME if shared and charger.data.get(CONF_SHARED_CIRCUIT) else None
            ),
            paused=bool(charger.data.get(CONF_PAUSED, False)),
            thermal=thermal_limits(charger.data.get(CONF_MODEL)),
        )
        for charger in chargers
    )
    uses_circuit = any(charger.circuit is not None for charger in charger_settings)
    return SiteSettings(
        supply=Supply(options[CONF_SUPPLY]),
        voltage_v=checked_value(options, CONF_VOLTAGE),
        breaker_a=breaker_a(options),
        margin_a=checked_value(options, CONF_MARGIN),
        fail_safe_a=checked_value(options, CONF_FAIL_SAFE),
        chargers=charger_settings,
        circuits_a={SHARED_CIRCUIT_NAME: circuit_a} if uses_circuit else {},
        mode=Mode(options.get(CONF_MODE, Mode.FAST)),
        has_meter=has_meter(data),
        solar=SolarSettings(
            start_delay_s=checked_value(options, CONF_SOLAR_START_DELAY),
            stop_delay_s=checked_value(options, CONF_SOLAR_STOP_DELAY),
            grid_tolerance_w=checked_value(options, CONF_GRID_TOLERANCE),
            surplus_stale_after_s=checked_value(options, CONF_SURPLUS_STALE),
        ),
        timing=TimingSettings(
            meter_stale_after_s=checked_value(options, CONF_METER_STALE),
            # The slowest car behind an integration sets how long a raise waits for it.
            car_response_s=max(
                (
                    entity_charger_config(c.data, lines=1, voltage_v=230.0).response_s
                    for c in chargers
                    if is_entity_charger(c.data)
                ),
                default=TimingSettings().car_response_s,
            ),
        ),
        peak=_peak(data, options),
    )


def _peak(data: Mapping[str, Any], options: Mapping[str, Any]) -> PeakSettings | None:
    """Return the import budget per window, if one is set (it needs the meter's power)."""
    target_kw = checked_value(options, CONF_PEAK_TARGET)
    if target_kw <= 0.0 or not measures_import(data):
        return None
    window_min = checked_value(options, CONF_PEAK_WINDOW)
    return PeakSettings(target_w=1000.0 * target_kw, window_s=60.0 * window_min)


def hold_settings(
    data: Mapping[str, Any], options: Mapping[str, Any], chargers: Iterable[ChargerConfig]
) -> SiteSettings:
    """
    Return settings that hold every charger at 0 A: for a site whose settings cannot work.

    The loop keeps running (the meter is read, the watchdogs are armed at 0 A) until the
    installer corrects the settings; nothing here comes from the values that failed.
    """
    supply = stored_supply(options) or Supply.THREE_PHASE
    stored_breaker_a = number(options.get(CONF_BREAKER))
    hold_breaker_a = (
        stored_breaker_a
        if stored_breaker_a is not None and MIN_BREAKER_A <= stored_breaker_a <= MAX_BREAKER_A
        else MIN_BREAKER_A
    )
    held = []
    for charger in chargers:
        try:
            phases = tuple(
                p for p in charger_phases(charger.data.get(CONF_PHASES) or ()) if p in supply.phases
            )
        except TypeError, ValueError:
            phases = ()
        held.append(
            ChargerSettings(
                charger_id=charger.charger_id,
                phases=tuple(dict.fromkeys(phases)) or supply.phases,
                max_a=MIN_CHARGE_A,
            )
        )
    return SiteSettings(
        supply=supply,
        voltage_v=DEFAULT_VOLTAGE_V,
        breaker_a=hold_breaker_a,
        margin_a=0.0,
        fail_safe_a=0.0,
        chargers=tuple(held),
        mode=Mode.OFF,
        has_meter=has_meter(data),
    )
