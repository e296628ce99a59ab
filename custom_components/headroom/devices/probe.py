"""
Probe a device: is there one of this model at this id on this link, and what does it say.

The config flow's test before it stores a device: one read exactly as the control loop
does it, and nothing written. Raises the device layer's errors (`ConnectionLost`,
`NoResponse`, `DeviceRefused`, `Unsupported`); the flow only maps them to messages.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from .bus import Bus
from .chargers import create_charger
from .meters import Meter
from .registers import get_profile

if TYPE_CHECKING:
    from .bus import BusSettings


@dataclass(frozen=True, slots=True, kw_only=True)
class ProbeResult:
    """What a device answered when it was read once."""

    kind: Literal["meter", "charger"]
    model: str
    device_id: int
    largest_current_a: float | None
    """A meter's largest phase current now (the fail-safe suggestion starts from it)."""


async def probe(
    settings: BusSettings, model: str, device_id: int, *, bus: Bus | None = None
) -> ProbeResult:
    """
    Read the device `model` at `device_id` once, through `bus` if open, else a new one.

    A bus opened here is closed again: a serial port is exclusive.
    """
    profile = get_profile(model)
    own = bus is None
    link = Bus(settings) if bus is None else bus
    try:
        if own:
            await link.connect()
        transport = link.device(device_id, pacing_s=profile.pacing_s)
        if profile.kind == "meter":
            reading = await Meter(transport, profile).read(full=False)
            currents = [current for current in reading.currents_a if current is not None]
            return ProbeResult(
                kind="meter",
                model=model,
                device_id=device_id,
                largest_current_a=max(currents, default=0.0),
            )
        await create_charger(transport, profile).read(full=True)
        return ProbeResult(kind="charger", model=model, device_id=device_id, largest_current_a=None)
    finally:
        if own:
            await link.close()


def serial_port_problem(path: str) -> Literal["port_missing", "not_a_serial_port", "port_busy"]:
    """
    Say why a serial port that would not open cannot be used.

    Missing; not a serial port at all (a regular file, a folder, /dev/null: a character
    device but no terminal); or a terminal that another program holds.
    """
    try:
        mode = Path(path).stat().st_mode
    except OSError:
        return "port_missing"
    if not stat.S_ISCHR(mode):
        return "not_a_serial_port"
    try:
        handle = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    except OSError:
        return "port_busy"
    try:
        return "port_busy" if os.isatty(handle) else "not_a_serial_port"
    finally:
        os.close(handle)
