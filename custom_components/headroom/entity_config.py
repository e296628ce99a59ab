"""
What a meter or charger made of Home Assistant entities stores, parsed into typed values.

No Home Assistant import: the config flow, the settings and the tests read the same
structures. Which integration stands behind the entities is never known or stored: a
charger's status is mapped by a table of state words (`STATUS_MAPPINGS`) the user picks,
named after the integrations whose words it holds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Final

from .engine.model import ChargerState

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

# --- entry data (meter), options (backup), entity charger subentry data ---------------------
SUBENTRY_ENTITY_CHARGER: Final = "entity_charger"
CONF_METER_ENTITIES: Final = "meter_entities"
"""Entry data: the site's meter is these sensors (instead of a Modbus meter)."""
CONF_BACKUP_METER: Final = "backup_meter"
"""Options: sensors read while the Modbus meter is silent (the meter fallback chain)."""
CONF_CURRENT_ENTITIES: Final = "current_entities"
CONF_POWER_ENTITIES: Final = "power_entities"
CONF_VOLTAGE_ENTITIES: Final = "voltage_entities"
CONF_LIMIT_ENTITY: Final = "limit_entity"
CONF_PAUSE: Final = "pause"
CONF_PAUSE_ENTITY: Final = "pause_entity"
CONF_STATUS_ENTITY: Final = "status_entity"
CONF_STATUS_MAPPING: Final = "status_mapping"
CONF_STATUS_MANUAL: Final = "status_manual"
"""Manual mapping: one `state: category` per line."""
CONF_POWER_ENTITY: Final = "power_entity"
CONF_RESPONSE: Final = "response_s"
CONF_WRITE_INTERVAL: Final = "min_write_interval_s"

CONF_MAX_A: Final = "max_a"
"""The installer's maximum (the same key as a Modbus charger's)."""

DEFAULT_RESPONSE_S: Final = 5.0
DEFAULT_WRITE_INTERVAL_S: Final = 0.0
MAX_RESPONSE_S: Final = 120.0
MAX_WRITE_INTERVAL_S: Final = 600.0


class PauseBy(StrEnum):
    """How an entity charger is paused."""

    NUMBER_MINIMUM = "number_minimum"
    """Set the limit number to its minimum, which must be below 6 A (0 on most)."""
    SWITCH = "switch"
    """Turn a switch off (and on again to resume)."""


class StatusCategory(StrEnum):
    """What the loop needs to know of a charger's status."""

    IDLE = "idle"  # no car
    CONNECTED = "connected"  # a car, not charging
    CHARGING = "charging"
    ERROR = "error"


CATEGORY_STATE: Final = {
    StatusCategory.IDLE: ChargerState.A,
    StatusCategory.CONNECTED: ChargerState.B,
    StatusCategory.CHARGING: ChargerState.C,
    StatusCategory.ERROR: ChargerState.E,
}
"""The IEC 61851 letter the engine gets for each category."""

