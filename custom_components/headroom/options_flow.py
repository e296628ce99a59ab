"""
The options flow: the installer's limits, fail-safe, timing and the solar source.

The limits' step also holds the meter's sensors: a Modbus meter's backup sensors (the
fallback chain, stored in the options), or the sensors a meter made of entities is (stored
in the entry's data, so changing them reloads the site).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import probatio
from homeassistant.config_entries import (
    ConfigEntry,
    ConfigEntryState,
    ConfigFlowResult,
    OptionsFlow,
)
from homeassistant.helpers.selector import (
    EntitySelector,
    EntitySelectorConfig,
)

from .const import (
    CONF_BREAKER,
    CONF_BREAKER_LOWERED,
    CONF_CIRCUIT,
    CONF_FAIL_SAFE,
    CONF_GRID_POWER_ENTITY,
    CONF_GRID_TOLERANCE,
    CONF_HOUSE_POWER_ENTITY,
    CONF_MARGIN,
    CONF_METER_ID,
    CONF_METER_STALE,
    CONF_PEAK_TARGET,
    CONF_PEAK_WINDOW,
    CONF_PV_POWER_ENTITY,
    CONF_SOLAR_SOURCE,
    CONF_SOLAR_START_DELAY,
    CONF_SOLAR_STOP_DELAY,
    CONF_SUPPLY,
    CONF_WATCHDOG_TIMEOUT,
    DEFAULT_GRID_TOLERANCE_W,
    DEFAULT_MARGIN_A,
    DEFAULT_METER_STALE_S,
    DEFAULT_SOLAR_START_DELAY_S,
    DEFAULT_SOLAR_STOP_DELAY_S,
    DEFAULT_WATCHDOG_TIMEOUT_S,
    MAX_PEAK_TARGET_KW,
    PEAK_WINDOWS_MIN,
    SOLAR_SOURCE_GRID,
    SOLAR_SOURCE_NONE,
    SOLAR_SOURCE_PV_HOUSE,
    SOLAR_SOURCES,
)
from .coordinator import chargers_of
from .engine import suggest_fail_safe_a
from .engine.fail_safe import max_fail_safe_a
from .engine.model import Supply
from .engine_settings import measures_import
from .entity_config import (
    CONF_BACKUP_METER,
    CONF_CURRENT_ENTITIES,
    CONF_METER_ENTITIES,
    CONF_POWER_ENTITIES,
    CONF_VOLTAGE_ENTITIES,
    SUBENTRY_ENTITY_CHARGER,
    entity_charger_config,
)
from .flow_common import (
    LIMIT_FIELDS,
    SOLAR_FIELDS,
    finite_only,
    number_errors,
    number_field,
    problem_errors,
    select_field,
)
from .flow_entity_meter import (
    BACKUP_PREFIX,
    meter_entities_data,
    meter_entities_errors,
    meter_entity_fields,
)
from .rules import ProblemKey, number, stored_supply
from .validation import validate

if TYPE_CHECKING:
    from collections.abc import Mapping

PEAK_FIELDS = (CONF_PEAK_TARGET, CONF_PEAK_WINDOW)
"""The import budget per window (capacity tariffs): only offered with a meter."""


ENTITY_KEYS = (CONF_CURRENT_ENTITIES, CONF_POWER_ENTITIES, CONF_VOLTAGE_ENTITIES)


def meter_suggestions(entry: ConfigEntry) -> dict[str, Any]:
    """Return the stored backup sensors, or the entity meter's, as the options form's fields."""
    backup = entry.options.get(CONF_BACKUP_METER) or {}
    meter = entry.data.get(CONF_METER_ENTITIES) or {}
    return {
        **{f"{BACKUP_PREFIX}{key}": value for key, value in backup.items()},
        **meter,
    }


def _meter_prefix(data: Mapping[str, Any]) -> str | None:
    """Return the form's prefix of the meter sensors a site has: backup, its own, none."""
    if CONF_METER_ID in data:
        return BACKUP_PREFIX
    return "" if CONF_METER_ENTITIES in data else None


