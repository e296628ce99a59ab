"""
A real Home Assistant and the device simulator as child processes, and HA's REST API.

Used by `scripts/develop` (through `python -m tools.demo`), the end-to-end latency
benchmark (`tools.e2e_latency`) and the tests in tests/e2e. The REST and websocket calls
are the ones Home Assistant's own frontend makes during onboarding, in the "Add
integration" dialog and in its settings pages (aiohttp, which Home Assistant brings, for
the websocket).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Final

import aiohttp

from tools.demo.home import WebsocketCommandError, set_up_dashboards, set_up_home

if TYPE_CHECKING:
    from collections.abc import Callable

ROOT: Final = Path(__file__).resolve().parents[2]
DEMO_SCENARIO: Final = ROOT / "tools" / "demo" / "site.yaml"
HASS: Final = ROOT / ".venv" / "bin" / "hass"
PYTHON: Final = ROOT / ".venv" / "bin" / "python"
DEMO_USER: Final = "demo"
DEMO_PASSWORD: Final = "headroom-demo"  # noqa: S105 (a local demo account, printed to the user)
CHARGER_NAMES: Final = {2: "garage", 3: "carport"}
"""The names the demo gives the chargers the scan finds, by device id."""
CHARGER_PHASES: Final = {2: "1_2_3", 3: "2"}
"""Their wiring (tools/demo/site.yaml): the garage on all phases, the carport on L2."""
DEMO_DEVICES: Final = (
    "eastron_sdm630:1",
    "heidelberg_energy_control:2:garage",
    "heidelberg_energy_control:3:carport",
    "evse_wb_din:20:driveway",
)
"""The simulator's devices (MODEL:ID[:CHARGER]): the meter and two chargers the scan finds
(ids 1-16), and the driveway's EVSE-WB at id 20, out of the scan's reach: Home Assistant's
modbus integration reads it through the simulator's Modbus TCP gateway (driveway.yaml)."""
DRIVEWAY_PACKAGE: Final = ROOT / "tools" / "demo" / "driveway.yaml"
"""The modbus and template entities of the driveway's charger (a Home Assistant package)."""
DRIVEWAY_PORT_TAG: Final = "!env_var HEADROOM_DEMO_MODBUS_PORT 5020"
DRIVEWAY: Final = {
    "name": "driveway",
    "limit_entity": "number.driveway_evse_current_limit",
    "pause": "number_minimum",
    "status_entity": "sensor.driveway_evse_vehicle_state",
    "status_mapping": "manual",
    "status_manual": "1: idle\n2: connected\n3: charging\n4: charging\n5: error",
    "phases": "3",
}
"""The driveway as an entity charger: its template number (0 A pauses), the EVSE-WB's
vehicle state register (1 A, 2 B, 3 C, 4 D, 5 failure), wired to L3. No current sensors:
the board measures none, so Headroom counts it at the current it was given."""
METER_POWER_ENTITY: Final = "sensor.headroom_meter_power"
"""The meter's signed total power: the demo's PV surplus source (negative: exporting)."""

# Home Assistant's configuration for a throwaway instance: the integrations the demo needs
# (frontend pulls in config, onboarding, auth, api, lovelace ...), nothing that needs
# packages beyond requirements_test.txt, so it starts with --skip-pip. No `homeassistant:`
# block, as in config/configuration.yaml: the country, location and units are stored by
# onboarding (`HassClient.onboard`, or the user in the browser), as for a newcomer.
HASS_CONFIG: Final = """\
frontend:
history:
logbook:
energy:
usb:
logger:
  default: warning
  logs:
    custom_components.headroom: info
"""


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port nobody listens on now."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def prepare_config(config_dir: Path, *, modbus_port: int | None = None) -> None:
    """
    Write a fresh Home Assistant configuration that loads this repo's integration.

    With `modbus_port` (the simulator's Modbus TCP gateway), also the driveway's charger
    through Home Assistant's modbus and template integrations (`DRIVEWAY_PACKAGE`).
    No `http:` block: from 2026.10 Home Assistant moves one into a trial configuration that
    it reverts (restarting, which ends a plain `hass`) unless confirmed within 5 minutes.
    `start_hass` gives the port as the default instead.
    """
    config_dir.mkdir(parents=True, exist_ok=True)
    config = HASS_CONFIG
    if modbus_port is not None:
        package = DRIVEWAY_PACKAGE.read_text()
        if DRIVEWAY_PORT_TAG not in package:
            msg = f"{DRIVEWAY_PACKAGE} does not set its port with {DRIVEWAY_PORT_TAG!r}"
            raise ValueError(msg)
        (config_dir / "driveway.yaml").write_text(
            package.replace(DRIVEWAY_PORT_TAG, str(modbus_port))
        )
        # A package only: the location and units stay onboarding's (stored, not YAML).
        config += "homeassistant:\n  packages:\n    driveway: !include driveway.yaml\n"
    (config_dir / "configuration.yaml").write_text(config)
    link = config_dir / "custom_components"
    if not link.exists():
        link.symlink_to(ROOT / "custom_components", target_is_directory=True)