_I, _CO, _CH, _E = (
    StatusCategory.IDLE,
    StatusCategory.CONNECTED,
    StatusCategory.CHARGING,
    StatusCategory.ERROR,
)
STATUS_MAPPINGS: Final[Mapping[str, Mapping[str, StatusCategory]]] = {
    # OCPP 1.6 ChargePointStatus, as the HA `ocpp` integration's status sensor shows it.
    "ocpp": {
        "available": _I,
        "preparing": _CO,
        "charging": _CH,
        "suspendedevse": _CO,
        "suspendedev": _CO,
        "finishing": _CO,
        "reserved": _I,
        "unavailable": _E,
        "faulted": _E,
    },
    # Easee: the charger's operating mode.
    "easee": {
        "disconnected": _I,
        "offline": _E,
        "awaiting_start": _CO,
        "awaiting_authorization": _CO,
        "ready_to_charge": _CO,
        "charging": _CH,
        "completed": _CO,
        "de_authorizing": _CO,
        "error": _E,
    },
    # Wallbox: the status description.
    "wallbox": {
        "ready": _I,
        "disconnected": _I,
        "charging": _CH,
        "discharging": _CO,
        "paused": _CO,
        "scheduled": _CO,
        "waiting_for_car_demand": _CO,
        "waiting": _CO,
        "locked": _I,
        "locked_car_connected": _CO,
        "waiting_in_queue_by_power_sharing": _CO,
        "waiting_in_queue_by_power_boost": _CO,
        "waiting_in_queue_by_eco_smart": _CO,
        "updating": _E,
        "error": _E,
        "waiting_mid_failed": _E,
        "waiting_mid_safety_margin_exceeded": _E,
    },
    # go-e: the car state (API `car`: 1 idle, 2 charging, 3 wait car, 4 complete, 5 error).
    "go_e": {
        "idle": _I,
        "1": _I,
        "charging": _CH,
        "2": _CH,
        "waitcar": _CO,
        "wait_for_car": _CO,
        "3": _CO,
        "complete": _CO,
        "4": _CO,
        "error": _E,
        "5": _E,
    },
    # OpenEVSE: the EVSE state (Home Assistant's own `openevse` integration, and the
    # custom one's words for the same faults: bad_ground, gfi_self_test_failed).
    "openevse": {
        "not_connected": _I,
        "sleeping": _CO,
        "disabled": _CO,
        "connected": _CO,
        "charging": _CH,
        "vent_required": _E,
        "diode_check_failed": _E,
        "gfci_fault": _E,
        "no_ground": _E,
        "bad_ground": _E,
        "stuck_relay": _E,
        "gfci_self_test_failure": _E,
        "gfi_self_test_failed": _E,
        "over_temperature": _E,
        "over_current": _E,
    },
    # Zaptec: the charger operation mode.
    "zaptec": {
        "disconnected": _I,
        "connected_requesting": _CO,
        "connected_charging": _CH,
        "connected_finished": _CO,
    },
    # Peblar (Home Assistant's `peblar` integration): the control-pilot state, `cp_state`.
    "peblar": {
        "no_ev_connected": _I,
        "suspended": _CO,
        "charging": _CH,
        "error": _E,
        "fault": _E,
        "invalid": _E,
    },
    # NRGkick (Home Assistant's `nrgkick` integration): the charging status; `wakeup` is
    # the car being woken up to charge.
    "nrgkick": {
        "standby": _I,
        "connected": _CO,
        "wakeup": _CO,
        "charging": _CH,
        "error": _E,
    },
    # TechnoVE (Home Assistant's `technove` integration): the station status.
    "technove": {
        "unplugged": _I,
        "plugged_waiting": _CO,
        "high_tariff_period": _CO,
        "out_of_activation_period": _CO,
        "plugged_charging": _CH,
        "evse_fault": _E,
        "ground_fault": _E,
        "pilot_fault": _E,
        "ventilation_required": _E,
    },
    # SILLA Prism (Home Assistant's `silla_prism` integration): the port state.
    "silla_prism": {
        "idle": _I,
        "waiting": _CO,
        "paused": _CO,
        "charging": _CH,
    },
    # BESEN (Home Assistant's `besen` integration): its Current state sensor (a diagnostic
    # one, off until enabled); both charging faults stop the charge.
    "besen": {
        "not_connected": _I,
        "ready_to_charge": _CO,
        "waiting_for_button": _CO,
        "waiting_for_swipe": _CO,
        "charging_reservation": _CO,
        "completed": _CO,
        "completed_full_charge": _CO,
        "charging": _CH,
        "fault": _E,
        "charging_fault_1": _E,
        "charging_fault_2": _E,
    },
    # A Tesla through Home Assistant's `teslemetry`, `tesla_fleet` or `tessie`
    # integration: the car's charging state (the car, not the charger, takes the limit).
    "tesla": {
        "disconnected": _I,
        "stopped": _CO,
        "complete": _CO,
        "no_power": _CO,
        "starting": _CH,
        "charging": _CH,
    },
    # Lektrico (Home Assistant's `lektrico` integration): the charger state. A locked
    # charger may have a car behind it: counted as one, which keeps its room.
    "lektrico": {
        "available": _I,
        "connected": _CO,
        "need_auth": _CO,
        "paused": _CO,
        "paused_by_scheduler": _CO,
        "locked": _CO,
        "charging": _CH,
        "error": _E,
        "updating_firmware": _E,
    },
}
"""State words (normalized, see `normalize_state`) of common integrations' status entities."""
STATUS_MANUAL: Final = "manual"
STATUS_NONE: Final = "none"
STATUS_MAPPING_BY_PLATFORM: Final[Mapping[str, str]] = {
    "ocpp": "ocpp",
    "easee": "easee",
    "wallbox": "wallbox",
    "openevse": "openevse",
    "zaptec": "zaptec",
    "peblar": "peblar",
    "nrgkick": "nrgkick",
    "lektrico": "lektrico",
    "technove": "technove",
    "silla_prism": "silla_prism",
    "besen": "besen",
    "teslemetry": "tesla",
    "tesla_fleet": "tesla",
    "tessie": "tesla",
}
"""The mapping for a status entity, from the integration (platform) that provides it."""


def normalize_state(value: str) -> str:
    """Compare state words loosely: `Locked, car connected` is `locked_car_connected`."""
    words = "".join(c if c.isalnum() else " " for c in value.strip().lower()).split()
    return "_".join(words)


def parse_manual_mapping(text: str) -> dict[str, StatusCategory]:
    """
    Read a manual mapping, one `state: category` a line; ValueError names a bad line.

    Categories: idle, connected, charging, error.
    """
    mapping: dict[str, StatusCategory] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        state, sep, category = line.rpartition(":")
        key = normalize_state(state)
        if not sep or not key or category.strip().lower() not in set(StatusCategory):
            msg = f"not `state: idle|connected|charging|error`: {line!r}"
            raise ValueError(msg)
        mapping[key] = StatusCategory(category.strip().lower())
    return mapping


