"""Discovery: finds every first-wave device at its defaults, mixed buses, never writes."""

from __future__ import annotations

import asyncio

import pytest

from custom_components.headroom.devices.bus import BusSettings, SerialSettings, TcpSettings
from custom_components.headroom.devices.discovery import (
    ALL_IDS,
    FIRST_WAVE,
    FIRST_WAVE_CHARGERS,
    FIRST_WAVE_METERS,
    SCANNED,
    SECOND_WAVE_CHARGERS,
    SECOND_WAVE_METERS,
    FoundDevice,
    Scanner,
    ScanProgress,
    SerialLine,
    default_serial_lines,
    identify,
    probe_timeout_s,
)
from custom_components.headroom.devices.errors import ConnectionLost, DeviceRefused
from custom_components.headroom.devices.registers import get_profile
from tests.devices.fakes import FakeBus, FakeDevice, first_wave_device


def _key(settings: BusSettings) -> object:
    if isinstance(settings, SerialSettings):
        return (settings.baudrate, settings.parity, settings.stopbits)
    return "tcp"


class Network:
    """Buses by line setting: a device answers only at its own serial settings."""

    def __init__(self, devices: dict[object, dict[int, FakeDevice]]) -> None:
        self.devices = devices
        self.buses: list[FakeBus] = []

    def __call__(self, settings: BusSettings) -> FakeBus:
        bus = FakeBus(self.devices.get(_key(settings), {}))
        self.buses.append(bus)
        return bus

    def writes(self) -> list[tuple[int, list[int], int]]:
        return [w for bus in self.buses for w in bus.all_writes()]


def _at_defaults(profile_id: str, device_id: int | None = None) -> Network:
    profile = get_profile(profile_id)
    device = first_wave_device(profile, device_id)
    if profile.serial is None:
        return Network({"tcp": {device.device_id: device}})
    key = (profile.serial.baudrate, profile.serial.parity, profile.serial.stopbits)
    return Network({key: {device.device_id: device}})


def test_first_wave_is_the_design_list() -> None:
    """DESIGN section 1 names the devices the scan must find."""
    assert set(FIRST_WAVE_METERS) == {
        "eastron_sdm630",
        "eastron_sdm120",
        "eastron_sdm230",
        "eastron_sdm72dm_v2",
        "chint_dtsu666",
        "chint_ddsu666",
        "carlogavazzi_em3xx",
        "carlogavazzi_em1xx",
        "abb_b2x",
        "abb_b21",  # DESIGN's "ABB B2x": the 1-phase B21 has a profile of its own
        "orno_we516_517",
    }
    assert set(FIRST_WAVE_CHARGERS) == {
        "heidelberg_energy_control",
        "abb_terra_ac",
        "evse_wb_din",
        "alfen_eve",
    }


def test_second_wave_is_scanned_on_the_first_wave_lines() -> None:
    """The second wave adds models, not serial settings: the quick serial scan stays as long."""
    assert set(SECOND_WAVE_METERS) == {
        "shelly_pro_3em",
        "schneider_iem3x5x",
        "finder_7m38",
        "finder_7m24",
        "bernecker_mpm3pm",
        "orno_we514_515",
        "eastron_sdm72dm_v1",
        "ccs_wattnode_modbus",
    }
    assert set(SCANNED) == {*FIRST_WAVE, *SECOND_WAVE_METERS, *SECOND_WAVE_CHARGERS}
    assert set(SECOND_WAVE_CHARGERS) == {
        "vestel_evc04",
        "keba_p30_p40",
        "bender_cc612_cc613",
        "webasto_next",
        "amperfied_connect",
        "phoenix_ev_eth",
        "phoenix_ev_ser",
        "phoenix_charx",
    }
    assert default_serial_lines() == default_serial_lines(FIRST_WAVE)


def test_default_lines_are_deduplicated_most_common_first() -> None:
    lines = default_serial_lines()
    assert [str(line) for line in lines] == ["9600 8N1", "19200 8E1", "9600 8E1", "2400 8N1"]
    assert len(set(lines)) == len(lines)
    assert probe_timeout_s(lines[-1].settings("/dev/x")) < 0.25
    assert probe_timeout_s(TcpSettings("h", 502)) == pytest.approx(0.3)


@pytest.mark.parametrize("profile_id", [p for p in SCANNED if get_profile(p).serial])
async def test_finds_each_serial_device_at_its_defaults(profile_id: str) -> None:
    network = _at_defaults(profile_id)
    result = await Scanner(bus_factory=network).scan_serial("/dev/ttyUSB0")
    profile = get_profile(profile_id)
    assert profile.serial is not None
    assert result.devices == (
        FoundDevice(
            kind=profile.kind,
            model=profile_id,
            device_id=profile.serial.device_id,
            settings=SerialSettings(
                "/dev/ttyUSB0",
                profile.serial.baudrate,
                profile.serial.parity,
                profile.serial.stopbits,
            ),
        ),
    )
    assert result.unidentified == ()
    assert not result.cancelled
    assert network.writes() == []
    assert all(bus.closed for bus in network.buses)


