"""
What the config, options and charger flows share: form fields, checks and the device probe.

Each check returns the flow's error keys (translated in strings.json); the rules behind them
live in `rules` and `validation` (numbers, ranges, the fail-safe) and the device layer
(`devices.probe`).
"""

from __future__ import annotations

import unicodedata
from typing import TYPE_CHECKING, Any, Final

import probatio
from homeassistant.const import CONF_DEVICE, CONF_HOST, CONF_NAME, CONF_PORT
from homeassistant.helpers.selector import (
    BooleanSelector,
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
)

from .const import (
    CONF_BAUDRATE,
    CONF_BREAKER,
    CONF_CIRCUIT,
    CONF_CONNECTION,
    CONF_DEVICE_ID,
    CONF_FAIL_SAFE,
    CONF_GRID_TOLERANCE,
    CONF_MARGIN,
    CONF_MAX_CURRENT,
    CONF_METER_STALE,
    CONF_MODEL,
    CONF_PARITY,
    CONF_PAUSED,
    CONF_PHASES,
    CONF_PRIORITY,
    CONF_SHARED_CIRCUIT,
    CONF_SOLAR_START_DELAY,
    CONF_SOLAR_STOP_DELAY,
    CONF_STOPBITS,
    CONF_VOLTAGE,
    CONF_WATCHDOG_TIMEOUT,
    CONNECTION_RTU_OVER_TCP,
    CONNECTION_SERIAL,
    CONNECTION_TCP,
    DEFAULT_BAUDRATE,
    DEFAULT_PARITY,
    DEFAULT_PRIORITY,
    DEFAULT_STOPBITS,
    DEFAULT_TCP_PORT,
    MAX_PRIORITY,
)
from .coordinator import chargers_of
from .devices.bus import Bus, SerialSettings, TcpSettings
from .devices.chargers import SUPPORTED_CHARGERS, max_limit_a_of
from .devices.errors import (
    ConnectionLost,
    DeviceRefused,
    NoResponse,
    Unsupported,
)
from .devices.probe import probe, serial_port_problem
from .devices.registers import get_profile, load_profiles
from .engine.model import MIN_CHARGE_A, Supply
from .engine_settings import ChargerConfig
from .rules import RULES, Problem, ProblemKey, number, number_problem
from .settings import bus_settings
from .validation import fail_safe_problem

if TYPE_CHECKING:
    from collections.abc import Mapping

    from homeassistant.config_entries import ConfigEntry

    from .devices.bus import BusSettings
    from .devices.discovery import (
        FoundDevice,
    )


LIMIT_FIELDS: Final = (
    CONF_BREAKER,
    CONF_MARGIN,
    CONF_FAIL_SAFE,
    CONF_CIRCUIT,
    CONF_METER_STALE,
    CONF_WATCHDOG_TIMEOUT,
)
SOLAR_FIELDS: Final = (CONF_SOLAR_START_DELAY, CONF_SOLAR_STOP_DELAY, CONF_GRID_TOLERANCE)
CONF_SCAN_ALL: Final = "scan_all"
CONF_METER: Final = "meter"
CONF_CHARGERS: Final = "chargers"
CONF_ADD_MANUAL: Final = "add_manual"
CONF_ADD_NETWORK: Final = "add_network"
NETWORK_CONNECTIONS: Final = (CONNECTION_TCP, CONNECTION_RTU_OVER_TCP)
"""How a charger on its own network address is reached (its own Modbus TCP, or a bridge)."""
METER_MANUAL: Final = "manual"
METER_NONE: Final = "none"
METER_ENTITIES: Final = "entities"
"""The meter is sensors Home Assistant already has."""
BAUDRATES: Final = ("1200", "2400", "4800", "9600", "19200", "38400", "57600", "115200")
PARITIES: Final = ("N", "E", "O")
STOPBITS: Final = ("1", "2")
MAX_NAME_LENGTH: Final = 64
MAX_RTU_ID: Final = 247
MAX_TCP_UNIT_ID: Final = 255
NEW_CHARGER_ID: Final = "new_charger"
"""The id a charger's form checks the site with until the charger has its subentry's id."""
PHASE_CHOICES: Final[Mapping[Supply, tuple[str, ...]]] = {
    Supply.SINGLE_PHASE: ("1",),
    Supply.SPLIT_PHASE: ("1_2", "1", "2"),
    Supply.THREE_PHASE: ("1_2_3", "2_3_1", "3_1_2", "1", "2", "3"),
}
"""Grid-phase wiring of a charger: charger L1, L2, L3 -> grid phases, per supply."""


def meter_models() -> list[str]:
    """Meter profiles that measure phase currents (load balancing needs them)."""
    return sorted(
        p.id for p in load_profiles().values() if p.kind == "meter" and p.has("current_l1")
    )


