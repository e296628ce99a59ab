"""`scripts/read`: every first-wave model read from the simulator, the JSON contract, errors."""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from custom_components.headroom.devices.discovery import FIRST_WAVE_CHARGERS, FIRST_WAVE_METERS
from custom_components.headroom.devices.registers import get_profile
from tools import read
from tools.simulator.line import LineSettings
from tools.simulator.simulator import DeviceSpec, Simulator
from tools.simulator.site import StaticCharger, StaticSite

ROOT = Path(__file__).resolve().parents[2]
HOUSE_A = (4.0, 2.0, 1.0)
RS485_CHARGERS = [m for m in FIRST_WAVE_CHARGERS if get_profile(m).serial is not None]
# One line at 9600 8N1 (a pty keeps no parity): every RS-485 model at its own id.
SPECS = [
    *(DeviceSpec(model, device_id) for device_id, model in enumerate(FIRST_WAVE_METERS, start=1)),
    *(
        DeviceSpec(model, device_id, model)
        for device_id, model in enumerate(RS485_CHARGERS, start=len(FIRST_WAVE_METERS) + 1)
    ),
]
ALFEN = DeviceSpec("alfen_eve", 1, "alfen_eve")
LINE = "9600:N:1"


@pytest.fixture
async def simulator(tmp_path: Path, socket_enabled: None) -> AsyncIterator[Simulator]:
    del socket_enabled
    site = StaticSite(
        house_currents_a=HOUSE_A,
        chargers=[StaticCharger(name=m, response_s=0.0) for m in FIRST_WAVE_CHARGERS],
    )
    sim = Simulator(
        site,
        [*SPECS, ALFEN],
        line=LineSettings(9600, "N", 1),
        link=tmp_path / "ttyRS485",
        modbus_tcp_port=None,
        rtu_over_tcp_port=None,
        native_tcp_port=0,
    )
    await sim.start()
    yield sim
    await sim.close()


