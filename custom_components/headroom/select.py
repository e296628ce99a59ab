"""The charging mode: off, fast, solar only, minimum + solar."""

from __future__ import annotations

from typing import TYPE_CHECKING

from homeassistant.components.select import SelectEntity, SelectEntityDescription

from .const import CONF_MODE
from .device_info import site_device_info
from .engine.model import Mode
from .entity import HeadroomEntity, update_site_options

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant
    from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

    from .coordinator import HeadroomConfigEntry

# Settings are stored, not written to a device: one at a time keeps them ordered.
PARALLEL_UPDATES = 1

MODE_SELECT = SelectEntityDescription(
    key="mode",
    translation_key="mode",
    options=[mode.value for mode in Mode],
)


async def async_setup_entry(
    hass: HomeAssistant,  # noqa: ARG001 (Home Assistant's signature)
    entry: HeadroomConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the mode select to the site."""
    async_add_entities(
        [HeadroomModeSelect(entry, MODE_SELECT, device_info=site_device_info(entry))]
    )


class HeadroomModeSelect(HeadroomEntity, SelectEntity):
    """The charging mode; stored in the entry's options, so it survives a restart."""

    @property
    def current_option(self) -> str:
        """Return the mode in force."""
        return self.coordinator.site.balancer.settings.mode.value

    async def async_select_option(self, option: str) -> None:
        """Switch the mode; the next cycle uses it."""
        update_site_options(self.coordinator.config_entry, {CONF_MODE: Mode(option).value})
