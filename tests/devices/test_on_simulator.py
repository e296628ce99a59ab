"""Drivers and discovery through the real Bus against the device simulator on a pty.

The simulator's framing is written from the Modbus specification, independently of
pymodbus, so these tests check the drivers' decoding against a second implementation.
Parity cannot be set on a Linux pty here (the kernel refuses PARENB), so the lines are
8N1; what differs between devices' defaults is their baud rate and id.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest

from custom_components.headroom.devices.bus import Bus, SerialSettings, TcpSettings
from custom_components.headroom.devices.chargers import create_charger
from custom_components.headroom.devices.discovery import ALL_IDS, Scanner, SerialLine
from custom_components.headroom.devices.meters import Meter
from custom_components.headroom.devices.registers import get_profile
from custom_components.headroom.engine.model import ChargerState
from tools.simulator.line import LineSettings
from tools.simulator.personalities import AlfenDevice
from tools.simulator.simulator import DeviceSpec, Simulator
from tools.simulator.site import StaticCharger, StaticSite

MIXED_BUS = (
    DeviceSpec("eastron_sdm630", 1),
    DeviceSpec("heidelberg_energy_control", 2, "garage"),
    DeviceSpec("abb_terra_ac", 3, "driveway"),
    DeviceSpec("evse_wb_din", 4, "carport"),
    DeviceSpec("chint_dtsu666", 5),
    DeviceSpec("carlogavazzi_em3xx", 6),
    DeviceSpec("carlogavazzi_em1xx", 7),
    DeviceSpec("abb_b2x", 8),
    DeviceSpec("eastron_sdm72dm_v2", 9),
    DeviceSpec("chint_ddsu666", 10),
    DeviceSpec("orno_we516_517", 11),
    DeviceSpec("eastron_sdm230", 12),
)


def _site() -> StaticSite:
    return StaticSite(
        house_currents_a=(4.0, 2.0, 1.0),
        chargers=[StaticCharger(name=n, response_s=0.0) for n in ("garage", "driveway", "carport")],
    )


async def _simulator(
    tmp_path: Path, devices: Sequence[DeviceSpec], *, baudrate: int, wire_time: bool
) -> Simulator:
    simulator = Simulator(
        _site(),
        devices,
        line=LineSettings(baudrate, "N", 1),
        wire_time=wire_time,
        link=tmp_path / "ttySIM",
        modbus_tcp_port=None,
        rtu_over_tcp_port=None,
        native_tcp_port=None,
    )
    await simulator.start()
    return simulator


@pytest.fixture
async def mixed(tmp_path: Path) -> AsyncIterator[tuple[Simulator, Bus]]:
    simulator = await _simulator(tmp_path, MIXED_BUS, baudrate=9600, wire_time=False)
    bus = Bus(SerialSettings(str(tmp_path / "ttySIM"), 9600), timeout_s=0.3, retries=1)
    await bus.connect()
    yield simulator, bus
    await bus.close()
    await simulator.close()


async def test_meters_read_the_site(mixed: tuple[Simulator, Bus]) -> None:
    _, bus = mixed
    for spec in MIXED_BUS:
        profile = get_profile(spec.model)
        if profile.kind != "meter":
            continue
        meter = Meter(bus.device(spec.device_id), profile)
        reading = await meter.read()
        assert reading.current_l1_a is not None, spec.model
        assert reading.current_l1_a == pytest.approx(4.0, abs=0.05), spec.model
        assert reading.voltage_l1_v == pytest.approx(230.0, abs=0.5), spec.model
        if profile.phases == 3:
            assert reading.currents_a[1:] == pytest.approx((2.0, 1.0), abs=0.05), spec.model
        fast = await meter.read(full=False)
        assert fast.current_l1_a == pytest.approx(4.0, abs=0.05)


@pytest.mark.parametrize("device_id", [2, 3, 4])
async def test_chargers_follow_the_limit(mixed: tuple[Simulator, Bus], device_id: int) -> None:
    simulator, bus = mixed
    spec = next(s for s in MIXED_BUS if s.device_id == device_id)
    profile = get_profile(spec.model)
    charger = create_charger(bus.device(device_id, pacing_s=profile.pacing_s), profile)
    before = await charger.read()
    assert before.state in {ChargerState.B, ChargerState.C}
    await charger.set_limit(10)
    simulator.advance(0.1)
    after = await charger.read()
    assert after.state is ChargerState.C
    assert after.setpoint_a == pytest.approx(10)
    if charger.profile.has("current_l1"):
        assert after.current_l1_a == pytest.approx(10, abs=0.1)
    await charger.set_limit(0)  # pause
    simulator.advance(0.1)
    assert (await charger.read()).setpoint_a == 0
    if charger.has_watchdog:
        status = await charger.arm_watchdog(timeout_s=20, failsafe_a=6)
        assert status.failsafe_a == 6
        await charger.maintain()


async def test_mixed_bus_quick_scan_finds_everyone(mixed: tuple[Simulator, Bus]) -> None:
    simulator, bus = mixed
    await bus.close()  # the scan opens its own bus per setting
    port = str(simulator.endpoints().pty)
    result = await Scanner().scan_serial(port, lines=[SerialLine(9600, "N", 1)])
    assert [(d.device_id, d.model) for d in result.devices] == [
        (s.device_id, s.model) for s in MIXED_BUS
    ]
    assert result.unidentified == ()


async def test_quick_scan_time_with_wire_time(tmp_path: Path) -> None:
    simulator = await _simulator(
        tmp_path, [DeviceSpec("eastron_sdm120", 1)], baudrate=2400, wire_time=True
    )
    try:
        port = str(tmp_path / "ttySIM")
        started = time.monotonic()
        quick = await Scanner().scan_serial(
            port, lines=[SerialLine(9600, "N", 1), SerialLine(2400, "N", 1)]
        )
        quick_s = time.monotonic() - started
        assert [d.model for d in quick.devices] == ["eastron_sdm120"]
        # Two of the four first-wave settings (a pty cannot take even parity here); the
        # whole quick scan must fit 15 s, so these two certainly must, even on a busy CI.
        assert quick_s <= 15
    finally:
        await simulator.close()


async def test_alfen_and_gateway_over_tcp(tmp_path: Path, socket_enabled: None) -> None:
    del socket_enabled
    simulator = Simulator(
        _site(),
        [DeviceSpec("eastron_sdm630", 1), DeviceSpec("alfen_eve", 1, "garage")],
        line=LineSettings(9600, "N", 1),
        link=tmp_path / "ttySIM",
    )
    await simulator.start()
    try:
        endpoints = simulator.endpoints()
        assert endpoints.native_tcp_port is not None
        assert endpoints.rtu_over_tcp_port is not None
        alfen = await Scanner(device_ids=range(1, 4)).scan_tcp(
            "127.0.0.1", endpoints.native_tcp_port
        )
        assert [(d.model, d.device_id) for d in alfen.devices] == [("alfen_eve", 1)]
        gateway = await Scanner(device_ids=range(1, 4)).scan_tcp(
            "127.0.0.1", endpoints.rtu_over_tcp_port, rtu_framing=True
        )
        assert [(d.model, d.device_id) for d in gateway.devices] == [("eastron_sdm630", 1)]
        bus = Bus(TcpSettings("127.0.0.1", endpoints.native_tcp_port), timeout_s=1.0)
        await bus.connect()
        try:
            charger = create_charger(bus.device(1), get_profile("alfen_eve"))
            await charger.set_limit(16)
            status = await charger.arm_watchdog(timeout_s=60, failsafe_a=6)
            assert status.timeout_s is None  # the validity time is set in Alfen's app
            assert status.rewrite_interval_s == 25.0
            assert (await charger.read()).setpoint_a == 16
        finally:
            await bus.close()
    finally:
        await simulator.close()


@pytest.fixture
async def alfen_alone(tmp_path: Path, socket_enabled: None) -> AsyncIterator[Simulator]:
    """An Alfen Eve (socket 1) on its own Modbus TCP port; the test advances its time."""
    del socket_enabled
    simulator = Simulator(
        _site(),
        [DeviceSpec("alfen_eve", 1, "garage")],
        line=LineSettings(9600, "N", 1),
        link=tmp_path / "ttySIM",
        modbus_tcp_port=None,
        rtu_over_tcp_port=None,
    )
    await simulator.start()
    assert simulator._clock is not None
    simulator._clock.cancel()
    try:
        yield simulator
    finally:
        await simulator.close()


async def test_alfen_temperature_from_its_station_over_tcp(alfen_alone: Simulator) -> None:
    """The station's temperature (unit 200) heats under current; a refusing station is harmless."""
    simulator = alfen_alone
    port = simulator.endpoints().native_tcp_port
    assert port is not None
    # Unit 200 answers too (it is the station): the scan must not take it for a device.
    found = await Scanner(device_ids=[1, 200]).scan_tcp("127.0.0.1", port)
    assert [(d.model, d.device_id) for d in found.devices] == [("alfen_eve", 1)]
    alfen: AlfenDevice = simulator.native_line.devices[1]  # type: ignore[assignment]
    alfen.heat_under_current(c_per_a2=0.2, time_constant_s=10.0)
    bus = Bus(TcpSettings("127.0.0.1", port), timeout_s=1.0)
    await bus.connect()
    try:
        charger = create_charger(bus.device(1), get_profile("alfen_eve"))
        await charger.set_limit(16)
        assert (await charger.read()).temperature_c == pytest.approx(alfen.ambient_c)
        simulator.advance(60.0)
        hot = (await charger.read()).temperature_c
        assert hot is not None
        assert hot > alfen.ambient_c + 20
        assert hot == pytest.approx(alfen.temperature_c, abs=0.1)  # a float32, rounded
        assert bus.stats.for_device(200).requests >= 2
        # The station's identity is read there too (at unit 1 the socket has none).
        assert (await charger.identity()).firmware == "6.4.0-4210"
        # A station that refuses (here: a gateway's "target failed to respond", 11).
        alfen.station_exception = 11
        refused = create_charger(bus.device(1), get_profile("alfen_eve"))
        reading = await refused.read()
        assert reading.state is ChargerState.C
        assert reading.current_l1_a is not None
        assert reading.temperature_c is None
        assert "exception 11" in refused.disabled_registers["temperature"]
        assert (await refused.read()).current_l1_a is not None
    finally:
        await bus.close()


