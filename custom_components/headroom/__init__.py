"""Headroom: keep the main breaker from tripping while EV chargers charge as fast as it allows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from homeassistant.config_entries import ConfigEntry

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant


@dataclass(kw_only=True, slots=True)
class HeadroomRuntimeData:
    """What a loaded site keeps while it runs."""

    title: str


type HeadroomConfigEntry = ConfigEntry[HeadroomRuntimeData]


async def async_setup_entry(hass: HomeAssistant, entry: HeadroomConfigEntry) -> bool:  # noqa: ARG001
    """Set up a Headroom site from a config entry."""
    entry.runtime_data = HeadroomRuntimeData(title=entry.title)
    return True


async def async_unload_entry(hass: HomeAssistant, entry: HeadroomConfigEntry) -> bool:  # noqa: ARG001
    """Unload a Headroom site."""
    return True
