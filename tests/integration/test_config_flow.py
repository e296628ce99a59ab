"""The config flow: connection, scan, meter, site, chargers, fail-safe; every error path."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from unittest.mock import patch

import probatio as vol
import pytest
from homeassistant.config_entries import SOURCE_USB, SOURCE_USER, ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType, InvalidData
from homeassistant.helpers.service_info.usb import UsbServiceInfo

from custom_components.headroom.const import DOMAIN
from custom_components.headroom.devices.bus import BusSettings, SerialSettings, TcpSettings
from custom_components.headroom.devices.discovery import (
    FoundDevice,
    Scanner,
    ScanProgress,
    ScanResult,
    SerialLine,
)
from custom_components.headroom.devices.errors import ConnectionLost
from custom_components.headroom.devices.probe import serial_port_problem
from custom_components.headroom.diagnostics import async_get_config_entry_diagnostics
from custom_components.headroom.flow_common import device_id_field
from tests.integration.helpers import (
    CARPORT_ID,
    GARAGE_ID,
    METER_ID,
    setup_site,
    site_entry,
    stop_simulator,
)
from tools.simulator import DeviceSpec, LineSettings, Simulator, StaticSite


class FakeScanner:
    """Stands in for the discovery scan: reports progress, returns `outcome`."""

    outcome: tuple[FoundDevice, ...] | Exception = ()
    skipped: tuple[tuple[BusSettings, str], ...] = ()
    block: asyncio.Event | None = None
    cancelled = False

    def __init__(self, *, device_ids: Any, progress: Any) -> None:
        self.ids = list(device_ids)
        self.progress = progress

    async def _run(self, settings: BusSettings) -> ScanResult:
        self.progress(ScanProgress(done=1, total=2, settings=settings, device_id=1, found=0))
        if FakeScanner.block is not None:
            await FakeScanner.block.wait()
        if isinstance(FakeScanner.outcome, Exception):
            raise FakeScanner.outcome
        return ScanResult(
            devices=FakeScanner.outcome,
            unidentified=(),
            skipped=FakeScanner.skipped,
            cancelled=False,
        )

    async def scan_serial(self, port: str) -> ScanResult:
        return await self._run(SerialSettings(port, 9600))

    async def scan_tcp(self, host: str, port: int, *, rtu_framing: bool = False) -> ScanResult:
        return await self._run(TcpSettings(host, port, "rtu" if rtu_framing else "socket"))

    def cancel(self) -> None:
        FakeScanner.cancelled = True


@pytest.fixture(autouse=True)
def fake_scanner() -> Iterator[type[FakeScanner]]:
    FakeScanner.outcome = ()
    FakeScanner.skipped = ()
    FakeScanner.block = None
    FakeScanner.cancelled = False
    with patch("custom_components.headroom.flow_scan.Scanner", FakeScanner):
        yield FakeScanner


def found_on(settings: BusSettings) -> tuple[FoundDevice, ...]:
    return (
        FoundDevice(kind="meter", model="eastron_sdm630", device_id=METER_ID, settings=settings),
        FoundDevice(
            kind="charger",
            model="heidelberg_energy_control",
            device_id=GARAGE_ID,
            settings=settings,
        ),
        FoundDevice(kind="charger", model="abb_terra_ac", device_id=CARPORT_ID, settings=settings),
    )


async def scan_serial(hass: HomeAssistant, port: str) -> dict[str, Any]:
    """Start a flow, pick the serial port, let the scan finish; return the next step."""
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert result["step_id"] == "user"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"connection": "serial"}
    )
    assert result["step_id"] == "serial"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"device": port, "scan_all": False}
    )
    return await finish_scan(hass, result)


async def finish_scan(hass: HomeAssistant, result: dict[str, Any]) -> dict[str, Any]:
    assert result["type"] is FlowResultType.SHOW_PROGRESS
    assert result["progress_action"] == "scan"
    await hass.async_block_till_done()
    # The flow manager moves past "progress done" to the next step by itself.
    return await hass.config_entries.flow.async_configure(result["flow_id"])


async def to_charger_step(hass: HomeAssistant, port: str, chargers: list[str]) -> dict[str, Any]:
    """Scan `port`, take the meter, describe the site, choose `chargers`: at the first one."""
    FakeScanner.outcome = found_on(SerialSettings(port, 9600))
    result = await scan_serial(hass, port)
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"meter": "0"})
    result = await hass.config_entries.flow.async_configure(result["flow_id"], SITE)
    return await hass.config_entries.flow.async_configure(
        result["flow_id"], {"chargers": chargers, "add_manual": False}
    )


SITE = {"name": "Home", "supply": "three_phase", "voltage_v": 230, "breaker_a": 25, "margin_a": 1}
CHARGER = {"phases": "1_2_3", "max_a": 16, "shared_circuit": False, "priority": 1}


async def choose_and_finish(  # noqa: PLR0913 (one answer per step)
    hass: HomeAssistant,
    result: dict[str, Any],
    *,
    meter: str,
    charger: str,
    name: str,
    fail_safe_a: float,
) -> dict[str, Any]:
    """From the meter step: pick `meter`, the site, one found `charger`, finish the flow."""
    flow = hass.config_entries.flow
    result = await flow.async_configure(result["flow_id"], {"meter": meter})
    result = await flow.async_configure(result["flow_id"], SITE)
    result = await flow.async_configure(
        result["flow_id"], {"chargers": [charger], "add_manual": False}
    )
    result = await flow.async_configure(result["flow_id"], {"name": name, **CHARGER})
    return await flow.async_configure(
        result["flow_id"], {"fail_safe_a": fail_safe_a, "circuit_a": 0}
    )


async def test_full_flow_with_found_devices(hass: HomeAssistant, simulator: Simulator) -> None:
    port = simulator.endpoints().pty or ""
    FakeScanner.outcome = found_on(SerialSettings(port, 9600))
    result = await scan_serial(hass, port)
    assert result["step_id"] == "meter"
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"meter": "0"})
    assert result["step_id"] == "site"
    result = await hass.config_entries.flow.async_configure(result["flow_id"], SITE)
    assert result["step_id"] == "chargers"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"chargers": ["1", "2"], "add_manual": False}
    )
    assert result["step_id"] == "charger"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"name": "Garage", **CHARGER, "max_a": 20}
    )
    assert result["errors"] == {"max_a": "charger_above_model"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"name": "Garage", **CHARGER, "max_a": 32}
    )
    assert result["errors"] == {"max_a": "charger_above_breaker"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"name": "Garage", **CHARGER}
    )
    assert result["step_id"] == "charger"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"name": "Carport", **CHARGER, "priority": 2}
    )
    assert result["step_id"] == "fail_safe"
    # 25 A - 1 A margin - 5 A house load, shared by two chargers: 9 A.
    # At most 12 A each fits 25 A - 1 A with both chargers at it.
    assert result["description_placeholders"] == {"suggested": "9", "maximum": "12"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"fail_safe_a": 3, "circuit_a": 0}
    )
    assert result["errors"] == {"fail_safe_a": "fail_safe_below_minimum"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"fail_safe_a": 9, "circuit_a": 32}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Home"
    assert result["data"] == {
        "connection": "serial",
        "device": port,
        "baudrate": 9600,
        "parity": "N",
        "stopbits": 1,
        "meter_model": "eastron_sdm630",
        "meter_device_id": METER_ID,
    }
    assert result["options"]["breaker_a"] == 25
    assert result["options"]["fail_safe_a"] == 9
    entry = result["result"]
    chargers = {s.title: s.data for s in entry.subentries.values()}
    assert chargers["Carport"]["priority"] == 2
    assert chargers["Garage"]["phases"] == [1, 2, 3]
    assert chargers["Garage"]["model"] == "heidelberg_energy_control"
    await hass.async_block_till_done()


async def test_duplicate_charger_and_line_conflict(
    hass: HomeAssistant, simulator: Simulator
) -> None:
    port = simulator.endpoints().pty or ""
    found = found_on(SerialSettings(port, 9600))
    other_line = FoundDevice(
        kind="charger",
        model="heidelberg_energy_control",
        device_id=5,
        settings=SerialSettings(port, 19200, "E"),
    )
    FakeScanner.outcome = (*found, other_line)
    result = await scan_serial(hass, port)
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"meter": "0"})
    result = await hass.config_entries.flow.async_configure(result["flow_id"], SITE)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"chargers": ["3"], "add_manual": False}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"name": "Garage", **CHARGER}
    )
    assert result["errors"] == {"base": "line_conflict"}
    hass.config_entries.flow.async_abort(result["flow_id"])


async def test_serial_port_missing_then_busy(hass: HomeAssistant, tmp_path: Path) -> None:
    FakeScanner.outcome = ConnectionLost("cannot open")
    missing = str(tmp_path / "ttyUSB9")
    result = await scan_serial(hass, missing)
    assert result["step_id"] == "serial"
    assert result["errors"] == {"base": "port_missing"}

    # A terminal that exists but that the bus could not open: another program holds it.
    master, slave = os.openpty()
    try:
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"device": os.ttyname(slave), "scan_all": True}
        )
        result = await finish_scan(hass, result)
        assert result["errors"] == {"base": "port_busy"}
    finally:
        os.close(master)
        os.close(slave)

    # Paths that are no serial port at all are not "busy".
    regular = tmp_path / "ttyUSB0"
    regular.write_text("")
    for path in (str(regular), str(tmp_path), "/dev/null"):
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"device": path, "scan_all": True}
        )
        result = await finish_scan(hass, result)
        assert result["errors"] == {"base": "not_a_serial_port"}, path
    hass.config_entries.flow.async_abort(result["flow_id"])


async def test_gateway_unreachable_then_nothing_found(hass: HomeAssistant) -> None:
    FakeScanner.outcome = ConnectionLost("refused")
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"connection": "rtu_over_tcp"}
    )
    assert result["step_id"] == "tcp"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"host": "192.0.2.1", "port": 502, "scan_all": False}
    )
    result = await finish_scan(hass, result)
    assert result["step_id"] == "tcp"
    assert result["errors"] == {"base": "cannot_connect"}

    FakeScanner.outcome = ()
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"host": "192.0.2.1", "port": 502, "scan_all": False}
    )
    result = await finish_scan(hass, result)
    assert result["step_id"] == "meter"
    assert result["errors"] == {"base": "nothing_found"}
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"meter": "none"})
    assert result["step_id"] == "site"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {**SITE, "breaker_a": 5}
    )
    assert result["errors"] == {"breaker_a": "breaker_too_low"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {**SITE, "breaker_a": 10, "margin_a": 5}
    )
    assert result["errors"] == {"margin_a": "margin_too_large"}
    result = await hass.config_entries.flow.async_configure(result["flow_id"], SITE)
    assert result["step_id"] == "chargers"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"add_manual": False}
    )
    assert result["step_id"] == "fail_safe"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"fail_safe_a": 0, "circuit_a": 0}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"] == {"connection": "rtu_over_tcp", "host": "192.0.2.1", "port": 502}
    assert result["result"].unique_id == "tcp:192.0.2.1:502"


async def test_manual_meter_and_charger(hass: HomeAssistant, simulator: Simulator) -> None:
    port = simulator.endpoints().pty or ""
    result = await scan_serial(hass, port)
    assert result["errors"] == {"base": "nothing_found"}
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"meter": "manual"})
    assert result["step_id"] == "meter_manual"
    manual = {"baudrate": "9600", "parity": "N", "stopbits": "1"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"model": "eastron_sdm630", "device_id": 9, **manual}
    )
    assert result["errors"] == {"base": "no_answer"}
    # The Heidelberg at id 2 refuses the SDM630's input registers.
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"model": "eastron_sdm630", "device_id": GARAGE_ID, **manual}
    )
    assert result["errors"] == {"base": "wrong_model"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"model": "eastron_sdm630", "device_id": METER_ID, **manual}
    )
    assert result["step_id"] == "site"
    result = await hass.config_entries.flow.async_configure(result["flow_id"], SITE)
    assert result["step_id"] == "chargers"
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"add_manual": True})
    assert result["step_id"] == "charger_manual"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"model": "abb_terra_ac", "device_id": 7, **manual}
    )
    assert result["errors"] == {"base": "no_answer"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"model": "abb_terra_ac", "device_id": CARPORT_ID, **manual}
    )
    assert result["step_id"] == "charger"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"name": "Carport", **CHARGER}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"fail_safe_a": 6, "circuit_a": 0}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert len(result["result"].subentries) == 1
    await hass.async_block_till_done()


async def test_found_meter_that_no_longer_answers(
    hass: HomeAssistant, simulator: Simulator
) -> None:
    port = simulator.endpoints().pty or ""
    FakeScanner.outcome = found_on(SerialSettings(port, 9600))
    result = await scan_serial(hass, port)
    simulator.devices[METER_ID].faults.silent = True
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"meter": "0"})
    assert result["errors"] == {"base": "no_answer"}
    hass.config_entries.flow.async_abort(result["flow_id"])


async def test_manual_charger_without_meter_on_a_closed_port(
    hass: HomeAssistant, tmp_path: Path
) -> None:
    port = str(tmp_path / "ttyACM0")
    result = await scan_serial(hass, port)
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"meter": "none"})
    result = await hass.config_entries.flow.async_configure(result["flow_id"], SITE)
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"add_manual": True})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {
            "model": "evse_wb_din",
            "device_id": 1,
            "baudrate": "9600",
            "parity": "N",
            "stopbits": "1",
        },
    )
    assert result["errors"] == {"base": "port_missing"}
    hass.config_entries.flow.async_abort(result["flow_id"])


async def test_no_meter_takes_line_settings_from_the_charger(
    hass: HomeAssistant, simulator: Simulator
) -> None:
    port = simulator.endpoints().pty or ""
    FakeScanner.outcome = found_on(SerialSettings(port, 9600))[1:]
    result = await scan_serial(hass, port)
    result = await choose_and_finish(
        hass, result, meter="none", charger="0", name="Garage", fail_safe_a=0
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"]["baudrate"] == 9600
    assert "meter_device_id" not in result["data"]
    await hass.async_block_till_done()


async def test_site_cannot_be_added_twice(hass: HomeAssistant, tmp_path: Path) -> None:
    port = str(tmp_path / "ttyUSB0")
    site_entry(port).add_to_hass(hass)
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"connection": "serial"}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"device": port, "scan_all": False}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


async def test_usb_discovery(hass: HomeAssistant, tmp_path: Path) -> None:
    port = str(tmp_path / "ttyUSB0")
    info = UsbServiceInfo(
        device=port,
        vid="0403",
        pid="6001",
        serial_number="A10K",
        manufacturer="FTDI",
        description="USB-RS485 Cable",
    )
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USB}, data=info
    )
    assert result["step_id"] == "usb_confirm"
    assert result["description_placeholders"] == {"name": "USB-RS485 Cable"}
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"scan_all": False})
    result = await finish_scan(hass, result)
    assert result["step_id"] == "meter"
    hass.config_entries.flow.async_abort(result["flow_id"])

    site_entry(port).add_to_hass(hass)
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USB}, data=info
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


async def test_usb_discovery_prefers_the_stable_path(hass: HomeAssistant, tmp_path: Path) -> None:
    device = tmp_path / "ttyUSB3"
    device.write_text("")
    by_id = tmp_path / "by-id"
    by_id.mkdir()
    (by_id / "usb-FTDI_RS485-if00").symlink_to(device)
    (by_id / "usb-other-if00").symlink_to(tmp_path / "elsewhere")
    info = UsbServiceInfo(
        device=str(device),
        vid="1A86",
        pid="7523",
        serial_number=None,
        manufacturer=None,
        description=None,
    )
    with patch("custom_components.headroom.flow_scan.SERIAL_BY_ID", by_id):
        result = await hass.config_entries.flow.async_init(
            DOMAIN, context={"source": SOURCE_USB}, data=info
        )
    assert result["description_placeholders"] == {"name": str(by_id / "usb-FTDI_RS485-if00")}
    hass.config_entries.flow.async_abort(result["flow_id"])


async def test_closing_the_dialog_stops_the_scan(hass: HomeAssistant, tmp_path: Path) -> None:
    FakeScanner.block = asyncio.Event()
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"connection": "serial"}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"device": str(tmp_path / "ttyUSB0"), "scan_all": False}
    )
    assert result["type"] is FlowResultType.SHOW_PROGRESS
    result = await hass.config_entries.flow.async_configure(result["flow_id"])
    assert result["type"] is FlowResultType.SHOW_PROGRESS
    hass.config_entries.flow.async_abort(result["flow_id"])
    await hass.async_block_till_done()
    assert FakeScanner.cancelled


@pytest.fixture
async def gateway(
    hass: HomeAssistant, socket_enabled: None, sim_site: StaticSite
) -> AsyncIterator[Simulator]:
    """The meter and the ABB Terra AC behind an RTU-over-TCP gateway on 127.0.0.1."""
    simulator = Simulator(
        sim_site,
        [DeviceSpec("eastron_sdm630", METER_ID), DeviceSpec("abb_terra_ac", CARPORT_ID, "carport")],
        line=LineSettings(9600),
        modbus_tcp_port=None,
        rtu_over_tcp_port=0,
        native_tcp_port=None,
    )
    await simulator.start()
    yield simulator
    await stop_simulator(hass, simulator)


async def test_gateway_flow(hass: HomeAssistant, gateway: Simulator) -> None:
    port = gateway.endpoints().rtu_over_tcp_port or 0
    settings = TcpSettings("127.0.0.1", port, "rtu")
    FakeScanner.outcome = (found_on(settings)[0], found_on(settings)[2])
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"connection": "rtu_over_tcp"}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"host": "127.0.0.1", "port": port, "scan_all": False}
    )
    result = await finish_scan(hass, result)
    result = await choose_and_finish(
        hass, result, meter="0", charger="1", name="Carport", fail_safe_a=6
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    entry = result["result"]
    assert entry.data == {
        "connection": "rtu_over_tcp",
        "host": "127.0.0.1",
        "port": port,
        "meter_model": "eastron_sdm630",
        "meter_device_id": METER_ID,
    }
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    diagnostics = await async_get_config_entry_diagnostics(hass, entry)
    assert diagnostics["buses"][0]["line"] == {"framer": "rtu"}
    assert diagnostics["entry"]["data"]["host"] == "**REDACTED**"

    # A charger added to a gateway site needs no line settings.
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, "charger"), context={"source": SOURCE_USER}
    )
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"next_step_id": "port"}
    )
    assert set(result["data_schema"].schema) == {"model", "device_id"}
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"model": "abb_terra_ac", "device_id": 6}
    )
    assert result["errors"] == {"base": "no_answer"}
    # The gateway went away: the running site's bus cannot reach it.
    await gateway.close()
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"model": "abb_terra_ac", "device_id": 8}
    )
    assert result["errors"] == {"base": "cannot_connect"}


async def test_manual_meter_behind_a_gateway(hass: HomeAssistant, gateway: Simulator) -> None:
    port = gateway.endpoints().rtu_over_tcp_port or 0
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"connection": "rtu_over_tcp"}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"host": "127.0.0.1", "port": port, "scan_all": False}
    )
    result = await finish_scan(hass, result)
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"meter": "manual"})
    assert set(result["data_schema"].schema) == {"model", "device_id"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"model": "eastron_sdm630", "device_id": METER_ID}
    )
    assert result["step_id"] == "site"
    hass.config_entries.flow.async_abort(result["flow_id"])


async def test_usb_path_without_a_stable_link(hass: HomeAssistant, tmp_path: Path) -> None:
    by_id = tmp_path / "by-id"
    by_id.mkdir()
    (by_id / "usb-other-if00").symlink_to(tmp_path / "elsewhere")
    info = UsbServiceInfo(
        device=str(tmp_path / "ttyUSB5"),
        vid="1A86",
        pid="7523",
        serial_number=None,
        manufacturer=None,
        description=None,
    )
    with patch("custom_components.headroom.flow_scan.SERIAL_BY_ID", by_id):
        result = await hass.config_entries.flow.async_init(
            DOMAIN, context={"source": SOURCE_USB}, data=info
        )
    assert result["description_placeholders"] == {"name": str(tmp_path / "ttyUSB5")}
    hass.config_entries.flow.async_abort(result["flow_id"])


async def test_real_scan_finds_the_simulated_devices(
    hass: HomeAssistant, simulator: Simulator
) -> None:
    """The discovery scan itself, on the simulator's line (one line setting, ids 1-4)."""
    port = simulator.endpoints().pty or ""
    with (
        patch("custom_components.headroom.flow_scan.Scanner", Scanner),
        patch("custom_components.headroom.flow_scan.QUICK_IDS", range(1, 5)),
        patch(
            "custom_components.headroom.devices.discovery.default_serial_lines",
            return_value=[SerialLine(9600, "N", 1)],
        ),
    ):
        result = await scan_serial(hass, port)
    assert result["step_id"] == "meter"
    assert result["description_placeholders"]["found"] == "4"
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"meter": "0"})
    result = await hass.config_entries.flow.async_configure(result["flow_id"], SITE)
    assert result["step_id"] == "chargers"
    assert result["description_placeholders"] == {"found": "3"}
    hass.config_entries.flow.async_abort(result["flow_id"])


