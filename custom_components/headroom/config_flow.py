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
import unicodedata
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
    SubentryFlowResult,
)
from homeassistant.const import CONF_DEVICE, CONF_HOST, CONF_NAME, CONF_PORT
from homeassistant.core import callback
from homeassistant.helpers.selector import (
    BooleanSelector,
    EntitySelector,
    EntitySelectorConfig,
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    SerialPortSelector,
    TextSelector,
)

from .const import (
    CONF_BAUDRATE,
    CONF_BREAKER,
    CONF_BREAKER_LOWERED,
    CONF_CIRCUIT,
    CONF_CONNECTION,
    CONF_DEVICE_ID,
    CONF_FAIL_SAFE,
    CONF_GRID_POWER_ENTITY,
    CONF_GRID_TOLERANCE,
    CONF_HOUSE_POWER_ENTITY,
    CONF_MARGIN,
    CONF_MAX_CURRENT,
    CONF_MAX_LOWERED,
    CONF_METER_ID,
    CONF_METER_MODEL,
    CONF_METER_STALE,
    CONF_MODE,
    CONF_MODEL,
    CONF_PARITY,
    CONF_PAUSED,
    CONF_PHASES,
    CONF_PRIORITY,
    CONF_PV_POWER_ENTITY,
    CONF_SHARED_CIRCUIT,
    CONF_SOLAR_SOURCE,
    CONF_SOLAR_START_DELAY,
    CONF_SOLAR_STOP_DELAY,
    CONF_STOPBITS,
    CONF_SUPPLY,
    CONF_VOLTAGE,
    CONF_WATCHDOG_TIMEOUT,
    CONNECTION_RTU_OVER_TCP,
    CONNECTION_SERIAL,
    CONNECTION_TYPES,
    DEFAULT_BAUDRATE,
    DEFAULT_GRID_TOLERANCE_W,
    DEFAULT_MARGIN_A,
    DEFAULT_METER_STALE_S,
    DEFAULT_PARITY,
    DEFAULT_PRIORITY,
    DEFAULT_SOLAR_START_DELAY_S,
    DEFAULT_SOLAR_STOP_DELAY_S,
    DEFAULT_STOPBITS,
    DEFAULT_TCP_PORT,
    DEFAULT_VOLTAGE_V,
    DEFAULT_WATCHDOG_TIMEOUT_S,
    DOMAIN,
    MAX_PRIORITY,
    SOLAR_SOURCE_GRID,
    SOLAR_SOURCE_NONE,
    SOLAR_SOURCE_PV_HOUSE,
    SOLAR_SOURCES,
    SUBENTRY_CHARGER,
)
from .coordinator import chargers_of
from .devices.bus import Bus, SerialSettings, TcpSettings
from .devices.chargers import SUPPORTED_CHARGERS, max_limit_a_of
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
    DeviceError,
    DeviceRefused,
    NoResponse,
    Unsupported,
)
from .devices.probe import probe, serial_port_problem
from .devices.registers import get_profile, load_profiles
from .engine import suggest_fail_safe_a
from .engine.fail_safe import max_fail_safe_a
from .engine.model import MIN_CHARGE_A, Mode, Supply
from .settings import (
    RULES,
    ChargerConfig,
    Problem,
    ProblemKey,
    bus_key,
    bus_settings,
    describe_bus,
    line_conflict,
    number,
    number_problem,
    validate,
)

if TYPE_CHECKING:
    import asyncio
    from collections.abc import Mapping

    from homeassistant.helpers.service_info.usb import UsbServiceInfo

    from .devices.bus import BusSettings

