"""The control loop in Home Assistant: one cycle of the site every second."""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed
from homeassistant.util import dt as dt_util

from .const import CYCLE_INTERVAL, DOMAIN, LOGGER, SUBENTRY_CHARGER
from .device_info import record_identities
from .devices.errors import ConnectionLost
from .engine_settings import ChargerConfig
from .entity_config import SUBENTRY_ENTITY_CHARGER
from .repairs import Repairs, SiteHealth
from .surplus import read_surplus

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from homeassistant.core import HomeAssistant

    from .devices.identity import DeviceIdentity
    from .rules import Problem
    from .settings import SiteConfig
    from .site import CycleResult, Site


@dataclass(kw_only=True, slots=True)
class HeadroomRuntimeData:
    """What a loaded site keeps while it runs."""

    coordinator: HeadroomCoordinator
    site_device_id: str
    """Device registry id of the site (the balancer): the meter and chargers hang off it."""
    structure: tuple[Any, ...]
    """What needs a reload to change (connection, devices); see `structure()`."""


type HeadroomConfigEntry = ConfigEntry[HeadroomRuntimeData]


def chargers_of(entry: ConfigEntry) -> list[ChargerConfig]:
    """Return the entry's charger subentries as the settings module reads them."""
    return [
        ChargerConfig(charger_id=subentry.subentry_id, data=subentry.data)
        for kind in (SUBENTRY_CHARGER, SUBENTRY_ENTITY_CHARGER)
        for subentry in entry.get_subentries_of_type(kind)
    ]


class HeadroomCoordinator(DataUpdateCoordinator["CycleResult"]):
    """
    Runs `Site.cycle` on a fixed one-second tick and hands out each cycle's result.

    The tick is its own background task, not Home Assistant's polling: a coordinator is
    only polled while an entity listens, and the breaker needs the loop with every entity
    disabled too. A cycle that overruns makes the next one start late, not a second later.
    What the user is told about the site's health is `health`'s and `repairs`' job.
    """

    config_entry: HeadroomConfigEntry

    def __init__(
        self, hass: HomeAssistant, entry: HeadroomConfigEntry, site: Site, config: SiteConfig
    ) -> None:
        """Drive `site` for `entry`, as `config` (the entry parsed) says."""
        super().__init__(
            hass,
            LOGGER,
            config_entry=entry,
            name=f"{DOMAIN} {entry.title}",
            update_interval=None,
        )
        self.site = site
        self.clock: Callable[[], float] = time.monotonic
        """Monotonic seconds for the engine (tests step it instead of the wall clock)."""
        self.wall_clock: Callable[[], float] = _local_wall_s
        """Local wall-clock seconds: where the import windows (:00, :15, ...) begin."""
        self.repairs = Repairs(hass, entry.entry_id, entry.title)
        self.health = SiteHealth(self.repairs, entry.title)
        self.config = config
        """The entry as last parsed (its settings are in force unless it has problems)."""
        self.problems: tuple[Problem, ...] = ()
        """Why the entry's settings cannot work; while any, every charger is held at 0 A."""
        self.show_problems(config.problems)
        self.skipped_cycles = 0
        """Ticks that passed without a cycle because the one before overran them."""
        self.max_house_a = 0.0
        """The largest house load seen on a phase (the fail-safe suggestion uses it)."""
        self._cycles = 0
        self._ticking: asyncio.Task[None] | None = None
        self._stopping = False
        self._in_cycle = False
        self._last_cycle_at: float | None = None
        """When the last cycle started, on the event loop's clock."""
        self._identities: dict[str, DeviceIdentity] = {}
        """The identities already in the device registry, by the site's device key."""

    async def _async_setup(self) -> None:
        """Open the ports and gateways: a missing port keeps the entry from loading."""
        try:
            await self.site.connect()
        except ConnectionLost as err:
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key="cannot_connect",
                translation_placeholders={"error": str(err)},
            ) from err

    async def _async_update_data(self) -> CycleResult:
        """Run one cycle. A port that is gone fails no update: the site's entities tell it."""
        self._last_cycle_at = asyncio.get_running_loop().time()
        now = self.clock()
        full = self.site.full_read_keys(self._cycles) if self._cycles else True
        self._cycles += 1
        surplus = read_surplus(self.hass, self.config_entry.options, now)
        result = await self.site.cycle(now, full=full, surplus=surplus, wall_s=self.wall_clock())
        self._follow(result)
        return result

    def start_ticking(self) -> None:
        """Run a cycle every second from now on, until the entry unloads."""
        if self.hass.is_stopping:
            return  # set up while Home Assistant stops (a reload): nothing left to run
        self._ticking = self.config_entry.async_create_background_task(
            self.hass, self._tick(), f"{DOMAIN} {self.config_entry.title} control loop"
        )

    async def stop_ticking(self) -> None:
        """
        Stop the tick (on unload, and in tests that step the loop themselves).

        A cycle under way finishes first: cancelled halfway, it could leave a request on
        the bus without its answer.
        """
        task, self._ticking = self._ticking, None
        if task is None:
            return
        self._stopping = True
        if not self._in_cycle:
            task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        self._stopping = False

    async def _tick(self) -> None:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        interval_s = CYCLE_INTERVAL.total_seconds()
        # One second after the last cycle (setup's first one), not after the tick started.
        next_at = (self._last_cycle_at or loop.time()) + interval_s
        while True:
            await asyncio.sleep(max(0.0, next_at - loop.time()))
            self._in_cycle = True
            try:
                await self.async_refresh()
            finally:
                self._in_cycle = False
            # A cancellation (Home Assistant stopping) that arrived during the cycle may
            # have been taken for a timeout on the way: it still ends the loop.
            if self._stopping or (task is not None and task.cancelling()):
                return
            next_at += interval_s
            behind_s = loop.time() - next_at
            if behind_s >= interval_s:
                # Whole ticks went by during the cycle: skip them, run the next one now.
                missed = math.floor(behind_s / interval_s)
                self.skipped_cycles += missed
                next_at += missed * interval_s

    def apply_settings(self, config: SiteConfig) -> None:
        """Use `config` (the entry's options and chargers, parsed anew) from the next cycle on."""
        self.config = config
        if config.problems:
            # The settings in force stay (they are valid, or the 0 A hold).
            self.show_problems(config.problems)
            LOGGER.error(
                "%s: settings not applied: %s",
                self.config_entry.title,
                "; ".join(p.detail for p in config.problems),
            )
            return
        self.site.balancer.settings = config.settings
        self.site.watchdog_timeout_s = config.watchdog_timeout_s
        self.site.window_meter.resize(config.peak_window_s)
        self.show_problems(())
        self.async_update_listeners()

    def show_problems(self, problems: Iterable[Problem]) -> None:
        """Say why the settings cannot work (nothing: they can), as repairs and entities."""
        self.problems = tuple(problems)
        self.repairs.show_problems(self.problems)

    def _follow(self, result: CycleResult) -> None:
        """Keep the repairs, the logs, the registry and the largest house load in step."""
        names = {sub.subentry_id: sub.title for sub in self.config_entry.subentries.values()}
        self.health.follow(result, names)
        record_identities(
            self.hass, self.config_entry.entry_id, result.identities, self._identities
        )
        if not result.decision.fail_safe and result.decision.house_a:
            self.max_house_a = max(self.max_house_a, *result.decision.house_a)


def _local_wall_s() -> float:
    """Return Home Assistant's local time as seconds (utilities meter windows locally)."""
    now = dt_util.now()
    offset = now.utcoffset()
    return now.timestamp() + (offset.total_seconds() if offset is not None else 0.0)
