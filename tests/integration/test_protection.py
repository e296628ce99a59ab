"""What a tester and an installer tried on a running site: numbers that are not numbers,
stored settings that cannot work, raises from the dashboard, a loop nobody listens to."""

from __future__ import annotations

import asyncio
import math
from datetime import timedelta
from typing import Any

import pytest
from homeassistant.config_entries import SOURCE_USER, ConfigEntryState
from homeassistant.core import Context, HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers import issue_registry as ir
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import async_fire_time_changed

from custom_components.headroom.const import DOMAIN
from tests.integration.helpers import (
    CARPORT_ID,
    ENTRY_ID,
    GARAGE_ID,
    METER_ID,
    charger_subentry,
    setup_site,
    site_entry,
    step,
)
from tests.integration.test_entity_devices import evse_subentry
from tests.integration.test_loop import limit_of
from tools.simulator import Simulator

LIMITS = {
    "breaker_a": 25,
    "margin_a": 1,
    "fail_safe_a": 6,
    "circuit_a": 0,
    "meter_stale_after_s": 3,
    "watchdog_timeout_s": 15,
}


def issue(hass: HomeAssistant, suffix: str) -> ir.IssueEntry | None:
    return ir.async_get(hass).async_get_issue(DOMAIN, f"{ENTRY_ID}_{suffix}")


async def set_number(hass: HomeAssistant, entity_id: str, value: Any, **kwargs: Any) -> None:
    await hass.services.async_call(
        "number", "set_value", {"entity_id": entity_id, "value": value}, blocking=True, **kwargs
    )


@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "-inf", math.nan])
@pytest.mark.parametrize(
    "entity_id",
    ["number.home_main_breaker", "number.garage_maximum_current", "number.garage_priority"],
)
async def test_numbers_that_are_not_numbers_are_refused_by_the_entities(
    hass: HomeAssistant, simulator: Simulator, entity_id: str, value: Any
) -> None:
    entry = site_entry(simulator.endpoints().pty or "")
    coordinator = await setup_site(hass, entry)
    before = (dict(entry.options), dict(entry.subentries["garage"].data))
    with pytest.raises(ServiceValidationError):
        await set_number(hass, entity_id, value)
    assert (dict(entry.options), dict(entry.subentries["garage"].data)) == before
    assert coordinator.site.balancer.settings.breaker_a == 25.0


async def test_the_dashboard_lowers_limits_but_never_raises_them(
    hass: HomeAssistant, simulator: Simulator
) -> None:
    entry = site_entry(simulator.endpoints().pty or "")
    coordinator = await setup_site(hass, entry)
    # A household member: may control devices, is no administrator (nor the owner).
    await hass.auth.async_create_user("Installer", group_ids=["system-admin"])
    resident = await hass.auth.async_create_user("Resident", group_ids=["system-users"])
    assert not resident.is_admin
    user = Context(user_id=resident.id)
    # The fault run: a non-admin user set the breaker to 400 A.
    with pytest.raises(ServiceValidationError):
        await set_number(hass, "number.home_main_breaker", 400, context=user)
    with pytest.raises(ServiceValidationError):
        await set_number(hass, "number.garage_maximum_current", 20, context=user)
    assert coordinator.site.balancer.settings.breaker_a == 25.0

    # Lowering is anyone's to do (to keep the import down), and going back up to the
    # installer's figure too.
    await set_number(hass, "number.home_main_breaker", 20, context=user)
    await set_number(hass, "number.garage_maximum_current", 10, context=user)
    await hass.async_block_till_done()
    settings = coordinator.site.balancer.settings
    assert settings.breaker_a == 20.0
    assert {c.charger_id: c.max_a for c in settings.chargers}["garage"] == 10.0
    assert entry.options["breaker_a"] == 25.0  # the installer's rating is kept
    await set_number(hass, "number.home_main_breaker", 25, context=user)
    await hass.async_block_till_done()
    assert "breaker_lowered_a" not in entry.options
    assert coordinator.site.balancer.settings.breaker_a == 25.0

    # The installer raises it in the options (admins only); a lowered figure goes with it.
    await set_number(hass, "number.home_main_breaker", 20)
    result = await hass.config_entries.options.async_init(entry.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {**LIMITS, "breaker_a": 32}
    )
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"solar_source": "none"}
    )
    await hass.async_block_till_done()
    assert coordinator.site.balancer.settings.breaker_a == 32.0
    assert hass.states.get("number.home_main_breaker").attributes["max"] == 32.0