_LIMIT_FIELDS: Final = (
    CONF_BREAKER,
    CONF_MARGIN,
    CONF_FAIL_SAFE,
    CONF_CIRCUIT,
    CONF_METER_STALE,
    CONF_WATCHDOG_TIMEOUT,
)
_SOLAR_FIELDS: Final = (CONF_SOLAR_START_DELAY, CONF_SOLAR_STOP_DELAY, CONF_GRID_TOLERANCE)
CONF_SCAN_ALL: Final = "scan_all"
CONF_METER: Final = "meter"
CONF_CHARGERS: Final = "chargers"
CONF_ADD_MANUAL: Final = "add_manual"
METER_MANUAL: Final = "manual"
METER_NONE: Final = "none"
BAUDRATES: Final = ("1200", "2400", "4800", "9600", "19200", "38400", "57600", "115200")
PARITIES: Final = ("N", "E", "O")
STOPBITS: Final = ("1", "2")
MAX_NAME_LENGTH: Final = 64
PHASE_CHOICES: Final[Mapping[Supply, tuple[str, ...]]] = {
    Supply.SINGLE_PHASE: ("1",),
    Supply.SPLIT_PHASE: ("1_2", "1", "2"),
    Supply.THREE_PHASE: ("1_2_3", "2_3_1", "3_1_2", "1", "2", "3"),
}
"""Grid-phase wiring of a charger: charger L1, L2, L3 -> grid phases, per supply."""
SERIAL_BY_ID: Final = Path("/dev/serial/by-id")


def _meter_models() -> list[str]:
    """Meter profiles that measure phase currents (load balancing needs them)."""
    return sorted(
        p.id for p in load_profiles().values() if p.kind == "meter" and p.has("current_l1")
    )


def _number(minimum: float, maximum: float, step: float = 1, unit: str | None = None) -> Any:
    """Return a box number selector that stores a number."""
    return probatio.All(
        NumberSelector(
            NumberSelectorConfig(
                min=minimum,
                max=maximum,
                step=step,
                mode=NumberSelectorMode.BOX,
                **({"unit_of_measurement": unit} if unit else {}),
            )
        ),
        probatio.Coerce(float),
    )


def _select(
    options: list[str] | list[SelectOptionDict], key: str, *, multiple: bool = False
) -> Any:
    return SelectSelector(
        SelectSelectorConfig(
            options=options,
            translation_key=key,
            mode=SelectSelectorMode.DROPDOWN,
            multiple=multiple,
        )
    )


def _line_fields(defaults: Mapping[str, Any]) -> dict[Any, Any]:
    """Return the serial line settings fields, defaulting to `defaults`."""
    return {
        probatio.Required(
            CONF_BAUDRATE, default=str(defaults.get(CONF_BAUDRATE, DEFAULT_BAUDRATE))
        ): _select(list(BAUDRATES), CONF_BAUDRATE),
        probatio.Required(
            CONF_PARITY, default=str(defaults.get(CONF_PARITY, DEFAULT_PARITY))
        ): _select(list(PARITIES), CONF_PARITY),
        probatio.Required(
            CONF_STOPBITS, default=str(defaults.get(CONF_STOPBITS, DEFAULT_STOPBITS))
        ): _select(list(STOPBITS), CONF_STOPBITS),
    }


def _line_data(user_input: Mapping[str, Any]) -> dict[str, Any]:
    """Return the line settings of a form as stored (numbers as numbers)."""
    return {
        CONF_BAUDRATE: int(user_input[CONF_BAUDRATE]),
        CONF_PARITY: user_input[CONF_PARITY],
        CONF_STOPBITS: int(user_input[CONF_STOPBITS]),
    }


def _found_line(found: FoundDevice) -> dict[str, Any]:
    """Return the line settings a scan found a device at (empty behind a gateway)."""
    settings = found.settings
    if isinstance(settings, SerialSettings):
        return {
            CONF_BAUDRATE: settings.baudrate,
            CONF_PARITY: settings.parity,
            CONF_STOPBITS: settings.stopbits,
        }
    return {}


def _profile_defaults(model: str) -> dict[str, Any]:
    """Return the serial settings a model ships with, for the manual form's defaults."""
    serial = get_profile(model).serial
    return (
        {}
        if serial is None
        else {
            CONF_BAUDRATE: serial.baudrate,
            CONF_PARITY: serial.parity,
            CONF_STOPBITS: serial.stopbits,
            CONF_DEVICE_ID: serial.device_id,
        }
    )


