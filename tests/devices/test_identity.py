"""Device identity: firmware and serial number read per model, refused or garbage is None."""

from __future__ import annotations

import pytest

from custom_components.headroom.devices.chargers import Charger, create_charger
from custom_components.headroom.devices.errors import NoResponse
from custom_components.headroom.devices.identity import (
    FIRMWARE_NAMES,
    SERIAL_NAMES,
    DeviceIdentity,
    _text,
)
from custom_components.headroom.devices.meters import Meter
from custom_components.headroom.devices.registers import get_profile, load_profiles
from tests.devices.fakes import FakeDevice

# What a device holds, and what the device registry must show for it.
CASES = [
    # Eastron: serial as a number (as on the label), firmware coded per byte.
    (
        "eastron_sdm630",
        {"serial_number": 21000630, "software_version": 0x0203},
        "0x0203",
        "21000630",
    ),
    # Heidelberg: no serial register; the application software revision.
    ("heidelberg_energy_control", {"app_sw_revision": 0x0108}, "0x0108", None),
    # ABB Terra: a string serial, a 32-bit firmware word.
    (
        "abb_terra_ac",
        {"serial_number": "TACSIM01", "firmware_version": 0x01021300},
        "0x01021300",
        "TACSIM01",
    ),
    # Alfen: station registers on unit 200, firmware as text.
    (
        "alfen_eve",
        {"firmware_version": "6.4.0-4210", "station_serial": "ACE0000001"},
        "6.4.0-4210",
        "ACE0000001",
    ),
    # EVSE-WB: a small firmware number is shown as it is.
    ("evse_wb_din", {"firmware_version": 17}, "17", None),
    # Chint DTSU666: "SW rev" register.
    ("chint_dtsu666", {"sw_version": 204}, "204", None),
]


def _driver(profile_id: str, device: FakeDevice) -> Meter | Charger:
    profile = get_profile(profile_id)
    return Meter(device, profile) if profile.kind == "meter" else create_charger(device, profile)


@pytest.mark.parametrize(("profile_id", "values", "firmware", "serial"), CASES)
async def test_identity_per_model(
    profile_id: str, values: dict[str, int | str], firmware: str, serial: str | None
) -> None:
    device = FakeDevice.from_profile(get_profile(profile_id), values)
    driver = _driver(profile_id, device)
    identity = await driver.identity()
    assert identity == DeviceIdentity(firmware=firmware, serial_number=serial)
    assert device.writes == []


async def test_refused_register_gives_none_and_the_other_is_still_read() -> None:
    # An SDM630 whose firmware register does not exist (older units): exception 2.
    profile = get_profile("eastron_sdm630")
    device = FakeDevice.from_profile(profile, {"serial_number": 12345})
    identity = await Meter(device, profile).identity()
    assert identity == DeviceIdentity(firmware=None, serial_number="12345")


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        # 0 is what a model without the value answers: nothing to show.
        ({"serial_number": 0, "software_version": 0}, DeviceIdentity()),
        # Padding and control characters are not part of a serial.
        (
            {"serial_number": "\x01AB 12\x7f", "firmware_version": 0x01000000},
            DeviceIdentity(firmware="0x01000000", serial_number="AB 12"),
        ),
        ({"serial_number": "  ", "firmware_version": 5}, DeviceIdentity(firmware="5")),
    ],
)
async def test_garbage_is_not_shown(values: dict[str, int | str], expected: DeviceIdentity) -> None:
    profile_id = "abb_terra_ac" if isinstance(values["serial_number"], str) else "eastron_sdm630"
    profile = get_profile(profile_id)
    device = FakeDevice.from_profile(profile, values)
    identity = await _driver(profile_id, device).identity()
    assert identity == expected


async def test_silent_device_raises_so_the_caller_tries_later() -> None:
    profile = get_profile("eastron_sdm630")
    device = FakeDevice.from_profile(profile, {"serial_number": 1})
    device.silent = True
    with pytest.raises(NoResponse):
        await Meter(device, profile).identity()


def test_every_identity_register_is_readable() -> None:
    """A name the identity reads must be a readable register wherever a profile has it."""
    for profile in load_profiles().values():
        for name in (*FIRMWARE_NAMES, *SERIAL_NAMES):
            if profile.has(name):
                assert profile.registers[name].readable, (profile.id, name)


@pytest.mark.parametrize(
    ("raw", "version", "expected"),
    [
        (3.0, True, "3"),  # a scaled register decodes to a float
        (2.5, True, None),  # not a version number
        (-1.0, False, None),
        (None, False, None),
        (0x0203, True, "0x0203"),
        (0x0203, False, "515"),  # serial numbers are printed in decimal
    ],
)
def test_values_rendered_for_people(raw: float | None, version: bool, expected: str | None) -> None:
    assert _text(raw, version=version) == expected
