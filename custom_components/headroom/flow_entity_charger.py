"""
The entity charger subentry flow: a charger that another integration controls.

One form: the charger's current-limit `number` (required), how it pauses, its status
entity and the mapping of its states, its current or power sensors, its timing, and the
wiring and limits every charger has. When a charger device of an integration Headroom
knows is registered, a first step offers it to fill the form in (`entity_presets`).
Selectors are filtered by domain and device class; the answers are checked against the
entities' live states (`entity_checks`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import probatio
from homeassistant.components.sensor import SensorDeviceClass
from homeassistant.config_entries import ConfigSubentryFlow, SubentryFlowResult
from homeassistant.const import CONF_NAME
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.selector import (
    DeviceSelector,
    DeviceSelectorConfig,
    EntitySelector,
    EntitySelectorConfig,
    TextSelector,
    TextSelectorConfig,
)
from homeassistant.util.unit_conversion import ElectricCurrentConverter, PowerConverter

from .const import CONF_BREAKER, CONF_MAX_CURRENT, CONF_MAX_LOWERED, CONF_PAUSED
from .entity_checks import limit_problems, missing_problems, sensor_problems
from .entity_config import (
    CONF_BACKUP_METER,
    CONF_CURRENT_ENTITIES,
    CONF_LIMIT_ENTITY,
    CONF_METER_ENTITIES,
    CONF_PAUSE,
    CONF_PAUSE_ENTITY,
    CONF_POWER_ENTITY,
    CONF_RESPONSE,
    CONF_STATUS_ENTITY,
    CONF_STATUS_MANUAL,
    CONF_STATUS_MAPPING,
    CONF_WRITE_INTERVAL,
    DEFAULT_RESPONSE_S,
    DEFAULT_WRITE_INTERVAL_S,
    MAX_RESPONSE_S,
    MAX_WRITE_INTERVAL_S,
    STATUS_MANUAL,
    STATUS_MAPPING_BY_PLATFORM,
    STATUS_MAPPINGS,
    STATUS_NONE,
    SUBENTRY_ENTITY_CHARGER,
    PauseBy,
    entity_charger_config,
    entity_meter_config,
    parse_manual_mapping,
    used_twice,
)
from .entity_presets import PRESETS, preset_answers, preset_devices_exist
from .flow_common import (
    NEW_CHARGER_ID,
    charger_fail_safe_errors,
    charger_settings_data,
    charger_settings_schema,
    name_error,
    number_errors,
    number_field,
    select_field,
)
from .rules import RULES, ProblemKey, number, stored_supply

if TYPE_CHECKING:
    from collections.abc import Mapping

    from homeassistant.config_entries import ConfigEntry

    from .engine.model import Supply

CONF_DEVICE_PRESET = "device"
"""The optional first step's answer: a charger device whose entities fill the form in."""
ENTITY_FIELDS = (
    CONF_LIMIT_ENTITY,
    CONF_PAUSE,
    CONF_PAUSE_ENTITY,
    CONF_STATUS_ENTITY,
    CONF_STATUS_MAPPING,
    CONF_STATUS_MANUAL,
    CONF_CURRENT_ENTITIES,
    CONF_POWER_ENTITY,
    CONF_RESPONSE,
    CONF_WRITE_INTERVAL,
)


def _entity(
    domain: str | list[str], device_class: str | None = None, *, multiple: bool = False
) -> Any:
    if device_class is None:
        return EntitySelector(EntitySelectorConfig(domain=domain, multiple=multiple))
    return EntitySelector(
        EntitySelectorConfig(domain=domain, device_class=device_class, multiple=multiple)
    )


def entity_charger_schema(supply: Supply, defaults: Mapping[str, Any]) -> probatio.Schema:
    """Return the form of an entity charger (with the wiring and limits of every charger)."""

    def optional(key: str) -> Any:
        value = defaults.get(key)
        return probatio.Optional(key, description={"suggested_value": value} if value else None)

    fields: dict[Any, Any] = {
        probatio.Required(
            CONF_LIMIT_ENTITY, default=defaults.get(CONF_LIMIT_ENTITY, probatio.UNDEFINED)
        ): _entity("number"),
        probatio.Required(
            CONF_PAUSE, default=defaults.get(CONF_PAUSE, PauseBy.NUMBER_MINIMUM)
        ): select_field([p.value for p in PauseBy], CONF_PAUSE),
        optional(CONF_PAUSE_ENTITY): _entity("switch"),
        optional(CONF_STATUS_ENTITY): _entity(["sensor", "select"]),
        probatio.Required(
            CONF_STATUS_MAPPING, default=defaults.get(CONF_STATUS_MAPPING, STATUS_NONE)
        ): select_field([STATUS_NONE, *STATUS_MAPPINGS, STATUS_MANUAL], CONF_STATUS_MAPPING),
        optional(CONF_STATUS_MANUAL): TextSelector(TextSelectorConfig(multiline=True)),
        optional(CONF_CURRENT_ENTITIES): _entity(
            "sensor", SensorDeviceClass.CURRENT, multiple=True
        ),
        optional(CONF_POWER_ENTITY): _entity("sensor", SensorDeviceClass.POWER),
        probatio.Required(
            CONF_RESPONSE, default=float(defaults.get(CONF_RESPONSE, DEFAULT_RESPONSE_S))
        ): number_field(0, MAX_RESPONSE_S, unit="s"),
        probatio.Required(
            CONF_WRITE_INTERVAL,
            default=float(defaults.get(CONF_WRITE_INTERVAL, DEFAULT_WRITE_INTERVAL_S)),
        ): number_field(0, MAX_WRITE_INTERVAL_S, unit="s"),
    }
    common = charger_settings_schema(supply, defaults, with_name=CONF_NAME in defaults)
    return probatio.Schema({**common.schema, **fields})