async def _port_error(hass: Any, settings: BusSettings) -> str:
    """Say why a port or gateway cannot be opened: missing, busy, not a port, unreachable."""
    if isinstance(settings, TcpSettings):
        return "cannot_connect"
    error: str = await hass.async_add_executor_job(serial_port_problem, settings.port)
    return error


def name_error(name: object) -> str | None:
    """Check a name the user gives the site or a charger: not empty, short, printable."""
    if not isinstance(name, str) or not name.strip():
        return "name_empty"
    if len(name.strip()) > MAX_NAME_LENGTH:
        return "name_too_long"
    # Control and format characters (right-to-left overrides, zero-width joiners) make a
    # name that reads differently from what it is.
    if any(unicodedata.category(char) in {"Cc", "Cf"} for char in name):
        return "name_invalid"
    return None


def number_errors(user_input: Mapping[str, Any], keys: tuple[str, ...]) -> dict[str, str]:
    """Check the numbers of a form against their rules (finite, in range)."""
    return {
        key: problem.key.value
        for key in keys
        if key in user_input
        and (problem := number_problem(RULES[key], user_input[key])) is not None
    }


def problem_errors(
    problems: list[Problem],
    fields: tuple[str, ...],
    moved: Mapping[ProblemKey, str] | None = None,
) -> dict[str, str]:
    """
    Show each problem at the field it is about, or at the form when it has none there.

    `moved` shows a problem at another field of this form (a charger above the breaker is
    the breaker's problem in the limits form).
    """
    errors: dict[str, str] = {}
    for problem in problems:
        field = (moved or {}).get(problem.key, problem.field)
        errors.setdefault(field if field in fields else "base", problem.key.value)
    return errors


async def probe_device(
    hass: Any, settings: BusSettings, model: str, device_id: int, *, bus: Bus | None = None
) -> tuple[str | None, float]:
    """
    Read a meter or charger once (through the running site's `bus`, if it holds the port).

    Returns the error key (None when it answered as `model`) and, for a meter, the largest
    phase current it measured (the fail-safe suggestion starts from it).
    """
    try:
        result = await probe(settings, model, device_id, bus=bus)
    except ConnectionLost:
        return (await _port_error(hass, settings) if bus is None else "cannot_connect"), 0.0
    except NoResponse:
        return "no_answer", 0.0
    except DeviceRefused:
        return "wrong_model", 0.0
    except Unsupported:  # a setting the driver cannot work with (meter ratios, Modbus off)
        return "unsupported_setting", 0.0
    except DeviceError:
        return "cannot_connect", 0.0
    return None, result.largest_current_a or 0.0


def charger_errors(
    user_input: Mapping[str, Any], *, breaker_a: float, model: str
) -> dict[str, str]:
    """
    Check one charger's maximum against the main breaker and the model.

    The wiring needs no check: the form only offers the supply's phases.
    """
    errors = number_errors(user_input, (CONF_MAX_CURRENT, CONF_PRIORITY))
    if (error := name_error(user_input.get(CONF_NAME, "-"))) is not None:
        errors[CONF_NAME] = error
    if errors:
        return errors
    max_a = float(user_input[CONF_MAX_CURRENT])
    max_limit_a = max_limit_a_of(model)
    if max_a > breaker_a:
        return {CONF_MAX_CURRENT: "charger_above_breaker"}
    if max_a > max_limit_a:
        return {CONF_MAX_CURRENT: "charger_above_model"}
    return {}


