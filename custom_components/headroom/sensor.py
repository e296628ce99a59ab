"""
Sensors: the meter's readings, the headroom, the chargers and what limited them.

The chargers' sensors are described in `sensor_charger`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from homeassistant.components.sensor import (
    RestoreSensor,
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import (
    EntityCategory,
    Platform,
    UnitOfElectricCurrent,
    UnitOfElectricPotential,
    UnitOfEnergy,
    UnitOfFrequency,
    UnitOfPower,
    UnitOfTime,
)
from homeassistant.helpers import entity_registry as er

from .const import (
    CONF_METER_ID,
    CONF_METER_MODEL,
    CONF_SOLAR_SOURCE,
    SOLAR_SOURCE_NONE,
)
from .device_info import meter_device_info, site_device_info
from .devices.interfaces import MeterSource
from .devices.registers import get_profile
from .engine.model import Constraint
from .engine_settings import measures_import
from .entity import (
    HeadroomEntity,
    HeadroomMeterEntity,
)
from .entity_config import CONF_BACKUP_METER
from .sensor_charger import add_charger_sensors

if TYPE_CHECKING:
    from collections.abc import Callable

    from homeassistant.core import HomeAssistant
    from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

    from .coordinator import HeadroomConfigEntry
    from .devices.meters import MeterValues
    from .site import CycleResult

# Read-only: the coordinator does the I/O.
PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class SiteSensorDescription(SensorEntityDescription):
    """A sensor of the site, from the cycle result; `phase` for per-phase values."""

    value_fn: Callable[[CycleResult, int], float | str | None]
    phase: int = 0


@dataclass(frozen=True, kw_only=True)
class MeterSensorDescription(SensorEntityDescription):
    """A sensor of the meter; `register` is the canonical name the model must have."""

    value_fn: Callable[[MeterValues], float | None]
    register: str


def _phase_value(values: tuple[float, ...], phase: int) -> float | None:
    return round(values[phase - 1], 2) if phase <= len(values) else None


def _headroom(phase: int) -> SiteSensorDescription:
    return SiteSensorDescription(
        key=f"headroom_l{phase}",
        translation_key="headroom_phase",
        translation_placeholders={"phase": str(phase)},
        native_unit_of_measurement=UnitOfElectricCurrent.AMPERE,
        device_class=SensorDeviceClass.CURRENT,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=1,
        phase=phase,
        value_fn=lambda result, phase: _phase_value(result.decision.headroom_a, phase),
    )


def _house_load(phase: int) -> SiteSensorDescription:
    return SiteSensorDescription(
        key=f"house_load_l{phase}",
        translation_key="house_load_phase",
        translation_placeholders={"phase": str(phase)},
        native_unit_of_measurement=UnitOfElectricCurrent.AMPERE,
        device_class=SensorDeviceClass.CURRENT,
        state_class=SensorStateClass.MEASUREMENT,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        suggested_display_precision=1,
        phase=phase,
        value_fn=lambda result, phase: _phase_value(result.decision.house_a, phase),
    )


SITE_SENSORS: tuple[SiteSensorDescription, ...] = (
    SiteSensorDescription(
        key="available_current",
        translation_key="available_current",
        native_unit_of_measurement=UnitOfElectricCurrent.AMPERE,
        device_class=SensorDeviceClass.CURRENT,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=1,
        value_fn=lambda result, _: round(result.decision.available_a, 2),
    ),
    SiteSensorDescription(
        key="binding_constraint",
        translation_key="binding_constraint",
        device_class=SensorDeviceClass.ENUM,
        options=[constraint.value for constraint in Constraint],
        value_fn=lambda result, _: result.decision.binding.value,
    ),
    SiteSensorDescription(
        key="cycle_duration",
        translation_key="cycle_duration",
        native_unit_of_measurement=UnitOfTime.MILLISECONDS,
        device_class=SensorDeviceClass.DURATION,
        state_class=SensorStateClass.MEASUREMENT,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        suggested_display_precision=0,
        value_fn=lambda result, _: round(result.duration_s * 1000, 1),
    ),
)


def _window_kw(value_w: float | None) -> float | None:
    return round(value_w / 1000.0, 3) if value_w is not None else None


WINDOW_SENSORS: tuple[SiteSensorDescription, ...] = (
    SiteSensorDescription(
        key="peak_window_average",
        translation_key="peak_window_average",
        native_unit_of_measurement=UnitOfPower.KILO_WATT,
        device_class=SensorDeviceClass.POWER,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=2,
        value_fn=lambda result, _: (
            _window_kw(result.window.average_w) if result.window is not None else None
        ),
    ),
    SiteSensorDescription(
        key="peak_window_projected",
        translation_key="peak_window_projected",
        native_unit_of_measurement=UnitOfPower.KILO_WATT,
        device_class=SensorDeviceClass.POWER,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=2,
        value_fn=lambda result, _: (
            _window_kw(result.window.projected_w) if result.window is not None else None
        ),
    ),
)
"""The current import window (capacity tariffs): its average so far and at its end."""
MONTH_PEAK_SENSOR = SensorEntityDescription(
    key="peak_month_max",
    translation_key="peak_month_max",
    native_unit_of_measurement=UnitOfPower.KILO_WATT,
    device_class=SensorDeviceClass.POWER,
    suggested_display_precision=2,
)

SURPLUS_SENSOR = SiteSensorDescription(
    key="pv_surplus",
    translation_key="pv_surplus",
    native_unit_of_measurement=UnitOfPower.WATT,
    device_class=SensorDeviceClass.POWER,
    state_class=SensorStateClass.MEASUREMENT,
    suggested_display_precision=0,
    value_fn=lambda result, _: (
        round(result.snapshot.surplus.power_w, 1) if result.snapshot.surplus else None
    ),
)


def _meter_current(phase: int) -> MeterSensorDescription:
    return MeterSensorDescription(
        key=f"current_l{phase}",
        translation_key="current_phase",
        translation_placeholders={"phase": str(phase)},
        native_unit_of_measurement=UnitOfElectricCurrent.AMPERE,
        device_class=SensorDeviceClass.CURRENT,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=2,
        register=f"current_l{phase}",
        value_fn=lambda reading: reading.currents_a[phase - 1],
    )


def _meter_voltage(phase: int) -> MeterSensorDescription:
    return MeterSensorDescription(
        key=f"voltage_l{phase}",
        translation_key="voltage_phase",
        translation_placeholders={"phase": str(phase)},
        native_unit_of_measurement=UnitOfElectricPotential.VOLT,
        device_class=SensorDeviceClass.VOLTAGE,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=1,
        register=f"voltage_l{phase}",
        value_fn=lambda reading: (reading.voltage_l1_v, reading.voltage_l2_v, reading.voltage_l3_v)[
            phase - 1
        ],
    )


def _meter_power(phase: int) -> MeterSensorDescription:
    return MeterSensorDescription(
        key=f"power_l{phase}",
        translation_key="power_phase",
        translation_placeholders={"phase": str(phase)},
        native_unit_of_measurement=UnitOfPower.WATT,
        device_class=SensorDeviceClass.POWER,
        state_class=SensorStateClass.MEASUREMENT,
        entity_registry_enabled_default=False,
        suggested_display_precision=0,
        register=f"power_l{phase}",
        value_fn=lambda reading: (reading.power_l1_w, reading.power_l2_w, reading.power_l3_w)[
            phase - 1
        ],
    )


METER_SENSORS: tuple[MeterSensorDescription, ...] = (
    MeterSensorDescription(
        key="power_total",
        translation_key="power_total",
        native_unit_of_measurement=UnitOfPower.WATT,
        device_class=SensorDeviceClass.POWER,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=0,
        register="power_total",
        value_fn=lambda reading: reading.power_total_w,
    ),
    MeterSensorDescription(
        key="energy_import",
        translation_key="energy_import",
        native_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        device_class=SensorDeviceClass.ENERGY,
        state_class=SensorStateClass.TOTAL_INCREASING,
        suggested_display_precision=2,
        register="energy_import",
        value_fn=lambda reading: reading.energy_import_kwh,
    ),
    MeterSensorDescription(
        key="energy_export",
        translation_key="energy_export",
        native_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        device_class=SensorDeviceClass.ENERGY,
        state_class=SensorStateClass.TOTAL_INCREASING,
        suggested_display_precision=2,
        register="energy_export",
        value_fn=lambda reading: reading.energy_export_kwh,
    ),
    MeterSensorDescription(
        key="frequency",
        translation_key="frequency",
        native_unit_of_measurement=UnitOfFrequency.HERTZ,
        device_class=SensorDeviceClass.FREQUENCY,
        state_class=SensorStateClass.MEASUREMENT,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        suggested_display_precision=2,
        register="frequency",
        value_fn=lambda reading: reading.frequency_hz,
    ),
)


METER_SOURCE_SENSOR = SiteSensorDescription(
    key="meter_source",
    translation_key="meter_source",
    device_class=SensorDeviceClass.ENUM,
    options=[source.value for source in MeterSource],
    value_fn=lambda result, _: result.meter_source.value if result.meter_source else None,
)
"""Which meter the loop balances on: only with a backup (the meter fallback chain)."""


async def async_setup_entry(
    hass: HomeAssistant,
    entry: HeadroomConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the site's, the meter's and each charger's sensors; remove ones that went."""
    coordinator = entry.runtime_data.coordinator
    phases = coordinator.site.balancer.settings.supply.phases
    site_info = site_device_info(entry)
    site: list[SensorEntity] = [
        HeadroomSiteSensor(entry, description, device_info=site_info)
        for description in (
            *(_headroom(phase) for phase in phases),
            *(_house_load(phase) for phase in phases),
            *SITE_SENSORS,
        )
    ]
    if entry.options.get(CONF_SOLAR_SOURCE, SOLAR_SOURCE_NONE) != SOLAR_SOURCE_NONE:
        site.append(HeadroomSiteSensor(entry, SURPLUS_SENSOR, device_info=site_info))
    if CONF_METER_ID in entry.data and entry.options.get(CONF_BACKUP_METER):
        site.append(HeadroomSiteSensor(entry, METER_SOURCE_SENSOR, device_info=site_info))
    if CONF_METER_ID in entry.data:
        profile = get_profile(entry.data[CONF_METER_MODEL])
        meter_info = meter_device_info(entry)
        meter_descriptions = (
            *(_meter_current(phase) for phase in phases),
            *(_meter_voltage(phase) for phase in phases),
            *(_meter_power(phase) for phase in phases),
            *METER_SENSORS,
        )
        site.extend(
            HeadroomMeterSensor(entry, description, device_info=meter_info)
            for description in meter_descriptions
            if profile.has(description.register)
        )
    if measures_import(entry.data):
        site.extend(
            HeadroomSiteSensor(entry, description, device_info=site_info)
            for description in WINDOW_SENSORS
        )
        site.append(HeadroomMonthPeakSensor(entry, MONTH_PEAK_SENSOR, device_info=site_info))
    async_add_entities(site)
    added: set[str | None] = {entity.unique_id for entity in site}
    added.update(add_charger_sensors(entry, async_add_entities))
    # A solar source removed or a charger rewired to fewer lines: those sensors are gone.
    registry = er.async_get(hass)
    for registered in er.async_entries_for_config_entry(registry, entry.entry_id):
        if registered.domain == Platform.SENSOR and registered.unique_id not in added:
            registry.async_remove(registered.entity_id)


