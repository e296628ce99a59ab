"""
A charger another integration controls, filled in from its device (`entity_presets`).

The presets name entities by the translation keys Home Assistant's own integrations give
them; the first test checks those keys against each integration as it ships (the version
the tests run on). The flow tests register a Peblar's device and entities as Home
Assistant's peblar integration does (platform, device, translation keys) with live states.
"""

from __future__ import annotations

from typing import Any

import pytest
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.headroom.entity_presets import PRESETS, preset_answers
from tests.integration.fake_devices import World
from tests.integration.test_entity_flows import CHARGER, form_defaults, start_charger_form
from tests.integration.test_status_mappings import entity_strings

PEBLAR_ENTITIES = {
    ("number", "charge_current_limit"): (
        "12",
        {"min": 6, "max": 16, "step": 1, "unit_of_measurement": "A"},
    ),
    ("switch", "charge"): ("on", {}),
    ("sensor", "cp_state"): ("charging", {}),
    **{
        ("sensor", f"current_phase_{n}"): (
            "12.1",
            {"unit_of_measurement": "A", "device_class": "current"},
        )
        for n in (1, 2, 3)
    },
    ("sensor", "power_total"): ("8300", {"unit_of_measurement": "W", "device_class": "power"}),
}


@pytest.mark.parametrize("platform", sorted(PRESETS))
def test_every_preset_names_entities_the_integration_has(platform: str) -> None:
    strings = entity_strings(platform)
    preset = PRESETS[platform]
    assert preset.limit in strings["number"]
    assert preset.pause_switch is None or preset.pause_switch in strings["switch"]
    for key in (preset.status, *preset.currents, preset.power):
        assert key is None or key in strings["sensor"]


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> World:
    return World(monkeypatch)


def register(
    hass: HomeAssistant,
    platform: str,
    entities: dict[tuple[str, str], tuple[str, dict[str, Any]]],
    *,
    name: str,
    disabled: tuple[str, ...] = (),
) -> str:
    """Register a device and its entities as `platform`'s integration does; return it."""
    config = MockConfigEntry(domain=platform, title=name)
    config.add_to_hass(hass)
    device = dr.async_get(hass).async_get_or_create(
        config_entry_id=config.entry_id, identifiers={(platform, "23-45")}, name=name
    )
    registry = er.async_get(hass)
    for (domain, key), (state, attributes) in entities.items():
        entry = registry.async_get_or_create(
            domain,
            platform,
            f"23-45_{key}",
            config_entry=config,
            device_id=device.id,
            translation_key=key,
            suggested_object_id=f"{platform}_{key}",
            disabled_by=er.RegistryEntryDisabler.INTEGRATION if key in disabled else None,
        )
        if key not in disabled:
            hass.states.async_set(entry.entity_id, state, attributes)
    return device.id


def register_peblar(hass: HomeAssistant, *, disabled: tuple[str, ...] = ()) -> str:
    """A Peblar as Home Assistant's peblar integration registers it."""
    return register(hass, "peblar", PEBLAR_ENTITIES, name="Peblar EV", disabled=disabled)


async def test_a_peblar_device_fills_in_the_charger_form(hass: HomeAssistant, world: World) -> None:
    device_id = register_peblar(hass)
    entry, result = await start_charger_form(hass, world)
    assert result["step_id"] == "device"
    form = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"device": device_id}
    )
    assert form["step_id"] == "user"
    shown = form_defaults(form)
    assert shown["name"] == "Peblar EV"
    assert shown["limit_entity"] == "number.peblar_charge_current_limit"
    assert (shown["pause"], shown["pause_entity"]) == ("switch", "switch.peblar_charge")
    assert (shown["status_entity"], shown["status_mapping"]) == (
        "sensor.peblar_cp_state",
        "peblar",
    )
    assert shown["current_entities"] == [f"sensor.peblar_current_phase_{n}" for n in (1, 2, 3)]
    assert "power_entity" not in shown  # the line currents are there
    # What was filled in passes the form's checks as it is.
    answers = {k: v for k, v in CHARGER.items() if k not in shown} | shown
    done = await hass.config_entries.subentries.async_configure(form["flow_id"], answers)
    assert done["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    (subentry,) = entry.get_subentries_of_type("entity_charger")
    assert subentry.title == "Peblar EV"
    assert subentry.data["pause_entity"] == "switch.peblar_charge"


async def test_no_device_leaves_the_form_empty(hass: HomeAssistant, world: World) -> None:
    register_peblar(hass)
    _, result = await start_charger_form(hass, world)
    form = await hass.config_entries.subentries.async_configure(result["flow_id"], {})
    assert form["step_id"] == "user"
    shown = form_defaults(form)
    assert shown["name"] == ""
    assert "limit_entity" not in shown


async def test_a_disabled_entity_is_not_filled_in(hass: HomeAssistant) -> None:
    # A status sensor the integration leaves off (BESEN's is a diagnostic one) has no state.
    device_id = register_peblar(hass, disabled=("cp_state",))
    answers = preset_answers(hass, device_id)
    assert "status_entity" not in answers
    assert answers["limit_entity"] == "number.peblar_charge_current_limit"
    assert preset_answers(hass, "no-such-device") == {}


async def test_without_line_currents_the_power_sensor_is_filled_in(hass: HomeAssistant) -> None:
    # A Tesla through Teslemetry: the car's charger power, and the cloud API's slow timing.
    entities = {
        ("number", "charge_state_charge_current_request"): ("16", {"min": 0, "max": 32}),
        ("switch", "charge_state_charging_state"): ("on", {}),
        ("sensor", "charge_state_charging_state"): ("charging", {}),
        ("sensor", "charge_state_charger_power"): ("11", {"unit_of_measurement": "kW"}),
    }
    device_id = register(hass, "teslemetry", entities, name="Model Y")
    answers = preset_answers(hass, device_id)
    assert answers["power_entity"] == "sensor.teslemetry_charge_state_charger_power"
    assert "current_entities" not in answers
    assert answers["status_mapping"] == "tesla"
    assert (answers["response_s"], answers["min_write_interval_s"]) == (30.0, 30.0)
    # Only what the device has is filled in (a TechnoVE whose number and switch are off).
    technove = register(hass, "technove", {("sensor", "status"): ("unplugged", {})}, name="T")
    assert preset_answers(hass, technove) == {
        "name": "T",
        "status_entity": "sensor.technove_status",
        "status_mapping": "technove",
    }
    # A device of an integration without a preset brings nothing.
    other = register(hass, "esphome", {("sensor", "status"): ("on", {})}, name="Garage door")
    assert preset_answers(hass, other) == {}
