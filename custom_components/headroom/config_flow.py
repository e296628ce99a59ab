"""
Config flow: find the meter and chargers on a port or gateway and describe the site.

Steps: connection -> serial port or gateway -> bus scan (progress) -> meter (found, by
hand, or none) -> site -> chargers (found and/or by hand) -> each charger's wiring ->
fail-safe current. A site of Home Assistant devices only: connection (none) -> meter
sensors -> site -> fail-safe current; its chargers are added afterwards. Chargers become
config subentries, so they can be added, changed and removed later without a restart.
The options flow holds the limits and the solar source; the reconfigure flow moves the
site to another port or gateway.

The steps live in three layers of one flow sharing one `SetupDraft`: `flow_scan.ScanSteps`
(connection, USB discovery, scan), this class (meter, site, reconfigure) and
`flow_chargers.ChargerSteps` (chargers, fail-safe, the entry it creates).
"""

from __future__ import annotations

from typing import Any

import probatio
from homeassistant.config_entries import (
    ConfigEntry,
    ConfigEntryState,
    ConfigFlowResult,
    ConfigSubentryFlow,
    OptionsFlow,
)
from homeassistant.const import CONF_DEVICE, CONF_HOST, CONF_NAME, CONF_PORT
from homeassistant.core import callback
from homeassistant.helpers.selector import (
    SelectOptionDict,
    SerialPortSelector,
    TextSelector,
)

from .const import (
    CONF_BREAKER,
    CONF_CONNECTION,
    CONF_DEVICE_ID,
    CONF_MARGIN,
    CONF_METER_ID,
    CONF_METER_MODEL,
    CONF_MODEL,
    CONF_SUPPLY,
    CONF_VOLTAGE,
    CONNECTION_ENTITIES,
    CONNECTION_SERIAL,
    DEFAULT_MARGIN_A,
    DEFAULT_VOLTAGE_V,
    DOMAIN,
    ENTITIES_SITE_ID,
    SUBENTRY_CHARGER,
)
from .engine.model import Supply
from .entity_config import CONF_METER_ENTITIES, SUBENTRY_ENTITY_CHARGER
from .flow_chargers import ChargerSteps
from .flow_common import (
    CONF_METER,
    METER_ENTITIES,
    METER_MANUAL,
    METER_NONE,
    finite_only,
    found_line,
    line_data,
    line_fields,
    meter_models,
    number_field,
    probe_device,
    select_field,
    site_errors,
)
from .flow_entity_charger import EntityChargerSubentryFlow
from .flow_entity_meter import (
    meter_entities_data,
    meter_entities_errors,
    meter_entity_fields,
)
from .options_flow import HeadroomOptionsFlow
from .settings import bus_settings
from .subentry_flow import ChargerSubentryFlow