class HeadroomSiteSensor(HeadroomEntity, SensorEntity):
    """A sensor of the site."""

    entity_description: SiteSensorDescription

    @property
    def native_value(self) -> float | str | None:
        """Return the value from the last cycle."""
        description = self.entity_description
        return description.value_fn(self.coordinator.data, description.phase)


class HeadroomMonthPeakSensor(HeadroomEntity, RestoreSensor):
    """
    The month's highest window average import (what a capacity tariff bills).

    Kept across restarts: the value restored is handed to the site's window meter, which
    keeps the month's peak from then on (a new month starts from none).
    """

    async def async_added_to_hass(self) -> None:
        """Give the window meter the peak this sensor showed before the restart."""
        await super().async_added_to_hass()
        last_state = await self.async_get_last_state()
        last = await self.async_get_last_sensor_data()
        month = last_state.attributes.get("month") if last_state is not None else None
        value = last.native_value if last is not None else None
        if isinstance(month, str) and isinstance(value, int | float):
            self.coordinator.site.window_meter.restore(month=month, peak_w=1000.0 * value)

    @property
    def native_value(self) -> float | None:
        """Return the month's highest measured window average in kW."""
        window = self.coordinator.data.window
        return _window_kw(window.month_peak_w) if window is not None else None

    @property
    def extra_state_attributes(self) -> dict[str, str] | None:
        """Return the month the peak belongs to (a new month starts from none)."""
        window = self.coordinator.data.window
        return {"month": window.month} if window is not None else None


class HeadroomMeterSensor(HeadroomMeterEntity, SensorEntity):
    """A sensor of the meter."""

    entity_description: MeterSensorDescription

    @property
    def native_value(self) -> float | None:
        """
        Return the meter's value, one digit finer than it is displayed.

        The meter's float32 values carry noise digits (-2053.646484375 W) that would only
        fill the recorder.
        """
        reading = self.coordinator.data.meter
        value = self.entity_description.value_fn(reading) if reading is not None else None
        precision = self.entity_description.suggested_display_precision
        return value if value is None or precision is None else round(value, precision + 1)
