"""Command line: `python -m tools.simulator` (what `scripts/simulate` runs)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Final

from .line import Faults, LineSettings
from .personalities import CHARGERS, METERS
from .simulator import DeviceSpec, Simulator
from .site import StaticCharger, StaticSite

if TYPE_CHECKING:
    from collections.abc import Sequence

    from .site import Site

DEFAULT_DEVICES: Final = (
    "eastron_sdm630:1",
    "heidelberg_energy_control:2:garage",
    "heidelberg_energy_control:3:driveway",
)
DEFAULT_LINK: Final = Path(tempfile.gettempdir()) / "headroom-rs485"


def parse_device(text: str) -> DeviceSpec:
    """Parse MODEL:ID[:CHARGER_NAME] (a charger's name defaults to charger_ID)."""
    parts = text.split(":")
    if len(parts) not in {2, 3} or not parts[1].isdigit():
        msg = f"expected MODEL:ID[:NAME], got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    model, device_id = parts[0], int(parts[1])
    if model not in METERS + CHARGERS:
        msg = f"unknown model {model!r}; choose from {', '.join(METERS + CHARGERS)}"
        raise argparse.ArgumentTypeError(msg)
    if not 1 <= device_id <= 247:  # noqa: PLR2004 (the Modbus id range)
        msg = f"device id {device_id} is outside 1..247"
        raise argparse.ArgumentTypeError(msg)
    name = parts[2] if len(parts) == 3 else f"charger_{device_id}"  # noqa: PLR2004
    return DeviceSpec(model, device_id, name if model in CHARGERS else None)


def parse_fault(text: str) -> tuple[int, Faults]:
    """Parse ID:silent, ID:corrupt, ID:slow=SECONDS or ID:exception=CODE."""
    device_id, _, fault = text.partition(":")
    kind, _, value = fault.partition("=")
    try:
        faults = {
            "silent": lambda: Faults(silent=True),
            "corrupt": lambda: Faults(corrupt=True),
            "slow": lambda: Faults(delay_s=float(value)),
            "exception": lambda: Faults(exception_code=int(value)),
        }[kind]()
        return int(device_id), faults
    except (KeyError, ValueError) as err:
        msg = f"expected ID:silent|corrupt|slow=SECONDS|exception=CODE, got {text!r}"
        raise argparse.ArgumentTypeError(msg) from err


def build_parser() -> argparse.ArgumentParser:
    """Build the simulator's option parser."""
    parser = argparse.ArgumentParser(
        prog="scripts/simulate",
        description="Simulate Modbus meters and EV chargers on a pty RS-485 line and TCP.",
    )
    parser.add_argument(
        "--device",
        action="append",
        type=parse_device,
        metavar="MODEL:ID[:NAME]",
        help=f"a device (repeatable); default: {' '.join(DEFAULT_DEVICES)}",
    )
    parser.add_argument("--baud", type=int, default=19200, help="line baud rate (19200)")
    parser.add_argument("--parity", choices=["N", "E", "O"], default="E", help="parity (E)")
    parser.add_argument("--stopbits", type=int, choices=[1, 2], default=1, help="stop bits (1)")
    parser.add_argument(
        "--wire-time",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="delay answers by the frames' time on a real line at the baud rate (on)",
    )
    parser.add_argument("--link", type=Path, default=DEFAULT_LINK, help="pty symlink path")
    parser.add_argument("--tcp-port", type=int, default=5020, help="Modbus TCP gateway port")
    parser.add_argument("--rtu-tcp-port", type=int, default=5021, help="RTU-over-TCP port")
    parser.add_argument(
        "--native-tcp-port", type=int, default=5022, help="port of TCP-only chargers (Alfen)"
    )
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        type=parse_fault,
        metavar="ID:KIND",
        help="inject a fault: ID:silent, ID:corrupt, ID:slow=SECONDS, ID:exception=CODE",
    )
    parser.add_argument(
        "--scenario",
        type=Path,
        help="drive the values from a benchmark scenario (tools/site_model.py)",
    )
    parser.add_argument(
        "--speed",
        type=float,
        default=1.0,
        help="run the site's time this many times faster (devices' watchdogs keep real time)",
    )
    parser.add_argument(
        "--no-car",
        action="append",
        default=[],
        metavar="NAME",
        help="static site: charger NAME has no car plugged in (default: driveway)",
    )
    return parser


