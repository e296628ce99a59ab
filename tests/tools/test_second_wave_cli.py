"""
The second-wave meters on the simulator: `scripts/scan` finds each at its factory settings
and `scripts/read` decodes it; a mixed bus and a gateway with both waves.

A pty carries no parity (the kernel refuses PARENB here), so a meter that ships with even
parity is scanned at its baud rate and 8N1; FakeBus tests in `tests/devices` cover parity.
"""

from __future__ import annotations

import asyncio
import functools
import json
import socket
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from custom_components.headroom.devices.bus import Bus, TcpSettings
from custom_components.headroom.devices.chargers import create_charger
from custom_components.headroom.devices.discovery import SECOND_WAVE_METERS, Scanner, SerialLine
from custom_components.headroom.devices.errors import Unsupported
from custom_components.headroom.devices.registers import get_profile
from tests.devices.quick_probes import QuickProbeBus
from tools import read, scan
from tools.simulator.line import LineSettings
from tools.simulator.personalities import BenderDevice
from tools.simulator.simulator import DeviceSpec, Simulator
from tools.simulator.site import StaticCharger, StaticSite

HOUSE_A = (4.0, 2.0, 1.0)
SERIAL_METERS = [m for m in SECOND_WAVE_METERS if get_profile(m).serial is not None]
SHELLY = "shelly_pro_3em"
quick_scan = functools.partial(scan.main, bus_factory=QuickProbeBus)
"""`scripts/scan` on a real bus that waits less at each silent id (tests/devices/quick_probes)."""


def _site() -> StaticSite:
    return StaticSite(
        house_currents_a=HOUSE_A,
        chargers=[StaticCharger(name=n, response_s=0.0) for n in ("garage", "driveway")],
    )


async def _start(
    tmp_path: Path, devices: Sequence[DeviceSpec], *, baudrate: int = 9600, **ports: int | None
) -> Simulator:
    simulator = Simulator(
        _site(),
        devices,
        line=LineSettings(baudrate, "N", 1),
        link=tmp_path / "ttyRS485",
        **{"modbus_tcp_port": None, "rtu_over_tcp_port": None, "native_tcp_port": None} | ports,
    )
    await simulator.start()
    return simulator


async def _cli(
    main: Callable[[list[str]], int], argv: list[str], capsys: pytest.CaptureFixture[str]
) -> tuple[int, str, str]:
    # main() runs its own event loop: in a thread, while the simulator serves on this one.
    code = await asyncio.to_thread(main, argv)
    out, err = capsys.readouterr()
    return code, out, err


async def _scan_and_read_at_255(
    simulator: Simulator, model: str, capsys: pytest.CaptureFixture[str]
) -> dict[str, Any]:
    """Scan the charger's own socket (found as `model` at unit 255); read it; its values."""
    where = ["--tcp", f"127.0.0.1:{simulator.endpoints().native_tcp_port}"]
    code, out, err = await _cli(quick_scan, [*where, "--json"], capsys)
    assert code == 0, err
    assert [(d["kind"], d["model"], d["device_id"]) for d in json.loads(out)] == [
        ("charger", model, 255)
    ]
    code, out, err = await _cli(
        read.main, [*where, "--model", model, "--id", "255", "--json"], capsys
    )
    assert (code, err) == (0, "")
    values: dict[str, Any] = json.loads(out)["values"]
    return values


def _check_values(model: str, values: dict[str, object], grid: Sequence[float]) -> None:
    """What the simulated site shows, after every scale the driver applies."""
    profile = get_profile(model)
    phases = 3 if profile.phases == 3 else 1
    assert values["power_total"] == pytest.approx(230.0 * sum(grid[:phases]), rel=0.01)
    if model == "eastron_sdm72dm_v1":  # totals only
        assert set(values) == {"power_total", "energy_import", "energy_export"}
    else:
        assert values["current_l1"] == pytest.approx(grid[0], abs=0.05)
        assert values["voltage_l1"] == pytest.approx(230.0, abs=0.5)
        if phases == 3:
            assert [values["current_l2"], values["current_l3"]] == pytest.approx(grid[1:], abs=0.05)
    if "frequency" in values:
        assert values["frequency"] == pytest.approx(50.0)
    if "energy_import" in values:
        assert isinstance(values["energy_import"], float)
        assert values["energy_import"] > 0


