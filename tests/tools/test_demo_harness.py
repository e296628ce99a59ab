"""The demo harness (scripts/develop): readiness, re-runs on an onboarded config, the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, ClassVar

import pytest

from tools.demo import harness
from tools.demo.harness import (
    ONBOARD_OTHER_USER,
    HassClient,
    free_port,
    main_onboard,
    main_wait,
    process_running,
)
from tools.demo.home import Charger, SiteEntities, energy_prefs, headroom_dashboard

if TYPE_CHECKING:
    from collections.abc import Iterator


class FakeHass(BaseHTTPRequestHandler):
    """The few REST answers of a Home Assistant that finished onboarding earlier."""

    onboarding_status: ClassVar[int] = 404
    demo_password: ClassVar[str] = harness.DEMO_PASSWORD
    entries: ClassVar[list[dict[str, Any]]] = [{"entry_id": "E1", "domain": "headroom"}]
    posts: ClassVar[list[str]] = []

    def log_message(self, *args: object) -> None:
        del args

    def _send(self, status: int, body: Any) -> None:
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def do_GET(self) -> None:
        if self.path == "/api/onboarding":
            if self.onboarding_status == 200:
                self._send(200, [{"step": "user", "done": True}])
            else:
                self._send(self.onboarding_status, {"message": "Not Found"})
        elif self.path == "/api/config/config_entries/entry?domain=headroom":
            self._send(200, self.entries)
        elif self.path == f"/api/states/{harness.METER_POWER_ENTITY}":
            self._send(200, {"entity_id": harness.METER_POWER_ENTITY, "state": "-2053.6"})
        else:
            self._send(404, {})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        body = self.rfile.read(length).decode()
        FakeHass.posts.append(self.path)
        if self.path == "/auth/login_flow":
            self._send(200, {"type": "form", "flow_id": "F1", "step_id": "init"})
        elif self.path == "/auth/login_flow/F1":
            if json.loads(body)["password"] == self.demo_password:
                self._send(200, {"type": "create_entry", "result": "CODE"})
            else:
                self._send(200, {"type": "form", "errors": {"base": "invalid_auth"}})
        elif self.path == "/auth/token":
            self._send(200, {"access_token": "TOKEN"})
        else:
            self._send(404, {})


@pytest.fixture
def fake_hass(socket_enabled: None) -> Iterator[str]:
    """Serve `FakeHass` on a free port; reset its class settings afterwards."""
    del socket_enabled
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeHass)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    FakeHass.posts = []
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
        FakeHass.onboarding_status = 404
        FakeHass.demo_password = harness.DEMO_PASSWORD


@pytest.mark.parametrize(("status", "up"), [(200, True), (404, True), (500, False)])
def test_home_assistant_answers_before_and_after_onboarding(
    fake_hass: str, status: int, up: bool
) -> None:
    # /api/onboarding is gone (404) once onboarding is finished: a second start of an
    # onboarded config/ must still count as up.
    FakeHass.onboarding_status = status
    assert HassClient(fake_hass).answering() is up


def test_nothing_listening_is_not_up(socket_enabled: None) -> None:
    del socket_enabled
    assert not HassClient(f"http://127.0.0.1:{free_port()}").answering()


def test_onboarded_when_the_onboarding_view_is_gone(fake_hass: str) -> None:
    assert HassClient(fake_hass).onboarded()


def test_wait_returns_at_once_when_up_and_reports_a_gone_process(fake_hass: str) -> None:
    started = time.monotonic()
    assert main_wait([fake_hass, str(_gone_pid()), "30"]) == 1
    assert main_wait([fake_hass, "1", "30"]) == 0
    assert time.monotonic() - started < 5


def test_wait_times_out_when_nothing_answers(socket_enabled: None) -> None:
    del socket_enabled
    assert main_wait([f"http://127.0.0.1:{free_port()}", "1", "0.2"]) == 2


def test_a_zombie_or_gone_process_is_not_running() -> None:
    child = subprocess.Popen(["true"])  # noqa: S607 (coreutils)
    deadline = time.monotonic() + 10
    while process_running(child.pid) and time.monotonic() < deadline:
        time.sleep(0.05)  # exited but not reaped yet: a zombie
    assert not process_running(child.pid)
    child.wait()
    assert not process_running(child.pid)
    assert process_running(1)


def test_onboard_again_logs_in_as_demo_and_keeps_the_site(
    fake_hass: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    dashboards_for: list[str] = []

    def set_up_dashboards(client: HassClient, entry_id: str) -> list[str]:
        del client
        dashboards_for.append(entry_id)
        return []

    monkeypatch.setattr(harness, "set_up_dashboards", set_up_dashboards)
    assert main_onboard([fake_hass, "unused-pty"]) == 0
    out = capsys.readouterr().out
    assert "logged in as demo" in out
    assert "site is there already (config entry E1)" in out
    assert "no live values" not in out  # it waited for the meter's power to have a value
    assert "/api/config/config_entries/flow" not in FakeHass.posts
    # A config/ from before the dashboards existed gets them; existing ones are kept.
    assert dashboards_for == ["E1"]
    assert "dashboards kept" in out


@pytest.mark.parametrize("there", [True, False])
def test_the_driveway_is_added_once(
    there: bool, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    added: list[str] = []
    monkeypatch.setattr(HassClient, "entity_chargers", lambda *_: ["driveway"] if there else [])
    monkeypatch.setattr(
        HassClient, "add_entity_charger", lambda _, entry_id: added.append(entry_id) or "S1"
    )
    harness.add_driveway(HassClient("http://127.0.0.1:1"), "E1")
    assert added == ([] if there else ["E1"])
    assert ("added the driveway's charger" in capsys.readouterr().out) is not there


def test_onboarding_goes_on_without_the_driveway(
    fake_hass: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # A Home Assistant that cannot list or add it (here: no websocket at all).
    harness.add_driveway(HassClient(fake_hass, token="TOKEN"), "E1")  # noqa: S106
    assert "the driveway's charger was not added" in capsys.readouterr().out


def test_onboard_after_onboarding_by_hand_says_so(
    fake_hass: str, capsys: pytest.CaptureFixture[str]
) -> None:
    FakeHass.demo_password = "someone else's"  # noqa: S105
    assert main_onboard([fake_hass, "unused-pty"]) == ONBOARD_OTHER_USER
    assert "user other than demo" in capsys.readouterr().out


def test_cli_usage() -> None:
    answer = subprocess.run(  # noqa: S603 (our own module)
        [sys.executable, "-m", "tools.demo", "wait", "http://127.0.0.1:1"],
        capture_output=True,
        text=True,
        check=False,
        cwd=harness.ROOT,
    )
    assert answer.returncode == 2
    assert "usage: python -m tools.demo onboard URL PTY | wait URL PID TIMEOUT_S" in answer.stderr
    assert "screenshot URL PNG" in answer.stderr


def _gone_pid() -> int:
    child = subprocess.Popen(["true"])  # noqa: S607 (coreutils)
    child.wait()
    return child.pid


ENTRY = "E"
GARAGE = Charger("G", "garage")
CARPORT = Charger("C", "carport")


def _site(**keys: str) -> SiteEntities:
    """A site whose entity ids are named after their unique ids' keys."""
    return SiteEntities(
        entry_id=ENTRY,
        chargers=(GARAGE, CARPORT),
        entity_ids={f"{ENTRY}_{key}": entity_id for key, entity_id in keys.items()},
    )


