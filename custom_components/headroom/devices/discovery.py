"""
Find the supported meters and chargers on a port or gateway, without writing anything.

For each serial setting the supported devices ship with (9600 8N1, 2400 8N1, 9600 8E1,
19200 8E1; the second wave's meters add none), the scan walks a device-id range. Each id
is probed once with one short read, a short timeout and no retry: any answer, even a
Modbus exception, means a device is there. Only then is it fingerprinted: identification
registers first (Carlo Gavazzi model id, ABB product type, Eastron meter code, Heidelberg
layout version, Shelly and Schneider model strings...), plausible values second (a voltage
and a frequency where a model keeps them). The model ids returned are the `id`s in `registers.yaml`.

Modbus TCP and RTU-over-TCP gateways are scanned the same way, over ids only; a gateway's
"target device failed to respond" exception counts as silence.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Literal, Protocol

from .bus import Bus, SerialSettings, TcpSettings
from .errors import ConnectionLost, DeviceError, DeviceRefused, NoResponse
from .registers import InvalidValueError, Kind, Parity, Register, Value, decode, get_profile

if TYPE_CHECKING:
    from .bus import BusSettings
    from .transport import RegisterTransport

FIRST_WAVE_METERS: Final = (
    "eastron_sdm630",
    "eastron_sdm120",
    "eastron_sdm230",
    "eastron_sdm72dm_v2",
    "chint_dtsu666",
    "chint_ddsu666",
    "carlogavazzi_em3xx",
    "carlogavazzi_em1xx",
    "abb_b2x",
    "abb_b21",
    "orno_we516_517",
)
FIRST_WAVE_CHARGERS: Final = (
    "heidelberg_energy_control",
    "abb_terra_ac",
    "evse_wb_din",
    "alfen_eve",
)
FIRST_WAVE: Final = (*FIRST_WAVE_METERS, *FIRST_WAVE_CHARGERS)
SECOND_WAVE_CHARGERS: Final = (
    "vestel_evc04",
    "keba_p30_p40",
    "bender_cc612_cc613",
    "webasto_next",
    "amperfied_connect",
    "phoenix_ev_eth",
    "phoenix_ev_ser",
    "phoenix_charx",
)
SECOND_WAVE_METERS: Final = (
    "shelly_pro_3em",
    "schneider_iem3x5x",
    "finder_7m38",
    "finder_7m24",
    "bernecker_mpm3pm",
    "orno_we514_515",
    "eastron_sdm72dm_v1",
    "ccs_wattnode_modbus",
)
SCANNED_METERS: Final = (*FIRST_WAVE_METERS, *SECOND_WAVE_METERS)
SCANNED_CHARGERS: Final = (*FIRST_WAVE_CHARGERS, *SECOND_WAVE_CHARGERS)
SCANNED: Final = (*SCANNED_METERS, *SCANNED_CHARGERS)
"""Every model the scan can identify (the default serial lines are theirs)."""

QUICK_IDS: Final = range(1, 17)
"""The default id range: factory ids are 1 (50 for Mennekes), installers number from 1."""
MAX_DEVICE_ID: Final = 247
ALL_IDS: Final = range(1, MAX_DEVICE_ID + 1)
MAX_UNIT_ID: Final = 255
"""Modbus TCP unit ids go to 255: devices on their own socket often answer only there."""

_PROBE_REGISTER: Final = 0
_PROBE_REPLY_MARGIN_S: Final = 0.1
"""Time a device may take to start answering, on top of the wire time."""
_TCP_PROBE_TIMEOUT_S: Final = 0.3
_FINGERPRINT_TIMEOUT_FACTOR: Final = 3
# Gateway exceptions: path unavailable / target device failed to respond = nobody there.
_GATEWAY_NO_DEVICE: Final = frozenset({10, 11})


@dataclass(frozen=True, slots=True, order=True)
class SerialLine:
    """Line settings without a port: what a device ships with."""

    baudrate: int
    parity: Parity
    stopbits: Literal[1, 2]

    def __str__(self) -> str:
        """Format as installers write it: `9600 8N1` (the same words as `SerialSettings.line`)."""
        return self.settings("").line

    def settings(self, port: str) -> SerialSettings:
        """Return the bus settings for `port` at this line setting."""
        return SerialSettings(port, self.baudrate, self.parity, self.stopbits)


@dataclass(frozen=True, slots=True, kw_only=True)
class FoundDevice:
    """A device the scan identified."""

    kind: Kind
    model: str
    """The profile id in `registers.yaml`."""
    device_id: int
    settings: BusSettings

    def as_json(self) -> dict[str, object]:
        """Return the `scripts/scan --json` object (line settings None behind a gateway)."""
        serial = self.settings if isinstance(self.settings, SerialSettings) else None
        return {
            "kind": self.kind,
            "model": self.model,
            "device_id": self.device_id,
            "baudrate": serial.baudrate if serial else None,
            "parity": serial.parity if serial else None,
            "stopbits": serial.stopbits if serial else None,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class ScanProgress:
    """Where the scan is: `done` of `total` probes, the one just made, devices so far."""

    done: int
    total: int
    settings: BusSettings
    device_id: int
    found: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ScanResult:
    """What the scan found; `unidentified` answered but matched no profile."""

    devices: tuple[FoundDevice, ...]
    unidentified: tuple[tuple[BusSettings, int], ...]
    skipped: tuple[tuple[BusSettings, str], ...]
    """Settings the port could not be opened with, and why (the others were scanned)."""
    cancelled: bool


class ScanBus(Protocol):
    """The part of `Bus` the scan uses (tests plug in a fake)."""

    async def connect(self) -> None:
        """Open the port or socket."""
        ...

    async def close(self) -> None:
        """Close it."""
        ...

    def device(
        self,
        device_id: int,
        *,
        pacing_s: float = 0.0,
        timeout_s: float | None = None,
        retries: int | None = None,
    ) -> RegisterTransport:
        """Return a handle for one device id."""
        ...


type BusFactory = Callable[[BusSettings], ScanBus]
type ProgressCallback = Callable[[ScanProgress], None]


def tcp_unit_ids(profile_ids: Iterable[str] = SCANNED) -> list[int]:
    """Return the unit ids TCP-only models answer on by default, beyond the quick range."""
    ids = set()
    for profile_id in profile_ids:
        profile = get_profile(profile_id)
        if profile.serial is None and profile.tcp is not None and profile.tcp.unit_id:
            ids.add(profile.tcp.unit_id)
    return sorted(i for i in ids if i not in QUICK_IDS and 1 <= i <= MAX_UNIT_ID)


def default_serial_lines(profile_ids: Iterable[str] = SCANNED) -> list[SerialLine]:
    """Return the distinct serial settings the models ship with, most common first."""
    counts: Counter[SerialLine] = Counter()
    for profile_id in profile_ids:
        serial = get_profile(profile_id).serial
        if serial is not None:
            counts[SerialLine(serial.baudrate, serial.parity, serial.stopbits)] += 1
    return sorted(counts, key=lambda line: (-counts[line], -line.baudrate, line))


def probe_timeout_s(settings: BusSettings) -> float:
    """Return how long to wait for a probe's answer: wire time of both frames plus margin."""
    if isinstance(settings, TcpSettings):
        return _TCP_PROBE_TIMEOUT_S
    # request 8 bytes, longest probe answer 7 bytes, each preceded by a 3.5-character gap
    return (8 + 7 + 7) * settings.char_time_s + _PROBE_REPLY_MARGIN_S