def entity_data(user_input: Mapping[str, Any]) -> dict[str, Any]:
    """Return the entity part of the form's answers as stored."""
    data: dict[str, Any] = {
        CONF_LIMIT_ENTITY: user_input[CONF_LIMIT_ENTITY],
        CONF_PAUSE: user_input[CONF_PAUSE],
        CONF_STATUS_MAPPING: user_input[CONF_STATUS_MAPPING],
        CONF_RESPONSE: float(user_input[CONF_RESPONSE]),
        CONF_WRITE_INTERVAL: float(user_input[CONF_WRITE_INTERVAL]),
    }
    for key in (CONF_PAUSE_ENTITY, CONF_STATUS_ENTITY, CONF_POWER_ENTITY, CONF_STATUS_MANUAL):
        if user_input.get(key):
            data[key] = user_input[key]
    if user_input.get(CONF_CURRENT_ENTITIES):
        data[CONF_CURRENT_ENTITIES] = list(user_input[CONF_CURRENT_ENTITIES])
    return data


def other_entities(entry: ConfigEntry, exclude: str | None) -> list[tuple[str, ...]]:
    """Return the entities the site already uses, but those of the subentry `exclude`."""
    meters = (
        entity_meter_config(entry.data.get(CONF_METER_ENTITIES)),
        entity_meter_config(entry.options.get(CONF_BACKUP_METER)),
    )
    groups = [meter.entities for meter in meters if meter is not None]
    groups.extend(
        entity_charger_config(subentry.data, lines=1, voltage_v=230.0).entities
        for subentry in entry.get_subentries_of_type(SUBENTRY_ENTITY_CHARGER)
        if subentry.subentry_id != exclude
    )
    return groups


