"""Diagnostics: settings (redacted), bus statistics, the last cycles of engine input and output."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from homeassistant.components.diagnostics import REDACTED, async_redact_data
from homeassistant.const import CONF_DEVICE, CONF_HOST

from .const import CONF_GRID_POWER_ENTITY, CONF_HOUSE_POWER_ENTITY, CONF_PV_POWER_ENTITY
from .devices.bus import SerialSettings

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant

    from .coordinator import HeadroomConfigEntry
    from .devices.bus import BusSettings, RequestStats

TO_REDACT = {
    CONF_DEVICE,
    CONF_HOST,
    CONF_GRID_POWER_ENTITY,
    CONF_PV_POWER_ENTITY,
    CONF_HOUSE_POWER_ENTITY,
}
"""Adapter serial numbers (in /dev/serial/by-id paths), addresses and entity names."""


def _stats(stats: RequestStats) -> dict[str, Any]:
    return {
        "requests": stats.requests,
        "timeouts": stats.timeouts,
        "errors": stats.errors,
        "retries": stats.retries,
        "latency_last_s": stats.latency_last_s,
        "latency_max_s": stats.latency_max_s,
        "latency_avg_s": stats.latency_avg_s,
    }


def _line(settings: BusSettings) -> dict[str, Any]:
    """Return the line settings of a bus, without the port or address."""
    if isinstance(settings, SerialSettings):
        return {
            "baudrate": settings.baudrate,
            "parity": settings.parity,
            "stopbits": settings.stopbits,
        }
    return {"framer": settings.framer}


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant,  # noqa: ARG001 (Home Assistant's signature)
    entry: HeadroomConfigEntry,
) -> dict[str, Any]:
    """Return the settings, the buses' figures and the last cycles."""
    coordinator = entry.runtime_data.coordinator
    site = coordinator.site
    return {
        "entry": {
            "title": entry.title,
            "data": async_redact_data(dict(entry.data), TO_REDACT),
            "options": async_redact_data(dict(entry.options), TO_REDACT),
            "chargers": {
                subentry.subentry_id: {
                    "title": subentry.title,
                    "data": async_redact_data(dict(subentry.data), TO_REDACT),
                }
                for subentry in entry.subentries.values()
            },
        },
        "settings": dataclasses.asdict(site.balancer.settings),
        "buses": [
            {
                "kind": type(bus.settings).__name__,
                "line": _line(bus.settings),
                "connected": bus.connected,
                "reconnects": bus.stats.reconnects,
                **_stats(bus.stats),
                "devices": {
                    str(device_id): _stats(stats) for device_id, stats in bus.stats.devices.items()
                },
            }
            for bus in site.buses
        ],
        "devices": {
            # The firmware says which bugs a device may have; its serial number is private.
            key: {
                "firmware": identity.firmware,
                "serial_number": identity.serial_number and REDACTED,
            }
            for key, identity in coordinator.data.identities.items()
        },
        # What each charger does when Home Assistant stops: its watchdog as armed (the
        # fail-safe current it reported back), or why it has none.
        "fail_safes": {
            charger_id: {
                "asked_a": status.fail_safe_a,
                "watchdog": dataclasses.asdict(status.watchdog) if status.watchdog else None,
                "unsupported": status.watchdog_unsupported,
                "error": status.watchdog_error,
            }
            for charger_id, status in coordinator.data.chargers.items()
        },
        # Registers a device refused (older firmware, meter variant): sensors without values.
        "disabled_registers": site.disabled_registers,
        "max_house_a": coordinator.max_house_a,
        "loop": {
            "skipped_cycles": coordinator.skipped_cycles,
            "settings_problems": [problem.detail for problem in coordinator.problems],
        },
        "cycles": [
            {
                "snapshot": dataclasses.asdict(record.snapshot),
                "decision": dataclasses.asdict(record.decision),
                "writes": record.writes,
                "duration_s": record.duration_s,
                "cpu_s": record.cpu_s,
                "full": record.full,
            }
            for record in site.history
        ],
    }