@dataclass
class Child:
    """A child process in its own process group, with its output in a log file."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path

    def stop(self, timeout_s: float = 15.0) -> None:
        """Stop the whole process group: SIGTERM, then SIGKILL after `timeout_s`."""
        if self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(5)

    def tail(self, lines: int = 40) -> str:
        """Return the last lines of the log (for error messages)."""
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def _spawn(name: str, args: list[str], log: Path, env: dict[str, str] | None = None) -> Child:
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        process = subprocess.Popen(  # noqa: S603 (our own programs)
            args,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
        )
    return Child(name, process, log)


def start_simulator(  # noqa: PLR0913 (each is an option of the simulator)
    link: Path,
    log: Path,
    *,
    scenario: Path = DEMO_SCENARIO,
    baud: int = 9600,
    speed: float = 1.0,
    timeout_s: float = 30.0,
) -> Child:
    """Start the simulator on a pty at `link` (8N1, wire time emulated); wait for it."""
    child = _spawn(
        "simulator",
        [
            str(PYTHON),
            "-m",
            "tools.simulator",
            "--scenario",
            str(scenario),
            *(arg for device in DEMO_DEVICES for arg in ("--device", device)),
            "--link",
            str(link),
            "--baud",
            str(baud),
            "--parity",
            "N",
            "--speed",
            str(speed),
            "--tcp-port",
            "0",
            "--rtu-tcp-port",
            "0",
            "--native-tcp-port",
            "0",
        ],
        log,
    )
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if child.process.poll() is not None:
            msg = f"the simulator exited:\n{child.tail()}"
            raise RuntimeError(msg)
        if "Ctrl-C stops it." in child.tail():
            return child
        time.sleep(0.2)
    child.stop()
    msg = f"the simulator did not start within {timeout_s:g} s:\n{child.tail()}"
    raise RuntimeError(msg)


def modbus_gateway_port(simulator: Child) -> int:
    """Return the port of a started simulator's Modbus TCP gateway (from what it printed)."""
    for line in simulator.tail(200).splitlines():
        label, _, address = line.partition("Modbus TCP gateway:")
        if address and not label.strip():
            return int(address.strip().rpartition(":")[2])
    msg = f"the simulator did not say where its Modbus TCP gateway is:\n{simulator.tail()}"
    raise RuntimeError(msg)


def start_hass(config_dir: Path, log: Path, *, port: int | None = None) -> Child:
    """
    Start `hass` on `config_dir` (no runtime package installs); see `wait_until_up`.

    `port` is Home Assistant's default HTTP port for this start (its SETUP_PORT), so a
    fresh configuration listens there without an `http:` block; None keeps 8123.
    """
    return _spawn(
        "hass",
        [str(HASS), "--config", str(config_dir), "--skip-pip"],
        log,
        env=None if port is None else {"SETUP_PORT": str(port)},
    )


class HassError(RuntimeError):
    """Home Assistant answered something the harness did not expect."""


