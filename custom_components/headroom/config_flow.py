"""
Config flow: find the meter and chargers on a port or gateway and describe the site.

Steps: connection -> serial port or gateway -> bus scan (progress) -> meter (found, by
hand, or none) -> site -> chargers (found and/or by hand) -> each charger's wiring ->
fail-safe current. Chargers become config subentries, so they can be added, changed and
removed later without a restart. The options flow holds the limits and the solar source;
the reconfigure flow moves the site to another port or gateway.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import probatio
from homeassistant.config_entries import (
    ConfigEntry,
    ConfigEntryState,
    ConfigFlowResult,
    ConfigSubentryData,
    ConfigSubentryFlow,
    OptionsFlow,
)
from homeassistant.const import CONF_DEVICE, CONF_HOST, CONF_NAME, CONF_PORT
from homeassistant.core import callback
from homeassistant.helpers.selector import (
    BooleanSelector,
    SelectOptionDict,
    SerialPortSelector,
    TextSelector,
)

from .const import (
    CONF_BAUDRATE,
    CONF_BREAKER,
    CONF_CIRCUIT,
    CONF_CONNECTION,
    CONF_DEVICE_ID,
    CONF_FAIL_SAFE,
    CONF_MARGIN,
    CONF_METER_ID,
    CONF_METER_MODEL,
    CONF_MODE,
    CONF_MODEL,
    CONF_PARITY,
    CONF_STOPBITS,
    CONF_SUPPLY,
    CONF_USB_ID,
    CONF_VOLTAGE,
    CONNECTION_SERIAL,
    DEFAULT_MARGIN_A,
    DEFAULT_VOLTAGE_V,
    DOMAIN,
    SUBENTRY_CHARGER,
)
from .devices.chargers import SUPPORTED_CHARGERS
from .devices.registers import get_profile
from .engine import suggest_fail_safe_a
from .engine.fail_safe import max_fail_safe_a
from .engine.model import Mode, Supply
from .entity_config import CONF_METER_ENTITIES, SUBENTRY_ENTITY_CHARGER
from .flow_common import (
    CONF_ADD_MANUAL,
    CONF_CHARGERS,
    CONF_METER,
    METER_ENTITIES,
    METER_MANUAL,
    METER_NONE,
    charger_errors,
    charger_settings_data,
    charger_settings_schema,
    charger_unique_id,
    device_id_field,
    fail_safe_errors,
    finite_only,
    found_line,
    line_data,
    line_fields,
    meter_models,
    number_field,
    probe_device,
    problem_errors,
    profile_defaults,
    select_field,
    site_errors,
    site_unique_id,
)
from .flow_entity_charger import EntityChargerSubentryFlow
from .flow_entity_meter import (
    meter_entities_data,
    meter_entities_errors,
    meter_entity_fields,
)
from .flow_scan import ScanSteps
from .options_flow import HeadroomOptionsFlow
from .settings import (
    ChargerConfig,
    bus_settings,
    describe_bus,
    line_conflict,
    validate,
)
from .subentry_flow import ChargerSubentryFlow

if TYPE_CHECKING:
    from collections.abc import Mapping


class HeadroomConfigFlow(ScanSteps, domain=DOMAIN):
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

    # --- connection -----------------------------------------------------------------------

    # --- scan ---------------------------------------------------------------------------

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
                "skipped": ", ".join(
                    describe_bus(settings).removeprefix(f"{self._bus_label()} ")
                    for settings in self.draft.skipped
                ),
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

    def _manual_line(self, user_input: Mapping[str, Any]) -> dict[str, Any]:
        if self.draft.bus[CONF_CONNECTION] != CONNECTION_SERIAL:
            return {}
        return line_data(user_input)

    def _manual_schema(self, models: list[str], default: str) -> probatio.Schema:
        defaults = profile_defaults(default)
        fields: dict[Any, Any] = {
            probatio.Required(CONF_MODEL, default=default): select_field(
                [SelectOptionDict(value=m, label=get_profile(m).name) for m in models], CONF_MODEL
            ),
            probatio.Required(
                CONF_DEVICE_ID, default=float(defaults.get(CONF_DEVICE_ID, 1))
            ): device_id_field(self.draft.bus[CONF_CONNECTION]),
        }
        if self.draft.bus[CONF_CONNECTION] == CONNECTION_SERIAL:
            fields.update(line_fields(defaults))
        return probatio.Schema(fields)

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

    # --- chargers -----------------------------------------------------------------------

    async def async_step_chargers(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Choose the chargers that were found; add more by hand if needed."""
        found = self._found_of("charger")
        if user_input is not None:
            self.draft.pending = [
                {
                    CONF_MODEL: self.draft.found[int(index)].model,
                    CONF_DEVICE_ID: self.draft.found[int(index)].device_id,
                    **found_line(self.draft.found[int(index)]),
                }
                for index in user_input.get(CONF_CHARGERS, [])
            ]
            if user_input[CONF_ADD_MANUAL]:
                return await self.async_step_charger_manual()
            return await self.async_step_charger()
        options = [
            SelectOptionDict(value=str(index), label=self._found_label(device))
            for index, device in found
        ]
        fields: dict[Any, Any] = {}
        if options:
            fields[probatio.Optional(CONF_CHARGERS, default=[o["value"] for o in options])] = (
                select_field(options, CONF_CHARGERS, multiple=True)
            )
        fields[probatio.Required(CONF_ADD_MANUAL, default=not options)] = BooleanSelector()
        return self.async_show_form(
            step_id="chargers",
            data_schema=probatio.Schema(fields),
            description_placeholders={"found": str(len(options))},
        )

    async def async_step_charger_manual(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Add a charger by hand: model, device id and line settings; read it once."""
        errors: dict[str, str] = {}
        if user_input is not None:
            charger = {
                CONF_MODEL: user_input[CONF_MODEL],
                CONF_DEVICE_ID: int(user_input[CONF_DEVICE_ID]),
                **self._manual_line(user_input),
            }
            error, _ = await probe_device(
                self.hass,
                bus_settings({**self.draft.bus, **charger}),
                charger[CONF_MODEL],
                charger[CONF_DEVICE_ID],
            )
            if error is None:
                self.draft.pending.append(charger)
                return await self.async_step_charger()
            errors["base"] = error
        return self.async_show_form(
            step_id="charger_manual",
            data_schema=self._manual_schema(
                sorted(SUPPORTED_CHARGERS), "heidelberg_energy_control"
            ),
            errors=errors,
        )

    async def async_step_charger(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Describe each chosen charger: name, wiring, maximum, circuit, priority."""
        if not self.draft.pending:
            return await self.async_step_fail_safe()
        charger = self.draft.pending[0]
        supply = Supply(self.draft.site[CONF_SUPPLY])
        errors: dict[str, str] = {}
        if user_input is not None:
            errors = charger_errors(
                user_input,
                breaker_a=self.draft.site[CONF_BREAKER],
                model=charger[CONF_MODEL],
            )
            data = (
                {**self.draft.bus, **charger, **charger_settings_data(user_input)}
                if not errors
                else {}
            )
            if not errors and self._conflicts(data):
                errors["base"] = "line_conflict"
            if not errors:
                self.draft.pending.pop(0)
                self.draft.chargers.append(
                    ConfigSubentryData(
                        data=data,
                        subentry_type=SUBENTRY_CHARGER,
                        title=user_input[CONF_NAME].strip(),
                        unique_id=charger_unique_id(data),
                    )
                )
                return await self.async_step_charger()
        profile = get_profile(charger[CONF_MODEL])
        return self.async_show_form(
            step_id="charger",
            data_schema=charger_settings_schema(
                supply,
                {CONF_NAME: f"{profile.name.split(' ', 1)[0]} {charger[CONF_DEVICE_ID]}"},
                with_name=True,
            ),
            errors=errors,
            description_placeholders={
                "model": profile.name,
                "device_id": str(charger[CONF_DEVICE_ID]),
            },
        )

    def _conflicts(self, data: Mapping[str, Any]) -> bool:
        settings = bus_settings(data)
        others = [bus_settings(c["data"]) for c in self.draft.chargers]
        if self.draft.meter is not None and CONF_METER_ID in self.draft.meter:
            others.append(bus_settings({**self.draft.bus, **self.draft.meter}))
        return any(line_conflict(settings, other) for other in others) or any(
            charger_unique_id(c["data"]) == charger_unique_id(data) for c in self.draft.chargers
        )

    async def async_step_fail_safe(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Set the fail-safe current (suggested) and the chargers' shared circuit rating."""
        errors: dict[str, str] = {}
        if user_input is not None:
            errors = fail_safe_errors(user_input) or problem_errors(
                validate(*self._as_entry(user_input))[0], (CONF_FAIL_SAFE, CONF_CIRCUIT)
            )
            if not errors:
                return self._create(user_input)
        breaker_a = self.draft.site[CONF_BREAKER]
        margin_a = self.draft.site[CONF_MARGIN]
        suggested = suggest_fail_safe_a(
            breaker_a, margin_a, self.draft.max_house_a, max(1, len(self.draft.chargers))
        )
        _, settings = validate(*self._as_entry({CONF_FAIL_SAFE: 0.0, **(user_input or {})}))
        most_a = max_fail_safe_a(settings) if settings is not None else 0.0
        suggested = min(suggested, most_a)
        return self.async_show_form(
            step_id="fail_safe",
            data_schema=probatio.Schema(
                {
                    probatio.Required(CONF_FAIL_SAFE, default=suggested): number_field(
                        0, 80, unit="A"
                    ),
                    probatio.Required(CONF_CIRCUIT, default=0.0): number_field(0, 400, unit="A"),
                }
            ),
            errors=errors,
            description_placeholders={"suggested": f"{suggested:g}", "maximum": f"{most_a:g}"},
        )

    def _as_entry(
        self, user_input: Mapping[str, Any]
    ) -> tuple[dict[str, Any], dict[str, Any], list[ChargerConfig]]:
        """Return the entry this flow would create, as `validate` takes it."""
        options = self._options(user_input)
        chargers = [
            ChargerConfig(charger_id=str(index), data=charger["data"])
            for index, charger in enumerate(self.draft.chargers)
        ]
        data: dict[str, Any] = {}
        if self.draft.meter is not None:
            entities = self.draft.meter.get(CONF_METER_ENTITIES)
            data = {CONF_METER_ENTITIES: entities} if entities else {CONF_METER_ID: 0}
        return data, options, chargers

    def _options(self, user_input: Mapping[str, Any]) -> dict[str, Any]:
        return {
            CONF_SUPPLY: self.draft.site[CONF_SUPPLY],
            CONF_VOLTAGE: self.draft.site[CONF_VOLTAGE],
            CONF_BREAKER: self.draft.site[CONF_BREAKER],
            CONF_MARGIN: self.draft.site[CONF_MARGIN],
            CONF_FAIL_SAFE: float(user_input.get(CONF_FAIL_SAFE, 0.0)),
            CONF_CIRCUIT: float(user_input.get(CONF_CIRCUIT, 0.0)),
            CONF_MODE: Mode.FAST.value,
        }

    def _create(self, user_input: Mapping[str, Any]) -> ConfigFlowResult:
        data: dict[str, Any] = dict(self.draft.bus)
        if self.draft.usb_id is not None:
            data[CONF_USB_ID] = self.draft.usb_id
        if self.draft.meter is not None:
            data.update(self.draft.meter)
        elif self.draft.chargers:
            data.update(
                {
                    key: self.draft.chargers[0]["data"][key]
                    for key in (CONF_BAUDRATE, CONF_PARITY, CONF_STOPBITS)
                    if key in self.draft.chargers[0]["data"]
                }
            )
        options = self._options(user_input)
        return self.async_create_entry(
            title=self.draft.site[CONF_NAME],
            data=data,
            options=options,
            subentries=self.draft.chargers,
        )

    # --- reconfigure --------------------------------------------------------------------

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Move the site to another port or gateway (the meter must answer there)."""
        entry = self._get_reconfigure_entry()
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
            unique_id = site_unique_id(bus)
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
