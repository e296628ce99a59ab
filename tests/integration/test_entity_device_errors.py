"""
What the loop does when another integration's entities misbehave, closed loop in Home Assistant.

A charger's entity in a wrong unit or with a word for a value is a charger that does not
answer: its maximum kept free, sent its fail-safe current once if its number is in A. A
meter sensor that gives no usable current is a silent meter: the fail-safe within the stale
time. A service call that hangs counts as a failed write after `WRITE_TIMEOUT_S`; the cycles
go on meanwhile (it is waited for only `WRITE_GRACE_S`), and the write is tried again at the
next allowed write.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from homeassistant.config_entries import SOURCE_USER
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.headroom import entity_charger
from custom_components.headroom.coordinator import HeadroomCoordinator
from custom_components.headroom.engine.model import ChargerState
from custom_components.headroom.entity_charger import EntityCharger
from custom_components.headroom.entity_checks import limit_problems
from custom_components.headroom.entity_config import entity_charger_config
from tests.integration.fake_devices import EvseLimit, FakeDsmr, FakeEvse, World, add_fakes
from tests.integration.helpers import setup_site
from tests.integration.test_entity_devices import (
    entity_site,
    evse_subentry,
    start_one_evse,
    step_until_fail_safe,
)
from tests.integration.test_entity_flows import CHARGER

STRINGS = Path(entity_charger.__file__).parent / "strings.json"


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> World:
    return World(monkeypatch)


def _limit_in_watts(hass: HomeAssistant, evse: FakeEvse) -> None:
    evse.limit_unit = "W"  # an update of its integration turned it into a power limit


def _limit_is_a_word(hass: HomeAssistant, evse: FakeEvse) -> None:
    # A number entity always reports a number: only a state written directly (a custom
    # integration writing its own states, at each of its updates) can hold a word, so it
    # is written here, every cycle, and the fake's number stops rewriting its own.
    evse.entities = [e for e in evse.entities if not isinstance(e, EvseLimit)]
    state = hass.states.get("number.b_limit")
    assert state is not None
    hass.states.async_set("number.b_limit", "error", state.attributes)


@pytest.mark.parametrize(
    ("fault", "error", "writes"),
    [
        # 6 to a number in W (or kW) is no current: never written.
        (_limit_in_watts, "is in W, not a current", []),
        (_limit_is_a_word, "is not a number: 'error'", [6.0]),
    ],
)
async def test_a_limit_number_that_is_not_a_current_keeps_that_chargers_maximum_free(
    hass: HomeAssistant,
    world: World,
    fault: Callable[[HomeAssistant, FakeEvse], None],
    error: str,
    writes: list[float],
) -> None:
    """
    Its limit unknown, charger B may draw its maximum (16 A): A gets what is left.

    25 A - 1 A margin - 5 A house leaves 19 A; with 16 A kept for B, 3 A is under 6 A and
    A pauses. B is sent its fail-safe current once if its number is in A (a write may reach
    it when reads do not), then left alone.
    """
    a, b = FakeEvse(world=world, name="a", response_s=0.0), FakeEvse(world=world, name="b")
    dsmr = FakeDsmr(evses=[a, b])
    await add_fakes(hass, world, [a, b], [dsmr])
    coordinator = await setup_site(hass, entity_site(evse_subentry("a"), evse_subentry("b")))
    assert 6 <= a.limit_a <= 10  # the setup's first cycle shares the 19 A
    written = len(b.attempts)
    fault(hass, b)
    await world.step(coordinator)
    status = coordinator.data.chargers["b"]
    assert not status.available
    assert error in (status.error or "")
    for _ in range(5):
        fault(hass, b)
        await world.step(coordinator)
    assert not coordinator.data.chargers["b"].available
    assert [value for _, _, value in b.attempts[written:]] == writes
    assert a.limit_a == 0
    assert not coordinator.data.decision.fail_safe


async def test_a_limit_back_in_amperes_shares_again(hass: HomeAssistant, world: World) -> None:
    a, b = FakeEvse(world=world, name="a", response_s=0.0), FakeEvse(world=world, name="b")
    dsmr = FakeDsmr(evses=[a, b])
    await add_fakes(hass, world, [a, b], [dsmr])
    coordinator = await setup_site(hass, entity_site(evse_subentry("a"), evse_subentry("b")))
    b.limit_unit = "W"
    await world.step(coordinator, cycles=5)
    assert a.limit_a == 0
    b.limit_unit = "A"
    # Read again at its next retry, then raised after the raise hold.
    await world.step(coordinator, cycles=40)
    assert coordinator.data.chargers["b"].available
    assert a.limit_a >= 6
    assert b.limit_a >= 6
    assert a.limit_a + b.limit_a <= 19


async def test_a_hung_write_fails_after_the_timeout_and_is_retried_at_the_next_allowed_write(
    hass: HomeAssistant, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A's limit write never returns: the cycle goes on (B is cut in it), A is tried again."""
    monkeypatch.setattr(entity_charger, "WRITE_TIMEOUT_S", 0.2)
    a, b = (FakeEvse(world=world, name=name, response_s=0.0) for name in ("a", "b"))
    dsmr = FakeDsmr(evses=[a, b])
    await add_fakes(hass, world, [a, b], [dsmr])
    coordinator = await setup_site(
        hass,
        entity_site(
            evse_subentry("a", min_write_interval_s=3.0),
            evse_subentry("b", min_write_interval_s=3.0),
        ),
    )
    await world.step(coordinator, cycles=15)
    assert a.limit_a + b.limit_a >= 18  # 19 A shared

    a.hang = True
    dsmr.house_a = [11.0, 11.0, 11.0]  # 13 A left for both
    await world.step(coordinator)
    cut_at = world.now()
    assert coordinator.last_update_success
    assert a.attempts[-1][0] == cut_at
    assert "took over 0.2 s" in (coordinator.data.chargers["a"].error or "")
    assert b.attempts[-1][0] == cut_at  # written in the same cycle, after A's timeout
    assert b.limit_a < 10

    await world.step(coordinator, cycles=9)
    hung = [at for at, _, _ in a.attempts if at >= cut_at]
    assert 3 <= len(hung) <= 4  # every 3 s, never every cycle
    assert all(later - earlier >= 3.0 for earlier, later in pairwise(hung))
    assert coordinator.last_update_success

    a.hang = False
    await world.step(coordinator, cycles=3)
    assert a.applied[-1][0] > cut_at
    assert a.limit_a + b.limit_a <= 13