async def test_line_settings_the_adapter_refused_are_named(
    hass: HomeAssistant, simulator: Simulator
) -> None:
    """An adapter without parity: the user learns that 8E1 devices could not be found."""
    port = simulator.endpoints().pty or ""
    FakeScanner.outcome = found_on(SerialSettings(port, 9600))[:1]
    FakeScanner.skipped = (
        (SerialSettings(port, 19200, "E", 1), "parity not supported"),
        (SerialSettings(port, 9600, "E", 1), "parity not supported"),
    )
    result = await scan_serial(hass, port)
    assert result["step_id"] == "scan_skipped"
    assert result["description_placeholders"] == {
        "bus": f"serial port {port}",
        "found": "1",
        "skipped": "19200 8E1, 9600 8E1",
    }
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["step_id"] == "meter"
    assert result["description_placeholders"]["found"] == "1"
    hass.config_entries.flow.async_abort(result["flow_id"])


async def site_step(hass: HomeAssistant) -> dict[str, Any]:
    """A flow at the site step, with no device found (nothing to connect to)."""
    result = await scan_serial(hass, "/dev/ttyUSB0")
    assert result["step_id"] == "meter"
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"meter": "none"})
    assert result["step_id"] == "site"
    return result


@pytest.mark.parametrize(
    ("changes", "errors"),
    [
        ({"breaker_a": "nan"}, {"breaker_a": "not_a_number"}),
        ({"margin_a": "NaN"}, {"margin_a": "not_a_number"}),
        ({"voltage_v": "nan"}, {"voltage_v": "not_a_number"}),
        ({"name": "   "}, {"name": "name_empty"}),
        ({"name": "x" * 10_000}, {"name": "name_too_long"}),
        # A right-to-left override makes "Garage\u202eegaraC" read as something else.
        ({"name": "Home\u202eemoH"}, {"name": "name_invalid"}),
        ({"name": "Home\x00"}, {"name": "name_invalid"}),
    ],
)
async def test_site_step_refuses_what_is_not_a_number_or_a_name(
    hass: HomeAssistant, changes: dict[str, Any], errors: dict[str, str]
) -> None:
    result = await site_step(hass)
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {**SITE, **changes})
    assert result["step_id"] == "site"
    assert result["errors"] == errors
    hass.config_entries.flow.async_abort(result["flow_id"])