def default_bus_factory(settings: BusSettings) -> ScanBus:
    """Open a real `Bus` for scanning: the probe timeout, no retries."""
    return Bus(settings, timeout_s=probe_timeout_s(settings), retries=0)


class Scanner:
    """Runs scans with one set of options; `cancel()` stops a running scan early."""

    def __init__(
        self,
        *,
        device_ids: Iterable[int] = QUICK_IDS,
        progress: ProgressCallback | None = None,
        bus_factory: BusFactory = default_bus_factory,
        cancel: asyncio.Event | None = None,
    ) -> None:
        """
        Set up a scan of `device_ids` (1..247).

        Each probe is reported to `progress`; buses are opened with `bus_factory`
        (default: a real `Bus` with the probe timeout and no retries). Setting `cancel`
        (or calling `cancel()`) stops the scan after the current probe.
        """
        self._ids = list(device_ids)
        if not self._ids or not all(1 <= i <= MAX_DEVICE_ID for i in self._ids):
            msg = "device ids must be within 1..247"
            raise ValueError(msg)
        self._progress = progress
        self._bus_factory = bus_factory
        self._cancel = cancel if cancel is not None else asyncio.Event()

    def cancel(self) -> None:
        """Stop after the current probe; the scan returns what it found so far."""
        self._cancel.set()

    async def scan_serial(
        self, port: str, *, lines: Sequence[SerialLine] | None = None
    ) -> ScanResult:
        """
        Scan an RS-485 port at each of `lines` (default: the scanned models' settings).

        Raises `ConnectionLost` when the port cannot be opened at any of the settings (one
        it refuses is skipped and listed in `skipped`). Cancelling the task closes the
        port and propagates.
        """
        chosen = default_serial_lines() if lines is None else lines
        return await self._scan([line.settings(port) for line in chosen])

    async def scan_tcp(self, host: str, port: int, *, rtu_framing: bool = False) -> ScanResult:
        """
        Scan a Modbus TCP gateway (or an RTU-over-TCP one with `rtu_framing`) over ids.

        Over Modbus TCP the unit ids that TCP-only models answer on by default (255 for
        Vestel, KEBA, Bender, Webasto NEXT and Amperfied connect) are probed after the
        range: one probe each.
        """
        settings = TcpSettings(host, port, "rtu" if rtu_framing else "socket")
        extra = () if rtu_framing else tcp_unit_ids()
        return await self._scan([settings], extra_ids=[i for i in extra if i not in self._ids])

    def _report(
        self, done: int, total: int, settings: BusSettings, device_id: int, found: int
    ) -> None:
        if self._progress is not None:
            self._progress(
                ScanProgress(
                    done=done, total=total, settings=settings, device_id=device_id, found=found
                )
            )

    async def _scan(
        self, all_settings: Sequence[BusSettings], *, extra_ids: Sequence[int] = ()
    ) -> ScanResult:
        ids = [*self._ids, *extra_ids]
        total = len(all_settings) * len(ids)
        done = 0
        found: list[FoundDevice] = []
        unidentified: list[tuple[BusSettings, int]] = []
        skipped: list[tuple[BusSettings, str]] = []
        for settings in all_settings:
            bus = self._bus_factory(settings)
            try:
                await bus.connect()
            except ConnectionLost as err:
                # Some adapters (and Linux ptys) refuse a parity or speed: scan the others.
                await bus.close()  # release whatever the failed open left behind
                skipped.append((settings, str(err)))
                done += len(ids)
                self._report(done, total, settings, ids[-1], len(found))
                continue
            try:
                for device_id in ids:
                    if self._cancel.is_set():
                        return ScanResult(
                            devices=tuple(found),
                            unidentified=tuple(unidentified),
                            skipped=tuple(skipped),
                            cancelled=True,
                        )
                    if await _present(bus, settings, device_id):
                        model = await identify(bus, settings, device_id)
                        if model is None:
                            unidentified.append((settings, device_id))
                        else:
                            found.append(
                                FoundDevice(
                                    kind=get_profile(model).kind,
                                    model=model,
                                    device_id=device_id,
                                    settings=settings,
                                )
                            )
                    done += 1
                    self._report(done, total, settings, device_id, len(found))
            finally:
                await bus.close()
        if len(skipped) == len(all_settings):
            msg = "; ".join(dict.fromkeys(reason for _, reason in skipped))
            raise ConnectionLost(msg)
        return ScanResult(
            devices=_once_per_line(found),
            unidentified=tuple(unidentified),
            skipped=tuple(skipped),
            cancelled=False,
        )


