"""The flows of devices made of entities: the entity charger subentry, backup sensors."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import probatio
import pytest
from homeassistant.config_entries import SOURCE_RECONFIGURE, SOURCE_USER, ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.headroom.const import DOMAIN
from tests.integration.fake_devices import FakeDsmr, FakeEvse, World, add_fakes
from tests.integration.helpers import FakeClock, setup_site, site_entry, step
from tests.integration.test_config_flow import (  # the scan stands in, as in those tests
    SITE,
    fake_scanner,  # noqa: F401 (autouse: the scan finds nothing)
    scan_serial,
)
from tests.integration.test_entity_devices import DSMR, OPTIONS, entity_site, evse_subentry
from tests.integration.test_options import LIMITS, SOLAR
from tools.simulator import Simulator

CHARGER: dict[str, Any] = {
    "name": "Driveway",
    "limit_entity": "number.evse_limit",
    "pause": "number_minimum",
    "status_entity": "sensor.evse_status",
    "status_mapping": "ocpp",
    "current_entities": [
        "sensor.evse_current_l1",
        "sensor.evse_current_l2",
        "sensor.evse_current_l3",
    ],
    "response_s": 5,
    "min_write_interval_s": 0,
    "phases": "1_2_3",
    "max_a": 16,
    "shared_circuit": False,
    "priority": 1,
}


def form_defaults(result: Mapping[str, Any]) -> dict[str, Any]:
    """The values a form shows pre-filled: defaults and suggested values."""
    shown = {}
    for key in result["data_schema"].schema:
        if key.default is not probatio.UNDEFINED:
            shown[str(key)] = key.default()
        elif key.description and "suggested_value" in key.description:
            shown[str(key)] = key.description["suggested_value"]
    return shown


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> World:
    return World(monkeypatch)


async def test_entity_charger_subentry_flow(hass: HomeAssistant, world: World) -> None:
    evse = FakeEvse(world=world)
    await add_fakes(hass, world, [evse], [FakeDsmr(evses=[evse])])
    hass.states.async_set("sensor.power", "1200", {"unit_of_measurement": "W"})
    hass.states.async_set("sensor.garbage", "n/a", {"unit_of_measurement": "A"})
    hass.states.async_set("number.coarse", "10", {"min": 10, "max": 32, "step": 1})
    hass.states.async_set("number.steps_of_4", "8", {"min": 0, "max": 32, "step": 4})
    hass.states.async_set("number.slow", "6", {"min": 6, "max": 32, "step": 1})
    entry = entity_site()  # a site with a DSMR meter and no charger yet
    await setup_site(hass, entry)

    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, "entity_charger"), context={"source": SOURCE_USER}
    )
    assert result["step_id"] == "user"

    async def answer(**changes: Any) -> dict[str, Any]:
        return dict(
            await hass.config_entries.subentries.async_configure(
                result["flow_id"], {**CHARGER, **changes}
            )
        )

    wrong_unit = await answer(current_entities=["sensor.power"] * 3)
    assert wrong_unit["errors"] == {"current_entities": "wrong_unit"}
    not_numeric = await answer(current_entities=["sensor.garbage"] * 3)
    assert not_numeric["errors"] == {"current_entities": "not_numeric"}
    assert (await answer(limit_entity="number.coarse"))["errors"] == {"limit_entity": "limit_range"}
    assert (await answer(limit_entity="number.steps_of_4"))["errors"] == {
        "limit_entity": "limit_range"
    }
    assert (await answer(limit_entity="number.slow"))["errors"] == {"limit_entity": "cannot_pause"}
    above = await answer(max_a=40, phases="2_3_1")
    assert above["errors"] == {"max_a": "charger_above_breaker"}
    # Shown again with what was chosen, the wiring too (it is stored as a list of lines).
    assert form_defaults(above)["phases"] == "2_3_1"
    assert (await answer(current_entities=["sensor.evse_current_l1"]))["errors"] == {
        "current_entities": "entity_count"
    }
    twice = await answer(current_entities=["sensor.dsmr_current_l1"] * 3)
    assert twice["errors"] == {"base": "entity_used_twice"}
    assert (await answer(status_mapping="manual", status_manual="Charging"))["errors"] == {
        "status_manual": "status_mapping"
    }
    assert (await answer(pause="switch"))["errors"] == {"pause_entity": "entity_required"}

    done = await answer()
    assert done["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    (subentry,) = entry.get_subentries_of_type("entity_charger")
    assert subentry.title == "Driveway"
    assert subentry.data["limit_entity"] == "number.evse_limit"
    assert subentry.data["phases"] == [1, 2, 3]
    # Added without a restart of Home Assistant: the site reloaded with the new charger.
    coordinator = entry.runtime_data.coordinator
    assert subentry.subentry_id in {
        c.charger_id for c in coordinator.site.balancer.settings.chargers
    }


async def test_a_charger_whose_entity_is_the_meters_is_a_settings_problem(
    hass: HomeAssistant, world: World
) -> None:
    evse = FakeEvse(world=world)
    await add_fakes(hass, world, [evse], [FakeDsmr(evses=[evse])])
    entry = entity_site(
        evse_subentry(current_entities=["sensor.dsmr_current_l1", "sensor.dsmr_current_l2"])
    )
    coordinator = await setup_site(hass, entry)
    keys = {problem.key.value for problem in coordinator.problems}
    assert keys == {"entity_used_twice"}
    await world.step(coordinator, cycles=2)
    assert evse.limit_a == 0  # held at 0 A until the settings are corrected


async def test_backup_sensors_in_the_options(hass: HomeAssistant, simulator: Simulator) -> None:
    hass.states.async_set("sensor.p1_l1", "3", {"unit_of_measurement": "A"})
    hass.states.async_set("sensor.p1_l2", "4", {"unit_of_measurement": "A"})
    hass.states.async_set("sensor.p1_l3", "5", {"unit_of_measurement": "A"})
    hass.states.async_set("sensor.power", "1200", {"unit_of_measurement": "W"})
    entry = site_entry(simulator.endpoints().pty or "")
    coordinator = await setup_site(hass, entry)
    await step(coordinator)
    result = await hass.config_entries.options.async_init(entry.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {**LIMITS, "backup_current_entities": ["sensor.p1_l1", "sensor.power"]}
    )
    assert result["errors"] == {"backup_current_entities": "wrong_unit"}
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {**LIMITS, "backup_current_entities": ["sensor.p1_l1"]}
    )
    assert result["errors"] == {"backup_current_entities": "entity_count"}
    backup = ["sensor.p1_l1", "sensor.p1_l2", "sensor.p1_l3"]
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {**LIMITS, "backup_current_entities": backup}
    )
    assert result["step_id"] == "solar"
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {**SOLAR, "solar_source": "none"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert entry.options["backup_meter"] == {"current_entities": backup}
    assert "backup_current_entities" not in entry.options
    # One more device on the loop: the site reloaded, with the meter source sensor.
    assert hass.states.get("sensor.home_meter_source") is not None


async def test_setup_flow_takes_the_meter_from_sensors(hass: HomeAssistant, tmp_path: Path) -> None:
    hass.states.async_set("sensor.power", "1200", {"unit_of_measurement": "W"})
    for phase in (1, 2, 3):
        hass.states.async_set(f"sensor.p1_l{phase}", "3", {"unit_of_measurement": "A"})
    result = await scan_serial(hass, str(tmp_path / "ttyUSB0"))
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"meter": "entities"}
    )
    assert result["step_id"] == "meter_entities"
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["errors"] == {"base": "meter_entities_required"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"current_entities": ["sensor.power"]}
    )
    assert result["errors"] == {"current_entities": "wrong_unit"}
    currents = ["sensor.p1_l1", "sensor.p1_l2", "sensor.p1_l3"]
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"current_entities": currents}
    )
    assert result["step_id"] == "site"
    result = await hass.config_entries.flow.async_configure(result["flow_id"], SITE)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"add_manual": False}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"fail_safe_a": 0, "circuit_a": 0}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"]["meter_entities"] == {"current_entities": currents}
    assert "meter_device_id" not in result["data"]


async def test_setup_flow_of_a_site_with_no_modbus_connection(
    hass: HomeAssistant, world: World
) -> None:
    """No adapter, no gateway: the meter's sensors, the site, the fail-safe; one such site."""
    evse = FakeEvse(world=world)
    await add_fakes(hass, world, [evse], [FakeDsmr(evses=[evse])])
    flow = hass.config_entries.flow
    result = await flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await flow.async_configure(result["flow_id"], {"connection": "entities"})
    assert result["step_id"] == "meter_entities"
    result = await flow.async_configure(result["flow_id"], {"current_entities": DSMR})
    assert result["step_id"] == "site"
    result = await flow.async_configure(result["flow_id"], SITE)
    # Nothing to scan: the chargers through Home Assistant are added on the site's page.
    assert result["step_id"] == "fail_safe"
    result = await flow.async_configure(result["flow_id"], {"fail_safe_a": 6, "circuit_a": 0})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"] == {"meter_entities": {"current_entities": DSMR}}
    assert result["result"].unique_id == "entities"
    await hass.async_block_till_done()
    entry = result["result"]
    assert entry.state is ConfigEntryState.LOADED
    await entry.runtime_data.coordinator.stop_ticking()

    second = await flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    second = await flow.async_configure(second["flow_id"], {"connection": "entities"})
    assert second["type"] is FlowResultType.ABORT
    assert second["reason"] == "already_configured"

    # Nothing to move it to: reconfigure says so instead of failing.
    moved = await flow.async_init(
        DOMAIN, context={"source": SOURCE_RECONFIGURE, "entry_id": entry.entry_id}
    )
    assert moved["type"] is FlowResultType.ABORT
    assert moved["reason"] == "no_connection"

    # A Modbus charger can only be at its own network address: no menu of the site's port.
    modbus = await hass.config_entries.subentries.async_init(
        (entry.entry_id, "charger"), context={"source": SOURCE_USER}
    )
    assert modbus["step_id"] == "network"
    await hass.config_entries.async_unload(entry.entry_id)


