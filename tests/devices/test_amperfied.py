"""Amperfied connect: the Heidelberg Energy Control's registers over Modbus TCP, unit 255."""

from __future__ import annotations

import pytest

from custom_components.headroom.devices.bus import TcpSettings
from custom_components.headroom.devices.chargers import ChargerState, create_charger
from custom_components.headroom.devices.chargers_tcp import AmperfiedConnect
from custom_components.headroom.devices.discovery import identify
from custom_components.headroom.devices.registers import Value, decode, get_profile
from tests.devices.fakes import FakeBus, FakeDevice
from tests.devices.test_chargers import HEIDELBERG

AMPERFIED = "amperfied_connect"
PROFILE = get_profile(AMPERFIED)
IDENTITY: dict[str, Value] = {"layout_version": 0x0108, "hw_max_current": 16}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _device(device_id: int = 255, **overrides: Value) -> FakeDevice:
    device = FakeDevice.from_profile(PROFILE, HEIDELBERG | overrides, device_id=device_id)
    for name, value in IDENTITY.items():
        device.set(PROFILE.registers[name], value)
    return device


def test_the_same_map_as_the_energy_control() -> None:
    heidelberg = get_profile("heidelberg_energy_control")
    assert dict(PROFILE.registers) == dict(heidelberg.registers)
    assert (PROFILE.serial, PROFILE.tcp is not None) == (None, True)
    assert PROFILE.tcp is not None
    assert PROFILE.tcp.unit_id == 255


async def test_reads_and_limits_as_the_energy_control() -> None:
    device = _device()
    charger = create_charger(device, PROFILE, clock=Clock())
    assert isinstance(charger, AmperfiedConnect)
    reading = await charger.read()
    assert reading.state is ChargerState.C
    assert reading.currents_a == pytest.approx((15.9, 16.0, 0.0))
    await charger.set_limit(10)
    await charger.set_limit(0)  # pause
    limit = PROFILE.registers["current_limit"]
    assert [decode(limit, w) for w in device.written(limit)] == [pytest.approx(10.0), 0.0]


async def test_watchdog_without_touching_standby() -> None:
    """evcc never writes 258 on a connect: Headroom writes only the timeout and fail-safe."""
    device = _device()
    charger = create_charger(device, PROFILE, clock=Clock())
    status = await charger.arm_watchdog(timeout_s=15, failsafe_a=6)
    assert (status.timeout_s, status.failsafe_a) == (15.0, 6)
    assert device.written(PROFILE.registers["standby_control"]) == []
    assert [
        decode(PROFILE.registers["failsafe_current"], w)
        for w in device.written(PROFILE.registers["failsafe_current"])
    ] == [pytest.approx(6.0)]


async def test_unit_255_on_its_own_socket_is_a_connect_an_id_behind_a_gateway_is_not() -> None:
    tcp = TcpSettings("h", 502)
    assert await identify(FakeBus({255: _device(255)}), tcp, 255) == AMPERFIED
    # an RS-485 Energy Control behind a Modbus TCP gateway: its DIP id, 1-15
    assert await identify(FakeBus({2: _device(2)}), tcp, 2) == "heidelberg_energy_control"
    rtu_gateway = TcpSettings("h", 8899, "rtu")
    assert await identify(FakeBus({2: _device(2)}), rtu_gateway, 2) == "heidelberg_energy_control"