@pytest.mark.parametrize("hung", ["a", "b"])
async def test_a_hung_write_holds_up_neither_the_cycles_nor_another_chargers_cuts(
    hass: HomeAssistant, world: World, monkeypatch: pytest.MonkeyPatch, hung: str
) -> None:
    """
    One charger's service call hangs, whichever is served first: the loop goes on.

    The cycle that started the write ends after the grace; the next cycles read the meter
    and, on a new load step, cut the other charger to what the hung one leaves (it still
    draws what it held), while the hung write stays the only one sent to its charger and
    what that charger holds is unknown. Once the call has timed out, the next cycle reports
    it and writes again.
    """
    monkeypatch.setattr(entity_charger, "WRITE_TIMEOUT_S", 2.0)
    monkeypatch.setattr(EntityCharger, "write_grace_s", 0.05)
    evses = {name: FakeEvse(world=world, name=name, response_s=0.0) for name in ("a", "b")}
    a, b = evses[hung], evses["b" if hung == "a" else "a"]
    dsmr = FakeDsmr(evses=list(evses.values()))
    await add_fakes(hass, world, list(evses.values()), [dsmr])
    coordinator = await setup_site(hass, entity_site(evse_subentry("a"), evse_subentry("b")))
    await world.step(coordinator, cycles=15)
    assert a.limit_a + b.limit_a >= 18  # 19 A shared
    held_a = a.limit_a

    a.hang = True
    dsmr.house_a = [11.0, 11.0, 11.0]  # 13 A left for both: both are cut
    loop = asyncio.get_running_loop()
    started = loop.time()
    await world.step(coordinator)
    assert loop.time() - started < 1.0  # the cycle did not wait for the hung call
    tried = len(a.attempts)
    assert a.attempts[-1][2] + b.attempts[-1][2] <= 13  # what each was told
    assert b.limit_a == b.attempts[-1][2]  # B was cut in that cycle
    assert coordinator.data.chargers[hung].setpoint_a is None  # unknown while in flight
    assert coordinator.data.chargers[hung].error is None

    dsmr.house_a = [14.0, 14.0, 14.0]  # a second load step while A's call still hangs
    await world.step(coordinator, cycles=8)  # more than the car's response time
    assert loop.time() - started < 2.0  # the call still hangs (its timeout is 2 s)
    assert a.limit_a == held_a  # A never took its cut, so B makes room for what A draws
    assert a.limit_a + b.limit_a <= 10  # within the 24 A the 14 A house leaves
    assert len(a.attempts) == tried  # no second write while one is in flight
    assert coordinator.last_update_success

    await asyncio.sleep(2.2 - (loop.time() - started))  # the hung call times out
    await world.step(coordinator)
    assert "took over 2 s" in (coordinator.data.chargers[hung].error or "")
    a.hang = False
    await world.step(coordinator, cycles=3)
    assert len(a.attempts) > tried  # written again
    assert a.limit_a + b.limit_a <= 10
    assert coordinator.data.chargers[hung].setpoint_a == a.limit_a