def _once_per_line(found: Sequence[FoundDevice]) -> tuple[FoundDevice, ...]:
    """
    Report a device once when it answered settings that differ only in parity or stop bits.

    On a real line a device answers only the framing it is set to; a link that carries no
    parity (a pty, some gateways) lets it answer both. Keep the first setting that reached
    it (the scan goes most common first), so that devices on one link agree on one setting.
    """
    kept: dict[tuple[object, ...], FoundDevice] = {}
    for device in found:
        settings = device.settings
        key: tuple[object, ...] = (id(device),)
        if isinstance(settings, SerialSettings):
            key = (settings.port, settings.baudrate, device.device_id, device.model)
        kept.setdefault(key, device)
    return tuple(kept.values())


async def _present(bus: ScanBus, settings: BusSettings, device_id: int) -> bool:
    """Probe once: any answer, even a Modbus exception, means someone is there."""
    handle = bus.device(device_id, timeout_s=probe_timeout_s(settings), retries=0)
    try:
        await handle.read_holding(_PROBE_REGISTER, 1)
    except DeviceRefused as err:
        return err.exception_code not in _GATEWAY_NO_DEVICE
    except NoResponse:
        return False
    return True


# --- fingerprints ----------------------------------------------------------------------------


class _Probe:
    """Reads for fingerprinting one device: each register once, failures as None."""

    def __init__(self, bus: ScanBus, settings: BusSettings, device_id: int) -> None:
        self.settings = settings
        self.device_id = device_id
        self._bus = bus
        self._timeout_s = probe_timeout_s(settings) * _FINGERPRINT_TIMEOUT_FACTOR
        self._handles: dict[int, RegisterTransport] = {}
        self._cache: dict[tuple[int, int, int, int], list[int] | None] = {}

    async def value(self, profile_id: str, name: str) -> Value | None:
        """Read `name` of `profile_id` (register or identification register)."""
        return await self.register(_register(profile_id, name))

    async def number(self, profile_id: str, name: str) -> float | None:
        """Read a numeric register; None unless it is a finite number."""
        value = await self.value(profile_id, name)
        return float(value) if isinstance(value, int | float) else None

    async def register(self, register: Register) -> Value | None:
        """Read and decode `register`; None when refused, silent or garbage."""
        unit = register.unit_id or self.device_id
        key = (unit, register.function_code, register.address, register.count)
        if key not in self._cache:
            self._cache[key] = await self._read(unit, register)
        words = self._cache[key]
        if words is None:
            return None
        try:
            return decode(register, words)
        except InvalidValueError:
            return None

    async def _read(self, unit: int, register: Register) -> list[int] | None:
        handle = self._handles.get(unit)
        if handle is None:
            handle = self._bus.device(unit, timeout_s=self._timeout_s, retries=1)
            self._handles[unit] = handle
        reads: dict[int, Callable[[int, int], Awaitable[list[int]]]] = {
            1: handle.read_coils,
            3: handle.read_holding,
            4: handle.read_input,
        }
        read = reads[register.function_code]
        try:
            words = await read(register.address, register.count)
        except ConnectionLost:
            raise
        except DeviceError:
            return None
        return words if len(words) == register.count else None