def test_all_ids_is_the_whole_range() -> None:
    assert list(ALL_IDS) == list(range(1, 248))


async def test_alfen_validity_time_is_learnt_and_kept(alfen_alone: Simulator) -> None:
    """
    The installer set a 20 s validity time in Alfen's app; the loop arms 60 s. The time left
    (1208) after a write tells the driver, which re-writes within half of it: the station
    never falls back to its safe current while it is driven.
    """
    simulator = alfen_alone
    port = simulator.endpoints().native_tcp_port
    assert port is not None
    alfen: AlfenDevice = simulator.native_line.devices[1]  # type: ignore[assignment]
    alfen.validity_s = 20.0
    bus = Bus(TcpSettings("127.0.0.1", port), timeout_s=1.0)
    await bus.connect()
    try:
        charger = create_charger(bus.device(1), get_profile("alfen_eve"), clock=lambda: alfen.now_s)
        status = await charger.arm_watchdog(timeout_s=60, failsafe_a=6)
        assert status.rewrite_interval_s == 25.0  # evcc's, until the station tells
        assert charger.fallback_after_s is None
        await charger.set_limit(16)
        fell_back = []
        for second in range(120):
            simulator.advance(1.0)
            await charger.read(full=second % 10 == 0)
            await charger.maintain()
            fell_back.append(alfen.in_failsafe)
        assert charger.fallback_after_s == 20.0
        assert not any(fell_back)
        assert alfen.applied_a == 16.0
        # Armed again (the loop's timeout changed): what the station told still holds.
        again = await charger.arm_watchdog(timeout_s=60, failsafe_a=6)
        assert again.rewrite_interval_s == 10.0
    finally:
        await bus.close()