def _charger_settings_schema(
    supply: Supply, defaults: Mapping[str, Any], *, with_name: bool
) -> probatio.Schema:
    phases = "_".join(str(p) for p in defaults.get(CONF_PHASES, [])) or PHASE_CHOICES[supply][0]
    fields: dict[Any, Any] = {}
    if with_name:
        fields[probatio.Required(CONF_NAME, default=defaults.get(CONF_NAME, ""))] = TextSelector()
    fields.update(
        {
            probatio.Required(CONF_PHASES, default=phases): _select(
                list(PHASE_CHOICES[supply]), CONF_PHASES
            ),
            probatio.Required(
                CONF_MAX_CURRENT, default=float(defaults.get(CONF_MAX_CURRENT, 16))
            ): _number(MIN_CHARGE_A, RULES[CONF_MAX_CURRENT].maximum, unit="A"),
            probatio.Required(
                CONF_SHARED_CIRCUIT, default=bool(defaults.get(CONF_SHARED_CIRCUIT, False))
            ): BooleanSelector(),
            probatio.Required(
                CONF_PRIORITY, default=float(defaults.get(CONF_PRIORITY, DEFAULT_PRIORITY))
            ): _number(1, MAX_PRIORITY),
        }
    )
    return probatio.Schema(fields)


def _charger_settings_data(user_input: Mapping[str, Any]) -> dict[str, Any]:
    return {
        CONF_PHASES: [int(p) for p in user_input[CONF_PHASES].split("_")],
        CONF_MAX_CURRENT: int(user_input[CONF_MAX_CURRENT]),
        CONF_SHARED_CIRCUIT: bool(user_input[CONF_SHARED_CIRCUIT]),
        CONF_PRIORITY: int(user_input[CONF_PRIORITY]),
        CONF_PAUSED: False,
    }


def _bus_only(data: Mapping[str, Any]) -> dict[str, Any]:
    """Return the connection part of entry data (no line settings, no meter)."""
    keys = (CONF_CONNECTION, CONF_DEVICE, CONF_HOST, CONF_PORT)
    return {key: data[key] for key in keys if key in data}


