"""Phoenix Contact EV-SER / EV-ETH / CHARX: ASCII states, coil pauses, no fail-safe to arm."""

from __future__ import annotations

import pytest

from custom_components.headroom.devices.bus import SerialSettings, TcpSettings
from custom_components.headroom.devices.chargers import (
    PHOENIX_CHARGERS,
    SUPPORTED_CHARGERS,
    ChargerState,
    create_charger,
)
from custom_components.headroom.devices.chargers_phoenix import (
    PHOENIX_DRIVERS,
    PhoenixCharx,
    PhoenixEvEth,
    PhoenixEvSer,
)
from custom_components.headroom.devices.discovery import identify
from custom_components.headroom.devices.errors import NoResponse, Unsupported
from custom_components.headroom.devices.registers import Value, decode, get_profile
from tests.devices.fakes import FakeBus, FakeDevice
from tests.devices.test_bender import CHARGING as BENDER_CHARGING
from tests.devices.test_keba import CHARGING as KEBA_CHARGING
from tests.devices.test_vestel import CHARGING as VESTEL_CHARGING
from tests.devices.test_vestel import _brand

ETH = get_profile("phoenix_ev_eth")
SER = get_profile("phoenix_ev_ser")
CHARX = get_profile("phoenix_charx")
ETH_CHARGING: dict[str, Value] = {
    "charger_state": ord("C"),
    "current_l1": 16,
    "current_l2": 16,
    "current_l3": 15,
    "power_total": 11000,
    "energy_total": 1234.5,
    "current_limit": 16,
    "charging_enabled": 1,
}
SER_CHARGING: dict[str, Value] = {
    "charger_state": 0x4332,  # "C2"
    "current_limit": 16,
    "charging_enabled": 1,
    "enable_mode": 3,
}
CHARX_CHARGING: dict[str, Value] = {
    "charger_state": ord("C") << 8,
    "current_l1": 15.9,
    "current_l2": 16.0,
    "current_l3": 15.8,
    "power_total": 11000.0,
    "energy_total": 600.0,
    "current_limit": 16,
    "meter_type": 1,
    "num_controllers": 1,
}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _eth(**overrides: Value) -> tuple[PhoenixEvEth, FakeDevice]:
    device = FakeDevice.from_profile(ETH, ETH_CHARGING | overrides, device_id=255)
    charger = create_charger(device, ETH)
    assert isinstance(charger, PhoenixEvEth)
    return charger, device


def _ser(clock: Clock | None = None, **overrides: Value) -> tuple[PhoenixEvSer, FakeDevice]:
    device = FakeDevice.from_profile(SER, SER_CHARGING | overrides, device_id=1)
    charger = create_charger(device, SER, clock=clock or Clock())
    assert isinstance(charger, PhoenixEvSer)
    return charger, device


def test_the_phoenix_drivers_are_the_ones_listed() -> None:
    """`chargers` lists the ids without importing their module; the two must agree."""
    assert set(PHOENIX_DRIVERS) == set(PHOENIX_CHARGERS)
    assert set(PHOENIX_CHARGERS) <= SUPPORTED_CHARGERS


@pytest.mark.parametrize("letter", "ABCDEF")
async def test_states_are_ascii_letters_in_the_right_byte(letter: str) -> None:
    eth, _ = _eth(charger_state=ord(letter))
    assert (await eth.read()).state is ChargerState(letter)
    ser, _ = _ser(charger_state=(ord(letter) << 8) | ord("1"))
    assert (await ser.read()).state is ChargerState(letter)


@pytest.mark.parametrize(
    ("profile_overrides", "word"),
    [("eth", ord("C") << 8), ("eth", ord("G")), ("ser", ord("C")), ("ser", 0)],
    ids=["eth-high-byte", "eth-not-a-state", "ser-low-byte", "ser-zero"],
)
async def test_a_letter_in_the_wrong_byte_is_garbage(profile_overrides: str, word: int) -> None:
    charger = (_eth if profile_overrides == "eth" else _ser)(charger_state=word)[0]
    with pytest.raises(NoResponse, match="charger_state"):
        await charger.read()


async def test_eth_full_read() -> None:
    charger, _ = _eth()
    reading = await charger.read()
    assert reading.currents_a == (16, 16, 15)
    assert (reading.setpoint_a, reading.power_w) == (16, 11000)
    assert reading.energy_total_kwh == pytest.approx(1234.5)


@pytest.mark.parametrize("make", [_eth, _ser], ids=["eth", "ser"])
async def test_pause_switches_the_coil_off_and_resume_writes_the_limit_first(make: object) -> None:
    """The limit register takes 6 A and more: 0 is never written there."""
    charger, device = make()  # type: ignore[operator]
    limit = charger.profile.registers["current_limit"]
    coil = charger.profile.registers["charging_enabled"].address
    await charger.read()  # the coil reads on
    await charger.set_limit(10)
    await charger.set_limit(0)
    await charger.set_limit(12)
    assert device.writes == [
        (limit.address, [10], 6),
        (coil, [0], 5),
        (limit.address, [12], 6),
        (coil, [1], 5),
    ]
    assert all(decode(limit, words) >= 6 for words in device.written(limit))


async def test_a_paused_charger_reports_0_a_offered() -> None:
    charger, _ = _eth(charging_enabled=0)
    assert (await charger.read()).setpoint_a == 0


