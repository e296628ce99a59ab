"""
The demo's home in Home Assistant: its location and units, a Headroom dashboard, Energy.

What a newcomer would otherwise do by hand after adding the site, done through the
websocket commands Home Assistant's own frontend sends: `config/core/update` (country,
location, units: without a country Home Assistant raises a repair issue),
`lovelace/dashboards/create` and `lovelace/config/save` (the "Headroom" dashboard, made
the default one with `frontend/set_system_data`), `energy/save_prefs` (the meter's import
and export, each charger with an energy counter as an individual device).

The dashboard is built from the entity registry of the site's config entry (unique ids),
never from guessed entity ids: a homeowner's names give other ids.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from collections.abc import Iterable

    from tools.demo.harness import HassClient

HOME: Final = {
    "location_name": "Headroom demo",
    "country": "FR",
    "currency": "EUR",
    "language": "en",
    "latitude": 48.7786,
    "longitude": 2.2906,
    "elevation": 80,
    "time_zone": "Europe/Paris",
    "unit_system": "metric",
}
"""The demo's house: Sceaux, near Paris, where its measured household trace comes from."""

DASHBOARD_URL: Final = "headroom-site"
DASHBOARD_TITLE: Final = "Headroom"
HOURS_TO_SHOW: Final = 1

# What the dashboard shows, by entity key (the end of the unique id). A key the site or a
# charger does not have (a current on a line it is not wired to) is left out. One more
# entity per charger is one more line in a tuple below.
GRID_GRAPH: Final = ("current_l1", "current_l2", "current_l3", "breaker")
"""The meter's current per phase under the breaker rating in force."""
CHARGER_GRAPH: Final = (
    "current_l1",
    "current_l2",
    "current_l3",
    "setpoint",
)
"""Each charger's graph: what its car draws per line and the current it is allowed."""
CHARGER_LINES: Final = ("current_l1", "current_l2", "current_l3")
"""What a charger measures per line; a charger with none of these (a charger controlled
through Home Assistant without current sensors, the demo's driveway) graphs its setpoint
only: Headroom counts it at that current, and nothing measures more."""
SITE_REASONS: Final = ("binding_constraint",)
CHARGER_REASONS: Final = ("reason", "state")
"""Why, over time: a timeline per entity (text states)."""
SITE_NOW: Final = ("available_current", "headroom_l1", "headroom_l2", "headroom_l3")
SITE_CONTROLS: Final = ("mode", "solar_only", "breaker")
CHARGER_CONTROLS: Final = (
    "max_current",
    "priority",
    "pause",
)

METER_IMPORT: Final = "energy_import"
METER_EXPORT: Final = "energy_export"
METER_POWER: Final = "power_total"
CHARGER_ENERGY: Final = "energy_total"
"""A charger without it (a charger controlled through Home Assistant has none) is not an
Energy device: the Energy dashboard needs an energy counter, not a power or a setpoint."""
CHARGER_POWER: Final = "power"
CHARGER_KINDS: Final = ("charger", "entity_charger")
"""The subentry types of chargers: Modbus ones, and chargers controlled through Home
Assistant entities, in the order Home Assistant lists the subentries."""


@dataclass(frozen=True, slots=True)
class Charger:
    """A charger of the site: its subentry and the name the installer gave it."""

    subentry_id: str
    name: str


@dataclass(frozen=True, slots=True)
class SiteEntities:
    """The entity ids of one Headroom config entry, found by unique id."""

    entry_id: str
    chargers: tuple[Charger, ...]
    entity_ids: dict[str, str]
    """Entity id by unique id, for the entities of this entry."""

    def site(self, *keys: str) -> list[str]:
        """Return the site's (and its meter's) entity ids for `keys`, skipping missing ones."""
        return self._found(f"{self.entry_id}_{key}" for key in keys)

    def charger(self, charger: Charger, *keys: str) -> list[str]:
        """Return a charger's entity ids for `keys`, skipping the ones it does not have."""
        return self._found(f"{self.entry_id}_{charger.subentry_id}_{key}" for key in keys)

    def _found(self, unique_ids: Iterable[str]) -> list[str]:
        return [self.entity_ids[uid] for uid in unique_ids if uid in self.entity_ids]


def site_entities(client: HassClient, entry_id: str) -> SiteEntities:
    """Read the entry's chargers and entities from Home Assistant's registries."""
    registry, subentries = client.ws(
        {"type": "config/entity_registry/list"},
        {"type": "config_entries/subentries/list", "entry_id": entry_id},
    )
    return SiteEntities(
        entry_id=entry_id,
        chargers=tuple(
            Charger(sub["subentry_id"], sub["title"])
            for sub in subentries
            if sub["subentry_type"] in CHARGER_KINDS
        ),
        entity_ids={
            entity["unique_id"]: entity["entity_id"]
            for entity in registry
            if entity["config_entry_id"] == entry_id and entity["platform"] == "headroom"
        },
    )


