"""`scripts/scan`: JSON contract, progress on stderr, clean errors."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path

import pytest

from custom_components.headroom.devices.bus import BusSettings, SerialSettings, TcpSettings
from custom_components.headroom.devices.errors import ConnectionLost
from custom_components.headroom.devices.registers import get_profile
from tests.devices.fakes import FakeBus, first_wave_device
from tests.devices.quick_probes import QuickProbeBus
from tools import scan
from tools.simulator.line import LineSettings
from tools.simulator.personalities import HeidelbergDevice
from tools.simulator.simulator import DeviceSpec, Simulator
from tools.simulator.site import StaticCharger, StaticSite

ROOT = Path(__file__).resolve().parents[2]


def _factory(seen: list[BusSettings]):
    meter = first_wave_device(get_profile("eastron_sdm630"), device_id=1)
    wallbox = first_wave_device(get_profile("heidelberg_energy_control"), device_id=2)

    def factory(settings: BusSettings) -> FakeBus:
        seen.append(settings)
        if isinstance(settings, TcpSettings):
            return FakeBus({1: meter, 2: wallbox})
        if (settings.baudrate, settings.parity) == (9600, "N"):
            return FakeBus({1: meter})
        if (settings.baudrate, settings.parity) == (19200, "E"):
            return FakeBus({2: wallbox})
        return FakeBus({})

    return factory


def test_json_is_one_array_on_stdout(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    port = tmp_path / "ttyUSB0"
    port.touch()
    seen: list[BusSettings] = []
    assert scan.main(["--port", str(port), "--json"], bus_factory=_factory(seen)) == 0
    out, err = capsys.readouterr()
    assert json.loads(out) == [
        {
            "kind": "meter",
            "model": "eastron_sdm630",
            "device_id": 1,
            "baudrate": 9600,
            "parity": "N",
            "stopbits": 1,
        },
        {
            "kind": "charger",
            "model": "heidelberg_energy_control",
            "device_id": 2,
            "baudrate": 19200,
            "parity": "E",
            "stopbits": 1,
        },
    ]
    assert "[64/64]" in err
    assert "2 device(s)" in err
    assert {s.port for s in seen if isinstance(s, SerialSettings)} == {str(port)}


def test_table_and_full_range_over_tcp(capsys: pytest.CaptureFixture[str]) -> None:
    seen: list[BusSettings] = []
    assert scan.main(["--rtu-over-tcp", "10.0.0.5:8899", "--full"], bus_factory=_factory(seen)) == 0
    out, err = capsys.readouterr()
    assert "eastron_sdm630" in out
    assert "heidelberg_energy_control" in out
    assert "tcp" in out
    assert "[247/247]" in err
    assert seen == [TcpSettings("10.0.0.5", 8899, "rtu")]


def test_nothing_found(capsys: pytest.CaptureFixture[str]) -> None:
    assert scan.main(["--tcp", "h:502"], bus_factory=lambda _: FakeBus({})) == 0
    assert "No supported device found." in capsys.readouterr().out


def test_unidentified_devices_are_mentioned(capsys: pytest.CaptureFixture[str]) -> None:
    from tests.devices.fakes import FakeDevice  # noqa: PLC0415

    assert scan.main(["--tcp", "h:502"], bus_factory=lambda _: FakeBus({3: FakeDevice(3)})) == 0
    assert "id 3 at h answered but is not a supported model" in capsys.readouterr().err


def test_missing_port_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert scan.main(["--port", "/dev/does-not-exist"]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.strip() == "scripts/scan: no such serial port: /dev/does-not-exist"


def test_bus_errors_are_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    def factory(settings: BusSettings) -> FakeBus:
        return FakeBus({}, connect_error=ConnectionLost("cannot open socket://x"))

    assert scan.main(["--rtu-over-tcp", "h:502", "--json"], bus_factory=factory) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.strip().splitlines()[-1] == "scripts/scan: cannot open socket://x"
    assert "Traceback" not in err


def test_refused_modbus_tcp_says_what_to_switch_on(capsys: pytest.CaptureFixture[str]) -> None:
    """A Shelly with Modbus off refuses the connection: the one error line says what to do."""

    def factory(settings: BusSettings) -> FakeBus:
        return FakeBus({}, connect_error=ConnectionLost("cannot open socket://x"))

    assert scan.main(["--tcp", "h:502", "--json"], bus_factory=factory) == 1
    out, err = capsys.readouterr()
    assert out == ""
    line = err.strip().splitlines()[-1]
    assert line.startswith("scripts/scan: cannot open socket://x (")
    assert "Shelly Pro 3EM" in line
    assert "Settings > Modbus > Enable" in line


def test_interrupt(capsys: pytest.CaptureFixture[str]) -> None:
    def factory(settings: BusSettings) -> FakeBus:
        raise KeyboardInterrupt

    assert scan.main(["--tcp", "h:502"], bus_factory=factory) == 130
    assert "interrupted" in capsys.readouterr().err


@pytest.mark.parametrize("bad", ["host", "host:", ":502", "host:99999", "host:x"])
def test_bad_host_port(bad: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        scan.main(["--tcp", bad])
    assert exc.value.code == 2
    assert "expected HOST:PORT" in capsys.readouterr().err


def test_progress_on_a_terminal() -> None:
    class Tty:
        def __init__(self) -> None:
            self.text = ""

        def isatty(self) -> bool:
            return True

        def write(self, text: str) -> None:
            self.text += text

        def flush(self) -> None:
            pass

    from custom_components.headroom.devices.discovery import ScanProgress  # noqa: PLC0415

    tty = Tty()
    progress = scan._Progress(tty)  # type: ignore[arg-type]
    settings = SerialSettings("/dev/x", 9600)
    progress(ScanProgress(done=1, total=2, settings=settings, device_id=1, found=0))
    progress(ScanProgress(done=2, total=2, settings=settings, device_id=2, found=1))
    assert tty.text.count("\r") == 2
    assert tty.text.endswith("found 1\n")


def test_script_missing_port_exits_cleanly() -> None:
    done = subprocess.run(  # noqa: S603  (our own script, fixed arguments)
        [str(ROOT / "scripts/scan"), "--port", "/dev/ttyNOPE9", "--json"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 1
    assert done.stdout == ""
    assert (
        done.stderr.strip().splitlines()[-1] == "scripts/scan: no such serial port: /dev/ttyNOPE9"
    )
    assert "Traceback" not in done.stderr


def test_one_line_setting(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    port = tmp_path / "ttyUSB0"
    port.touch()
    seen: list[BusSettings] = []
    argv = ["--port", str(port), "--line", "19200:e:1", "--json"]
    assert scan.main(argv, bus_factory=_factory(seen)) == 0
    out, err = capsys.readouterr()
    assert [d["model"] for d in json.loads(out)] == ["heidelberg_energy_control"]
    assert {(s.baudrate, s.parity, s.stopbits) for s in seen} == {(19200, "E", 1)}
    assert "[16/16]" in err


@pytest.mark.parametrize("bad", ["9600", "9600:X:1", "fast:N:1", "9600:N:3"])
def test_bad_line_setting(bad: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        scan.main(["--port", "/dev/null", "--line", bad])
    assert exit_info.value.code == 2
    assert "BAUD:PARITY:STOPBITS" in capsys.readouterr().err


async def test_heidelberg_in_standby_is_explained(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A Heidelberg with standby on (factory) is silent without a car: the scan says so."""
    site = StaticSite(chargers=[StaticCharger(name="garage", car_connected=False)])
    simulator = Simulator(
        site,
        [DeviceSpec("eastron_sdm630", 1), DeviceSpec("heidelberg_energy_control", 2, "garage")],
        line=LineSettings(9600, "N", 1),
        link=tmp_path / "ttyRS485",
        modbus_tcp_port=None,
        rtu_over_tcp_port=None,
        native_tcp_port=None,
    )
    await simulator.start()
    try:
        simulator.advance(HeidelbergDevice.standby_after_s + 1)  # asleep: no car, standby on
        port = str(simulator.endpoints().pty)
        argv = ["--port", port, "--line", "9600:N:1", "--json"]
        assert await asyncio.to_thread(scan.main, argv, bus_factory=QuickProbeBus) == 0
        out, err = capsys.readouterr()
        assert [d["model"] for d in json.loads(out)] == ["eastron_sdm630"]
        assert "no Heidelberg Energy Control found" in err
        assert "plug a car in" in err
        assert "add it by hand" in err
        site.chargers["garage"].car_connected = True  # a car wakes it
        simulator.advance(0.1)
        assert await asyncio.to_thread(scan.main, argv, bus_factory=QuickProbeBus) == 0
        out, err = capsys.readouterr()
        assert [d["model"] for d in json.loads(out)] == [
            "eastron_sdm630",
            "heidelberg_energy_control",
        ]
        assert "no Heidelberg" not in err
    finally:
        await simulator.close()
