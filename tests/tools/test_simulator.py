"""The device simulator: framing, the pty line, wire time, faults, TCP and personalities."""

from __future__ import annotations

import asyncio
import os
import socket
import termios
import time
from pathlib import Path

import pytest

from custom_components.headroom.devices.bus import Bus, SerialSettings, TcpSettings
from custom_components.headroom.devices.errors import ConnectionLost, DeviceRefused, NoResponse
from custom_components.headroom.devices.registers import decode, encode, get_profile
from tools.simulator import (
    CHARGERS,
    METERS,
    DeviceSpec,
    Faults,
    LineSettings,
    PtyServer,
    SimulatedLine,
    Simulator,
    StaticCharger,
    StaticSite,
    TcpServer,
    build_device,
)
from tools.simulator.__main__ import (
    build_parser,
    build_site,
    describe,
    parse_device,
    parse_fault,
)
from tools.simulator.__main__ import main as simulator_main
from tools.simulator.devices import ProfileDevice
from tools.simulator.frames import (
    ModbusError,
    RtuRequestSplitter,
    answer,
    crc16,
    crc_ok,
    mbap_frame,
    rtu_frame,
    rtu_request_length,
)
from tools.simulator.personalities import (
    AbbTerraDevice,
    AlfenDevice,
    ChargerDevice,
    HeidelbergDevice,
    MeterDevice,
)
from tools.simulator.pty_server import baud_constant

LINE = LineSettings(19200, "E", 1)
# Clients open the pty without parity: a pty cannot keep it, and this kernel refuses
# pyserial's second configuration of a pty with parity (EINVAL). Parity only counts for
# the emulated wire time, which uses LINE.
PTY_PARITY = "N"
SCENARIOS = Path(__file__).parents[2] / "tools" / "bench" / "scenarios"


def make_site() -> StaticSite:
    return StaticSite(
        house_currents_a=(3.0, 2.0, 1.5),
        chargers=[
            StaticCharger(name="garage", response_s=0.0),
            StaticCharger(name="driveway", car_connected=False),
        ],
    )


def specs() -> list[DeviceSpec]:
    return [
        DeviceSpec("eastron_sdm630", 1),
        DeviceSpec("heidelberg_energy_control", 2, "garage"),
        DeviceSpec("evse_wb_din", 3, "driveway"),
        DeviceSpec("carlogavazzi_em3xx", 4),
    ]


@pytest.fixture
async def pty_sim(tmp_path: Path):
    simulator = Simulator(
        make_site(),
        specs(),
        line=LINE,
        link=tmp_path / "ttyRS485",
        modbus_tcp_port=None,
        rtu_over_tcp_port=None,
        native_tcp_port=None,
    )
    await simulator.start()
    yield simulator
    await simulator.close()


@pytest.fixture
async def bus(pty_sim: Simulator):
    endpoints = pty_sim.endpoints()
    assert endpoints.pty is not None
    serial_bus = Bus(SerialSettings(endpoints.pty, 19200, PTY_PARITY), timeout_s=0.15, retries=0)
    await serial_bus.connect()
    yield serial_bus
    await serial_bus.close()


def decoded(model: str, name: str, words: list[int]) -> float | int | str:
    return decode(get_profile(model).register(name), words)


# --- framing -----------------------------------------------------------------------------


def test_crc_matches_the_specification_example():
    # Modbus over serial line V1.02, 6.2.2: read holding register 0 of device 1.
    assert crc16(bytes.fromhex("010300000001")) == bytes.fromhex("840a")
    assert crc_ok(bytes.fromhex("010300000001840a"))
    assert not crc_ok(bytes.fromhex("010300000001840b"))
    assert not crc_ok(b"\x01\x03")