def _unique_id(bus: Mapping[str, Any]) -> str:
    """Identify a site by its port or gateway: one site per bus."""
    if bus[CONF_CONNECTION] == CONNECTION_SERIAL:
        return f"serial:{bus[CONF_DEVICE]}"
    return f"tcp:{bus[CONF_HOST]}:{bus[CONF_PORT]}"


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
                    probatio.Required(CONF_CONNECTION, default=CONNECTION_SERIAL): _select(
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
        await self.async_set_unique_id(_unique_id(self._bus))
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
            await self.async_set_unique_id(_unique_id(self._bus))
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
            await self.async_set_unique_id(_unique_id(self._bus))
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
                    ): _number(1, 65535),
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
            self._scan_error = await _port_error(self.hass, self._scan_settings())
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
                    **_found_line(found),
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
                    probatio.Required(CONF_METER, default=options[0]["value"]): _select(
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
        models = _meter_models()
        return self.async_show_form(
            step_id="meter_manual",
            data_schema=self._manual_schema(models, "eastron_sdm630"),
            errors=errors,
        )

    def _manual_line(self, user_input: Mapping[str, Any]) -> dict[str, Any]:
        if self._bus[CONF_CONNECTION] != CONNECTION_SERIAL:
            return {}
        return _line_data(user_input)

    def _manual_schema(self, models: list[str], default: str) -> probatio.Schema:
        defaults = _profile_defaults(default)
        fields: dict[Any, Any] = {
            probatio.Required(CONF_MODEL, default=default): _select(
                [SelectOptionDict(value=m, label=get_profile(m).name) for m in models], CONF_MODEL
            ),
            probatio.Required(
                CONF_DEVICE_ID, default=float(defaults.get(CONF_DEVICE_ID, 1))
            ): _number(1, 247),
        }
        if self._bus[CONF_CONNECTION] == CONNECTION_SERIAL:
            fields.update(_line_fields(defaults))
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
                        probatio.Required(CONF_SUPPLY, default=Supply.THREE_PHASE.value): _select(
                            [s.value for s in Supply], CONF_SUPPLY
                        ),
                        probatio.Required(CONF_VOLTAGE, default=DEFAULT_VOLTAGE_V): _number(
                            100, 400, unit="V"
                        ),
                        probatio.Required(CONF_BREAKER): _number(1, 400, unit="A"),
                        probatio.Required(CONF_MARGIN, default=DEFAULT_MARGIN_A): _number(
                            0, 50, 0.5, unit="A"
                        ),
                    }
                ),
                _finite_only(user_input or {}),
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
                    **_found_line(self._found[int(index)]),
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
                _select(options, CONF_CHARGERS, multiple=True)
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
                {**self._bus, **charger, **_charger_settings_data(user_input)} if not errors else {}
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
                        unique_id=_charger_unique_id(data),
                    )
                )
                return await self.async_step_charger()
        profile = get_profile(charger[CONF_MODEL])
        return self.async_show_form(
            step_id="charger",
            data_schema=_charger_settings_schema(
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
            _charger_unique_id(c["data"]) == _charger_unique_id(data) for c in self._chargers
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
                    probatio.Required(CONF_FAIL_SAFE, default=suggested): _number(0, 80, unit="A"),
                    probatio.Required(CONF_CIRCUIT, default=0.0): _number(0, 400, unit="A"),
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
                bus.update(_line_data(user_input))
            else:
                bus[CONF_HOST] = user_input[CONF_HOST]
                bus[CONF_PORT] = int(user_input[CONF_PORT])
            unique_id = _unique_id(bus)
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
            fields.update(_line_fields(entry.data))
        else:
            fields = {
                probatio.Required(CONF_HOST): TextSelector(),
                probatio.Required(CONF_PORT): _number(1, 65535),
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
                    entry, subentry, data={**subentry.data, **_bus_only(bus)}
                )


def site_errors(user_input: Mapping[str, Any]) -> dict[str, str]:
    """Check the site's name, supply and breaker settings."""
    errors = number_errors(user_input, (CONF_VOLTAGE, CONF_BREAKER, CONF_MARGIN))
    if CONF_NAME in user_input and (error := name_error(user_input[CONF_NAME])) is not None:
        errors[CONF_NAME] = error
    if errors:
        return errors
    if float(user_input[CONF_BREAKER]) - float(user_input[CONF_MARGIN]) < MIN_CHARGE_A:
        return {CONF_MARGIN: "margin_too_large"}
    return {}


def fail_safe_errors(user_input: Mapping[str, Any]) -> dict[str, str]:
    """Check the fail-safe current: 0 (stop) or at least 6 A, a car cannot charge between."""
    errors = number_errors(user_input, (CONF_FAIL_SAFE, CONF_CIRCUIT))
    if errors:
        return errors
    fail_safe_a = float(user_input[CONF_FAIL_SAFE])
    if 0 < fail_safe_a < MIN_CHARGE_A:
        return {CONF_FAIL_SAFE: "fail_safe_below_minimum"}
    return {}


def _finite_only(values: Mapping[str, Any]) -> dict[str, Any]:
    """Leave out values a form cannot show again (NaN, null): the user enters them anew."""
    return {
        key: value
        for key, value in values.items()
        if value is not None and (not isinstance(value, float) or number(value) is not None)
    }


def _charger_unique_id(data: Mapping[str, Any]) -> str:
    """Identify a charger by its bus and device id."""
    return f"{_unique_id(data)}_{data[CONF_DEVICE_ID]}"


class HeadroomOptionsFlow(OptionsFlow):
    """Limits, fail-safe, timing and the solar source: applied without a restart."""

    def __init__(self) -> None:
        """Start with no changes."""
        self._options: dict[str, Any] = {}

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Limits, margin, fail-safe current and timing."""
        entry = self.config_entry
        errors: dict[str, str] = {}
        if user_input is not None:
            merged = {**entry.options, **user_input}
            if number(merged.get(CONF_BREAKER)) != number(entry.options.get(CONF_BREAKER)):
                # The installer's new rating replaces what a user lowered it to.
                merged.pop(CONF_BREAKER_LOWERED, None)
            errors = number_errors(merged, _LIMIT_FIELDS) or problem_errors(
                validate(entry.data, merged, chargers_of(entry))[0],
                _LIMIT_FIELDS,
                {ProblemKey.CHARGER_ABOVE_BREAKER: CONF_BREAKER},
            )
            if not errors:
                self._options = merged
                return await self.async_step_solar()
        suggested = self._suggested_fail_safe_a()
        return self.async_show_form(
            step_id="init",
            data_schema=self.add_suggested_values_to_schema(
                probatio.Schema(
                    {
                        probatio.Required(CONF_BREAKER): _number(1, 400, unit="A"),
                        probatio.Required(CONF_MARGIN): _number(0, 50, 0.5, unit="A"),
                        probatio.Required(CONF_FAIL_SAFE): _number(0, 80, unit="A"),
                        probatio.Required(CONF_CIRCUIT, default=0.0): _number(0, 400, unit="A"),
                        probatio.Required(CONF_METER_STALE, default=DEFAULT_METER_STALE_S): _number(
                            2, 60, unit="s"
                        ),
                        probatio.Required(
                            CONF_WATCHDOG_TIMEOUT, default=DEFAULT_WATCHDOG_TIMEOUT_S
                        ): _number(10, 60, unit="s"),
                    }
                ),
                _finite_only({**entry.options, **(user_input or {})}),
            ),
            errors=errors,
            description_placeholders={
                "suggested": f"{suggested:g}",
                "maximum": f"{self._max_fail_safe_a(user_input):g}",
            },
        )

    def _max_fail_safe_a(self, user_input: Mapping[str, Any] | None) -> float:
        """Return the largest fail-safe current these limits allow (0 while they cannot work)."""
        entry = self.config_entry
        options = {**entry.options, **(user_input or {}), CONF_FAIL_SAFE: 0.0}
        _, settings = validate(entry.data, options, chargers_of(entry))
        return max_fail_safe_a(settings) if settings is not None else 0.0

    def _suggested_fail_safe_a(self) -> float:
        """Suggest the fail-safe from the largest house load the running site has seen."""
        entry = self.config_entry
        chargers = len(entry.get_subentries_of_type(SUBENTRY_CHARGER))
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
            errors.update(number_errors(user_input, _SOLAR_FIELDS))
            if not errors:
                options = {**self._options, **user_input}
                for key in (CONF_GRID_POWER_ENTITY, CONF_PV_POWER_ENTITY, CONF_HOUSE_POWER_ENTITY):
                    if key not in user_input:
                        options.pop(key, None)
                return self.async_create_entry(data=options)
        power = EntitySelector(EntitySelectorConfig(domain="sensor", device_class="power"))
        return self.async_show_form(
            step_id="solar",
            data_schema=self.add_suggested_values_to_schema(
                probatio.Schema(
                    {
                        probatio.Required(CONF_SOLAR_SOURCE, default=SOLAR_SOURCE_NONE): _select(
                            list(SOLAR_SOURCES), CONF_SOLAR_SOURCE
                        ),
                        probatio.Optional(CONF_GRID_POWER_ENTITY): power,
                        probatio.Optional(CONF_PV_POWER_ENTITY): power,
                        probatio.Optional(CONF_HOUSE_POWER_ENTITY): power,
                        probatio.Required(
                            CONF_SOLAR_START_DELAY, default=DEFAULT_SOLAR_START_DELAY_S
                        ): _number(0, 3600, unit="s"),
                        probatio.Required(
                            CONF_SOLAR_STOP_DELAY, default=DEFAULT_SOLAR_STOP_DELAY_S
                        ): _number(0, 3600, unit="s"),
                        probatio.Required(
                            CONF_GRID_TOLERANCE, default=DEFAULT_GRID_TOLERANCE_W
                        ): _number(0, 5000, unit="W"),
                    }
                ),
                _finite_only({**self.config_entry.options, **(user_input or {})}),
            ),
            errors=errors,
        )


class ChargerSubentryFlow(ConfigSubentryFlow):
    """Add a charger to a running site, or change its wiring and limits."""

    def __init__(self) -> None:
        """Start with no charger."""
        self._charger: dict[str, Any] = {}

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> SubentryFlowResult:
        """Model, device id and line settings on the site's port; read it once."""
        entry = self._get_entry()
        serial = entry.data[CONF_CONNECTION] == CONNECTION_SERIAL
        errors: dict[str, str] = {}
        if user_input is not None:
            charger = {
                **_bus_only(entry.data),
                CONF_MODEL: user_input[CONF_MODEL],
                CONF_DEVICE_ID: int(user_input[CONF_DEVICE_ID]),
                **(_line_data(user_input) if serial else {}),
            }
            if any(
                s.unique_id == _charger_unique_id(charger)
                for s in entry.get_subentries_of_type(SUBENTRY_CHARGER)
            ):
                return self.async_abort(reason="already_configured")
            errors = await self._check(entry, charger)
            if not errors:
                self._charger = charger
                return await self.async_step_settings()
        models = sorted(SUPPORTED_CHARGERS)
        fields: dict[Any, Any] = {
            probatio.Required(CONF_MODEL, default="heidelberg_energy_control"): _select(
                [SelectOptionDict(value=m, label=get_profile(m).name) for m in models],
                CONF_MODEL,
            ),
            probatio.Required(CONF_DEVICE_ID, default=2.0): _number(1, 247),
        }
        if serial:
            fields.update(_line_fields(entry.data))
        return self.async_show_form(
            step_id="user", data_schema=probatio.Schema(fields), errors=errors
        )

    async def _check(self, entry: ConfigEntry, charger: Mapping[str, Any]) -> dict[str, str]:
        """Check the charger fits the port and answers (through the site's bus if running)."""
        settings = bus_settings(charger)
        if line_conflict(settings, bus_settings(entry.data)):
            return {"base": "line_conflict"}
        bus = None
        if entry.state is ConfigEntryState.LOADED:
            buses = entry.runtime_data.coordinator.site.buses
            bus = next((b for b in buses if bus_key(b.settings) == bus_key(settings)), None)
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
        supply = Supply(self._get_entry().options[CONF_SUPPLY])
        errors: dict[str, str] = {}
        if user_input is not None:
            errors = self._settings_errors(user_input, self._charger[CONF_MODEL])
            if not errors:
                data = {**self._charger, **_charger_settings_data(user_input)}
                return self.async_create_entry(
                    title=user_input[CONF_NAME].strip(),
                    data=data,
                    unique_id=_charger_unique_id(data),
                )
        profile = get_profile(self._charger[CONF_MODEL])
        return self.async_show_form(
            step_id="settings",
            data_schema=_charger_settings_schema(
                supply,
                {CONF_NAME: f"{profile.name.split(' ', 1)[0]} {self._charger[CONF_DEVICE_ID]}"},
                with_name=True,
            ),
            errors=errors,
            description_placeholders={"model": profile.name},
        )

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Change a charger's wiring, maximum, shared circuit and priority."""
        entry = self._get_entry()
        subentry = self._get_reconfigure_subentry()
        supply = Supply(entry.options[CONF_SUPPLY])
        errors: dict[str, str] = {}
        if user_input is not None:
            errors = self._settings_errors(user_input, subentry.data[CONF_MODEL])
            if not errors:
                settings = _charger_settings_data(user_input)
                settings[CONF_PAUSED] = bool(subentry.data.get(CONF_PAUSED, False))
                # The installer's new maximum replaces what a user lowered it to.
                data = {k: v for k, v in subentry.data.items() if k != CONF_MAX_LOWERED}
                return self.async_update_and_abort(entry, subentry, data={**data, **settings})
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=_charger_settings_schema(supply, subentry.data, with_name=False),
            errors=errors,
        )
