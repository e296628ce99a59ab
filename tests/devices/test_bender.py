"""Bender CC612/CC613: control-pilot state, the energy manager's limit, no armable fail-safe."""

from __future__ import annotations

import pytest

from custom_components.headroom.devices.bus import SerialSettings, TcpSettings
from custom_components.headroom.devices.chargers import (
    SUPPORTED_CHARGERS,
    TCP_CHARGERS,
    ChargerState,
    create_charger,
    max_limit_a_of,
)
from custom_components.headroom.devices.chargers_tcp import TCP_DRIVERS, BenderCc
from custom_components.headroom.devices.discovery import identify
from custom_components.headroom.devices.errors import NoResponse, Unsupported
from custom_components.headroom.devices.registers import Value, decode, get_profile
from tests.devices.fakes import FakeBus, FakeDevice

BENDER = "bender_cc612_cc613"
PROFILE = get_profile(BENDER)
CHARGING: dict[str, Value] = {
    "charger_state": 3,
    "current_l1": 15.9,
    "current_l2": 16.0,
    "current_l3": 15.8,
    "power_total": 11000,
    "energy_total": 4000.0,
    "current_limit": 16,
    "failsafe_current": 10,
}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _bender(clock: Clock | None = None, **overrides: Value) -> tuple[BenderCc, FakeDevice]:
    device = FakeDevice.from_profile(PROFILE, CHARGING | overrides, device_id=255)
    charger = create_charger(device, PROFILE, clock=clock or Clock())
    assert isinstance(charger, BenderCc)
    return charger, device


def test_the_tcp_drivers_are_the_ones_listed() -> None:
    """`chargers` lists the ids without importing their module; the two must agree."""
    assert set(TCP_DRIVERS) == set(TCP_CHARGERS)
    assert set(TCP_CHARGERS) <= SUPPORTED_CHARGERS
    assert max_limit_a_of(BENDER) == 32


@pytest.mark.parametrize(
    ("code", "state"),
    [
        (1, ChargerState.A),
        (2, ChargerState.B),
        (3, ChargerState.C),
        (4, ChargerState.D),  # ventilation asked: evcc calls it C, OpenEMS D
        (5, ChargerState.E),
    ],
)
async def test_state_from_the_control_pilot(code: int, state: ChargerState) -> None:
    charger, _ = _bender(charger_state=code)
    assert (await charger.read(full=False)).state is state


@pytest.mark.parametrize("code", [0, 6])
async def test_unknown_state_is_no_response(code: int) -> None:
    charger, _ = _bender(charger_state=code)
    with pytest.raises(NoResponse):
        await charger.read(full=False)


async def test_full_read_scales_milliamperes_and_watt_hours() -> None:
    charger, _ = _bender()
    reading = await charger.read()
    assert reading.currents_a == pytest.approx((15.9, 16.0, 15.8))
    assert (reading.setpoint_a, reading.power_w) == (16, 11000)
    assert reading.energy_total_kwh == pytest.approx(4000.0)  # read as Wh


async def test_without_a_meter_the_currents_are_unknown_not_zero() -> None:
    """
    A controller without a meter answers all ones (evcc reads 0 A). 0 A would tell the
    engine the car draws nothing; Headroom leaves the currents unknown instead.
    """
    charger, device = _bender()
    for name in ("current_l1", "current_l2", "current_l3", "power_total", "energy_total"):
        device.set_words(PROFILE.registers[name], [0xFFFF, 0xFFFF])
    reading = await charger.read()
    assert reading.state is ChargerState.C
    assert reading.currents_a == (None, None, None)
    assert (reading.power_w, reading.energy_total_kwh) == (None, None)


async def test_one_current_not_available_is_garbage() -> None:
    charger, device = _bender()
    device.set_words(PROFILE.registers["current_l2"], [0xFFFF, 0xFFFF])
    with pytest.raises(NoResponse):
        await charger.read(full=False)


async def test_limit_pause_and_resume_with_fc16() -> None:
    charger, device = _bender()
    limit = PROFILE.registers["current_limit"]
    await charger.set_limit(16)
    await charger.set_limit(0)  # pause
    await charger.set_limit(10)  # resume
    assert [decode(limit, w) for w in device.written(limit)] == [16, 0, 10]
    assert {code for _, _, code in device.writes} == {16}


async def test_no_fail_safe_to_arm_names_the_safe_current() -> None:
    charger, device = _bender()
    assert not charger.has_watchdog
    with pytest.raises(Unsupported, match="safe current is 10 A, set in its web interface"):
        await charger.arm_watchdog(timeout_s=20, failsafe_a=6)
    assert device.writes == []


async def test_the_limit_is_written_again_every_25_s() -> None:
    """Should the installer have set a communication timeout, a healthy site keeps it alive."""
    clock = Clock()
    charger, device = _bender(clock)
    limit = PROFILE.registers["current_limit"]
    await charger.set_limit(12)
    clock.now += 20
    await charger.maintain()
    assert len(device.written(limit)) == 1
    clock.now += 5
    await charger.maintain()
    assert [decode(limit, w) for w in device.written(limit)] == [12, 12]


def at_255(profile_id: str, values: dict[str, Value]) -> FakeDevice:
    """A charger answering on unit 255 of its own socket, with these register values."""
    return FakeDevice.from_profile(get_profile(profile_id), values, device_id=255)


@pytest.mark.parametrize(
    "overrides",
    [{"charger_state": 0}, {"charger_state": 9}, {"failsafe_current": 500}],
    ids=["state-0", "state-9", "no-safe-current"],
)
async def test_implausible_bender_is_not_taken(overrides: dict[str, Value]) -> None:
    device = at_255(BENDER, CHARGING | overrides)
    assert await identify(FakeBus({255: device}), TcpSettings("h", 502), 255) is None


async def test_bender_fingerprint_is_not_tried_on_a_serial_line() -> None:
    device = FakeDevice.from_profile(PROFILE, CHARGING, device_id=1)
    assert await identify(FakeBus({1: device}), SerialSettings("/dev/x", 9600), 1) is None
    assert (3, 122, 1) not in device.reads  # its state register was never asked for
