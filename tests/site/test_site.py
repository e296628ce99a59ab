"""The control loop glue without Home Assistant: fake register banks behind the drivers."""

from __future__ import annotations

import pytest

from custom_components.headroom.devices.chargers import create_charger
from custom_components.headroom.devices.errors import NoResponse
from custom_components.headroom.devices.identity import DeviceIdentity
from custom_components.headroom.devices.meters import Meter
from custom_components.headroom.devices.registers import get_profile
from custom_components.headroom.engine import Balancer
from custom_components.headroom.engine_settings import ChargerConfig
from custom_components.headroom.identities import IDENTITY_REFRESH_S, IDENTITY_RETRY_S
from custom_components.headroom.rules import ProblemKey, SettingsError
from custom_components.headroom.site import METER_KEY, Site
from custom_components.headroom.validation import site_settings, validate
from tests.devices.fakes import FakeDevice

HEIDELBERG = get_profile("heidelberg_energy_control")
OPTIONS = {"supply": "three_phase", "breaker_a": 25.0, "margin_a": 1.0, "fail_safe_a": 6.0}
METER_DATA = {"meter_device_id": 1}


def charger_config(**data: object) -> ChargerConfig:
    return ChargerConfig(charger_id="garage", data={"phases": [1, 2, 3], "max_a": 16, **data})


def heidelberg() -> FakeDevice:
    return FakeDevice.from_profile(
        HEIDELBERG, {"charger_state": 6, "current_limit": 0.0}, device_id=2, strict=False
    )


def make_site(meter_model: str, charger: FakeDevice) -> Site:
    settings = site_settings(METER_DATA, OPTIONS, [charger_config()])
    profile = get_profile(meter_model)
    currents = {f"current_l{n}": 5.0 for n in (1, 2, 3) if profile.has(f"current_l{n}")}
    meter = FakeDevice.from_profile(profile, currents, strict=False)
    return Site(
        balancer=Balancer(settings),
        buses=[],
        meter=Meter(meter, get_profile(meter_model)),
        chargers={"garage": create_charger(charger, HEIDELBERG)},
        watchdog_timeout_s=15.0,
    )


async def test_meter_without_phase_currents_cannot_balance() -> None:
    site = make_site("eastron_sdm72dm_v1", heidelberg())
    result = await site.cycle(100.0, full=True)
    assert not result.meter_ok
    assert "no current" in (result.meter_error or "")
    assert result.decision.fail_safe


async def test_failed_writes_are_retried_and_watchdog_armed_later() -> None:
    charger = heidelberg()
    failing = {HEIDELBERG.registers["watchdog_timeout"].address}

    def refuse(device: FakeDevice, address: int, values: list[int]) -> None:
        if address in failing:
            message = "no answer to the write"
            raise NoResponse(message)

    charger.on_write = refuse
    site = make_site("eastron_sdm630", charger)
    result = await site.cycle(100.0, full=True)
    assert result.chargers["garage"].error == "no answer to the write"
    assert result.chargers["garage"].watchdog is None

    failing.clear()
    result = await site.cycle(101.0)
    assert result.chargers["garage"].watchdog is not None
    assert site.watchdog_timeout_s == 15.0

    # A setpoint write that fails leaves the setpoint unknown: written again next time.
    limit = HEIDELBERG.registers["current_limit"].address
    failing.add(limit)
    for second in range(102, 115):
        result = await site.cycle(float(second))
    assert result.chargers["garage"].setpoint_a is None
    # Unloading cannot reach it either: nothing more to do.
    await site.release()
    failing.clear()
    result = await site.cycle(116.0)
    assert result.chargers["garage"].setpoint_a == 16
    await site.release()
    assert charger.words(HEIDELBERG.registers["current_limit"]) == [60]


def problem_keys(options: dict[str, object], chargers: list[ChargerConfig]) -> list[ProblemKey]:
    return [problem.key for problem in validate(METER_DATA, options, chargers)[0]]


def test_settings_problems() -> None:
    on_l3 = charger_config(phases=[3])
    assert problem_keys({**OPTIONS, "breaker_a": 30.0}, [on_l3]) == []
    with pytest.raises(SettingsError, match="not on a single_phase supply"):
        site_settings(METER_DATA, {**OPTIONS, "supply": "single_phase"}, [on_l3])
    assert problem_keys({**OPTIONS, "breaker_a": 10.0}, [charger_config()]) == [
        ProblemKey.CHARGER_ABOVE_BREAKER
    ]
    engine_problem = validate(METER_DATA, OPTIONS, [charger_config(), charger_config(max_a=6)])[0]
    assert [problem.key for problem in engine_problem] == [ProblemKey.INVALID_SETTINGS]
    assert "charger ids must be unique" in engine_problem[0].detail
    assert problem_keys({**OPTIONS, "breaker_a": 6.0}, [charger_config(max_a=6)]) == [
        ProblemKey.MARGIN_TOO_LARGE
    ]
    assert problem_keys({**OPTIONS, "breaker_a": 5.0}, [charger_config(max_a=6)]) == [
        ProblemKey.BREAKER_TOO_LOW
    ]
    # A shared circuit without a rating: the chargers share the main breaker only.
    shared = site_settings(METER_DATA, OPTIONS, [charger_config(shared_circuit=True)])
    assert shared.circuits_a == {}
    rated = site_settings(
        METER_DATA, {**OPTIONS, "circuit_a": 20.0}, [charger_config(shared_circuit=True)]
    )
    assert rated.circuits_a == {"shared": 20.0}


