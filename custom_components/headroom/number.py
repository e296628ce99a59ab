"""Numbers: the main breaker rating, and each charger's maximum current and priority."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from homeassistant.components.number import (
    NumberDeviceClass,
    NumberEntity,
    NumberEntityDescription,
    NumberMode,
)
from homeassistant.const import EntityCategory, UnitOfElectricCurrent, UnitOfPower
from homeassistant.exceptions import ServiceValidationError

from .const import (
    CONF_BREAKER_LOWERED,
    CONF_MAX_LOWERED,
    CONF_PEAK_TARGET,
    CONF_PRIORITY,
    DOMAIN,
    MAX_BREAKER_A,
    MAX_PEAK_TARGET_KW,
    MAX_PRIORITY,
    MIN_BREAKER_A,
    SUBENTRY_CHARGER,
)
from .device_info import site_device_info
from .engine.model import MIN_CHARGE_A
from .engine_settings import measures_import
from .entity import (
    HeadroomChargerEntity,
    HeadroomEntity,
    update_charger,
    update_site_options,
)
from .entity_config import SUBENTRY_ENTITY_CHARGER

if TYPE_CHECKING:
    from collections.abc import Callable

    from homeassistant.config_entries import ConfigSubentry
    from homeassistant.core import HomeAssistant
    from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

    from .coordinator import HeadroomConfigEntry
    from .engine.model import ChargerSettings

# Settings are stored, not written to a device: one at a time keeps them ordered.
PARALLEL_UPDATES = 1

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

PEAK_TARGET = NumberEntityDescription(
    key="peak_target",
    translation_key="peak_target",
    native_unit_of_measurement=UnitOfPower.KILO_WATT,
    device_class=NumberDeviceClass.POWER,
    native_min_value=0.0,
    native_max_value=MAX_PEAK_TARGET_KW,
    native_step=0.1,
    mode=NumberMode.BOX,
)
"""The capacity tariff's target average import per window (0: no budget)."""


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
        conf_key=CONF_MAX_LOWERED,
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
    if measures_import(entry.data):
        # The budget is spent against the meter's import: no meter power, no budget.
        async_add_entities(
            [HeadroomPeakTargetNumber(entry, PEAK_TARGET, device_info=site_device_info(entry))]
        )
    site = entry.runtime_data.coordinator.site
    for subentry in (
        *entry.get_subentries_of_type(SUBENTRY_CHARGER),
        *entry.get_subentries_of_type(SUBENTRY_ENTITY_CHARGER),
    ):
        # A Modbus model's highest limit, or an entity charger's installer maximum.
        max_limit_a = site.driver(subentry.subentry_id).max_limit_a
        async_add_entities(
            [
                HeadroomChargerNumber(entry, subentry, description, max_limit_a=max_limit_a)
                for description in CHARGER_NUMBERS
            ],
            config_subentry_id=subentry.subentry_id,
        )


def _finite(value: float) -> float:
    """Refuse what is not a number (every comparison with NaN is false: no range holds it)."""
    if not math.isfinite(value):
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="not_a_number",
            translation_placeholders={"error": f"{value} is not a number"},
        )
    return value


def _within_installer(value: float, installer_a: float | None) -> None:
    """Refuse a limit above the installer's: from the dashboard, limits only go down."""
    if installer_a is not None and value > installer_a:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="above_installer_limit",
            translation_placeholders={"limit": f"{installer_a:g}"},
        )


class HeadroomBreakerNumber(HeadroomEntity, NumberEntity):
    """
    The main breaker's rating per phase in force.

    Anyone may lower it from the dashboard (to keep the import down); only the installer's
    rating in the options (admins) can raise it, and it is this number's maximum.
    """

    @property
    def native_value(self) -> float | None:
        """Return the rating in force (unknown while the settings cannot work)."""
        if self.coordinator.problems:
            return None
        return self.coordinator.site.balancer.settings.breaker_a

    @property
    def native_max_value(self) -> float:
        """Return the installer's rating."""
        installer_a = self.coordinator.config.installer_breaker_a
        return installer_a if installer_a is not None else MAX_BREAKER_A

    async def async_set_native_value(self, value: float) -> None:
        """Lower (or restore) the rating in force, never above the installer's."""
        value = _finite(value)
        installer_a = self.coordinator.config.installer_breaker_a
        _within_installer(value, installer_a)
        update_site_options(
            self.coordinator.config_entry,
            {CONF_BREAKER_LOWERED: None if value == installer_a else value},
        )


class HeadroomPeakTargetNumber(HeadroomEntity, NumberEntity):
    """
    The average grid import per window to stay under (capacity tariffs), 0 for none.

    Automations may change it by tariff period; it is stored with the site's options.
    """

    @property
    def native_value(self) -> float | None:
        """Return the target in force in kW (0: no budget; unknown while settings cannot work)."""
        if self.coordinator.problems:
            return None
        peak = self.coordinator.site.balancer.settings.peak
        return peak.target_w / 1000.0 if peak is not None else 0.0

    async def async_set_native_value(self, value: float) -> None:
        """Store a new target; the loop uses it from its next cycle."""
        value = _finite(value)
        update_site_options(self.coordinator.config_entry, {CONF_PEAK_TARGET: value})


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
        self._model_max_a = max_limit_a

    def _installer_max_a(self) -> float | None:
        return self.coordinator.config.installer_max_a.get(self.charger_id)

    @property
    def native_max_value(self) -> float:
        """Return the installer's maximum (within the model's) for the current; 10 for priority."""
        if self.entity_description.conf_key != CONF_MAX_LOWERED:
            return super().native_max_value
        installer_a = self._installer_max_a()
        if installer_a is None:
            return self._model_max_a
        return min(installer_a, self._model_max_a)

    @property
    def native_value(self) -> float | None:
        """Return the setting in force."""
        charger = self.charger_settings
        if self.coordinator.problems or charger is None:
            return None
        return self.entity_description.value_fn(charger)

    async def async_set_native_value(self, value: float) -> None:
        """Store the new value; the next cycle uses it. A maximum only goes down from here."""
        value = _finite(value)
        if self.entity_description.conf_key == CONF_MAX_LOWERED:
            installer_a = self._installer_max_a()
            _within_installer(value, installer_a)
            stored: int | None = None if value == installer_a else int(value)
        else:
            stored = int(value)
        update_charger(
            self.coordinator.config_entry,
            self.charger_id,
            {self.entity_description.conf_key: stored},
        )
