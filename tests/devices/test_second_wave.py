"""Second-wave meters: profiles, fingerprints that cannot mistake one model for another."""

from __future__ import annotations

import pytest

from custom_components.headroom.devices.bus import SerialSettings, TcpSettings
from custom_components.headroom.devices.discovery import (
    SECOND_WAVE_METERS,
    FoundDevice,
    Scanner,
    SerialLine,
    default_serial_lines,
    identify,
)
from custom_components.headroom.devices.errors import Unsupported
from custom_components.headroom.devices.meters import Meter
from custom_components.headroom.devices.registers import Register, get_profile
from tests.devices.fakes import FakeBus, FakeDevice, first_wave_device

SHELLY = "shelly_pro_3em"
# What a Shelly keeps at input 0..5: its MAC as ASCII. "C4" reads as a float of about 196,
# a plausible voltage where an Eastron SDM keeps its L1 voltage.
SHELLY_MAC = "C45BBE6F2A10"


def _string(profile_id: str, name: str) -> Register:
    profile = get_profile(profile_id)
    return next(i.register for i in profile.identification if i.register.name == name)


def _shelly(model: str = "SPEM-003CEBEU", *, swapped: bool = False) -> FakeDevice:
    device = first_wave_device(get_profile(SHELLY))
    raw = model.encode().ljust(20, b"\x00")
    if swapped:  # the byte order the Victron handler reads
        raw = b"".join(raw[i + 1 : i + 2] + raw[i : i + 1] for i in range(0, len(raw), 2))
    device.set_words(
        _string(SHELLY, "model"), [int.from_bytes(raw[i : i + 2], "big") for i in range(0, 20, 2)]
    )
    mac = SHELLY_MAC.encode()
    for offset in range(6):
        device.input[offset] = int.from_bytes(mac[2 * offset : 2 * offset + 2], "big")
    return device


@pytest.mark.parametrize("profile_id", SECOND_WAVE_METERS)
def test_second_wave_meters_have_what_balancing_needs(profile_id: str) -> None:
    profile = get_profile(profile_id)
    assert profile.kind == "meter"
    assert profile.serial is not None or profile.tcp is not None
    if profile_id == "eastron_sdm72dm_v1":
        # totals only (mbmd: "no currents"): read, but never a balancing meter
        assert not profile.has("current_l1")
        assert profile.has("power_total")
        return
    phases = ("l1",) if profile.phases == 1 else ("l1", "l2", "l3")
    for phase in phases:
        assert profile.has(f"current_{phase}")
        assert profile.has(f"voltage_{phase}")
    assert profile.has("power_total")


def test_shelly_is_modbus_tcp_at_unit_1() -> None:
    profile = get_profile(SHELLY)
    assert profile.serial is None
    assert profile.tcp is not None
    assert (profile.tcp.port, profile.tcp.unit_id) == (502, 1)


async def test_shelly_found_on_its_own_socket() -> None:
    """Scanned over Modbus TCP, the Shelly is unit 1; nothing is written."""
    device = _shelly()
    bus = FakeBus({1: device})
    result = await Scanner(bus_factory=lambda _: bus).scan_tcp("192.0.2.7", 502)
    assert result.devices == (
        FoundDevice(
            kind="meter", model=SHELLY, device_id=1, settings=TcpSettings("192.0.2.7", 502)
        ),
    )
    assert bus.all_writes() == []


@pytest.mark.parametrize(
    ("device", "expected"),
    [
        (_shelly(), SHELLY),
        (_shelly(swapped=True), SHELLY),  # the byte order the Victron handler reads
        (_shelly("SPEM-003CEBEU400"), SHELLY),  # Pro 3EM-400
        # a Pro EM-50: a Shelly, but not one Headroom reads - and not an SDM230 either
        (_shelly("SPEM-002CEBEU50"), None),
    ],
    ids=["docs-byte-order", "swapped-bytes", "pro-3em-400", "pro-em-50"],
)
async def test_shelly_model_code_decides(device: FakeDevice, expected: str | None) -> None:
    assert await identify(FakeBus({1: device}), TcpSettings("h", 502), 1) == expected


async def test_shelly_in_monophase_profile_is_not_taken_for_an_sdm() -> None:
    """
    Monophase moves the readings to 32000+: nothing Headroom reads, and the MAC at 0 looks
    like an SDM's voltage. Without the stop on a Shelly model code it was an SDM230.
    """
    device = _shelly()
    profile = get_profile(SHELLY)
    for name in ("voltage_l1", "voltage_l2", "voltage_l3"):
        register = profile.register(name)
        for offset in range(register.count):
            device.input.pop(register.address + offset, None)
    assert await identify(FakeBus({1: device}), TcpSettings("h", 502), 1) is None


