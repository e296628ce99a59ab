"""
A charger another integration controls, filled in from its device.

For the integrations that ship with Home Assistant, which of a charger's entities does
what is known from their own entity descriptions (`translation_key`, found in each
integration's `strings.json`): the current-limit number, the switch that pauses it, the
status sensor and the current or power sensors. Picking the device fills the charger form
with them; the form checks them as it checks any entity.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from homeassistant.const import CONF_NAME
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er

from .entity_config import (
    CONF_CURRENT_ENTITIES,
    CONF_LIMIT_ENTITY,
    CONF_PAUSE,
    CONF_PAUSE_ENTITY,
    CONF_POWER_ENTITY,
    CONF_RESPONSE,
    CONF_STATUS_ENTITY,
    CONF_STATUS_MAPPING,
    CONF_WRITE_INTERVAL,
    STATUS_MAPPING_BY_PLATFORM,
    PauseBy,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

    from homeassistant.core import HomeAssistant


@dataclass(frozen=True, slots=True, kw_only=True)
class Preset:
    """The translation keys of a charger integration's entities, by what they do."""

    limit: str
    """The current-limit number."""
    pause_switch: str | None = None
    """The switch that stops and resumes charging (None: the number's minimum pauses)."""
    status: str | None = None
    """The sensor whose words say whether a car is there and charging."""
    currents: tuple[str, ...] = ()
    """Current sensors, line 1 first."""
    power: str | None = None
    """A power sensor, where there are no current sensors."""
    timing: Mapping[str, float] | None = None
    """Response time and write interval other than the form's defaults (cloud APIs)."""


_TESLA: Final = Preset(
    limit="charge_state_charge_current_request",
    pause_switch="charge_state_charging_state",
    status="charge_state_charging_state",
    power="charge_state_charger_power",
    timing={CONF_RESPONSE: 30.0, CONF_WRITE_INTERVAL: 30.0},
)
PRESETS: Final[Mapping[str, Preset]] = {
    "peblar": Preset(
        limit="charge_current_limit",
        pause_switch="charge",
        status="cp_state",
        currents=("current_phase_1", "current_phase_2", "current_phase_3"),
    ),
    "nrgkick": Preset(
        limit="current_set",
        pause_switch="charging_enabled",
        status="status",
        currents=("l1_current", "l2_current", "l3_current"),
    ),
    "lektrico": Preset(
        limit="dynamic_limit",
        status="state",
        currents=("current_l1", "current_l2", "current_l3"),
    ),
    "technove": Preset(limit="max_current", pause_switch="session_active", status="status"),
    "besen": Preset(
        limit="charging_current",
        pause_switch="charging",
        status="current_state",
        currents=("l1_current", "l2_current", "l3_current"),
    ),
    "wallbox": Preset(
        limit="maximum_charging_current",
        pause_switch="pause_resume",
        status="status_description",
        power="charging_power",
    ),
    "teslemetry": _TESLA,
    "tesla_fleet": _TESLA,
    "tessie": _TESLA,
}
"""Charger integrations of Home Assistant whose entities a device brings, by platform."""


def preset_answers(hass: HomeAssistant, device_id: str) -> dict[str, Any]:
    """
    Return the charger form's answers a device brings (empty when it brings none).

    Only its enabled entities count: one that is off (a diagnostic sensor the integration
    leaves disabled) has no state to read.
    """
    device = dr.async_get(hass).async_get(device_id)
    if device is None:
        return {}
    entities = [
        entry
        for entry in er.async_entries_for_device(er.async_get(hass), device_id)
        if entry.platform in PRESETS and entry.disabled_by is None
    ]
    if not entities:
        return {}
    platform = entities[0].platform
    preset = PRESETS[platform]
    by_key = {
        (entry.domain, entry.translation_key): entry.entity_id
        for entry in entities
        if entry.platform == platform
    }

    def find(domain: str, key: str | None) -> str | None:
        return by_key.get((domain, key)) if key is not None else None

    answers: dict[str, Any] = {CONF_NAME: device.name_by_user or device.name or ""}
    if (limit := find("number", preset.limit)) is not None:
        answers[CONF_LIMIT_ENTITY] = limit
    if (switch := find("switch", preset.pause_switch)) is not None:
        answers[CONF_PAUSE] = PauseBy.SWITCH.value
        answers[CONF_PAUSE_ENTITY] = switch
    if (status := find("sensor", preset.status)) is not None:
        answers[CONF_STATUS_ENTITY] = status
        answers[CONF_STATUS_MAPPING] = STATUS_MAPPING_BY_PLATFORM[platform]
    currents = [entity for key in preset.currents if (entity := find("sensor", key))]
    if currents:
        answers[CONF_CURRENT_ENTITIES] = currents
    elif (power := find("sensor", preset.power)) is not None:
        answers[CONF_POWER_ENTITY] = power
    answers.update(preset.timing or {})
    return answers


def preset_devices_exist(hass: HomeAssistant) -> bool:
    """Tell whether any device of a preset integration is registered (the step is useful)."""
    return any(
        entry.platform in PRESETS and entry.device_id is not None
        for entry in er.async_get(hass).entities.values()
    )