@pytest.mark.parametrize("model", SERIAL_METERS)
async def test_scan_and_read_each_serial_meter_at_its_factory_settings(
    tmp_path: Path, model: str, capsys: pytest.CaptureFixture[str]
) -> None:
    serial = get_profile(model).serial
    assert serial is not None
    simulator = await _start(
        tmp_path, [DeviceSpec(model, serial.device_id)], baudrate=serial.baudrate
    )
    try:
        where = ["--port", str(simulator.endpoints().pty), "--line", f"{serial.baudrate}:N:1"]
        code, out, err = await _cli(quick_scan, [*where, "--json"], capsys)
        assert code == 0, err
        assert json.loads(out) == [
            {
                "kind": "meter",
                "model": model,
                "device_id": serial.device_id,
                "baudrate": serial.baudrate,
                "parity": "N",
                "stopbits": 1,
            }
        ]
        argv = [*where, "--model", model, "--id", str(serial.device_id), "--json"]
        code, out, err = await _cli(read.main, argv, capsys)
        assert (code, err) == (0, "")
        document = json.loads(out)
        assert (document["kind"], document["model"]) == ("meter", model)
        _check_values(model, document["values"], simulator.site.grid_currents_a())
    finally:
        await simulator.close()


async def test_shelly_scanned_and_read_on_its_own_socket(
    tmp_path: Path, socket_enabled: None, capsys: pytest.CaptureFixture[str]
) -> None:
    del socket_enabled
    simulator = await _start(tmp_path, [DeviceSpec(SHELLY, 1)], native_tcp_port=0)
    try:
        where = ["--tcp", f"127.0.0.1:{simulator.endpoints().native_tcp_port}"]
        code, out, err = await _cli(quick_scan, [*where, "--json"], capsys)
        assert code == 0, err
        assert json.loads(out) == [
            {
                "kind": "meter",
                "model": SHELLY,
                "device_id": 1,
                "baudrate": None,
                "parity": None,
                "stopbits": None,
            }
        ]
        code, out, err = await _cli(
            read.main, [*where, "--model", SHELLY, "--id", "1", "--json"], capsys
        )
        assert (code, err) == (0, "")
        values = json.loads(out)["values"]
        _check_values(SHELLY, values, simulator.site.grid_currents_a())
        assert "frequency" not in values  # not read: one source only
    finally:
        await simulator.close()