async def _read(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    # main() runs its own event loop: in a thread, while the simulator serves on this one.
    code = await asyncio.to_thread(read.main, argv)
    out, err = capsys.readouterr()
    return code, out, err


def _where(simulator: Simulator, spec: DeviceSpec) -> list[str]:
    endpoints = simulator.endpoints()
    if spec is ALFEN:
        return ["--tcp", f"127.0.0.1:{endpoints.native_tcp_port}"]
    return ["--port", str(endpoints.pty), "--line", LINE]


@pytest.mark.parametrize("spec", [*SPECS, ALFEN], ids=lambda s: s.model)
async def test_reads_every_first_wave_model(
    simulator: Simulator, spec: DeviceSpec, capsys: pytest.CaptureFixture[str]
) -> None:
    profile = get_profile(spec.model)
    argv = [*_where(simulator, spec), "--model", spec.model, "--id", str(spec.device_id)]
    code, out, err = await _read([*argv, "--json"], capsys)
    assert (code, err) == (0, "")
    document = json.loads(out)
    assert set(document) == {"kind", "model", "device_id", "values"}
    assert (document["kind"], document["model"], document["device_id"]) == (
        profile.kind,
        spec.model,
        spec.device_id,
    )
    values = document["values"]
    assert all(v is None or isinstance(v, int | float | str) for v in values.values())
    if profile.kind == "meter":
        # after every scale the driver applies: A, V, W, kWh, Hz (the grid: house + cars)
        grid = simulator.site.grid_currents_a()
        assert values["current_l1"] == pytest.approx(grid[0], abs=0.05)
        assert values["voltage_l1"] == pytest.approx(230.0, abs=0.5)
        phases = 3 if profile.phases == 3 else 1
        assert values["power_total"] == pytest.approx(230.0 * sum(grid[:phases]), rel=0.01)
        if phases == 3:
            assert [values["current_l2"], values["current_l3"]] == pytest.approx(grid[1:], abs=0.05)
        else:
            assert "current_l2" not in values
        assert values["energy_import"] > 0
        if "frequency" in values:
            assert values["frequency"] == pytest.approx(50.0)
    else:
        # The simulated car is plugged in; no limit yet, but an Alfen applies its safe
        # current (6 A, read from 1206) after a reboot, so that car charges.
        assert values["state"] == ("C" if spec is ALFEN else "B")
        assert values["current_limit"] == (6 if spec is ALFEN else 0)
        if profile.has("current_l1"):
            assert isinstance(values["current_l1"], float)
    code, table, err = await _read(argv, capsys)
    assert (code, err) == (0, "")
    assert spec.model in table.splitlines()[0]


async def test_scaled_values_and_ratios_reach_the_output(
    simulator: Simulator, capsys: pytest.CaptureFixture[str]
) -> None:
    dtsu = next(s for s in SPECS if s.model == "chint_dtsu666")
    simulator.devices[dtsu.device_id].settings["ct_ratio"] = 40  # a CT-fed meter
    argv = [*_where(simulator, dtsu), "--model", dtsu.model, "--id", str(dtsu.device_id)]
    code, out, _ = await _read([*argv, "--json"], capsys)
    assert code == 0
    values = json.loads(out)["values"]
    grid_l1 = simulator.site.grid_currents_a()[0]
    assert values["current_l1"] == pytest.approx(grid_l1, abs=0.05)  # not 1/40 of it
    assert values["energy_import"] is None  # unknown with a CT: null, not a wrong number


async def test_never_writes(simulator: Simulator, capsys: pytest.CaptureFixture[str]) -> None:
    before = {i: dict(d.settings) for i, d in simulator.devices.items()}
    alfen_before = dict(simulator.tcp_devices[1].settings)
    for spec in [*SPECS, ALFEN]:
        argv = [*_where(simulator, spec), "--model", spec.model, "--id", str(spec.device_id)]
        assert (await _read(argv, capsys))[0] == 0
    assert {i: dict(d.settings) for i, d in simulator.devices.items()} == before
    assert dict(simulator.tcp_devices[1].settings) == alfen_before


async def test_wrong_model_is_one_line(
    simulator: Simulator, capsys: pytest.CaptureFixture[str]
) -> None:
    meter = SPECS[0]  # an SDM630 read as a Heidelberg wallbox
    argv = [*_where(simulator, meter), "--model", "heidelberg_energy_control", "--id", "1"]
    code, out, err = await _read([*argv, "--json"], capsys)
    assert code == 1
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert err.startswith("scripts/read: heidelberg_energy_control at id 1: ")


async def test_unreachable_device_is_one_line(
    simulator: Simulator, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [*_where(simulator, SPECS[0]), "--model", "eastron_sdm630", "--id", "99", "--json"]
    code, out, err = await _read(argv, capsys)
    assert (code, out) == (1, "")
    assert len(err.strip().splitlines()) == 1
    assert err.startswith("scripts/read: eastron_sdm630 at id 99: ")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--port", "/dev/ttyNOPE9", "--model", "eastron_sdm630", "--id", "1"], "no such serial"),
        (["--tcp", "h:502", "--model", "no_such_meter", "--id", "1"], "unknown model"),
        (["--tcp", "h:502", "--model", "delta_ac_max", "--id", "1"], "no driver"),
        (["--tcp", "h:502", "--model", "eastron_sdm630", "--id", "0"], "1..255"),
        (["--port", "/dev/ttyNOPE9", "--model", "eastron_sdm630", "--id", "248"], "1..247"),
        (["--tcp", "h:502", "--line", LINE, "--model", "eastron_sdm630", "--id", "1"], "--port"),
    ],
)
def test_bad_input_is_one_line(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert read.main(argv) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert message in err
    assert "Traceback" not in err


def test_unreachable_gateway_is_one_line(
    capsys: pytest.CaptureFixture[str], socket_enabled: None
) -> None:
    del socket_enabled  # nothing listens on loopback port 9: connection refused
    assert read.main(["--tcp", "127.0.0.1:9", "--model", "eastron_sdm630", "--id", "1"]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


async def test_script_matches_the_contract(
    simulator: Simulator, capsys: pytest.CaptureFixture[str]
) -> None:
    del capsys
    meter = SPECS[0]
    process = await asyncio.create_subprocess_exec(
        str(ROOT / "scripts/read"),
        *_where(simulator, meter),
        "--model",
        meter.model,
        "--id",
        str(meter.device_id),
        "--json",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode == 0, err.decode()
    document = json.loads(out)
    assert document["model"] == "eastron_sdm630"
    assert document["kind"] == "meter"
    grid_l1 = simulator.site.grid_currents_a()[0]
    assert document["values"]["current_l1"] == pytest.approx(grid_l1, abs=0.05)
    assert not math.isnan(document["values"]["voltage_l1"])
