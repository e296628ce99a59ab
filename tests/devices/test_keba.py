"""KEBA P30/P40: state, P30 vs P40 pause, fail-safe with read-backs and heartbeat."""

from __future__ import annotations

import pytest

from custom_components.headroom.devices.bus import TcpSettings
from custom_components.headroom.devices.chargers import KebaP30P40, create_charger
from custom_components.headroom.devices.discovery import identify
from custom_components.headroom.devices.errors import NoResponse, Unsupported
from custom_components.headroom.devices.registers import Value, decode, get_profile
from custom_components.headroom.engine.model import ChargerState
from tests.devices.fakes import FakeBus, FakeDevice
from tests.devices.test_vestel import CHARGING as VESTEL_CHARGING
from tests.devices.test_vestel import _brand

PROFILE = get_profile("keba_p30_p40")
P30 = 311011
P40 = 4021011
CHARGING: dict[str, Value] = {
    "charging_state": 3,
    "cable_state": 7,
    "current_l1": 15.9,
    "current_l2": 16.0,
    "current_l3": 15.8,
    "power_total": 11000.0,
    "product_type": P30,
    "failsafe_current_readback": 0.0,
    "watchdog_timeout_readback": 0,
}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _keba(clock: Clock | None = None, **overrides: Value) -> tuple[KebaP30P40, FakeDevice]:
    device = FakeDevice.from_profile(PROFILE, CHARGING | overrides, device_id=255)
    charger = create_charger(device, PROFILE, clock=clock or Clock())
    assert isinstance(charger, KebaP30P40)
    return charger, device


@pytest.mark.parametrize(
    ("cable", "charging", "state"),
    [
        (0, 1, ChargerState.A),
        (3, 1, ChargerState.A),  # cable locked at the station, no car
        (5, 2, ChargerState.B),
        (7, 5, ChargerState.B),  # suspended (paused)
        (7, 3, ChargerState.C),
        (7, 4, ChargerState.E),
    ],
)
async def test_state(cable: int, charging: int, state: ChargerState) -> None:
    charger, _ = _keba(cable_state=cable, charging_state=charging)
    assert (await charger.read(full=False)).state is state


async def test_unknown_charging_state_is_no_response() -> None:
    charger, _ = _keba(charging_state=9)
    with pytest.raises(NoResponse):
        await charger.read(full=False)


async def test_full_read_scales_ma_mw_and_tenth_wh() -> None:
    charger, device = _keba()
    raw = 20_000_000  # in 0.1 Wh steps: 2000 kWh
    device.set_words(PROFILE.registers["energy_total"], [raw >> 16, raw & 0xFFFF])
    reading = await charger.read()
    assert reading.currents_a == pytest.approx((15.9, 16.0, 15.8))
    assert reading.power_w == pytest.approx(11000.0)
    assert reading.energy_total_kwh == pytest.approx(2000.0)
    # every value alone: no request spans two of them
    assert {count for _fc, _address, count in device.reads} == {2}


async def test_p30_pauses_with_the_enable_register() -> None:
    charger, device = _keba()
    limit, enable = PROFILE.registers["current_limit"], PROFILE.registers["enable"]
    await charger.set_limit(16)
    await charger.set_limit(0)  # pause
    await charger.set_limit(10)  # resume
    assert [decode(limit, w) for w in device.written(limit)] == [16, 10]
    assert [decode(enable, w) for w in device.written(enable)] == [1, 0, 1]
    assert {code for _, _, code in device.writes} == {6}


async def test_p40_pauses_with_zero_amperes() -> None:
    charger, device = _keba(product_type=P40)
    limit = PROFILE.registers["current_limit"]
    await charger.set_limit(16)
    await charger.set_limit(0)  # pause
    assert [decode(limit, w) for w in device.written(limit)] == [16, 0]
    assert device.written(PROFILE.registers["enable"]) == []


async def test_other_product_type_is_unsupported() -> None:
    charger, device = _keba(product_type=123)
    with pytest.raises(Unsupported, match="no KEBA P30 or P40"):
        await charger.set_limit(16)
    assert device.writes == []


async def test_watchdog_read_back_and_heartbeat() -> None:
    clock = Clock()
    charger, device = _keba(clock)
    timeout, current = PROFILE.registers["watchdog_timeout"], PROFILE.registers["failsafe_current"]
    status = await charger.arm_watchdog(timeout_s=30, failsafe_a=6)
    assert (status.timeout_s, status.failsafe_a, status.rewrite_interval_s) == (30.0, 6, 15.0)
    assert [decode(current, w) for w in device.written(current)] == [pytest.approx(6.0)]
    # the setting, then the first heartbeat (the same register, as evcc's heartbeat)
    assert [decode(timeout, w) for w in device.written(timeout)] == [30, 30]
    # the charger shows them in its read-backs; a reading that still does is left alone
    device.set(PROFILE.registers["failsafe_current_readback"], 6.0)
    device.set(PROFILE.registers["watchdog_timeout_readback"], 30)
    clock.now += 10
    await charger.read()
    await charger.maintain()
    assert len(device.written(timeout)) == 2
    clock.now += 5  # half the timeout since arming: the heartbeat
    await charger.maintain()
    assert [decode(timeout, w) for w in device.written(timeout)] == [30, 30, 30]
    # a reboot lost the fail-safe current: the next read sees it, maintain re-writes it
    device.set(PROFILE.registers["failsafe_current_readback"], 0.0)
    await charger.read()
    await charger.maintain()
    assert len(device.written(current)) == 2


@pytest.mark.parametrize("timeout_s", [5, 601])
async def test_timeout_outside_the_guide_range(timeout_s: float) -> None:
    charger, device = _keba()
    with pytest.raises(ValueError, match="fail-safe timeout"):
        await charger.arm_watchdog(timeout_s=timeout_s, failsafe_a=6)
    assert device.writes == []


async def test_keba_and_vestel_at_unit_255_are_told_apart() -> None:
    """Both answer on unit 255 with a cable state at 1004: KEBA in holding, Vestel in input."""
    keba = FakeDevice.from_profile(PROFILE, CHARGING, device_id=255)
    vestel_profile = get_profile("vestel_evc04")
    vestel = FakeDevice.from_profile(vestel_profile, VESTEL_CHARGING, device_id=255)
    vestel.set_words(vestel_profile.registers["brand"], _brand("Vestel"))
    settings = TcpSettings("h", 502)
    assert await identify(FakeBus({255: keba}), settings, 255) == "keba_p30_p40"
    assert await identify(FakeBus({255: vestel}), settings, 255) == "vestel_evc04"
    keba.set(PROFILE.registers["product_type"], 12345)  # no P30/P40 product code
    assert await identify(FakeBus({255: keba}), settings, 255) is None


async def test_p30_resume_enables_once() -> None:
    charger, device = _keba()
    await charger.set_limit(16)
    await charger.set_limit(10)  # already enabled: the limit alone
    assert len(device.written(PROFILE.registers["enable"])) == 1


async def test_no_heartbeat_before_the_watchdog_is_armed() -> None:
    charger, device = _keba()
    await charger.maintain()
    assert device.writes == []


def test_a_missing_state_is_garbage_never_no_car() -> None:
    charger, _ = _keba()
    with pytest.raises(NoResponse):
        charger._reading({"cable_state": 7, "charging_state": None})