async def test_the_entity_meter_is_changed_in_the_options(
    hass: HomeAssistant, world: World
) -> None:
    """The same fields and checks as at setup; the site reloads onto the new sensors."""
    evse = FakeEvse(world=world, response_s=0.0, limit_a=6.0)
    spare = FakeDsmr(name="spare", house_a=[20.0, 20.0, 20.0], evses=[evse])
    await add_fakes(hass, world, [evse], [FakeDsmr(evses=[evse]), spare])
    hass.states.async_set("sensor.power", "1200", {"unit_of_measurement": "W"})
    hass.states.async_set("sensor.garbage", "n/a", {"unit_of_measurement": "A"})
    entry = entity_site(evse_subentry())
    coordinator = await setup_site(hass, entry)
    await world.step(coordinator, cycles=15)
    assert evse.limit_a == 16  # 5 A of house on the DSMR reader's phases
    spares = [f"sensor.spare_current_l{phase}" for phase in (1, 2, 3)]
    limits = {
        "breaker_a": 25,
        "margin_a": 1,
        "fail_safe_a": 6,
        "circuit_a": 0,
        "meter_stale_after_s": 3,
        "watchdog_timeout_s": 15,
    }

    options = hass.config_entries.options
    result = await options.async_init(entry.entry_id)
    suggested = {
        str(key): key.description["suggested_value"]
        for key in result["data_schema"].schema
        if key.description and "suggested_value" in key.description
    }
    assert suggested["current_entities"] == DSMR  # the sensors the meter is now

    async def answer(**meter: Any) -> dict[str, Any]:
        return dict(await options.async_configure(result["flow_id"], {**limits, **meter}))

    assert (await answer(current_entities=["sensor.power", *spares[1:]]))["errors"] == {
        "current_entities": "wrong_unit"
    }
    assert (await answer(current_entities=["sensor.garbage", *spares[1:]]))["errors"] == {
        "current_entities": "not_numeric"
    }
    assert (await answer(current_entities=spares[:1]))["errors"] == {
        "current_entities": "entity_count"
    }
    twice = await answer(current_entities=["sensor.evse_current_l1", *spares[1:]])
    assert twice["errors"] == {"base": "entity_used_twice"}  # the charger's own sensor
    assert (await answer())["errors"] == {"base": "meter_entities_required"}

    result = await options.async_configure(
        result["flow_id"], {**limits, "current_entities": spares}
    )
    assert result["step_id"] == "solar"
    result = await options.async_configure(result["flow_id"], {**SOLAR, "solar_source": "none"})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert entry.data["meter_entities"] == {"current_entities": spares}
    assert "current_entities" not in entry.options

    # Reloaded onto the spare sensors: 20 A of house leaves 4 A, below 6 A: the car pauses.
    coordinator = entry.runtime_data.coordinator
    await coordinator.stop_ticking()
    coordinator.clock = FakeClock()
    await world.step(coordinator, cycles=2)
    assert evse.limit_a == 0


