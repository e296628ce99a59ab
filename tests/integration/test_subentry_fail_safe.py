"""
Adding or changing a charger is refused while the site's fail-safe current would not fit with it.

Every charger may fall back to the fail-safe current at once (a silent meter, Home Assistant
stopped): a charger flow that let the chargers sharing a phase exceed breaker minus margin at
it would leave the site, after its reload, in the 0 A hold of settings that cannot work.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from homeassistant.config_entries import SOURCE_USER, ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers.translation import async_get_translations
from pytest_homeassistant_custom_component.common import MockConfigEntry

from tests.integration.fake_devices import FakeDsmr, FakeEvse, World, add_fakes
from tests.integration.helpers import (
    CARPORT_ID,
    charger_subentry,
    setup_site,
    site_entry,
)
from tests.integration.test_entity_devices import entity_site, evse_subentry
from tests.integration.test_entity_flows import CHARGER
from tools.simulator import Simulator

LINE = {"baudrate": "9600", "parity": "N", "stopbits": "1"}
SETTINGS = {"name": "Carport", "phases": "2_3_1", "shared_circuit": False, "priority": 1}
CARPORT: dict[str, Any] = {
    **CHARGER,
    "name": "Carport",
    "limit_entity": "number.carport_limit",
    "status_entity": "sensor.carport_status",
    "current_entities": [f"sensor.carport_current_l{line}" for line in (1, 2, 3)],
}
"""The entity charger form's answers for the second fake EVSE."""


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> World:
    return World(monkeypatch)


def problem_keys(hass: HomeAssistant, entry_id: str) -> set[str]:
    """The settings problems of the site as loaded now (after a subentry flow's reload)."""
    entry = hass.config_entries.async_get_entry(entry_id)
    assert entry is not None
    assert entry.state is ConfigEntryState.LOADED
    return {problem.key.value for problem in entry.runtime_data.coordinator.problems}


async def assert_refused(
    hass: HomeAssistant, result: Mapping[str, Any], kind: str, maximum: str
) -> None:
    """The form stays, refusing the charger, and tells the installer the largest fail-safe."""
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "fail_safe_too_high"}
    assert result["description_placeholders"]["maximum"] == maximum
    translations = await async_get_translations(hass, "en", "config_subentries", ["headroom"])
    message = translations[f"component.headroom.config_subentries.{kind}.error.fail_safe_too_high"]
    assert "{maximum}" in message
    text = message.format(maximum=maximum)
    assert f"at most {maximum} A" in text
    assert "Configure" in text


async def assert_added(
    hass: HomeAssistant, entry: MockConfigEntry, result: Mapping[str, Any], answers: Any
) -> None:
    """These answers fit the site's fail-safe: the charger is added and the site can work."""
    result = await hass.config_entries.subentries.async_configure(result["flow_id"], answers)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert len(entry.subentries) == 2
    assert problem_keys(hass, entry.entry_id) == set()


async def test_a_second_modbus_charger_the_fail_safe_cannot_fit_is_refused(
    hass: HomeAssistant, simulator: Simulator
) -> None:
    # 25 A breaker, 1 A margin: the garage alone takes the 16 A fail-safe, two cannot.
    port = simulator.endpoints().pty or ""
    garage = charger_subentry("garage", "Garage", "heidelberg_energy_control", 2, port)
    entry = site_entry(port, chargers=[garage], fail_safe_a=16.0)
    await setup_site(hass, entry)
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, "charger"), context={"source": SOURCE_USER}
    )
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"next_step_id": "port"}
    )
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"model": "abb_terra_ac", "device_id": CARPORT_ID, **LINE}
    )
    assert result["step_id"] == "settings"
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {**SETTINGS, "max_a": 16}
    )
    # 12 A each fits 24 A: the largest fail-safe this site can have with the carport.
    await assert_refused(hass, result, "charger", "12")
    assert len(entry.subentries) == 1

    # A charger that fits with the site's fail-safe is still accepted: 16 A + 8 A = 24 A.
    await assert_added(hass, entry, result, {**SETTINGS, "max_a": 8})