async def test_shelly_fingerprint_is_not_tried_on_a_serial_line() -> None:
    """A Shelly has no RS-485 port: its read is spared on every serial device."""
    device = _shelly()
    for offset in range(6):
        del device.input[offset]  # no MAC: nothing for the value fingerprints either
    assert await identify(FakeBus({1: device}), SerialSettings("/dev/x", 9600), 1) is None
    assert (4, 6, 10) not in device.reads


@pytest.mark.parametrize(
    ("profile_id", "overrides", "expected"),
    [
        ("schneider_iem3x5x", {"meter_model": "PM3255"}, None),
        ("schneider_iem3x5x", {"voltage_l1": 900.0}, None),
        ("finder_7m38", {"frequency": 0.0}, None),
        ("finder_7m38", {"voltage_l1": 12.0}, None),
        ("finder_7m24", {"frequency": 0.0}, None),
        # a 7M.38 whose L2 and L3 are dead reads as the 1-phase model: L1 and total agree
        ("finder_7m38", {"voltage_l2": 0.0, "voltage_l3": 0.0}, "finder_7m24"),
        ("bernecker_mpm3pm", {"frequency": 0.0}, None),
        ("orno_we514_515", {"frequency": 0.0}, None),
        ("eastron_sdm72dm_v1", {"energy_import": -1.0}, None),
        # a WNC model code with no voltage behind it is no WattNode
        ("ccs_wattnode_modbus", {"voltage_l1": 5000.0, "frequency": 0.0}, None),
        # a model code outside the WNC list: the float block still tells (WND series)
        ("ccs_wattnode_modbus", {"model": 0}, "ccs_wattnode_modbus"),
        ("ccs_wattnode_modbus", {"model": 0, "frequency": 0.0}, None),
        # zeros everywhere: anything that answers zeros, not an SDM72D-M v1
        (
            "eastron_sdm72dm_v1",
            {"power_total": 0.0, "energy_import": 0.0, "energy_export": 0.0, "energy_total": 0.0},
            None,
        ),
    ],
)
async def test_second_wave_fingerprints_reject_implausible(
    profile_id: str, overrides: dict[str, float | str], expected: str | None
) -> None:
    profile = get_profile(profile_id)
    device = first_wave_device(profile)
    identification = {i.register.name: i.register for i in profile.identification}
    for name, value in overrides.items():
        device.set(profile.registers.get(name) or identification[name], value)
    assert await identify(FakeBus({1: device}), SerialSettings("/dev/x", 9600), 1) == expected
    assert device.writes == []


# Models told apart by plausible values alone, and their neighbours: on a link that
# carries no parity (a pty, many gateways) they all answer one scan.
LOOK_ALIKES = (
    "eastron_sdm230",
    "eastron_sdm72dm_v1",
    "eastron_sdm72dm_v2",
    "chint_ddsu666",
    "orno_we516_517",
    "orno_we514_515",
    "finder_7m38",
    "finder_7m24",
    "bernecker_mpm3pm",
    "schneider_iem3x5x",
    "carlogavazzi_em3xx",
    "chint_dtsu666",
    "abb_b2x",
    "ccs_wattnode_modbus",
)


async def test_look_alikes_on_one_bus_each_found_as_itself() -> None:
    devices = {
        i: first_wave_device(get_profile(m), device_id=i)
        for i, m in enumerate(LOOK_ALIKES, start=1)
    }
    bus = FakeBus(devices)
    result = await Scanner(bus_factory=lambda _: bus).scan_serial(
        "/dev/ttyUSB0", lines=[SerialLine(9600, "N", 1)]
    )
    assert [(d.device_id, d.model) for d in result.devices] == list(enumerate(LOOK_ALIKES, start=1))
    assert result.unidentified == ()
    assert bus.all_writes() == []


@pytest.mark.parametrize("profile_id", ["finder_7m38", "bernecker_mpm3pm", "schneider_iem3x5x"])
async def test_second_wave_meter_reads_through_the_driver(profile_id: str) -> None:
    profile = get_profile(profile_id)
    device = first_wave_device(profile)  # the fake's counter holds 100 in the register's unit
    kwh = 0.1 if profile.register("energy_import").unit == "Wh" else 100.0
    meter = Meter(FakeBus({1: device}).device(1), profile)
    reading = await meter.read()
    assert reading.currents_a == pytest.approx((5.0, 4.0, 3.0))
    assert reading.voltage_l1_v == pytest.approx(230.0)
    assert reading.power_total_w == pytest.approx(2800.0)
    assert reading.energy_import_kwh == pytest.approx(kwh)