class HeadroomConfigFlow(ChargerSteps, domain=DOMAIN):
    """Set up a site: a port or gateway, its meter, the site and its chargers."""

    VERSION = 1

    @staticmethod
    @callback
    def async_get_options_flow(config_entry: ConfigEntry) -> OptionsFlow:  # noqa: ARG004
        """Return the options flow (limits, fail-safe, solar)."""
        return HeadroomOptionsFlow()

    @classmethod
    @callback
    def async_get_supported_subentry_types(
        cls,
        config_entry: ConfigEntry,  # noqa: ARG003 (Home Assistant's signature)
    ) -> dict[str, type[ConfigSubentryFlow]]:
        """Chargers are subentries: added and removed without a restart."""
        return {
            SUBENTRY_CHARGER: ChargerSubentryFlow,
            SUBENTRY_ENTITY_CHARGER: EntityChargerSubentryFlow,
        }

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Ask how the bus is reached, or take a site of Home Assistant devices only."""
        if user_input is not None and user_input[CONF_CONNECTION] == CONNECTION_ENTITIES:
            # One such site: a second has no port of its own to tell it apart.
            await self.async_set_unique_id(ENTITIES_SITE_ID)
            self._abort_if_unique_id_configured()
            return await self.async_step_meter_entities()
        return await super().async_step_user(user_input)

    async def async_step_scan_skipped(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Say which line settings the adapter refused: devices using them were not found."""
        if user_input is not None:
            return await self.async_step_meter()
        return self.async_show_form(
            step_id="scan_skipped",
            description_placeholders={
                "bus": self._bus_label(),
                "found": str(len(self.draft.found)),
                # The line settings without the port: "19200 8E1, 9600 8E1".
                "skipped": ", ".join(settings.line for settings in self.draft.skipped),
            },
        )

    # --- meter --------------------------------------------------------------------------

    async def async_step_meter(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Choose the meter from what was found, or add it by hand, or none."""
        errors: dict[str, str] = {}
        meters = self._found_of("meter")
        if user_input is not None:
            choice = user_input[CONF_METER]
            if choice == METER_MANUAL:
                return await self.async_step_meter_manual()
            if choice == METER_NONE:
                self.draft.meter = None
                return await self.async_step_site()
            if choice == METER_ENTITIES:
                return await self.async_step_meter_entities()
            found = self.draft.found[int(choice)]
            error, self.draft.max_house_a = await probe_device(
                self.hass, found.settings, found.model, found.device_id
            )
            if error is None:
                self.draft.meter = {
                    CONF_METER_MODEL: found.model,
                    CONF_METER_ID: found.device_id,
                    **found_line(found),
                }
                return await self.async_step_site()
            errors["base"] = error
        elif not self.draft.found:
            errors["base"] = "nothing_found"
        options = [
            SelectOptionDict(value=str(index), label=self._found_label(found))
            for index, found in meters
        ]
        options += [
            SelectOptionDict(value=METER_MANUAL, label=METER_MANUAL),
            SelectOptionDict(value=METER_ENTITIES, label=METER_ENTITIES),
            SelectOptionDict(value=METER_NONE, label=METER_NONE),
        ]
        return self.async_show_form(
            step_id="meter",
            data_schema=probatio.Schema(
                {
                    probatio.Required(CONF_METER, default=options[0]["value"]): select_field(
                        options, CONF_METER
                    )
                }
            ),
            errors=errors,
            description_placeholders={
                "found": str(len(self.draft.found)),
                "bus": self._bus_label(),
            },
        )

    async def async_step_meter_manual(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Add the meter by hand: model, device id and line settings; read it once."""
        errors: dict[str, str] = {}
        if user_input is not None:
            meter = {
                CONF_METER_MODEL: user_input[CONF_MODEL],
                CONF_METER_ID: int(user_input[CONF_DEVICE_ID]),
                **self._manual_line(user_input),
            }
            error, self.draft.max_house_a = await probe_device(
                self.hass,
                bus_settings({**self.draft.bus, **meter}),
                meter[CONF_METER_MODEL],
                meter[CONF_METER_ID],
            )
            if error is None:
                self.draft.meter = meter
                return await self.async_step_site()
            errors["base"] = error
        models = meter_models()
        return self.async_show_form(
            step_id="meter_manual",
            data_schema=self._manual_schema(models, "eastron_sdm630"),
            errors=errors,
        )

    async def async_step_meter_entities(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Take the meter from sensors Home Assistant already has (P1/DSMR, Shelly...)."""
        errors: dict[str, str] = {}
        if user_input is not None:
            meter = meter_entities_data(user_input)
            errors = meter_entities_errors(self.hass, user_input, phases=None) or (
                {} if meter else {"base": "meter_entities_required"}
            )
            if not errors:
                self.draft.meter = {CONF_METER_ENTITIES: meter}
                return await self.async_step_site()
        return self.async_show_form(
            step_id="meter_entities",
            data_schema=self.add_suggested_values_to_schema(
                probatio.Schema(meter_entity_fields()), user_input or {}
            ),
            errors=errors,
        )

    # --- site ---------------------------------------------------------------------------

    async def async_step_site(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Describe the supply and the main breaker."""
        errors: dict[str, str] = {}
        if user_input is not None:
            errors = site_errors(user_input)
            if not errors:
                self.draft.site = {
                    CONF_NAME: user_input[CONF_NAME].strip(),
                    CONF_SUPPLY: user_input[CONF_SUPPLY],
                    CONF_VOLTAGE: float(user_input[CONF_VOLTAGE]),
                    CONF_BREAKER: float(user_input[CONF_BREAKER]),
                    CONF_MARGIN: float(user_input[CONF_MARGIN]),
                }
                if not self.draft.bus:
                    # No port to scan: chargers through Home Assistant are added afterwards.
                    return await self.async_step_fail_safe()
                return await self.async_step_chargers()
        return self.async_show_form(
            step_id="site",
            data_schema=self.add_suggested_values_to_schema(
                probatio.Schema(
                    {
                        probatio.Required(CONF_NAME, default="Headroom"): TextSelector(),
                        probatio.Required(
                            CONF_SUPPLY, default=Supply.THREE_PHASE.value
                        ): select_field([s.value for s in Supply], CONF_SUPPLY),
                        probatio.Required(CONF_VOLTAGE, default=DEFAULT_VOLTAGE_V): number_field(
                            100, 400, unit="V"
                        ),
                        probatio.Required(CONF_BREAKER): number_field(1, 400, unit="A"),
                        probatio.Required(CONF_MARGIN, default=DEFAULT_MARGIN_A): number_field(
                            0, 50, 0.5, unit="A"
                        ),
                    }
                ),
                finite_only(user_input or {}),
            ),
            errors=errors,
        )

    # --- reconfigure --------------------------------------------------------------------

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Move the site to another port or gateway (the meter must answer there)."""
        entry = self._get_reconfigure_entry()
        if CONF_CONNECTION not in entry.data:
            return self.async_abort(reason="no_connection")
        serial = entry.data[CONF_CONNECTION] == CONNECTION_SERIAL
        errors: dict[str, str] = {}
        if user_input is not None:
            bus = {CONF_CONNECTION: entry.data[CONF_CONNECTION]}
            if serial:
                bus[CONF_DEVICE] = user_input[CONF_DEVICE]
                bus.update(line_data(user_input))
            else:
                bus[CONF_HOST] = user_input[CONF_HOST]
                bus[CONF_PORT] = int(user_input[CONF_PORT])
            unique_id = bus_settings(bus).key
            await self.async_set_unique_id(unique_id)
            if unique_id != entry.unique_id:
                self._abort_if_unique_id_configured()
            # The running site holds the port: release it to test the new settings.
            was_loaded = entry.state is ConfigEntryState.LOADED
            if was_loaded:
                await self.hass.config_entries.async_unload(entry.entry_id)
            error = None
            if CONF_METER_ID in entry.data:
                error, _ = await probe_device(
                    self.hass,
                    bus_settings({**entry.data, **bus}),
                    entry.data[CONF_METER_MODEL],
                    entry.data[CONF_METER_ID],
                )
            if error is None:
                self._move_chargers(entry, bus)
                # Unloaded (or never loaded): no update listener is registered now.
                return self.async_update_reload_and_abort(
                    entry, unique_id=unique_id, data_updates=bus
                )
            if was_loaded:
                await self.hass.config_entries.async_setup(entry.entry_id)
            errors["base"] = error
        fields: dict[Any, Any]
        if serial:
            fields = {probatio.Required(CONF_DEVICE): SerialPortSelector()}
            fields.update(line_fields(entry.data))
        else:
            fields = {
                probatio.Required(CONF_HOST): TextSelector(),
                probatio.Required(CONF_PORT): number_field(1, 65535),
            }
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=self.add_suggested_values_to_schema(
                probatio.Schema(fields),
                {
                    key: entry.data[key]
                    for key in (CONF_DEVICE, CONF_HOST, CONF_PORT)
                    if key in entry.data
                },
            ),
            errors=errors,
        )