def test_request_lengths_and_splitting():
    read = rtu_frame(1, bytes.fromhex("0300000002"))
    write = rtu_frame(2, bytes.fromhex("10010500020400010002"))
    assert rtu_request_length(read) == 8
    assert rtu_request_length(write) == len(write)
    assert rtu_request_length(write[:5]) is None
    assert rtu_request_length(b"\x01") is None
    assert rtu_request_length(b"\x01\x2b\x0e") is None
    splitter = RtuRequestSplitter()
    assert splitter.feed(read + write[:4]) == [read]
    assert splitter.pending
    assert not splitter.awaits_silence
    assert splitter.feed(write[4:]) == [write]
    # Noise (a bad CRC) throws away what was received.
    assert splitter.feed(read[:-1] + b"\x00" + read) == []
    assert not splitter.pending
    identify = rtu_frame(1, bytes.fromhex("2b0e0100"))
    assert splitter.feed(identify) == []
    assert splitter.awaits_silence
    assert splitter.flush() == identify
    splitter.feed(b"\x01\x2b\x00")
    assert splitter.flush() is None


def test_pdu_execution_and_exceptions():
    meter = build_device("eastron_sdm630", 1, make_site())
    assert answer(meter, 1, bytes.fromhex("0400000002"))[:2] == b"\x04\x04"
    assert answer(meter, 1, bytes.fromhex("0100000001")) == b"\x81\x01"
    assert answer(meter, 1, bytes.fromhex("0400000000")) == b"\x84\x03"
    assert answer(meter, 1, bytes.fromhex("04ffff0002")) == b"\x84\x02"
    assert answer(meter, 1, bytes.fromhex("0403e80002")) == b"\x84\x02"
    assert answer(meter, 1, bytes.fromhex("040000")) == b"\x84\x03"
    assert answer(meter, 1, bytes.fromhex("0600140000")) == b"\x86\x02"
    assert answer(meter, 1, bytes.fromhex("060014")) == b"\x86\x03"
    assert answer(meter, 1, bytes.fromhex("100014000204")) == b"\x90\x03"
    assert answer(meter, 1, bytes.fromhex("10001400")) == b"\x90\x03"
    assert answer(meter, 1, bytes.fromhex("10ffff00020400000000")) == b"\x90\x02"
    assert answer(meter, 1, b"") == b"\x80\x01"
    # The node id (a float at holding 20) is writable with FC 16.
    assert answer(meter, 1, bytes.fromhex("10001400020440a00000")) == bytes.fromhex("1000140002")
    assert meter.settings["network_node"] == 5.0
    assert mbap_frame(7, 1, b"\x03\x02\x00\x01") == bytes.fromhex("0007000000050103020001")


# --- the pty line -------------------------------------------------------------------------


async def test_reads_and_writes_over_the_pty(pty_sim: Simulator, bus: Bus):
    meter = bus.device(1)
    words = await meter.read_input(0, 12)
    assert decoded("eastron_sdm630", "voltage_l1", words[0:2]) == pytest.approx(230.0)
    assert decoded("eastron_sdm630", "current_l2", words[8:10]) == pytest.approx(2.0)
    assert decoded("eastron_sdm630", "meter_code", await meter.read_holding(0xFC02, 1)) == 0x70
    charger = bus.device(2, pacing_s=0.1)
    await charger.write(258, [4], function_code=6)
    await charger.write(261, [160])
    pty_sim.advance(0.1)
    state, l1 = await charger.read_input(5, 2)
    assert state == 7
    assert l1 == 160
    meter_words = await meter.read_input(6, 2)
    assert decoded("eastron_sdm630", "current_l1", meter_words) == pytest.approx(19.0)
    with pytest.raises(DeviceRefused) as refused:
        await charger.write(261, [30])
    assert refused.value.exception_code == 3


async def test_ids_nobody_has_stay_silent(bus: Bus):
    with pytest.raises(NoResponse):
        await bus.device(99).read_holding(0, 1)
    assert bus.connected
    assert len(await bus.device(4).read_input(0, 2)) == 2


