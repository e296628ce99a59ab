"""
The setup flow's last steps: the chargers, the fail-safe current, and the entry it creates.

`ChargerSteps` goes on from the meter and site steps (`config_flow.HeadroomConfigFlow`):
it lets the user pick the chargers the scan found or add them by hand, asks each one's
wiring, then the fail-safe current, and creates the entry with the chargers as
subentries. It shares the flow's `SetupDraft` with `ScanSteps`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import probatio
from homeassistant.config_entries import ConfigFlowResult, ConfigSubentryData
from homeassistant.const import CONF_HOST, CONF_NAME
from homeassistant.helpers.selector import BooleanSelector, SelectOptionDict

from .const import (
    CONF_BAUDRATE,
    CONF_BREAKER,
    CONF_CIRCUIT,
    CONF_CONNECTION,
    CONF_DEVICE_ID,
    CONF_FAIL_SAFE,
    CONF_MARGIN,
    CONF_METER_ID,
    CONF_MODE,
    CONF_MODEL,
    CONF_PARITY,
    CONF_STOPBITS,
    CONF_SUPPLY,
    CONF_USB_ID,
    CONF_VOLTAGE,
    CONNECTION_SERIAL,
    SUBENTRY_CHARGER,
)
from .devices.chargers import SUPPORTED_CHARGERS
from .devices.registers import get_profile
from .engine import suggest_fail_safe_a
from .engine.fail_safe import max_fail_safe_a
from .engine.model import Mode, Supply
from .engine_settings import ChargerConfig
from .entity_config import CONF_METER_ENTITIES
from .flow_common import (
    CONF_ADD_MANUAL,
    CONF_ADD_NETWORK,
    CONF_CHARGERS,
    brand_and_id,
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
    network_charger_data,
    network_charger_schema,
    number_field,
    probe_device,
    problem_errors,
    profile_defaults,
    select_field,
    unit_ids_text,
)
from .flow_scan import ScanSteps
from .settings import bus_settings, line_conflict
from .validation import validate

if TYPE_CHECKING:
    from collections.abc import Mapping


class ChargerSteps(ScanSteps):
    """The chargers (found or by hand), each one's wiring, the fail-safe, the entry."""

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
            self.draft.add_network = bool(user_input.get(CONF_ADD_NETWORK, False))
            if user_input[CONF_ADD_MANUAL]:
                return await self.async_step_charger_manual()
            return await self._after_manual()
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
        fields[probatio.Optional(CONF_ADD_NETWORK, default=False)] = BooleanSelector()
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
                return await self._after_manual()
            errors["base"] = error
        return self.async_show_form(
            step_id="charger_manual",
            data_schema=self._manual_schema(
                sorted(SUPPORTED_CHARGERS), "heidelberg_energy_control"
            ),
            errors=errors,
        )

    async def _after_manual(self) -> ConfigFlowResult:
        if self.draft.add_network:
            return await self.async_step_charger_network()
        return await self.async_step_charger()

    async def async_step_charger_network(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Add a charger at its own network address (Modbus TCP, or a bridge); read it once."""
        errors: dict[str, str] = {}
        if user_input is not None:
            charger = network_charger_data(user_input)
            error = (
                "host_empty"
                if not charger[CONF_HOST]
                else (
                    await probe_device(
                        self.hass,
                        bus_settings(charger),
                        charger[CONF_MODEL],
                        charger[CONF_DEVICE_ID],
                    )
                )[0]
            )
            if error is None:
                self.draft.pending.append(charger)
                return await self.async_step_charger()
            errors[CONF_HOST if error == "host_empty" else "base"] = error
        return self.async_show_form(
            step_id="charger_network",
            data_schema=self.add_suggested_values_to_schema(
                network_charger_schema(), finite_only(user_input or {})
            ),
            errors=errors,
            description_placeholders={"unit_ids": unit_ids_text()},
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
                {**self._connection(charger), **charger, **charger_settings_data(user_input)}
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
                {CONF_NAME: brand_and_id(charger[CONF_MODEL], charger[CONF_DEVICE_ID])},
                with_name=True,
            ),
            errors=errors,
            description_placeholders={
                "model": profile.name,
                "device_id": str(charger[CONF_DEVICE_ID]),
            },
        )

    def _connection(self, charger: Mapping[str, Any]) -> dict[str, Any]:
        """Return the connection a charger adds to its data: its own, or else the site's port."""
        return {} if CONF_CONNECTION in charger else dict(self.draft.bus)

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
            # Chargers at their own address come after those on the port and bring no line.
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