def test_the_dashboard_shows_what_each_charger_has_and_skips_the_rest() -> None:
    site = _site(
        current_l1="sensor.m1",
        current_l2="sensor.m2",
        current_l3="sensor.m3",
        breaker="number.breaker",
        binding_constraint="sensor.why",
        G_current_l1="sensor.g1",
        G_current_l2="sensor.g2",
        G_setpoint="sensor.gs",
        G_state="sensor.gstate",
        C_current_l1="sensor.c1",
        C_setpoint="sensor.cs",
        C_pause="switch.cpause",
        X_setpoint="sensor.other_entry",  # a charger the site no longer has
    )
    cards = headroom_dashboard(site)["views"][0]["cards"]
    graphs = {
        c["title"]: [r["entity"] for r in c["entities"]] for c in cards if "hours_to_show" in c
    }
    assert graphs == {
        "Grid current per phase and the breaker": [
            "sensor.m1",
            "sensor.m2",
            "sensor.m3",
            "number.breaker",
        ],
        "garage: current and setpoint": ["sensor.g1", "sensor.g2", "sensor.gs"],
        "carport: current and setpoint": ["sensor.c1", "sensor.cs"],
        "Why: what limits the current": ["sensor.why", "sensor.gstate"],
    }
    controls = next(c for c in cards if c["title"] == "Controls")
    assert controls["entities"] == ["number.breaker", "switch.cpause"]


def test_a_charger_that_measures_no_current_graphs_its_setpoint_alone() -> None:
    # The demo's driveway: a charger controlled through Home Assistant, no current sensors.
    driveway = Charger("D", "driveway")
    site = SiteEntities(
        entry_id=ENTRY,
        chargers=(GARAGE, driveway),
        entity_ids={
            f"{ENTRY}_{key}": entity_id
            for key, entity_id in {
                "binding_constraint": "sensor.why",
                "G_current_l1": "sensor.g1",
                "G_setpoint": "sensor.gs",
                "D_setpoint": "sensor.ds",
                "D_reason": "sensor.dreason",
                "D_state": "sensor.dstate",
                "D_max_current": "number.dmax",
                "D_pause": "switch.dpause",
            }.items()
        },
    )
    cards = headroom_dashboard(site)["views"][0]["cards"]
    graphs = {
        c["title"]: [r["entity"] for r in c["entities"]] for c in cards if "hours_to_show" in c
    }
    assert graphs["garage: current and setpoint"] == ["sensor.g1", "sensor.gs"]
    assert graphs["driveway: setpoint (no current measured)"] == ["sensor.ds"]
    assert "driveway: current and setpoint" not in graphs
    assert graphs["Why: what limits the current"] == [
        "sensor.why",
        "sensor.dreason",
        "sensor.dstate",
    ]
    controls = next(c for c in cards if c["title"] == "Controls")
    assert controls["entities"] == ["number.dmax", "switch.dpause"]
    assert energy_prefs(site)["device_consumption"] == []  # no energy counter


def test_energy_takes_the_meter_as_grid_and_chargers_with_an_energy_counter() -> None:
    site = _site(
        energy_import="sensor.imported",
        power_total="sensor.power",
        G_energy_total="sensor.garage_energy",
        G_power="sensor.garage_power",
        C_power="sensor.carport_power",  # no energy counter: not an Energy device
    )
    assert energy_prefs(site) == {
        "energy_sources": [
            {
                "type": "grid",
                "cost_adjustment_day": 0,
                "stat_energy_from": "sensor.imported",
                "stat_rate": "sensor.power",
            }
        ],
        "device_consumption": [
            {
                "stat_consumption": "sensor.garage_energy",
                "name": "garage",
                "stat_rate": "sensor.garage_power",
            }
        ],
    }