async def test_entity_charger_reconfigure_keeps_pause_and_checks_the_mapping(
    hass: HomeAssistant, world: World
) -> None:
    evse = FakeEvse(world=world)
    await add_fakes(hass, world, [evse], [FakeDsmr(evses=[evse])])
    entry = entity_site(evse_subentry(paused=True, max_lowered_a=10))
    await setup_site(hass, entry)
    answers = {k: v for k, v in CHARGER.items() if k != "name"}

    result = await entry.start_subentry_reconfigure_flow(hass, "evse")
    assert result["step_id"] == "reconfigure"
    no_status = {k: v for k, v in answers.items() if k != "status_entity"}
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {**no_status, "max_a": 12}
    )
    assert result["errors"] == {"status_entity": "entity_required"}
    manual = "Charging: charging\nSuspendedEVSE: connected\nAvailable: idle"
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"],
        {
            **{k: v for k, v in answers.items() if k != "current_entities"},
            "status_mapping": "manual",
            "status_manual": manual,
            "max_a": 12,
        },
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    data = entry.subentries["evse"].data
    assert data["status_manual"] == manual
    assert data["max_a"] == 12
    assert "current_entities" not in data  # its sensors removed: the command is assumed
    assert data["paused"] is True  # the homeowner's pause survives the installer's change
    assert "max_lowered_a" not in data  # the new maximum replaces a lowered one
    await hass.async_block_till_done()  # the reload the flow scheduled
    assert entry.state is ConfigEntryState.LOADED


