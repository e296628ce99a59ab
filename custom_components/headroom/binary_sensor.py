"""Binary sensors: limiting active, overload, meter communication."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from homeassistant.components.binary_sensor import (
    BinarySensorEntity,
    BinarySensorEntityDescription,
)
from homeassistant.components.binary_sensor.const import BinarySensorDeviceClass
from homeassistant.const import EntityCategory

from .const import CONF_METER_ID
from .device_info import meter_device_info, site_device_info
from .engine.model import Constraint
from .entity import HeadroomEntity

if TYPE_CHECKING:
    from collections.abc import Callable

    from homeassistant.core import HomeAssistant
    from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

    from .coordinator import HeadroomConfigEntry
    from .engine.model import SiteSettings
    from .site import CycleResult

# Read-only: the coordinator does the I/O.
PARALLEL_UPDATES = 0

_LIMITING = frozenset(
    {
        Constraint.BREAKER,
        Constraint.CIRCUIT,
        Constraint.PEAK,
        Constraint.TEMPERATURE,
        Constraint.SOLAR,
        Constraint.FAIL_SAFE,
    }
)
"""Constraints that hold a charger below what its car and its maximum allow."""


@dataclass(frozen=True, kw_only=True)
class HeadroomBinarySensorDescription(BinarySensorEntityDescription):
    """A binary sensor computed from the cycle result."""

    value_fn: Callable[[CycleResult, SiteSettings], bool]


def _overloaded(result: CycleResult, settings: SiteSettings) -> bool:
    """
    Tell whether the grid current on any phase is above the breaker rating.

    Import and export load the breaker alike: the magnitude counts (see
    `engine.plausibility`).
    """
    meter = result.snapshot.meter
    if meter is None or not result.meter_fresh:
        return False
    return any(abs(current) > settings.breaker_a for current in meter.currents_a)


SITE_BINARY_SENSORS: tuple[HeadroomBinarySensorDescription, ...] = (
    HeadroomBinarySensorDescription(
        key="limiting",
        translation_key="limiting",
        value_fn=lambda result, _: result.decision.binding in _LIMITING,
    ),
    HeadroomBinarySensorDescription(
        key="fail_safe",
        translation_key="fail_safe",
        device_class=BinarySensorDeviceClass.PROBLEM,
        value_fn=lambda result, _: result.decision.fail_safe,
    ),
)

METER_BINARY_SENSORS: tuple[HeadroomBinarySensorDescription, ...] = (
    HeadroomBinarySensorDescription(
        key="overload",
        translation_key="overload",
        device_class=BinarySensorDeviceClass.PROBLEM,
        value_fn=_overloaded,
    ),
    HeadroomBinarySensorDescription(
        key="meter_communication",
        translation_key="meter_communication",
        device_class=BinarySensorDeviceClass.CONNECTIVITY,
        entity_category=EntityCategory.DIAGNOSTIC,
        # Off once the meter has been silent for the stale time, not at every lost answer.
        value_fn=lambda result, _: result.meter_fresh,
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,  # noqa: ARG001 (Home Assistant's signature)
    entry: HeadroomConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the site's and the meter's binary sensors."""
    site_info = site_device_info(entry)
    entities = [
        HeadroomBinarySensor(entry, description, device_info=site_info)
        for description in SITE_BINARY_SENSORS
    ]
    if CONF_METER_ID in entry.data:
        meter_info = meter_device_info(entry)
        entities.extend(
            HeadroomBinarySensor(entry, description, device_info=meter_info)
            for description in METER_BINARY_SENSORS
        )
    async_add_entities(entities)


class HeadroomBinarySensor(HeadroomEntity, BinarySensorEntity):
    """A binary sensor of the site or the meter."""

    entity_description: HeadroomBinarySensorDescription

    @property
    def is_on(self) -> bool:
        """Return the state from the last cycle."""
        coordinator = self.coordinator
        return self.entity_description.value_fn(
            coordinator.data, coordinator.site.balancer.settings
        )
