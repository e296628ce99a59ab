"""
The form fields and checks of a meter made of Home Assistant sensors.

Shared by the setup flow (the site's meter) and the options flow (backup sensors of a
Modbus meter, the fallback chain): current sensors per phase, or power sensors per phase
with voltage sensors or the nominal voltage. Selectors offer sensors of the right device
class; the checks read the live states (`entity_checks`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

import probatio
from homeassistant.components.sensor import SensorDeviceClass
from homeassistant.helpers.selector import EntitySelector, EntitySelectorConfig
from homeassistant.util.unit_conversion import (
    ElectricCurrentConverter,
    ElectricPotentialConverter,
    PowerConverter,
)

from .entity_checks import sensor_problems
from .entity_config import (
    CONF_CURRENT_ENTITIES,
    CONF_POWER_ENTITIES,
    CONF_VOLTAGE_ENTITIES,
    used_twice,
)
from .rules import ProblemKey

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from homeassistant.core import HomeAssistant

BACKUP_PREFIX: Final = "backup_"
"""The options form names the backup's fields `backup_current_entities` and so on."""
_KINDS: Final = (
    (CONF_CURRENT_ENTITIES, SensorDeviceClass.CURRENT, ElectricCurrentConverter),
    (CONF_POWER_ENTITIES, SensorDeviceClass.POWER, PowerConverter),
    (CONF_VOLTAGE_ENTITIES, SensorDeviceClass.VOLTAGE, ElectricPotentialConverter),
)


def meter_entity_fields(prefix: str = "") -> dict[Any, Any]:
    """Return the optional fields: current, power and voltage sensors, several each."""
    return {
        probatio.Optional(f"{prefix}{key}"): EntitySelector(
            EntitySelectorConfig(domain="sensor", device_class=device_class, multiple=True)
        )
        for key, device_class, _ in _KINDS
    }


def meter_entities_data(user_input: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Return the sensors picked, as stored (empty when none)."""
    data = {
        key: list(user_input[f"{prefix}{key}"])
        for key, _, _ in _KINDS
        if user_input.get(f"{prefix}{key}")
    }
    if CONF_CURRENT_ENTITIES in data or CONF_POWER_ENTITIES not in data:
        # Currents win; voltages serve power sensors only.
        data.pop(CONF_POWER_ENTITIES, None)
        data.pop(CONF_VOLTAGE_ENTITIES, None)
    return data if CONF_CURRENT_ENTITIES in data or CONF_POWER_ENTITIES in data else {}


def meter_entities_errors(
    hass: HomeAssistant,
    user_input: Mapping[str, Any],
    *,
    prefix: str = "",
    phases: int | None,
    others: Iterable[Iterable[str]] = (),
) -> dict[str, str]:
    """
    Check the sensors: the right unit, numbers, one per phase, none used elsewhere.

    `phases` is the supply's phase count where known (1 to 3 otherwise); `others` are the
    entities the site uses already.
    """
    data = meter_entities_data(user_input, prefix)
    errors: dict[str, str] = {}
    for key, _, converter in _KINDS:
        entities = data.get(key, [])
        problems = sensor_problems(hass, entities, converter, field=f"{prefix}{key}")
        if problems:
            errors[f"{prefix}{key}"] = problems[0].key.value
        elif entities and (
            len(entities) != phases if phases is not None else len(entities) > 3  # noqa: PLR2004
        ):
            errors[f"{prefix}{key}"] = ProblemKey.ENTITY_COUNT.value
    if not errors:
        groups = [tuple(entities) for entities in data.values()]
        if used_twice([*groups, *(tuple(group) for group in others)]):
            errors["base"] = ProblemKey.ENTITY_USED_TWICE.value
    return errors
