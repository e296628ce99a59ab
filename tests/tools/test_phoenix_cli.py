"""
Phoenix Contact EV-SER / EV-ETH / CHARX on the simulator at their factory settings:
`scripts/scan` finds each, `scripts/read` decodes it, the coil pauses over real frames
(pymodbus against the simulator's own framing), and each keeps its last limit when Home
Assistant stops. A mixed bus and a gateway with first- and second-wave devices.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from custom_components.headroom.devices.bus import Bus, SerialSettings, TcpSettings
from custom_components.headroom.devices.chargers import create_charger
from custom_components.headroom.devices.discovery import Scanner, SerialLine
from custom_components.headroom.devices.errors import DeviceRefused, Unsupported
from custom_components.headroom.devices.registers import get_profile
from tests.devices.quick_probes import QuickProbeBus
from tests.tools.test_second_wave_cli import _cli, _start, quick_scan
from tools import read
from tools.simulator.personalities import PhoenixEvEthDevice, PhoenixEvSerDevice
from tools.simulator.simulator import DeviceSpec, Simulator

ETH = "phoenix_ev_eth"
SER = "phoenix_ev_ser"
CHARX = "phoenix_charx"


@pytest.fixture
async def tcp_chargers(tmp_path: Path, socket_enabled: None) -> AsyncIterator[Simulator]:
    del socket_enabled
    simulator = await _start(
        tmp_path,
        [DeviceSpec(ETH, 255, "garage"), DeviceSpec(CHARX, 1, "driveway")],
        native_tcp_port=0,
    )
    yield simulator
    await simulator.close()


async def test_ev_eth_and_charx_scanned_and_read(
    tcp_chargers: Simulator, capsys: pytest.CaptureFixture[str]
) -> None:
    where = ["--tcp", f"127.0.0.1:{tcp_chargers.endpoints().native_tcp_port}"]
    code, out, err = await _cli(quick_scan, [*where, "--json"], capsys)
    assert code == 0, err
    assert [(d["kind"], d["model"], d["device_id"]) for d in json.loads(out)] == [
        ("charger", CHARX, 1),
        ("charger", ETH, 255),
    ]
    code, out, err = await _cli(
        read.main, [*where, "--model", ETH, "--id", "255", "--json"], capsys
    )
    assert (code, err) == (0, "")
    values = json.loads(out)["values"]
    assert (values["state"], values["current_limit"]) == ("C", 16)
    assert values["current_l1"] == pytest.approx(16, abs=0.5)  # whole amperes
    code, out, err = await _cli(
        read.main, [*where, "--model", CHARX, "--id", "1", "--json"], capsys
    )
    assert (code, err) == (0, "")
    values = json.loads(out)["values"]
    assert (values["state"], values["current_limit"]) == ("C", 16)
    assert values["current_l1"] == pytest.approx(16, abs=0.05)  # mA
    assert not any(d.requests == 0 for d in tcp_chargers.tcp_devices.values())


async def test_ev_eth_pauses_through_its_coil_and_keeps_its_limit_when_ha_stops(
    tcp_chargers: Simulator,
) -> None:
    port = tcp_chargers.endpoints().native_tcp_port
    assert port is not None
    device = tcp_chargers.tcp_devices[255]
    assert isinstance(device, PhoenixEvEthDevice)
    bus = Bus(TcpSettings("127.0.0.1", port), timeout_s=1.0)
    await bus.connect()
    try:
        charger = create_charger(bus.device(255), get_profile(ETH))
        with pytest.raises(Unsupported, match="keeps charging at the last limit"):
            await charger.arm_watchdog(timeout_s=20, failsafe_a=6)
        await charger.read()
        await charger.set_limit(10)
        assert device.applied_a == 10
        await charger.set_limit(0)  # coil 400 off, FC 5
        assert (device.applied_a, device.settings["current_limit"]) == (0, 10)
        assert (await charger.read()).setpoint_a == 0
        await charger.set_limit(12)
        assert device.applied_a == 12
        tcp_chargers.advance(600.0)  # Home Assistant stopped
        assert device.applied_a == 12
        # The coil functions reach the device as the hardware sees them.
        assert await bus.device(255).read_coils(400, 1) == [1]
        with pytest.raises(DeviceRefused):
            await bus.device(255).write_coil(419, on=True)  # the card reader: read-only
    finally:
        await bus.close()


@pytest.fixture
async def ev_ser(tmp_path: Path) -> AsyncIterator[Simulator]:
    simulator = await _start(tmp_path, [DeviceSpec(SER, 1, "garage")])
    yield simulator
    await simulator.close()


async def test_ev_ser_scanned_at_factory_settings_and_read_says_what_to_set(
    ev_ser: Simulator, capsys: pytest.CaptureFixture[str]
) -> None:
    where = ["--port", str(ev_ser.endpoints().pty)]  # the default lines, as shipped
    code, out, err = await _cli(quick_scan, [*where, "--json"], capsys)
    assert code == 0, err
    assert [(d["model"], d["device_id"], d["baudrate"]) for d in json.loads(out)] == [
        (SER, 1, 9600)
    ]
    argv = [*where, "--model", SER, "--id", "1", "--json"]
    code, _, err = await _cli(read.main, argv, capsys)
    assert code == 1
    assert "register 4000 = 1, must be 3" in err
    device = ev_ser.devices[1]
    assert isinstance(device, PhoenixEvSerDevice)
    device.apply("enable_mode", 3)  # the installer's setting: the coil (off) now counts
    ev_ser.advance(1.0)
    code, out, err = await _cli(read.main, argv, capsys)
    assert (code, err) == (0, "")
    values = json.loads(out)["values"]
    assert (values["state"], values["current_limit"]) == ("B", 0)  # coil off after power-up
    assert "current_l1" not in values  # no meter


async def test_ev_ser_coil_pause_on_the_wire_and_a_power_cut(ev_ser: Simulator) -> None:
    device = ev_ser.devices[1]
    assert isinstance(device, PhoenixEvSerDevice)
    device.apply("enable_mode", 3)
    path = ev_ser.endpoints().pty
    assert path is not None
    bus = Bus(SerialSettings(path, 9600), timeout_s=1.0)
    await bus.connect()
    try:
        charger = create_charger(bus.device(1), get_profile(SER))
        await charger.read()
        await charger.set_limit(16)
        assert device.applied_a == 16
        await charger.set_limit(0)
        assert device.applied_a == 0
        await charger.set_limit(10)
        assert device.applied_a == 10
        device.power_cycle()  # coil and limit are volatile
        assert device.applied_a == 0
        await charger.read()
        await charger.maintain()  # the limit and the coil written again
        assert device.applied_a == 10
        ev_ser.advance(600.0)  # Home Assistant stopped: nothing falls back
        assert device.applied_a == 10
    finally:
        await bus.close()


MIXED = (
    DeviceSpec(SER, 1, "garage"),
    DeviceSpec("eastron_sdm630", 2),
    DeviceSpec("heidelberg_energy_control", 3, "driveway"),
    DeviceSpec("finder_7m38", 4),
    DeviceSpec("bernecker_mpm3pm", 5),
    DeviceSpec("schneider_iem3x5x", 6),
)


async def test_mixed_bus_and_gateway_with_an_ev_ser(tmp_path: Path, socket_enabled: None) -> None:
    del socket_enabled
    simulator = await _start(tmp_path, MIXED, rtu_over_tcp_port=0)
    try:
        expected = [(s.device_id, s.model) for s in MIXED]
        endpoints = simulator.endpoints()
        before = {i: dict(d.settings) for i, d in simulator.devices.items()}
        lines = [SerialLine(9600, "N", 1)]
        on_the_line = await Scanner(bus_factory=QuickProbeBus).scan_serial(
            str(endpoints.pty), lines=lines
        )
        assert [(d.device_id, d.model) for d in on_the_line.devices] == expected
        assert endpoints.rtu_over_tcp_port is not None
        gateway = await Scanner(bus_factory=QuickProbeBus).scan_tcp(
            "127.0.0.1", endpoints.rtu_over_tcp_port, rtu_framing=True
        )
        assert [(d.device_id, d.model) for d in gateway.devices] == expected
        assert {i: dict(d.settings) for i, d in simulator.devices.items()} == before
    finally:
        await simulator.close()
