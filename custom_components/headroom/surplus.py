"""The PV surplus, from the Home Assistant sensors the user picked as the solar source."""

from __future__ import annotations

from typing import TYPE_CHECKING

from homeassistant.const import (
    ATTR_UNIT_OF_MEASUREMENT,
    STATE_UNAVAILABLE,
    STATE_UNKNOWN,
    UnitOfPower,
)
from homeassistant.util import dt as dt_util
from homeassistant.util.unit_conversion import PowerConverter

from .const import (
    CONF_GRID_POWER_ENTITY,
    CONF_HOUSE_POWER_ENTITY,
    CONF_PV_POWER_ENTITY,
    CONF_SOLAR_SOURCE,
    SOLAR_SOURCE_GRID,
    SOLAR_SOURCE_NONE,
    SOLAR_SOURCE_PV_HOUSE,
)
from .engine.model import SurplusReading

if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

    from homeassistant.core import HomeAssistant


def read_surplus(
    hass: HomeAssistant, options: Mapping[str, Any], now: float
) -> SurplusReading | None:
    """
    Read the PV surplus (positive: exporting) from the entities of the solar source.

    None when no source is configured or a sensor has no usable value; the engine then
    treats solar as unavailable. `at` is when the oldest sensor last reported, on the
    engine's clock `now`.
    """
    source = options.get(CONF_SOLAR_SOURCE, SOLAR_SOURCE_NONE)
    if source == SOLAR_SOURCE_GRID:
        grid = _power_w(hass, options.get(CONF_GRID_POWER_ENTITY))
        if grid is None:
            return None
        return SurplusReading(power_w=-grid[0], at=now - grid[1])
    if source == SOLAR_SOURCE_PV_HOUSE:
        pv = _power_w(hass, options.get(CONF_PV_POWER_ENTITY))
        house = _power_w(hass, options.get(CONF_HOUSE_POWER_ENTITY))
        if pv is None or house is None:
            return None
        return SurplusReading(power_w=pv[0] - house[0], at=now - max(pv[1], house[1]))
    return None


def _power_w(hass: HomeAssistant, entity_id: str | None) -> tuple[float, float] | None:
    """Return an entity's power in W and its age in seconds, None if unusable."""
    state = hass.states.get(entity_id) if entity_id else None
    if state is None or state.state in (STATE_UNAVAILABLE, STATE_UNKNOWN):
        return None
    unit = state.attributes.get(ATTR_UNIT_OF_MEASUREMENT)
    if unit not in PowerConverter.VALID_UNITS:
        return None
    try:
        value = float(state.state)
    except ValueError:
        return None
    age_s = (dt_util.utcnow() - state.last_reported).total_seconds()
    return PowerConverter.convert(value, unit, UnitOfPower.WATT), max(age_s, 0.0)