async def test_site_step_refuses_infinity_in_the_form(hass: HomeAssistant) -> None:
    result = await site_step(hass)
    with pytest.raises(InvalidData):
        await hass.config_entries.flow.async_configure(
            result["flow_id"], {**SITE, "breaker_a": "inf"}
        )
    # The flow is where it was; a number goes through.
    result = await hass.config_entries.flow.async_configure(result["flow_id"], SITE)
    assert result["step_id"] == "chargers"
    hass.config_entries.flow.async_abort(result["flow_id"])


async def test_fail_safe_above_what_the_breaker_carries_is_an_error(
    hass: HomeAssistant, simulator: Simulator
) -> None:
    result = await to_charger_step(hass, simulator.endpoints().pty or "", ["1", "2"])
    for name in ("Garage", "Carport"):
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"name": name, **CHARGER}
        )
    assert result["step_id"] == "fail_safe"
    # Two 16 A chargers on 25 A - 1 A: each may fall back to 12 A at most.
    assert result["description_placeholders"]["maximum"] == "12"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"fail_safe_a": 16, "circuit_a": 0}
    )
    assert result["errors"] == {"fail_safe_a": "fail_safe_too_high"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"fail_safe_a": "nan", "circuit_a": 0}
    )
    assert result["errors"] == {"fail_safe_a": "not_a_number"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"fail_safe_a": 12, "circuit_a": 0}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()


