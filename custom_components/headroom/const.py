"""Constants shared by the Home Assistant layer: config keys, defaults, cadences."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Final

DOMAIN: Final = "headroom"
LOGGER: Final = logging.getLogger(__package__)

SUBENTRY_CHARGER: Final = "charger"

# --- config entry data: the connection and the meter ---------------------------------------
CONF_CONNECTION: Final = "connection"
"""How the bus is reached: one of CONNECTION_TYPES."""
CONNECTION_SERIAL: Final = "serial"
CONNECTION_TCP: Final = "tcp"
CONNECTION_RTU_OVER_TCP: Final = "rtu_over_tcp"
CONNECTION_TYPES: Final = (CONNECTION_SERIAL, CONNECTION_TCP, CONNECTION_RTU_OVER_TCP)
CONNECTION_ENTITIES: Final = "entities"
"""The setup flow's choice of no port or gateway: a site of Home Assistant entities only.
Not stored (such an entry has no CONF_CONNECTION); its unique id is ENTITIES_SITE_ID."""
ENTITIES_SITE_ID: Final = "entities"
"""The unique id of the site without a port or gateway: one such site (a second aborts)."""
# The serial port is stored under Home Assistant's CONF_DEVICE ("device") so the USB panel
# attributes the adapter to this entry; TCP gateways use CONF_HOST and CONF_PORT.
CONF_BAUDRATE: Final = "baudrate"
CONF_PARITY: Final = "parity"
CONF_STOPBITS: Final = "stopbits"
CONF_USB_ID: Final = "usb_id"
"""The USB adapter's identity (vendor, product, serial number, maker, name), when known:
a re-plugged adapter moves the site to its new path."""
CONF_METER_MODEL: Final = "meter_model"
CONF_METER_ID: Final = "meter_device_id"
"""Absent when the site has no meter (power sharing only)."""

# --- config entry options: the site and the user's choices ------------------------------
CONF_SUPPLY: Final = "supply"
CONF_VOLTAGE: Final = "voltage_v"
CONF_BREAKER: Final = "breaker_a"
"""The installer's rating (options flow, admins only)."""
CONF_BREAKER_LOWERED: Final = "breaker_lowered_a"
"""What a user lowered the rating to from the dashboard: never above the installer's."""
CONF_MARGIN: Final = "margin_a"
CONF_FAIL_SAFE: Final = "fail_safe_a"
CONF_CIRCUIT: Final = "circuit_a"
"""Rating of the breaker the chargers marked `shared_circuit` hang on (0: none)."""
CONF_MODE: Final = "mode"
CONF_METER_STALE: Final = "meter_stale_after_s"
CONF_WATCHDOG_TIMEOUT: Final = "watchdog_timeout_s"
CONF_SOLAR_SOURCE: Final = "solar_source"
SOLAR_SOURCE_NONE: Final = "none"
SOLAR_SOURCE_GRID: Final = "grid"
SOLAR_SOURCE_PV_HOUSE: Final = "pv_house"
SOLAR_SOURCES: Final = (SOLAR_SOURCE_NONE, SOLAR_SOURCE_GRID, SOLAR_SOURCE_PV_HOUSE)
CONF_GRID_POWER_ENTITY: Final = "grid_power_entity"
"""Signed grid power: positive while importing, negative while exporting."""
CONF_PV_POWER_ENTITY: Final = "pv_power_entity"
CONF_HOUSE_POWER_ENTITY: Final = "house_power_entity"
"""Whole-house consumption, chargers included."""
CONF_SOLAR_START_DELAY: Final = "solar_start_delay_s"
CONF_SOLAR_STOP_DELAY: Final = "solar_stop_delay_s"
CONF_GRID_TOLERANCE: Final = "grid_tolerance_w"
CONF_SURPLUS_STALE: Final = "surplus_stale_after_s"
CONF_PEAK_TARGET: Final = "peak_target_kw"
"""Capacity tariff: the average grid import per window to stay under (0: no budget)."""
CONF_PEAK_WINDOW: Final = "peak_window_min"
"""The utility's window in minutes: 15 (Flanders) or 60 (Norway, Sweden)."""
PEAK_WINDOWS_MIN: Final = (15, 60)
MAX_PEAK_TARGET_KW: Final = 1000.0

# --- charger subentry data ---------------------------------------------------------------
CONF_MODEL: Final = "model"
CONF_DEVICE_ID: Final = "device_id"
CONF_PHASES: Final = "phases"
CONF_MAX_CURRENT: Final = "max_a"
"""The installer's maximum (charger flow, admins only)."""
CONF_MAX_LOWERED: Final = "max_lowered_a"
"""What a user lowered the maximum to from the dashboard: never above the installer's."""
CONF_SHARED_CIRCUIT: Final = "shared_circuit"
CONF_PRIORITY: Final = "priority"
CONF_PAUSED: Final = "paused"

SHARED_CIRCUIT_NAME: Final = "shared"

# --- defaults ------------------------------------------------------------------------------
DEFAULT_BAUDRATE: Final = 9600
DEFAULT_PARITY: Final = "N"
DEFAULT_STOPBITS: Final = 1
DEFAULT_TCP_PORT: Final = 502
DEFAULT_VOLTAGE_V: Final = 230.0
DEFAULT_MARGIN_A: Final = 1.0
DEFAULT_METER_STALE_S: Final = 5.0
DEFAULT_WATCHDOG_TIMEOUT_S: Final = 15.0
"""Heidelberg's own default; ABB accepts 10 s and more. Longer than the meter staleness,
so a charger falls back by itself only once Home Assistant has stopped talking to it."""
DEFAULT_SOLAR_START_DELAY_S: Final = 60.0
DEFAULT_SOLAR_STOP_DELAY_S: Final = 180.0
DEFAULT_GRID_TOLERANCE_W: Final = 100.0
DEFAULT_SURPLUS_STALE_S: Final = 30.0
DEFAULT_PRIORITY: Final = 1
MIN_BREAKER_A: Final = 6.0
MAX_BREAKER_A: Final = 400.0
MAX_CHARGER_A: Final = 80.0
MAX_PRIORITY: Final = 10

# --- cadence -------------------------------------------------------------------------------
CYCLE_INTERVAL: Final = timedelta(seconds=1)
"""The control loop: the meter is read every second (DESIGN section 2)."""
FULL_READ_EVERY_CYCLES: Final = 10
"""Each device is read in full (energy counters, voltages, setpoints) every this many cycles."""
HISTORY_CYCLES: Final = 20
"""Cycles of engine input and output kept for diagnostics."""
