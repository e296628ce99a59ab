"""
Config flow: find the meter and chargers on a port or gateway and describe the site.

Steps: connection -> serial port or gateway -> bus scan (progress) -> meter (found, by
hand, or none) -> site -> chargers (found and/or by hand) -> each charger's wiring ->
fail-safe current. Chargers become config subentries, so they can be added, changed and
removed later without a restart. The options flow holds the limits and the solar source;
the reconfigure flow moves the site to another port or gateway.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import probatio
from homeassistant.config_entries import (
    ConfigEntry,
    ConfigEntryState,
    ConfigFlow,
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
    CONF_VOLTAGE,
    CONNECTION_RTU_OVER_TCP,
    CONNECTION_SERIAL,
    CONNECTION_TYPES,
    DEFAULT_BAUDRATE,
    DEFAULT_MARGIN_A,
    DEFAULT_TCP_PORT,
    DEFAULT_VOLTAGE_V,
    DOMAIN,
    SUBENTRY_CHARGER,
)
from .devices.chargers import SUPPORTED_CHARGERS
from .devices.discovery import (
    ALL_IDS,
    QUICK_IDS,
    FoundDevice,
    Scanner,
    ScanProgress,
    ScanResult,
)
from .devices.errors import (
    ConnectionLost,
)
from .devices.registers import get_profile
from .engine import suggest_fail_safe_a
from .engine.fail_safe import max_fail_safe_a
from .engine.model import Mode, Supply
from .flow_common import (
    CONF_ADD_MANUAL,
    CONF_CHARGERS,
    CONF_METER,
    CONF_SCAN_ALL,
    METER_MANUAL,
    METER_NONE,
    bus_only,
    charger_errors,
    charger_settings_data,
    charger_settings_schema,
    charger_unique_id,
    fail_safe_errors,
    finite_only,
    found_line,
    line_data,
    line_fields,
    meter_models,
    number_field,
    port_error,
    probe_device,
    problem_errors,
    profile_defaults,
    select_field,
    site_errors,
    site_unique_id,
)
from .options_flow import HeadroomOptionsFlow
from .settings import (
    ChargerConfig,
    bus_key,
    bus_settings,
    describe_bus,
    line_conflict,
    validate,
)
from .subentry_flow import ChargerSubentryFlow

if TYPE_CHECKING:
    import asyncio
    from collections.abc import Mapping

    from homeassistant.helpers.service_info.usb import UsbServiceInfo

    from .devices.bus import BusSettings

SERIAL_BY_ID: Final = Path("/dev/serial/by-id")


def _resolve_serial_by_id(device: str) -> str:
    """Return the stable /dev/serial/by-id path of a port, or the port itself."""
    if SERIAL_BY_ID.is_dir():
        real = os.path.realpath(device)
        for link in sorted(SERIAL_BY_ID.iterdir()):
            if os.path.realpath(link) == real:
                return str(link)
    return device


class HeadroomConfigFlow(ConfigFlow, domain=DOMAIN):
    """Set up a site: a port or gateway, its meter, the site and its chargers."""

    VERSION = 1

    def __init__(self) -> None:
        """Start with nothing found."""
        self._bus: dict[str, Any] = {}
        self._scan_all = False
        self._scanner: Scanner | None = None
        self._scan_task: asyncio.Task[ScanResult] | None = None
        self._scan_error: str | None = None
        self._found: tuple[FoundDevice, ...] = ()
        self._skipped: tuple[BusSettings, ...] = ()
        self._meter: dict[str, Any] | None = None
        self._max_house_a = 0.0
        self._site: dict[str, Any] = {}
        self._pending: list[dict[str, Any]] = []
        self._chargers: list[ConfigSubentryData] = []
        self._usb_name = ""

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
        return {SUBENTRY_CHARGER: ChargerSubentryFlow}

    # --- connection -----------------------------------------------------------------------

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Ask how the bus is reached."""
        if user_input is not None:
            self._bus = {CONF_CONNECTION: user_input[CONF_CONNECTION]}
            if user_input[CONF_CONNECTION] == CONNECTION_SERIAL:
                return await self.async_step_serial()
            return await self.async_step_tcp()
        return self.async_show_form(
            step_id="user",
            data_schema=probatio.Schema(
                {
                    probatio.Required(CONF_CONNECTION, default=CONNECTION_SERIAL): select_field(
                        list(CONNECTION_TYPES), CONF_CONNECTION
                    )
                }
            ),
        )

    async def async_step_usb(self, discovery_info: UsbServiceInfo) -> ConfigFlowResult:
        """Offer a newly plugged RS-485 adapter."""
        device = await self.hass.async_add_executor_job(
            _resolve_serial_by_id, discovery_info.device
        )
        self._bus = {CONF_CONNECTION: CONNECTION_SERIAL, CONF_DEVICE: device}
        await self.async_set_unique_id(site_unique_id(self._bus))
        self._abort_if_unique_id_configured()
        self._usb_name = discovery_info.description or device
        self.context["title_placeholders"] = {CONF_NAME: self._usb_name}
        return await self.async_step_usb_confirm()

    async def async_step_usb_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Confirm scanning the discovered adapter."""
        if user_input is not None:
            self._scan_all = bool(user_input[CONF_SCAN_ALL])
            return await self.async_step_scan()
        return self.async_show_form(
            step_id="usb_confirm",
            data_schema=probatio.Schema(
                {probatio.Required(CONF_SCAN_ALL, default=False): BooleanSelector()}
            ),
            description_placeholders={CONF_NAME: self._usb_name},
        )

    async def async_step_serial(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Ask for the serial port."""
        errors: dict[str, str] = {}
        if self._scan_error is not None:
            errors["base"], self._scan_error = self._scan_error, None
        elif user_input is not None:
            self._bus[CONF_DEVICE] = user_input[CONF_DEVICE]
            self._scan_all = bool(user_input[CONF_SCAN_ALL])
            await self.async_set_unique_id(site_unique_id(self._bus))
            self._abort_if_unique_id_configured()
            return await self.async_step_scan()
        return self.async_show_form(
            step_id="serial",
            data_schema=self.add_suggested_values_to_schema(
                probatio.Schema(
                    {
                        probatio.Required(CONF_DEVICE): SerialPortSelector(),
                        probatio.Required(CONF_SCAN_ALL, default=False): BooleanSelector(),
                    }
                ),
                {CONF_DEVICE: self._bus.get(CONF_DEVICE)} if CONF_DEVICE in self._bus else {},
            ),
            errors=errors,
        )

    async def async_step_tcp(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Ask for the gateway's address."""
        errors: dict[str, str] = {}
        if self._scan_error is not None:
            errors["base"], self._scan_error = self._scan_error, None
        elif user_input is not None:
            self._bus[CONF_HOST] = user_input[CONF_HOST]
            self._bus[CONF_PORT] = int(user_input[CONF_PORT])
            self._scan_all = bool(user_input[CONF_SCAN_ALL])
            await self.async_set_unique_id(site_unique_id(self._bus))
            self._abort_if_unique_id_configured()
            return await self.async_step_scan()
        return self.async_show_form(
            step_id="tcp",
            data_schema=probatio.Schema(
                {
                    probatio.Required(CONF_HOST, default=self._bus.get(CONF_HOST, "")): (
                        TextSelector()
                    ),
                    probatio.Required(
                        CONF_PORT, default=float(self._bus.get(CONF_PORT, DEFAULT_TCP_PORT))
                    ): number_field(1, 65535),
                    probatio.Required(CONF_SCAN_ALL, default=False): BooleanSelector(),
                }
            ),
            errors=errors,
        )

    # --- scan ---------------------------------------------------------------------------

    async def async_step_scan(
        self,
        user_input: dict[str, Any] | None = None,  # noqa: ARG002 (a progress step has no form)
    ) -> ConfigFlowResult:
        """Scan the bus for supported devices, showing progress; never writes."""
        started = self._scan_task is None
        if self._scan_task is None:
            self._scanner = Scanner(
                device_ids=ALL_IDS if self._scan_all else QUICK_IDS, progress=self._progress
            )
            self._scan_task = self.hass.async_create_task(self._scan(self._scanner))
        # The step that starts the scan always shows progress, even if the scan is done.
        if started or not self._scan_task.done():
            return self.async_show_progress(
                step_id="scan",
                progress_action="scan",
                progress_task=self._scan_task,
                description_placeholders={"bus": self._bus_label()},
            )
        task, self._scan_task = self._scan_task, None
        try:
            scan = task.result()
        except ConnectionLost:
            self._scan_error = await port_error(self.hass, self._scan_settings())
            next_step = "serial" if self._bus[CONF_CONNECTION] == CONNECTION_SERIAL else "tcp"
            return self.async_show_progress_done(next_step_id=next_step)
        self._found = scan.devices
        self._skipped = tuple(settings for settings, _ in scan.skipped)
        return self.async_show_progress_done(
            next_step_id="scan_skipped" if self._skipped else "meter"
        )

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
                "found": str(len(self._found)),
                # The line settings without the port: "19200 8E1, 9600 8E1".
                "skipped": ", ".join(
                    describe_bus(settings).removeprefix(f"{self._bus_label()} ")
                    for settings in self._skipped
                ),
            },
        )

    async def _scan(self, scanner: Scanner) -> ScanResult:
        if self._bus[CONF_CONNECTION] == CONNECTION_SERIAL:
            result = await scanner.scan_serial(self._bus[CONF_DEVICE])
        else:
            result = await scanner.scan_tcp(
                self._bus[CONF_HOST],
                self._bus[CONF_PORT],
                rtu_framing=self._bus[CONF_CONNECTION] == CONNECTION_RTU_OVER_TCP,
            )
        return result

    @callback
    def _progress(self, progress: ScanProgress) -> None:
        self.async_update_progress(progress.done / progress.total)

    @callback
    def async_remove(self) -> None:
        """Stop a running scan when the user closes the dialog."""
        if self._scanner is not None:
            self._scanner.cancel()
        if self._scan_task is not None:
            self._scan_task.cancel()

    def _scan_settings(self) -> BusSettings:
        return bus_settings({**self._bus, CONF_BAUDRATE: DEFAULT_BAUDRATE})

    def _bus_label(self) -> str:
        if self._bus[CONF_CONNECTION] == CONNECTION_SERIAL:
            return str(self._bus[CONF_DEVICE])
        return f"{self._bus[CONF_HOST]}:{self._bus[CONF_PORT]}"

    def _found_of(self, kind: str) -> list[tuple[int, FoundDevice]]:
        return [(index, found) for index, found in enumerate(self._found) if found.kind == kind]

    def _found_label(self, found: FoundDevice) -> str:
        profile = get_profile(found.model)
        return f"{profile.name}, id {found.device_id} ({describe_bus(found.settings)})"

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
                self._meter = None
                return await self.async_step_site()
            found = self._found[int(choice)]
            error, self._max_house_a = await probe_device(
                self.hass, found.settings, found.model, found.device_id
            )
            if error is None:
                self._meter = {
                    CONF_METER_MODEL: found.model,
                    CONF_METER_ID: found.device_id,
                    **found_line(found),
                }
                return await self.async_step_site()
            errors["base"] = error
        elif not self._found:
            errors["base"] = "nothing_found"
        options = [
            SelectOptionDict(value=str(index), label=self._found_label(found))
            for index, found in meters
        ]
        options += [
            SelectOptionDict(value=METER_MANUAL, label=METER_MANUAL),
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
            description_placeholders={"found": str(len(self._found)), "bus": self._bus_label()},
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
            error, self._max_house_a = await probe_device(
                self.hass,
                bus_settings({**self._bus, **meter}),
                meter[CONF_METER_MODEL],
                meter[CONF_METER_ID],
            )
            if error is None:
                self._meter = meter
                return await self.async_step_site()
            errors["base"] = error
        models = meter_models()
        return self.async_show_form(
            step_id="meter_manual",
            data_schema=self._manual_schema(models, "eastron_sdm630"),
            errors=errors,
        )

    def _manual_line(self, user_input: Mapping[str, Any]) -> dict[str, Any]:
        if self._bus[CONF_CONNECTION] != CONNECTION_SERIAL:
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
            ): number_field(1, 247),
        }
        if self._bus[CONF_CONNECTION] == CONNECTION_SERIAL:
            fields.update(line_fields(defaults))
        return probatio.Schema(fields)

    # --- site ---------------------------------------------------------------------------

    async def async_step_site(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Describe the supply and the main breaker."""
        errors: dict[str, str] = {}
        if user_input is not None:
            errors = site_errors(user_input)
            if not errors:
                self._site = {
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
            self._pending = [
                {
                    CONF_MODEL: self._found[int(index)].model,
                    CONF_DEVICE_ID: self._found[int(index)].device_id,
                    **found_line(self._found[int(index)]),
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
                bus_settings({**self._bus, **charger}),
                charger[CONF_MODEL],
                charger[CONF_DEVICE_ID],
            )
            if error is None:
                self._pending.append(charger)
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
        if not self._pending:
            return await self.async_step_fail_safe()
        charger = self._pending[0]
        supply = Supply(self._site[CONF_SUPPLY])
        errors: dict[str, str] = {}
        if user_input is not None:
            errors = charger_errors(
                user_input,
                breaker_a=self._site[CONF_BREAKER],
                model=charger[CONF_MODEL],
            )
            data = (
                {**self._bus, **charger, **charger_settings_data(user_input)} if not errors else {}
            )
            if not errors and self._conflicts(data):
                errors["base"] = "line_conflict"
            if not errors:
                self._pending.pop(0)
                self._chargers.append(
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
        others = [bus_settings(c["data"]) for c in self._chargers]
        if self._meter is not None:
            others.append(bus_settings({**self._bus, **self._meter}))
        return any(line_conflict(settings, other) for other in others) or any(
            charger_unique_id(c["data"]) == charger_unique_id(data) for c in self._chargers
        )

    async def async_step_fail_safe(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Set the fail-safe current (suggested) and the chargers' shared circuit rating."""
        errors: dict[str, str] = {}
        if user_input is not None:
            errors = fail_safe_errors(user_input) or problem_errors(
                validate(*self._draft(user_input))[0], (CONF_FAIL_SAFE, CONF_CIRCUIT)
            )
            if not errors:
                return self._create(user_input)
        breaker_a = self._site[CONF_BREAKER]
        margin_a = self._site[CONF_MARGIN]
        suggested = suggest_fail_safe_a(
            breaker_a, margin_a, self._max_house_a, max(1, len(self._chargers))
        )
        _, settings = validate(*self._draft({CONF_FAIL_SAFE: 0.0, **(user_input or {})}))
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

    def _draft(
        self, user_input: Mapping[str, Any]
    ) -> tuple[dict[str, Any], dict[str, Any], list[ChargerConfig]]:
        """Return the entry this flow would create, as `validate` takes it."""
        options = self._options(user_input)
        chargers = [
            ChargerConfig(charger_id=str(index), data=charger["data"])
            for index, charger in enumerate(self._chargers)
        ]
        data = {CONF_METER_ID: 0} if self._meter is not None else {}
        return data, options, chargers

    def _options(self, user_input: Mapping[str, Any]) -> dict[str, Any]:
        return {
            CONF_SUPPLY: self._site[CONF_SUPPLY],
            CONF_VOLTAGE: self._site[CONF_VOLTAGE],
            CONF_BREAKER: self._site[CONF_BREAKER],
            CONF_MARGIN: self._site[CONF_MARGIN],
            CONF_FAIL_SAFE: float(user_input.get(CONF_FAIL_SAFE, 0.0)),
            CONF_CIRCUIT: float(user_input.get(CONF_CIRCUIT, 0.0)),
            CONF_MODE: Mode.FAST.value,
        }

    def _create(self, user_input: Mapping[str, Any]) -> ConfigFlowResult:
        data: dict[str, Any] = dict(self._bus)
        if self._meter is not None:
            data.update(self._meter)
        elif self._chargers:
            data.update(
                {
                    key: self._chargers[0]["data"][key]
                    for key in (CONF_BAUDRATE, CONF_PARITY, CONF_STOPBITS)
                    if key in self._chargers[0]["data"]
                }
            )
        options = self._options(user_input)
        return self.async_create_entry(
            title=self._site[CONF_NAME], data=data, options=options, subentries=self._chargers
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

    def _move_chargers(self, entry: ConfigEntry, bus: Mapping[str, Any]) -> None:
        """Chargers that were on the site's old port move with it."""
        old = bus_key(bus_settings(entry.data))
        for subentry in entry.get_subentries_of_type(SUBENTRY_CHARGER):
            if bus_key(bus_settings(subentry.data)) == old:
                self.hass.config_entries.async_update_subentry(
                    entry, subentry, data={**subentry.data, **bus_only(bus)}
                )