@dataclass(frozen=True, slots=True, kw_only=True)
class EntityMeterConfig:
    """A meter made of sensors: per-phase currents, or per-phase power (and voltages)."""

    current_entities: tuple[str, ...] = ()
    """One current sensor per phase of the supply (A)."""
    power_entities: tuple[str, ...] = ()
    """One power sensor per phase (W or kW; positive while importing, or unsigned)."""
    voltage_entities: tuple[str, ...] = ()
    """With power: one voltage sensor per phase, or none for the nominal voltage."""

    @property
    def entities(self) -> tuple[str, ...]:
        """Every entity it reads."""
        return (*self.current_entities, *self.power_entities, *self.voltage_entities)


@dataclass(frozen=True, slots=True, kw_only=True)
class EntityChargerConfig:
    """A charger another integration controls, through its entities."""

    limit_entity: str
    pause: PauseBy = PauseBy.NUMBER_MINIMUM
    pause_entity: str | None = None
    status_entity: str | None = None
    status_mapping: Mapping[str, StatusCategory] = dataclass_field(default_factory=dict)
    current_entities: tuple[str, ...] = ()
    """One current sensor per wired line (A), or none."""
    power_entity: str | None = None
    """Without current sensors: the charger's power (W, kW), spread over its lines."""
    max_limit_a: int = 6
    """The installer's maximum: never written above it (a user's lower one is the engine's)."""
    lines: int = 3
    voltage_v: float = 230.0
    response_s: float = DEFAULT_RESPONSE_S
    min_write_interval_s: float = DEFAULT_WRITE_INTERVAL_S

    @property
    def entities(self) -> tuple[str, ...]:
        """Every entity it reads or writes."""
        optional = (self.pause_entity, self.status_entity, self.power_entity)
        return (
            self.limit_entity,
            *(entity for entity in optional if entity),
            *self.current_entities,
        )


def _entities(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,) if value else ()
    if isinstance(value, list | tuple):
        return tuple(str(item) for item in value if item)
    return ()


def entity_meter_config(data: Mapping[str, Any] | None) -> EntityMeterConfig | None:
    """Parse a stored entity meter (entry data or the backup in the options); None if none."""
    if not data:
        return None
    config = EntityMeterConfig(
        current_entities=_entities(data.get(CONF_CURRENT_ENTITIES)),
        power_entities=_entities(data.get(CONF_POWER_ENTITIES)),
        voltage_entities=_entities(data.get(CONF_VOLTAGE_ENTITIES)),
    )
    return config if config.current_entities or config.power_entities else None


def status_mapping(data: Mapping[str, Any]) -> dict[str, StatusCategory]:
    """Return the status mapping a charger subentry chose (ValueError: a bad manual one)."""
    choice = data.get(CONF_STATUS_MAPPING, STATUS_NONE)
    if choice == STATUS_MANUAL:
        return parse_manual_mapping(str(data.get(CONF_STATUS_MANUAL, "")))
    return dict(STATUS_MAPPINGS.get(choice, {}))


def entity_charger_config(
    data: Mapping[str, Any], *, lines: int, voltage_v: float
) -> EntityChargerConfig:
    """
    Parse an entity charger subentry (KeyError without a limit entity).

    A manual status mapping that cannot be read maps nothing (every state then counts as
    charging, the safe side); the settings' checks report it.
    """
    try:
        mapping = status_mapping(data)
    except ValueError:
        mapping = {}

    def seconds(key: str, default: float) -> float:
        value = data.get(key, default)
        finite = isinstance(value, int | float) and math.isfinite(value)
        return float(value) if finite else default

    return EntityChargerConfig(
        limit_entity=str(data[CONF_LIMIT_ENTITY]),
        pause=PauseBy(data.get(CONF_PAUSE, PauseBy.NUMBER_MINIMUM)),
        pause_entity=data.get(CONF_PAUSE_ENTITY) or None,
        status_entity=data.get(CONF_STATUS_ENTITY) or None,
        status_mapping=mapping,
        current_entities=_entities(data.get(CONF_CURRENT_ENTITIES)),
        power_entity=data.get(CONF_POWER_ENTITY) or None,
        max_limit_a=math.floor(seconds(CONF_MAX_A, 6.0)),
        lines=lines,
        voltage_v=voltage_v,
        response_s=seconds(CONF_RESPONSE, DEFAULT_RESPONSE_S),
        min_write_interval_s=seconds(CONF_WRITE_INTERVAL, DEFAULT_WRITE_INTERVAL_S),
    )


def is_entity_charger(data: Mapping[str, Any]) -> bool:
    """Tell whether a charger's stored data is an entity charger's."""
    return CONF_LIMIT_ENTITY in data


def used_twice(groups: Iterable[Iterable[str]]) -> list[str]:
    """Return the entities that appear more than once across `groups` (in first order)."""
    seen: set[str] = set()
    twice: list[str] = []
    for group in groups:
        for entity in group:
            if entity in seen and entity not in twice:
                twice.append(entity)
            seen.add(entity)
    return twice