@dataclass
class HassClient:
    """Home Assistant's REST API, as its own frontend uses it."""

    base_url: str
    token: str | None = None
    timeout_s: float = 30.0
    _opener: urllib.request.OpenerDirector = field(
        default_factory=lambda: urllib.request.build_opener(urllib.request.ProxyHandler({}))
    )

    @property
    def client_id(self) -> str:
        """The OAuth client id the frontend uses: the instance's own URL."""
        return f"{self.base_url}/"

    def request(
        self, method: str, path: str, body: Any = None, *, form: dict[str, str] | None = None
    ) -> Any:
        """Send one request; return the decoded JSON answer (None when empty)."""
        headers = {}
        data = None
        if form is not None:
            data = urllib.parse.urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if self.token is not None:
            headers["Authorization"] = f"Bearer {self.token}"
        req = urllib.request.Request(  # noqa: S310 (http to our own instance)
            f"{self.base_url}{path}", data=data, headers=headers, method=method
        )
        try:
            with self._opener.open(req, timeout=self.timeout_s) as answer:
                raw = answer.read()
        except urllib.error.HTTPError as err:
            detail = err.read().decode(errors="replace")
            msg = f"{method} {path}: HTTP {err.code}: {detail}"
            raise HassError(msg) from err
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            return raw.decode()  # a rendered template is plain text

    def answering(self) -> bool:
        """
        Return whether Home Assistant's HTTP server answers, with its routes in place.

        Home Assistant opens its port once `frontend` is set up, and with it `onboarding`,
        `config`, `auth` and `api`. `/api/onboarding` answers 200 until onboarding is
        finished and 404 afterwards (the view is no longer registered): both mean up.
        """
        try:
            with self._opener.open(f"{self.base_url}/api/onboarding", timeout=5) as answer:
                return bool(answer.status == HTTPStatus.OK)
        except urllib.error.HTTPError as err:
            return err.code == HTTPStatus.NOT_FOUND
        except urllib.error.URLError, OSError:
            return False

    def wait_until_answering(self, running: Callable[[], bool], timeout_s: float = 120.0) -> bool:
        """Wait until `answering`; False as soon as `running()` says the process is gone."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not running():
                return False
            if self.answering():
                return True
            time.sleep(0.5)
        msg = f"Home Assistant did not answer on {self.base_url} within {timeout_s:g} s"
        raise TimeoutError(msg)

    def wait_until_up(self, hass: Child, timeout_s: float = 120.0) -> None:
        """Wait until the frontend answers (HA's first start writes its storage first)."""
        try:
            up = self.wait_until_answering(lambda: hass.process.poll() is None, timeout_s)
        except TimeoutError as err:
            msg = f"{err}:\n{hass.tail()}"
            raise HassError(msg) from err
        if not up:
            msg = f"Home Assistant exited:\n{hass.tail()}"
            raise HassError(msg)

    def ws(self, *commands: dict[str, Any]) -> list[Any]:
        """
        Send websocket commands on one connection, in order; return their results.

        Raises `WebsocketCommandError` for the first command Home Assistant refuses (the
        ones after it are not sent). The connection runs in a thread of its own, so callers
        that are inside a running event loop (Playwright's sync API) can use it too.
        """
        with ThreadPoolExecutor(max_workers=1) as thread:
            return thread.submit(asyncio.run, self._ws(commands)).result()

    async def _ws(self, commands: tuple[dict[str, Any], ...]) -> list[Any]:
        url = f"ws{self.base_url.removeprefix('http')}/api/websocket"
        timeout = aiohttp.ClientTimeout(total=self.timeout_s)
        results = []
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.ws_connect(url) as socket_,
        ):
            await socket_.receive_json()  # auth_required
            await socket_.send_json({"type": "auth", "access_token": self.token})
            answer = await socket_.receive_json()
            if answer["type"] != "auth_ok":
                msg = f"Home Assistant refused the websocket login: {answer}"
                raise HassError(msg)
            for number, command in enumerate(commands, start=1):
                await socket_.send_json({"id": number, **command})
                answer = await socket_.receive_json()
                while answer.get("id") != number or answer["type"] != "result":
                    answer = await socket_.receive_json()
                if not answer["success"]:
                    error = answer["error"]
                    raise WebsocketCommandError(command["type"], error["code"], error["message"])
                results.append(answer["result"])
        return results

    # --- onboarding -----------------------------------------------------------------------

    def onboarded(self) -> bool:
        """Return whether the owner account exists already (onboarding cannot run twice)."""
        try:
            steps = self.request("GET", "/api/onboarding")
        except HassError as err:
            if "HTTP 404" in str(err):  # onboarding finished: the view is gone
                return True
            raise
        return any(step["step"] == "user" and step["done"] for step in steps)

    def onboard(self, *, username: str = DEMO_USER, password: str = DEMO_PASSWORD) -> None:
        """Create the owner, set the location defaults and finish onboarding; log in."""
        answer = self.request(
            "POST",
            "/api/onboarding/users",
            {
                "client_id": self.client_id,
                "name": "Demo",
                "username": username,
                "password": password,
                "language": "en",
            },
        )
        self._token_from_code(answer["auth_code"])
        # The core config step: the frontend saves the home's location and units, then
        # marks the step done.
        set_up_home(self)
        self.request("POST", "/api/onboarding/core_config", {})
        self.request("POST", "/api/onboarding/analytics", {})
        self.request(
            "POST",
            "/api/onboarding/integration",
            {"client_id": self.client_id, "redirect_uri": f"{self.base_url}/?auth_callback=1"},
        )

    def login(self, *, username: str = DEMO_USER, password: str = DEMO_PASSWORD) -> None:
        """Log in with a user's password (the login page's own flow); keep the token."""
        flow = self.request(
            "POST",
            "/auth/login_flow",
            {
                "client_id": self.client_id,
                "handler": ["homeassistant", None],
                "redirect_uri": f"{self.base_url}/?auth_callback=1",
            },
        )
        answer = self.request(
            "POST",
            f"/auth/login_flow/{flow['flow_id']}",
            {"client_id": self.client_id, "username": username, "password": password},
        )
        if answer.get("type") != "create_entry":
            msg = f"Home Assistant refused the login of {username}: {answer.get('errors')}"
            raise HassError(msg)
        self._token_from_code(answer["result"])

    def entry_ids(self, domain: str = "headroom") -> list[str]:
        """Return the ids of a domain's config entries (needs a token)."""
        entries = self.request("GET", f"/api/config/config_entries/entry?domain={domain}")
        return [str(entry["entry_id"]) for entry in entries]

    def _token_from_code(self, code: str) -> None:
        answer = self.request(
            "POST",
            "/auth/token",
            form={"grant_type": "authorization_code", "code": code, "client_id": self.client_id},
        )
        self.token = str(answer["access_token"])

    # --- the Headroom config flow ---------------------------------------------------------

    def add_site(self, pty: str, *, breaker_a: float = 25, timeout_s: float = 120.0) -> str:
        """
        Add the Headroom site on `pty` the way the UI does; return the config entry id.

        Picks what the scan found (the first meter, every charger), names the chargers
        after the demo's, a 25 A three-phase supply, and the suggested fail-safe current.
        """
        result = self.request("POST", "/api/config/config_entries/flow", {"handler": "headroom"})
        flow = f"/api/config/config_entries/flow/{result['flow_id']}"
        answers: dict[str, dict[str, Any]] = {
            "user": {"connection": "serial"},
            "serial": {"device": pty, "scan_all": False},
            "site": {"name": "Headroom", "supply": "three_phase", "breaker_a": breaker_a},
        }
        meter_label = ""

        def answer_for(form: dict[str, Any]) -> dict[str, Any]:
            nonlocal meter_label
            step = form["step_id"]
            answer = dict(answers.get(step, {}))
            if step == "meter":
                meter_label = _options(form, "meter")[0]["label"]
            if step == "chargers":
                # Take the chargers on the meter's line, should the scan list a device at
                # more than one line setting.
                line = meter_label.rpartition("(")[2]
                answer["chargers"] = [
                    o["value"] for o in _options(form, "chargers") if o["label"].endswith(line)
                ]
            if step == "charger":
                device_id = int(form["description_placeholders"]["device_id"])
                answer["name"] = CHARGER_NAMES.get(device_id, f"charger {device_id}")
                answer["phases"] = CHARGER_PHASES.get(device_id, "1_2_3")
            return answer

        result = self.drive_flow(flow, result, answer_for, what="config flow", timeout_s=timeout_s)
        return str(result["result"]["entry_id"])

    def drive_flow(
        self,
        flow: str,
        result: dict[str, Any],
        answer_for: Callable[[dict[str, Any]], dict[str, Any]],
        *,
        what: str,
        timeout_s: float = 120.0,
    ) -> dict[str, Any]:
        """
        Answer a flow's forms as the UI would until it creates its entry; return that result.

        `answer_for(form)` gives the fields to set on a form (the rest keep their defaults
        and suggested values); a progress step is polled. A form shown again with errors,
        an abort, or `timeout_s` passing raises `HassError` naming `what`.
        """
        deadline = time.monotonic() + timeout_s
        while result["type"] != "create_entry":
            if time.monotonic() > deadline:
                msg = f"the {what} did not finish within {timeout_s:g} s: {result}"
                raise HassError(msg)
            if result["type"] == "progress":
                time.sleep(0.5)
                result = self.request("GET", flow)
                continue
            if result["type"] != "form" or result.get("errors"):
                msg = f"the {what} stopped: {result}"
                raise HassError(msg)
            result = self.request("POST", flow, form_answer(result, answer_for(result)))
        return result

    def add_entity_charger(
        self, entry_id: str, answers: dict[str, Any] | None = None, *, timeout_s: float = 60.0
    ) -> str:
        """
        Add a charger controlled through Home Assistant; return its subentry id.

        The REST calls of "Add a charger controlled through Home Assistant" on the site's
        entry, with `answers` (default `DRIVEWAY`). Waits until its limit number has a
        value first: the flow checks the number's range.
        """
        answer = dict(DRIVEWAY if answers is None else answers)
        self.wait_for_state(str(answer["limit_entity"]), timeout_s=timeout_s)
        path = "/api/config/config_entries/subentries/flow"
        result = self.request(
            "POST", path, {"handler": [entry_id, "entity_charger"], "show_advanced_options": False}
        )
        if result["type"] != "form":
            msg = f"the charger flow did not open: {result}"
            raise HassError(msg)
        result = self.request("POST", f"{path}/{result['flow_id']}", form_answer(result, answer))
        if result["type"] != "create_entry":
            msg = f"the charger flow stopped: {result}"
            raise HassError(msg)
        subentries = self.ws({"type": "config_entries/subentries/list", "entry_id": entry_id})[0]
        for subentry in subentries:
            if subentry["title"] == answer["name"]:
                return str(subentry["subentry_id"])
        msg = f"the charger {answer['name']} is not among the site's subentries: {subentries}"
        raise HassError(msg)

    def entity_chargers(self, entry_id: str) -> list[str]:
        """Return the titles of the site's chargers controlled through Home Assistant."""
        subentries = self.ws({"type": "config_entries/subentries/list", "entry_id": entry_id})[0]
        return [str(sub["title"]) for sub in subentries if sub["subentry_type"] == "entity_charger"]

    def set_solar_source(
        self,
        entry_id: str,
        *,
        grid_power_entity: str = METER_POWER_ENTITY,
        start_delay_s: float = 10,
        stop_delay_s: float = 30,
    ) -> None:
        """Use the meter's own signed power as the PV surplus source (options flow)."""
        result = self.request(
            "POST", "/api/config/config_entries/options/flow", {"handler": entry_id}
        )
        flow = f"/api/config/config_entries/options/flow/{result['flow_id']}"
        answers: dict[str, dict[str, Any]] = {
            "solar": {
                "solar_source": "grid",
                "grid_power_entity": grid_power_entity,
                "solar_start_delay_s": start_delay_s,
                "solar_stop_delay_s": stop_delay_s,
            }
        }
        self.drive_flow(
            flow, result, lambda form: answers.get(form["step_id"], {}), what="options flow"
        )

    # --- states -------------------------------------------------------------------------

    def state(self, entity_id: str) -> dict[str, Any] | None:
        """Return an entity's state object, None when it does not exist."""
        try:
            return dict(self.request("GET", f"/api/states/{entity_id}"))
        except HassError as err:
            if "HTTP 404" in str(err):
                return None
            raise

    def wait_for_state(self, entity_id: str, timeout_s: float = 60.0) -> dict[str, Any]:
        """Wait until an entity exists and has a value."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            state = self.state(entity_id)
            if state is not None and state["state"] not in {"unknown", "unavailable"}:
                return state
            time.sleep(0.5)
        msg = f"{entity_id} had no value within {timeout_s:g} s"
        raise HassError(msg)


def _options(form: dict[str, Any], name: str) -> list[dict[str, str]]:
    """Return a select field's options as value/label pairs."""
    for item in form.get("data_schema", []):
        if item["name"] == name:
            return [
                option if isinstance(option, dict) else {"value": option, "label": option}
                for option in item["selector"]["select"]["options"]
            ]
    msg = f"the form {form.get('step_id')} has no field {name}"
    raise HassError(msg)


