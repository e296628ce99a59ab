"""
What real meters and chargers do that the register maps alone do not say (issue 11).

Each test runs the product's driver through the real `Bus` against a simulator
personality that behaves as the hardware does (tools/simulator/personalities.py), on a pty.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from custom_components.headroom.devices.bus import Bus, SerialSettings, TcpSettings
from custom_components.headroom.devices.chargers import (
    EvseWbDin,
    HeidelbergEnergyControl,
    create_charger,
)
from custom_components.headroom.devices.discovery import Scanner, SerialLine
from custom_components.headroom.devices.errors import NoResponse, Unsupported
from custom_components.headroom.devices.meters import Meter
from custom_components.headroom.devices.planner import RegisterReader
from custom_components.headroom.devices.registers import get_profile
from custom_components.headroom.engine.model import ChargerState
from tools.simulator.devices import ProfileDevice
from tools.simulator.line import LineSettings
from tools.simulator.personalities import (
    AbbTerraDevice,
    AlfenDevice,
    EvseWbDevice,
    HeidelbergDevice,
)
from tools.simulator.simulator import DeviceSpec, Simulator
from tools.simulator.site import StaticCharger, StaticSite

HOUSE_A = (4.0, 2.0, 1.0)


class Clock:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Line:
    """A running simulator and a bus on its pty."""

    simulator: Simulator
    bus: Bus

    def device(self, device_id: int) -> ProfileDevice:
        return self.simulator.devices[device_id]

    def meter(self, model: str, device_id: int) -> Meter:
        return Meter(self.bus.device(device_id), get_profile(model))


type StartLine = Callable[..., Awaitable[Line]]


@pytest.fixture
async def line(tmp_path: Path) -> AsyncIterator[StartLine]:
    """Start a simulated RS-485 line (9600 8N1) with the given devices, and a bus on it."""
    opened: list[Line] = []

    async def start(*devices: DeviceSpec) -> Line:
        site = StaticSite(
            house_currents_a=HOUSE_A,
            chargers=[StaticCharger(name="garage", response_s=0.0)],
        )
        simulator = Simulator(
            site,
            devices,
            line=LineSettings(9600, "N", 1),
            link=tmp_path / f"tty{len(opened)}",
            modbus_tcp_port=None,
            rtu_over_tcp_port=None,
            native_tcp_port=None,
        )
        await simulator.start()
        bus = Bus(SerialSettings(str(simulator.endpoints().pty), 9600), timeout_s=0.3, retries=1)
        await bus.connect()
        opened.append(Line(simulator, bus))
        return opened[-1]

    yield start
    for item in opened:
        await item.bus.close()
        await item.simulator.close()


# --- 1. Chint DTSU666 behind current transformers ----------------------------------------


async def test_dtsu666_ct_meter_reads_primary_current(line: StartLine) -> None:
    sim = await line(DeviceSpec("chint_dtsu666", 5))
    sim.device(5).settings["ct_ratio"] = 40  # a 200/5 A CT
    meter = sim.meter("chint_dtsu666", 5)
    reading = await meter.read()
    # Without the ratio the meter reads 4 A / 40 = 0.1 A: the breaker trips unseen.
    assert reading.currents_a == pytest.approx(HOUSE_A, abs=0.05)
    assert reading.voltage_l1_v == pytest.approx(230.0, abs=0.5)
    assert reading.power_total_w == pytest.approx(sum(HOUSE_A) * 230.0, rel=0.01)
    assert reading.energy_import_kwh is None  # sources disagree on the counters with a CT
    control = await meter.read(full=False)
    assert control.current_l1_a == pytest.approx(4.0, abs=0.05)


async def test_dtsu666_ratio_is_read_again_with_the_identity(line: StartLine) -> None:
    sim = await line(DeviceSpec("chint_dtsu666", 5))
    device = sim.device(5)
    meter = sim.meter("chint_dtsu666", 5)
    assert (await meter.read()).current_l1_a == pytest.approx(4.0, abs=0.05)
    assert (await meter.read()).energy_import_kwh is not None  # direct: counters are kWh
    device.settings["ct_ratio"] = 50  # an installer fits a CT
    await meter.identity()
    assert (await meter.read()).current_l1_a == pytest.approx(4.0, abs=0.05)
    assert meter.ratios is not None
    assert meter.ratios.current == 50


@pytest.mark.parametrize(("ct", "vt"), [(0, 1.0), (1, 0.0), (-5, 1.0)])
async def test_dtsu666_ratio_not_understood_is_refused(line: StartLine, ct: int, vt: float) -> None:
    sim = await line(DeviceSpec("chint_dtsu666", 5))
    sim.device(5).settings |= {"ct_ratio": ct, "vt_ratio": vt}
    with pytest.raises(Unsupported, match="IrAt"):
        await sim.meter("chint_dtsu666", 5).read(full=False)


# --- 2. EVSE-WB after a reboot, Modbus enable, 0.01 A unit ------------------------------


async def _evse(line: StartLine, clock: Clock) -> tuple[EvseWbDin, EvseWbDevice, Line]:
    sim = await line(DeviceSpec("evse_wb_din", 4, "garage"))
    profile = get_profile("evse_wb_din")
    charger = create_charger(sim.bus.device(4), profile, clock=clock, verify_interval_s=60)
    assert isinstance(charger, EvseWbDin)
    device = sim.device(4)
    assert isinstance(device, EvseWbDevice)
    return charger, device, sim


async def test_evse_wb_restarts_at_the_fail_safe_current_after_a_power_cut(line: StartLine) -> None:
    clock = Clock()
    charger, device, sim = await _evse(line, clock)
    assert device.settings["current_after_boot"] == 32  # factory setting
    with pytest.raises(Unsupported, match="no watchdog"):
        await charger.arm_watchdog(timeout_s=20, failsafe_a=6)
    assert device.settings["current_after_boot"] == 6
    await charger.set_limit(16)
    device.power_cycle()
    sim.simulator.advance(0.1)
    assert device.applied_a == 6  # not the factory 32 A
    # Another tool puts it back to 32: the next due full read writes it again.
    device.settings["current_after_boot"] = 32
    await charger.read()
    assert device.settings["current_after_boot"] == 32  # not due yet
    clock.now += 61
    await charger.read()
    assert device.settings["current_after_boot"] == 6


async def test_evse_wb_with_modbus_control_off_is_not_controllable(line: StartLine) -> None:
    charger, device, _ = await _evse(line, Clock())
    device.settings["modbus_enabled"] = 0
    with pytest.raises(Unsupported, match="2001"):
        await charger.read()
    with pytest.raises(Unsupported, match="2001"):
        await charger.set_limit(10)
    assert device.applied_a == 0


async def test_evse_wb_centiamps_only_from_firmware_17(line: StartLine) -> None:
    charger, device, _ = await _evse(line, Clock())
    device.firmware = 16
    device.settings["config_bits"] = 0x0080  # set, but firmware 16 does not honour it
    await charger.set_limit(10)
    assert device.applied_a == 10
    assert (await charger.read()).setpoint_a == 10


async def test_evse_wb_notices_the_unit_flipped_by_another_tool(line: StartLine) -> None:
    clock = Clock()
    charger, device, _ = await _evse(line, clock)
    await charger.set_limit(10)
    assert device.applied_a == 10
    device.settings["config_bits"] = 0x0080  # e.g. the EVSE-WiFi web UI: 0.01 A steps
    clock.now += 61
    await charger.read()
    await charger.set_limit(12)
    assert device.applied_a == 12  # not 0.12 A
    assert (await charger.read()).setpoint_a == pytest.approx(12)


# --- 3. ABB Terra AC paused below 6 A ---------------------------------------------------


async def test_abb_terra_paused_car_is_b_and_resumes(line: StartLine) -> None:
    sim = await line(DeviceSpec("abb_terra_ac", 3, "garage"))
    charger = create_charger(sim.bus.device(3), get_profile("abb_terra_ac"))
    await charger.set_limit(10)
    sim.simulator.advance(0.1)
    assert (await charger.read()).state is ChargerState.C
    await charger.set_limit(0)  # pause
    sim.simulator.advance(0.1)
    paused = await charger.read()
    # State code 5: evcc maps it to B with a car connected; F made the engine drop the car.
    assert paused.state is ChargerState.B
    await charger.set_limit(8)  # resume
    sim.simulator.advance(0.1)
    assert (await charger.read()).state is ChargerState.C


# --- 4. Alfen on one phase, 1208 all ones --------------------------------------------------


async def test_alfen_single_phase_is_readable(tmp_path: Path, socket_enabled: None) -> None:
    del socket_enabled
    site = StaticSite(
        house_currents_a=HOUSE_A, chargers=[StaticCharger(name="garage", response_s=0.0)]
    )
    simulator = Simulator(
        site,
        [DeviceSpec("alfen_eve", 1, "garage")],
        line=LineSettings(9600, "N", 1),
        link=tmp_path / "ttyA",
        modbus_tcp_port=None,
        rtu_over_tcp_port=None,
        native_tcp_port=0,
    )
    await simulator.start()
    device = simulator.tcp_devices[1]
    assert isinstance(device, AlfenDevice)
    device.single_phase = True
    port = simulator.endpoints().native_tcp_port
    assert port is not None
    bus = Bus(TcpSettings("127.0.0.1", port), timeout_s=1.0)
    await bus.connect()
    try:
        charger = create_charger(bus.device(1), get_profile("alfen_eve"))
        status = await charger.arm_watchdog(timeout_s=60, failsafe_a=6)
        # 1208 answers all ones before any setpoint: not a 4.3e9 s validity time
        assert status.timeout_s is None
        assert status.rewrite_interval_s == 25.0
        await charger.set_limit(10)
        simulator.advance(0.1)
        reading = await charger.read()
        assert reading.state is ChargerState.C
        assert reading.current_l1_a == pytest.approx(10.0, abs=0.1)
        assert reading.currents_a[1:] == (0.0, 0.0)
        assert (await charger.read(full=False)).currents_a[1:] == (0.0, 0.0)
    finally:
        await bus.close()
        await simulator.close()


# --- 5. ABB Terra AC on firmware without read-backs ------------------------------------------


async def test_abb_terra_older_firmware_full_read_works(line: StartLine) -> None:
    clock = Clock()
    sim = await line(DeviceSpec("abb_terra_ac", 3, "garage"))
    device = sim.device(3)
    assert isinstance(device, AbbTerraDevice)
    device.older_firmware()
    charger = create_charger(sim.bus.device(3), get_profile("abb_terra_ac"), clock=clock)
    await charger.set_limit(10)
    sim.simulator.advance(0.1)
    reading = await charger.read()
    assert reading.state is ChargerState.C
    assert reading.power_w is not None
    assert reading.setpoint_a is None  # no read-back on this firmware
    assert set(charger.disabled_registers) == {
        "watchdog_timeout_readback",
        "current_limit_readback",
        "failsafe_current_readback",
    }
    requests = device.requests
    await charger.read()
    assert device.requests == requests + 1  # refused once, then one request per full read
    status = await charger.arm_watchdog(timeout_s=30, failsafe_a=8)
    assert status.failsafe_a == 8
    clock.now += 61
    await charger.maintain()
    assert device.settings["failsafe_current"] == 8


# --- 6. optional registers: EM24 kWh(-), SDM72D-M v2 request size ---------------------------


async def test_em24_without_export_counter_keeps_the_control_read(line: StartLine) -> None:
    sim = await line(DeviceSpec("carlogavazzi_em24_rs485", 2))
    meter = sim.meter("carlogavazzi_em24_rs485", 2)
    reading = await meter.read()
    assert reading.currents_a == pytest.approx(HOUSE_A, abs=0.01)
    assert reading.energy_import_kwh is not None
    assert reading.energy_export_kwh is None
    assert list(meter.disabled_registers) == ["energy_export"]
    assert "exception 2" in meter.disabled_registers["energy_export"]
    again = await meter.read()
    assert again.current_l1_a == pytest.approx(4.0, abs=0.01)


async def test_sdm72dm_v2_requests_at_most_60_registers(line: StartLine) -> None:
    profile = get_profile("eastron_sdm72dm_v2")
    sim = await line(DeviceSpec("eastron_sdm72dm_v2", 9))
    reader = RegisterReader(sim.bus.device(9), profile)
    everything = [r.name for r in profile.registers.values() if r.readable]
    # Vendor manual: at most 30 parameters (60 registers) per request. With today's gap
    # rules no block of this map comes near it (the longest is 36); the limit is a guard.
    assert profile.max_registers_per_read == 60
    assert max(block.count for block in reader.plan(everything)) <= 60
    values = await reader.read(everything)
    assert values["frequency"] == pytest.approx(50.0)
    assert values["current_l1"] == pytest.approx(4.0)


# --- 7. Heidelberg locked in state F --------------------------------------------------------


async def test_heidelberg_in_f_is_unlocked(line: StartLine) -> None:
    clock = Clock()
    sim = await line(DeviceSpec("heidelberg_energy_control", 2, "garage"))
    device = sim.device(2)
    assert isinstance(device, HeidelbergDevice)
    charger = create_charger(
        sim.bus.device(2), get_profile("heidelberg_energy_control"), clock=clock
    )
    assert isinstance(charger, HeidelbergEnergyControl)
    await charger.arm_watchdog(timeout_s=20, failsafe_a=6)
    device.lock()
    assert (await charger.read()).state is ChargerState.F
    await charger.maintain()
    assert device.settings["remote_lock"] == 1
    await charger.set_limit(10)
    sim.simulator.advance(0.1)
    assert (await charger.read()).state is ChargerState.C


# --- 8. ABB B21 is single-phase -----------------------------------------------------------


async def test_abb_b21_is_found_and_read_as_single_phase(line: StartLine) -> None:
    sim = await line(DeviceSpec("abb_b21", 8))
    # On the 3-phase map a B21 answers "not available" on L2/L3: never usable as abb_b2x.
    with pytest.raises(NoResponse, match="current_l2"):
        await sim.meter("abb_b2x", 8).read(full=False)
    await sim.bus.close()
    result = await Scanner(device_ids=range(7, 10)).scan_serial(
        str(sim.simulator.endpoints().pty), lines=[SerialLine(9600, "N", 1)]
    )
    assert [(d.model, d.device_id) for d in result.devices] == [("abb_b21", 8)]
    await sim.bus.connect()
    meter = sim.meter("abb_b21", 8)
    reading = await meter.read()
    assert reading.currents_a == (pytest.approx(4.0, abs=0.01), None, None)
    assert reading.voltage_l1_v == pytest.approx(230.0, abs=0.1)
    assert reading.power_total_w == pytest.approx(4.0 * 230.0, abs=1)
    assert reading.power_l1_w == reading.power_total_w
    assert reading.energy_import_kwh is not None
