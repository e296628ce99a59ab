"""
What the site tells the user about its health: repair issues and one log line per change.

`SiteHealth.follow(result)` after each cycle: a device going silent and coming back is logged
once each way, the fail-safe raises and clears its repair, a charger without a watchdog,
with watchdog settings it refused, or whose own fail-safe current (set in its app, read
back when arming) is above the one Headroom asked for gets one; `show_problems` keeps one
repair per kind of settings problem. Every issue this site raised goes with `release()` (unload).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from homeassistant.helpers import issue_registry as ir

from .const import DOMAIN, LOGGER
from .devices.interfaces import MeterSource
from .rules import Problem, ProblemKey

if TYPE_CHECKING:
    from collections.abc import Iterable

    from homeassistant.core import HomeAssistant

    from .site import ChargerStatus, CycleResult


class Repairs:
    """The repair issues of one site: each raised once, cleared once."""

    def __init__(self, hass: HomeAssistant, entry_id: str, site: str) -> None:
        """Keep the issues of the entry `entry_id`, whose site is called `site`."""
        self._hass = hass
        self._entry_id = entry_id
        self._site = site
        self._raised: set[str] = set()

    def raise_issue(
        self,
        suffix: str,
        *,
        translation_key: str,
        placeholders: dict[str, str],
        severity: ir.IssueSeverity,
    ) -> None:
        """Raise the issue `suffix` unless it is up already."""
        issue_id = f"{self._entry_id}_{suffix}"
        if issue_id in self._raised:
            return
        self._raised.add(issue_id)
        ir.async_create_issue(
            self._hass,
            DOMAIN,
            issue_id,
            is_fixable=False,
            severity=severity,
            translation_key=translation_key,
            translation_placeholders={"site": self._site, **placeholders},
        )

    def clear_issue(self, suffix: str) -> None:
        """Delete the issue `suffix` if this site raised it."""
        issue_id = f"{self._entry_id}_{suffix}"
        if issue_id in self._raised:
            self._raised.discard(issue_id)
            ir.async_delete_issue(self._hass, DOMAIN, issue_id)

    def release(self) -> None:
        """Delete every issue this run raised (the next load raises them again)."""
        for issue_id in self._raised:
            ir.async_delete_issue(self._hass, DOMAIN, issue_id)
        self._raised.clear()

    def show_problems(self, problems: Iterable[Problem]) -> None:
        """Keep one repair issue per kind of settings problem, linked to the options."""
        problems = list(problems)
        keys = {problem.key for problem in problems}
        for key in ProblemKey:
            if key not in keys:
                self.clear_issue(key.value)
        for problem in problems:
            self.raise_issue(
                problem.key.value,
                translation_key=(
                    problem.key.value
                    if problem.key is ProblemKey.FAIL_SAFE_TOO_HIGH
                    else "invalid_settings"
                ),
                placeholders={"error": problem.detail, **problem.placeholders},
                severity=ir.IssueSeverity.ERROR,
            )


class SiteHealth:
    """Follows the cycles: logs each change once and keeps the repairs in step."""

    def __init__(self, repairs: Repairs, site: str) -> None:
        """Report for the site called `site`."""
        self._repairs = repairs
        self._site = site
        self._connected = True
        self._meter_fresh = True
        self._fail_safe = False
        self._meter_source: MeterSource | None = MeterSource.PRIMARY
        self._charger_ok: dict[str, bool] = {}

    def follow(self, result: CycleResult, names: dict[str, str]) -> None:
        """Take in one cycle; `names` are the chargers' names by charger id."""
        site = self._site
        connected = not result.connection_lost
        if connected != self._connected:
            self._connected = connected
            if connected:
                LOGGER.info("%s: the port or gateway works again", site)
            else:
                error = result.meter_error or _first_error(result)
                LOGGER.warning("%s: the port or gateway stopped working: %s", site, error)
        # Logged once the meter has been silent for the stale time: a few lost answers
        # (a noisy line) are no news.
        if result.meter_fresh != self._meter_fresh:
            self._meter_fresh = result.meter_fresh
            if result.meter_fresh:
                LOGGER.info("%s: the meter answers again", site)
            else:
                LOGGER.warning("%s: the meter stopped answering: %s", site, result.meter_error)
        self._follow_meter_source(result)
        fail_safe = result.decision.fail_safe
        if fail_safe != self._fail_safe:
            self._fail_safe = fail_safe
            if fail_safe:
                LOGGER.warning("%s: meter silent, chargers at the fail-safe current", site)
                self._repairs.raise_issue(
                    "meter_silent",
                    translation_key="meter_silent",
                    placeholders={"error": result.meter_error or ""},
                    severity=ir.IssueSeverity.ERROR,
                )
            else:
                self._repairs.clear_issue("meter_silent")
        if fail_safe:
            return  # the chargers are not read while the meter is silent: nothing learned
        for charger_id, status in result.chargers.items():
            self._follow_charger(names.get(charger_id, charger_id), status)

    def _follow_meter_source(self, result: CycleResult) -> None:
        """Log each switch of the meter fallback chain; a repair while on the backup."""
        source = result.meter_source
        if source is None or source == self._meter_source:
            return
        previous, self._meter_source = self._meter_source, source
        LOGGER.warning(
            "%s: balancing on the %s meter (was %s)",
            self._site,
            source.value,
            previous.value if previous else "none",
        )
        if source is MeterSource.BACKUP:
            self._repairs.raise_issue(
                "meter_on_backup",
                translation_key="meter_on_backup",
                placeholders={"error": result.meter_error or ""},
                severity=ir.IssueSeverity.WARNING,
            )
        else:
            self._repairs.clear_issue("meter_on_backup")

    def _follow_charger(self, name: str, status: ChargerStatus) -> None:
        charger_id = status.charger_id
        if status.available != self._charger_ok.get(charger_id, True):
            self._charger_ok[charger_id] = status.available
            if status.available:
                LOGGER.info("%s: charger %s answers again", self._site, name)
            else:
                LOGGER.warning(
                    "%s: charger %s stopped answering: %s", self._site, name, status.error
                )
        if status.watchdog_unsupported:
            self._repairs.raise_issue(
                f"no_watchdog_{charger_id}",
                translation_key="no_watchdog",
                placeholders={"charger": name},
                severity=ir.IssueSeverity.WARNING,
            )
        self._follow_fail_safe(name, status)
        if status.watchdog_error is not None:
            self._repairs.raise_issue(
                f"watchdog_settings_{charger_id}",
                translation_key="watchdog_settings",
                placeholders={"charger": name, "error": status.watchdog_error},
                severity=ir.IssueSeverity.ERROR,
            )
        else:
            self._repairs.clear_issue(f"watchdog_settings_{charger_id}")

    def _follow_fail_safe(self, name: str, status: ChargerStatus) -> None:
        """Raise a repair while the charger's own fail-safe current is above Headroom's."""
        suffix = f"fail_safe_above_{status.charger_id}"
        device_a = status.watchdog.failsafe_a if status.watchdog is not None else None
        if device_a is None or status.fail_safe_a is None or device_a <= status.fail_safe_a:
            # Lower is safe (it stops charging sooner); the diagnostics show it.
            self._repairs.clear_issue(suffix)
            return
        self._repairs.raise_issue(
            suffix,
            translation_key="charger_fail_safe_above",
            placeholders={
                "charger": name,
                "device_a": f"{device_a:g}",
                "fail_safe_a": str(status.fail_safe_a),
            },
            severity=ir.IssueSeverity.ERROR,
        )


def _first_error(result: CycleResult) -> str:
    return next((s.error for s in result.chargers.values() if s.error), "")