def form_answer(form: dict[str, Any], answer: dict[str, Any]) -> dict[str, Any]:
    """Fill a form's required fields from its defaults and suggested values, then `answer`."""
    filled: dict[str, Any] = {}
    for item in form.get("data_schema", []):
        name = item["name"]
        suggested = (item.get("description") or {}).get("suggested_value")
        if suggested is not None:
            filled[name] = suggested
        elif "default" in item:
            filled[name] = item["default"]
    filled.update(answer)
    return filled


def write_line(out: IO[str], text: str = "") -> None:
    """Print a line for the user and flush (scripts/develop reads it live)."""
    out.write(f"{text}\n")
    out.flush()


ONBOARD_OTHER_USER: Final = 3
"""`main_onboard`'s exit status when Home Assistant was onboarded with another user."""


def main_onboard(argv: list[str]) -> int:
    """
    `python -m tools.demo onboard URL PTY`: onboard as demo and add the demo site over REST.

    On a Home Assistant onboarded already it logs in as demo and adds the site when it is
    missing; when demo cannot log in (someone onboarded by hand) it says so and returns
    `ONBOARD_OTHER_USER`.
    """
    base_url, pty = argv
    client = HassClient(base_url.rstrip("/"))
    if not client.onboarded():
        client.onboard()
        write_line(sys.stdout, f"==> onboarded: user {DEMO_USER} / {DEMO_PASSWORD}")
    else:
        try:
            client.login()
        except HassError:
            write_line(
                sys.stdout,
                f"==> this Home Assistant was onboarded already, with a user other than"
                f" {DEMO_USER}: log in with that user (scripts/develop --reset --onboard"
                " starts over with a fresh configuration)",
            )
            return ONBOARD_OTHER_USER
        write_line(sys.stdout, f"==> onboarded already; logged in as {DEMO_USER}")
    if entries := client.entry_ids():
        write_line(
            sys.stdout, f"==> the Headroom site is there already (config entry {entries[0]})"
        )
        try:  # Home Assistant answers before it has set up its config entries
            client.wait_for_state(METER_POWER_ENTITY)
        except HassError as err:
            write_line(sys.stdout, f"==> no live values yet: {err}")
            return 0
        entry_id = entries[0]
    else:
        entry_id = client.add_site(pty)
        client.wait_for_state(METER_POWER_ENTITY)
        client.set_solar_source(entry_id)
        write_line(sys.stdout, f"==> Headroom site added (config entry {entry_id})")
    add_driveway(client, entry_id)
    added = set_up_dashboards(client, entry_id)
    write_line(sys.stdout, f"==> added {' and '.join(added)}" if added else "==> dashboards kept")
    return 0


