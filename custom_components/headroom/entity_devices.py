"""Build the meter, backup meter and chargers of a site that are Home Assistant entities."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .entity_charger import EntityCharger
from .entity_meter import EntityMeter

if TYPE_CHECKING:
    from collections.abc import Callable

    from homeassistant.core import HomeAssistant

    from .engine import Balancer
    from .entity_config import EntityMeterConfig
    from .settings import SiteConfig


@dataclass(frozen=True, slots=True, kw_only=True)
class EntityDevices:
    """The devices of a site that entities stand for."""

    meter: EntityMeter | None = None
    backup_meter: EntityMeter | None = None
    chargers: dict[str, EntityCharger] = field(default_factory=dict)


def entity_devices(
    hass: HomeAssistant, config: SiteConfig, balancer: Balancer, *, clock: Callable[[], float]
) -> EntityDevices:
    """
    Build the entity devices of `config`.

    They follow `balancer`'s settings as they change (nominal voltage, stale time); `clock`
    is the loop's clock (the chargers' minimum time between writes runs on it).
    """

    def voltage_v() -> float:
        return balancer.settings.voltage_v

    def stale_after_s() -> float:
        return balancer.settings.timing.meter_stale_after_s

    phases = len(config.settings.supply.phases)

    def meter(entities: EntityMeterConfig | None) -> EntityMeter | None:
        if entities is None:
            return None
        return EntityMeter(
            hass,
            entities,
            phases=phases,
            voltage_v=voltage_v,
            stale_after_s=stale_after_s,
        )

    return EntityDevices(
        meter=meter(config.entity_meter),
        backup_meter=meter(config.backup_meter),
        chargers={
            charger_id: EntityCharger(
                hass,
                charger,
                max_limit_a=charger.max_limit_a,
                clock=clock,
            )
            for charger_id, charger in config.entity_chargers.items()
        },
    )
