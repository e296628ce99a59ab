"""The site's devices in Home Assistant's device registry: the site, its meter, each charger."""

from __future__ import annotations

from typing import TYPE_CHECKING

from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.device_registry import DeviceInfo

from .const import CONF_METER_MODEL, CONF_MODEL, DOMAIN
from .devices.registers import get_profile
from .entity_config import SUBENTRY_ENTITY_CHARGER
from .site import METER_KEY

if TYPE_CHECKING:
    from collections.abc import Mapping

    from homeassistant.config_entries import ConfigSubentry
    from homeassistant.core import HomeAssistant

    from .coordinator import HeadroomConfigEntry
    from .devices.identity import DeviceIdentity


def device_identifier(entry_id: str, key: str) -> tuple[str, str]:
    """
    Return the registry identifier of a device of the site.

    `key` is the site's own key for it: `METER_KEY` ("meter") or a charger's subentry id.
    """
    return (DOMAIN, f"{entry_id}_{key}")


def site_device_info(entry: HeadroomConfigEntry) -> DeviceInfo:
    """Return the site device: the balancer itself."""
    return DeviceInfo(
        identifiers={(DOMAIN, entry.entry_id)},
        manufacturer="Headroom",
        model="Load balancer",
        name=entry.title,
    )


def _vendor(model_name: str) -> str:
    """Return the vendor of a profile's model name ("Eastron SDM630..." -> "Eastron")."""
    return model_name.split(" ", 1)[0]


def _device_info(entry: HeadroomConfigEntry, key: str, model: str, name: str) -> DeviceInfo:
    """Return the device of the meter or a charger, hanging off the site."""
    profile = get_profile(model)
    info = DeviceInfo(
        identifiers={device_identifier(entry.entry_id, key)},
        manufacturer=_vendor(profile.name),
        model=profile.name,
        model_id=profile.id,
        name=name,
        via_device_id=entry.runtime_data.site_device_id,
    )
    # What the device said of itself, when it has been read already (see Site).
    identity = entry.runtime_data.coordinator.data.identities.get(key)
    if identity is not None:
        info["sw_version"] = identity.firmware
        info["serial_number"] = identity.serial_number
    return info


def meter_device_info(entry: HeadroomConfigEntry) -> DeviceInfo:
    """Return the meter device, hanging off the site."""
    return _device_info(entry, METER_KEY, entry.data[CONF_METER_MODEL], f"{entry.title} meter")


def charger_device_info(entry: HeadroomConfigEntry, subentry: ConfigSubentry) -> DeviceInfo:
    """
    Return a charger's device, hanging off the site.

    A charger controlled through Home Assistant has no model Headroom knows: its device is
    Headroom's view of it, beside (never merged into) the device of the integration that
    owns it.
    """
    if subentry.subentry_type == SUBENTRY_ENTITY_CHARGER:
        return DeviceInfo(
            identifiers={device_identifier(entry.entry_id, subentry.subentry_id)},
            manufacturer="Headroom",
            model="Charger through Home Assistant",
            name=subentry.title,
            via_device_id=entry.runtime_data.site_device_id,
        )
    return _device_info(entry, subentry.subentry_id, subentry.data[CONF_MODEL], subentry.title)


def record_identities(
    hass: HomeAssistant,
    entry_id: str,
    identities: Mapping[str, DeviceIdentity],
    recorded: dict[str, DeviceIdentity],
) -> None:
    """
    Put the firmware versions and serial numbers the devices reported into the registry.

    `recorded` holds what is there already (by the site's device key) and is kept up to date.
    """
    registry = dr.async_get(hass)
    for key, identity in identities.items():
        if recorded.get(key) == identity:
            continue
        device = registry.async_get_device_by_identifier(device_identifier(entry_id, key), entry_id)
        if device is None:
            continue  # its entities are not set up yet: their device info carries it
        registry.async_update_device(
            device.id, sw_version=identity.firmware, serial_number=identity.serial_number
        )
        recorded[key] = identity