async def _refused_port_names(
    model: str, unit: int, setting: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A port that refuses (Modbus off): read and scan each end in one line naming `setting`."""
    with socket.socket() as closed:  # a port nobody listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    where = ["--tcp", f"127.0.0.1:{port}"]
    code, _, err = await _cli(read.main, [*where, "--model", model, "--id", str(unit)], capsys)
    assert code == 1
    (line,) = err.strip().splitlines()
    assert setting in line
    code, _, err = await _cli(scan.main, where, capsys)
    assert code == 1
    assert setting in err.strip().splitlines()[-1]


async def test_shelly_with_modbus_off_says_what_to_switch_on(
    socket_enabled: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """Modbus off: the Shelly refuses port 502. Both commands say where to enable it."""
    del socket_enabled
    await _refused_port_names(SHELLY, 1, "Settings > Modbus > Enable", capsys)


MIXED = (
    DeviceSpec("eastron_sdm630", 1),
    DeviceSpec("heidelberg_energy_control", 2, "garage"),
    DeviceSpec("finder_7m38", 3),
    DeviceSpec("bernecker_mpm3pm", 4),
    DeviceSpec("eastron_sdm72dm_v1", 5),
    DeviceSpec("orno_we514_515", 6),
    DeviceSpec("orno_we516_517", 7),
    DeviceSpec("schneider_iem3x5x", 8),
    DeviceSpec("abb_terra_ac", 9, "driveway"),
    DeviceSpec("chint_dtsu666", 10),
    DeviceSpec("eastron_sdm230", 11),
    DeviceSpec("chint_ddsu666", 12),
    DeviceSpec("carlogavazzi_em3xx", 13),
    DeviceSpec("abb_b2x", 14),
    DeviceSpec("ccs_wattnode_modbus", 15),
    DeviceSpec("finder_7m24", 16),
)


@pytest.fixture
async def mixed(tmp_path: Path, socket_enabled: None) -> AsyncIterator[Simulator]:
    del socket_enabled
    simulator = await _start(tmp_path, MIXED, rtu_over_tcp_port=0)
    yield simulator
    await simulator.close()


async def test_mixed_bus_and_gateway_find_both_waves(mixed: Simulator) -> None:
    """First- and second-wave devices on one line, scanned directly and through a gateway."""
    expected = [(s.device_id, s.model) for s in MIXED]
    endpoints = mixed.endpoints()
    before = {i: dict(d.settings) for i, d in mixed.devices.items()}
    on_the_line = await Scanner(bus_factory=QuickProbeBus).scan_serial(
        str(endpoints.pty), lines=[SerialLine(9600, "N", 1)]
    )
    assert [(d.device_id, d.model) for d in on_the_line.devices] == expected
    assert on_the_line.unidentified == ()
    assert endpoints.rtu_over_tcp_port is not None
    gateway = await Scanner(bus_factory=QuickProbeBus).scan_tcp(
        "127.0.0.1", endpoints.rtu_over_tcp_port, rtu_framing=True
    )
    assert [(d.device_id, d.model) for d in gateway.devices] == expected
    assert gateway.unidentified == ()
    assert {i: dict(d.settings) for i, d in mixed.devices.items()} == before  # never writes


VESTEL = "vestel_evc04"


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _charger_on_its_socket(model: str) -> Any:
    """A fixture: the simulator with `model` as the garage's charger, unit 255 of its own socket."""

    @pytest.fixture
    async def fixture(tmp_path: Path, socket_enabled: None) -> AsyncIterator[Simulator]:
        del socket_enabled
        simulator = await _start(tmp_path, [DeviceSpec(model, 255, "garage")], native_tcp_port=0)
        yield simulator
        await simulator.close()

    return fixture


vestel = _charger_on_its_socket(VESTEL)


async def test_vestel_scanned_at_unit_255_and_read(
    vestel: Simulator, capsys: pytest.CaptureFixture[str]
) -> None:
    where = ["--tcp", f"127.0.0.1:{vestel.endpoints().native_tcp_port}"]
    code, out, err = await _cli(quick_scan, [*where, "--json"], capsys)
    assert code == 0, err
    assert json.loads(out) == [
        {
            "kind": "charger",
            "model": VESTEL,
            "device_id": 255,
            "baudrate": None,
            "parity": None,
            "stopbits": None,
        }
    ]
    assert "[17/17]" in err  # the quick range and unit 255: one probe more
    code, out, err = await _cli(
        read.main, [*where, "--model", VESTEL, "--id", "255", "--json"], capsys
    )
    assert (code, err) == (0, "")
    values = json.loads(out)["values"]
    assert values["state"] == "B"  # the simulated car is plugged in, nothing offered yet
    assert values["current_limit"] == 0
    assert values["energy_total"] == pytest.approx(3000.0)


async def test_vestel_falls_back_without_the_alive_register(vestel: Simulator) -> None:
    """Armed, then silent: after the timeout the charger applies the fail-safe current."""
    port = vestel.endpoints().native_tcp_port
    assert port is not None
    device = vestel.tcp_devices[255]
    bus = Bus(TcpSettings("127.0.0.1", port), timeout_s=1.0)
    await bus.connect()
    try:
        clock = _Clock()
        charger = create_charger(bus.device(255), get_profile(VESTEL), clock=clock)
        status = await charger.arm_watchdog(timeout_s=15, failsafe_a=6)
        assert status.rewrite_interval_s == pytest.approx(3.75)
        await charger.set_limit(16)
        assert device.applied_a == 16
        for _ in range(10):  # healthy: the alive register every quarter of the timeout
            vestel.advance(3.75)
            clock.now += 3.75
            await charger.maintain()
        assert device.applied_a == 16
        assert (await charger.read()).setpoint_a == 16
        vestel.advance(15.0)  # Home Assistant stopped
        assert device.applied_a == 6
        clock.now += 15.0
        await charger.maintain()  # back: alive again, and the site writes its limit
        await charger.set_limit(16)
        assert device.applied_a == 16
    finally:
        await bus.close()


KEBA = "keba_p30_p40"


keba = _charger_on_its_socket(KEBA)


async def test_keba_scanned_at_unit_255_and_read(
    keba: Simulator, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every value read alone (the simulated P30 refuses reads across values)."""
    where = ["--tcp", f"127.0.0.1:{keba.endpoints().native_tcp_port}"]
    code, out, err = await _cli(quick_scan, [*where, "--json"], capsys)
    assert code == 0, err
    assert [(d["model"], d["device_id"]) for d in json.loads(out)] == [(KEBA, 255)]
    code, out, err = await _cli(
        read.main, [*where, "--model", KEBA, "--id", "255", "--json"], capsys
    )
    assert (code, err) == (0, "")
    values = json.loads(out)["values"]
    assert values["state"] == "B"
    assert values["energy_total"] == pytest.approx(2000.0)
    assert values["current_limit"] is None  # write-only on a P30: not known


async def test_keba_falls_back_when_nothing_is_written(keba: Simulator) -> None:
    port = keba.endpoints().native_tcp_port
    assert port is not None
    device = keba.tcp_devices[255]
    bus = Bus(TcpSettings("127.0.0.1", port), timeout_s=1.0)
    await bus.connect()
    try:
        clock = _Clock()
        charger = create_charger(bus.device(255), get_profile(KEBA), clock=clock)
        await charger.set_limit(16)
        status = await charger.arm_watchdog(timeout_s=20, failsafe_a=6)
        assert status.rewrite_interval_s == 10
        for _ in range(6):  # healthy: the heartbeat every half timeout
            keba.advance(10.0)
            clock.now += 10.0
            await charger.maintain()
        assert device.applied_a == 16
        keba.advance(20.0)  # Home Assistant stopped
        assert device.applied_a == 6
        await charger.set_limit(0)  # back: the site's next command applies
        assert device.applied_a == 0
    finally:
        await bus.close()


WATTNODE = "ccs_wattnode_modbus"


async def test_wattnode_on_a_split_phase_panel_scanned_and_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """
    A WNC-3D-240 at its shipped line (9600 8N1) and the first address an installer sets, on
    a 120/240 V panel: two legs at 120 V, nothing on phase C.
    """
    site = StaticSite(house_currents_a=(20.0, 12.0), voltage_v=120.0)
    simulator = Simulator(
        site,
        [DeviceSpec(WATTNODE, 1)],
        line=LineSettings(9600, "N", 1),
        link=tmp_path / "ttyRS485",
        modbus_tcp_port=None,
        rtu_over_tcp_port=None,
        native_tcp_port=None,
    )
    await simulator.start()
    try:
        where = ["--port", str(simulator.endpoints().pty)]  # the default lines, as shipped
        code, out, err = await _cli(quick_scan, [*where, "--json"], capsys)
        assert code == 0, err
        assert [
            (d["model"], d["device_id"], d["baudrate"], d["parity"]) for d in json.loads(out)
        ] == [(WATTNODE, 1, 9600, "N")]
        argv = [*where, "--line", "9600:N:1", "--model", WATTNODE, "--id", "1", "--json"]
        code, out, err = await _cli(read.main, argv, capsys)
        assert (code, err) == (0, "")
        values = json.loads(out)["values"]
        assert [values["current_l1"], values["current_l2"], values["current_l3"]] == pytest.approx(
            [20.0, 12.0, 0.0]
        )
        assert [values["voltage_l1"], values["voltage_l2"]] == pytest.approx([120.0, 120.0])
        assert values["power_total"] == pytest.approx(120.0 * 32.0)
    finally:
        await simulator.close()


BENDER = "bender_cc612_cc613"


bender = _charger_on_its_socket(BENDER)


async def test_bender_scanned_at_unit_255_and_read(
    bender: Simulator, capsys: pytest.CaptureFixture[str]
) -> None:
    values = await _scan_and_read_at_255(bender, BENDER, capsys)
    assert values["state"] == "B"  # a car plugged in, nothing offered yet
    assert values["current_limit"] == 0
    assert values["energy_total"] == pytest.approx(4000.0)


async def test_bender_without_a_meter_reads_no_currents(
    bender: Simulator, capsys: pytest.CaptureFixture[str]
) -> None:
    device = bender.tcp_devices[255]
    assert isinstance(device, BenderDevice)
    device.metered = False
    where = ["--tcp", f"127.0.0.1:{bender.endpoints().native_tcp_port}"]
    code, out, err = await _cli(
        read.main, [*where, "--model", BENDER, "--id", "255", "--json"], capsys
    )
    assert (code, err) == (0, "")
    values = json.loads(out)["values"]
    assert values["current_l1"] is None
    assert values["state"] == "B"


async def test_bender_keeps_its_last_limit_when_home_assistant_stops(bender: Simulator) -> None:
    """No fail-safe to arm: the site is told (Unsupported), and the README says what happens."""
    port = bender.endpoints().native_tcp_port
    assert port is not None
    device = bender.tcp_devices[255]
    bus = Bus(TcpSettings("127.0.0.1", port), timeout_s=1.0)
    await bus.connect()
    try:
        clock = _Clock()
        charger = create_charger(bus.device(255), get_profile(BENDER), clock=clock)
        with pytest.raises(Unsupported, match="safe current is 10 A"):
            await charger.arm_watchdog(timeout_s=20, failsafe_a=6)
        await charger.set_limit(16)
        assert device.applied_a == 16
        bender.advance(600.0)  # Home Assistant stopped
        assert device.applied_a == 16
        await charger.set_limit(0)
        assert device.applied_a == 0
    finally:
        await bus.close()


async def test_bender_with_modbus_off_says_what_to_switch_on(
    socket_enabled: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """Energy-manager mode off: port 502 refuses. Both commands name the setting."""
    del socket_enabled
    await _refused_port_names(
        BENDER, 255, "Modbus TCP Server for energy management systems", capsys
    )


NEXT = "webasto_next"


webasto_next = _charger_on_its_socket(NEXT)


async def test_webasto_next_scanned_at_unit_255_and_read(
    webasto_next: Simulator, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every value read alone: the simulated NEXT refuses reads across gaps."""
    values = await _scan_and_read_at_255(webasto_next, NEXT, capsys)
    assert values["state"] == "B"
    assert values["energy_total"] == pytest.approx(5000.0)


async def test_webasto_next_falls_back_when_the_life_bit_stops(webasto_next: Simulator) -> None:
    port = webasto_next.endpoints().native_tcp_port
    assert port is not None
    device = webasto_next.tcp_devices[255]
    bus = Bus(TcpSettings("127.0.0.1", port), timeout_s=1.0)
    await bus.connect()
    try:
        clock = _Clock()
        charger = create_charger(bus.device(255), get_profile(NEXT), clock=clock)
        await charger.set_limit(16)
        status = await charger.arm_watchdog(timeout_s=20, failsafe_a=6)
        assert (status.timeout_s, status.rewrite_interval_s) == (20.0, 10.0)
        for _ in range(6):  # healthy: the life bit every half timeout
            webasto_next.advance(10.0)
            clock.now += 10.0
            await charger.maintain()
        assert device.applied_a == 16
        webasto_next.advance(20.0)  # Home Assistant stopped
        assert device.applied_a == 6
        await charger.set_limit(0)  # back: the site's next command applies
        assert device.applied_a == 0
    finally:
        await bus.close()


AMPERFIED = "amperfied_connect"


amperfied = _charger_on_its_socket(AMPERFIED)


async def test_amperfied_connect_scanned_at_unit_255_and_read(
    amperfied: Simulator, capsys: pytest.CaptureFixture[str]
) -> None:
    values = await _scan_and_read_at_255(amperfied, AMPERFIED, capsys)
    assert values["state"] == "B"


async def test_amperfied_connect_falls_back_when_nothing_is_asked(amperfied: Simulator) -> None:
    port = amperfied.endpoints().native_tcp_port
    assert port is not None
    device = amperfied.tcp_devices[255]
    bus = Bus(TcpSettings("127.0.0.1", port), timeout_s=1.0)
    await bus.connect()
    try:
        charger = create_charger(bus.device(255), get_profile(AMPERFIED), clock=_Clock())
        await charger.set_limit(16)
        await charger.arm_watchdog(timeout_s=20, failsafe_a=6)
        for _ in range(6):  # healthy: the site reads it every cycle
            amperfied.advance(5.0)
            await charger.read(full=False)
        assert device.applied_a == 16
        amperfied.advance(20.0)  # Home Assistant stopped
        assert device.applied_a == 6
    finally:
        await bus.close()
