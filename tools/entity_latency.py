"""
End-to-end latency of the entity path: a meter sensor's change to the charger's new limit.

    .venv/bin/python -m tools.entity_latency [--steps 20] [--seed 1] [--json]

A benchmark, not a test (about 15 s a step). A real Home Assistant (`hass`, a child process
with a fresh configuration) runs this integration with a site whose meter and charger are
both entities of other integrations, nothing Headroom knows:
- the meter: three trigger-based `template` sensors (A, device class current) that render
  `input_number.house_lN` plus the charger's limit (the car follows at once) once a second,
  as a P1/DSMR reader sends a telegram a second;
- the charger: a `template` number whose `set_value` sets `input_number.evse_limit`, and
  three template current sensors that report that limit (the car follows at once), added
  as an entity charger subentry (no status), response time 2 s, no minimum time between
  writes.
The site has no RS-485 port or gateway at all (the setup flow's "devices Home Assistant
already has"). Each step raises `input_number.house_l1` by 2 A
at a random moment of the one-second cycle, so that the engine must cut; the latency is
Home Assistant's own `last_changed` of `input_number.evse_limit` (set by the template
number's `set_value`, which Headroom called with `number.set_value`) minus that of
`input_number.house_l1` (whose change re-renders the meter sensor at once). The house
load then drops back and the limit climbs again (not counted).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from custom_components.headroom.const import CONNECTION_ENTITIES
from tools.demo.harness import (
    HassClient,
    HassError,
    form_answer,
    free_port,
    prepare_config,
    start_hass,
)

if TYPE_CHECKING:
    from tools.demo.harness import Child

BREAKER_A: Final = 25.0
MARGIN_A: Final = 1.0
CAR_MAX_A: Final = 16.0
BASE_HOUSE_A: Final = BREAKER_A - MARGIN_A - CAR_MAX_A
STEP_A: Final = 2.0
CUT_TIMEOUT_S: Final = 10.0
RECOVER_TIMEOUT_S: Final = 60.0

ENTITY_CONFIG: Final = """
input_number:
  house_l1: {min: 0, max: 40, step: 0.1, initial: %(base)s}
  house_l2: {min: 0, max: 40, step: 0.1, initial: 2}
  house_l3: {min: 0, max: 40, step: 0.1, initial: 2}
  evse_limit: {min: 0, max: 32, step: 1, initial: 6}
template:
  - trigger:
      - trigger: time_pattern
        seconds: "/1"
      - trigger: state
        entity_id: [input_number.house_l1, input_number.house_l2, input_number.house_l3,
                    input_number.evse_limit]
    sensor:
%(sensors)s
  - number:
      - name: evse limit
        unique_id: evse_limit
        state: "{{ states('input_number.evse_limit') | float(0) }}"
        min: 0
        max: 32
        step: 1
        unit_of_measurement: A
        set_value:
          - action: input_number.set_value
            target: {entity_id: input_number.evse_limit}
            data: {value: "{{ value }}"}
"""
EVSE_SENSOR: Final = """\
      - name: evse current l%(n)s
        unique_id: evse_current_l%(n)s
        unit_of_measurement: A
        device_class: current
        state: "{{ states('input_number.evse_limit') | float(0) }}"
"""
SENSOR: Final = """\
      - name: p1 current l%(n)s
        unique_id: p1_current_l%(n)s
        unit_of_measurement: A
        device_class: current
        state: >-
          {{ (states('input_number.house_l%(n)s') | float(0)
              + states('input_number.evse_limit') | float(0)) | round(0) }}
