"""
`scripts/scan (--port DEVICE | --tcp HOST:PORT | --rtu-over-tcp HOST:PORT) [--json] [--full]`.

`--line BAUD:PARITY:STOPBITS` (e.g. `9600:N:1`) scans a serial port at that one setting
instead of every factory setting of the supported devices.

The discovery scan from the command line. Progress goes to stderr; with `--json` stdout
holds exactly one JSON array of found devices (DESIGN section 5), otherwise a table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Literal, TextIO

from custom_components.headroom.devices.bus import SerialSettings
from custom_components.headroom.devices.discovery import (
    ALL_IDS,
    QUICK_IDS,
    BusFactory,
    FoundDevice,
    Scanner,
    ScanProgress,
    ScanResult,
    SerialLine,
    default_bus_factory,
)
from custom_components.headroom.devices.errors import DeviceError

if TYPE_CHECKING:
    from collections.abc import Sequence

PROG = "scripts/scan"
HEIDELBERG = "heidelberg_energy_control"
HEIDELBERG_HINT = (
    "no Heidelberg Energy Control found: with standby on (its factory setting) it does not "
    "answer while no car is plugged in, and the scan never writes to wake it; plug a car in "
    "and scan again, or add it by hand (19200 8E1, id from its DIP switches)"
)
MODBUS_TCP_HINT = (
    "a device that speaks Modbus TCP itself may have it switched off: a Shelly Pro 3EM "
    "refuses connections until Modbus is enabled in its web interface (Settings > Modbus > "
    "Enable); a KEBA P30 answers only with its smart-home interface on (c-series: DIP "
    "switch DSW1.3) and firmware 3.10.42 (c-series) or 1.11 (x-series) or later; a Bender "
    "CC612/CC613 (Mennekes AMTRON, Webasto Live, Garo...) only with 'Modbus TCP Server for "
    "energy management systems' switched on in its web interface, register set "
    "'Ebee/Bender/MENNEKES'; a Webasto or Ampure NEXT only in mode 'HEMS activated'"
)
_MAX_PORT = 65535


def parse_host_port(text: str) -> tuple[str, int]:
    """Parse `HOST:PORT` (argparse type; `scripts/read` shares it)."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) <= _MAX_PORT:
        msg = f"expected HOST:PORT, got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return host, int(port)


_PARITIES: dict[str, Literal["N", "E", "O"]] = {"N": "N", "E": "E", "O": "O"}
_STOPBITS: dict[str, Literal[1, 2]] = {"1": 1, "2": 2}


def parse_line(text: str) -> SerialLine:
    """Parse `BAUD:PARITY:STOPBITS` such as `9600:N:1` (argparse type)."""
    baud, parity, stopbits = ([*text.upper().split(":"), "", ""])[:3]
    if not baud.isdigit() or parity not in _PARITIES or stopbits not in _STOPBITS:
        msg = f"expected BAUD:PARITY:STOPBITS such as 9600:N:1, got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return SerialLine(int(baud), _PARITIES[parity], _STOPBITS[stopbits])


def add_link_arguments(parser: argparse.ArgumentParser, *, line_help: str) -> None:
    """Add where the device is (`--port`, `--tcp`, `--rtu-over-tcp`) and `--line`."""
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--port", metavar="DEVICE", help="serial port, e.g. /dev/ttyUSB0")
    where.add_argument(
        "--tcp", metavar="HOST:PORT", type=parse_host_port, help="Modbus TCP gateway"
    )
    where.add_argument(
        "--rtu-over-tcp", metavar="HOST:PORT", type=parse_host_port, help="RTU-over-TCP gateway"
    )
    parser.add_argument("--line", metavar="BAUD:PARITY:STOPBITS", type=parse_line, help=line_help)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description=(
            "Find supported meters and chargers on an RS-485 port or a Modbus gateway. "
            "Reads only; never writes to a device."
        ),
    )
    add_link_arguments(parser, line_help="scan a serial port at this setting only, e.g. 9600:N:1")
    parser.add_argument("--json", action="store_true", help="print one JSON array")
    parser.add_argument(
        "--full", action="store_true", help="device ids 1-247 (default: the quick range 1-16)"
    )
    return parser


class _Progress:
    """One status line on a terminal, a line per bus setting otherwise."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._tty = stream.isatty()
        self._last_settings: object = None

    def __call__(self, step: ScanProgress) -> None:
        where = _describe(step.settings)
        text = f"[{step.done}/{step.total}] {where} id {step.device_id} - found {step.found}"
        if self._tty:
            self._stream.write(f"\r\033[K{text}")
            if step.done == step.total:
                self._stream.write("\n")
        elif step.settings != self._last_settings or step.done == step.total:
            self._stream.write(f"{text}\n")
        self._last_settings = step.settings
        self._stream.flush()


def _describe(settings: object) -> str:
    if isinstance(settings, SerialSettings):
        return f"{settings.port} {settings.line}"
    return str(getattr(settings, "host", settings))


def _table(devices: Sequence[FoundDevice]) -> str:
    if not devices:
        return "No supported device found."
    rows = [("kind", "model", "id", "line")]
    rows += [
        (
            d.kind,
            d.model,
            str(d.device_id),
            _describe(d.settings).split(" ", 1)[-1]
            if isinstance(d.settings, SerialSettings)
            else "tcp",
        )
        for d in devices
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    )


async def _run(args: argparse.Namespace, bus_factory: BusFactory | None) -> ScanResult:
    ids = ALL_IDS if args.full else QUICK_IDS
    progress = _Progress(sys.stderr)
    scanner = Scanner(
        device_ids=ids, progress=progress, bus_factory=bus_factory or default_bus_factory
    )
    if args.port is not None:
        return await scanner.scan_serial(args.port, lines=[args.line] if args.line else None)
    host, port = args.tcp or args.rtu_over_tcp
    return await scanner.scan_tcp(host, port, rtu_framing=args.rtu_over_tcp is not None)


def main(argv: Sequence[str] | None = None, *, bus_factory: BusFactory | None = None) -> int:
    """Run the scan; 0 when it ran (even if it found nothing), 1 on a port error."""
    args = _parser().parse_args(argv)
    # pymodbus logs each failed connection; the one-line error below says it once.
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
    if args.port is not None and "://" not in args.port and not Path(args.port).exists():
        print(f"{PROG}: no such serial port: {args.port}", file=sys.stderr)
        return 1
    started = time.monotonic()
    try:
        result = asyncio.run(_run(args, bus_factory))
    except DeviceError as err:
        hint = f" ({MODBUS_TCP_HINT})" if args.tcp is not None else ""
        print(f"{PROG}: {err}{hint}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"\n{PROG}: interrupted", file=sys.stderr)
        return 130
    elapsed_s = time.monotonic() - started
    for settings, reason in result.skipped:
        print(f"{PROG}: skipped {_describe(settings)}: {reason}", file=sys.stderr)
    for settings, device_id in result.unidentified:
        print(
            f"{PROG}: id {device_id} at {_describe(settings)} answered but is not a supported "
            "model",
            file=sys.stderr,
        )
    print(f"{PROG}: {len(result.devices)} device(s) in {elapsed_s:.1f} s", file=sys.stderr)
    if not any(d.model == HEIDELBERG for d in result.devices):
        print(f"{PROG}: {HEIDELBERG_HINT}", file=sys.stderr)
    if args.json:
        print(json.dumps([d.as_json() for d in result.devices]))
    else:
        print(_table(result.devices))
    return 0


if __name__ == "__main__":
    sys.exit(main())