async def test_finds_alfen_on_a_tcp_gateway() -> None:
    network = _at_defaults("alfen_eve")
    result = await Scanner(bus_factory=network).scan_tcp("192.0.2.1", 502)
    (found,) = result.devices
    assert (found.model, found.kind, found.device_id) == ("alfen_eve", "charger", 1)
    assert found.as_json() == {
        "kind": "charger",
        "model": "alfen_eve",
        "device_id": 1,
        "baudrate": None,
        "parity": None,
        "stopbits": None,
    }
    assert network.buses[0].devices  # the TcpSettings went to the factory
    assert network.writes() == []


async def test_mixed_bus_every_device_found_once() -> None:
    line = (9600, "N", 1)
    models = [
        "eastron_sdm630",
        "eastron_sdm230",
        "eastron_sdm72dm_v2",
        "chint_dtsu666",
        "chint_ddsu666",
        "carlogavazzi_em3xx",
        "carlogavazzi_em1xx",
        "abb_b2x",
        "abb_b21",
        "evse_wb_din",
    ]
    devices = {
        i: first_wave_device(get_profile(m), device_id=i) for i, m in enumerate(models, start=2)
    }
    other = {3: first_wave_device(get_profile("heidelberg_energy_control"), device_id=3)}
    network = Network({line: devices, (19200, "E", 1): other})
    seen: list[ScanProgress] = []
    scanner = Scanner(progress=seen.append, bus_factory=network)
    result = await scanner.scan_serial(
        "/dev/ttyUSB0", lines=[SerialLine(9600, "N", 1), SerialLine(19200, "E", 1)]
    )
    assert [(d.device_id, d.model) for d in result.devices] == [
        *enumerate(models, start=2),
        (3, "heidelberg_energy_control"),
    ]
    assert network.writes() == []
    assert [p.done for p in seen] == list(range(1, 33))
    assert {p.total for p in seen} == {32}
    assert seen[-1].found == len(models) + 1
    assert seen[-1].device_id == 16
    assert str(SerialLine(9600, "N", 1)) == "9600 8N1"


async def test_unknown_device_is_reported_unidentified() -> None:
    stranger = FakeDevice(device_id=5, holding={0: 1})
    network = Network({(9600, "N", 1): {5: stranger}})
    result = await Scanner(bus_factory=network).scan_serial(
        "/dev/x", lines=[SerialLine(9600, "N", 1)]
    )
    assert result.devices == ()
    assert [device_id for _, device_id in result.unidentified] == [5]
    assert stranger.writes == []


async def test_gateway_no_device_exception_is_silence() -> None:
    class Gateway(FakeDevice):
        async def read_holding(self, address: int, count: int) -> list[int]:  # noqa: ARG002
            raise DeviceRefused(str(address), exception_code=11)

    network = Network({"tcp": {7: Gateway(device_id=7)}})
    result = await Scanner(bus_factory=network).scan_tcp("h", 502, rtu_framing=True)
    assert result.devices == ()
    assert result.unidentified == ()


async def test_cancel_event_returns_what_was_found() -> None:
    network = _at_defaults("eastron_sdm630")
    scanner: Scanner

    def progress(step: ScanProgress) -> None:
        if step.done == 3:
            scanner.cancel()

    scanner = Scanner(progress=progress, bus_factory=network, device_ids=ALL_IDS)
    result = await scanner.scan_serial("/dev/x")
    assert result.cancelled
    assert [d.model for d in result.devices] == ["eastron_sdm630"]
    assert all(bus.closed for bus in network.buses)


async def test_an_external_cancel_event_stops_the_scan() -> None:
    event = asyncio.Event()
    network = _at_defaults("eastron_sdm630")
    event.set()
    result = await Scanner(bus_factory=network, cancel=event).scan_serial("/dev/x")
    assert result.cancelled
    assert result.devices == ()


async def test_task_cancellation_closes_the_bus() -> None:
    buses: list[FakeBus] = []

    def factory(settings: BusSettings) -> FakeBus:
        bus = FakeBus({}, probe_delay_s=10)
        buses.append(bus)
        return bus

    task = asyncio.create_task(Scanner(bus_factory=factory).scan_serial("/dev/x"))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert buses[0].closed


async def test_a_setting_the_port_refuses_is_skipped() -> None:
    device = first_wave_device(get_profile("eastron_sdm630"))
    seen: list[ScanProgress] = []

    buses: list[FakeBus] = []

    def factory(settings: BusSettings) -> FakeBus:
        assert isinstance(settings, SerialSettings)
        if settings.parity == "E":
            bus = FakeBus({}, connect_error=ConnectionLost("parity not supported"))
        else:
            bus = FakeBus({1: device} if settings.baudrate == 9600 else {})
        buses.append(bus)
        return bus

    result = await Scanner(bus_factory=factory, progress=seen.append).scan_serial("/dev/pty")
    assert [d.model for d in result.devices] == ["eastron_sdm630"]
    assert [(s.baudrate, reason) for s, reason in result.skipped] == [
        (19200, "parity not supported"),
        (9600, "parity not supported"),
    ]
    assert seen[-1].done == seen[-1].total == 64
    assert all(bus.closed for bus in buses)
    assert len(seen) == 16 + 1 + 1 + 16


