"""Device settings the drivers refuse reach the flow as an error key; refused registers the site."""

from __future__ import annotations

from pathlib import Path

from custom_components.headroom.devices.bus import Bus, SerialSettings
from custom_components.headroom.devices.chargers import create_charger
from custom_components.headroom.devices.meters import Meter
from custom_components.headroom.devices.registers import get_profile
from custom_components.headroom.engine import Balancer
from custom_components.headroom.engine_settings import ChargerConfig
from custom_components.headroom.flow_common import probe_device
from custom_components.headroom.site import METER_KEY, Site
from custom_components.headroom.validation import site_settings
from tests.devices.fakes import FakeDevice
from tools.simulator.line import LineSettings
from tools.simulator.simulator import DeviceSpec, Simulator
from tools.simulator.site import StaticCharger, StaticSite

OPTIONS = {"supply": "three_phase", "breaker_a": 25.0, "margin_a": 1.0, "fail_safe_a": 6.0}


async def test_unsupported_settings_are_a_flow_error(tmp_path: Path) -> None:
    site = StaticSite(chargers=[StaticCharger(name="garage")])
    simulator = Simulator(
        site,
        [DeviceSpec("chint_dtsu666", 1), DeviceSpec("evse_wb_din", 2, "garage")],
        line=LineSettings(9600, "N", 1),
        link=tmp_path / "tty",
        modbus_tcp_port=None,
        rtu_over_tcp_port=None,
        native_tcp_port=None,
    )
    await simulator.start()
    try:
        simulator.devices[1].settings["ct_ratio"] = 0  # not a ratio
        simulator.devices[2].settings["modbus_enabled"] = 0  # limits would be ignored
        settings = SerialSettings(str(simulator.endpoints().pty), 9600)
        assert await probe_device(None, settings, "chint_dtsu666", 1) == (
            "unsupported_setting",
            0.0,
        )
        assert await probe_device(None, settings, "evse_wb_din", 2) == (
            "unsupported_setting",
            0.0,
        )
        bus = Bus(settings)
        await bus.connect()
        try:
            assert await probe_device(None, settings, "evse_wb_din", 2, bus=bus) == (
                "unsupported_setting",
                0.0,
            )
        finally:
            await bus.close()
    finally:
        await simulator.close()


async def test_site_lists_refused_registers_per_device() -> None:
    em24 = get_profile("carlogavazzi_em24_rs485")
    values = {"current_l1": 5.0, "current_l2": 4.0, "current_l3": 3.0, "power_total": 2.0}
    meter = FakeDevice.from_profile(em24, values | {"voltage_l1": 230.0}, strict=True)
    heidelberg = get_profile("heidelberg_energy_control")
    charger = FakeDevice.from_profile(
        heidelberg, {"charger_state": 4, "current_limit": 0.0}, device_id=2, strict=False
    )
    chargers = [ChargerConfig(charger_id="garage", data={"phases": [1, 2, 3], "max_a": 16})]
    site = Site(
        balancer=Balancer(site_settings({"meter_device_id": 1}, OPTIONS, chargers)),
        buses=[],
        meter=Meter(meter, em24),
        chargers={"garage": create_charger(charger, heidelberg)},
        watchdog_timeout_s=15.0,
    )
    assert site.disabled_registers == {}
    result = await site.cycle(100.0, full=True)
    assert result.meter_ok  # the control read carries on without what the meter lacks
    assert set(site.disabled_registers[METER_KEY]) >= {"energy_export", "frequency"}
    assert "garage" not in site.disabled_registers
    without_meter = Site(
        balancer=Balancer(site_settings({}, OPTIONS, chargers)),
        buses=[],
        meter=None,
        chargers={"garage": create_charger(charger, heidelberg)},
        watchdog_timeout_s=15.0,
    )
    assert without_meter.disabled_registers == {}