def _register(profile_id: str, name: str) -> Register:
    profile = get_profile(profile_id)
    if name in profile.registers:
        return profile.registers[name]
    return next(i.register for i in profile.identification if i.register.name == name)


def _between(value: float | None, low: float, high: float) -> bool:
    return value is not None and low <= value <= high


_MAINS_V: Final = (90.0, 280.0)
_ANY_V: Final = (0.0, 300.0)
_MAINS_HZ: Final = (45.0, 65.0)

# Carlo Gavazzi model ids (register 0x000B) -> profile
_CG_MODELS: Final = (
    (range(102, 122), "carlogavazzi_em1xx"),
    (range(71, 74), "carlogavazzi_em24_rs485"),
    (range(338, 339), "carlogavazzi_em24_rs485"),  # EM330/340 "series 27" emulate the EM24
    (range(348, 349), "carlogavazzi_em24_rs485"),
    (range(330, 346), "carlogavazzi_em3xx"),
    (range(1744, 1764), "carlogavazzi_em3xx"),
    (range(1648, 1654), "carlogavazzi_em3xx"),
)
# Eastron meter codes (holding 0xFC02): vendor docs for the SDM120 and the SDM72D-M v2 (137),
# community for the rest
_EASTRON_CODES: Final = {
    0x0020: "eastron_sdm120",
    112: "eastron_sdm630",
    121: "eastron_sdm630",
    137: "eastron_sdm72dm_v2",
    135: "eastron_sdm72dm_v2",
}
_SDM120_BAUD: Final = 2400


