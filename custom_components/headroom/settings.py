"""
Turn what the config entry stores into the engine's and the bus's settings.

No Home Assistant import: plain mappings in, engine and device-layer values out, so the
same rules serve the config flow's checks, the coordinator and the tests.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal, cast

from .const import (
    CONF_BAUDRATE,
    CONF_BREAKER,
    CONF_CIRCUIT,
    CONF_CONNECTION,
    CONF_FAIL_SAFE,
    CONF_GRID_TOLERANCE,
    CONF_MARGIN,
    CONF_MAX_CURRENT,
    CONF_METER_ID,
    CONF_METER_STALE,
    CONF_MODE,
    CONF_PARITY,
    CONF_PAUSED,
    CONF_PHASES,
    CONF_PRIORITY,
    CONF_SHARED_CIRCUIT,
    CONF_SOLAR_START_DELAY,
    CONF_SOLAR_STOP_DELAY,
    CONF_STOPBITS,
    CONF_SUPPLY,
    CONF_SURPLUS_STALE,
    CONF_VOLTAGE,
    CONNECTION_RTU_OVER_TCP,
    CONNECTION_SERIAL,
    DEFAULT_BAUDRATE,
    DEFAULT_GRID_TOLERANCE_W,
    DEFAULT_MARGIN_A,
    DEFAULT_METER_STALE_S,
    DEFAULT_PARITY,
    DEFAULT_PRIORITY,
    DEFAULT_SOLAR_START_DELAY_S,
    DEFAULT_SOLAR_STOP_DELAY_S,
    DEFAULT_STOPBITS,
    DEFAULT_SURPLUS_STALE_S,
    DEFAULT_TCP_PORT,
    DEFAULT_VOLTAGE_V,
    SHARED_CIRCUIT_NAME,
)
from .devices.bus import BusSettings, SerialSettings, TcpSettings
from .engine import Balancer
from .engine.fail_safe import fail_safe_for_charger_a
from .engine.model import (
    MIN_CHARGE_A,
    ChargerSettings,
    Mode,
    SiteSettings,
    SolarSettings,
    Supply,
    TimingSettings,
)

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

CONF_DEVICE: Final = "device"
"""Home Assistant's CONF_DEVICE, repeated here to keep this module free of it."""
CONF_HOST: Final = "host"
CONF_PORT: Final = "port"


@dataclass(frozen=True, slots=True, kw_only=True)
class ChargerConfig:
    """One charger subentry: its id (the subentry id) and its stored data."""

    charger_id: str
    data: Mapping[str, Any]


def bus_settings(data: Mapping[str, Any]) -> BusSettings:
    """Return the port or gateway a config entry (or charger subentry) talks to."""
    connection = data[CONF_CONNECTION]
    if connection == CONNECTION_SERIAL:
        return SerialSettings(
            port=data[CONF_DEVICE],
            baudrate=int(data.get(CONF_BAUDRATE, DEFAULT_BAUDRATE)),
            parity=cast("Literal['N', 'E', 'O']", data.get(CONF_PARITY, DEFAULT_PARITY)),
            stopbits=cast("Literal[1, 2]", int(data.get(CONF_STOPBITS, DEFAULT_STOPBITS))),
        )
    return TcpSettings(
        host=data[CONF_HOST],
        port=int(data.get(CONF_PORT, DEFAULT_TCP_PORT)),
        framer="rtu" if connection == CONNECTION_RTU_OVER_TCP else "socket",
    )


def bus_key(settings: BusSettings) -> tuple[str, ...]:
    """Identify the physical port or gateway: devices with one key share one bus."""
    if isinstance(settings, SerialSettings):
        return ("serial", settings.port)
    return ("tcp", settings.host, str(settings.port))


def line_conflict(first: BusSettings, second: BusSettings) -> bool:
    """Tell whether two devices on one port need different line settings or framing."""
    return bus_key(first) == bus_key(second) and first != second


def describe_bus(settings: BusSettings) -> str:
    """Say where a device is, the way an installer reads it: `/dev/ttyUSB0 9600 8N1`."""
    if isinstance(settings, SerialSettings):
        return f"{settings.port} {settings.baudrate} 8{settings.parity}{settings.stopbits}"
    return f"{settings.host}:{settings.port}"


def charger_phases(value: Iterable[int | str]) -> tuple[int, ...]:
    """Return the stored grid-phase wiring as a tuple of phase numbers."""
    return tuple(int(phase) for phase in value)