def add_driveway(client: HassClient, entry_id: str) -> None:
    """
    Add the driveway's charger (through Home Assistant's modbus) unless it is there.

    The demo runs without it when it cannot be added (its entities never got a value, say):
    the site and the dashboards come first.
    """
    try:
        if DRIVEWAY["name"] in client.entity_chargers(entry_id):
            return
        client.add_entity_charger(entry_id)
    except (HassError, aiohttp.ClientError, OSError) as err:
        write_line(sys.stdout, f"==> the driveway's charger was not added: {err}")
        return
    write_line(
        sys.stdout,
        "==> added the driveway's charger, controlled through Home Assistant's modbus"
        " integration (its number.driveway_evse_current_limit)",
    )


def main_wait(argv: list[str]) -> int:
    """
    `python -m tools.demo wait URL PID TIMEOUT_S`: wait until Home Assistant answers.

    Returns 0 once it answers, 1 when the process PID is gone first, 2 after TIMEOUT_S.
    """
    base_url, pid, timeout_s = argv
    client = HassClient(base_url.rstrip("/"))
    try:
        up = client.wait_until_answering(lambda: process_running(int(pid)), float(timeout_s))
    except TimeoutError:
        return 2
    return 0 if up else 1


def process_running(pid: int) -> bool:
    """Return whether process `pid` exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    # pid (comm) state ...: comm may hold spaces and parentheses, the state follows the last ")"
    return stat.rpartition(")")[2].split()[0] != "Z"
