"""
Headroom's own entities of a charger controlled through Home Assistant.

The homeowner sees and sets an entity charger as a Modbus one: its state, setpoint, what
limited it and its line currents or power; its maximum, priority and pause. They sit on a
Headroom device that hangs off the site, never on the device of the integration that owns
the charger's entities.
"""

from __future__ import annotations

from typing import Any

import pytest
from homeassistant.config_entries import ConfigSubentryData
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er

from custom_components.headroom.const import DOMAIN
from tests.integration.fake_devices import FakeDsmr, FakeEvse, World, add_fakes
from tests.integration.helpers import ENTRY_ID, setup_site
from tests.integration.test_entity_devices import entity_site, evse_subentry


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> World:
    return World(monkeypatch)


def driveway(**extra: Any) -> ConfigSubentryData:
    """The fake EVSE's entity charger, titled apart from the fake's own entities."""
    return ConfigSubentryData(**{**evse_subentry(**extra), "title": "Driveway"})


async def test_entity_charger_has_headroom_entities_on_its_own_device(
    hass: HomeAssistant, world: World
) -> None:
    evse = FakeEvse(world=world, response_s=0.0, limit_a=6.0)
    dsmr = FakeDsmr(house_a=[15.0, 5.0, 5.0], evses=[evse])
    await add_fakes(hass, world, [evse], [dsmr])
    coordinator = await setup_site(hass, entity_site(driveway()))
    await world.step(coordinator, cycles=15)

    # 25 A - 1 A margin - 15 A on L1: 9 A for the car, the main breaker limits it.
    assert evse.limit_a == 9
    assert hass.states.get("sensor.driveway_state").state == "charging"
    assert hass.states.get("sensor.driveway_setpoint").state == "9"
    assert hass.states.get("sensor.driveway_limited_by").state == "breaker"
    for line in (1, 2, 3):
        assert hass.states.get(f"sensor.driveway_current_line_{line}").state == "9.0"
    # Line currents from sensors: no power sensor was given, so no power entity.
    assert hass.states.get("sensor.driveway_power") is None
    assert hass.states.get("number.driveway_maximum_current").attributes["max"] == 16

    entities = er.async_get(hass)
    devices = dr.async_get(hass)
    setpoint = entities.async_get("sensor.driveway_setpoint")
    assert setpoint is not None
    assert setpoint.config_subentry_id == "evse"
    device = devices.async_get(setpoint.device_id or "")
    assert device is not None
    assert device.identifiers == {(DOMAIN, f"{ENTRY_ID}_evse")}
    assert (device.manufacturer, device.model) == ("Headroom", "Charger through Home Assistant")
    site = devices.async_get_device_by_identifier((DOMAIN, ENTRY_ID), ENTRY_ID)
    assert site is not None
    assert device.via_device_id == site.id
    # The fake integration's own limit entity is left where it was.
    limit = entities.async_get("number.evse_limit")
    assert limit is not None
    assert limit.device_id != device.id

    await hass.services.async_call(
        "number",
        "set_value",
        {"entity_id": "number.driveway_maximum_current", "value": 7},
        blocking=True,
    )
    await world.step(coordinator)
    assert evse.limit_a == 7
    assert hass.states.get("sensor.driveway_limited_by").state == "charger_max"

    await hass.services.async_call(
        "switch", "turn_on", {"entity_id": "switch.driveway_pause"}, blocking=True
    )
    await world.step(coordinator)
    assert evse.limit_a == 0  # the number's minimum: how this charger pauses
    assert hass.states.get("switch.driveway_pause").state == "on"
    assert hass.states.get("sensor.driveway_limited_by").state == "mode_off"

    await hass.services.async_call(
        "number", "set_value", {"entity_id": "number.driveway_priority", "value": 3}, blocking=True
    )
    assert coordinator.site.balancer.settings.chargers[0].priority == 3


async def test_entity_charger_with_a_power_sensor_shows_power_not_line_currents(
    hass: HomeAssistant, world: World
) -> None:
    evse = FakeEvse(world=world, response_s=0.0)
    await add_fakes(hass, world, [evse], [FakeDsmr(evses=[evse])])
    hass.states.async_set("sensor.wallbox_power", "3.45", {"unit_of_measurement": "kW"})
    charger = driveway(current_entities=[], power_entity="sensor.wallbox_power")
    coordinator = await setup_site(hass, entity_site(charger))
    await world.step(coordinator, cycles=2)

    assert hass.states.get("sensor.driveway_power").state == "3450.0"
    assert hass.states.get("sensor.driveway_current_line_1") is None
    assert hass.states.get("sensor.driveway_state").state == "charging"
