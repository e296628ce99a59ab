"""The control loop with a faulty device, without Home Assistant: fake register banks."""

from __future__ import annotations

from custom_components.headroom.devices.chargers import create_charger
from custom_components.headroom.devices.meters import Meter
from custom_components.headroom.devices.registers import Profile, get_profile
from custom_components.headroom.engine import Balancer
from custom_components.headroom.engine.model import Constraint
from custom_components.headroom.engine_settings import ChargerConfig
from custom_components.headroom.site import Site
from custom_components.headroom.validation import site_settings
from tests.devices.fakes import FakeDevice

HEIDELBERG = get_profile("heidelberg_energy_control")
SDM630 = get_profile("eastron_sdm630")
CHARGING = 7  # Heidelberg C2
OPTIONS = {"supply": "three_phase", "breaker_a": 32.0, "margin_a": 1.0, "fail_safe_a": 6.0}
WATCHDOG_S = 15.0


def charging(device_id: int, draw_a: float) -> FakeDevice:
    lines = {f"current_l{n}": draw_a for n in (1, 2, 3)}
    return FakeDevice.from_profile(
        HEIDELBERG,
        {"charger_state": CHARGING, "current_limit": 16.0, **lines},
        device_id=device_id,
        strict=False,
    )


def meter(grid_a: float) -> FakeDevice:
    return FakeDevice.from_profile(
        SDM630, {f"current_l{n}": grid_a for n in (1, 2, 3)}, strict=False
    )


def set_grid(device: FakeDevice, grid_a: float) -> None:
    for n in (1, 2, 3):
        device.set(SDM630.registers[f"current_l{n}"], grid_a)


def set_draw(device: FakeDevice, draw_a: float) -> None:
    for n in (1, 2, 3):
        device.set(HEIDELBERG.registers[f"current_l{n}"], draw_a)


def two_chargers(
    meter_device: FakeDevice,
    garage: FakeDevice,
    carport: FakeDevice,
    *,
    carport_profile: Profile = HEIDELBERG,
    breaker_a: float = OPTIONS["breaker_a"],
) -> Site:
    """A garage (Heidelberg) and a carport, 16 A and three-phase each, on an SDM630."""
    chargers = [
        ChargerConfig(charger_id=name, data={"phases": [1, 2, 3], "max_a": 16})
        for name in ("garage", "carport")
    ]
    options = OPTIONS | {"breaker_a": breaker_a}
    settings = site_settings({"meter_device_id": 1}, options, chargers)
    return Site(
        balancer=Balancer(settings),
        buses=[],
        meter=Meter(meter_device, SDM630),
        chargers={
            "garage": create_charger(garage, HEIDELBERG),
            "carport": create_charger(carport, carport_profile),
        },
        watchdog_timeout_s=WATCHDOG_S,
    )


def limit_a(device: FakeDevice) -> float:
    return device.words(HEIDELBERG.registers["current_limit"])[0] / 10


async def test_an_unreadable_charger_is_sent_its_fail_safe_and_left_to_its_watchdog() -> None:
    # A 3 A house, the garage at 10 A, the carport at 16 A: 29 A of 31 A.
    grid = meter(29.0)
    garage, carport = charging(2, 10.0), charging(3, 16.0)
    site = two_chargers(grid, garage, carport)
    await site.cycle(100.0, full=True)

    # The carport's answers get lost (corrupt or late); what is sent to it still lands.
    carport.answers_lost = True
    result = await site.cycle(101.0)
    assert not result.chargers["carport"].available
    assert limit_a(carport) == 6.0  # its fail-safe, written although it cannot be read
    # The garage was cut to make room for what the carport may still draw, but that is
    # the carport's fault, not a capacity pause.
    assert result.decision.commands[0].reason == Constraint.FAIL_SAFE

    # The carport follows the 6 A it was sent, the garage's car stops drawing.
    set_draw(garage, 0.0)
    set_grid(grid, 3.0 + 6.0)
    probes = []
    garage_back_at = None
    for second in range(102, 160):
        before = len(carport.reads)
        result = await site.cycle(float(second))
        if len(carport.reads) > before:
            probes.append(second)
        if garage_back_at is None and result.chargers["garage"].setpoint_a:
            garage_back_at = second
    # Whether the 6 A landed is unknown (no answer), so the carport may hold 16 A until
    # its own watchdog has surely taken it to 6 A: its timeout after the last request
    # (the last probe in the first 5 s). Then the garage is back after the raise hold,
    # long before a 5-minute capacity pause would have ended.
    assert garage_back_at is not None
    assert garage_back_at <= 105 + WATCHDOG_S + 10 + 2
    # Asked every cycle at first, then rarely enough that its watchdog can expire.
    assert probes[:4] == [102, 103, 104, 105]
    later = [p for p in probes if p > 106]
    assert later
    assert all(b - a > WATCHDOG_S for a, b in zip(probes[4:], later, strict=False))

    # It answers again: read every cycle from the next probe on.
    carport.answers_lost = False
    for second in range(160, 180):
        result = await site.cycle(float(second))
    assert result.chargers["carport"].available
    before = len(carport.reads)
    await site.cycle(180.0)
    assert len(carport.reads) > before


async def test_an_impossible_meter_reading_is_no_measurement() -> None:
    grid = meter(5.0)
    site = two_chargers(grid, charging(2, 0.0), charging(3, 0.0))
    result = await site.cycle(100.0, full=True)
    assert result.meter_ok
    # -40 A on a 32 A supply: a current transformer the wrong way round, or garbage.
    set_grid(grid, -40.0)
    result = await site.cycle(101.0)
    assert not result.meter_ok
    assert "exports 40 A" in (result.meter_error or "")
    assert result.snapshot.meter is not None
    assert result.snapshot.meter.currents_a == (5.0, 5.0, 5.0)  # the last measurement
    for second in range(102, 108):
        result = await site.cycle(float(second))
    assert result.decision.fail_safe
    assert not result.meter_fresh


async def test_an_unreadable_charger_may_be_at_its_own_higher_fail_safe() -> None:
    # An Alfen whose safe current, set in its app, is 16 A where Headroom asks for 6 A (the
    # repair says so). Silent long enough, it is taken as fallen back, and to its 16 A, not
    # to the 6 A Headroom asked for: the garage leaves room for that.
    alfen = get_profile("alfen_eve")
    carport = FakeDevice.from_profile(
        alfen,
        {
            "charger_state": "C2",
            **{f"current_l{n}": 6.0 for n in (1, 2, 3)},
            "current_limit": 6.0,
            "current_limit_readback": 6.0,
            "failsafe_current": 16.0,
        },
        device_id=1,
        strict=False,
    )
    grid, garage = meter(3.0 + 6.0 + 10.0), charging(2, 10.0)
    site = two_chargers(grid, garage, carport, carport_profile=alfen, breaker_a=25.0)  # 24 A
    await site.cycle(100.0, full=True)
    carport.answers_lost = True
    for second in range(101, 101 + 3 * int(WATCHDOG_S)):
        result = await site.cycle(float(second))
    assert not result.chargers["carport"].available
    held = next(r for r in result.snapshot.chargers if r.charger_id == "carport")
    assert held.setpoint_a == 16.0
    # The 3 A house, the carport at its own 16 A and the garage fit the 24 A.
    assert limit_a(garage) + 16.0 + 3.0 <= 24.0