async def _carlo_gavazzi(probe: _Probe) -> str | None:
    model_id = await probe.value("carlogavazzi_em3xx", "model_id")
    if not isinstance(model_id, int):
        return None
    profile_id = next((p for ids, p in _CG_MODELS if model_id in ids), None)
    if profile_id is None:
        return None
    # The model id alone could be a float's low word on another meter: check a voltage.
    voltage = await probe.number(profile_id, "voltage_l1")
    return profile_id if _between(voltage, *_ANY_V) else None


async def _abb_meter(probe: _Probe) -> str | None:
    product = await probe.value("abb_b2x", "product_type")
    if not isinstance(product, int):
        return None
    text = product.to_bytes(4, "big").decode("latin-1")
    if text[:3] == "B21":
        return "abb_b21"  # single-phase: not available on L2/L3 (Victron ABB_Meter_1P)
    return "abb_b2x" if text[:2] in {"B2", "A4"} else None


async def _eastron_code(probe: _Probe) -> str | None:
    code = await probe.value("eastron_sdm630", "meter_code")
    return _EASTRON_CODES.get(code) if isinstance(code, int) else None


async def _heidelberg(probe: _Probe) -> str | None:
    layout = await probe.value("heidelberg_energy_control", "layout_version")
    if not isinstance(layout, int) or layout >> 8 != 1:
        return None
    hw_max = await probe.number("heidelberg_energy_control", "hw_max_current")
    if not _between(hw_max, 6, 32):
        return None
    # The same registers over Modbus TCP at unit 255 are an Amperfied connect: an RS-485
    # Energy Control behind a gateway has an id of at most 247.
    if _own_socket(probe.settings) and probe.device_id == MAX_UNIT_ID:
        return "amperfied_connect"
    return "heidelberg_energy_control"


async def _evse_wb(probe: _Probe) -> str | None:
    state = await probe.value("evse_wb_din", "charger_state")
    firmware = await probe.value("evse_wb_din", "firmware_version")
    if isinstance(state, int) and 1 <= state <= 5 and isinstance(firmware, int):  # noqa: PLR2004
        return "evse_wb_din" if 1 <= firmware < 100 else None  # noqa: PLR2004
    return None


async def _abb_terra(probe: _Probe) -> str | None:
    state = await probe.value("abb_terra_ac", "charger_state")
    if not isinstance(state, int) or (state >> 8) & 0x7F > 5:  # noqa: PLR2004
        return None
    user_max = await probe.number("abb_terra_ac", "user_settable_max_current")
    return "abb_terra_ac" if _between(user_max, 6, 80) else None


async def _alfen(probe: _Probe) -> str | None:
    state = await probe.value("alfen_eve", "charger_state")
    if not isinstance(state, str) or state[:1] not in set("ABCDEF"):
        return None
    safe = await probe.number("alfen_eve", "failsafe_current")
    return "alfen_eve" if _between(safe, 0, 80) else None


async def _dtsu666(probe: _Probe) -> str | None:
    address = await probe.value("chint_dtsu666", "address")
    if address != probe.device_id:
        return None
    voltage = await probe.number("chint_dtsu666", "voltage_l1")
    return "chint_dtsu666" if _between(voltage, *_ANY_V) else None


async def _ddsu666(probe: _Probe) -> str | None:
    voltage = await probe.number("chint_ddsu666", "voltage_l1")
    frequency = await probe.number("chint_ddsu666", "frequency")
    plausible = _between(voltage, *_MAINS_V) and _between(frequency, *_MAINS_HZ)
    return "chint_ddsu666" if plausible else None


async def _orno(probe: _Probe) -> str | None:
    voltage = await probe.number("orno_we516_517", "voltage_l1")
    frequency = await probe.number("orno_we516_517", "frequency")
    plausible = _between(voltage, *_MAINS_V) and _between(frequency, *_MAINS_HZ)
    return "orno_we516_517" if plausible else None


