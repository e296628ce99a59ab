"""
`scripts/read (--port DEVICE [--line B:P:S] | --tcp H:P | --rtu-over-tcp H:P) --model ID --id N`.

`--json` prints one JSON object instead of a table.

Reads one device once with the product's own driver, as the control loop does on a full
cycle (every scaling and transformer ratio applied), and prints what it decoded. It never
writes: the drivers' `read` only reads (a Chint DTSU666's ratios included).

With `--json`, stdout is one JSON object (DESIGN section 5):
`{"kind": "meter"|"charger", "model": ID, "device_id": N, "values": {NAME: value}}` where
NAME is a canonical register name: `current_l1`.. in A, `voltage_l1`.. in V, `power_l1`..
and `power_total` in W, `energy_import`/`energy_export` (chargers: `energy_total`,
`energy_session`) in kWh, `frequency` in Hz; a charger's `state` is the IEC 61851 letter
and its `current_limit` in A. A value the device sent as garbage is null.

Without `--line`, a serial port is opened at the model's factory setting. An unreachable
device, a wrong model or a refused read exits with 1 and one line on stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Final

from custom_components.headroom.devices.bus import Bus, SerialSettings, TcpSettings
from custom_components.headroom.devices.chargers import (
    SUPPORTED_CHARGERS,
    ChargerValues,
    create_charger,
)
from custom_components.headroom.devices.errors import ConnectionLost, DeviceError
from custom_components.headroom.devices.meters import Meter, MeterValues
from custom_components.headroom.devices.registers import Profile, load_profiles
from tools.scan import MODBUS_TCP_HINT, add_link_arguments

if TYPE_CHECKING:
    from collections.abc import Sequence

    from custom_components.headroom.devices.bus import BusSettings

PROG = "scripts/read"

type Number = float | str | None

_MAX_DEVICE_ID: Final = 247
_MAX_UNIT_ID: Final = 255
# The unit of a canonical name by its prefix; the reading's attribute ends in its suffix.
_UNITS: Final = (
    ("current", "A", "a"),
    ("voltage", "V", "v"),
    ("power", "W", "w"),
    ("energy", "kWh", "kwh"),
    ("frequency", "Hz", "hz"),
)


def _meter_attribute(name: str) -> str:
    """Return the `MeterValues` attribute of a canonical name (`current_l1` -> `..._a`)."""
    suffix = next(suffix for prefix, _, suffix in _UNITS if name.startswith(prefix))
    return f"{name}_{suffix}"


class ReadError(Exception):
    """What to tell the user in one line (bad arguments the parser cannot check)."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description=(
            "Read one meter or charger once with Headroom's own driver and print what it "
            "decoded (after every scaling). Reads only; never writes to a device."
        ),
    )
    add_link_arguments(
        parser,
        line_help="serial line setting, e.g. 9600:N:1 (default: the model's factory setting)",
    )
    parser.add_argument("--model", required=True, metavar="ID", help="model id from registers.yaml")
    parser.add_argument(
        "--id", required=True, type=int, metavar="N", dest="device_id", help="device id"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    return parser


def _profile(model: str) -> Profile:
    profiles = load_profiles()
    profile = profiles.get(model)
    if profile is None:
        readable = sorted(
            p.id for p in profiles.values() if p.kind == "meter" or p.id in SUPPORTED_CHARGERS
        )
        msg = f"unknown model {model!r}; one of: {', '.join(readable)}"
        raise ReadError(msg)
    if profile.kind == "charger" and profile.id not in SUPPORTED_CHARGERS:
        msg = f"{model} ({profile.name}) has no driver in Headroom yet"
        raise ReadError(msg)
    return profile


def _settings(args: argparse.Namespace, profile: Profile) -> BusSettings:
    # Modbus TCP unit ids go to 255 (a Vestel answers on 255); RTU ids stop at 247.
    highest = _MAX_UNIT_ID if args.tcp is not None else _MAX_DEVICE_ID
    if not 1 <= args.device_id <= highest:
        msg = f"device id {args.device_id}: must be within 1..{highest}"
        raise ReadError(msg)
    if args.port is None:
        if args.line is not None:
            msg = "--line is for a serial port (--port) only"
            raise ReadError(msg)
        host, port = args.tcp or args.rtu_over_tcp
        return TcpSettings(host, port, "rtu" if args.rtu_over_tcp is not None else "socket")
    if "://" not in args.port and not Path(args.port).exists():
        msg = f"no such serial port: {args.port}"
        raise ReadError(msg)
    line = args.line
    if line is None:
        if profile.serial is None:
            msg = f"{profile.id} has no known factory line setting: give --line BAUD:PARITY:STOP"
            raise ReadError(msg)
        serial = profile.serial
        return SerialSettings(args.port, serial.baudrate, serial.parity, serial.stopbits)
    return SerialSettings(args.port, line.baudrate, line.parity, line.stopbits)


def meter_values(meter: Meter, reading: MeterValues) -> dict[str, Number]:
    """Return the canonical names the meter's model has, with the reading's values."""
    return {name: getattr(reading, _meter_attribute(name)) for name in meter.fields}


def charger_values(profile: Profile, reading: ChargerValues) -> dict[str, Number]:
    """Return the state letter, the limit and what else the charger's model measures."""
    values: dict[str, Number] = {"state": reading.state.value}
    if profile.has("current_limit") or profile.has("current_limit_readback"):
        values["current_limit"] = reading.setpoint_a
    for phase, current in zip(("l1", "l2", "l3"), reading.currents_a, strict=True):
        if profile.has(f"current_{phase}"):
            values[f"current_{phase}"] = current
    extra = {
        "power_total": reading.power_w,
        "energy_total": reading.energy_total_kwh,
        "energy_session": reading.energy_session_kwh,
    }
    values |= {name: value for name, value in extra.items() if profile.has(name)}
    return values


async def read_device(settings: BusSettings, profile: Profile, device_id: int) -> dict[str, Number]:
    """Read the device once with its driver; raises the device layer's errors."""
    bus = Bus(settings)
    try:
        await bus.connect()
        transport = bus.device(device_id, pacing_s=profile.pacing_s)
        if profile.kind == "meter":
            meter = Meter(transport, profile)
            return meter_values(meter, await meter.read())
        charger = create_charger(transport, profile)
        return charger_values(profile, await charger.read(full=True))
    finally:
        await bus.close()


def _unit(name: str) -> str:
    return next((unit for prefix, unit, _ in _UNITS if name.startswith(prefix)), "")


def _text(value: Number) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}".rstrip("0").rstrip(".")
    return str(value)