def charger_fail_safe_a(fail_safe_a: float, charger: ChargerSettings) -> int:
    """Return the fail-safe current `charger` can apply, in whole amperes (the engine's rule)."""
    return math.floor(
        fail_safe_for_charger_a(fail_safe_a, min_a=charger.min_a, max_a=charger.max_a)
    )


def site_settings(
    data: Mapping[str, Any], options: Mapping[str, Any], chargers: Iterable[ChargerConfig]
) -> SiteSettings:
    """
    Build the engine's settings from the entry's data and options and the chargers.

    Raises ValueError when the engine rejects them (a repair issue tells the user).
    """
    circuit_a = float(options.get(CONF_CIRCUIT, 0.0))
    # Marked as shared but no rating given: the chargers then share the main breaker only.
    shared = circuit_a > 0
    charger_settings = tuple(
        ChargerSettings(
            charger_id=charger.charger_id,
            phases=charger_phases(charger.data[CONF_PHASES]),
            max_a=float(charger.data[CONF_MAX_CURRENT]),
            priority=int(charger.data.get(CONF_PRIORITY, DEFAULT_PRIORITY)),
            circuit=(
                SHARED_CIRCUIT_NAME if shared and charger.data.get(CONF_SHARED_CIRCUIT) else None
            ),
            paused=bool(charger.data.get(CONF_PAUSED, False)),
        )
        for charger in chargers
    )
    uses_circuit = any(charger.circuit is not None for charger in charger_settings)
    settings = SiteSettings(
        supply=Supply(options[CONF_SUPPLY]),
        voltage_v=float(options.get(CONF_VOLTAGE, DEFAULT_VOLTAGE_V)),
        breaker_a=float(options[CONF_BREAKER]),
        margin_a=float(options.get(CONF_MARGIN, DEFAULT_MARGIN_A)),
        fail_safe_a=float(options.get(CONF_FAIL_SAFE, 0.0)),
        chargers=charger_settings,
        circuits_a={SHARED_CIRCUIT_NAME: circuit_a} if uses_circuit else {},
        mode=Mode(options.get(CONF_MODE, Mode.FAST)),
        has_meter=CONF_METER_ID in data,
        solar=SolarSettings(
            start_delay_s=float(options.get(CONF_SOLAR_START_DELAY, DEFAULT_SOLAR_START_DELAY_S)),
            stop_delay_s=float(options.get(CONF_SOLAR_STOP_DELAY, DEFAULT_SOLAR_STOP_DELAY_S)),
            grid_tolerance_w=float(options.get(CONF_GRID_TOLERANCE, DEFAULT_GRID_TOLERANCE_W)),
            surplus_stale_after_s=float(options.get(CONF_SURPLUS_STALE, DEFAULT_SURPLUS_STALE_S)),
        ),
        timing=TimingSettings(
            meter_stale_after_s=float(options.get(CONF_METER_STALE, DEFAULT_METER_STALE_S))
        ),
    )
    problems = settings_problems(settings)
    if problems:
        raise ValueError("; ".join(problems))
    return settings


def settings_problems(settings: SiteSettings) -> list[str]:
    """
    Return the translation keys of what makes these settings unworkable, if anything.

    The engine checks consistency; these are the installer's mistakes it would accept
    but that cannot protect the breaker.
    """
    problems = []
    if settings.breaker_a - settings.margin_a < MIN_CHARGE_A:
        problems.append("breaker_too_low")
    for charger in settings.chargers:
        if not set(charger.phases) <= set(settings.supply.phases):
            problems.append("phases_not_on_supply")
        if charger.max_a > settings.breaker_a:
            problems.append("charger_above_breaker")
    return sorted(set(problems))


PROBLEMS: Final = ("breaker_too_low", "charger_above_breaker", "phases_not_on_supply")
"""Translation keys `settings_problems` returns."""


def site_settings_problem(
    data: Mapping[str, Any], options: Mapping[str, Any], chargers: Iterable[ChargerConfig]
) -> tuple[str, str] | None:
    """
    Return why these settings cannot work: a translation key and the message, or None.

    The key is one of PROBLEMS, or "invalid_settings" for what the engine itself rejects.
    """
    try:
        settings = site_settings(data, options, chargers)
        Balancer(settings)
    except ValueError as err:
        problems = [key for key in PROBLEMS if key in str(err)]
        return (problems[0] if problems else "invalid_settings", str(err))
    return None