def number_field(minimum: float, maximum: float, step: float = 1, unit: str | None = None) -> Any:
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


def select_field(
    options: list[str] | list[SelectOptionDict], key: str, *, multiple: bool = False
) -> Any:
    """Return a dropdown of `options`, labelled by the translations under `key`."""
    return SelectSelector(
        SelectSelectorConfig(
            options=options,
            translation_key=key,
            mode=SelectSelectorMode.DROPDOWN,
            multiple=multiple,
        )
    )


def line_fields(defaults: Mapping[str, Any]) -> dict[Any, Any]:
    """Return the serial line settings fields, defaulting to `defaults`."""
    return {
        probatio.Required(
            CONF_BAUDRATE, default=str(defaults.get(CONF_BAUDRATE, DEFAULT_BAUDRATE))
        ): select_field(list(BAUDRATES), CONF_BAUDRATE),
        probatio.Required(
            CONF_PARITY, default=str(defaults.get(CONF_PARITY, DEFAULT_PARITY))
        ): select_field(list(PARITIES), CONF_PARITY),
        probatio.Required(
            CONF_STOPBITS, default=str(defaults.get(CONF_STOPBITS, DEFAULT_STOPBITS))
        ): select_field(list(STOPBITS), CONF_STOPBITS),
    }


def line_data(user_input: Mapping[str, Any]) -> dict[str, Any]:
    """Return the line settings of a form as stored (numbers as numbers)."""
    return {
        CONF_BAUDRATE: int(user_input[CONF_BAUDRATE]),
        CONF_PARITY: user_input[CONF_PARITY],
        CONF_STOPBITS: int(user_input[CONF_STOPBITS]),
    }


def found_line(found: FoundDevice) -> dict[str, Any]:
    """Return the line settings a scan found a device at (empty behind a gateway)."""
    settings = found.settings
    if isinstance(settings, SerialSettings):
        return {
            CONF_BAUDRATE: settings.baudrate,
            CONF_PARITY: settings.parity,
            CONF_STOPBITS: settings.stopbits,
        }
    return {}


def profile_defaults(model: str) -> dict[str, Any]:
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


async def port_error(hass: Any, settings: BusSettings) -> str:
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
        return (await port_error(hass, settings) if bus is None else "cannot_connect"), 0.0
    except NoResponse:
        return "no_answer", 0.0
    except DeviceRefused:
        return "wrong_model", 0.0
    except Unsupported:  # a setting the driver cannot work with (meter ratios, Modbus off)
        return "unsupported_setting", 0.0
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


def charger_fail_safe_errors(
    entry: ConfigEntry, charger_id: str, data: Mapping[str, Any]
) -> tuple[dict[str, str], dict[str, str]]:
    """
    Check the site's fail-safe current with this charger added (a new id) or changed.

    Returns the form's errors and their placeholders: the largest fail-safe current that
    fits on the site with the charger. Every charger may fall back to the fail-safe at
    once; a site whose chargers cannot all hold it would load with every charger at 0 A.
    """
    chargers = [c for c in chargers_of(entry) if c.charger_id != charger_id]
    chargers.append(ChargerConfig(charger_id=charger_id, data=data))
    problem = fail_safe_problem(entry.data, entry.options, chargers)
    if problem is None:
        return {}, {}
    return {"base": problem.key.value}, dict(problem.placeholders)


def charger_settings_schema(
    supply: Supply, defaults: Mapping[str, Any], *, with_name: bool
) -> probatio.Schema:
    r"""Return the form of a charger\'s name (when asked), wiring, maximum, circuit, priority."""
    stored = defaults.get(CONF_PHASES) or []
    # A stored charger keeps a list of lines; a form shown again after an error, its choice.
    phases = stored if isinstance(stored, str) else "_".join(str(p) for p in stored)
    if phases not in PHASE_CHOICES[supply]:
        phases = PHASE_CHOICES[supply][0]
    fields: dict[Any, Any] = {}
    if with_name:
        fields[probatio.Required(CONF_NAME, default=defaults.get(CONF_NAME, ""))] = TextSelector()
    fields.update(
        {
            probatio.Required(CONF_PHASES, default=phases): select_field(
                list(PHASE_CHOICES[supply]), CONF_PHASES
            ),
            probatio.Required(
                CONF_MAX_CURRENT, default=float(defaults.get(CONF_MAX_CURRENT, 16))
            ): number_field(MIN_CHARGE_A, RULES[CONF_MAX_CURRENT].maximum, unit="A"),
            probatio.Required(
                CONF_SHARED_CIRCUIT, default=bool(defaults.get(CONF_SHARED_CIRCUIT, False))
            ): BooleanSelector(),
            probatio.Required(
                CONF_PRIORITY, default=float(defaults.get(CONF_PRIORITY, DEFAULT_PRIORITY))
            ): number_field(1, MAX_PRIORITY),
        }
    )
    return probatio.Schema(fields)


