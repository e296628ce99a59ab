"""Numbers: the main breaker rating, and each charger's maximum current and priority."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from homeassistant.components.number import (
    NumberDeviceClass,
    NumberEntity,
    NumberEntityDescription,
    NumberMode,
)
from homeassistant.const import EntityCategory, UnitOfElectricCurrent

from .const import (
    CONF_BREAKER,
    CONF_MAX_CURRENT,
    CONF_PRIORITY,
    MIN_BREAKER_A,
    SUBENTRY_CHARGER,
)
from .engine.model import MIN_CHARGE_A
from .entity import (
    HeadroomChargerEntity,
    HeadroomEntity,
    site_device_info,
    update_charger,
    update_site_options,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from homeassistant.config_entries import ConfigSubentry
    from homeassistant.core import HomeAssistant
    from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

    from .coordinator import HeadroomConfigEntry
    from .engine.model import ChargerSettings

# Settings are stored, not written to a device: one at a time keeps them ordered.
PARALLEL_UPDATES = 1

MAX_BREAKER_A = 400
MAX_PRIORITY = 10

BREAKER = NumberEntityDescription(
    key="breaker",
    translation_key="breaker",
    native_unit_of_measurement=UnitOfElectricCurrent.AMPERE,
    device_class=NumberDeviceClass.CURRENT,
    entity_category=EntityCategory.CONFIG,
    native_min_value=MIN_BREAKER_A,
    native_max_value=MAX_BREAKER_A,
    native_step=1,
    mode=NumberMode.BOX,
)


@dataclass(frozen=True, kw_only=True)
class ChargerNumberDescription(NumberEntityDescription):
    """A setting of one charger: where it is stored and how to read it."""

    conf_key: str
    value_fn: Callable[[ChargerSettings], float]


CHARGER_NUMBERS: tuple[ChargerNumberDescription, ...] = (
    ChargerNumberDescription(
        key="max_current",
        translation_key="max_current",
        native_unit_of_measurement=UnitOfElectricCurrent.AMPERE,
        device_class=NumberDeviceClass.CURRENT,
        entity_category=EntityCategory.CONFIG,
        native_min_value=MIN_CHARGE_A,
        native_step=1,
        mode=NumberMode.BOX,
        conf_key=CONF_MAX_CURRENT,
        value_fn=lambda charger: charger.max_a,
    ),
    ChargerNumberDescription(
        key="priority",
        translation_key="priority",
        entity_category=EntityCategory.CONFIG,
        native_min_value=1,
        native_max_value=MAX_PRIORITY,
        native_step=1,
        mode=NumberMode.BOX,
        conf_key=CONF_PRIORITY,
        value_fn=lambda charger: charger.priority,
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,  # noqa: ARG001 (Home Assistant's signature)
    entry: HeadroomConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the breaker rating to the site and the settings of each charger."""
    async_add_entities([HeadroomBreakerNumber(entry, BREAKER, device_info=site_device_info(entry))])
    site = entry.runtime_data.coordinator.site
    for subentry in entry.get_subentries_of_type(SUBENTRY_CHARGER):
        max_limit_a = site.driver(subentry.subentry_id).max_limit_a
        async_add_entities(
            [
                HeadroomChargerNumber(entry, subentry, description, max_limit_a=max_limit_a)
                for description in CHARGER_NUMBERS
            ],
            config_subentry_id=subentry.subentry_id,
        )


class HeadroomBreakerNumber(HeadroomEntity, NumberEntity):
    """The main breaker's rating per phase."""

    @property
    def native_value(self) -> float:
        """Return the rating in force."""
        return self.coordinator.site.balancer.settings.breaker_a

    async def async_set_native_value(self, value: float) -> None:
        """Store a new rating (refused when a charger's maximum is above it)."""
        update_site_options(self.coordinator.config_entry, {CONF_BREAKER: value})


class HeadroomChargerNumber(HeadroomChargerEntity, NumberEntity):
    """A setting of one charger, stored with its subentry."""

    entity_description: ChargerNumberDescription

    def __init__(
        self,
        entry: HeadroomConfigEntry,
        subentry: ConfigSubentry,
        description: ChargerNumberDescription,
        *,
        max_limit_a: int,
    ) -> None:
        """Describe the setting; the maximum current is bounded by the model's."""
        super().__init__(entry, subentry, description)
        if description.conf_key == CONF_MAX_CURRENT:
            self._attr_native_max_value = max_limit_a

    @property
    def native_value(self) -> float | None:
        """Return the setting in force."""
        charger = self.charger_settings
        return self.entity_description.value_fn(charger) if charger is not None else None

    async def async_set_native_value(self, value: float) -> None:
        """Store the new value; the next cycle uses it."""
        update_charger(
            self.coordinator.config_entry,
            self.charger_id,
            {self.entity_description.conf_key: int(value)},
        )
