"""
`scripts/develop --reset --onboard` as a newcomer meets it, checked through the websocket API.

A real Home Assistant on a fresh configuration and the demo's simulator; the demo's own
onboarding (`python -m tools.demo onboard`, what scripts/develop runs). Then, as the
frontend would read them: the driveway's charger added through Home Assistant's modbus
integration and its one repair (no fail-safe of its own), the home's country and location,
a "Headroom" dashboard (the default one) whose graphs show the meter's phase currents under
the breaker, each Modbus charger's current and setpoint and the driveway's setpoint (it has
no current sensors) with live values, the Energy dashboard with the meter and both Modbus
chargers (the driveway has no energy counter), and the README's dashboard YAML equal to
what the demo stored.
"""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
import yaml

from tools.demo.harness import DRIVEWAY, ROOT, HassClient, main_onboard
from tools.demo.home import DASHBOARD_URL, HOME

pytestmark = pytest.mark.xdist_group("e2e")
"""Under pytest-xdist (scripts/test), the tests that start Home Assistant share one worker."""

BREAKER_A = 25  # the demo site's (tools/demo/harness.py `add_site`)
CHARGERS = {"garage", "carport"}
"""The Modbus chargers: current sensors per line and an energy counter each."""
ALL_CHARGERS = ("garage", "carport", DRIVEWAY["name"])


def test_the_demo_sets_up_the_home_a_dashboard_and_energy(
    demo: tuple[HassClient, str], capsys: pytest.CaptureFixture[str]
) -> None:
    client, pty = demo
    assert main_onboard([client.base_url, pty]) == 0
    assert "added the Headroom dashboard and the Energy dashboard" in capsys.readouterr().out
    client.login()

    # The one repair: the driveway's charger, controlled through Home Assistant's modbus
    # integration, has no watchdog Headroom can arm (no fail-safe of its own). The site
    # raises it once it runs with the charger (adding it reloads the site).
    assert repairs_once_raised(client) == [("no_watchdog", DRIVEWAY["name"])]
    config, system = client.ws(
        {"type": "get_config"},
        {"type": "frontend/get_system_data", "key": "core"},
    )
    (entry_id,) = client.entry_ids()
    assert client.entity_chargers(entry_id) == [DRIVEWAY["name"]]
    assert {key: config[key] for key in ("country", "currency", "time_zone")} == {
        key: HOME[key] for key in ("country", "currency", "time_zone")
    }
    assert (config["latitude"], config["longitude"]) == (HOME["latitude"], HOME["longitude"])
    # Opening Home Assistant shows the Headroom dashboard, not the generated Overview.
    assert system["value"]["default_panel"] == DASHBOARD_URL

    dashboards, board = client.ws(
        {"type": "lovelace/dashboards/list"},
        {"type": "lovelace/config", "url_path": DASHBOARD_URL},
    )
    assert (DASHBOARD_URL, "Headroom", True) in [
        (d["url_path"], d["title"], d["show_in_sidebar"]) for d in dashboards
    ]
    check_graphs(client, board)
    check_energy(client)
    assert readme_dashboard() == board

    # A second run (scripts/develop --onboard on the same config/) keeps what is there.
    assert main_onboard([client.base_url, pty]) == 0
    assert "dashboards kept" in capsys.readouterr().out
    (again,) = client.ws({"type": "lovelace/config", "url_path": DASHBOARD_URL})
    assert again == board
    assert client.entity_chargers(entry_id) == [DRIVEWAY["name"]]


def repairs_once_raised(client: HassClient, timeout_s: float = 60) -> list[tuple[str, str]]:
    """Return the repairs (kind, charger) once there are any, or [] after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        (issues,) = client.ws({"type": "repairs/list_issues"})
        raised = [
            (issue["translation_key"], issue["translation_placeholders"].get("charger"))
            for issue in issues["issues"]
        ]
        if raised or time.monotonic() > deadline:
            return raised
        time.sleep(0.5)


def states_of(client: HassClient, entity_ids: list[str]) -> list[dict[str, Any]]:
    """Return the states of `entity_ids` once each has a value (the site reloads once)."""
    return [client.wait_for_state(entity_id, timeout_s=60) for entity_id in entity_ids]


def live_number(state: dict[str, Any]) -> float:
    """Return a state's number (it must have one: the entity is live)."""
    return float(state["state"])