def _table(profile: Profile, device_id: int, values: dict[str, Number]) -> str:
    lines = [f"{profile.name} ({profile.id}), {profile.kind} at id {device_id}"]
    width = max((len(name) for name in values), default=0)
    lines += [
        f"  {name.ljust(width)}  {_text(value)} {_unit(name) if value is not None else ''}".rstrip()
        for name, value in values.items()
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Read the device; 0 when it answered as the model, 1 otherwise (one line on stderr)."""
    args = _parser().parse_args(argv)
    # pymodbus logs each failed connection; the one-line error below says it once.
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
    try:
        profile = _profile(args.model)
        settings = _settings(args, profile)
        values = asyncio.run(read_device(settings, profile, args.device_id))
    except ReadError as err:
        print(f"{PROG}: {err}", file=sys.stderr)
        return 1
    except DeviceError as err:
        # A device speaking Modbus TCP itself refuses the socket while Modbus is off.
        own_socket = isinstance(err, ConnectionLost) and args.tcp is not None
        tcp_only = profile.serial is None
        hint = f" ({MODBUS_TCP_HINT})" if own_socket and tcp_only else ""
        print(f"{PROG}: {args.model} at id {args.device_id}: {err}{hint}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"\n{PROG}: interrupted", file=sys.stderr)
        return 130
    if args.json:
        document = {
            "kind": profile.kind,
            "model": profile.id,
            "device_id": args.device_id,
            "values": values,
        }
        print(json.dumps(document))
    else:
        print(_table(profile, args.device_id, values))
    return 0


if __name__ == "__main__":
    sys.exit(main())
