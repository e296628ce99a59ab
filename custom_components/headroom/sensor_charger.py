"""
Sensors of each charger: its state, setpoint, what limited it, line currents, power, energy.

A Modbus charger has the sensors its model's register map can fill; a charger controlled
through Home Assistant (`entity_charger`) has those its entities give: state, setpoint and
reason always, line currents with current sensors, power with a power sensor.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import (
    EntityCategory,
    UnitOfElectricCurrent,
    UnitOfEnergy,
    UnitOfPower,
    UnitOfTemperature,
)

from .const import CONF_MODEL, CONF_PHASES, SUBENTRY_CHARGER
from .devices.registers import get_profile
from .engine.model import ChargerState, Constraint
from .entity import HeadroomChargerEntity
from .entity_config import (
    CONF_CURRENT_ENTITIES,
    CONF_POWER_ENTITY,
    SUBENTRY_ENTITY_CHARGER,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any

    from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

    from .coordinator import HeadroomConfigEntry
    from .devices.chargers import ChargerValues
    from .site import ChargerStatus

CHARGER_STATES = {
    ChargerState.A: "no_vehicle",
    ChargerState.B: "connected",
    ChargerState.C: "charging",
    ChargerState.D: "charging_ventilated",
    ChargerState.E: "error",
    ChargerState.F: "unavailable",
}
"""IEC 61851 control-pilot states in words."""
DERATING = "derating"
"""Charging, with the charger lowering its current itself for heat (Heidelberg state 8)."""


def _charger_state(status: ChargerStatus) -> str | None:
    reading = status.reading
    if reading is None:
        return None
    return DERATING if reading.derating else CHARGER_STATES[ChargerState(reading.state.value)]


@dataclass(frozen=True, kw_only=True)
class ChargerSensorDescription(SensorEntityDescription):
    """
    A sensor of a charger; `has_fn` tells whether the charger has it.

    `has_fn` gets a test of canonical register names (`current_l1`, `power_total`...): a
    Modbus charger's model's, or what an entity charger's entities stand for.
    """

    value_fn: Callable[[ChargerStatus], float | str | None]
    has_fn: Callable[[Callable[[str], bool]], bool] = lambda _: True


def _reading_value(
    value_fn: Callable[[ChargerValues], float | None],
) -> Callable[[ChargerStatus], float | None]:
    return lambda status: value_fn(status.reading) if status.reading is not None else None


def _charger_current(line: int) -> ChargerSensorDescription:
    return ChargerSensorDescription(
        key=f"current_l{line}",
        translation_key="charger_current_line",
        translation_placeholders={"line": str(line)},
        native_unit_of_measurement=UnitOfElectricCurrent.AMPERE,
        device_class=SensorDeviceClass.CURRENT,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=1,
        has_fn=lambda has: has(f"current_l{line}"),
        value_fn=_reading_value(lambda reading: reading.currents_a[line - 1]),
    )


CHARGER_SENSORS: tuple[ChargerSensorDescription, ...] = (
    ChargerSensorDescription(
        key="state",
        translation_key="charger_state",
        device_class=SensorDeviceClass.ENUM,
        options=[*CHARGER_STATES.values(), DERATING],
        value_fn=_charger_state,
    ),
    ChargerSensorDescription(
        key="setpoint",
        translation_key="setpoint",
        native_unit_of_measurement=UnitOfElectricCurrent.AMPERE,
        device_class=SensorDeviceClass.CURRENT,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=0,
        value_fn=lambda status: status.setpoint_a,
    ),
    ChargerSensorDescription(
        key="reason",
        translation_key="charger_reason",
        device_class=SensorDeviceClass.ENUM,
        options=[constraint.value for constraint in Constraint],
        value_fn=lambda status: status.reason.value if status.reason is not None else None,
    ),
    ChargerSensorDescription(
        key="power",
        translation_key="charger_power",
        native_unit_of_measurement=UnitOfPower.WATT,
        device_class=SensorDeviceClass.POWER,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=0,
        has_fn=lambda has: has("power_total"),
        value_fn=_reading_value(lambda reading: reading.power_w),
    ),
    ChargerSensorDescription(
        key="session_energy",
        translation_key="session_energy",
        native_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        device_class=SensorDeviceClass.ENERGY,
        state_class=SensorStateClass.TOTAL_INCREASING,
        suggested_display_precision=2,
        has_fn=lambda has: has("energy_session"),
        value_fn=_reading_value(lambda reading: reading.energy_session_kwh),
    ),
    ChargerSensorDescription(
        key="temperature",
        translation_key="charger_temperature",
        native_unit_of_measurement=UnitOfTemperature.CELSIUS,
        device_class=SensorDeviceClass.TEMPERATURE,
        state_class=SensorStateClass.MEASUREMENT,
        entity_category=EntityCategory.DIAGNOSTIC,
        suggested_display_precision=1,
        has_fn=lambda has: has("temperature"),
        value_fn=_reading_value(lambda reading: reading.temperature_c),
    ),
    ChargerSensorDescription(
        key="energy_total",
        translation_key="charger_energy_total",
        native_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        device_class=SensorDeviceClass.ENERGY,
        state_class=SensorStateClass.TOTAL_INCREASING,
        suggested_display_precision=2,
        has_fn=lambda has: has("energy_total"),
        value_fn=_reading_value(lambda reading: reading.energy_total_kwh),
    ),
)


def entity_charger_has(data: Mapping[str, Any]) -> Callable[[str], bool]:
    """
    Return what an entity charger's sensors measure, in register names.

    Line currents only from current sensors (from a power sensor they are the power spread
    evenly, no measurement of a line); power only from a power sensor.
    """
    lines = len(data.get(CONF_CURRENT_ENTITIES) or ())
    measured = {f"current_l{line}" for line in range(1, lines + 1)}
    if data.get(CONF_POWER_ENTITY) and not lines:
        measured.add("power_total")
    return measured.__contains__


def add_charger_sensors(
    entry: HeadroomConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
) -> set[str | None]:
    """Add each charger's sensors (Modbus and entity chargers); return their unique ids."""
    added: set[str | None] = set()
    for kind in (SUBENTRY_CHARGER, SUBENTRY_ENTITY_CHARGER):
        for subentry in entry.get_subentries_of_type(kind):
            has = (
                get_profile(subentry.data[CONF_MODEL]).has
                if kind == SUBENTRY_CHARGER
                else entity_charger_has(subentry.data)
            )
            lines = len(subentry.data[CONF_PHASES])
            descriptions = (
                *CHARGER_SENSORS[:1],
                *(_charger_current(line) for line in range(1, lines + 1)),
                *CHARGER_SENSORS[1:],
            )
            chargers = [
                HeadroomChargerSensor(entry, subentry, description)
                for description in descriptions
                if description.has_fn(has)
            ]
            async_add_entities(chargers, config_subentry_id=subentry.subentry_id)
            added.update(entity.unique_id for entity in chargers)
    return added


class HeadroomChargerSensor(HeadroomChargerEntity, SensorEntity):
    """A sensor of a charger."""

    entity_description: ChargerSensorDescription

    @property
    def available(self) -> bool:
        """Return whether the charger answered the last cycle (the setpoint is ours)."""
        status = self.status
        if self.entity_description.key == "setpoint":
            return super().available and status is not None
        return super().available and status is not None and status.available

    @property
    def native_value(self) -> float | str | None:
        """Return the value from the last cycle."""
        status = self.status
        return self.entity_description.value_fn(status) if status is not None else None