def check_graphs(client: HassClient, board: dict[str, Any]) -> None:
    """The grid graph: three meter currents and the breaker; one graph per charger; why."""
    cards = board["views"][0]["cards"]
    graphs = {
        card["title"]: [row["entity"] for row in card["entities"]]
        for card in cards
        if card["type"] == "history-graph"
    }
    grid = states_of(client, graphs["Grid current per phase and the breaker"])
    assert [s["attributes"].get("device_class") for s in grid[:3]] == ["current"] * 3
    assert [s["attributes"]["unit_of_measurement"] for s in grid] == ["A"] * 4
    assert [live_number(s) for s in grid][3] == BREAKER_A
    assert grid[3]["entity_id"].startswith("number.")
    for name in CHARGERS:
        charger = states_of(client, graphs[f"{name}: current and setpoint"])
        assert all(s["attributes"]["unit_of_measurement"] == "A" for s in charger)
        assert [s["entity_id"].endswith("_setpoint") for s in charger][-1]
        lines = {"garage": 3, "carport": 1}[name]
        assert len(charger) == lines + 1  # the lines it is wired to, and its setpoint
        for state in charger:
            live_number(state)
    # The driveway (through Home Assistant entities, no current sensors): its setpoint
    # alone, what Headroom counts it at; no line current that nothing measures.
    (setpoint,) = states_of(client, graphs[f"{DRIVEWAY['name']}: setpoint (no current measured)"])
    assert setpoint["entity_id"].endswith("_setpoint")
    assert setpoint["attributes"]["unit_of_measurement"] == "A"
    live_number(setpoint)
    assert len(graphs) == 1 + len(ALL_CHARGERS) + 1  # the grid, each charger, why
    why = states_of(client, graphs["Why: what limits the current"])
    assert why[0]["attributes"]["device_class"] == "enum"  # the binding constraint
    # and each charger's reason (what limits it, in the same words) and state
    assert len(why) == 1 + 2 * len(ALL_CHARGERS)
    assert [state["attributes"].get("device_class") for state in why[1::2]] == ["enum"] * 3
    assert [state["entity_id"].partition(".")[2].split("_")[0] for state in why[1:]] == [
        name for name in ALL_CHARGERS for _ in range(2)
    ]
    controls = next(card for card in cards if card.get("title") == "Controls")
    domains = [entity_id.partition(".")[0] for entity_id in controls["entities"]]
    assert sorted(set(domains)) == ["number", "select", "switch"]
    # the site's three, then each charger's maximum, priority and pause
    assert len(controls["entities"]) == 3 + 3 * len(ALL_CHARGERS)
    assert controls["entities"][-3:] == [
        f"number.{DRIVEWAY['name']}_maximum_current",
        f"number.{DRIVEWAY['name']}_priority",
        f"switch.{DRIVEWAY['name']}_pause",
    ]


def check_energy(client: HassClient) -> None:
    """The meter's import and export as the grid, each charger as an individual device."""
    (prefs,) = client.ws({"type": "energy/get_prefs"})
    (grid,) = prefs["energy_sources"]
    assert grid["type"] == "grid"
    imported, exported = states_of(client, [grid["stat_energy_from"], grid["stat_energy_to"]])
    for state in (imported, exported):
        assert state["attributes"]["state_class"] == "total_increasing"
        assert state["attributes"]["unit_of_measurement"] == "kWh"
    assert imported["entity_id"] != exported["entity_id"]
    assert {device["name"] for device in prefs["device_consumption"]} == CHARGERS
    devices = states_of(client, [d["stat_consumption"] for d in prefs["device_consumption"]])
    assert {s["attributes"]["device_class"] for s in devices} == {"energy"}


def readme_dashboard() -> Any:
    """Return the dashboard YAML the README gives (the block after its marker)."""
    readme = (ROOT / "README.md").read_text()
    match = re.search(r"<!-- dashboard -->\s*```yaml\n(.*?)```", readme, re.DOTALL)
    assert match, "README.md has no dashboard YAML after <!-- dashboard -->"
    return yaml.safe_load(match.group(1))