async def start_charger_form(hass: HomeAssistant, world: World) -> tuple[Any, dict[str, Any]]:
    """A site of a DSMR reader and no charger, the Add-charger form of an EVSE's entities."""
    evse = FakeEvse(world=world)
    await add_fakes(hass, world, [evse], [FakeDsmr(evses=[evse])])
    entry = entity_site()
    await setup_site(hass, entry)
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, "entity_charger"), context={"source": SOURCE_USER}
    )
    return entry, dict(result)


async def test_entity_charger_name_must_not_be_empty(hass: HomeAssistant, world: World) -> None:
    _, result = await start_charger_form(hass, world)
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {**CHARGER, "name": "  "}
    )
    assert result["errors"] == {"name": "name_empty"}


async def test_a_status_entity_brings_the_mapping_of_its_integration(
    hass: HomeAssistant, world: World
) -> None:
    # A Peblar's state sensor, registered by Home Assistant's peblar integration: chosen as
    # the status with 'No status entity' left in the mapping, its words are Peblar's.
    peblar = er.async_get(hass).async_get_or_create(
        "sensor", "peblar", "23-45-A1-B2_cp_state", suggested_object_id="peblar_state"
    )
    hass.states.async_set(peblar.entity_id, "charging")
    entry, result = await start_charger_form(hass, world)
    # The test integration's status sensor: no mapping Headroom could take from it.
    unknown = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {**CHARGER, "status_mapping": "none"}
    )
    assert unknown["errors"] == {"status_mapping": "status_mapping_needed"}
    done = await hass.config_entries.subentries.async_configure(
        result["flow_id"],
        {**CHARGER, "status_entity": peblar.entity_id, "status_mapping": "none"},
    )
    assert done["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    (subentry,) = entry.get_subentries_of_type("entity_charger")
    assert subentry.data["status_mapping"] == "peblar"


async def test_fail_safe_suggestion_shares_among_entity_chargers(
    hass: HomeAssistant, world: World
) -> None:
    evse, carport = FakeEvse(world=world), FakeEvse(world=world, name="carport")
    await add_fakes(hass, world, [evse, carport], [FakeDsmr(evses=[evse, carport])])
    entry = entity_site(evse_subentry(), evse_subentry("carport"))
    coordinator = await setup_site(hass, entry)
    await world.step(coordinator, cycles=3)
    result = await hass.config_entries.options.async_init(entry.entry_id)
    # Largest house load seen: 5 A; (25 - 1 - 5) / 2 chargers, rounded down: 9 A.
    assert result["description_placeholders"] == {"suggested": "9", "maximum": "12"}


async def test_options_of_a_site_with_no_meter_offer_no_meter_sensors(
    hass: HomeAssistant, world: World
) -> None:
    """No meter at all (power sharing only): neither the meter's nor backup sensors."""
    evse = FakeEvse(world=world)
    await add_fakes(hass, world, [evse], [])
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Home",
        unique_id="entities",
        data={},
        options=OPTIONS,
        subentries_data=[evse_subentry()],
    )
    await setup_site(hass, entry)
    result = await hass.config_entries.options.async_init(entry.entry_id)
    fields = {str(key) for key in result["data_schema"].schema}
    assert not fields & {"current_entities", "backup_current_entities"}
    limits = {
        "breaker_a": 25,
        "margin_a": 1,
        "fail_safe_a": 6,
        "circuit_a": 0,
        "meter_stale_after_s": 3,
        "watchdog_timeout_s": 15,
    }
    result = await hass.config_entries.options.async_configure(result["flow_id"], limits)
    assert result["step_id"] == "solar"