async def test_raising_a_modbus_chargers_maximum_past_the_fail_safe_is_refused(
    hass: HomeAssistant, simulator: Simulator
) -> None:
    port = simulator.endpoints().pty or ""
    entry = site_entry(
        port,
        chargers=[
            charger_subentry("garage", "Garage", "heidelberg_energy_control", 2, port),
            charger_subentry("carport", "Carport", "abb_terra_ac", CARPORT_ID, port, max_a=8),
        ],
        fail_safe_a=16.0,
    )
    await setup_site(hass, entry)
    assert problem_keys(hass, entry.entry_id) == set()  # 16 A + 8 A fit 24 A

    result = await entry.start_subentry_reconfigure_flow(hass, "carport")
    answers = {"phases": "1_2_3", "shared_circuit": False, "priority": 1}
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {**answers, "max_a": 10}
    )
    await assert_refused(hass, result, "charger", "14")  # 14 A + 10 A
    assert entry.subentries["carport"].data["max_a"] == 8

    # Another priority at the same maximum still fits: saved.
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {**answers, "max_a": 8, "priority": 2}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done()
    assert entry.subentries["carport"].data["priority"] == 2
    assert problem_keys(hass, entry.entry_id) == set()


async def test_a_second_entity_charger_the_fail_safe_cannot_fit_is_refused(
    hass: HomeAssistant, world: World
) -> None:
    evse, carport = FakeEvse(world=world), FakeEvse(world=world, name="carport")
    await add_fakes(hass, world, [evse, carport], [FakeDsmr(evses=[evse, carport])])
    entry = entity_site(evse_subentry(), fail_safe_a=16.0)
    await setup_site(hass, entry)
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, "entity_charger"), context={"source": SOURCE_USER}
    )
    result = await hass.config_entries.subentries.async_configure(result["flow_id"], CARPORT)
    await assert_refused(hass, result, "entity_charger", "12")
    assert len(entry.subentries) == 1

    await assert_added(hass, entry, result, {**CARPORT, "max_a": 8})


async def test_rewiring_an_entity_charger_onto_a_shared_phase_is_refused(
    hass: HomeAssistant, world: World
) -> None:
    # Two 1-phase chargers on phases 1 and 2 each take the 16 A fail-safe; on one phase they
    # would draw 32 A of the 24 A.
    evse = FakeEvse(world=world, lines=1)
    carport = FakeEvse(world=world, name="carport", lines=1)
    await add_fakes(hass, world, [evse, carport], [FakeDsmr(evses=[evse, carport])])
    entry = entity_site(
        evse_subentry(phases=[1], current_entities=["sensor.evse_current_l1"]),
        evse_subentry("carport", phases=[2], current_entities=["sensor.carport_current_l1"]),
        fail_safe_a=16.0,
    )
    await setup_site(hass, entry)
    assert problem_keys(hass, entry.entry_id) == set()

    result = await entry.start_subentry_reconfigure_flow(hass, "carport")
    answers = {
        **{k: v for k, v in CARPORT.items() if k != "name"},
        "current_entities": ["sensor.carport_current_l1"],
    }
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {**answers, "phases": "1"}
    )
    await assert_refused(hass, result, "entity_charger", "12")
    assert entry.subentries["carport"].data["phases"] == [2]

    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {**answers, "phases": "3"}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done()
    assert entry.subentries["carport"].data["phases"] == [3]
    assert problem_keys(hass, entry.entry_id) == set()


async def test_a_site_whose_stored_options_cannot_work_still_takes_a_charger(
    hass: HomeAssistant, world: World
) -> None:
    # A breaker stored as null (what NaN became): the site holds its chargers at 0 A and
    # shows that problem; the charger form checks its own numbers and does not crash.
    evse = FakeEvse(world=world)
    await add_fakes(hass, world, [evse], [FakeDsmr(evses=[evse])])
    entry = entity_site(breaker_a=None, fail_safe_a=16.0)
    await setup_site(hass, entry)
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, "entity_charger"), context={"source": SOURCE_USER}
    )
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {**CHARGER, "max_a": 16}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert "fail_safe_too_high" not in problem_keys(hass, entry.entry_id)