@pytest.mark.parametrize(
    ("changes", "errors"),
    [
        ({"breaker_a": math.nan}, {"breaker_a": "not_a_number"}),
        ({"margin_a": math.nan}, {"margin_a": "not_a_number"}),
        ({"fail_safe_a": math.nan}, {"fail_safe_a": "not_a_number"}),
        # Both chargers at 16 A would be 32 A on a 25 A breaker.
        ({"fail_safe_a": 16}, {"fail_safe_a": "fail_safe_too_high"}),
        # The loop would keep the watchdogs alive on data older than they are.
        (
            {"meter_stale_after_s": 30, "watchdog_timeout_s": 15},
            {"watchdog_timeout_s": "watchdog_too_short"},
        ),
    ],
)
async def test_options_flow_refuses_settings_that_cannot_protect(
    hass: HomeAssistant, simulator: Simulator, changes: dict[str, Any], errors: dict[str, str]
) -> None:
    entry = site_entry(simulator.endpoints().pty or "")
    await setup_site(hass, entry)
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["description_placeholders"]["maximum"] == "12"
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {**LIMITS, **changes}
    )
    assert result["step_id"] == "init"
    assert result["errors"] == errors


@pytest.mark.parametrize(
    ("stored", "problem"),
    [
        # NaN is stored as null: after a restart, the breaker is gone.
        ({"breaker_a": None}, "not_a_number"),
        ({"breaker_a": "nan"}, "not_a_number"),
        ({"fail_safe_a": 16.0}, "fail_safe_too_high"),
        ({"margin_a": -3.0}, "out_of_range"),
    ],
)
async def test_a_stored_entry_that_cannot_work_loads_and_holds_the_chargers(
    hass: HomeAssistant, simulator: Simulator, stored: dict[str, Any], problem: str
) -> None:
    entry = site_entry(simulator.endpoints().pty or "", **stored)
    coordinator = await setup_site(hass, entry)
    assert entry.state is ConfigEntryState.LOADED
    repair = issue(hass, problem)
    assert repair is not None
    assert repair.severity is ir.IssueSeverity.ERROR
    await step(coordinator, cycles=3)
    # Every charger held at 0 A, and armed to fall back to 0 A if Home Assistant stops.
    assert limit_of(simulator, GARAGE_ID) == 0
    assert limit_of(simulator, CARPORT_ID) == 0
    assert hass.states.get("number.home_main_breaker").state == "unknown"

    # The options flow opens (no server error) and repairs it.
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["step_id"] == "init"
    result = await hass.config_entries.options.async_configure(result["flow_id"], LIMITS)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"solar_source": "none"}
    )
    await hass.async_block_till_done()
    assert issue(hass, problem) is None
    await step(coordinator, cycles=12)
    assert limit_of(simulator, GARAGE_ID) > 0
    assert hass.states.get("number.home_main_breaker").state == "25.0"


async def test_a_stored_entry_without_its_supply_is_repaired_in_the_options(
    hass: HomeAssistant, simulator: Simulator
) -> None:
    # The supply is not a number the options show: with it gone from storage, the site
    # holds its chargers, the charger forms stop at a translated reason instead of a server
    # error, and the options ask the supply again to repair it.
    port = simulator.endpoints().pty or ""
    chargers = [
        charger_subentry("garage", "Garage", "heidelberg_energy_control", GARAGE_ID, port),
        charger_subentry("carport", "Carport", "abb_terra_ac", CARPORT_ID, port),
        # No entities behind it: unreadable, it keeps room for its maximum (6 A on L3).
        evse_subentry(phases=[3], current_entities=[], max_a=6),
    ]
    entry = site_entry(port, chargers=chargers, supply=None)
    coordinator = await setup_site(hass, entry)
    assert issue(hass, "invalid_settings") is not None
    await step(coordinator, cycles=3)
    assert limit_of(simulator, GARAGE_ID) == 0
    assert limit_of(simulator, CARPORT_ID) == 0

    for kind in ("charger", "entity_charger"):
        result = await hass.config_entries.subentries.async_init(
            (entry.entry_id, kind), context={"source": SOURCE_USER}
        )
        assert result["type"] is FlowResultType.ABORT
        assert result["reason"] == "site_needs_repair"
    for subentry_id in ("carport", "evse"):
        result = await entry.start_subentry_reconfigure_flow(hass, subentry_id)
        assert result["type"] is FlowResultType.ABORT
        assert result["reason"] == "site_needs_repair"

    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["step_id"] == "init"
    assert "supply" in result["data_schema"].schema
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {**LIMITS, "supply": "three_phase"}
    )
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"solar_source": "none"}
    )
    await hass.async_block_till_done()
    assert entry.options["supply"] == "three_phase"
    assert issue(hass, "invalid_settings") is None
    await step(coordinator, cycles=12)
    assert limit_of(simulator, GARAGE_ID) > 0

    # With a supply stored, the options do not ask it again.
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert "supply" not in result["data_schema"].schema