class EntityChargerSubentryFlow(ConfigSubentryFlow):
    """Add or change a charger that another integration controls."""

    _preset: dict[str, Any] | None = None
    """What the charger's device filled in (None: the device was not asked for yet)."""

    async def async_step_device(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Offer to fill the form from a charger device of an integration Headroom knows."""
        if user_input is not None:
            device_id = user_input.get(CONF_DEVICE_PRESET)
            self._preset = preset_answers(self.hass, device_id) if device_id else {}
            return await self.async_step_user()
        selector = DeviceSelector(
            DeviceSelectorConfig(filter=[{"integration": platform} for platform in PRESETS])
        )
        return self.async_show_form(
            step_id="device",
            data_schema=probatio.Schema({probatio.Optional(CONF_DEVICE_PRESET): selector}),
        )

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> SubentryFlowResult:
        """Pick the charger's entities, timing, wiring and limits."""
        entry = self._get_entry()
        supply = stored_supply(entry.options)
        if supply is None:
            return self.async_abort(reason="site_needs_repair")
        if self._preset is None and user_input is None and preset_devices_exist(self.hass):
            return await self.async_step_device()
        errors: dict[str, str] = {}
        placeholders: dict[str, str] = {}
        if user_input is not None:
            user_input = self._with_status_mapping(user_input)
            errors = self._errors(entry, user_input, exclude=None)
            if not errors:
                data = {**entity_data(user_input), **charger_settings_data(user_input)}
                errors, placeholders = charger_fail_safe_errors(entry, NEW_CHARGER_ID, data)
                if not errors:
                    return self.async_create_entry(title=user_input[CONF_NAME].strip(), data=data)
        defaults = {CONF_NAME: "", **(self._preset or {}), **(user_input or {})}
        return self.async_show_form(
            step_id="user",
            data_schema=entity_charger_schema(supply, defaults),
            errors=errors,
            description_placeholders=placeholders,
        )

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Change the charger's entities, timing, wiring and limits."""
        entry = self._get_entry()
        subentry = self._get_reconfigure_subentry()
        supply = stored_supply(entry.options)
        if supply is None:
            return self.async_abort(reason="site_needs_repair")
        errors: dict[str, str] = {}
        placeholders: dict[str, str] = {}
        if user_input is not None:
            user_input = self._with_status_mapping(user_input)
            errors = self._errors(entry, user_input, exclude=subentry.subentry_id)
            if not errors:
                settings = charger_settings_data(user_input)
                settings[CONF_PAUSED] = bool(subentry.data.get(CONF_PAUSED, False))
                data = {**entity_data(user_input), **settings}
                errors, placeholders = charger_fail_safe_errors(entry, subentry.subentry_id, data)
                if not errors:
                    return self.async_update_and_abort(entry, subentry, data=data)
        defaults = {k: v for k, v in subentry.data.items() if k != CONF_MAX_LOWERED}
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=entity_charger_schema(supply, {**defaults, **(user_input or {})}),
            errors=errors,
            description_placeholders=placeholders,
        )

    def _with_status_mapping(self, user_input: dict[str, Any]) -> dict[str, Any]:
        """
        Take a status entity's mapping from the integration that provides it, when not chosen.

        A status entity with no mapping would read every word as unknown (counted as
        charging); `_form_errors` asks for one when the integration is not one Headroom knows.
        """
        status = user_input.get(CONF_STATUS_ENTITY)
        if not status or user_input.get(CONF_STATUS_MAPPING, STATUS_NONE) != STATUS_NONE:
            return user_input
        registered = er.async_get(self.hass).async_get(status)
        mapping = STATUS_MAPPING_BY_PLATFORM.get(registered.platform) if registered else None
        return user_input if mapping is None else {**user_input, CONF_STATUS_MAPPING: mapping}

    def _errors(
        self, entry: ConfigEntry, user_input: Mapping[str, Any], *, exclude: str | None
    ) -> dict[str, str]:
        """Check the answers: numbers, the entities' units and ranges, nothing used twice."""
        errors = _form_errors(entry, user_input)
        if errors:
            return errors
        currents = list(user_input.get(CONF_CURRENT_ENTITIES) or [])
        lines = len(charger_settings_data(user_input)["phases"])
        max_a = float(user_input[CONF_MAX_CURRENT])
        problems = [
            *limit_problems(
                self.hass,
                user_input[CONF_LIMIT_ENTITY],
                field=CONF_LIMIT_ENTITY,
                max_a=max_a,
                pause_by_minimum=user_input[CONF_PAUSE] == PauseBy.NUMBER_MINIMUM,
            ),
            *sensor_problems(
                self.hass, currents, ElectricCurrentConverter, field=CONF_CURRENT_ENTITIES
            ),
            *(
                problem
                for key in (CONF_STATUS_ENTITY, CONF_PAUSE_ENTITY)
                if user_input.get(key)
                for problem in missing_problems(self.hass, [user_input[key]], field=key)
            ),
            *sensor_problems(
                self.hass,
                [user_input[CONF_POWER_ENTITY]] if user_input.get(CONF_POWER_ENTITY) else [],
                PowerConverter,
                field=CONF_POWER_ENTITY,
            ),
        ]
        for problem in problems:
            errors.setdefault(problem.field or "base", problem.key.value)
        if not errors and currents and len(currents) != lines:
            errors[CONF_CURRENT_ENTITIES] = ProblemKey.ENTITY_COUNT.value
        mine = entity_charger_config(
            {**entity_data(user_input), CONF_MAX_CURRENT: max_a}, lines=lines, voltage_v=230.0
        )
        if not errors and used_twice([mine.entities, *other_entities(entry, exclude)]):
            errors["base"] = ProblemKey.ENTITY_USED_TWICE.value
        return errors


def _form_errors(entry: ConfigEntry, user_input: Mapping[str, Any]) -> dict[str, str]:
    """Check what needs no entity state: numbers, name, required entities, the mapping."""
    errors = number_errors(user_input, (CONF_MAX_CURRENT,))
    if CONF_NAME in user_input and (error := name_error(user_input[CONF_NAME])) is not None:
        errors[CONF_NAME] = error
    if errors:
        return errors
    breaker_a = number(entry.options.get(CONF_BREAKER))
    if float(user_input[CONF_MAX_CURRENT]) > (
        breaker_a if breaker_a is not None else RULES[CONF_BREAKER].maximum
    ):
        errors[CONF_MAX_CURRENT] = "charger_above_breaker"
    if user_input[CONF_PAUSE] == PauseBy.SWITCH and not user_input.get(CONF_PAUSE_ENTITY):
        errors[CONF_PAUSE_ENTITY] = "entity_required"
    mapping = user_input[CONF_STATUS_MAPPING]
    if mapping != STATUS_NONE and not user_input.get(CONF_STATUS_ENTITY):
        errors[CONF_STATUS_ENTITY] = "entity_required"
    if mapping == STATUS_NONE and user_input.get(CONF_STATUS_ENTITY):
        errors[CONF_STATUS_MAPPING] = ProblemKey.STATUS_MAPPING_NEEDED.value
    if mapping == STATUS_MANUAL:
        try:
            manual = parse_manual_mapping(str(user_input.get(CONF_STATUS_MANUAL, "")))
        except ValueError:
            manual = {}
        if not manual:
            errors[CONF_STATUS_MANUAL] = ProblemKey.STATUS_MAPPING.value
    return errors