async def _eastron_values(probe: _Probe) -> str | None:
    voltage = await probe.number("eastron_sdm630", "voltage_l1")
    if not _between(voltage, *_MAINS_V):
        return None
    # Three-phase SDMs have a total power at 0x34; single-phase ones refuse it.
    if await probe.value("eastron_sdm630", "power_total") is not None:
        return "eastron_sdm630"
    serial = probe.settings
    if isinstance(serial, SerialSettings) and serial.baudrate == _SDM120_BAUD:
        return "eastron_sdm120"
    return "eastron_sdm230"


_NOT_SUPPORTED: Final = ""
"""A fingerprint's answer for a model it knows but Headroom cannot read: stop looking."""
# Shelly model codes (Victron's Shelly handler): the Pro 3EM, -400 and 3CT63 share a prefix.
_SHELLY_PRO_3EM: Final = "SPEM-003CE"
_SHELLY: Final = ("SPEM-", "S3EM-")


def _swapped_bytes(text: str) -> str:
    """Return the string as read with the two bytes of each register the other way round."""
    padded = text.ljust(len(text) + len(text) % 2, "\x00")
    return "".join(padded[i + 1] + padded[i] for i in range(0, len(padded), 2)).rstrip("\x00 ")


async def _shelly(probe: _Probe) -> str | None:
    if not _own_socket(probe.settings):
        return None  # Modbus TCP only: never behind a serial line
    model = await probe.value("shelly_pro_3em", "model")
    if not isinstance(model, str):
        return None
    # Shelly's documentation says ASCII (high byte first); the Victron handler reads the
    # bytes of each register swapped. Either way the code is unmistakable.
    text = next((t for t in (model, _swapped_bytes(model)) if t.startswith(_SHELLY)), None)
    if text is None:
        return None
    if not text.startswith(_SHELLY_PRO_3EM):
        return _NOT_SUPPORTED  # another Shelly meter: its MAC would pass for an SDM's voltage
    # The triphase profile (the default) keeps phase A at 31020; the monophase one does not.
    voltage = await probe.number("shelly_pro_3em", "voltage_l1")
    return "shelly_pro_3em" if _between(voltage, *_ANY_V) else _NOT_SUPPORTED


def _own_socket(settings: BusSettings) -> bool:
    """Tell whether `settings` reach a device speaking Modbus TCP itself (no serial line)."""
    return isinstance(settings, TcpSettings) and settings.framer == "socket"


async def _vestel(probe: _Probe) -> str | None:
    if not _own_socket(probe.settings):
        return None
    # UTF-16BE: one character per register (evcc), so every other byte is NUL.
    brand = await probe.value("vestel_evc04", "brand")
    text = brand.replace("\x00", "").strip() if isinstance(brand, str) else ""
    if not text or not text.isprintable():
        return None
    cable = await probe.value("vestel_evc04", "cable_state")
    charging = await probe.value("vestel_evc04", "charging_state")
    limit = await probe.number("vestel_evc04", "current_limit")
    plausible = cable in range(4) and charging in range(2) and _between(limit, 0, 80)
    return "vestel_evc04" if plausible else None


_KEBA_CABLE_STATES: Final = frozenset({0, 1, 3, 5, 7})


async def _keba(probe: _Probe) -> str | None:
    if not _own_socket(probe.settings):
        return None
    product = await probe.value("keba_p30_p40", "product_type")
    code = str(product) if isinstance(product, int) else ""
    if not (len(code) == 6 and code[0] == "3") and not (len(code) == 7 and code[0] == "4"):  # noqa: PLR2004
        return None
    cable = await probe.value("keba_p30_p40", "cable_state")
    charging = await probe.value("keba_p30_p40", "charging_state")
    plausible = cable in _KEBA_CABLE_STATES and charging in range(6)
    return "keba_p30_p40" if plausible else None


_NEXT: Final = "webasto_next"
_NEXT_STATES: Final = frozenset({0, 1, 3, 4, 7, 8})


async def _webasto_next(probe: _Probe) -> str | None:
    """
    Identify a Webasto / Ampure NEXT (its own socket, unit 255) by its holding registers.

    A Vestel keeps its states in input registers and a KEBA its values in register pairs;
    a NEXT answers single holding registers: a state at 1000 and its hardware's current
    range (1102-1100: minimum 6-16 A, maximum up to 80 A).
    """
    if not _own_socket(probe.settings):
        return None
    state = await probe.value(_NEXT, "charger_state")
    if not isinstance(state, int) or state not in _NEXT_STATES:
        return None
    low = await probe.number(_NEXT, "min_current")
    high = await probe.number(_NEXT, "max_current")
    plausible = _between(low, 6, 16) and _between(high, 6, 80) and (low or 0) <= (high or 0)
    return _NEXT if plausible else None


