"""Cross-check: Debian's mbpoll (libmodbus) reads the simulator and decodes what it serves.

mbpoll shares no code with the simulator, the product's codec or pymodbus, so the
simulator and the drivers cannot share one misunderstanding of word order, scale or
addressing without this test noticing.
"""

from __future__ import annotations

import asyncio
import re
import shutil
from pathlib import Path

import pytest

from custom_components.headroom.devices.registers import decode, get_profile
from tools.simulator import DeviceSpec, LineSettings, Simulator, StaticCharger, StaticSite
from tools.simulator.pty_server import baud_constant

pytestmark = pytest.mark.skipif(shutil.which("mbpoll") is None, reason="mbpoll is missing")

LINE = LineSettings(19200, "E", 1)
HOUSE_A = (3.0, 2.0, 1.5)
VALUE_LINE = re.compile(r"^\[(\d+)\]:\s+(\S+)", re.MULTILINE)


@pytest.fixture
async def simulator(tmp_path: Path, socket_enabled):
    del socket_enabled
    site = StaticSite(
        house_currents_a=HOUSE_A, chargers=[StaticCharger(name="garage", response_s=0.0)]
    )
    sim = Simulator(
        site,
        [
            DeviceSpec("eastron_sdm630", 1),
            DeviceSpec("heidelberg_energy_control", 2, "garage"),
            DeviceSpec("carlogavazzi_em3xx", 4),
        ],
        line=LINE,
        link=tmp_path / "ttyRS485",
        native_tcp_port=None,
    )
    await sim.start()
    yield sim
    await sim.close()


async def mbpoll(*args: str) -> tuple[int, dict[int, str]]:
    """Run mbpoll once (PDU addressing) and return its exit code and values by address."""
    process = await asyncio.create_subprocess_exec(
        "mbpoll",
        "-0",
        "-1",
        "-o",
        "0.5",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 10)
    assert process.returncode is not None
    values = {int(address): value for address, value in VALUE_LINE.findall(output.decode())}
    return process.returncode, values


def rtu(simulator: Simulator, *args: str, baud: int = 19200, write: str | None = None) -> list[str]:
    """mbpoll arguments for the pty: options, the device, then any value to write."""
    endpoints = simulator.endpoints()
    assert endpoints.pty is not None
    values = [] if write is None else [write]
    return ["-m", "rtu", "-b", str(baud), "-P", "even", *args, endpoints.pty, *values]


async def test_sdm630_floats_over_rtu(simulator: Simulator):
    args = ("-a", "1", "-t", "3:float", "-B", "-r", "0", "-c", "6")
    code, values = await mbpoll(*rtu(simulator, *args))
    assert code == 0
    assert [float(values[address]) for address in (0, 2, 4)] == [230.0, 230.0, 230.0]
    assert [float(values[address]) for address in (6, 8, 10)] == list(HOUSE_A)
    # The simulator's baud check saw the speed mbpoll set with -b.
    assert simulator.pty is not None
    assert simulator.pty.last_client_speed == baud_constant(19200)


async def test_carlo_gavazzi_int32_word_swapped(simulator: Simulator):
    # mbpoll's default 32-bit word order is low word first: CDAB.
    code, values = await mbpoll(*rtu(simulator, "-a", "4", "-t", "3:int", "-r", "0", "-c", "1"))
    assert code == 0
    assert int(values[0]) == 2300  # 230.0 V at 0.1 V
    code, values = await mbpoll(*rtu(simulator, "-a", "4", "-t", "3:int", "-r", "12", "-c", "3"))
    assert code == 0
    assert [int(values[address]) for address in (12, 14, 16)] == [3000, 2000, 1500]
    # The same words, through the product's codec, give the same amps.
    current = get_profile("carlogavazzi_em3xx").register("current_l1")
    words = simulator.devices[4].read(4, 4, 12, 2)
    assert decode(current, words) == pytest.approx(3.0)


async def test_heidelberg_uint16_and_a_limit_write(simulator: Simulator):
    code, _ = await mbpoll(*rtu(simulator, "-a", "2", "-t", "4", "-r", "261", write="100"))
    assert code == 0
    heidelberg = simulator.devices[2]
    assert simulator.site.charger_view("garage").setpoint_a == 10.0
    assert heidelberg.settings["current_limit"] == 10.0
    simulator.advance(0.1)
    code, values = await mbpoll(*rtu(simulator, "-a", "2", "-t", "3", "-r", "4", "-c", "5"))
    assert code == 0
    assert [int(values[address]) for address in range(4, 9)] == [0x0108, 7, 100, 100, 100]


async def test_wrong_baud_rate_gets_no_answer(simulator: Simulator):
    code, values = await mbpoll(*rtu(simulator, "-a", "1", "-t", "3", "-r", "0", baud=9600))
    assert code != 0
    assert values == {}
    assert simulator.pty is not None
    assert simulator.pty.noise_bytes > 0
    assert simulator.pty.last_client_speed == baud_constant(9600)


async def test_unknown_id_gets_no_answer(simulator: Simulator):
    code, values = await mbpoll(*rtu(simulator, "-a", "9", "-t", "3", "-r", "0"))
    assert code != 0
    assert values == {}


async def test_modbus_tcp_gateway(simulator: Simulator):
    port = simulator.endpoints().modbus_tcp_port
    args = ["-m", "tcp", "-p", str(port), "-a", "1", "-t", "3:float", "-B", "-r", "52", "-c", "1"]
    code, values = await mbpoll(*args, "127.0.0.1")
    assert code == 0
    assert float(values[52]) == pytest.approx(230.0 * sum(HOUSE_A))