@pytest.mark.parametrize("key", ["meter_stale_after_s", "watchdog_timeout_s", "margin_a"])
def test_a_stored_null_is_the_default_not_a_crash(key: str) -> None:
    # number_problem takes a stored None for "absent": the value read later must agree.
    problems, settings = validate(METER_DATA, {**OPTIONS, key: None}, [charger_config()])
    assert problems == []
    absent = {name: value for name, value in OPTIONS.items() if name != key}
    assert settings == validate(METER_DATA, absent, [charger_config()])[1]


async def test_identity_is_read_once_per_device_then_on_return() -> None:
    charger = heidelberg()
    charger.set(HEIDELBERG.registers["app_sw_revision"], 0x0108)
    site = make_site("eastron_sdm630", charger)
    meter_device = site._meter._reader.transport  # type: ignore[union-attr]
    meter_device.set(get_profile("eastron_sdm630").registers["serial_number"], 4242)

    # One device per cycle, after the control writes: the meter first, then the charger.
    result = await site.cycle(100.0, full=True)
    assert result.identities == {METER_KEY: DeviceIdentity(serial_number="4242")}
    result = await site.cycle(101.0)
    assert result.identities["garage"] == DeviceIdentity(firmware="0x0108")
    reads = len(charger.reads)
    result = await site.cycle(102.0)
    assert len(charger.reads) == reads + 1  # the control read only: identity is slow data

    # A charger that was away may have been updated: read again when it is back.
    charger.silent = True
    await site.cycle(103.0)
    charger.silent = False
    charger.set(HEIDELBERG.registers["app_sw_revision"], 0x0109)
    result = await site.cycle(104.0)
    assert result.identities["garage"] == DeviceIdentity(firmware="0x0109")

    # Hours later it is read again; a failed read is tried again a minute later, then
    # after twice as long (a model silent on that register costs a timeout ever more rarely).
    calls: list[float] = []
    driver = site.driver("garage")
    read_identity = driver.identity

    async def flaky() -> DeviceIdentity:
        calls.append(now)
        if len(calls) <= 2:
            message = "no answer"
            raise NoResponse(message)
        return await read_identity()

    driver.identity = flaky  # type: ignore[method-assign]
    charger.set(HEIDELBERG.registers["app_sw_revision"], 0x0110)
    start = 104.0 + IDENTITY_REFRESH_S
    for now in (start - 1, start):
        result = await site.cycle(now)
    assert calls == [start]
    assert result.identities["garage"].firmware == "0x0109"  # the last one read stays
    for now in (start + 1, start + IDENTITY_RETRY_S - 1, start + IDENTITY_RETRY_S):
        result = await site.cycle(now)
    assert calls == [start, start + IDENTITY_RETRY_S]
    second = start + IDENTITY_RETRY_S
    for now in (second + 2 * IDENTITY_RETRY_S - 1, second + 2 * IDENTITY_RETRY_S):
        result = await site.cycle(now)
    assert calls == [start, second, second + 2 * IDENTITY_RETRY_S]
    assert result.identities["garage"].firmware == "0x0110"


async def test_a_charger_without_a_watchdog_still_gets_its_upkeep() -> None:
    """
    A Bender has no fail-safe to arm, but its limit is re-written every 25 s (a timeout set
    in its web interface must never run out while the site is healthy). Before, the site
    skipped `maintain` once arming had been refused.
    """
    bender = get_profile("bender_cc612_cc613")
    device = FakeDevice.from_profile(
        bender,
        {"charger_state": 3, "current_limit": 0, "failsafe_current": 10}
        | {f"current_l{n}": 0.0 for n in (1, 2, 3)},
        device_id=255,
        strict=False,
    )
    now = [100.0]
    settings = site_settings(METER_DATA, OPTIONS, [charger_config()])
    meter_profile = get_profile("eastron_sdm630")
    meter = FakeDevice.from_profile(
        meter_profile, {f"current_l{n}": 5.0 for n in (1, 2, 3)}, strict=False
    )
    site = Site(
        balancer=Balancer(settings),
        buses=[],
        meter=Meter(meter, meter_profile),
        chargers={"garage": create_charger(device, bender, clock=lambda: now[0])},
        watchdog_timeout_s=15.0,
    )
    limit = bender.registers["current_limit"]
    while not device.written(limit):  # the engine's first command
        now[0] += 1.0
        result = await site.cycle(now[0], full=True)
        assert now[0] < 200.0
    assert result.chargers["garage"].watchdog is None  # nothing armed: no repair hidden
    last_write_at, count, gaps = now[0], len(device.written(limit)), []
    for _ in range(90):
        now[0] += 1.0
        await site.cycle(now[0], full=False)
        if len(device.written(limit)) > count:
            gaps.append(now[0] - last_write_at)
            last_write_at, count = now[0], len(device.written(limit))
    assert len(gaps) >= 3
    assert max(gaps) <= 25.0