async def test_a_coil_switched_on_behind_a_pause_is_switched_off_again() -> None:
    """The EV-SER's coil is volatile: after a power cut it may not be what was written."""
    charger, device = _ser()
    await charger.read()
    await charger.set_limit(0)
    device.coils[SER.registers["charging_enabled"].address] = 1  # a power cut, say
    reading = await charger.read()
    assert reading.setpoint_a == 16  # the charger offers its limit again
    await charger.maintain()
    assert device.writes[-1] == (SER.registers["charging_enabled"].address, [0], 5)


async def test_ser_refuses_to_drive_a_controller_the_coil_cannot_pause() -> None:
    """Factory setting 4000 = 1: charging follows input EN and the coil does nothing."""
    clock = Clock()
    charger, device = _ser(clock, enable_mode=1)
    with pytest.raises(Unsupported, match="register 4000 = 1, must be 3"):
        await charger.read()
    device.set(SER.registers["enable_mode"], 3)
    assert (await charger.read()).state is ChargerState.C
    device.set(SER.registers["enable_mode"], 1)
    await charger.read()  # checked again only after verify_interval_s
    clock.now += 60
    with pytest.raises(Unsupported, match="4000"):
        await charger.read()
    assert device.writes == []


@pytest.mark.parametrize("make", [_eth, _ser], ids=["eth", "ser"])
async def test_no_fail_safe_to_arm(make: object) -> None:
    charger, device = make()  # type: ignore[operator]
    assert not charger.has_watchdog
    with pytest.raises(Unsupported, match="keeps charging at the last limit"):
        await charger.arm_watchdog(timeout_s=20, failsafe_a=6)
    assert device.writes == []


async def test_charx_limit_pauses_with_0_and_fc16() -> None:
    device = FakeDevice.from_profile(CHARX, CHARX_CHARGING, device_id=1)
    charger = create_charger(device, CHARX)
    assert isinstance(charger, PhoenixCharx)
    reading = await charger.read()
    assert reading.state is ChargerState.C
    assert reading.currents_a == pytest.approx((15.9, 16.0, 15.8))
    await charger.set_limit(0)
    await charger.set_limit(8)
    assert device.writes == [(1301, [0], 16), (1301, [8], 16)]
    with pytest.raises(Unsupported, match="CHARX"):
        await charger.arm_watchdog(timeout_s=20, failsafe_a=6)


@pytest.mark.parametrize("meter_type", [0, 0xFFFF])
async def test_charx_without_a_meter_has_no_currents_rather_than_0_a(meter_type: int) -> None:
    device = FakeDevice.from_profile(
        CHARX, CHARX_CHARGING | {"meter_type": meter_type}, device_id=1
    )
    charger = create_charger(device, CHARX)
    assert (await charger.read()).currents_a == (None, None, None)
    assert (await charger.read(full=False)).currents_a == (None, None, None)


# --- discovery -------------------------------------------------------------------------------


def _at(profile_id: str, values: dict[str, Value], unit: int = 255) -> FakeDevice:
    return FakeDevice.from_profile(get_profile(profile_id), values, device_id=unit)


async def test_ev_eth_is_told_apart_from_the_other_chargers_at_unit_255() -> None:
    vestel = _at("vestel_evc04", VESTEL_CHARGING)
    vestel.set_words(get_profile("vestel_evc04").registers["brand"], _brand("Vestel"))
    settings = TcpSettings("h", 502)
    for device, model in (
        (_at("phoenix_ev_eth", ETH_CHARGING), "phoenix_ev_eth"),
        (_at("bender_cc612_cc613", BENDER_CHARGING), "bender_cc612_cc613"),
        (_at("keba_p30_p40", KEBA_CHARGING), "keba_p30_p40"),
        (vestel, "vestel_evc04"),
    ):
        assert await identify(FakeBus({255: device}), settings, 255) == model
        assert device.writes == []


async def test_charx_found_at_unit_1_of_a_socket() -> None:
    device = _at("phoenix_charx", CHARX_CHARGING, unit=1)
    assert await identify(FakeBus({1: device}), TcpSettings("h", 502), 1) == "phoenix_charx"
    assert device.writes == []


@pytest.mark.parametrize(
    ("model", "overrides"),
    [
        ("phoenix_ev_eth", {"charger_state": ord("C") << 8}),
        ("phoenix_ev_eth", {"current_limit": 200}),
        ("phoenix_ev_ser", {"charger_state": 0x4339}),  # "C9"
        ("phoenix_ev_ser", {"current_limit": 0}),
        ("phoenix_charx", {"num_controllers": 0}),
        ("phoenix_charx", {"charger_state": 3}),
    ],
)
async def test_implausible_phoenix_is_not_taken(model: str, overrides: dict[str, Value]) -> None:
    base = {"phoenix_ev_eth": ETH_CHARGING, "phoenix_ev_ser": SER_CHARGING}.get(
        model, CHARX_CHARGING
    )
    unit = 255 if model == "phoenix_ev_eth" else 1
    device = _at(model, base | overrides, unit=unit)
    settings = SerialSettings("/dev/x", 9600) if model == "phoenix_ev_ser" else TcpSettings("h", 1)
    assert await identify(FakeBus({unit: device}), settings, unit) is None


async def test_ev_ser_found_on_a_serial_line_and_ev_eth_not_tried_there() -> None:
    ser = _at("phoenix_ev_ser", SER_CHARGING, unit=1)
    settings = SerialSettings("/dev/x", 9600)
    assert await identify(FakeBus({1: ser}), settings, 1) == "phoenix_ev_ser"
    eth = _at("phoenix_ev_eth", ETH_CHARGING, unit=1)
    assert await identify(FakeBus({1: eth}), settings, 1) is None
    assert (4, 100, 1) not in eth.reads
