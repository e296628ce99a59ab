"""
The charger subentry flow: add a charger to a running site, or change its wiring and limits.

A charger is on the site's port (the default), or at its own network address: a Modbus TCP
charger on its own IP (KEBA, Vestel, Alfen) or an RS-485 charger behind its own bridge,
while the meter stays on the site's RS-485 port or gateway. Each charger subentry stores
its own connection, and the site opens one bus per port or address.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import probatio
from homeassistant.config_entries import (
    ConfigEntry,
    ConfigEntryState,
    ConfigSubentryFlow,
    SubentryFlowResult,
)
from homeassistant.const import CONF_HOST, CONF_NAME
from homeassistant.helpers.selector import (
    SelectOptionDict,
)

from .const import (
    CONF_BREAKER,
    CONF_CONNECTION,
    CONF_DEVICE_ID,
    CONF_MAX_LOWERED,
    CONF_MODEL,
    CONF_PAUSED,
    CONNECTION_SERIAL,
    SUBENTRY_CHARGER,
)
from .devices.chargers import SUPPORTED_CHARGERS
from .devices.registers import get_profile
from .engine.model import Supply
from .flow_common import (
    NEW_CHARGER_ID,
    brand_and_id,
    bus_only,
    charger_errors,
    charger_fail_safe_errors,
    charger_settings_data,
    charger_settings_schema,
    charger_unique_id,
    device_id_field,
    finite_only,
    line_data,
    line_fields,
    network_charger_data,
    network_charger_schema,
    probe_device,
    select_field,
    unit_ids_text,
)
from .rules import RULES, number, stored_supply
from .settings import bus_settings, line_conflict

if TYPE_CHECKING:
    from collections.abc import Mapping


class ChargerSubentryFlow(ConfigSubentryFlow):
    """Add a charger to a running site, or change its wiring and limits."""

    def __init__(self) -> None:
        """Start with no charger."""
        self._charger: dict[str, Any] = {}
        self._supply = Supply.THREE_PHASE
        """The site's supply, as the first step found it stored."""

    async def async_step_user(
        self,
        user_input: dict[str, Any] | None = None,  # noqa: ARG002 (a menu has no form)
    ) -> SubentryFlowResult:
        """Ask where the charger is: on the site's port, or at its own network address."""
        supply = stored_supply(self._get_entry().options)
        if supply is None:
            return self.async_abort(reason="site_needs_repair")
        self._supply = supply
        if CONF_CONNECTION not in self._get_entry().data:
            return await self.async_step_network()  # a site with no port of its own
        return self.async_show_menu(
            step_id="user",
            menu_options=["port", "network"],
            description_placeholders={"bus": bus_settings(self._get_entry().data).label},
        )

    async def async_step_port(self, user_input: dict[str, Any] | None = None) -> SubentryFlowResult:
        """Model, device id and line settings on the site's port; read it once."""
        entry = self._get_entry()
        serial = entry.data[CONF_CONNECTION] == CONNECTION_SERIAL
        errors: dict[str, str] = {}
        if user_input is not None:
            charger = {
                **bus_only(entry.data),
                CONF_MODEL: user_input[CONF_MODEL],
                CONF_DEVICE_ID: int(user_input[CONF_DEVICE_ID]),
                **(line_data(user_input) if serial else {}),
            }
            if any(
                s.unique_id == charger_unique_id(charger)
                for s in entry.get_subentries_of_type(SUBENTRY_CHARGER)
            ):
                return self.async_abort(reason="already_configured")
            errors = await self._check(entry, charger)
            if not errors:
                self._charger = charger
                return await self.async_step_settings()
        models = sorted(SUPPORTED_CHARGERS)
        fields: dict[Any, Any] = {
            probatio.Required(CONF_MODEL, default="heidelberg_energy_control"): select_field(
                [SelectOptionDict(value=m, label=get_profile(m).name) for m in models],
                CONF_MODEL,
            ),
            probatio.Required(CONF_DEVICE_ID, default=2.0): device_id_field(
                entry.data[CONF_CONNECTION]
            ),
        }
        if serial:
            fields.update(line_fields(entry.data))
        return self.async_show_form(
            step_id="port", data_schema=probatio.Schema(fields), errors=errors
        )

    async def async_step_network(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Add a charger at its own address: framing, host, port, model, unit id; read it once."""
        entry = self._get_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            charger = network_charger_data(user_input)
            if not charger[CONF_HOST]:
                errors = {CONF_HOST: "host_empty"}
            elif any(
                s.unique_id == charger_unique_id(charger)
                for s in entry.get_subentries_of_type(SUBENTRY_CHARGER)
            ):
                return self.async_abort(reason="already_configured")
            else:
                errors = await self._check(entry, charger)
            if not errors:
                self._charger = charger
                return await self.async_step_settings()
        return self.async_show_form(
            step_id="network",
            data_schema=self.add_suggested_values_to_schema(
                network_charger_schema(), finite_only(user_input or {})
            ),
            errors=errors,
            description_placeholders={"unit_ids": unit_ids_text()},
        )

    async def _check(self, entry: ConfigEntry, charger: Mapping[str, Any]) -> dict[str, str]:
        """Check the charger fits its port and answers (through the site's bus if running)."""
        settings = bus_settings(charger)
        # Only devices on the same port or address must agree: a charger on its own
        # address has nothing to agree with on the site's serial port.
        others = [bus_settings(s.data) for s in entry.get_subentries_of_type(SUBENTRY_CHARGER)]
        if CONF_CONNECTION in entry.data:
            others.append(bus_settings(entry.data))
        if any(line_conflict(settings, other) for other in others):
            return {"base": "line_conflict"}
        bus = None
        if entry.state is ConfigEntryState.LOADED:
            buses = entry.runtime_data.coordinator.site.buses
            bus = next((b for b in buses if b.settings.key == settings.key), None)
        if bus is None:
            error, _ = await probe_device(
                self.hass, settings, charger[CONF_MODEL], charger[CONF_DEVICE_ID]
            )
        else:
            # The running site holds the port: read the charger through its bus.
            error, _ = await probe_device(
                self.hass, settings, charger[CONF_MODEL], charger[CONF_DEVICE_ID], bus=bus
            )
        return {"base": error} if error else {}

    def _settings_errors(self, user_input: Mapping[str, Any], model: str) -> dict[str, str]:
        """Check a charger's settings against the site's breaker and the model."""
        breaker_a = number(self._get_entry().options.get(CONF_BREAKER))
        return charger_errors(
            user_input,
            breaker_a=breaker_a if breaker_a is not None else RULES[CONF_BREAKER].maximum,
            model=model,
        )

    async def async_step_settings(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Name, wiring, maximum, shared circuit and priority of the new charger."""
        entry = self._get_entry()
        supply = self._supply
        errors: dict[str, str] = {}
        placeholders: dict[str, str] = {}
        if user_input is not None:
            errors = self._settings_errors(user_input, self._charger[CONF_MODEL])
            if not errors:
                data = {**self._charger, **charger_settings_data(user_input)}
                errors, placeholders = charger_fail_safe_errors(entry, NEW_CHARGER_ID, data)
                if not errors:
                    return self.async_create_entry(
                        title=user_input[CONF_NAME].strip(),
                        data=data,
                        unique_id=charger_unique_id(data),
                    )
        profile = get_profile(self._charger[CONF_MODEL])
        return self.async_show_form(
            step_id="settings",
            data_schema=charger_settings_schema(
                supply,
                {CONF_NAME: brand_and_id(self._charger[CONF_MODEL], self._charger[CONF_DEVICE_ID])},
                with_name=True,
            ),
            errors=errors,
            description_placeholders={"model": profile.name, **placeholders},
        )

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Change a charger's wiring, maximum, shared circuit and priority."""
        entry = self._get_entry()
        subentry = self._get_reconfigure_subentry()
        supply = stored_supply(entry.options)
        if supply is None:
            return self.async_abort(reason="site_needs_repair")
        errors: dict[str, str] = {}
        placeholders: dict[str, str] = {}
        if user_input is not None:
            errors = self._settings_errors(user_input, subentry.data[CONF_MODEL])
            if not errors:
                settings = charger_settings_data(user_input)
                settings[CONF_PAUSED] = bool(subentry.data.get(CONF_PAUSED, False))
                # The installer's new maximum replaces what a user lowered it to.
                kept = {k: v for k, v in subentry.data.items() if k != CONF_MAX_LOWERED}
                data = {**kept, **settings}
                errors, placeholders = charger_fail_safe_errors(entry, subentry.subentry_id, data)
                if not errors:
                    return self.async_update_and_abort(entry, subentry, data=data)
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=charger_settings_schema(supply, subentry.data, with_name=False),
            errors=errors,
            description_placeholders=placeholders,
        )