def build_site(args: argparse.Namespace) -> tuple[Site, list[DeviceSpec]]:
    """
    Build the site and its devices: static, or the benchmark's model (`--scenario`).

    Without `--device`, a scenario gets an SDM630 at id 1 and a Heidelberg per charger
    from id 2; the static site gets `DEFAULT_DEVICES`.
    """
    if args.scenario is not None:
        from tools.bench.scenario import load_scenario  # noqa: PLC0415 (only for scenarios)
        from tools.site_model import SiteModel  # noqa: PLC0415

        model = SiteModel(load_scenario(args.scenario))
        devices = args.device or [
            DeviceSpec("eastron_sdm630", 1),
            *(
                DeviceSpec("heidelberg_energy_control", device_id, name)
                for device_id, name in enumerate(model.charger_names(), start=2)
            ),
        ]
        return model, devices
    devices = args.device or [parse_device(text) for text in DEFAULT_DEVICES]
    no_car = set(args.no_car) or {"driveway"}
    site = StaticSite(
        chargers=[
            StaticCharger(name=spec.charger_name, car_connected=spec.charger_name not in no_car)
            for spec in devices
            if spec.charger_name is not None
        ]
    )
    return site, devices


def describe(simulator: Simulator, line: LineSettings, devices: Sequence[DeviceSpec]) -> str:
    """Say where to connect and what answers there."""
    endpoints = simulator.endpoints()
    lines = ["Headroom Modbus simulator"]
    for spec in devices:
        charger = f" (site charger {spec.charger_name})" if spec.charger_name else ""
        lines.append(f"  id {spec.device_id:>3}: {spec.model}{charger}")
    if endpoints.pty is not None:
        wire = "wire time emulated" if simulator.serial_line.wire_time else "no wire time"
        lines.append(f"  RS-485 (RTU) on {endpoints.pty} at {line.describe()}, {wire}")
        lines.append(
            "    (a pty carries no parity: open it at this baud rate with parity N; Linux "
            "refuses a pyserial client's parity on a pty)"
        )
    if endpoints.modbus_tcp_port is not None:
        lines.append(f"  Modbus TCP gateway:   127.0.0.1:{endpoints.modbus_tcp_port}")
    if endpoints.rtu_over_tcp_port is not None:
        lines.append(f"  RTU-over-TCP gateway: 127.0.0.1:{endpoints.rtu_over_tcp_port}")
    if endpoints.native_tcp_port is not None:
        lines.append(f"  TCP-only chargers:    127.0.0.1:{endpoints.native_tcp_port}")
    lines.append("Ctrl-C stops it.")
    return "\n".join(lines)


async def run(args: argparse.Namespace) -> int:
    """Run until interrupted; 1 when an endpoint cannot be opened (said in one line)."""
    site, devices = build_site(args)
    line = LineSettings(args.baud, args.parity, args.stopbits)
    simulator = Simulator(
        site,
        devices,
        line=line,
        wire_time=args.wire_time,
        link=args.link,
        modbus_tcp_port=args.tcp_port,
        rtu_over_tcp_port=args.rtu_tcp_port,
        native_tcp_port=args.native_tcp_port,
        site_speed=args.speed,
    )
    for device_id, faults in args.fault:
        # An id on the RS-485 line first, else a TCP-only charger's.
        target = simulator.devices.get(device_id) or simulator.tcp_devices.get(device_id)
        if target is None:
            print(f"--fault: no device with id {device_id}", file=sys.stderr)
            return 2
        target.faults = faults
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        try:
            await simulator.start()
        except OSError as err:
            # A port another simulator (or the demo's) holds: one line, not a traceback.
            print(
                f"scripts/simulate: cannot open an endpoint: {err.strerror or err}; is another "
                "simulator or scripts/develop running? Choose other ports with --tcp-port, "
                "--rtu-tcp-port and --native-tcp-port.",
                file=sys.stderr,
            )
            return 1
        print(describe(simulator, line, devices), flush=True)
        await stop.wait()
    finally:
        await simulator.close()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point."""
    args = build_parser().parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(run(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
