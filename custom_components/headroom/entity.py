"""Base entities and device info: the site (the balancer), its meter and each charger."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .const import DOMAIN
from .coordinator import HeadroomConfigEntry, HeadroomCoordinator, chargers_of
from .device_info import charger_device_info
from .engine_settings import ChargerConfig
from .settings import site_config

if TYPE_CHECKING:
    from collections.abc import Mapping

    from homeassistant.config_entries import ConfigSubentry
    from homeassistant.helpers.device_registry import DeviceInfo
    from homeassistant.helpers.entity import EntityDescription

    from .engine.model import ChargerSettings
    from .rules import Problem
    from .site import ChargerStatus


class HeadroomEntity(CoordinatorEntity[HeadroomCoordinator]):
    """An entity of the site or its meter."""

    _attr_has_entity_name = True

    def __init__(
        self,
        entry: HeadroomConfigEntry,
        description: EntityDescription,
        *,
        device_info: DeviceInfo,
        key: str | None = None,
    ) -> None:
        """Describe the entity; `key` overrides the description's key in the unique id."""
        super().__init__(entry.runtime_data.coordinator)
        self.entity_description = description
        self._attr_unique_id = f"{entry.entry_id}_{key or description.key}"
        self._attr_device_info = device_info


class HeadroomMeterEntity(HeadroomEntity):
    """An entity of the meter: unavailable while the meter is silent."""

    @property
    def available(self) -> bool:
        """Return whether the meter's values are fresh."""
        data = self.coordinator.data
        return super().available and data.meter is not None and data.meter_fresh


class HeadroomChargerEntity(HeadroomEntity):
    """An entity of one charger (a config subentry)."""

    def __init__(
        self,
        entry: HeadroomConfigEntry,
        subentry: ConfigSubentry,
        description: EntityDescription,
        *,
        key: str | None = None,
    ) -> None:
        """Describe the entity of the charger `subentry`."""
        super().__init__(
            entry,
            description,
            device_info=charger_device_info(entry, subentry),
            key=f"{subentry.subentry_id}_{key or description.key}",
        )
        self.charger_id = subentry.subentry_id

    @property
    def charger_settings(self) -> ChargerSettings | None:
        """Return the engine's settings of this charger."""
        settings = self.coordinator.site.balancer.settings
        return next((c for c in settings.chargers if c.charger_id == self.charger_id), None)

    @property
    def status(self) -> ChargerStatus | None:
        """Return the charger's status after the last cycle."""
        return self.coordinator.data.chargers.get(self.charger_id)


def update_site_options(entry: HeadroomConfigEntry, changes: Mapping[str, Any]) -> None:
    """
    Store new site options (mode, breaker rating); the update listener applies them live.

    Raises a translated ServiceValidationError when the settings would not work.
    """
    options = {
        key: value for key, value in {**entry.options, **changes}.items() if value is not None
    }
    _check(site_config(entry.data, options, chargers_of(entry)).problems)
    entry.runtime_data.coordinator.hass.config_entries.async_update_entry(entry, options=options)


def update_charger(
    entry: HeadroomConfigEntry, subentry_id: str, changes: Mapping[str, Any]
) -> None:
    """Store new settings of one charger (maximum, priority, pause), applied live."""
    subentry = entry.subentries[subentry_id]
    data = {key: value for key, value in {**subentry.data, **changes}.items() if value is not None}
    chargers = [
        ChargerConfig(charger_id=c.charger_id, data=data if c.charger_id == subentry_id else c.data)
        for c in chargers_of(entry)
    ]
    _check(site_config(entry.data, entry.options, chargers).problems)
    entry.runtime_data.coordinator.hass.config_entries.async_update_subentry(
        entry, subentry, data=data
    )


def _check(problems: tuple[Problem, ...]) -> None:
    if problems:
        problem = problems[0]
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key=problem.key.value,
            translation_placeholders={"error": problem.detail, **problem.placeholders},
        )