_BENDER: Final = "bender_cc612_cc613"
_BENDER_STATES: Final = range(1, 6)


async def _bender(probe: _Probe) -> str | None:
    """
    Identify a Bender CC612/CC613 in energy-manager mode (its own socket, unit 255).

    No identification register every firmware has (the model string at 142 is missing on
    legacy firmware): a control-pilot state 1-5 at 122, and amperes where it keeps its
    safe current (131) and the energy manager's limit (1000). A KEBA or Vestel on the same
    unit id was recognised before this runs.
    """
    if not _own_socket(probe.settings):
        return None
    state = await probe.value(_BENDER, "charger_state")
    if not isinstance(state, int) or state not in _BENDER_STATES:
        return None
    safe = await probe.number(_BENDER, "failsafe_current")
    limit = await probe.number(_BENDER, "current_limit")
    return _BENDER if _between(safe, 0, 80) and _between(limit, 0, 80) else None


_IEC_LETTERS: Final = frozenset("ABCDEF")
_EV_ETH: Final = "phoenix_ev_eth"
_EV_SER: Final = "phoenix_ev_ser"
_CHARX: Final = "phoenix_charx"


def _letter(word: Value | None, shift: int) -> str | None:
    """Return the IEC letter in one byte of a state register, None unless it is one."""
    if not isinstance(word, int):
        return None
    letter = chr((word >> shift) & 0xFF)
    return letter if letter in _IEC_LETTERS else None


async def _phoenix_ev_eth(probe: _Probe) -> str | None:
    """
    Identify a Phoenix Contact EV-ETH (its own socket, unit 255).

    Its state is an input register holding one ASCII letter (100, high byte 0) and its
    limit a holding register in amperes (528). Vestel, KEBA, NEXT and Bender were
    recognised before this runs; none keeps a letter at input 100.
    """
    if not _own_socket(probe.settings):
        return None
    state = await probe.value(_EV_ETH, "charger_state")
    if _letter(state, 0) is None or not isinstance(state, int) or state >> 8:
        return None
    limit = await probe.number(_EV_ETH, "current_limit")
    return _EV_ETH if _between(limit, 6, 80) else None


_EV_SER_DIGITS: Final = frozenset("012")


async def _phoenix_ev_ser(probe: _Probe) -> str | None:
    """
    Identify a Phoenix Contact EV-SER (RS-485): "B1"-style state at input 24000.

    The letter and a digit 0-2 (the manual's A1 .. D2, E, F) and a limit of 6-63 A at
    holding 22000: no meter Headroom reads keeps registers there.
    """
    state = await probe.value(_EV_SER, "charger_state")
    if _letter(state, 8) is None or not isinstance(state, int):
        return None
    if chr(state & 0xFF) not in _EV_SER_DIGITS and state & 0xFF:
        return None
    limit = await probe.number(_EV_SER, "current_limit")
    return _EV_SER if _between(limit, 6, 63) else None


async def _phoenix_charx(probe: _Probe) -> str | None:
    """
    Identify a Phoenix Contact CHARX SEC (Modbus TCP) by charging point 1's registers.

    1 to 16 charging controllers (114), a letter in the high byte of 1299 and a limit of
    0-80 A at 1301 (evcc, the one source).
    """
    if not isinstance(probe.settings, TcpSettings):
        return None
    controllers = await probe.number(_CHARX, "num_controllers")
    if not _between(controllers, 1, 16):
        return None
    if _letter(await probe.value(_CHARX, "charger_state"), 8) is None:
        return None
    limit = await probe.number(_CHARX, "current_limit")
    return _CHARX if _between(limit, 0, 80) else None


async def _schneider_iem(probe: _Probe) -> str | None:
    model = await probe.value("schneider_iem3x5x", "meter_model")
    if not isinstance(model, str) or not model.startswith("iEM3"):
        return None
    voltage = await probe.number("schneider_iem3x5x", "voltage_l1")
    return "schneider_iem3x5x" if _between(voltage, *_ANY_V) else None