async def test_sdm72_v1_reads_totals_but_never_balances() -> None:
    """No phase currents: a balancing read is refused, never a reading of 0 A."""
    profile = get_profile("eastron_sdm72dm_v1")
    meter = Meter(FakeBus({1: first_wave_device(profile)}).device(1), profile)
    reading = await meter.read()  # scripts/read and the sensors: the totals
    assert reading.power_total_w == pytest.approx(2800.0)
    assert reading.currents_a == (None, None, None)
    with pytest.raises(Unsupported, match="measures no phase currents"):
        await meter.read(full=False)


async def test_a_model_string_of_another_maker_is_no_shelly() -> None:
    device = _shelly("ACME-METER")
    assert await identify(FakeBus({1: device}), TcpSettings("h", 502), 1) != SHELLY


WATTNODE = "ccs_wattnode_modbus"


def test_wattnode_ships_at_9600_8n1_and_is_scanned_there() -> None:
    """Vendor manual: DIP 8 down = 9600 baud, N81; the address is the installer's (1 first)."""
    serial = get_profile(WATTNODE).serial
    assert serial is not None
    assert (serial.baudrate, serial.parity, serial.stopbits, serial.verified) == (
        9600,
        "N",
        1,
        True,
    )
    assert SerialLine(9600, "N", 1) in default_serial_lines()


async def test_wattnode_split_phase_reads_both_legs_low_word_first() -> None:
    """
    A WNC-3D-240 on a 120/240 V panel: legs A and B, phase C at 0. The floats come low
    word first (CCS: "1009 PowerSum least significant word"); read high word first, 120 V
    would be garbage, so the words are checked as they sit in the registers.
    """
    profile = get_profile(WATTNODE)
    values = {
        "voltage_l1": 120.5,
        "voltage_l2": 119.5,
        "voltage_l3": 0.0,
        "current_l1": 20.0,
        "current_l2": 12.0,
        "current_l3": 0.0,
        "power_l1": 2410.0,
        "power_l2": -1434.0,
        "power_l3": 0.0,
        "power_total": 976.0,
        "energy_import": 1234.5,
        "energy_export": 56.25,  # negative energy, reported positive (vendor manual)
        "frequency": 60.0,
    }
    device = FakeDevice.from_profile(profile, values, device_id=7)
    low, high = device.holding[1018], device.holding[1019]
    assert (high << 16 | low) == 0x42F10000  # 120.5 as IEEE 754, low word at 1018
    reading = await Meter(FakeBus({7: device}).device(7), profile).read()
    assert reading.currents_a == pytest.approx((20.0, 12.0, 0.0))
    assert (reading.voltage_l1_v, reading.voltage_l2_v) == pytest.approx((120.5, 119.5))
    assert (reading.power_l2_w, reading.power_total_w) == pytest.approx((-1434.0, 976.0))
    assert reading.energy_import_kwh == pytest.approx(1234.5)
    assert reading.energy_export_kwh == pytest.approx(56.25)
    assert reading.frequency_hz == pytest.approx(60.0)


async def test_finder_7m24_reads_one_phase_and_float_watt_hours() -> None:
    """One phase of the 7M.38 map; the counters are floats in Wh (mbmd, the star.ke.st map)."""
    profile = get_profile("finder_7m24")
    values = {
        "voltage_l1": 231.5,
        "current_l1": 7.25,
        "power_total": -1500.0,  # exporting
        "frequency": 50.0,
        "energy_import": 123456.5,
        "energy_export": 2500.0,
    }
    device = FakeDevice.from_profile(profile, values, device_id=1)
    reading = await Meter(FakeBus({1: device}).device(1), profile).read()
    assert reading.currents_a == (pytest.approx(7.25), None, None)
    assert (reading.voltage_l1_v, reading.power_total_w) == pytest.approx((231.5, -1500.0))
    assert (reading.energy_import_kwh, reading.energy_export_kwh) == pytest.approx((123.4565, 2.5))
    assert await identify(FakeBus({1: device}), SerialSettings("/dev/x", 9600), 1) == "finder_7m24"


async def test_finder_7m24_answering_zero_on_l2_is_still_the_7m24() -> None:
    """Whether a 7M.24 refuses L2/L3 or answers 0 there is not documented: both are a 7M.24."""
    profile = get_profile("finder_7m24")
    device = first_wave_device(profile)
    for address in (2502, 2503, 2504, 2505):
        device.input[address] = 0
    assert await identify(FakeBus({1: device}), SerialSettings("/dev/x", 9600), 1) == "finder_7m24"