def charger_settings_data(user_input: Mapping[str, Any]) -> dict[str, Any]:
    """Return a charger form's answers as stored in its subentry."""
    return {
        CONF_PHASES: [int(p) for p in user_input[CONF_PHASES].split("_")],
        CONF_MAX_CURRENT: int(user_input[CONF_MAX_CURRENT]),
        CONF_SHARED_CIRCUIT: bool(user_input[CONF_SHARED_CIRCUIT]),
        CONF_PRIORITY: int(user_input[CONF_PRIORITY]),
        CONF_PAUSED: False,
    }


def bus_only(data: Mapping[str, Any]) -> dict[str, Any]:
    """Return the connection part of entry data (no line settings, no meter)."""
    keys = (CONF_CONNECTION, CONF_DEVICE, CONF_HOST, CONF_PORT)
    return {key: data[key] for key in keys if key in data}


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


def finite_only(values: Mapping[str, Any]) -> dict[str, Any]:
    """Leave out values a form cannot show again (NaN, null): the user enters them anew."""
    return {
        key: value
        for key, value in values.items()
        if value is not None and (not isinstance(value, float) or number(value) is not None)
    }


def charger_unique_id(data: Mapping[str, Any]) -> str:
    """Identify a charger by its bus and device id."""
    return f"{bus_settings(data).key}_{data[CONF_DEVICE_ID]}"


def device_id_field(connection: str) -> Any:
    """
    Return the device id field: 1-247 on RS-485, up to 255 behind a Modbus TCP gateway.

    Some chargers on their own IP answer unit id 255 only (KEBA, Vestel).
    """
    return number_field(1, MAX_RTU_ID if connection == CONNECTION_SERIAL else MAX_TCP_UNIT_ID)


def default_unit_id(model: str) -> int:
    """
    Return the unit id a model answers on at its own network address.

    A Modbus TCP model's profile names it (255 for KEBA and Vestel, 1 for Alfen); an
    RS-485 model behind its own bridge keeps its factory device id.
    """
    profile = get_profile(model)
    if profile.tcp is not None and profile.tcp.unit_id is not None:
        return profile.tcp.unit_id
    return profile.serial.device_id if profile.serial is not None else 1


def brand_and_id(model: str, device_id: int) -> str:
    """Name a device by its model's first word and its id: `Heidelberg 2` (a default name)."""
    return f"{get_profile(model).name.split(' ', 1)[0]} {device_id}"


def unit_ids_text() -> str:
    """List the Modbus TCP chargers' default unit ids for a form: `KEBA 255, Alfen 1`."""
    return ", ".join(
        brand_and_id(model, default_unit_id(model))
        for model in sorted(SUPPORTED_CHARGERS)
        if get_profile(model).tcp is not None
    )


def network_charger_schema() -> probatio.Schema:
    """
    Return the form of a charger on its own network address: model, framing, host, port, unit.

    The unit id may stay empty: the model's own default (`default_unit_id`) is then used.
    """
    fields: dict[Any, Any] = {
        probatio.Required(CONF_MODEL, default="keba_p30_p40"): select_field(
            [
                SelectOptionDict(value=m, label=get_profile(m).name)
                for m in sorted(SUPPORTED_CHARGERS)
            ],
            CONF_MODEL,
        ),
        probatio.Required(CONF_CONNECTION, default=CONNECTION_TCP): select_field(
            list(NETWORK_CONNECTIONS), CONF_CONNECTION
        ),
        probatio.Required(CONF_HOST): TextSelector(),
        probatio.Required(CONF_PORT, default=float(DEFAULT_TCP_PORT)): number_field(1, 65535),
        probatio.Optional(CONF_DEVICE_ID): number_field(1, MAX_TCP_UNIT_ID),
    }
    return probatio.Schema(fields)


def network_charger_data(user_input: Mapping[str, Any]) -> dict[str, Any]:
    """Return a network charger's connection, model and unit id as stored in its subentry."""
    model = user_input[CONF_MODEL]
    unit_id = user_input.get(CONF_DEVICE_ID)
    return {
        CONF_CONNECTION: user_input[CONF_CONNECTION],
        CONF_HOST: str(user_input[CONF_HOST]).strip(),
        CONF_PORT: int(user_input[CONF_PORT]),
        CONF_MODEL: model,
        CONF_DEVICE_ID: default_unit_id(model) if unit_id is None else int(unit_id),
    }