def settled_site_entities(
    client: HassClient, entry_id: str, *, timeout_s: float = 60.0
) -> SiteEntities:
    """
    Return the entry's entities once every charger has its setpoint (all chargers have one).

    Adding a charger reloads the site, which registers the new charger's entities a moment
    later: a dashboard built before that would leave the charger out. After `timeout_s` the
    entities as they are.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        site = site_entities(client, entry_id)
        if all(site.charger(charger, "setpoint") for charger in site.chargers):
            return site
        if time.monotonic() > deadline:
            return site
        time.sleep(0.5)


def _graph(title: str, entities: list[str]) -> dict[str, Any]:
    return {
        "type": "history-graph",
        "title": title,
        "hours_to_show": HOURS_TO_SHOW,
        "entities": [{"entity": entity_id} for entity_id in entities],
    }


def _entities(title: str, entities: list[str]) -> dict[str, Any]:
    return {"type": "entities", "title": title, "entities": entities}


def _charger_graph(site: SiteEntities, charger: Charger) -> dict[str, Any]:
    """Return a charger's graph: its line currents and setpoint, or its setpoint alone."""
    if site.charger(charger, *CHARGER_LINES):
        return _graph(
            f"{charger.name}: current and setpoint", site.charger(charger, *CHARGER_GRAPH)
        )
    return _graph(
        f"{charger.name}: setpoint (no current measured)", site.charger(charger, "setpoint")
    )


def headroom_dashboard(site: SiteEntities) -> dict[str, Any]:
    """Return the dashboard's configuration (what Home Assistant stores and YAML shows)."""
    cards = [_graph("Grid current per phase and the breaker", site.site(*GRID_GRAPH))]
    cards.extend(_charger_graph(site, charger) for charger in site.chargers)
    reasons = site.site(*SITE_REASONS)
    for charger in site.chargers:
        reasons.extend(site.charger(charger, *CHARGER_REASONS))
    cards.append(_graph("Why: what limits the current", reasons))
    cards.append(_entities("Now", site.site(*SITE_NOW)))
    controls = site.site(*SITE_CONTROLS)
    for charger in site.chargers:
        controls.extend(site.charger(charger, *CHARGER_CONTROLS))
    cards.append(_entities("Controls", controls))
    return {"title": DASHBOARD_TITLE, "views": [{"title": "Site", "path": "site", "cards": cards}]}


def energy_prefs(site: SiteEntities) -> dict[str, Any]:
    """Return the Energy dashboard's settings: the meter as the grid, chargers as devices."""
    grid: dict[str, Any] = {"type": "grid", "cost_adjustment_day": 0}
    for field, key in (
        ("stat_energy_from", METER_IMPORT),
        ("stat_energy_to", METER_EXPORT),
        ("stat_rate", METER_POWER),
    ):
        for entity_id in site.site(key):
            grid[field] = entity_id
    devices = []
    for charger in site.chargers:
        energy = site.charger(charger, CHARGER_ENERGY)
        if energy:
            device = {"stat_consumption": energy[0], "name": charger.name}
            for entity_id in site.charger(charger, CHARGER_POWER):
                device["stat_rate"] = entity_id
            devices.append(device)
    return {"energy_sources": [grid], "device_consumption": devices}


def set_up_home(client: HassClient) -> None:
    """Set the home's country, location and units (what onboarding's first step asks)."""
    client.ws({"type": "config/core/update", **HOME})


def set_up_dashboards(client: HassClient, entry_id: str) -> list[str]:
    """
    Add the Headroom dashboard (the default one) and the Energy settings, where missing.

    Returns what it added; a dashboard or Energy settings that exist are kept as they are
    (the user may have edited them).
    """
    added = []
    site = settled_site_entities(client, entry_id)
    (dashboards,) = client.ws({"type": "lovelace/dashboards/list"})
    if not any(board["url_path"] == DASHBOARD_URL for board in dashboards):
        (system,) = client.ws({"type": "frontend/get_system_data", "key": "core"})
        client.ws(
            {
                "type": "lovelace/dashboards/create",
                "url_path": DASHBOARD_URL,
                "title": DASHBOARD_TITLE,
                "icon": "mdi:ev-station",
                "show_in_sidebar": True,
            },
            {
                "type": "lovelace/config/save",
                "url_path": DASHBOARD_URL,
                "config": headroom_dashboard(site),
            },
            {
                "type": "frontend/set_system_data",
                "key": "core",
                "value": {**(system.get("value") or {}), "default_panel": DASHBOARD_URL},
            },
        )
        added.append("the Headroom dashboard")
    if not energy_sources(client):
        client.ws({"type": "energy/save_prefs", **energy_prefs(site)})
        added.append("the Energy dashboard")
    return added


def energy_sources(client: HassClient) -> list[dict[str, Any]]:
    """Return the Energy dashboard's sources (none before any were saved)."""
    try:
        (prefs,) = client.ws({"type": "energy/get_prefs"})
    except WebsocketCommandError as err:
        if err.code == "not_found":
            return []
        raise
    return list(prefs.get("energy_sources", []))


class WebsocketCommandError(RuntimeError):
    """Home Assistant answered a websocket command with an error."""

    def __init__(self, command: str, code: str, message: str) -> None:
        """Keep the error's code (`not_found`, `invalid_format`, ...)."""
        super().__init__(f"{command}: {code}: {message}")
        self.code = code
