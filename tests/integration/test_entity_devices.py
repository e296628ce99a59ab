"""
Chargers and meters made of Home Assistant entities, closed loop in Home Assistant.

The entities belong to a test integration (`fake_devices`) registered through the real
number, switch and sensor platforms; Headroom reads and writes them only through their
states and services, as it would another integration's.
"""

from __future__ import annotations

from itertools import pairwise
from typing import TYPE_CHECKING, Any

import pytest
from homeassistant.config_entries import ConfigSubentryData
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.headroom.const import DOMAIN
from custom_components.headroom.devices.interfaces import MeterSource
from custom_components.headroom.engine.model import ChargerState, Constraint
from tests.integration.fake_devices import FakeDsmr, FakeEvse, World, add_fakes
from tests.integration.helpers import ENTRY_ID, METER_ID, setup_site, site_entry
from tools.simulator import Simulator

if TYPE_CHECKING:
    from custom_components.headroom.coordinator import HeadroomCoordinator

DSMR = [f"sensor.dsmr_current_l{phase}" for phase in (1, 2, 3)]
BACKUP = [f"sensor.backup_current_l{phase}" for phase in (1, 2, 3)]
OPTIONS: dict[str, Any] = {
    "supply": "three_phase",
    "voltage_v": 230.0,
    "breaker_a": 25.0,
    "margin_a": 1.0,
    "fail_safe_a": 6.0,
    "mode": "fast",
    "meter_stale_after_s": 3.0,
}


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> World:
    return World(monkeypatch)


def evse_subentry(name: str = "evse", **extra: Any) -> ConfigSubentryData:
    """An entity charger on the fake EVSE's entities (OCPP status words, line currents)."""
    return ConfigSubentryData(
        data={
            "limit_entity": f"number.{name}_limit",
            "pause": "number_minimum",
            "status_entity": f"sensor.{name}_status",
            "status_mapping": "ocpp",
            "current_entities": [f"sensor.{name}_current_l{line}" for line in (1, 2, 3)],
            "response_s": 2.0,
            "min_write_interval_s": 0.0,
            "phases": [1, 2, 3],
            "max_a": 16,
            "shared_circuit": False,
            "priority": 1,
            "paused": False,
            **extra,
        },
        subentry_id=name,
        subentry_type="entity_charger",
        title=name.capitalize(),
        unique_id=None,
    )


def entity_site(
    *chargers: ConfigSubentryData, meter: list[str] | None = None, **options: Any
) -> MockConfigEntry:
    """A site with no Modbus connection at all: a DSMR reader and entity chargers."""
    return MockConfigEntry(
        domain=DOMAIN,
        entry_id=ENTRY_ID,
        title="Home",
        unique_id="entities",
        data={"meter_entities": {"current_entities": DSMR if meter is None else meter}},
        options={**OPTIONS, **options},
        subentries_data=list(chargers),
    )


async def start_one_evse(
    hass: HomeAssistant,
    world: World,
    evse: FakeEvse,
    *,
    meter: list[str] | None = None,
    **subentry: Any,
) -> tuple[FakeDsmr, HeadroomCoordinator]:
    """
    Put the fake EVSE behind a fake reader and start a site of this one entity charger.

    `subentry`: what the charger's subentry sets beside the defaults (`evse_subentry`).
    """
    dsmr = FakeDsmr(evses=[evse])
    await add_fakes(hass, world, [evse], [dsmr])
    return dsmr, await setup_site(hass, entity_site(evse_subentry(**subentry), meter=meter))


async def step_until_fail_safe(
    world: World, coordinator: HeadroomCoordinator, *, since: float
) -> None:
    """Step until a lost meter puts the site at its fail-safe: within the stale time and a cycle."""
    for _ in range(4):
        if coordinator.data.decision.fail_safe:
            break
        await world.step(coordinator)
    assert coordinator.data.decision.fail_safe
    assert world.now() - since <= 4  # the stale time and the cycle that sees it


