"""The control loop in Home Assistant: one cycle of the site every second."""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.const import (
    ATTR_UNIT_OF_MEASUREMENT,
    STATE_UNAVAILABLE,
    STATE_UNKNOWN,
    UnitOfPower,
)
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed
from homeassistant.util import dt as dt_util
from homeassistant.util.unit_conversion import PowerConverter

from .const import (
    CONF_GRID_POWER_ENTITY,
    CONF_HOUSE_POWER_ENTITY,
    CONF_PV_POWER_ENTITY,
    CONF_SOLAR_SOURCE,
    CYCLE_INTERVAL,
    DOMAIN,
    LOGGER,
    SOLAR_SOURCE_GRID,
    SOLAR_SOURCE_NONE,
    SOLAR_SOURCE_PV_HOUSE,
    SUBENTRY_CHARGER,
)
from .devices.errors import ConnectionLost
from .engine.model import SurplusReading
from .settings import ChargerConfig, Problem, ProblemKey, validate, watchdog_timeout_s

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from homeassistant.core import HomeAssistant

    from .devices.identity import DeviceIdentity
    from .site import ChargerStatus, CycleResult, Site


@dataclass(kw_only=True, slots=True)
class HeadroomRuntimeData:
    """What a loaded site keeps while it runs."""

    coordinator: HeadroomCoordinator
    site_device_id: str
    """Device registry id of the site (the balancer): the meter and chargers hang off it."""
    structure: tuple[Any, ...]
    """What needs a reload to change (connection, devices); see `structure()`."""


type HeadroomConfigEntry = ConfigEntry[HeadroomRuntimeData]


def device_identifier(entry_id: str, key: str) -> tuple[str, str]:
    """
    Return the registry identifier of a device of the site.

    `key` is the site's own key for it: `METER_KEY` ("meter") or a charger's subentry id.
    """
    return (DOMAIN, f"{entry_id}_{key}")


def chargers_of(entry: ConfigEntry) -> list[ChargerConfig]:
    """Return the entry's charger subentries as the settings module reads them."""
    return [
        ChargerConfig(charger_id=subentry.subentry_id, data=subentry.data)
        for subentry in entry.get_subentries_of_type(SUBENTRY_CHARGER)
    ]