async def _evse_a_with_a_short_grace(
    hass: HomeAssistant, world: World, monkeypatch: pytest.MonkeyPatch
) -> tuple[FakeEvse, FakeDsmr, HeadroomCoordinator]:
    """One entity charger 'a' whose cycles wait 0.05 s for a call, run for 10 s."""
    monkeypatch.setattr(EntityCharger, "write_grace_s", 0.05)
    a = FakeEvse(world=world, name="a", response_s=0.0)
    dsmr, coordinator = await start_one_evse(hass, world, a, name="a")
    await world.step(coordinator, cycles=10)
    return a, dsmr, coordinator


async def test_unloading_waits_for_a_write_in_flight_then_sends_the_fail_safe(
    hass: HomeAssistant, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fail-safe current is the last limit the charger is sent, after the hung call ends."""
    monkeypatch.setattr(entity_charger, "WRITE_TIMEOUT_S", 0.3)
    a, dsmr, coordinator = await _evse_a_with_a_short_grace(hass, world, monkeypatch)
    assert a.limit_a == 16.0
    a.hang = True
    dsmr.house_a = [12.0, 12.0, 12.0]
    await world.step(coordinator)
    assert a.attempts[-1][1:] == ("limit", 12.0)  # a cut, hanging
    a.hang = False  # the call in flight still hangs until its timeout

    entry = coordinator.config_entry
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert a.attempts[-1][1:] == ("limit", 6.0)  # the site's fail-safe current, last
    assert a.limit_a == 6.0


async def test_a_slow_write_ends_in_the_background_and_is_counted_when_it_has(
    hass: HomeAssistant, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A call slower than the grace: unknown meanwhile, known and not sent twice after."""
    a, dsmr, coordinator = await _evse_a_with_a_short_grace(hass, world, monkeypatch)
    assert a.limit_a == 16.0
    a.slow_s = 1.0
    dsmr.house_a = [12.0, 12.0, 12.0]  # 12 A left
    await world.step(coordinator)
    assert coordinator.data.chargers["a"].setpoint_a is None  # in flight
    assert coordinator.data.writes == 0
    dsmr.house_a = [13.0, 13.0, 13.0]  # 11 A left: a new command while the first flies
    await world.step(coordinator, cycles=2)
    assert a.limit_a == 16.0
    assert a.attempts == []  # the first call has not reached the charger yet

    await asyncio.sleep(1.1)
    a.slow_s = 0.0
    await world.step(coordinator)
    assert [value for _, _, value in a.attempts] == [12.0, 11.0]  # one at a time, in order
    assert a.limit_a == 11.0
    assert coordinator.data.writes == 2  # the slow one counted, the next one sent at once
    assert coordinator.data.chargers["a"].setpoint_a == 11
    assert coordinator.data.chargers["a"].error is None


async def test_unloading_cancels_a_write_in_flight_to_a_charger_that_stopped_answering(
    hass: HomeAssistant, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its entities went unavailable mid-call: nothing more is sent, no task lingers."""
    a, dsmr, coordinator = await _evse_a_with_a_short_grace(hass, world, monkeypatch)
    a.hang = True
    dsmr.house_a = [12.0, 12.0, 12.0]
    await world.step(coordinator)
    tried = len(a.attempts)
    a.available = False
    await world.step(coordinator)
    assert not coordinator.data.chargers["a"].available

    entry = coordinator.config_entry
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert len(a.attempts) == tried


async def test_pause_by_switch_turns_the_switch_on_only_when_it_is_off(
    hass: HomeAssistant, world: World
) -> None:
    """A rate-limited cloud charger is not sent a needless `switch.turn_on` with each limit."""
    evse = FakeEvse(world=world, response_s=0.0, limit_a=6.0)
    dsmr, coordinator = await start_one_evse(
        hass, world, evse, pause="switch", pause_entity="switch.evse_pause"
    )
    await world.step(coordinator, cycles=15)
    assert evse.limit_a == 16
    assert [what for _, what, _ in evse.attempts] == ["limit"] * len(evse.attempts)

    dsmr.house_a = [21.0, 21.0, 21.0]  # 3 A left: paused by the switch
    await world.step(coordinator, cycles=2)
    assert not evse.switch_on
    dsmr.house_a = [5.0, 5.0, 5.0]
    await world.step(coordinator, cycles=320)  # the minimum pause (300 s), then the resume
    assert evse.switch_on
    assert evse.draw_a >= 6
    resumed = [what for _, what, value in evse.attempts if what == "switch" and value == 1]
    assert len(resumed) == 1


async def test_without_a_status_entity_the_line_currents_tell_charging_from_connected(
    hass: HomeAssistant, world: World
) -> None:
    """A car that draws under 1 A reads as connected (B), one that draws as charging (C)."""
    evse = FakeEvse(world=world, response_s=0.0, car_max_a=0.0)
    _, coordinator = await start_one_evse(
        hass, world, evse, status_entity=None, status_mapping="none"
    )
    await world.step(coordinator, cycles=3)
    reading = coordinator.data.chargers["evse"].reading
    assert reading is not None
    assert reading.state is ChargerState.B

    evse.car_max_a = 16.0
    await world.step(coordinator, cycles=3)
    reading = coordinator.data.chargers["evse"].reading
    assert reading is not None
    assert reading.state is ChargerState.C
    assert hass.states.get("sensor.evse_state").state == "charging"


async def test_a_limit_outside_0_or_6_to_the_maximum_is_never_written(
    hass: HomeAssistant, world: World
) -> None:
    evse = FakeEvse(world=world)
    await add_fakes(hass, world, [evse], [])
    config = entity_charger_config(evse_subentry()["data"], lines=3, voltage_v=230.0)
    charger = EntityCharger(hass, config, max_limit_a=16, clock=world.now)
    for limit_a in (-1, 3, 17, 32):
        with pytest.raises(ValueError, match=f"limit {limit_a} A: must be 0 or 6"):
            await charger.set_limit(limit_a)
    assert evse.attempts == []
    await charger.set_limit(16)
    assert evse.limit_a == 16


def _meter_in_kilowatts(hass: HomeAssistant, dsmr: FakeDsmr) -> None:
    dsmr.unit = "kW"  # an update of the reader's integration: a power where a current was


def _meter_reports_a_word(hass: HomeAssistant, dsmr: FakeDsmr) -> None:
    # A sensor with a unit cannot report a word (Home Assistant refuses it): only a state
    # written directly (a template or a custom integration's own states) can, so it is
    # written here, in place of the reader's telegrams.
    dsmr.reporting = False
    state = hass.states.get("sensor.dsmr_current_l2")
    assert state is not None
    hass.states.async_set("sensor.dsmr_current_l2", "fault", state.attributes)


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        (_meter_in_kilowatts, "sensor.dsmr_current_l1 is in kW, not a unit of A"),
        (_meter_reports_a_word, "sensor.dsmr_current_l2 is not a number: 'fault'"),
    ],
)
async def test_a_meter_sensor_without_a_usable_current_is_a_silent_meter(
    hass: HomeAssistant, world: World, fault: Callable[[HomeAssistant, FakeDsmr], None], error: str
) -> None:
    """No current to trust: the last reading carries the loop for the stale time (3 s)."""
    evse = FakeEvse(world=world, response_s=0.0)
    dsmr, coordinator = await start_one_evse(hass, world, evse)
    await world.step(coordinator, cycles=15)
    assert evse.limit_a == 16
    went_at = world.now()

    fault(hass, dsmr)
    await world.step(coordinator)
    assert error in (coordinator.data.meter_error or "")
    await step_until_fail_safe(world, coordinator, since=went_at)
    assert evse.limit_a == 6


POWER = [f"sensor.dsmr_power_l{phase}" for phase in (1, 2, 3)]
VOLTAGE = [f"sensor.dsmr_voltage_l{phase}" for phase in (1, 2, 3)]


def power_site(meter: dict[str, list[str]]) -> MockConfigEntry:
    """The entity site with a meter of power (and voltage) sensors instead of currents."""
    entry = entity_site(evse_subentry())
    return MockConfigEntry(
        domain=entry.domain,
        entry_id=entry.entry_id,
        title=entry.title,
        unique_id=entry.unique_id,
        data={"meter_entities": meter},
        options=dict(entry.options),
        subentries_data=[evse_subentry()],
    )


async def test_a_meter_of_power_sensors_alone_uses_the_nominal_voltage(
    hass: HomeAssistant, world: World
) -> None:
    """14 A of house as 3220 W a phase, at the site's 230 V: 10 A left for the charger."""
    evse = FakeEvse(world=world, response_s=0.0)
    dsmr = FakeDsmr(house_a=[14.0, 14.0, 14.0], evses=[evse], with_power=True)
    await add_fakes(hass, world, [evse], [dsmr])
    coordinator = await setup_site(hass, power_site({"power_entities": POWER}))
    await world.step(coordinator, cycles=15)
    assert not coordinator.data.decision.fail_safe
    assert coordinator.data.meter is not None
    assert coordinator.data.meter.current_l1_a == pytest.approx(14.0 + evse.draw_a)
    assert coordinator.data.meter.voltage_l1_v is None
    assert evse.limit_a == 10


async def test_a_voltage_sensor_at_0_v_is_a_silent_meter(hass: HomeAssistant, world: World) -> None:
    """A power cannot become a current at 0 V: no reading, and the fail-safe in time."""
    evse = FakeEvse(world=world, response_s=0.0)
    dsmr = FakeDsmr(evses=[evse], with_power=True)
    await add_fakes(hass, world, [evse], [dsmr])
    meter = {"power_entities": POWER, "voltage_entities": VOLTAGE}
    coordinator = await setup_site(hass, power_site(meter))
    await world.step(coordinator, cycles=15)
    assert evse.limit_a == 16
    went_at = world.now()

    dsmr.voltage_v = 0.0
    await world.step(coordinator)
    assert "no voltage to turn" in (coordinator.data.meter_error or "")
    for _ in range(4):
        if coordinator.data.decision.fail_safe:
            break
        await world.step(coordinator)
    assert coordinator.data.decision.fail_safe
    assert world.now() - went_at <= 4
    assert evse.limit_a == 6


async def test_the_charger_flow_names_the_field_of_an_unusable_entity(
    hass: HomeAssistant, world: World
) -> None:
    """Each refusal is a translated error at the field the installer has to change."""
    evse = FakeEvse(world=world)
    await add_fakes(hass, world, [evse], [FakeDsmr(evses=[evse])])
    # A number entity always has a numeric range: only a state written directly can lack one.
    hass.states.async_set("number.no_range", "6", {"min": "low", "max": 32, "step": 1})
    entry = entity_site()
    await setup_site(hass, entry)
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, "entity_charger"), context={"source": SOURCE_USER}
    )
    strings = json.loads(STRINGS.read_text())["config_subentries"]["entity_charger"]["error"]

    async def errors(**changes: Any) -> dict[str, str]:
        answer = await hass.config_entries.subentries.async_configure(
            result["flow_id"], {**CHARGER, **changes}
        )
        found: dict[str, str] = answer.get("errors") or {}
        assert set(found.values()) <= set(strings)
        return found

    assert await errors(limit_entity="number.gone") == {"limit_entity": "not_numeric"}
    # A status or pause entity that does not exist: the charger would never answer.
    assert await errors(status_entity="sensor.gone") == {"status_entity": "entity_missing"}
    assert await errors(pause="switch", pause_entity="switch.gone") == {
        "pause_entity": "entity_missing"
    }
    assert await errors(limit_entity="number.no_range") == {"limit_entity": "limit_range"}
    evse.limit_unit = "W"
    evse.follow()
    assert await errors() == {"limit_entity": "wrong_unit"}
    evse.limit_unit = "A"
    evse.limit_max_a = 13.0
    evse.follow()
    assert await errors() == {"max_a": "limit_range"}
    evse.limit_max_a = 32.0
    evse.available = False  # asleep now: its entities pass, the loop waits for them
    evse.follow()
    done = await hass.config_entries.subentries.async_configure(result["flow_id"], CHARGER)
    assert done["type"] is FlowResultType.CREATE_ENTRY