async def test_missing_port_raises_connection_lost() -> None:
    def factory(settings: BusSettings) -> FakeBus:
        return FakeBus({}, connect_error=ConnectionLost("no such port"))

    with pytest.raises(ConnectionLost):
        await Scanner(bus_factory=factory).scan_serial("/dev/nothing")


def test_bad_id_ranges() -> None:
    with pytest.raises(ValueError, match=r"1\.\.247"):
        Scanner(device_ids=[0])
    with pytest.raises(ValueError, match=r"1\.\.247"):
        Scanner(device_ids=[])


@pytest.mark.parametrize(
    ("profile_id", "overrides", "expected"),
    [
        ("eastron_sdm630", {"meter_code": 999}, "eastron_sdm630"),  # unknown code: by values
        ("eastron_sdm120", {"meter_code": 999}, "eastron_sdm230"),  # 1-phase at 9600
        ("eastron_sdm630", {"meter_code": 999, "voltage_l1": 20.0}, None),
        ("carlogavazzi_em3xx", {"model_id": 5}, None),
        ("carlogavazzi_em1xx", {"voltage_l1": 1000.0}, None),
        ("abb_b2x", {"product_type": int.from_bytes(b"XYZ ", "big")}, None),
        ("heidelberg_energy_control", {"hw_max_current": 40}, None),
        ("evse_wb_din", {"firmware_version": 500}, None),
        ("abb_terra_ac", {"user_settable_max_current": 2.0}, None),
        ("chint_dtsu666", {"address": 9}, None),
    ],
)
async def test_fingerprints_reject_implausible(profile_id, overrides, expected) -> None:
    profile = get_profile(profile_id)
    device = first_wave_device(profile)
    identification = {i.register.name: i.register for i in profile.identification}
    for name, value in overrides.items():
        device.set(profile.registers.get(name) or identification[name], value)
    bus = FakeBus({1: device})
    settings = SerialSettings("/dev/x", 9600)
    assert await identify(bus, settings, 1) == expected
    assert device.writes == []


async def test_single_phase_sdm_at_2400_is_an_sdm120() -> None:
    profile = get_profile("eastron_sdm120")
    device = first_wave_device(profile)
    device.set(profile.registers["meter_code"], 999)
    assert await identify(FakeBus({1: device}), SerialSettings("/x", 2400), 1) == "eastron_sdm120"


async def test_em24_series_27_and_garbage_reads_are_not_values() -> None:
    profile = get_profile("carlogavazzi_em3xx")
    device = first_wave_device(profile)
    device.set(profile.identification[0].register, 338)
    device.set(get_profile("carlogavazzi_em24_rs485").registers["voltage_l1"], 230.0)
    assert await identify(FakeBus({1: device}), SerialSettings("/x", 9600), 1) == (
        "carlogavazzi_em24_rs485"
    )

    class Short(FakeDevice):
        async def read_holding(self, address: int, count: int) -> list[int]:  # noqa: ARG002
            return []

    assert await identify(FakeBus({1: Short()}), SerialSettings("/x", 9600), 1) is None
    nan_orno = first_wave_device(get_profile("orno_we516_517"))
    nan_orno.set_words(get_profile("orno_we516_517").registers["voltage_l1"], [0x7FC0, 0])
    assert await identify(FakeBus({1: nan_orno}), SerialSettings("/x", 9600, "E"), 1) is None


async def test_connection_lost_while_fingerprinting_propagates() -> None:
    device = first_wave_device(get_profile("eastron_sdm630"))
    device.fail_next = [DeviceRefused("x", exception_code=2), ConnectionLost("unplugged")]
    with pytest.raises(ConnectionLost):
        await identify(FakeBus({1: device}), SerialSettings("/x", 9600), 1)


async def test_a_link_without_parity_reports_each_device_once() -> None:
    """On a pty every parity reaches the device: report it once, at the first setting."""
    meter = first_wave_device(get_profile("eastron_sdm630"), device_id=1)
    orno = first_wave_device(get_profile("orno_we516_517"), device_id=2)

    def factory(settings: BusSettings) -> FakeBus:
        return FakeBus({1: meter, 2: orno} if settings.baudrate == 9600 else {})

    result = await Scanner(device_ids=range(1, 3), bus_factory=factory).scan_serial("/dev/pts/7")
    found = [(d.model, d.device_id, d.settings.parity) for d in result.devices]
    assert found == [("eastron_sdm630", 1, "N"), ("orno_we516_517", 2, "N")]
