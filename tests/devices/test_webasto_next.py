"""Webasto / Ampure NEXT: state, limit, the life bit within the charger's own timeout."""

from __future__ import annotations

import pytest

from custom_components.headroom.devices.bus import TcpSettings
from custom_components.headroom.devices.chargers import ChargerState, create_charger
from custom_components.headroom.devices.chargers_tcp import WebastoNext
from custom_components.headroom.devices.discovery import identify
from custom_components.headroom.devices.errors import NoResponse, Unsupported
from custom_components.headroom.devices.registers import Value, decode, get_profile
from tests.devices.fakes import FakeBus, FakeDevice
from tests.devices.test_bender import CHARGING as BENDER_CHARGING
from tests.devices.test_bender import at_255
from tests.devices.test_keba import CHARGING as KEBA_CHARGING
from tests.devices.test_vestel import CHARGING as VESTEL_CHARGING
from tests.devices.test_vestel import _brand

NEXT = "webasto_next"
PROFILE = get_profile(NEXT)
CHARGING: dict[str, Value] = {
    "charger_state": 3,
    "current_l1": 15.9,
    "current_l2": 16.0,
    "current_l3": 15.8,
    "power_total": 11000,
    "energy_total": 5000.0,
    "max_current": 32,
    "min_current": 6,
    "failsafe_current": 6,
    "watchdog_timeout": 20,
}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _next(clock: Clock | None = None, **overrides: Value) -> tuple[WebastoNext, FakeDevice]:
    device = FakeDevice.from_profile(PROFILE, CHARGING | overrides, device_id=255)
    charger = create_charger(device, PROFILE, clock=clock or Clock())
    assert isinstance(charger, WebastoNext)
    return charger, device


@pytest.mark.parametrize(
    ("code", "state"),
    [
        (0, ChargerState.A),
        (1, ChargerState.B),  # plugged in, no permission yet
        (3, ChargerState.C),
        (4, ChargerState.B),  # paused
        (7, ChargerState.E),
        (8, ChargerState.F),  # reserved for another user
    ],
)
async def test_state(code: int, state: ChargerState) -> None:
    charger, _ = _next(charger_state=code)
    assert (await charger.read(full=False)).state is state


@pytest.mark.parametrize("code", [2, 5, 9])
async def test_unknown_state_is_no_response(code: int) -> None:
    charger, _ = _next(charger_state=code)
    with pytest.raises(NoResponse):
        await charger.read(full=False)


async def test_full_read() -> None:
    charger, _ = _next()
    reading = await charger.read()
    assert reading.currents_a == pytest.approx((15.9, 16.0, 15.8))
    assert reading.power_w == 11000
    assert reading.energy_total_kwh == pytest.approx(5000.0)


async def test_limit_and_pause_at_zero() -> None:
    charger, device = _next()
    limit = PROFILE.registers["current_limit"]
    await charger.set_limit(16)
    await charger.set_limit(0)  # pause
    await charger.set_limit(8)  # resume
    assert [decode(limit, w) for w in device.written(limit)] == [16, 0, 8]


async def test_life_bit_every_half_of_the_chargers_own_timeout() -> None:
    clock = Clock()
    charger, device = _next(clock)
    alive = PROFILE.registers["alive"]
    status = await charger.arm_watchdog(timeout_s=15, failsafe_a=6)
    # the charger's timeout (20 s) applies: it is set in its web interface, not written
    assert (status.timeout_s, status.failsafe_a, status.rewrite_interval_s) == (20.0, 6.0, 10.0)
    assert status.failsafe_matches
    assert len(device.written(alive)) == 1
    assert device.written(PROFILE.registers["watchdog_timeout"]) == []
    clock.now += 9
    await charger.maintain()
    assert len(device.written(alive)) == 1
    clock.now += 1
    await charger.maintain()
    assert len(device.written(alive)) == 2


async def test_safe_current_other_than_the_fail_safe_is_reported() -> None:
    charger, _ = _next(failsafe_current=16)
    status = await charger.arm_watchdog(timeout_s=20, failsafe_a=6)
    assert (status.failsafe_a, status.failsafe_matches) == (16.0, False)


async def test_no_timeout_set_means_no_fail_safe() -> None:
    charger, device = _next(watchdog_timeout=0)
    with pytest.raises(Unsupported, match="set one in its web interface"):
        await charger.arm_watchdog(timeout_s=20, failsafe_a=6)
    assert device.writes == []


async def test_four_chargers_at_unit_255_each_found_as_itself() -> None:
    """Vestel, KEBA, Bender and NEXT all answer on unit 255 of their own socket: each is
    identified as itself, and nothing is written while telling them apart."""
    vestel = at_255("vestel_evc04", VESTEL_CHARGING)
    vestel.set_words(get_profile("vestel_evc04").registers["brand"], _brand("Vestel"))
    settings = TcpSettings("h", 502)
    for device, model in (
        (at_255(NEXT, CHARGING), NEXT),
        (at_255("bender_cc612_cc613", BENDER_CHARGING), "bender_cc612_cc613"),
        (at_255("keba_p30_p40", KEBA_CHARGING), "keba_p30_p40"),
        (vestel, "vestel_evc04"),
    ):
        assert await identify(FakeBus({255: device}), settings, 255) == model
        assert device.writes == []


@pytest.mark.parametrize(
    "overrides",
    [
        {"charger_state": 2},
        {"min_current": 0},
        {"max_current": 500},
        {"min_current": 16, "max_current": 10},
    ],
    ids=["state-2", "no-minimum", "maximum-500", "minimum-above-maximum"],
)
async def test_implausible_next_is_not_taken(overrides: dict[str, Value]) -> None:
    device = at_255(NEXT, CHARGING | overrides)
    assert await identify(FakeBus({255: device}), TcpSettings("h", 502), 255) is None