"""


def entity_config() -> str:
    """Return the configuration.yaml part that makes the meter and charger entities."""
    sensors = "".join(sensor % {"n": n} for sensor in (SENSOR, EVSE_SENSOR) for n in (1, 2, 3))
    return ENTITY_CONFIG % {"base": BASE_HOUSE_A, "sensors": sensors.rstrip("\n")}


def add_entity_site(client: HassClient, timeout_s: float = 120.0) -> str:
    """Add a site of entities only (no RS-485 port or gateway); return its entry id."""
    result = client.request("POST", "/api/config/config_entries/flow", {"handler": "headroom"})
    flow = f"/api/config/config_entries/flow/{result['flow_id']}"
    answers: dict[str, dict[str, Any]] = {
        "user": {"connection": CONNECTION_ENTITIES},
        "meter_entities": {"current_entities": [f"sensor.p1_current_l{n}" for n in (1, 2, 3)]},
        "site": {"name": "Headroom", "supply": "three_phase", "breaker_a": BREAKER_A},
        "chargers": {"chargers": []},
        "fail_safe": {"fail_safe_a": 6},
    }
    result = client.drive_flow(
        flow,
        result,
        lambda form: answers.get(form["step_id"], {}),
        what="config flow",
        timeout_s=timeout_s,
    )
    entry_id = str(result["result"]["entry_id"])
    sub = client.request(
        "POST",
        "/api/config/config_entries/subentries/flow",
        {"handler": [entry_id, "entity_charger"]},
    )
    sub_flow = f"/api/config/config_entries/subentries/flow/{sub['flow_id']}"
    answer = form_answer(
        sub,
        {
            "name": "Evse",
            "limit_entity": "number.evse_limit",
            "pause": "number_minimum",
            "status_mapping": "none",
            "current_entities": [f"sensor.evse_current_l{n}" for n in (1, 2, 3)],
            "response_s": 2,
            "min_write_interval_s": 0,
            "phases": "1_2_3",
            "max_a": CAR_MAX_A,
        },
    )
    done = client.request("POST", sub_flow, answer)
    if done.get("type") != "create_entry":
        msg = f"the entity charger flow ended with {done}"
        raise HassError(msg)
    return entry_id


def _changed_at(state: dict[str, Any]) -> float:
    return datetime.fromisoformat(state["last_changed"]).timestamp()


def _limit(client: HassClient) -> tuple[float, float]:
    state = client.state("input_number.evse_limit")
    if state is None:
        msg = "input_number.evse_limit is gone"
        raise HassError(msg)
    return float(state["state"]), _changed_at(state)


def _set_house(client: HassClient, value: float) -> float:
    client.request(
        "POST",
        "/api/services/input_number/set_value",
        {"entity_id": "input_number.house_l1", "value": value},
    )
    state = client.state("input_number.house_l1")
    if state is None:
        msg = "input_number.house_l1 is gone"
        raise HassError(msg)
    return _changed_at(state)


def _wait_limit(client: HassClient, done: Any, timeout_s: float) -> tuple[float, float]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        limit, at = _limit(client)
        if done(limit):
            return limit, at
        time.sleep(0.02)
    msg = f"the limit did not move within {timeout_s:g} s"
    raise HassError(msg)


def run_steps(client: HassClient, steps: int, seed: int, hass: Child) -> list[float]:
    """Step the house load `steps` times; return each cut's latency in seconds."""
    rng = random.Random(seed)  # noqa: S311 (moments of a cycle, not secrets)
    _wait_limit(client, lambda limit: limit >= CAR_MAX_A, RECOVER_TIMEOUT_S)
    latencies: list[float] = []
    for _ in range(steps):
        if hass.process.poll() is not None:
            msg = f"Home Assistant exited:\n{hass.tail()}"
            raise HassError(msg)
        time.sleep(rng.random())  # a random moment of the cycle
        stepped_at = _set_house(client, BASE_HOUSE_A + STEP_A)
        _, cut_at = _wait_limit(client, lambda limit: limit <= CAR_MAX_A - STEP_A, CUT_TIMEOUT_S)
        latencies.append(cut_at - stepped_at)
        _set_house(client, BASE_HOUSE_A)
        _wait_limit(client, lambda limit: limit >= CAR_MAX_A, RECOVER_TIMEOUT_S)
    return latencies


async def measure(steps: int, seed: int, workdir: Path) -> list[float]:
    """Run Home Assistant with the entities and a site made of them only; measure."""
    hass: Child | None = None
    try:
        port = free_port()
        config = workdir / "config"
        prepare_config(config)
        with (config / "configuration.yaml").open("a") as yaml:
            yaml.write(entity_config())
        hass = start_hass(config, workdir / "hass.log", port=port)
        client = HassClient(f"http://127.0.0.1:{port}")
        await asyncio.to_thread(client.wait_until_up, hass)
        await asyncio.to_thread(client.onboard)
        await asyncio.to_thread(client.wait_for_state, "sensor.p1_current_l1")
        await asyncio.to_thread(add_entity_site, client)
        return await asyncio.to_thread(run_steps, client, steps, seed, hass)
    finally:
        if hass is not None:
            await asyncio.to_thread(hass.stop)


def main(argv: list[str] | None = None) -> int:
    """Measure and print the latency figures (ms)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="headroom-entity-latency-") as tmp:
        latencies = asyncio.run(measure(args.steps, args.seed, Path(tmp)))
    ms = sorted(latency * 1000 for latency in latencies)
    figures = {
        "steps": len(ms),
        "median_ms": round(statistics.median(ms)),
        "p90_ms": round(ms[min(len(ms) - 1, int(0.9 * len(ms)))]),
        "max_ms": round(ms[-1]),
        "min_ms": round(ms[0]),
    }
    if args.json:
        sys.stdout.write(json.dumps(figures) + "\n")
    else:
        sys.stdout.write(
            "entity meter change -> number.set_value: "
            + ", ".join(f"{key} {value}" for key, value in figures.items())
            + "\n"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
