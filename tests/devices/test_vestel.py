"""Vestel EVC04: state from cable and charging state, FC6 limits, alive-register watchdog."""

from __future__ import annotations

import pytest

from custom_components.headroom.devices.bus import TcpSettings
from custom_components.headroom.devices.chargers import VestelEvc04, create_charger
from custom_components.headroom.devices.discovery import identify
from custom_components.headroom.devices.errors import NoResponse
from custom_components.headroom.devices.registers import Value, decode, get_profile
from custom_components.headroom.engine.model import ChargerState
from tests.devices.fakes import FakeBus, FakeDevice

PROFILE = get_profile("vestel_evc04")
CHARGING: dict[str, Value] = {
    "cable_state": 3,
    "charging_state": 1,
    "current_l1": 15.9,
    "current_l2": 16.0,
    "current_l3": 15.8,
    "power_total": 11000,
    "energy_total": 3000.0,
    "energy_session": 4.5,
    "current_limit": 16,
    "watchdog_timeout": 20,
    "failsafe_current": 0,
}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _vestel(clock: Clock | None = None, **overrides: Value) -> tuple[VestelEvc04, FakeDevice]:
    device = FakeDevice.from_profile(PROFILE, CHARGING | overrides, device_id=255)
    charger = create_charger(device, PROFILE, clock=clock or Clock())
    assert isinstance(charger, VestelEvc04)
    return charger, device


@pytest.mark.parametrize(
    ("cable", "charging", "state"),
    [
        (0, 0, ChargerState.A),  # no cable
        (1, 0, ChargerState.A),  # cable at the station, no car
        (2, 0, ChargerState.B),  # car plugged in
        (3, 0, ChargerState.B),  # plugged in and locked
        (3, 1, ChargerState.C),
        (1, 1, ChargerState.A),  # "charging" without a car cannot be: no car to allocate to
    ],
)
async def test_state_from_cable_and_charging_state(
    cable: int, charging: int, state: ChargerState
) -> None:
    charger, device = _vestel(cable_state=cable, charging_state=charging)
    reading = await charger.read()
    assert reading.state is state
    assert device.writes == []


async def test_full_read_scales_the_meter() -> None:
    charger, _ = _vestel()
    reading = await charger.read()
    assert reading.currents_a == pytest.approx((15.9, 16.0, 15.8))
    assert reading.setpoint_a == 16
    assert reading.power_w == 11000
    assert reading.energy_total_kwh == pytest.approx(3000.0)
    assert reading.energy_session_kwh == pytest.approx(4.5)


@pytest.mark.parametrize("cable", [4, 0xFFFF])
async def test_unknown_cable_state_is_no_response(cable: int) -> None:
    charger, _ = _vestel(cable_state=cable)
    with pytest.raises(NoResponse, match="charger_state"):
        await charger.read(full=False)


async def test_limit_pause_resume_single_register_writes() -> None:
    charger, device = _vestel()
    register = PROFILE.registers["current_limit"]
    await charger.set_limit(10)
    await charger.set_limit(0)  # pause
    await charger.set_limit(6)  # resume
    assert [decode(register, w) for w in device.written(register)] == [10, 0, 6]
    assert {code for _, _, code in device.writes} == {6}  # FC6, as evcc writes


async def test_watchdog_writes_failsafe_and_timeout_then_keeps_alive() -> None:
    clock = Clock()
    charger, device = _vestel(clock)
    status = await charger.arm_watchdog(timeout_s=15, failsafe_a=6)
    assert (status.timeout_s, status.failsafe_a, status.rewrite_interval_s) == (15.0, 6, 3.75)
    registers = PROFILE.registers
    assert [
        decode(registers["failsafe_current"], w)
        for w in device.written(registers["failsafe_current"])
    ] == [6]
    assert [
        decode(registers["watchdog_timeout"], w)
        for w in device.written(registers["watchdog_timeout"])
    ] == [15]
    alive = registers["alive"]
    assert len(device.written(alive)) == 1
    clock.now += 3.0
    await charger.maintain()
    assert len(device.written(alive)) == 1  # not yet: a quarter of 15 s is 3.75 s
    clock.now += 1.0
    await charger.maintain()
    assert [decode(alive, w) for w in device.written(alive)] == [1, 1]
    # Settings the charger already holds are not written again.
    await charger.arm_watchdog(timeout_s=15, failsafe_a=6)
    assert len(device.written(registers["failsafe_current"])) == 1


@pytest.mark.parametrize("timeout_s", [0, 2, 70000])
async def test_watchdog_timeout_out_of_range(timeout_s: float) -> None:
    charger, device = _vestel()
    with pytest.raises(ValueError, match="fail-safe timeout"):
        await charger.arm_watchdog(timeout_s=timeout_s, failsafe_a=6)
    assert device.writes == []


def _brand(text: str) -> list[int]:
    """One UTF-16BE character per register, as evcc decodes the Vestel strings."""
    return [ord(char) for char in text.ljust(10, "\x00")]


async def test_fingerprint_on_its_own_socket_only() -> None:
    device = FakeDevice.from_profile(PROFILE, CHARGING, device_id=255)
    device.set_words(PROFILE.registers["brand"], _brand("Vestel"))
    bus = FakeBus({255: device})
    assert await identify(bus, TcpSettings("h", 502), 255) == "vestel_evc04"
    # behind an RTU gateway it is not looked for (it has no RS-485 port)
    assert await identify(bus, TcpSettings("h", 502, "rtu"), 255) is None


@pytest.mark.parametrize(
    ("overrides", "brand"),
    [({}, ""), ({"cable_state": 9}, "Vestel"), ({"current_limit": 500}, "Vestel")],
    ids=["no-brand", "cable-state", "limit"],
)
async def test_fingerprint_rejects_implausible(overrides: dict[str, Value], brand: str) -> None:
    device = FakeDevice.from_profile(PROFILE, CHARGING | overrides, device_id=255)
    device.set_words(PROFILE.registers["brand"], _brand(brand))
    assert await identify(FakeBus({255: device}), TcpSettings("h", 502), 255) is None


async def test_nothing_to_keep_alive_before_the_watchdog_is_armed() -> None:
    charger, device = _vestel()
    await charger.maintain()
    assert device.writes == []


def test_a_missing_state_is_garbage_never_no_car() -> None:
    charger, _ = _vestel()
    with pytest.raises(NoResponse, match="charger_state"):
        charger._reading({"cable_state": None, "charging_state": 0})