async def test_a_limit_number_in_milliamperes_is_written_in_milliamperes(
    hass: HomeAssistant, world: World
) -> None:
    """The flow accepts a limit in mA and the loop reads it as such: 16 A is 16000 mA."""
    evse = FakeEvse(world=world, response_s=0.0, limit_a=6.0, limit_unit="mA")
    dsmr = FakeDsmr(house_a=[14.0, 14.0, 14.0], evses=[evse])
    await add_fakes(hass, world, [evse], [dsmr])
    number = hass.states.get("number.evse_limit")
    assert number is not None
    assert number.state == "6000.0"
    assert number.attributes["step"] == 100
    checked = limit_problems(
        hass, "number.evse_limit", field="limit_entity", max_a=16, pause_by_minimum=True
    )
    assert checked == []  # 6 A is 60 steps of 100 mA, 16 A within 32000 mA
    coordinator = await setup_site(hass, entity_site(evse_subentry()))
    await world.step(coordinator, cycles=15)
    assert coordinator.data.chargers["evse"].available
    assert evse.limit_a == 10  # 25 A - 1 A margin - 14 A house
    assert evse.draw_a == 10
    dsmr.house_a = [21.0, 21.0, 21.0]  # 3 A left: paused at the number's minimum
    await world.step(coordinator, cycles=2)
    assert evse.limit_a == 0