class HeadroomOptionsFlow(OptionsFlow):
    """Limits, fail-safe, timing and the solar source: applied without a restart."""

    def __init__(self) -> None:
        """Start with no changes."""
        self._options: dict[str, Any] = {}
        self._data: dict[str, Any] = {}

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Limits, margin, fail-safe current and timing."""
        entry = self.config_entry
        errors: dict[str, str] = {}
        if user_input is not None:
            limits, meter, meter_errors = self._take_meter(user_input)
            merged = {**entry.options, **limits}
            merged.pop(CONF_BACKUP_METER, None)
            data = dict(entry.data)
            if meter and CONF_METER_ID in data:
                merged[CONF_BACKUP_METER] = meter
            elif meter:
                data[CONF_METER_ENTITIES] = meter
            if number(merged.get(CONF_BREAKER)) != number(entry.options.get(CONF_BREAKER)):
                # The installer's new rating replaces what a user lowered it to.
                merged.pop(CONF_BREAKER_LOWERED, None)
            fields = (*LIMIT_FIELDS, *PEAK_FIELDS)
            errors = number_errors(merged, fields) or problem_errors(
                validate(data, merged, chargers_of(entry))[0],
                (*fields, CONF_SUPPLY),
                {ProblemKey.CHARGER_ABOVE_BREAKER: CONF_BREAKER},
            )
            errors = meter_errors or errors
            if not errors:
                self._options = merged
                self._data = data
                return await self.async_step_solar()
        suggested = self._suggested_fail_safe_a()
        return self.async_show_form(
            step_id="init",
            data_schema=self.add_suggested_values_to_schema(
                probatio.Schema(
                    {
                        probatio.Required(CONF_BREAKER): number_field(1, 400, unit="A"),
                        probatio.Required(CONF_MARGIN): number_field(0, 50, 0.5, unit="A"),
                        probatio.Required(CONF_FAIL_SAFE): number_field(0, 80, unit="A"),
                        probatio.Required(CONF_CIRCUIT, default=0.0): number_field(
                            0, 400, unit="A"
                        ),
                        probatio.Required(
                            CONF_METER_STALE, default=DEFAULT_METER_STALE_S
                        ): number_field(2, 60, unit="s"),
                        probatio.Required(
                            CONF_WATCHDOG_TIMEOUT, default=DEFAULT_WATCHDOG_TIMEOUT_S
                        ): number_field(10, 60, unit="s"),
                        **self._supply_field(),
                        **self._peak_fields(),
                        # A Modbus meter's backup sensors (the fallback chain), or the
                        # sensors the meter is.
                        **self._meter_fields(),
                    }
                ),
                finite_only({**entry.options, **meter_suggestions(entry), **(user_input or {})}),
            ),
            errors=errors,
            description_placeholders={
                "suggested": f"{suggested:g}",
                "maximum": f"{self._max_fail_safe_a(user_input):g}",
            },
        )

    def _supply_field(self) -> dict[Any, Any]:
        """Ask the supply again only when the stored one is missing or unknown (a repair)."""
        if stored_supply(self.config_entry.options) is not None:
            return {}
        return {
            probatio.Required(CONF_SUPPLY, default=Supply.THREE_PHASE.value): select_field(
                [s.value for s in Supply], CONF_SUPPLY
            )
        }

    def _peak_fields(self) -> dict[Any, Any]:
        """Return the capacity tariff's fields: target and window (with a meter only)."""
        if not measures_import(self.config_entry.data):
            return {}
        return {
            probatio.Optional(CONF_PEAK_TARGET): number_field(
                0, MAX_PEAK_TARGET_KW, 0.1, unit="kW"
            ),
            probatio.Optional(CONF_PEAK_WINDOW): select_field(
                [str(m) for m in PEAK_WINDOWS_MIN], CONF_PEAK_WINDOW
            ),
        }

    def _meter_fields(self) -> dict[Any, Any]:
        """Return the meter sensors' fields: a Modbus meter's backup, an entity meter's own."""
        prefix = _meter_prefix(self.config_entry.data)
        return meter_entity_fields(prefix) if prefix is not None else {}

    def _take_meter(
        self, user_input: dict[str, Any]
    ) -> tuple[dict[str, Any], dict[str, Any], dict[str, str]]:
        """Split the meter sensors (stored as one meter) from the limits; check them."""
        entry = self.config_entry
        form_keys = {f"{prefix}{key}" for prefix in ("", BACKUP_PREFIX) for key in ENTITY_KEYS}
        options = {k: v for k, v in user_input.items() if k not in form_keys}
        prefix = _meter_prefix(entry.data)
        if prefix is None:
            return options, {}, {}
        meter = meter_entities_data(user_input, prefix)
        supply = stored_supply(entry.options)
        others = [
            entity_charger_config(s.data, lines=1, voltage_v=230.0).entities
            for s in entry.get_subentries_of_type(SUBENTRY_ENTITY_CHARGER)
        ]
        errors = meter_entities_errors(
            self.hass,
            user_input,
            prefix=prefix,
            phases=len(supply.phases) if supply is not None else None,
            others=others,
        )
        if not prefix and not meter and not errors:
            # The site's only meter: it can be changed, not removed.
            errors["base"] = "meter_entities_required"
        return options, meter, errors

    def _max_fail_safe_a(self, user_input: Mapping[str, Any] | None) -> float:
        """Return the largest fail-safe current these limits allow (0 while they cannot work)."""
        entry = self.config_entry
        options = {**entry.options, **(user_input or {}), CONF_FAIL_SAFE: 0.0}
        _, settings = validate(entry.data, options, chargers_of(entry))
        return max_fail_safe_a(settings) if settings is not None else 0.0

    def _suggested_fail_safe_a(self) -> float:
        """Suggest the fail-safe from the largest house load the running site has seen."""
        entry = self.config_entry
        chargers = len(chargers_of(entry))  # Modbus and entity chargers alike
        max_house_a = 0.0
        if entry.state is ConfigEntryState.LOADED:
            max_house_a = entry.runtime_data.coordinator.max_house_a
        # Stored values may be what needs repairing: no suggestion from them then.
        breaker_a = number(entry.options.get(CONF_BREAKER))
        margin_a = number(entry.options.get(CONF_MARGIN, DEFAULT_MARGIN_A))
        if breaker_a is None or margin_a is None:
            return 0.0
        return min(
            suggest_fail_safe_a(breaker_a, margin_a, max_house_a, max(1, chargers)),
            self._max_fail_safe_a(None),
        )

    async def async_step_solar(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Ask for the PV surplus source and the solar thresholds."""
        errors: dict[str, str] = {}
        if user_input is not None:
            source = user_input[CONF_SOLAR_SOURCE]
            needed = {
                SOLAR_SOURCE_NONE: (),
                SOLAR_SOURCE_GRID: (CONF_GRID_POWER_ENTITY,),
                SOLAR_SOURCE_PV_HOUSE: (CONF_PV_POWER_ENTITY, CONF_HOUSE_POWER_ENTITY),
            }[source]
            errors = {key: "entity_required" for key in needed if not user_input.get(key)}
            errors.update(number_errors(user_input, SOLAR_FIELDS))
            if not errors:
                options = {**self._options, **user_input}
                for key in (CONF_GRID_POWER_ENTITY, CONF_PV_POWER_ENTITY, CONF_HOUSE_POWER_ENTITY):
                    if key not in user_input:
                        options.pop(key, None)
                entry = self.config_entry
                if self._data != entry.data:
                    # The entity meter's sensors: one update with the options, one reload.
                    self.hass.config_entries.async_update_entry(
                        entry, data=self._data, options=options
                    )
                return self.async_create_entry(data=options)
        power = EntitySelector(EntitySelectorConfig(domain="sensor", device_class="power"))
        return self.async_show_form(
            step_id="solar",
            data_schema=self.add_suggested_values_to_schema(
                probatio.Schema(
                    {
                        probatio.Required(
                            CONF_SOLAR_SOURCE, default=SOLAR_SOURCE_NONE
                        ): select_field(list(SOLAR_SOURCES), CONF_SOLAR_SOURCE),
                        probatio.Optional(CONF_GRID_POWER_ENTITY): power,
                        probatio.Optional(CONF_PV_POWER_ENTITY): power,
                        probatio.Optional(CONF_HOUSE_POWER_ENTITY): power,
                        probatio.Required(
                            CONF_SOLAR_START_DELAY, default=DEFAULT_SOLAR_START_DELAY_S
                        ): number_field(0, 3600, unit="s"),
                        probatio.Required(
                            CONF_SOLAR_STOP_DELAY, default=DEFAULT_SOLAR_STOP_DELAY_S
                        ): number_field(0, 3600, unit="s"),
                        probatio.Required(
                            CONF_GRID_TOLERANCE, default=DEFAULT_GRID_TOLERANCE_W
                        ): number_field(0, 5000, unit="W"),
                    }
                ),
                finite_only({**self.config_entry.options, **(user_input or {})}),
            ),
            errors=errors,
        )