async def test_the_loop_runs_with_every_entity_disabled(
    hass: HomeAssistant, simulator: Simulator, entity_registry: er.EntityRegistry
) -> None:
    entry = site_entry(simulator.endpoints().pty or "")
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    for entity in er.async_entries_for_config_entry(entity_registry, entry.entry_id):
        entity_registry.async_update_entity(
            entity.entity_id, disabled_by=er.RegistryEntryDisabler.USER
        )
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    coordinator = entry.runtime_data.coordinator
    assert not list(coordinator.async_contexts())  # nobody listens

    fired_s = 0.0

    async def tick(seconds: int) -> None:
        # The loop's tick is scheduled on the event loop's clock, which only the harness
        # moves on: fire each next second (the simulator's cars follow the wall clock).
        nonlocal fired_s
        for _ in range(seconds):
            before = coordinator._cycles
            fired_s += 1.0
            async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=fired_s))
            # The cycle is a background task (the bus on the wall clock): wait for it.
            for _ in range(100):
                await asyncio.sleep(0.02)
                if coordinator._cycles > before and not coordinator._in_cycle:
                    break
            await hass.async_block_till_done()

    cycles = coordinator._cycles
    await tick(3)
    assert coordinator._cycles >= cycles + 3
    assert limit_of(simulator, GARAGE_ID) >= 6
    # A big load in the house: the loop cuts the chargers although nothing listens.
    simulator.site.set_house_currents_a((22.0, 22.0, 22.0))
    await tick(3)
    assert limit_of(simulator, GARAGE_ID) == 0
    assert limit_of(simulator, CARPORT_ID) == 0
    assert coordinator.data.decision.house_a[0] >= 21.0


async def test_a_stored_charger_of_an_unknown_model_is_a_setup_error(
    hass: HomeAssistant, simulator: Simulator
) -> None:
    port = simulator.endpoints().pty or ""
    entry = site_entry(
        port, chargers=[charger_subentry("x", "X", "no_such_charger", GARAGE_ID, port)]
    )
    entry.add_to_hass(hass)
    assert not await hass.config_entries.async_setup(entry.entry_id)
    assert entry.state is ConfigEntryState.SETUP_ERROR


async def test_a_limit_above_the_installer_is_refused_by_the_entity_itself(
    hass: HomeAssistant, simulator: Simulator
) -> None:
    # Home Assistant's own range check normally comes first; the entity does not rely on it.
    entry = site_entry(simulator.endpoints().pty or "")
    await setup_site(hass, entry)
    component = hass.data["entity_components"]["number"]
    for entity_id in ("number.home_main_breaker", "number.garage_maximum_current"):
        entity = component.get_entity(entity_id)
        with pytest.raises(ServiceValidationError) as raised:
            await entity.async_set_native_value(40.0)
        assert raised.value.translation_key == "above_installer_limit"
    priority = component.get_entity("number.garage_priority")
    await priority.async_set_native_value(3.0)
    await hass.async_block_till_done()
    assert entry.subentries["garage"].data["priority"] == 3


async def test_a_noisy_meter_neither_flaps_nor_floods_the_log(
    hass: HomeAssistant, simulator: Simulator, caplog: pytest.LogCaptureFixture
) -> None:
    coordinator = await setup_site(hass, site_entry(simulator.endpoints().pty or ""))
    await step(coordinator)
    meter = simulator.devices[METER_ID]
    states = []
    for cycle in range(12):
        # One answer in three lost (the fault run had 30 % bad answers).
        meter.faults.silent = cycle % 3 == 0
        await step(coordinator)
        states.append(hass.states.get("binary_sensor.home_meter_meter_communication").state)
    meter.faults.silent = False
    assert set(states) == {"on"}
    assert "stopped answering" not in caplog.text
    assert not coordinator.data.decision.fail_safe