class HeadroomCoordinator(DataUpdateCoordinator["CycleResult"]):
    """
    Runs `Site.cycle` on a fixed one-second tick and reports what changed only once.

    The tick is its own background task, not Home Assistant's polling: a coordinator is
    only polled while an entity listens, and the breaker needs the loop with every entity
    disabled too. A cycle that overruns makes the next one start late, not a second later.
    """

    config_entry: HeadroomConfigEntry

    def __init__(self, hass: HomeAssistant, entry: HeadroomConfigEntry, site: Site) -> None:
        """Drive `site` for `entry`."""
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
        self._cycles = 0
        self.skipped_cycles = 0
        """Ticks that passed without a cycle because the one before overran them."""
        self._ticking: asyncio.Task[None] | None = None
        self._stopping = False
        self._in_cycle = False
        self._connected = True
        self.problems: tuple[Problem, ...] = ()
        """Why the entry's settings cannot work; while any, every charger is held at 0 A."""
        self._meter_ok = True
        self._fail_safe = False
        self._charger_ok: dict[str, bool] = {}
        self._issues: set[str] = set()
        self._identities: dict[str, DeviceIdentity] = {}
        """The identities already in the device registry, by the site's device key."""
        self.max_house_a = 0.0
        """The largest house load seen on a phase (the fail-safe suggestion uses it)."""

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
        now = self.clock()
        details = self.site.detail_keys(self._cycles) if self._cycles else True
        self._cycles += 1
        result = await self.site.cycle(now, details=details, surplus=self.surplus(now))
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
        next_at = loop.time() + interval_s
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

    def apply_settings(self) -> None:
        """Use the entry's current options and charger settings from the next cycle on."""
        entry = self.config_entry
        problems, settings = validate(entry.data, entry.options, chargers_of(entry))
        if settings is None:
            # The settings in force stay (they are valid, or the 0 A hold).
            self.show_problems(problems)
            LOGGER.error(
                "%s: settings not applied: %s", entry.title, "; ".join(p.detail for p in problems)
            )
            return
        self.site.balancer.settings = settings
        self.site.watchdog_timeout_s = watchdog_timeout_s(entry.options)
        self.show_problems(())
        self.async_update_listeners()

    def show_problems(self, problems: tuple[Problem, ...] | list[Problem]) -> None:
        """Keep one repair issue per kind of settings problem, linked to the options."""
        keys = {problem.key for problem in problems}
        for key in ProblemKey:
            if key not in keys:
                self._clear_issue(key.value)
        for problem in problems:
            placeholders = {"error": problem.detail, **problem.placeholders}
            self._raise_issue(
                problem.key.value,
                translation_key=(
                    problem.key.value
                    if problem.key is ProblemKey.FAIL_SAFE_TOO_HIGH
                    else "invalid_settings"
                ),
                placeholders=placeholders,
                severity=ir.IssueSeverity.ERROR,
            )
        self.problems = tuple(problems)

    def surplus(self, now: float) -> SurplusReading | None:
        """
        Read the PV surplus (positive: exporting) from the Home Assistant entities picked.

        None when no source is configured or a sensor has no usable value; the engine
        then treats solar as unavailable. `at` is when the oldest sensor last reported.
        """
        options = self.config_entry.options
        source = options.get(CONF_SOLAR_SOURCE, SOLAR_SOURCE_NONE)
        if source == SOLAR_SOURCE_GRID:
            grid = self._power_w(options.get(CONF_GRID_POWER_ENTITY))
            if grid is None:
                return None
            return SurplusReading(power_w=-grid[0], at=now - grid[1])
        if source == SOLAR_SOURCE_PV_HOUSE:
            pv = self._power_w(options.get(CONF_PV_POWER_ENTITY))
            house = self._power_w(options.get(CONF_HOUSE_POWER_ENTITY))
            if pv is None or house is None:
                return None
            return SurplusReading(power_w=pv[0] - house[0], at=now - max(pv[1], house[1]))
        return None

    def _power_w(self, entity_id: str | None) -> tuple[float, float] | None:
        """Return an entity's power in W and its age in seconds, None if unusable."""
        state = self.hass.states.get(entity_id) if entity_id else None
        if state is None or state.state in (STATE_UNAVAILABLE, STATE_UNKNOWN):
            return None
        unit = state.attributes.get(ATTR_UNIT_OF_MEASUREMENT)
        if unit not in PowerConverter.VALID_UNITS:
            return None
        try:
            value = float(state.state)
        except ValueError:
            return None
        age_s = (dt_util.utcnow() - state.last_reported).total_seconds()
        return PowerConverter.convert(value, unit, UnitOfPower.WATT), max(age_s, 0.0)

    def release_issues(self) -> None:
        """Delete the repair issues this run raised (the next load raises them again)."""
        for issue_id in self._issues:
            ir.async_delete_issue(self.hass, DOMAIN, issue_id)
        self._issues.clear()

    def _follow(self, result: CycleResult) -> None:
        """Log each device going silent and coming back once, and keep repairs in step."""
        title = self.config_entry.title
        self._follow_identities(result.identities)
        connected = not result.connection_lost
        if connected != self._connected:
            self._connected = connected
            if connected:
                LOGGER.info("%s: the port or gateway works again", title)
            else:
                LOGGER.warning(
                    "%s: the port or gateway stopped working: %s",
                    title,
                    result.meter_error or _first_error(result),
                )
        # Logged once the meter has been silent for the stale time: a few lost answers
        # (a noisy line) are no news.
        if result.meter_fresh != self._meter_ok:
            self._meter_ok = result.meter_fresh
            if result.meter_fresh:
                LOGGER.info("%s: the meter answers again", title)
            else:
                LOGGER.warning("%s: the meter stopped answering: %s", title, result.meter_error)
        fail_safe = result.decision.fail_safe
        if not fail_safe and result.decision.house_a:
            self.max_house_a = max(self.max_house_a, *result.decision.house_a)
        if fail_safe != self._fail_safe:
            self._fail_safe = fail_safe
            if fail_safe:
                LOGGER.warning("%s: meter silent, chargers at the fail-safe current", title)
                self._raise_issue(
                    "meter_silent",
                    translation_key="meter_silent",
                    placeholders={"error": result.meter_error or ""},
                    severity=ir.IssueSeverity.ERROR,
                )
            else:
                self._clear_issue("meter_silent")
        names = {
            subentry.subentry_id: subentry.title
            for subentry in self.config_entry.subentries.values()
        }
        for charger_id, status in result.chargers.items():
            # Chargers are not read while the meter is silent: nothing learned about them.
            if not fail_safe:
                self._follow_charger(names.get(charger_id, charger_id), status)

    def _follow_identities(self, identities: Mapping[str, DeviceIdentity]) -> None:
        """Put firmware versions and serial numbers read from the devices into the registry."""
        registry = dr.async_get(self.hass)
        for key, identity in identities.items():
            if self._identities.get(key) == identity:
                continue
            entry_id = self.config_entry.entry_id
            device = registry.async_get_device_by_identifier(
                device_identifier(entry_id, key), entry_id
            )
            if device is None:
                continue  # its entities are not set up yet: their device info carries it
            registry.async_update_device(
                device.id, sw_version=identity.firmware, serial_number=identity.serial_number
            )
            self._identities[key] = identity

    def _follow_charger(self, name: str, status: ChargerStatus) -> None:
        title = self.config_entry.title
        charger_id = status.charger_id
        if status.available != self._charger_ok.get(charger_id, True):
            self._charger_ok[charger_id] = status.available
            if status.available:
                LOGGER.info("%s: charger %s answers again", title, name)
            else:
                LOGGER.warning("%s: charger %s stopped answering: %s", title, name, status.error)
        if status.watchdog_unsupported:
            self._raise_issue(
                f"no_watchdog_{charger_id}",
                translation_key="no_watchdog",
                placeholders={"charger": name},
                severity=ir.IssueSeverity.WARNING,
            )
        if status.watchdog_error is not None:
            self._raise_issue(
                f"watchdog_settings_{charger_id}",
                translation_key="watchdog_settings",
                placeholders={"charger": name, "error": status.watchdog_error},
                severity=ir.IssueSeverity.ERROR,
            )
        else:
            self._clear_issue(f"watchdog_settings_{charger_id}")

    def _raise_issue(
        self,
        suffix: str,
        *,
        translation_key: str,
        placeholders: dict[str, str],
        severity: ir.IssueSeverity,
    ) -> None:
        issue_id = f"{self.config_entry.entry_id}_{suffix}"
        if issue_id in self._issues:
            return
        self._issues.add(issue_id)
        ir.async_create_issue(
            self.hass,
            DOMAIN,
            issue_id,
            is_fixable=False,
            severity=severity,
            translation_key=translation_key,
            translation_placeholders={"site": self.config_entry.title, **placeholders},
        )

    def _clear_issue(self, suffix: str) -> None:
        issue_id = f"{self.config_entry.entry_id}_{suffix}"
        if issue_id in self._issues:
            self._issues.discard(issue_id)
            ir.async_delete_issue(self.hass, DOMAIN, issue_id)


def _first_error(result: CycleResult) -> str:
    return next((s.error for s in result.chargers.values() if s.error), "")