_WATTNODE: Final = "ccs_wattnode_modbus"
_WATTNODE_WNC_MODELS: Final = range(201, 208)
"""Model (1707) of the WNC series: WNC-3Y-208/400/480/600, WNC-3D-240/400/480 (manual)."""


async def _wattnode(probe: _Probe) -> str | None:
    """Identify a WNC series WattNode by its model code and a voltage in its float block."""
    model = await probe.value(_WATTNODE, "model")
    if not isinstance(model, int) or model not in _WATTNODE_WNC_MODELS:
        return None
    voltage = await probe.number(_WATTNODE, "voltage_l1")
    return _WATTNODE if _between(voltage, *_ANY_V) else None


async def _mains(probe: _Probe, profile_id: str) -> str | None:
    """Identify `profile_id` by a mains voltage and frequency where it keeps them."""
    voltage = await probe.number(profile_id, "voltage_l1")
    if not _between(voltage, *_MAINS_V):
        return None
    frequency = await probe.number(profile_id, "frequency")
    return profile_id if _between(frequency, *_MAINS_HZ) else None


async def _orno_single_phase(probe: _Probe) -> str | None:
    return await _mains(probe, "orno_we514_515")


async def _finder(probe: _Probe) -> str | None:
    """
    Identify a Finder 7M.38 or 7M.24: one float map for both, L1 at 2500.

    The 3-phase 7M.38 keeps a mains voltage on L2 or L3 as well; a 7M.24 has none there
    (a 7M.38 with two dead phases reads as a 7M.24, whose L1 and total are the same).
    """
    if await _mains(probe, "finder_7m38") is None:
        return None
    for name in ("voltage_l2", "voltage_l3"):
        if _between(await probe.number("finder_7m38", name), *_MAINS_V):
            return "finder_7m38"
    return "finder_7m24"


async def _mpm3pm(probe: _Probe) -> str | None:
    return await _mains(probe, "bernecker_mpm3pm")


async def _wattnode_values(probe: _Probe) -> str | None:
    """Identify a WattNode without a known model code (WND series) by its float block."""
    return await _mains(probe, _WATTNODE)


async def _sdm72_v1(probe: _Probe) -> str | None:
    """
    Identify an SDM72D-M v1: it keeps totals only (no voltages, no meter code).

    Eastron's power and counters decode as finite floats while nothing usable answers where
    an SDM keeps its voltage. A device reading exactly zero everywhere is not taken for
    one: a v1 with no load and empty counters stays unidentified.
    """
    if await probe.number("eastron_sdm630", "voltage_l1"):
        return None  # an SDM with voltages is one of the others
    values = [
        await probe.number("eastron_sdm72dm_v1", name)
        for name in ("power_total", "energy_import", "energy_export", "energy_total")
    ]
    power, *counters = values
    if power is None or any(c is None or c < 0 for c in counters) or not any(values):
        return None
    return "eastron_sdm72dm_v1"


_FINGERPRINTS: Final[tuple[Callable[[_Probe], Awaitable[str | None]], ...]] = (
    # identification registers: cheap and unambiguous
    _carlo_gavazzi,
    _abb_meter,
    _eastron_code,
    _heidelberg,
    _evse_wb,
    _abb_terra,
    _alfen,
    _dtsu666,
    _shelly,
    _vestel,
    _keba,
    _webasto_next,
    _bender,
    _phoenix_ev_eth,
    _phoenix_charx,
    _phoenix_ev_ser,
    _schneider_iem,
    _wattnode,
    # plausible values where a model keeps its voltage
    _ddsu666,
    _orno,
    _orno_single_phase,
    _finder,
    _mpm3pm,
    _wattnode_values,
    _eastron_values,
    # totals only, where the others keep their voltage
    _sdm72_v1,
)


async def identify(bus: ScanBus, settings: BusSettings, device_id: int) -> str | None:
    """Return the profile id of the device at `device_id`, or None; reads only."""
    probe = _Probe(bus, settings, device_id)
    for fingerprint in _FINGERPRINTS:
        model = await fingerprint(probe)
        if model is not None:
            return model or None
    return None