async def test_a_charger_needs_a_name(hass: HomeAssistant, simulator: Simulator) -> None:
    result = await to_charger_step(hass, simulator.endpoints().pty or "", ["1"])
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"name": " ", **CHARGER}
    )
    assert result["errors"] == {"name": "name_empty"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"name": "Garage", **CHARGER, "max_a": "nan"}
    )
    assert result["errors"] == {"max_a": "not_a_number"}
    hass.config_entries.flow.async_abort(result["flow_id"])


def test_a_terminal_that_cannot_be_opened_is_busy() -> None:
    master, slave = os.openpty()
    try:
        # Another program holds it exclusively (root could open it anyway: say it here).
        with patch("custom_components.headroom.devices.probe.os.open", side_effect=OSError(16)):
            assert serial_port_problem(os.ttyname(slave)) == "port_busy"
        assert serial_port_problem(os.ttyname(slave)) == "port_busy"
    finally:
        os.close(master)
        os.close(slave)


def adapter_at(device: str) -> UsbServiceInfo:
    return UsbServiceInfo(
        device=device,
        vid="1A86",
        pid="55D3",
        serial_number="5A7B0123",
        manufacturer="wch.cn",
        description="USB to RS485",
    )


async def test_a_replugged_adapter_moves_its_site(hass: HomeAssistant, tmp_path: Path) -> None:
    by_id = tmp_path / "by-id"  # no stable link for this adapter
    by_id.mkdir()
    old, new = str(tmp_path / "ttyACM0"), str(tmp_path / "ttyACM1")
    entry = site_entry(old)
    entry.add_to_hass(hass)
    with patch("custom_components.headroom.flow_scan.SERIAL_BY_ID", by_id):
        # Seen once on its port: the site set up by hand learns its adapter.
        result = await hass.config_entries.flow.async_init(
            DOMAIN, context={"source": SOURCE_USB}, data=adapter_at(old)
        )
        assert result["reason"] == "already_configured"
        assert entry.data["usb_id"]
        # Plugged into another socket: the same adapter on a new path.
        result = await hass.config_entries.flow.async_init(
            DOMAIN, context={"source": SOURCE_USB}, data=adapter_at(new)
        )
        await hass.async_block_till_done()
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    assert entry.data["device"] == new
    assert entry.unique_id == f"serial:{new}"
    assert {s.data["device"] for s in entry.subentries.values()} == {new}
    assert not hass.config_entries.flow.async_progress()
    # Seen again where it is now: nothing to move.
    with (
        patch("custom_components.headroom.flow_scan.SERIAL_BY_ID", by_id),
        patch.object(hass.config_entries, "async_schedule_reload") as reload,
    ):
        result = await hass.config_entries.flow.async_init(
            DOMAIN, context={"source": SOURCE_USB}, data=adapter_at(new)
        )
    assert result["reason"] == "already_configured"
    assert entry.data["device"] == new
    reload.assert_not_called()
    # Another adapter of the same model (its own serial number) is a new site.
    other = adapter_at(str(tmp_path / "ttyACM2"))
    other.serial_number = "5A7B0999"
    with patch("custom_components.headroom.flow_scan.SERIAL_BY_ID", by_id):
        result = await hass.config_entries.flow.async_init(
            DOMAIN, context={"source": SOURCE_USB}, data=other
        )
    assert result["step_id"] == "usb_confirm"
    hass.config_entries.flow.async_abort(result["flow_id"])