async def test_house_step_cuts_within_a_cycle_and_the_response_time(
    hass: HomeAssistant, world: World
) -> None:
    evse = FakeEvse(world=world, response_s=2.0, limit_a=6.0)
    dsmr = FakeDsmr(house_a=[5.0, 5.0, 5.0], evses=[evse])
    await add_fakes(hass, world, [evse], [dsmr])
    coordinator = await setup_site(hass, entity_site(evse_subentry()))
    await world.step(coordinator, cycles=15)
    assert evse.limit_a == 16
    assert evse.draw_a == 16
    assert not coordinator.data.decision.fail_safe

    dsmr.house_a = [14.0, 14.0, 14.0]
    await world.step(coordinator)
    # 25 A - 1 A margin - 14 A house: 10 A left, written through number.set_value at once.
    assert evse.limit_a <= 10
    assert evse.attempts[-1] == (world.now(), "limit", evse.limit_a)
    assert coordinator.data.decision.binding is Constraint.BREAKER
    await world.step(coordinator, cycles=2)  # the car's response time
    assert evse.draw_a <= 10
    assert max(dsmr.phase_a(phase) for phase in range(3)) <= 24


async def test_meter_silent_or_stale_sends_entity_charger_to_fail_safe(
    hass: HomeAssistant, world: World
) -> None:
    evse = FakeEvse(world=world, response_s=0.0)
    dsmr, coordinator = await start_one_evse(hass, world, evse)
    await world.step(coordinator, cycles=15)
    assert evse.limit_a == 16

    dsmr.reporting = False  # the reader stops; its last values stay in the states
    # Counted from the last report: the stale time (3 s) and the cycle that sees it.
    await step_until_fail_safe(world, coordinator, since=15)
    assert evse.limit_a == 6


async def test_rate_limited_charger_never_gets_two_writes_inside_its_interval(
    hass: HomeAssistant, world: World
) -> None:
    evse = FakeEvse(world=world, response_s=1.0, min_interval_s=5.0, limit_a=6.0)
    dsmr, coordinator = await start_one_evse(hass, world, evse, min_write_interval_s=5.0)
    # A house load that ramps up 1 A a second asks for a cut every cycle of the ramp.
    for cycle in range(80):
        dsmr.house_a = [4.0 + cycle % 13] * 3
        await world.step(coordinator)
    times = [at for at, _, _ in evse.attempts]
    assert len(times) >= 5
    assert all(later - earlier >= 5.0 for earlier, later in pairwise(times))
    assert len(evse.applied) == len(evse.attempts)  # none refused by the rate limit


async def test_refused_writes_are_retried_at_the_next_allowed_write(
    hass: HomeAssistant, world: World
) -> None:
    evse = FakeEvse(world=world, response_s=0.0, limit_a=6.0)
    dsmr, coordinator = await start_one_evse(hass, world, evse, min_write_interval_s=3.0)
    await world.step(coordinator, cycles=15)
    assert evse.limit_a == 16

    evse.refuse = True
    dsmr.house_a = [14.0, 14.0, 14.0]
    await world.step(coordinator, cycles=10)
    refused = [at for at, _, _ in evse.attempts if at > 15]
    assert 2 <= len(refused) <= 4  # every 3 s, never every cycle
    assert all(later - earlier >= 3.0 for earlier, later in pairwise(refused))
    assert coordinator.data.chargers["evse"].error is not None
    assert evse.limit_a == 16

    evse.refuse = False
    await world.step(coordinator, cycles=3)
    assert evse.limit_a <= 10


async def test_unavailable_charger_is_a_silent_one_and_has_no_watchdog(
    hass: HomeAssistant, world: World
) -> None:
    evse = FakeEvse(world=world, response_s=0.0)
    _, coordinator = await start_one_evse(hass, world, evse)
    await world.step(coordinator, cycles=3)
    assert coordinator.data.chargers["evse"].available
    issues = ir.async_get(hass)
    assert issues.async_get_issue(DOMAIN, f"{ENTRY_ID}_no_watchdog_evse") is not None

    evse.available = False
    await world.step(coordinator)
    status = coordinator.data.chargers["evse"]
    assert not status.available
    assert "unavailable" in (status.error or "")

    evse.available = True
    await world.step(coordinator)
    assert coordinator.data.chargers["evse"].available


