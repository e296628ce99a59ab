"""Switches: solar-only charging for the site, pause for each charger."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from homeassistant.components.switch import SwitchEntity, SwitchEntityDescription

from .const import CONF_MODE, CONF_PAUSED, SUBENTRY_CHARGER
from .device_info import site_device_info
from .engine.model import Mode
from .entity import (
    HeadroomChargerEntity,
    HeadroomEntity,
    update_charger,
    update_site_options,
)
from .entity_config import SUBENTRY_ENTITY_CHARGER

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant
    from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

    from .coordinator import HeadroomConfigEntry

# Settings are stored, not written to a device: one at a time keeps them ordered.
PARALLEL_UPDATES = 1

SOLAR_ONLY = SwitchEntityDescription(key="solar_only", translation_key="solar_only")
PAUSE = SwitchEntityDescription(key="pause", translation_key="pause")


async def async_setup_entry(
    hass: HomeAssistant,  # noqa: ARG001 (Home Assistant's signature)
    entry: HeadroomConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the solar-only switch to the site and a pause switch to each charger."""
    async_add_entities(
        [HeadroomSolarOnlySwitch(entry, SOLAR_ONLY, device_info=site_device_info(entry))]
    )
    for subentry in (
        *entry.get_subentries_of_type(SUBENTRY_CHARGER),
        *entry.get_subentries_of_type(SUBENTRY_ENTITY_CHARGER),
    ):
        async_add_entities(
            [HeadroomPauseSwitch(entry, subentry, PAUSE)],
            config_subentry_id=subentry.subentry_id,
        )


class HeadroomSolarOnlySwitch(HeadroomEntity, SwitchEntity):
    """On: charge from the PV surplus only. Off: charge as fast as the breaker allows."""

    @property
    def is_on(self) -> bool:
        """Return whether the site charges in solar-only mode."""
        return self.coordinator.site.balancer.settings.mode is Mode.SOLAR

    async def async_turn_on(self, **kwargs: Any) -> None:  # noqa: ARG002
        """Charge from the surplus only."""
        update_site_options(self.coordinator.config_entry, {CONF_MODE: Mode.SOLAR.value})

    async def async_turn_off(self, **kwargs: Any) -> None:  # noqa: ARG002
        """Charge as fast as the breaker allows."""
        update_site_options(self.coordinator.config_entry, {CONF_MODE: Mode.FAST.value})


class HeadroomPauseSwitch(HeadroomChargerEntity, SwitchEntity):
    """Pause one charger; stored with the charger, so it survives a restart."""

    @property
    def is_on(self) -> bool:
        """Return whether the user paused this charger."""
        charger = self.charger_settings
        return charger is not None and charger.paused

    async def async_turn_on(self, **kwargs: Any) -> None:  # noqa: ARG002
        """Pause the charger (its setpoint goes to 0 in the next cycle)."""
        update_charger(self.coordinator.config_entry, self.charger_id, {CONF_PAUSED: True})

    async def async_turn_off(self, **kwargs: Any) -> None:  # noqa: ARG002
        """Let the charger charge again."""
        update_charger(self.coordinator.config_entry, self.charger_id, {CONF_PAUSED: False})