async def test_a_site_found_by_usb_remembers_its_adapter(
    hass: HomeAssistant, simulator: Simulator
) -> None:
    port = simulator.endpoints().pty or ""
    FakeScanner.outcome = found_on(SerialSettings(port, 9600))
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USB}, data=adapter_at(port)
    )
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"scan_all": False})
    result = await finish_scan(hass, result)
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"meter": "0"})
    result = await hass.config_entries.flow.async_configure(result["flow_id"], SITE)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"chargers": [], "add_manual": False}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"fail_safe_a": 0, "circuit_a": 0}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"]["usb_id"] == "1A86:55D3_5A7B0123_wch.cn_USB to RS485"
    await hass.async_block_till_done()


async def test_a_running_site_learns_its_adapter_without_a_reload(
    hass: HomeAssistant, simulator: Simulator
) -> None:
    port = simulator.endpoints().pty or ""
    entry = site_entry(port)
    coordinator = await setup_site(hass, entry)
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USB}, data=adapter_at(port)
    )
    await hass.async_block_till_done()
    assert result["reason"] == "already_configured"
    assert entry.data["usb_id"]
    assert entry.runtime_data.coordinator is coordinator


def test_device_ids_up_to_255_only_behind_a_gateway() -> None:
    # KEBA and Vestel chargers answer unit id 255 on their own IP; RS-485 stops at 247.
    device_id_field("tcp")(255)
    device_id_field("rtu_over_tcp")(255)
    device_id_field("serial")(247)
    with pytest.raises(vol.Invalid):
        device_id_field("serial")(248)