async def test_wrong_baud_rate_gets_silence(pty_sim: Simulator):
    assert pty_sim.pty is not None
    wrong = Bus(SerialSettings(pty_sim.pty.path, 9600, PTY_PARITY), timeout_s=0.1, retries=0)
    await wrong.connect()
    with pytest.raises(NoResponse):
        await wrong.device(1).read_input(0, 2)
    assert not pty_sim.pty.client_baud_matches()
    assert pty_sim.pty.noise_bytes == 8
    await wrong.close()


async def test_unsupported_function_code_gets_exception_1(pty_sim: Simulator):
    assert pty_sim.pty is not None
    port = os.open(pty_sim.pty.path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    try:
        attributes = termios.tcgetattr(port)
        attributes[3] &= ~(termios.ECHO | termios.ICANON)
        attributes[4] = attributes[5] = termios.B19200
        termios.tcsetattr(port, termios.TCSANOW, attributes)
        # FC 1 (read coils) and FC 43 (device identification, delimited by silence).
        for request, expected in (
            (rtu_frame(1, bytes.fromhex("0100000001")), rtu_frame(1, b"\x81\x01")),
            (rtu_frame(2, bytes.fromhex("2b0e0100")), rtu_frame(2, b"\xab\x01")),
        ):
            os.write(port, request)
            assert await read_frame(port, len(expected)) == expected
    finally:
        os.close(port)


async def read_frame(port: int, length: int) -> bytes:
    received = b""
    async with asyncio.timeout(2):
        while len(received) < length:
            try:
                received += os.read(port, 64)
            except BlockingIOError:
                await asyncio.sleep(0.005)
    return received


async def test_adapter_unplugged_and_replugged(pty_sim: Simulator, bus: Bus):
    assert pty_sim.pty is not None
    await pty_sim.pty.close()
    assert not pty_sim.pty.running
    with pytest.raises(ConnectionLost):
        await bus.device(1).read_input(0, 2)
    await pty_sim.pty.start()
    await asyncio.sleep(0.6)
    assert len(await bus.device(1).read_input(0, 2)) == 2
    assert bus.stats.reconnects == 1


async def test_pty_needs_a_baud_rate_this_system_knows():
    with pytest.raises(ValueError, match="settings"):
        PtyServer(SimulatedLine())
    with pytest.raises(ValueError, match="12345"):
        baud_constant(12345)


# --- wire time ----------------------------------------------------------------------------


@pytest.mark.parametrize("count", [2, 40])
async def test_wire_time_delays_answers_as_computed(tmp_path: Path, count: int):
    line = LineSettings(9600, "E", 1)
    simulator = Simulator(
        make_site(),
        [DeviceSpec("eastron_sdm630", 1)],
        line=line,
        wire_time=True,
        link=tmp_path / "tty",
        modbus_tcp_port=None,
        rtu_over_tcp_port=None,
    )
    await simulator.start()
    bus = Bus(SerialSettings(str(tmp_path / "tty"), 9600, PTY_PARITY), timeout_s=1, retries=0)
    try:
        await bus.connect()
        started = time.monotonic()
        await bus.device(1).read_input(0, count)
        elapsed = time.monotonic() - started
    finally:
        await bus.close()
        await simulator.close()
    frame_bytes = 8 + 5 + 2 * count
    expected = (frame_bytes + 3.5) * 11 / 9600
    assert expected <= elapsed <= expected + 0.05


# --- faults -------------------------------------------------------------------------------


async def test_faults_silence_corruption_delay_and_exceptions(pty_sim: Simulator, bus: Bus):
    meter = pty_sim.devices[1]
    meter.faults.silent = True
    with pytest.raises(NoResponse):
        await bus.device(1).read_input(0, 2)
    meter.faults = Faults(corrupt=True)
    with pytest.raises(NoResponse):
        await bus.device(1).read_input(0, 2)
    meter.faults = Faults(exception_code=4)
    with pytest.raises(DeviceRefused) as refused:
        await bus.device(1).read_input(0, 2)
    assert refused.value.exception_code == 4
    meter.faults = Faults(delay_s=0.08)
    started = time.monotonic()
    await bus.device(1).read_input(0, 2)
    assert time.monotonic() - started >= 0.08
    # An answer 60 ms too late must not pass for the next request's answer.
    meter.faults = Faults(delay_s=0.2)
    with pytest.raises(NoResponse):
        await bus.device(1).read_input(0, 2)  # voltage L1
    meter.faults = Faults()
    words = await bus.device(1, timeout_s=1).read_input(6, 2)  # current L1
    assert decoded("eastron_sdm630", "current_l1", words) == pytest.approx(3.0)


# --- TCP ----------------------------------------------------------------------------------


@pytest.fixture
async def tcp_sim(tmp_path: Path, socket_enabled):
    del socket_enabled
    simulator = Simulator(
        make_site(),
        [*specs(), DeviceSpec("alfen_eve", 1, "driveway")],
        line=LINE,
        link=tmp_path / "tty",
    )
    await simulator.start()
    yield simulator
    await simulator.close()


@pytest.mark.parametrize("framer", ["socket", "rtu"])
async def test_tcp_gateways_serve_the_line(tcp_sim: Simulator, framer):
    endpoints = tcp_sim.endpoints()
    port = endpoints.modbus_tcp_port if framer == "socket" else endpoints.rtu_over_tcp_port
    assert port is not None
    async with Bus(TcpSettings("127.0.0.1", port, framer), timeout_s=0.2, retries=0) as bus:
        words = await bus.device(4).read_input(0, 2)
        assert decoded("carlogavazzi_em3xx", "voltage_l1", words) == pytest.approx(230.0)
        await bus.device(2).write(261, [100])
        assert await bus.device(2).read_holding(261, 1) == [100]
        with pytest.raises(NoResponse):
            await bus.device(77).read_holding(0, 1)
        tcp_sim.devices[4].faults.corrupt = True
        with pytest.raises(NoResponse):
            await bus.device(4).read_input(0, 2)


async def test_alfen_answers_on_its_own_tcp_port(tcp_sim: Simulator):
    port = tcp_sim.endpoints().native_tcp_port
    assert port is not None
    async with Bus(TcpSettings("127.0.0.1", port), timeout_s=0.2, retries=0) as bus:
        station = bus.device(200)
        assert decoded("alfen_eve", "manufacturer", await station.read_holding(117, 5)) == (
            "Alfen NV"
        )
        socket = bus.device(1)
        limit = get_profile("alfen_eve").register("current_limit")
        await socket.write(1210, encode(limit, 10.0))
        state = get_profile("alfen_eve").register("charger_state")
        assert decoded("alfen_eve", "charger_state", await socket.read_holding(1201, 5)) == "A"
        assert decode(limit, await socket.read_holding(1210, 2)) == 10.0
        assert state.count == 5


async def test_tcp_server_drops_a_malformed_mbap_frame(tcp_sim: Simulator):
    port = tcp_sim.endpoints().modbus_tcp_port
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(bytes.fromhex("0001000500010103"))  # protocol id 5: not Modbus
    await writer.drain()
    assert await asyncio.wait_for(reader.read(), 1) == b""
    writer.close()
    await writer.wait_closed()


async def test_tcp_server_port_and_close_are_idempotent(socket_enabled):
    del socket_enabled
    server = TcpServer(SimulatedLine(), port=0)
    assert server.port == 0
    assert server.host == "127.0.0.1"
    await server.close()
    await server.start()
    port = server.port
    await server.close()
    assert server.port == port


def test_a_busy_port_is_one_line_and_nothing_is_left_open(
    socket_enabled, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    del socket_enabled
    link = tmp_path / "line"
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        ports = ["--tcp-port", str(port), "--rtu-tcp-port", "0", "--native-tcp-port", "0"]
        code = simulator_main(["--link", str(link), *ports, "--baud", "9600"])
    assert code == 1
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "cannot open an endpoint" in line
    assert "--tcp-port" in line
    assert not link.exists()  # the pty it had opened is closed again


# --- personalities ------------------------------------------------------------------------


def read_value(device: ProfileDevice, name: str) -> float | int | str:
    register = device.profile.register(name)
    unit_id = register.unit_id or device.device_id
    words = device.read(register.function_code, unit_id, register.address, register.count)
    return decode(register, words)


@pytest.mark.parametrize("model", METERS)
def test_every_meter_reports_the_site(model: str):
    site = StaticSite(house_currents_a=(10.0, 5.0, 2.0), pv_power_w=0.0)
    meter = build_device(model, 7, site, line=LINE)
    assert isinstance(meter, MeterDevice)
    profile = get_profile(model)  # the B21 answers on the B23's map, as one phase
    if model != "eastron_sdm72dm_v1":  # totals only
        assert read_value(meter, "voltage_l1") == pytest.approx(230.0, rel=1e-3)
        assert read_value(meter, "current_l1") == pytest.approx(10.0, rel=1e-3)
    three_phase = profile.phases == 3
    total_w = 230.0 * (17.0 if three_phase else 10.0)
    assert read_value(meter, "power_total") == pytest.approx(total_w, rel=1e-3)
    if profile.has("current_l3"):
        assert read_value(meter, "current_l3") == pytest.approx(2.0, rel=1e-3)
    # the ORNO WE-514/515 counts import and export together
    counter = "energy_import" if profile.has("energy_import") else "energy_total"
    before = read_value(meter, counter)
    meter.tick(3600.0)
    assert float(read_value(meter, counter)) > float(before)
    for item in meter.profile.identification:
        register = item.register
        unit_id = register.unit_id or 7
        words = meter.read(register.function_code, unit_id, register.address, register.count)
        assert len(words) == register.count


@pytest.mark.parametrize(
    ("model", "name", "expected"),
    [
        ("eastron_sdm630", "meter_code", 0x70),
        ("eastron_sdm120", "meter_code", 0x20),
        ("eastron_sdm72dm_v2", "meter_code", 0x89),
        ("chint_dtsu666", "address", 7),
        ("abb_b2x", "product_type", 0x42323320),
        ("eastron_sdm630", "network_node", 7.0),
        ("eastron_sdm630", "network_baud", 3.0),
        ("eastron_sdm630", "network_parity_stop", 1.0),
    ],
)
def test_identification_registers(model: str, name: str, expected: object):
    device = build_device(model, 7, StaticSite(), line=LINE)
    registers = {item.register.name: item.register for item in device.profile.identification}
    register = registers.get(name) or device.profile.register(name)
    words = device.read(register.function_code, 7, register.address, register.count)
    assert decode(register, words) == expected


def test_carlo_gavazzi_model_id_reads_alone_inside_the_voltage_block():
    meter = build_device("carlogavazzi_em3xx", 1, StaticSite())
    assert meter.read(4, 1, 11, 1) == [340]
    block = meter.read(4, 1, 0, 12)
    assert decoded("carlogavazzi_em3xx", "voltage_ll_l3_l1", block[10:12]) == pytest.approx(
        398.4, abs=0.1
    )
    em1 = build_device("carlogavazzi_em1xx", 1, StaticSite())
    assert em1.read(4, 1, 11, 1) == [120]


def test_single_phase_meter_on_a_single_phase_site():
    meter = build_device("eastron_sdm120", 1, StaticSite(house_currents_a=(-4.0,)))
    assert read_value(meter, "power_total") == pytest.approx(-920.0)
    assert read_value(meter, "current_l1") == pytest.approx(4.0)
    meter.tick(3600.0)
    assert read_value(meter, "energy_export") == pytest.approx(900.92)


def test_reads_outside_the_register_areas_are_refused():
    meter = build_device("eastron_sdm630", 1, StaticSite())
    assert meter.read(4, 1, 36, 12) == [0] * 12  # reserved slots answer 0
    with pytest.raises(Exception, match="exception 2"):
        meter.read(4, 1, 500, 2)
    with pytest.raises(Exception, match="exception 3"):
        meter.read(4, 1, 0, 100)
    with pytest.raises(Exception, match="exception 1"):
        meter.read(1, 1, 0, 1)
    with pytest.raises(Exception, match="exception 2"):
        meter.write(16, 1, 0, [0, 0])  # input registers are not writable
    with pytest.raises(Exception, match="exception 3"):
        meter.write(16, 1, 20, [0x7FC0, 0])  # NaN


def charger(model: str, site: StaticSite | None = None) -> ChargerDevice:
    site = site or StaticSite(chargers=[StaticCharger(name="c", response_s=0.0)])
    device = build_device(model, 1, site, charger_name="c")
    assert isinstance(device, ChargerDevice)
    return device


def write_value(device: ProfileDevice, name: str, value: float) -> None:
    register = device.profile.register(name)
    device.write(16, device.device_id, register.address, encode(register, value))


def test_cars_follow_the_setpoint_after_their_response_delay():
    site = StaticSite(chargers=[StaticCharger(name="c", response_s=2.0, car_max_a=13.0)])
    device = charger("evse_wb_din", site)
    write_value(device, "current_limit", 16)
    site.advance(1.0)
    assert site.charger_view("c").state == "B"
    site.advance(1.5)
    view = site.charger_view("c")
    assert (view.state, view.currents_a, view.setpoint_a) == ("C", (13.0, 13.0, 13.0), 16)
    assert site.grid_currents_a()[0] == pytest.approx(16.0)
    assert read_value(device, "charger_state") == 3
    assert read_value(device, "current_offered") == 16
    site.chargers["c"].car_connected = False
    site.advance(1.0)
    assert read_value(device, "charger_state") == 1
    with pytest.raises(ValueError, match="phase 4"):
        site.voltage_v(4)
    assert site.house_currents_a() == (3.0, 2.0, 1.5)
    assert site.pv_power_w() == 0.0


def test_evse_wb_has_no_watchdog():
    device = charger("evse_wb_din")
    write_value(device, "current_limit", 10)
    device.tick(3600.0)
    assert device.applied_a == 10
    with pytest.raises(Exception, match="exception 3"):
        write_value(device, "current_limit", 3)


def test_heidelberg_watchdog_falls_back_and_recovers():
    device = charger("heidelberg_energy_control")
    assert isinstance(device, HeidelbergDevice)
    write_value(device, "watchdog_timeout", 2000)
    write_value(device, "failsafe_current", 6.0)
    write_value(device, "current_limit", 16.0)
    assert device.applied_a == 16.0
    device.tick(1.5)
    read_value(device, "charger_state")  # any request resets the watchdog
    device.tick(1.5)
    assert not device.in_failsafe
    device.tick(1.0)
    assert device.in_failsafe
    assert device.applied_a == 6.0
    write_value(device, "current_limit", 12.0)  # heard, but the box recovers first
    assert device.applied_a == 6.0
    device.tick(device.recovery_s)
    assert device.applied_a == 12.0
    assert read_value(device, "charger_state") == 5  # B2: PWM on, the car not yet drawing
    with pytest.raises(Exception, match="exception 3"):
        write_value(device, "standby_control", 2)


def test_heidelberg_sleeps_in_standby_without_a_car():
    site = StaticSite(chargers=[StaticCharger(name="c", car_connected=False)])
    device = charger("heidelberg_energy_control", site)
    device.tick(device.standby_after_s)
    assert not device.answers()
    site.chargers["c"].car_connected = True
    assert device.answers()
    write_value(device, "standby_control", 4)
    site.chargers["c"].car_connected = False
    device.tick(device.standby_after_s * 2)
    assert device.answers()
    assert read_value(device, "charger_state") == 2


def test_abb_terra_stops_with_an_error_or_uses_its_fallback():
    device = charger("abb_terra_ac")
    assert isinstance(device, AbbTerraDevice)
    write_value(device, "current_limit", 16.0)
    device.tick(61.0)
    assert device.error
    assert device.applied_a == 0.0
    assert read_value(device, "charger_state") == 5 << 8
    write_value(device, "current_limit", 16.0)
    write_value(device, "failsafe_current", 8)
    write_value(device, "watchdog_timeout", 10)
    assert read_value(device, "watchdog_timeout_readback") == 10
    device.tick(11.0)
    assert not device.error
    assert device.applied_a == 8.0
    with pytest.raises(Exception, match="exception 3"):
        write_value(device, "watchdog_timeout", 5)
    with pytest.raises(Exception, match="exception 3"):
        write_value(device, "current_limit", 40.0)


def test_alfen_validity_time_and_safe_current():
    device = charger("alfen_eve")
    assert isinstance(device, AlfenDevice)
    assert device.applied_a == device.safe_current_a
    assert device.unit_ids == (1, 200)
    write_value(device, "current_limit", 16.0)
    device.tick(30.0)
    assert read_value(device, "watchdog_remaining") == 30
    assert read_value(device, "charger_state") == "B2"
    device.tick(31.0)
    assert device.applied_a == 6.0
    with pytest.raises(Exception, match="exception 3"):
        write_value(device, "charge_phases", 2)


@pytest.mark.parametrize("model", CHARGERS)
def test_every_charger_reports_state_and_currents(model: str):
    site = StaticSite(chargers=[StaticCharger(name="c", response_s=0.0)])
    device = charger(model, site)
    write_value(device, "current_limit", 10.0 if model != "evse_wb_din" else 10)
    site.advance(0.1)
    # No meter: the current the charger offers on the control pilot.
    measured = {"evse_wb_din": "current_offered", "phoenix_ev_ser": "cp_current"}.get(
        model, "current_l1"
    )
    assert read_value(device, measured) == pytest.approx(10.0)
    for item in device.profile.identification:
        register = item.register
        unit_id = register.unit_id or 1
        device.read(register.function_code, unit_id, register.address, register.count)


def test_unknown_models_and_missing_charger_names():
    with pytest.raises(KeyError, match="not a simulated model"):
        build_device("delta_ac_max", 1, StaticSite())
    with pytest.raises(ValueError, match="name of the site charger"):
        build_device("abb_terra_ac", 1, StaticSite())
    line = SimulatedLine([build_device("eastron_sdm630", 1, StaticSite())])
    with pytest.raises(ValueError, match="taken"):
        line.add(build_device("eastron_sdm120", 1, StaticSite()))


# --- command line --------------------------------------------------------------------------


def test_cli_parses_devices_and_describes_endpoints(tmp_path: Path):
    assert parse_device("eastron_sdm630:1") == DeviceSpec("eastron_sdm630", 1)
    assert parse_device("abb_terra_ac:5") == DeviceSpec("abb_terra_ac", 5, "charger_5")
    for bad in ("sdm:1", "eastron_sdm630", "eastron_sdm630:0", "eastron_sdm630:x"):
        with pytest.raises(Exception, match=r"MODEL|unknown|outside"):
            parse_device(bad)
    args = build_parser().parse_args(["--link", str(tmp_path / "tty"), "--no-wire-time"])
    site, devices = build_site(args)
    assert [spec.device_id for spec in devices] == [1, 2, 3]
    assert isinstance(site, StaticSite)
    assert not site.chargers["driveway"].car_connected
    simulator = Simulator(site, devices, line=LINE, modbus_tcp_port=None, rtu_over_tcp_port=None)
    text = describe(simulator, LINE, devices)
    assert "19200 8E1, no wire time" in text
    assert "heidelberg_energy_control (site charger garage)" in text


def test_cli_drives_a_scenario_with_the_site_model():
    scenario = SCENARIOS / "three-phase-25a-two-16a-winter.yaml"
    args = build_parser().parse_args(["--scenario", str(scenario)])
    site, devices = build_site(args)
    assert devices[0] == DeviceSpec("eastron_sdm630", 1)
    assert all(spec.model == "heidelberg_energy_control" for spec in devices[1:])
    meter = build_device("eastron_sdm630", 1, site)
    chargers = [
        build_device(s.model, s.device_id, site, charger_name=s.charger_name) for s in devices[1:]
    ]
    site.advance(60.0)
    assert float(read_value(meter, "voltage_l1")) > 0
    assert all(read_value(c, "charger_state") in {2, 3, 4, 5, 6, 7} for c in chargers)


async def test_simulator_serves_everything_and_describes_it(tcp_sim: Simulator):
    endpoints = tcp_sim.endpoints()
    assert endpoints.pty is not None
    assert endpoints.pty.endswith("tty")
    assert tcp_sim.pty is not None
    assert tcp_sim.pty.device_path.startswith("/dev/pts/")
    assert None not in (
        endpoints.modbus_tcp_port,
        endpoints.rtu_over_tcp_port,
        endpoints.native_tcp_port,
    )
    text = describe(tcp_sim, LINE, specs())
    assert f"127.0.0.1:{endpoints.native_tcp_port}" in text
    await asyncio.sleep(0.25)  # the clock advances the site and the devices
    assert tcp_sim.devices[2].now_s > 0.1


def test_site_time_can_run_faster_than_the_devices():
    site = StaticSite(chargers=[StaticCharger(name="garage", response_s=0.0)])
    simulator = Simulator(
        site,
        [DeviceSpec("heidelberg_energy_control", 2, "garage")],
        line=LINE,
        modbus_tcp_port=None,
        rtu_over_tcp_port=None,
        site_speed=60.0,
    )
    device = simulator.devices[2]
    write_value(device, "current_limit", 16.0)
    simulator.advance(1.0)
    assert device.now_s == 1.0
    assert site.charger_view("garage").session_energy_kwh == pytest.approx(
        16 * 230 * 3 * 60 / 3.6e6
    )


def test_cli_parses_faults():
    assert parse_fault("2:silent") == (2, Faults(silent=True))
    assert parse_fault("2:corrupt") == (2, Faults(corrupt=True))
    assert parse_fault("3:slow=0.4") == (3, Faults(delay_s=0.4))
    assert parse_fault("1:exception=4") == (1, Faults(exception_code=4))
    for bad in ("2:loud", "x:silent", "3:slow=fast"):
        with pytest.raises(Exception, match="expected ID"):
            parse_fault(bad)


def test_static_site_steps_house_load_and_pv():
    site = StaticSite(house_currents_a=(3.0, 2.0, 1.0), pv_power_w=0.0)
    site.set_house_currents_a((12.0, 2.0, 1.0))
    assert site.grid_currents_a() == (12.0, 2.0, 1.0)
    site.set_pv_power_w(690.0)  # 1 A per phase at 230 V
    assert site.grid_currents_a() == pytest.approx((11.0, 1.0, 0.0))
    with pytest.raises(ValueError, match="3 phases"):
        site.set_house_currents_a((1.0, 2.0))


@pytest.mark.parametrize(
    ("model", "name", "value"),
    [
        ("vestel_evc04", "current_limit", 3),
        ("vestel_evc04", "watchdog_timeout", 1),
        ("keba_p30_p40", "current_limit", 3.0),
        ("keba_p30_p40", "failsafe_current", 2.0),
        ("keba_p30_p40", "watchdog_timeout", 5),
        ("keba_p30_p40", "enable", 2),
    ],
)
def test_second_wave_chargers_refuse_values_out_of_range(model: str, name: str, value: float):
    site = StaticSite(chargers=[StaticCharger(name="garage")])
    device = build_device(model, 255, site, charger_name="garage")
    assert isinstance(device, ChargerDevice)
    register = device.profile.register(name)
    with pytest.raises(ModbusError) as caught:
        device.write(16, 255, register.address, encode(register, value))
    assert caught.value.code == 3
    assert device.applied_a == 0
