"""Headroom: keep the main breaker from tripping while EV chargers charge as fast as it allows."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from homeassistant.const import Platform
from homeassistant.exceptions import ConfigEntryError
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import issue_registry as ir

from .const import (
    CONF_PHASES,
    CONF_SOLAR_SOURCE,
    CONF_USB_ID,
    DOMAIN,
    SOLAR_SOURCE_NONE,
    SUBENTRY_CHARGER,
)
from .coordinator import (
    HeadroomConfigEntry,
    HeadroomCoordinator,
    HeadroomRuntimeData,
    chargers_of,
)
from .device_info import device_identifier, site_device_info
from .devices.errors import Unsupported
from .engine import Balancer
from .entity_config import CONF_BACKUP_METER, SUBENTRY_ENTITY_CHARGER
from .entity_devices import entity_devices
from .settings import site_config
from .site import METER_KEY
from .site_build import LineConflictError, build_site

if TYPE_CHECKING:
    from homeassistant.config_entries import ConfigEntry
    from homeassistant.core import HomeAssistant

PLATFORMS = [
    Platform.BINARY_SENSOR,
    Platform.NUMBER,
    Platform.SELECT,
    Platform.SENSOR,
    Platform.SWITCH,
]

# What the number, select and switch entities change at run time: applied without a reload.
_LIVE_CHARGER_KEYS = frozenset(
    {"max_a", "max_lowered_a", "priority", "paused", "phases", "shared_circuit"}
)


def structure(entry: ConfigEntry) -> tuple[Any, ...]:
    """
    Return what can only change with a reload: the connection, devices, entities.

    Entities: a solar source adds the PV surplus sensor, a charger's number of lines its
    current sensors. Everything else (site options, charger limits, priority, pause) is
    applied live.
    """
    return (
        # The adapter's USB identity names the same port: learning it needs no reload.
        tuple(sorted((k, v) for k, v in entry.data.items() if k != CONF_USB_ID)),
        entry.options.get(CONF_SOLAR_SOURCE, SOLAR_SOURCE_NONE) != SOLAR_SOURCE_NONE,
        # A backup meter is one more device on the loop.
        repr(entry.options.get(CONF_BACKUP_METER)),
        tuple(
            sorted(
                (
                    subentry.subentry_id,
                    tuple(
                        sorted(
                            (key, value)
                            for key, value in subentry.data.items()
                            if key not in _LIVE_CHARGER_KEYS
                        )
                    ),
                    len(subentry.data[CONF_PHASES]),
                )
                for kind in (SUBENTRY_CHARGER, SUBENTRY_ENTITY_CHARGER)
                for subentry in entry.get_subentries_of_type(kind)
            )
        ),
    )


async def async_setup_entry(hass: HomeAssistant, entry: HeadroomConfigEntry) -> bool:
    """
    Set up a Headroom site: build the loop, open the ports, run the first cycle.

    Settings that cannot work (whatever stored them) do not stop the site: it loads with
    every charger held at 0 A and a repair issue per problem, and the options flow opens
    to correct them.
    """
    try:
        config = site_config(entry.data, entry.options, chargers_of(entry))
        balancer = Balancer(config.settings)
        # The clock is looked up when used: the coordinator comes later, tests replace it.
        devices = entity_devices(
            hass,
            config,
            balancer,
            clock=lambda: coordinator.clock(),  # noqa: PLW0108
        )
        site = build_site(
            balancer=balancer,
            meter=config.meter or devices.meter,
            chargers={**config.chargers, **devices.chargers},
            watchdog_timeout_s=config.watchdog_timeout_s,
            backup_meter=devices.backup_meter,
        )
    except LineConflictError as err:
        raise ConfigEntryError(
            translation_domain=DOMAIN,
            translation_key="line_conflict",
            translation_placeholders={"error": str(err)},
        ) from err
    except (KeyError, ValueError, Unsupported) as err:
        raise ConfigEntryError(
            translation_domain=DOMAIN,
            translation_key="invalid_settings",
            translation_placeholders={"error": str(err)},
        ) from err

    site.window_meter.resize(config.peak_window_s)
    coordinator = HeadroomCoordinator(hass, entry, site, config)
    try:
        await coordinator.async_config_entry_first_refresh()
    except Exception:
        # Release the port: the retry opens it again, and serial ports are exclusive. The
        # settings' repairs stay: they are true whether or not the port opens.
        await site.close()
        raise

    # Registered up front: the meter and chargers name the site as the device they hang off.
    site_device = dr.async_get(hass).async_get_or_create(
        config_entry_id=entry.entry_id, **site_device_info(entry)
    )
    entry.runtime_data = HeadroomRuntimeData(
        coordinator=coordinator, site_device_id=site_device.id, structure=structure(entry)
    )
    entry.async_on_unload(entry.add_update_listener(_async_update_listener))
    # The loop goes on while the platforms are set up: they can take a second or two.
    coordinator.start_ticking()
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    return True


async def _async_update_listener(hass: HomeAssistant, entry: HeadroomConfigEntry) -> None:
    """Reload when the connection or the devices changed; otherwise apply the settings live."""
    if structure(entry) != entry.runtime_data.structure:
        hass.config_entries.async_schedule_reload(entry.entry_id)
        return
    entry.runtime_data.coordinator.apply_settings(
        site_config(entry.data, entry.options, chargers_of(entry))
    )


async def async_unload_entry(hass: HomeAssistant, entry: HeadroomConfigEntry) -> bool:
    """Unload a site: chargers to the fail-safe current, then release the ports."""
    unloaded = await hass.config_entries.async_unload_platforms(entry, PLATFORMS)
    if unloaded:
        coordinator = entry.runtime_data.coordinator
        await coordinator.stop_ticking()
        await coordinator.async_shutdown()
        await coordinator.site.release()
        await coordinator.site.close()
        coordinator.repairs.release()
    return unloaded


async def async_remove_config_entry_device(
    hass: HomeAssistant,  # noqa: ARG001 (Home Assistant's signature)
    entry: HeadroomConfigEntry,
    device_entry: dr.DeviceEntry,
) -> bool:
    """Let the user remove a device only when it no longer belongs to the site."""
    current = {(DOMAIN, entry.entry_id), device_identifier(entry.entry_id, METER_KEY)}
    current.update(device_identifier(entry.entry_id, key) for key in entry.subentries)
    return not current.intersection(device_entry.identifiers)


async def async_remove_entry(hass: HomeAssistant, entry: ConfigEntry) -> None:
    """Delete the site's repair issues with it (some outlive an unload: settings, retries)."""
    registry = ir.async_get(hass)
    prefix = f"{entry.entry_id}_"
    for domain, issue_id in list(registry.issues):
        if domain == DOMAIN and issue_id.startswith(prefix):
            ir.async_delete_issue(hass, DOMAIN, issue_id)
