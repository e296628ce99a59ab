"""
Build a `Site` from where its devices are: one `Bus` per port, the drivers on them.

No Home Assistant import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .devices.bus import Bus
from .devices.chargers import create_charger
from .devices.fallback import MeterChain
from .devices.meters import Meter
from .devices.registers import get_profile
from .settings import DeviceLocation
from .site import Site

if TYPE_CHECKING:
    from collections.abc import Mapping

    from .devices.bus import BusSettings
    from .devices.interfaces import ChargerDevice, MeterDevice
    from .engine import Balancer


METER_RETRIES = 1
"""The meter drives the breaker protection: one more attempt within the cycle."""
CHARGER_RETRIES = 0
"""A silent charger is read again next cycle; retries would only delay the meter."""


def build_site(
    *,
    balancer: Balancer,
    meter: DeviceLocation | MeterDevice | None,
    chargers: Mapping[str, DeviceLocation | ChargerDevice],
    watchdog_timeout_s: float,
    backup_meter: MeterDevice | None = None,
) -> Site:
    """
    Build the buses and drivers of a site; nothing is opened yet.

    A meter or charger given as a device (not a `DeviceLocation`) is used as it is: one
    that Home Assistant entities stand for. A `backup_meter` is read while the meter is
    silent (`MeterChain`). Devices on one port share one `Bus`. Raises `LineConflictError`
    when two devices on one port need different line settings, and `Unsupported` for a
    charger model without a driver.
    """
    buses: dict[str, Bus] = {}

    def bus_for(settings: BusSettings) -> Bus:
        key = settings.key
        bus = buses.get(key)
        if bus is None:
            bus = buses[key] = Bus(settings)
        elif bus.settings != settings:
            msg = f"{settings.label} cannot serve {bus.settings.line} and {settings.line} at once"
            raise LineConflictError(msg)
        return bus

    meter_driver: MeterDevice | None = None
    if meter is not None and not isinstance(meter, DeviceLocation):
        meter_driver = meter
    elif meter is not None:
        profile = get_profile(meter.model)
        meter_driver = Meter(
            bus_for(meter.bus).device(
                meter.device_id, pacing_s=profile.pacing_s, retries=METER_RETRIES
            ),
            profile,
        )
    if meter_driver is not None and backup_meter is not None:
        meter_driver = MeterChain(meter_driver, backup_meter)
    drivers: dict[str, ChargerDevice] = {}
    for charger_id, charger in chargers.items():
        if not isinstance(charger, DeviceLocation):
            drivers[charger_id] = charger
            continue
        profile = get_profile(charger.model)
        transport = bus_for(charger.bus).device(
            charger.device_id, pacing_s=profile.pacing_s, retries=CHARGER_RETRIES
        )
        drivers[charger_id] = create_charger(transport, profile)
    return Site(
        balancer=balancer,
        buses=buses.values(),
        meter=meter_driver,
        chargers=drivers,
        watchdog_timeout_s=watchdog_timeout_s,
    )


class LineConflictError(ValueError):
    """Two devices on one port need different line settings: they cannot share it."""
