"""
Device identity: firmware version and serial number, for the device registry.

Identity is slow data: read once when a device is first reached (and again after it was
away, as it may have been updated), never on the control path's clock. Models name these
registers differently; the first name of each list that the profile has is read.

An identity read never decides anything: a model that refuses the register (older
firmware without it) or sends garbage gives None for that value. Errors that say the
device or the port is gone (`NoResponse`, `ConnectionLost`) are raised, so the caller can
try again later.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from .errors import DeviceRefused

if TYPE_CHECKING:
    from .planner import RegisterReader
    from .registers import Profile, Value

FIRMWARE_NAMES: Final = (
    "firmware_version",
    "fw_version",
    "software_version",
    "sw_version",
    "app_sw_revision",
    "firmware",
    "version",
)
"""Register names that hold a firmware version, in order of preference."""

SERIAL_NAMES: Final = ("serial_number", "serial", "station_serial", "charger_serial")
"""Register names that hold a serial number, in order of preference."""

_HEX_FROM: Final = 0x100
"""Integer versions from here on are shown in hex: vendors code them per byte (0x0203)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceIdentity:
    """What a device says it is; None where the model has no such register or refused."""

    firmware: str | None = None
    serial_number: str | None = None


def _name(profile: Profile, names: tuple[str, ...]) -> str | None:
    return next((name for name in names if profile.has(name)), None)


def _text(value: Value | None, *, version: bool) -> str | None:
    """Render a register value for people; None when there is nothing to show."""
    if isinstance(value, str):
        text = "".join(ch for ch in value if ch.isprintable()).strip()
        return text or None
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, float):
        if not value.is_integer() or value < 0:
            return None
        value = int(value)
    if value <= 0:
        return None  # 0 is what a model without the value answers (SDM120 firmware)
    if version and value >= _HEX_FROM:
        digits = 4 if value <= 0xFFFF else 8  # noqa: PLR2004
        return f"0x{value:0{digits}X}"
    return str(value)


async def read_identity(reader: RegisterReader, profile: Profile) -> DeviceIdentity:
    """
    Read the firmware version and serial number `profile` maps, each on its own.

    A register the device refuses gives None; `NoResponse` and `ConnectionLost` are raised.
    """
    values: dict[str, str | None] = {}
    for field_name, names, version in (
        ("firmware", FIRMWARE_NAMES, True),
        ("serial_number", SERIAL_NAMES, False),
    ):
        name = _name(profile, names)
        if name is None:
            values[field_name] = None
            continue
        try:
            raw = (await reader.read([name]))[name]
        except DeviceRefused:
            raw = None
        values[field_name] = _text(raw, version=version)
    return DeviceIdentity(firmware=values["firmware"], serial_number=values["serial_number"])