async def test_the_entity_meter_can_become_power_sensors(hass: HomeAssistant, world: World) -> None:
    """Per-phase power with voltages in the options: stored together, currents dropped."""
    evse = FakeEvse(world=world)
    await add_fakes(hass, world, [evse], [FakeDsmr(evses=[evse])])
    powers = [f"sensor.shelly_power_l{phase}" for phase in (1, 2, 3)]
    voltages = [f"sensor.shelly_voltage_l{phase}" for phase in (1, 2, 3)]
    for power, voltage in zip(powers, voltages, strict=True):
        hass.states.async_set(power, "1.2", {"unit_of_measurement": "kW"})
        hass.states.async_set(voltage, "231", {"unit_of_measurement": "V"})
    entry = entity_site(evse_subentry())
    await setup_site(hass, entry)
    result = await hass.config_entries.options.async_init(entry.entry_id)
    limits = {
        "breaker_a": 25,
        "margin_a": 1,
        "fail_safe_a": 6,
        "circuit_a": 0,
        "meter_stale_after_s": 3,
        "watchdog_timeout_s": 15,
    }
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {**limits, "power_entities": powers, "voltage_entities": voltages}
    )
    assert result["step_id"] == "solar"
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {**SOLAR, "solar_source": "none"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert entry.data["meter_entities"] == {"power_entities": powers, "voltage_entities": voltages}
    meter = entry.runtime_data.coordinator.config.entity_meter
    assert meter is not None
    assert meter.power_entities == tuple(powers)
