"""
A site's stored configuration parsed once: where its devices are, the settings in force.

No Home Assistant import: plain mappings in (the entry's data and options, the charger
subentries), typed values out for setup, the coordinator, the entities and the flows. The
numbers' rules are in `rules`, the checks in `validation`, the engine's settings built in
`engine_settings`.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import TYPE_CHECKING, Any, Final, Literal, cast

from .const import (
    CONF_BAUDRATE,
    CONF_BREAKER,
    CONF_CONNECTION,
    CONF_DEVICE_ID,
    CONF_MAX_CURRENT,
    CONF_METER_ID,
    CONF_METER_MODEL,
    CONF_MODEL,
    CONF_PARITY,
    CONF_STOPBITS,
    CONNECTION_RTU_OVER_TCP,
    CONNECTION_SERIAL,
    DEFAULT_BAUDRATE,
    DEFAULT_PARITY,
    DEFAULT_STOPBITS,
    DEFAULT_TCP_PORT,
)
from .devices.bus import BusSettings, SerialSettings, TcpSettings
from .engine_settings import hold_settings
from .entity_config import (
    CONF_BACKUP_METER,
    CONF_METER_ENTITIES,
    EntityChargerConfig,
    EntityMeterConfig,
    entity_charger_config,
    entity_meter_config,
    is_entity_charger,
)
from .rules import number, peak_window_s, watchdog_timeout_s
from .validation import validate

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from .engine.model import SiteSettings
    from .engine_settings import ChargerConfig
    from .rules import Problem

CONF_DEVICE: Final = "device"
"""Home Assistant's CONF_DEVICE, repeated here to keep this module free of it."""
CONF_HOST: Final = "host"
CONF_PORT: Final = "port"


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceLocation:
    """Which model a meter or charger is and where it answers."""

    model: str
    device_id: int
    bus: BusSettings


def bus_settings(data: Mapping[str, Any]) -> BusSettings:
    """Return the port or gateway a config entry (or charger subentry) talks to."""
    connection = data[CONF_CONNECTION]
    if connection == CONNECTION_SERIAL:
        return SerialSettings(
            port=data[CONF_DEVICE],
            baudrate=int(data.get(CONF_BAUDRATE, DEFAULT_BAUDRATE)),
            parity=cast("Literal['N', 'E', 'O']", data.get(CONF_PARITY, DEFAULT_PARITY)),
            stopbits=cast("Literal[1, 2]", int(data.get(CONF_STOPBITS, DEFAULT_STOPBITS))),
        )
    return TcpSettings(
        host=data[CONF_HOST],
        port=int(data.get(CONF_PORT, DEFAULT_TCP_PORT)),
        framer="rtu" if connection == CONNECTION_RTU_OVER_TCP else "socket",
    )


def line_conflict(first: BusSettings, second: BusSettings) -> bool:
    """Tell whether two devices on one port need different line settings or framing."""
    return first.key == second.key and first != second


@dataclass(frozen=True, slots=True, kw_only=True)
class SiteConfig:
    """
    A site's stored configuration, parsed once: where its devices are, the settings in force.

    While `problems` holds anything, `settings` are the 0 A hold (`hold_settings`).
    """

    meter: DeviceLocation | None
    chargers: Mapping[str, DeviceLocation]
    """The Modbus chargers."""
    entity_meter: EntityMeterConfig | None = None
    """The meter when it is made of sensors (then `meter` is None)."""
    backup_meter: EntityMeterConfig | None = None
    """Sensors read while the Modbus meter is silent (the meter fallback chain)."""
    entity_chargers: Mapping[str, EntityChargerConfig] = dataclass_field(default_factory=dict)
    """The chargers other integrations control, by charger id."""
    settings: SiteSettings
    problems: tuple[Problem, ...]
    watchdog_timeout_s: float
    peak_window_s: float
    """Length of the import window (capacity tariffs), kept without a target."""
    installer_breaker_a: float | None = None
    """The installer's main breaker rating (a user may lower the one in force, not raise it)."""
    installer_max_a: Mapping[str, float | None] = dataclass_field(default_factory=dict)
    """Each charger's maximum as the installer set it, by charger id."""


def site_config(
    data: Mapping[str, Any], options: Mapping[str, Any], chargers: Iterable[ChargerConfig]
) -> SiteConfig:
    """
    Parse an entry's data, options and charger subentries once.

    Settings that cannot work give the 0 A hold and their problems; a device whose location
    cannot be read (no model, no id) raises KeyError or ValueError: that is no setting a
    user can correct in the options.
    """
    chargers = list(chargers)
    problems, settings = validate(data, options, chargers)
    settings = settings or hold_settings(data, options, chargers)
    lines = {c.charger_id: len(c.phases) for c in settings.chargers}
    return SiteConfig(
        meter=DeviceLocation(
            model=str(data[CONF_METER_MODEL]),
            device_id=int(data[CONF_METER_ID]),
            bus=bus_settings(data),
        )
        if CONF_METER_ID in data
        else None,
        chargers={
            charger.charger_id: DeviceLocation(
                model=str(charger.data[CONF_MODEL]),
                device_id=int(charger.data[CONF_DEVICE_ID]),
                bus=bus_settings(charger.data),
            )
            for charger in chargers
            if not is_entity_charger(charger.data)
        },
        entity_meter=entity_meter_config(data.get(CONF_METER_ENTITIES)),
        backup_meter=(
            entity_meter_config(options.get(CONF_BACKUP_METER)) if CONF_METER_ID in data else None
        ),
        entity_chargers={
            charger.charger_id: entity_charger_config(
                charger.data, lines=lines[charger.charger_id], voltage_v=settings.voltage_v
            )
            for charger in chargers
            if is_entity_charger(charger.data)
        },
        settings=settings,
        problems=tuple(problems),
        watchdog_timeout_s=watchdog_timeout_s(options),
        peak_window_s=peak_window_s(options),
        installer_breaker_a=number(options.get(CONF_BREAKER)),
        installer_max_a={
            charger.charger_id: number(charger.data.get(CONF_MAX_CURRENT)) for charger in chargers
        },
    )
