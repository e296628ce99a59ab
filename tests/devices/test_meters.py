"""Meter driver: every first-wave meter decodes to the same reading; garbage never leaks."""

from __future__ import annotations

import pytest

from custom_components.headroom.devices.errors import NoResponse, Unsupported
from custom_components.headroom.devices.meters import Meter
from custom_components.headroom.devices.registers import get_profile
from tests.devices.fakes import FakeDevice
from tests.devices.test_profiles import FIRST_WAVE_METERS

THREE_PHASE = {
    "current_l1": 12.5,
    "current_l2": 3.25,
    "current_l3": 0.5,
    "voltage_l1": 231.0,
    "voltage_l2": 229.5,
    "voltage_l3": 230.0,
    "power_l1": 2800.0,
    "power_l2": 700.0,
    "power_l3": -100.0,
    "power_total": 3400.0,
    "energy_import": 1234.5,
    "energy_export": 42.0,
    "frequency": 50.0,
    "ct_ratio": 1,  # a direct-connect Chint DTSU666 (IrAt 1, UrAt 1.0)
    "vt_ratio": 1.0,
}
SINGLE_PHASE = {
    "current_l1": 7.5,
    "voltage_l1": 232.0,
    "power_total": 1700.0,
    "energy_import": 99.5,
    "energy_export": 1.5,
    "frequency": 49.9,
}


def _values(profile_id: str) -> dict[str, float]:
    profile = get_profile(profile_id)
    values = SINGLE_PHASE if profile.phases == 1 else THREE_PHASE
    return {name: value for name, value in values.items() if profile.has(name)}


def _meter(profile_id: str, **overrides: float) -> tuple[Meter, FakeDevice]:
    profile = get_profile(profile_id)
    device = FakeDevice.from_profile(profile, _values(profile_id) | overrides, strict=False)
    return Meter(device, profile), device


@pytest.mark.parametrize("profile_id", FIRST_WAVE_METERS)
async def test_first_wave_meter_reading(profile_id: str) -> None:
    meter, device = _meter(profile_id)
    reading = await meter.read()
    values = _values(profile_id)
    assert reading.current_l1_a == pytest.approx(values["current_l1"], abs=0.01)
    assert reading.voltage_l1_v == pytest.approx(values["voltage_l1"], abs=0.1)
    assert reading.power_total_w == pytest.approx(values["power_total"], abs=1)
    assert reading.energy_import_kwh == pytest.approx(values["energy_import"], abs=0.1)
    if "frequency" in values:
        assert reading.frequency_hz == pytest.approx(values["frequency"], abs=0.1)
    if meter.profile.phases == 1:
        assert reading.currents_a[1:] == (None, None)
        assert reading.power_l1_w == reading.power_total_w
    else:
        assert reading.current_l3_a == pytest.approx(0.5, abs=0.01)
        assert reading.power_l3_w == pytest.approx(-100.0, abs=1)
    assert meter.device_id == 1
    assert meter.has_phase_currents
    assert device.writes == []
    assert len(device.reads) <= 7  # planned blocks (+ a DTSU666's ratios), not one per value


@pytest.mark.parametrize("profile_id", FIRST_WAVE_METERS)
async def test_control_read_is_small(profile_id: str) -> None:
    meter, device = _meter(profile_id)
    reading = await meter.read(full=False)
    assert reading.current_l1_a is not None
    assert reading.voltage_l1_v is None
    assert sum(count for _, _, count in device.reads) <= 12


async def test_a_fast_read_is_merged_into_the_last_full_read() -> None:
    meter, device = _meter("eastron_sdm630")
    registers = meter.profile.registers
    alone = await meter.read(full=False)  # before any full read: the fast values alone
    assert alone.voltage_l1_v is None
    full = await meter.read()
    device.set(registers["current_l1"], 20.0)
    device.set(registers["voltage_l1"], 240.0)
    fast = await meter.read(full=False)
    assert fast.current_l1_a == pytest.approx(20.0)
    assert fast.voltage_l1_v == full.voltage_l1_v  # not read fast: the full read's
    assert (await meter.read()).voltage_l1_v == pytest.approx(240.0)


async def test_garbage_current_is_no_response() -> None:
    meter, device = _meter("eastron_sdm630")
    device.set_words(meter.profile.registers["current_l2"], [0x7FC0, 0x0000])  # NaN
    with pytest.raises(NoResponse, match="current_l2"):
        await meter.read()
    meter, device = _meter("eastron_sdm630", current_l1=1e6)
    with pytest.raises(NoResponse, match="current_l1"):
        await meter.read(full=False)


async def test_abb_not_available_current_is_no_response() -> None:
    meter, device = _meter("abb_b2x")
    device.set_words(meter.profile.registers["current_l1"], [0xFFFF, 0xFFFF])
    with pytest.raises(NoResponse):
        await meter.read()


async def test_implausible_other_values_become_none() -> None:
    meter, device = _meter("eastron_sdm630", voltage_l1=-5.0, frequency=0.0, energy_export=-1.0)
    device.set_words(meter.profile.registers["power_l2"], [0x7F80, 0x0000])  # +inf
    reading = await meter.read()
    assert reading.voltage_l1_v is None
    assert reading.frequency_hz is None
    assert reading.energy_export_kwh is None
    assert reading.power_l2_w is None
    assert reading.current_l1_a == pytest.approx(12.5)


async def test_meter_without_currents() -> None:
    profile = get_profile("eastron_sdm72dm_v1")
    meter = Meter(FakeDevice.from_profile(profile, {"power_total": 10.0}), profile)
    assert not meter.has_phase_currents
    assert meter.fields == ("power_total", "energy_import", "energy_export")
    reading = await meter.read()
    assert reading.currents_a == (None, None, None)
    assert reading.power_total_w == 10.0
    with pytest.raises(Unsupported):  # a balancing read: no current passes for 0 A
        await meter.read(full=False)


def test_a_charger_profile_is_not_a_meter() -> None:
    with pytest.raises(ValueError, match="not a meter"):
        Meter(FakeDevice(), get_profile("abb_terra_ac"))


async def test_meters_without_ratio_registers_use_one() -> None:
    meter, device = _meter("eastron_sdm630")
    ratios = await meter.read_ratios()
    assert (ratios.current, ratios.voltage, ratios.power) == (1.0, 1.0, 1.0)
    assert meter.ratios == ratios
    assert device.reads == []  # nothing to read
