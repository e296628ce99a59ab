"""
Register tables, the codec and device profiles, built from `registers.yaml`.

`registers.yaml` (a copy of the project's register research, with sources and confidence)
is the single source of register facts. This module turns it into typed, validated
`Profile` objects once, at import (Home Assistant imports integrations in an executor, so
the file read does not block the event loop), and offers `decode` / `encode` for the
register data types the profiles use.

Names are canonical across devices (`current_l1`, `power_total`, `energy_import`,
`charger_state`, `current_limit`...): where a vendor table uses its own word, the loader
renames it (see `_CANONICAL_NAMES`), so drivers never branch on vendor vocabulary.
"""

from __future__ import annotations

import math
import re
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from itertools import pairwise
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final, Literal

import yaml

REGISTERS_YAML: Final = Path(__file__).with_name("registers.yaml")

DEFAULT_MAX_REGISTERS_PER_READ: Final = 100
"""Registers per read when a profile states no limit (Modbus allows 125; some gateways less)."""

MODBUS_MAX_REGISTERS_PER_READ: Final = 125
MAX_ADDRESS: Final = 0xFFFF

type Value = float | int | str
type Kind = Literal["meter", "charger"]
type Parity = Literal["N", "E", "O"]
type Access = Literal["r", "w", "rw"]
type FunctionCode = Literal[1, 3, 4]


class DataType(StrEnum):
    """How a register's 16-bit words encode a value (`_abcd` high word first)."""

    UINT16 = "uint16"
    INT16 = "int16"
    UINT32_ABCD = "uint32_abcd"
    UINT32_CDAB = "uint32_cdab"
    INT32_ABCD = "int32_abcd"
    INT32_CDAB = "int32_cdab"
    FLOAT32_ABCD = "float32_abcd"
    FLOAT32_CDAB = "float32_cdab"
    UINT64_ABCD = "uint64_abcd"
    UINT64_CDAB = "uint64_cdab"
    INT64_ABCD = "int64_abcd"
    FLOAT64_ABCD = "float64_abcd"
    STRING = "string"
    COIL = "coil"

    @property
    def words(self) -> int:
        """Registers one value occupies (strings: see `Register.count`)."""
        return _WORDS[self]

    @property
    def is_float(self) -> bool:
        """True for IEEE 754 types."""
        return self in {DataType.FLOAT32_ABCD, DataType.FLOAT32_CDAB, DataType.FLOAT64_ABCD}

    @property
    def word_swapped(self) -> bool:
        """True when the least significant word comes first (`_cdab`)."""
        return self.value.endswith("_cdab")


_WORDS: Final[Mapping[DataType, int]] = MappingProxyType(
    {
        DataType.UINT16: 1,
        DataType.INT16: 1,
        DataType.COIL: 1,
        DataType.STRING: 1,
        DataType.UINT32_ABCD: 2,
        DataType.UINT32_CDAB: 2,
        DataType.INT32_ABCD: 2,
        DataType.INT32_CDAB: 2,
        DataType.FLOAT32_ABCD: 2,
        DataType.FLOAT32_CDAB: 2,
        DataType.UINT64_ABCD: 4,
        DataType.UINT64_CDAB: 4,
        DataType.INT64_ABCD: 4,
        DataType.FLOAT64_ABCD: 4,
    }
)

# struct format of the big-endian byte string once words are in most-significant-first order
_STRUCT: Final[Mapping[DataType, str]] = MappingProxyType(
    {
        DataType.UINT16: ">H",
        DataType.INT16: ">h",
        DataType.UINT32_ABCD: ">I",
        DataType.UINT32_CDAB: ">I",
        DataType.INT32_ABCD: ">i",
        DataType.INT32_CDAB: ">i",
        DataType.FLOAT32_ABCD: ">f",
        DataType.FLOAT32_CDAB: ">f",
        DataType.UINT64_ABCD: ">Q",
        DataType.UINT64_CDAB: ">Q",
        DataType.INT64_ABCD: ">q",
        DataType.FLOAT64_ABCD: ">d",
    }
)