async def test_an_entity_charger_back_from_a_long_blip_is_read_at_once(
    hass: HomeAssistant, world: World
) -> None:
    # Its integration loses the charger for 10 s, beyond the meter's stale time (3 s): a
    # Modbus charger is then asked only once per watchdog timeout (a Heidelberg must fall
    # back), but reading entities costs nothing, so this one is read every cycle and is
    # back, its maximum no longer reserved, in the first cycle it is available again.
    evse = FakeEvse(world=world, response_s=0.0)
    _, coordinator = await start_one_evse(hass, world, evse)
    await world.step(coordinator, cycles=3)
    evse.available = False
    await world.step(coordinator, cycles=10)
    assert not coordinator.data.chargers["evse"].available

    evse.available = True
    await world.step(coordinator)
    assert coordinator.data.chargers["evse"].available


async def test_an_unknown_status_word_counts_as_charging_and_is_logged_once(
    hass: HomeAssistant, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    # A car that is connected but does not draw: with a word the mapping knows, the charger
    # reads B; with a word it does not know, the charger is taken to draw (C), the side
    # that keeps its current counted against the breaker, and the word is logged once.
    evse = FakeEvse(world=world, response_s=0.0, car_max_a=0.0)
    _, coordinator = await start_one_evse(hass, world, evse)
    await world.step(coordinator, cycles=3)
    reading = coordinator.data.chargers["evse"].reading
    assert reading is not None
    assert reading.state is ChargerState.B

    evse.status_word = "Updating firmware"
    await world.step(coordinator, cycles=5)
    reading = coordinator.data.chargers["evse"].reading
    assert reading is not None
    assert reading.state is ChargerState.C
    assert hass.states.get("sensor.evse_state").state == "charging"
    unknown = [r for r in caplog.records if "does not know" in r.getMessage()]
    assert len(unknown) == 1
    assert "'updating_firmware'" in unknown[0].getMessage()
    assert "sensor.evse_status" in unknown[0].getMessage()

    evse.status_word = None
    await world.step(coordinator)
    reading = coordinator.data.chargers["evse"].reading
    assert reading is not None
    assert reading.state is ChargerState.B


async def test_pause_through_a_switch(hass: HomeAssistant, world: World) -> None:
    evse = FakeEvse(world=world, response_s=0.0)
    dsmr, coordinator = await start_one_evse(
        hass, world, evse, pause="switch", pause_entity="switch.evse_pause"
    )
    await world.step(coordinator, cycles=15)
    assert evse.switch_on
    dsmr.house_a = [21.0, 21.0, 21.0]  # 3 A left: below 6 A, the charger pauses
    await world.step(coordinator, cycles=2)
    assert not evse.switch_on
    assert evse.draw_a == 0


async def test_backup_meter_takes_over_then_fail_safe(
    hass: HomeAssistant, world: World, simulator: Simulator
) -> None:
    backup = FakeDsmr(name="backup", house_a=[20.0, 20.0, 20.0])
    await add_fakes(hass, world, [], [backup])
    entry = site_entry(simulator.endpoints().pty or "", backup_meter={"current_entities": BACKUP})
    coordinator = await setup_site(hass, entry)
    issues = ir.async_get(hass)
    await world.step(coordinator, cycles=2)
    assert coordinator.data.meter_source is MeterSource.PRIMARY
    assert hass.states.get("sensor.home_meter_source").state == "primary"

    simulator.devices[METER_ID].faults.silent = True
    await world.step(coordinator)  # one cycle
    assert coordinator.data.meter_source is MeterSource.BACKUP
    assert not coordinator.data.decision.fail_safe
    assert hass.states.get("sensor.home_meter_source").state == "backup"
    assert issues.async_get_issue(DOMAIN, f"{ENTRY_ID}_meter_on_backup") is not None

    backup.reporting = False
    for _ in range(4):  # the stale time, 3 s, and the cycle that sees it
        await world.step(coordinator)
        if coordinator.data.decision.fail_safe:
            break
    assert coordinator.data.decision.fail_safe
    assert hass.states.get("sensor.home_meter_source").state == "none"
    assert issues.async_get_issue(DOMAIN, f"{ENTRY_ID}_meter_silent") is not None

    simulator.devices[METER_ID].faults.silent = False
    await world.step(coordinator)
    assert coordinator.data.meter_source is MeterSource.PRIMARY
    assert hass.states.get("sensor.home_meter_source").state == "primary"
    assert issues.async_get_issue(DOMAIN, f"{ENTRY_ID}_meter_on_backup") is None


async def test_a_meter_short_of_a_sensor_per_phase_holds_the_charger(
    hass: HomeAssistant, world: World
) -> None:
    evse = FakeEvse(world=world, response_s=0.0)
    _, coordinator = await start_one_evse(hass, world, evse, meter=DSMR[:1])
    assert {problem.key.value for problem in coordinator.problems} == {"entity_count"}
    await world.step(coordinator, cycles=3)
    assert coordinator.last_update_success
    assert "one sensor per phase" in (coordinator.data.meter_error or "")
    assert evse.limit_a == 0


async def test_a_meter_of_current_sensors_offers_no_import_budget(
    hass: HomeAssistant, world: World
) -> None:
    """
    Current sensors say nothing of the import power a capacity tariff's window is spent on.

    A stored target is not applied (a window with no power reading would count as imported
    at the target and hold the car back for nothing), and no target or window entity shows.
    """
    evse = FakeEvse(world=world, response_s=2.0, limit_a=6.0)
    dsmr = FakeDsmr(house_a=[5.0, 5.0, 5.0], evses=[evse])
    await add_fakes(hass, world, [evse], [dsmr])
    coordinator = await setup_site(
        hass, entity_site(evse_subentry(), peak_target_kw=2.5, peak_window_min=15)
    )
    await world.step(coordinator, cycles=15)
    assert coordinator.site.balancer.settings.peak is None
    assert evse.limit_a == 16
    assert hass.states.get("number.home_peak_import_target") is None
    assert not [s for s in hass.states.async_entity_ids("sensor") if "window" in s]


async def test_a_meter_sensor_going_unavailable_is_a_silent_meter(
    hass: HomeAssistant, world: World
) -> None:
    """
    An unavailable sensor is a meter that does not answer: the fail-safe within the stale time.

    As for a Modbus meter that misses answers, the last measurement carries the loop until
    it is older than the stale time (3 s here). Back when the reader's integration recovers.
    """
    evse = FakeEvse(world=world, response_s=0.0)
    dsmr, coordinator = await start_one_evse(hass, world, evse)
    await world.step(coordinator, cycles=15)
    assert evse.limit_a == 16
    went_at = world.now()

    dsmr.available = False
    await world.step(coordinator)
    assert "unavailable" in (coordinator.data.meter_error or "")
    await step_until_fail_safe(world, coordinator, since=went_at)
    assert evse.limit_a == 6

    dsmr.available = True
    await world.step(coordinator, cycles=15)
    assert not coordinator.data.decision.fail_safe
    assert evse.limit_a == 16


async def test_a_reader_in_milliamperes_is_converted(hass: HomeAssistant, world: World) -> None:
    """A house of 14 A reported as 14000 mA leaves 10 A, not a meter 1000 times over."""
    evse = FakeEvse(world=world, response_s=0.0)
    dsmr = FakeDsmr(house_a=[14.0, 14.0, 14.0], evses=[evse], milliamperes=True)
    await add_fakes(hass, world, [evse], [dsmr])
    coordinator = await setup_site(hass, entity_site(evse_subentry()))
    await world.step(coordinator, cycles=15)
    assert not coordinator.data.decision.fail_safe
    assert coordinator.data.meter is not None
    assert coordinator.data.meter.current_l1_a == 14.0 + evse.draw_a
    assert evse.limit_a == 10  # 25 A - 1 A margin - 14 A house