class ProfileError(ValueError):
    """`registers.yaml` (or a profile built from it) breaks the schema."""


class InvalidValueError(ValueError):
    """The words do not hold a usable value: NaN, infinity or a "not available" sentinel."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Register:
    """
    One value in a device's register map.

    `address` is the 0-based wire address; `count` the number of 16-bit registers the
    value spans. Engineering value = raw * `scale`, in `unit`.
    """

    name: str
    address: int
    function_code: FunctionCode
    data_type: DataType
    count: int
    scale: float = 1
    unit: str | None = None
    access: Access = "r"
    unit_id: int | None = None
    """Modbus unit id when it is fixed (Alfen station registers: 200); None = the device's."""
    not_available_sentinel: bool = False
    """All-ones (unsigned) or maximum positive (signed) raw words mean "not available"."""

    @property
    def end(self) -> int:
        """First address after this register."""
        return self.address + self.count

    @property
    def readable(self) -> bool:
        """True when the register can be read."""
        return "r" in self.access

    @property
    def writable(self) -> bool:
        """True when the register can be written."""
        return "w" in self.access


@dataclass(frozen=True, slots=True, kw_only=True)
class SerialDefaults:
    """The serial settings a device ships with."""

    baudrate: int
    parity: Parity
    stopbits: Literal[1, 2]
    device_id: int
    verified: bool
    """False when a source marks the defaults UNVERIFIED or gives none (then assumed)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TcpDefaults:
    """Where a Modbus TCP device listens by default."""

    port: int
    unit_id: int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Identification:
    """A register that identifies the model, and what the research says it holds."""

    register: Register
    expect: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Profile:
    """Everything the device layer knows about one model, from `registers.yaml`."""

    id: str
    kind: Kind
    name: str
    confidence: Literal["high", "medium", "low"]
    phases: int | None
    transports: tuple[str, ...]
    serial: SerialDefaults | None
    tcp: TcpDefaults | None
    max_registers_per_read: int
    pacing_s: float
    """Quiet time the device needs between frames (evcc's inter-message delays)."""
    write_function_code: Literal[6, 16]
    identification: tuple[Identification, ...]
    registers: Mapping[str, Register] = field(repr=False)

    def register(self, name: str) -> Register:
        """Return the register called `name`; KeyError when the model has none."""
        return self.registers[name]

    def has(self, name: str) -> bool:
        """Tell whether the model has a register called `name`."""
        return name in self.registers


# --- codec ---------------------------------------------------------------------------------


def _words_to_bytes(data_type: DataType, words: list[int]) -> bytes:
    ordered = list(reversed(words)) if data_type.word_swapped else words
    return b"".join(w.to_bytes(2, "big") for w in ordered)


def _bytes_to_words(data_type: DataType, raw: bytes) -> list[int]:
    words = [int.from_bytes(raw[i : i + 2], "big") for i in range(0, len(raw), 2)]
    return list(reversed(words)) if data_type.word_swapped else words


def _is_sentinel(data_type: DataType, raw: bytes) -> bool:
    if raw == b"\xff" * len(raw):
        return True
    signed = data_type in {
        DataType.INT16,
        DataType.INT32_ABCD,
        DataType.INT32_CDAB,
        DataType.INT64_ABCD,
    }
    return signed and raw == b"\x7f" + b"\xff" * (len(raw) - 1)


def decode(register: Register, words: list[int]) -> Value:
    """
    Decode `register` from its raw 16-bit `words` into an engineering value.

    Integer types with scale 1 give an int, scaled and float types a float, strings a str
    (ASCII, high byte first, trailing NUL and spaces removed), coils 0 or 1.
    Raises InvalidValueError for NaN, infinity and "not available" sentinels, ValueError when
    the number of words does not match the register.
    """
    if len(words) != register.count:
        msg = f"{register.name}: expected {register.count} words, got {len(words)}"
        raise ValueError(msg)
    data_type = register.data_type
    if data_type is DataType.COIL:
        return 1 if words[0] else 0
    raw = _words_to_bytes(data_type, words)
    if data_type is DataType.STRING:
        return raw.decode("latin-1").rstrip("\x00 ")
    if register.not_available_sentinel and _is_sentinel(data_type, raw):
        msg = f"{register.name}: device reports not available"
        raise InvalidValueError(msg)
    (number,) = struct.unpack(_STRUCT[data_type], raw)
    if data_type.is_float:
        if not math.isfinite(number):
            msg = f"{register.name}: {number} is not a measurement"
            raise InvalidValueError(msg)
        return float(number) * register.scale
    if register.scale == 1:
        return int(number)
    return int(number) * register.scale


def encode(register: Register, value: Value) -> list[int]:
    """
    Encode an engineering `value` into the 16-bit words of `register`.

    Numbers are divided by the scale and, for integer types, rounded to the nearest raw
    step. Raises ValueError when the value does not fit the type (out of range, NaN, or a
    string longer than the register).
    """
    data_type = register.data_type
    if data_type is DataType.STRING:
        if not isinstance(value, str):
            msg = f"{register.name}: a string register needs a str"
            raise TypeError(msg)
        raw = value.encode("latin-1")
        if len(raw) > 2 * register.count:
            msg = f"{register.name}: {value!r} is longer than {register.count} registers"
            raise ValueError(msg)
        return _bytes_to_words(data_type, raw.ljust(2 * register.count, b"\x00"))
    if isinstance(value, str):
        msg = f"{register.name}: a numeric register needs a number"
        raise TypeError(msg)
    if not math.isfinite(value):
        msg = f"{register.name}: cannot encode {value}"
        raise ValueError(msg)
    if data_type is DataType.COIL:
        return [1 if value else 0]
    scaled = value / register.scale
    try:
        if data_type.is_float:
            raw = struct.pack(_STRUCT[data_type], scaled)
        else:
            raw = struct.pack(_STRUCT[data_type], round(scaled))
    except (struct.error, OverflowError) as err:
        msg = f"{register.name}: {value} does not fit {data_type.value}"
        raise ValueError(msg) from err
    return _bytes_to_words(data_type, raw)


# --- loading -------------------------------------------------------------------------------

# Vendor words -> canonical names, per profile id. Only what drivers use is renamed; the
# rest keeps the research's names.
_CANONICAL_NAMES: Final[Mapping[str, Mapping[str, str]]] = MappingProxyType(
    {
        "heidelberg_energy_control": {
            "charging_state": "charger_state",
            "max_current_command": "current_limit",
            "power": "power_total",
            "energy_since_installation": "energy_total",
            "pcb_temperature": "temperature",
        },
        "amperfied_connect": {
            "charging_state": "charger_state",
            "max_current_command": "current_limit",
            "power": "power_total",
            "energy_since_installation": "energy_total",
            "pcb_temperature": "temperature",
        },
        "abb_terra_ac": {
            "charging_state": "charger_state",
            "set_charging_current_limit": "current_limit",
            "modbus_current_limit_readback": "current_limit_readback",
            "active_power": "power_total",
            "energy_delivered_session": "energy_session",
            "set_communication_timeout": "watchdog_timeout",
            "communication_timeout_readback": "watchdog_timeout_readback",
            "set_fallback_limit": "failsafe_current",
            "fallback_limit_readback": "failsafe_current_readback",
        },
        "alfen_eve": {
            "mode3_state": "charger_state",
            "modbus_slave_max_current": "current_limit",
            "actual_applied_max_current": "current_limit_readback",
            "alb_safe_current": "failsafe_current",
            "max_current_valid_time_remaining": "watchdog_remaining",
            "power_sum": "power_total",
            "energy_delivered_sum": "energy_total",
        },
        "vestel_evc04": {
            "charging_current": "current_limit",
            "active_power": "power_total",
            "session_energy": "energy_session",
            "failsafe_timeout": "watchdog_timeout",
            "alive_register": "alive",
        },
        "ccs_wattnode_modbus": {
            **{
                f"{what}_{phase}": f"{what}_l{n}"
                for n, phase in enumerate("abc", 1)
                for what in ("current", "voltage", "power")
            },
            "energy_pos_sum_nr": "energy_import",
            "energy_neg_sum_nr": "energy_export",
        },
        "bender_cc612_cc613": {
            "cp_state": "charger_state",
            "hems_current_limit": "current_limit",
            "safe_current": "failsafe_current",
            "active_power": "power_total",
        },
        "phoenix_ev_eth": {
            "status": "charger_state",
            "max_current": "current_limit",
            "enable": "charging_enabled",
            "power": "power_total",
        },
        "phoenix_ev_ser": {
            "status": "charger_state",
            "max_current": "current_limit",
            "enable": "charging_enabled",
        },
        "phoenix_charx": {
            "status": "charger_state",
            "max_current": "current_limit",
            "power": "power_total",
            "energy": "energy_total",
        },
        "webasto_next": {
            "charge_point_state": "charger_state",
            "charge_current": "current_limit",
            "active_power": "power_total",
            "safe_current": "failsafe_current",
            "comm_timeout": "watchdog_timeout",
            "life_bit": "alive",
        },
        "evse_wb_din": {
            "vehicle_state": "charger_state",
            "configured_current": "current_limit",
            "actual_current": "current_offered",
        },
    }
)

# A single-phase meter's table says "voltage"; the reading calls it phase 1.
_SINGLE_PHASE_NAMES: Final[Mapping[str, str]] = MappingProxyType(
    {"voltage": "voltage_l1", "current": "current_l1", "power": "power_total"}
)

# Registers the research lists in the data table that are really a separate, read-alone
# identification register sharing addresses with measurements (Carlo Gavazzi's model id at
# 0x000B lies inside V L3-L1 at 0x000A). They stay in `identification` only, so no block
# read ever includes them.
_IDENTIFICATION_ONLY: Final = frozenset({("carlogavazzi_em3xx", "model_id")})

# Profiles whose raw all-ones words mean "not available" (registers.yaml caveats).
_SENTINEL_PROFILES: Final = frozenset({"abb_b2x", "abb_b21", "bender_cc612_cc613"})

# Inter-frame delays the research names (evcc defaults), seconds.
_PACING_S: Final[Mapping[str, float]] = MappingProxyType(
    {"heidelberg_energy_control": 0.1, "evse_wb_din": 0.2}
)

# Where the research gives no serial defaults, the setting we assume (always unverified):
# ABB Terra AC: the one integration that states one (nymea) uses 19200 8E1; ABB B2x: none
# documented, so the most common meter setting.
_ASSUMED_SERIAL: Final[Mapping[str, tuple[int, Parity, Literal[1, 2]]]] = MappingProxyType(
    {"abb_terra_ac": (19200, "E", 1), "abb_b2x": (9600, "N", 1), "abb_b21": (9600, "N", 1)}
)

_REQUIRED_KEYS: Final = ("id", "name", "confidence", "registers")
_FC_WRITE_MULTIPLE: Final = 16


def _fail(where: str, message: str) -> ProfileError:
    return ProfileError(f"{where}: {message}")


def _leading_int(value: Any) -> int | None:
    """Read an int from YAML that may say `1 (code default) / 255 (template)` or null."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    found = re.match(r"\s*(\d+)", str(value))
    return int(found.group(1)) if found else None


def _parse_register(
    raw: Mapping[str, Any], *, where: str, renames: Mapping[str, str], sentinel: bool
) -> Register:
    try:
        name = str(raw["name"])
        address = raw["address"]
        fc = raw["fc"]
        data_type = DataType(raw["type"])
    except (KeyError, ValueError) as err:
        raise _fail(where, f"bad register {raw!r}: {err}") from err
    where = f"{where}.{name}"
    if not isinstance(address, int) or not 0 <= address <= MAX_ADDRESS:
        raise _fail(where, f"address {address!r} is not 0..65535")
    if fc not in {1, 3, 4}:
        raise _fail(where, f"function code {fc!r} is not 1, 3 or 4")
    if (fc == 1) != (data_type is DataType.COIL):
        raise _fail(where, "coils and only coils use function code 1")
    if data_type is DataType.STRING:
        count = raw.get("count")
        if not isinstance(count, int) or count < 1:
            raise _fail(where, "a string needs a positive count")
    else:
        count = data_type.words
    if address + count > MAX_ADDRESS + 1:
        raise _fail(where, "runs past address 65535")
    scale = raw.get("scale", 1)
    if not isinstance(scale, int | float) or isinstance(scale, bool) or scale == 0:
        raise _fail(where, f"scale {scale!r} is not a non-zero number")
    access = raw.get("rw", "r")
    if access not in {"r", "w", "rw"}:
        raise _fail(where, f"rw {access!r} is not r, w or rw")
    unit = raw.get("unit")
    return Register(
        name=renames.get(name, name),
        address=address,
        function_code=fc,
        data_type=data_type,
        count=count,
        scale=scale,
        unit=None if unit is None else str(unit),
        access=access,
        # An int is a fixed unit id (Alfen's station, 200); "1|2" means the socket's own.
        unit_id=unit_id if isinstance(unit_id := raw.get("unit_id"), int) else None,
        not_available_sentinel=sentinel,
    )


def _check_overlaps(where: str, registers: Mapping[str, Register]) -> None:
    by_space: dict[tuple[int | None, int], list[Register]] = {}
    for register in registers.values():
        by_space.setdefault((register.unit_id, register.function_code), []).append(register)
    for space in by_space.values():
        ordered = sorted(space, key=lambda r: r.address)
        for before, after in pairwise(ordered):
            if after.address < before.end:
                raise _fail(where, f"{before.name} and {after.name} overlap")


def _serial_defaults(entry: Mapping[str, Any], profile_id: str) -> SerialDefaults | None:
    raw = entry.get("serial_defaults")
    transports = entry.get("transport") or []
    if raw is None and "rtu" not in transports:
        return None
    raw = raw or {}
    assumed = _ASSUMED_SERIAL.get(profile_id)
    baudrate, parity, stopbits = raw.get("baud"), raw.get("parity"), raw.get("stop_bits")
    verified = (
        not raw.get("unverified", False)
        and None not in (baudrate, parity, stopbits)
        and "UNVERIFIED" not in str(raw.get("note", ""))
    )
    if None in (baudrate, parity, stopbits):
        if assumed is None:
            # No shipped setting known (DIP switches, app): added by hand, never scanned for.
            return None
        baudrate = baudrate or assumed[0]
        parity = parity or assumed[1]
        stopbits = stopbits or assumed[2]
    if parity not in {"N", "E", "O"} or stopbits not in {1, 2} or not isinstance(baudrate, int):
        raise _fail(profile_id, f"bad serial defaults {raw!r}")
    device_id = _leading_int(raw.get("slave_id")) or 1
    return SerialDefaults(
        baudrate=baudrate,
        parity=parity,
        stopbits=stopbits,
        device_id=device_id,
        verified=verified,
    )


def _tcp_defaults(entry: Mapping[str, Any]) -> TcpDefaults | None:
    raw = entry.get("tcp_defaults")
    if raw is None:
        return None
    unit_ids = raw.get("unit_ids")
    unit_id = (
        _leading_int(unit_ids.get("socket_1"))
        if isinstance(unit_ids, Mapping)
        else _leading_int(raw.get("unit_id"))
    )
    return TcpDefaults(port=_leading_int(raw.get("port")) or 502, unit_id=unit_id)


def _parse_profile(entry: Mapping[str, Any], kind: Kind) -> Profile:
    where = str(entry.get("id", "<no id>"))
    missing = [key for key in _REQUIRED_KEYS if key not in entry]
    if missing:
        raise _fail(where, f"missing {', '.join(missing)}")
    profile_id = str(entry["id"])
    confidence = entry["confidence"]
    if confidence not in {"high", "medium", "low"}:
        raise _fail(profile_id, f"confidence {confidence!r} is not high, medium or low")
    phases = entry.get("phases")
    phases = phases if isinstance(phases, int) else None
    renames = dict(_CANONICAL_NAMES.get(profile_id, {}))
    if kind == "meter" and phases == 1:
        renames |= _SINGLE_PHASE_NAMES
    sentinel = profile_id in _SENTINEL_PROFILES
    registers: dict[str, Register] = {}
    for raw in entry["registers"]:
        if (profile_id, raw.get("name")) in _IDENTIFICATION_ONLY:
            continue
        register = _parse_register(raw, where=profile_id, renames=renames, sentinel=sentinel)
        if register.name in registers:
            raise _fail(profile_id, f"register {register.name} appears twice")
        registers[register.name] = register
    _check_overlaps(profile_id, registers)
    identification = []
    for item in entry.get("identification") or []:
        if "register" in item:
            register = _parse_register(
                item["register"], where=profile_id, renames=renames, sentinel=sentinel
            )
            identification.append(Identification(register=register, expect=str(item["expect"])))
    limit = (entry.get("limits") or {}).get(
        "max_registers_per_read", DEFAULT_MAX_REGISTERS_PER_READ
    )
    if not isinstance(limit, int) or not 1 <= limit <= MODBUS_MAX_REGISTERS_PER_READ:
        raise _fail(profile_id, f"max_registers_per_read {limit!r} is not 1..125")
    too_long = [r.name for r in registers.values() if r.count > limit]
    if too_long:
        raise _fail(profile_id, f"{', '.join(too_long)} longer than one read")
    write_codes = (entry.get("function_codes") or {}).get("write", [6, 16])
    return Profile(
        id=profile_id,
        kind=kind,
        name=str(entry["name"]),
        confidence=confidence,
        phases=phases,
        transports=tuple(entry.get("transport") or ()),
        serial=_serial_defaults(entry, profile_id),
        tcp=_tcp_defaults(entry),
        max_registers_per_read=limit,
        pacing_s=_PACING_S.get(profile_id, 0.0),
        write_function_code=16 if _FC_WRITE_MULTIPLE in write_codes else 6,
        identification=tuple(identification),
        registers=MappingProxyType(registers),
    )


def parse_profiles(text: str) -> dict[str, Profile]:
    """
    Build and validate every meter and charger profile in a registers.yaml text.

    Raises ProfileError on the first schema violation.
    """
    try:
        # libyaml's loader when PyYAML has it: the pure-Python one takes ~0.5 s here.
        document = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506
    except yaml.YAMLError as err:
        msg = f"registers.yaml: not YAML: {err}"
        raise ProfileError(msg) from err
    if not isinstance(document, Mapping):
        msg = "registers.yaml: not a mapping"
        raise ProfileError(msg)
    profiles: dict[str, Profile] = {}
    sections: tuple[tuple[str, Kind], ...] = (("meters", "meter"), ("chargers", "charger"))
    for section, kind in sections:
        for entry in document.get(section) or []:
            profile = _parse_profile(entry, kind)
            if profile.id in profiles:
                raise _fail(profile.id, "id appears twice")
            profiles[profile.id] = profile
    return profiles


_PROFILES: Final = MappingProxyType(parse_profiles(REGISTERS_YAML.read_text(encoding="utf-8")))


def load_profiles() -> Mapping[str, Profile]:
    """Every profile in the shipped registers.yaml, by id (loaded once, at import)."""
    return _PROFILES


def get_profile(profile_id: str) -> Profile:
    """Return the profile with this `registers.yaml` id; KeyError when there is none."""
    return _PROFILES[profile_id]
