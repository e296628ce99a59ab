"""Charger drivers: state, limits, pause/resume, and each model's watchdog quirks."""

from __future__ import annotations

import math

import pytest

from custom_components.headroom.devices.chargers import (
    SUPPORTED_CHARGERS,
    AbbTerraAc,
    AlfenEve,
    EvseWbDin,
    HeidelbergEnergyControl,
    create_charger,
    max_limit_a_of,
)
from custom_components.headroom.devices.discovery import SCANNED_CHARGERS
from custom_components.headroom.devices.errors import DeviceRefused, NoResponse, Unsupported
from custom_components.headroom.devices.planner import SILENT_SKIP_READS
from custom_components.headroom.devices.registers import Profile, Value, decode, get_profile
from custom_components.headroom.engine.model import ChargerState
from tests.devices.fakes import FakeDevice
from tests.devices.test_profiles import FIRST_WAVE_CHARGERS


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


HEIDELBERG = {
    "charger_state": 7,
    "current_l1": 15.9,
    "current_l2": 16.0,
    "current_l3": 0.0,
    "power_total": 7400,
    "energy_total": 123456,
    "current_limit": 16,
    "watchdog_timeout": 15000,
    "standby_control": 0,
    "failsafe_current": 0,
    "remote_lock": 1,
}
ABB = {
    "socket_lock_state": 0x0111,
    "charger_state": 4 << 8,
    "current_l1": 10.0,
    "current_l2": 10.0,
    "current_l3": 10.0,
    "power_total": 6900,
    "energy_session": 5500,
    "current_limit_readback": 10.0,
    "watchdog_timeout_readback": 60,
    "failsafe_current_readback": 255,
}
ALFEN = {
    "charger_state": "C2",
    "current_l1": 12.0,
    "current_l2": 12.0,
    "current_l3": 12.0,
    "power_total": 8200.0,
    "energy_total": 250000.0,
    "current_limit": 12.0,
    "failsafe_current": 6.0,
    "watchdog_remaining": 60,
}
EVSE_WB = {
    "charger_state": 3,
    "current_limit": 16,
    "current_offered": 16,
    "firmware_version": 17,
    "current_after_boot": 32,
    "modbus_enabled": 1,
    "config_bits": 8192,
}
VALUES: dict[str, dict[str, Value]] = {
    "heidelberg_energy_control": HEIDELBERG,
    "abb_terra_ac": ABB,
    "alfen_eve": ALFEN,
    "evse_wb_din": EVSE_WB,
}
# What the ABB charger shows in its read-backs after a write (vendor doc 0x4020..0x4024).
ABB_READBACKS = {
    "current_limit": "current_limit_readback",
    "watchdog_timeout": "watchdog_timeout_readback",
    "failsafe_current": "failsafe_current_readback",
}


def _abb_echo(profile: Profile):
    by_address = {profile.registers[n].address: (n, r) for n, r in ABB_READBACKS.items()}

    def on_write(device: FakeDevice, address: int, values: list[int]) -> None:
        if address in by_address:
            name, readback = by_address[address]
            device.set(profile.registers[readback], decode(profile.registers[name], values))

    return on_write


def _charger(profile_id: str, clock: Clock | None = None, **overrides: Value):
    profile = get_profile(profile_id)
    device = FakeDevice.from_profile(profile, VALUES[profile_id] | overrides, strict=False)
    if profile_id == "abb_terra_ac":
        device.on_write = _abb_echo(profile)
    charger = create_charger(device, profile, clock=clock or Clock())
    return charger, device


def test_every_scanned_charger_has_a_driver() -> None:
    assert set(SCANNED_CHARGERS) == SUPPORTED_CHARGERS


@pytest.mark.parametrize("profile_id", FIRST_WAVE_CHARGERS)
async def test_read_charging(profile_id: str) -> None:
    charger, device = _charger(profile_id)
    reading = await charger.read()
    assert reading.state is ChargerState.C
    if profile_id == "evse_wb_din":
        assert reading.currents_a == (None, None, None)
        assert reading.setpoint_a == 16
    else:
        assert reading.current_l1_a == pytest.approx(VALUES[profile_id]["current_l1"])
        assert reading.power_w is not None
        assert (reading.energy_total_kwh or reading.energy_session_kwh or 0) > 0
    fast = await charger.read(full=False)
    assert fast.state is ChargerState.C
    assert fast == reading  # the fast read merged into the full one: nothing changed
    assert device.writes == []
    assert charger.device_id == 1


async def test_a_fast_read_is_merged_into_the_last_full_read() -> None:
    charger, device = _charger("heidelberg_energy_control")
    registers = charger.profile.registers
    first = await charger.read(full=False)  # nothing to merge into yet: a full read
    assert (first.setpoint_a, first.energy_total_kwh) == (16, pytest.approx(123.456))
    device.set(registers["current_l1"], 10.0)
    device.set(registers["current_limit"], 10)
    device.set(registers["energy_total"], 130000)
    fast = await charger.read(full=False)
    assert (fast.current_l1_a, fast.state) == (10.0, ChargerState.C)
    # Setpoint and energy are not read on a fast read: the last full read's stay.
    assert (fast.setpoint_a, fast.energy_total_kwh) == (16, pytest.approx(123.456))
    full = await charger.read()
    assert (full.setpoint_a, full.energy_total_kwh) == (10, pytest.approx(130.0))


@pytest.mark.parametrize("profile_id", FIRST_WAVE_CHARGERS)
async def test_limit_pause_resume(profile_id: str) -> None:
    charger, device = _charger(profile_id)
    register = charger.profile.registers["current_limit"]
    await charger.set_limit(10)
    await charger.set_limit(0)  # pause
    await charger.set_limit(6)  # resume
    assert [decode(register, w) for w in device.written(register)] == [10, 0, 6]
    assert all(code == 16 for _, _, code in device.writes)


@pytest.mark.parametrize("profile_id", FIRST_WAVE_CHARGERS)
@pytest.mark.parametrize("limit", [1, 5, -1, 200])
async def test_never_a_limit_between_0_and_6(profile_id: str, limit: int) -> None:
    charger, device = _charger(profile_id)
    with pytest.raises(ValueError, match="must be 0 or 6"):
        await charger.set_limit(limit)
    assert device.writes == []


@pytest.mark.parametrize("limit", [6.5, True, "6"])
async def test_limits_are_whole_amperes(limit: object) -> None:
    charger, _ = _charger("abb_terra_ac")
    with pytest.raises(TypeError):
        await charger.set_limit(limit)  # type: ignore[arg-type]


async def test_heidelberg_watchdog_standby_off_ms_and_failsafe_written_once() -> None:
    clock = Clock()
    charger, device = _charger("heidelberg_energy_control", clock)
    assert isinstance(charger, HeidelbergEnergyControl)
    regs = charger.profile.registers
    status = await charger.arm_watchdog(timeout_s=10, failsafe_a=6)
    assert status.timeout_s == 10
    assert status.failsafe_a == 6
    assert device.written(regs["standby_control"]) == [[4]]
    assert device.written(regs["watchdog_timeout"]) == [[10000]]
    assert device.written(regs["failsafe_current"]) == [[60]]
    # Every cycle: nothing re-written.
    for _ in range(5):
        clock.now += 30
        await charger.maintain()
        await charger.read()
    assert len(device.writes) == 3
    # The box lost its settings (power cut): the next verification restores them once.
    device.set(regs["watchdog_timeout"], 15000)
    device.set(regs["standby_control"], 0)
    clock.now += 61
    await charger.maintain()
    assert device.written(regs["watchdog_timeout"]) == [[10000], [10000]]
    assert device.written(regs["standby_control"]) == [[4], [4]]
    assert len(device.written(regs["failsafe_current"])) == 1


async def test_heidelberg_already_armed_needs_no_write() -> None:
    charger, device = _charger(
        "heidelberg_energy_control", standby_control=4, watchdog_timeout=5000, failsafe_current=8
    )
    await charger.arm_watchdog(timeout_s=5, failsafe_a=8)
    await charger.arm_watchdog(timeout_s=5, failsafe_a=8)
    assert device.writes == []


@pytest.mark.parametrize(
    ("timeout_s", "failsafe_a", "error"),
    [(0, 6, ValueError), (70, 6, ValueError), (10, 3, ValueError), (10, 20, ValueError)],
)
async def test_heidelberg_rejects_what_it_cannot_take(timeout_s, failsafe_a, error) -> None:
    charger, device = _charger("heidelberg_energy_control")
    with pytest.raises(error):
        await charger.arm_watchdog(timeout_s=timeout_s, failsafe_a=failsafe_a)
    assert device.writes == []


async def test_abb_timeout_and_fallback_rewritten_when_lost() -> None:
    clock = Clock()
    charger, device = _charger("abb_terra_ac", clock)
    assert isinstance(charger, AbbTerraAc)
    regs = charger.profile.registers
    status = await charger.arm_watchdog(timeout_s=30, failsafe_a=8)
    assert (status.timeout_s, status.failsafe_a) == (30, 8)
    assert device.written(regs["watchdog_timeout"]) == [[30]]
    assert device.written(regs["failsafe_current"]) == [[8]]
    await charger.arm_watchdog(timeout_s=30, failsafe_a=8)
    for _ in range(3):
        clock.now += 30
        await charger.read()
        await charger.maintain()
    assert len(device.writes) == 2
    # Known firmware bug: after a reboot the fallback reads 256. Seen in the next read.
    device.set(regs["failsafe_current_readback"], 256)
    await charger.read()
    await charger.maintain()
    assert device.written(regs["failsafe_current"]) == [[8], [8]]
    assert len(device.written(regs["watchdog_timeout"])) == 1


async def test_abb_without_readbacks_rewrites_on_a_slow_cadence() -> None:
    clock = Clock()
    profile = get_profile("abb_terra_ac")
    device = FakeDevice.from_profile(
        profile,
        {k: v for k, v in ABB.items() if "timeout_readback" not in k and "failsafe" not in k},
    )
    charger = create_charger(device, profile, clock=clock)
    await charger.arm_watchdog(timeout_s=60, failsafe_a=0)
    clock.now += 61
    await charger.maintain()  # read-backs refused: not yet time to re-write
    assert len(device.writes) == 2
    clock.now += AbbTerraAc.REWRITE_INTERVAL_S
    await charger.maintain()
    assert len(device.writes) == 4
    with pytest.raises(ValueError, match=r"10\.\.65535"):
        await charger.arm_watchdog(timeout_s=5, failsafe_a=6)


async def test_abb_state_byte_and_garbage() -> None:
    # evcc abb.go: C1 (3) is B; 5 ("other", paused by a limit below 6 A) is B with a car
    # connected (socket lock >= 0x0101), else A
    for code, lock, state in [
        (0, 0, "A"),
        (1, 0x0101, "B"),
        (2, 0x0101, "B"),
        (3, 0x0111, "B"),
        (4, 0x0111, "C"),
        (5, 0x0111, "B"),
        (5, 0x0101, "B"),
        (5, 0x0011, "A"),
        (5, 0, "A"),
    ]:
        charger, _ = _charger(
            "abb_terra_ac", charger_state=(code << 8) | 0x8000, socket_lock_state=lock
        )
        assert (await charger.read(full=False)).state == state, (code, lock)
    charger, _ = _charger("abb_terra_ac", charger_state=9 << 8)
    with pytest.raises(NoResponse, match="charger_state"):
        await charger.read()


async def test_alfen_reports_safe_current_and_rewrites_the_setpoint() -> None:
    clock = Clock()
    charger, device = _charger("alfen_eve", clock)
    assert isinstance(charger, AlfenEve)
    register = charger.profile.registers["current_limit"]
    status = await charger.arm_watchdog(timeout_s=60, failsafe_a=6)
    assert status.failsafe_a == 6.0
    assert status.failsafe_matches
    assert status.timeout_s is None  # 1208 is the time left, not the validity time
    assert status.rewrite_interval_s == 25.0
    assert device.writes == []  # safe current is read-only; validity time is set in the app
    await charger.maintain()
    assert device.writes == []  # no setpoint yet: nothing to keep alive
    await charger.set_limit(16)
    clock.now += 10
    await charger.maintain()
    assert len(device.written(register)) == 1
    clock.now += 16
    await charger.maintain()
    assert len(device.written(register)) == 2
    assert device.writes[-1][1] == device.writes[0][1]  # the same 16.0 A, one FC16 request
    mismatch = await charger.arm_watchdog(timeout_s=20, failsafe_a=10)
    assert not mismatch.failsafe_matches
    assert mismatch.rewrite_interval_s == 10


@pytest.mark.parametrize(
    ("written_a", "applied_a", "setpoint_a"),
    [
        (0.0, 10.0, 10),  # rebooted: no Modbus setpoint, the safe current applies
        (16.0, 6.0, 6),  # validity time ran out: 1210 still shows 16
        (16.0, 16.0, 16),
        (16.0, None, 16),  # 1206 reserved (NaN, Alfen doc 1.2): the limit written
    ],
)
async def test_alfen_reports_the_limit_its_socket_applies(
    written_a: float, applied_a: float | None, setpoint_a: int
) -> None:
    charger, device = _charger("alfen_eve", current_limit=written_a)
    applied = charger.profile.registers["current_limit_readback"]
    if applied_a is None:
        device.set_words(applied, [0xFFFF, 0xFFFF])
    else:
        device.set(applied, applied_a)
    assert (await charger.read(full=True)).setpoint_a == setpoint_a


async def test_alfen_state_strings() -> None:
    for raw, state in [("A", "A"), ("B1", "B"), ("C2", "C"), ("E", "E"), ("F", "F")]:
        charger, _ = _charger("alfen_eve", charger_state=raw)
        assert (await charger.read(full=False)).state == state
    charger, _ = _charger("alfen_eve", charger_state="")
    with pytest.raises(NoResponse):
        await charger.read()


async def test_evse_wb_has_no_watchdog() -> None:
    charger, device = _charger("evse_wb_din")
    assert isinstance(charger, EvseWbDin)
    assert not charger.has_watchdog
    with pytest.raises(Unsupported, match="no watchdog"):
        await charger.arm_watchdog(timeout_s=10, failsafe_a=6)
    # ...but the current after a power cut (2000, persistent) is now the fail-safe current
    assert device.writes == [(2000, [6], 16)]
    with pytest.raises(Unsupported):
        await charger.arm_watchdog(timeout_s=10, failsafe_a=6)
    assert len(device.writes) == 1  # written once


async def test_evse_wb_centiamp_mode() -> None:
    charger, device = _charger("evse_wb_din", config_bits=0x0080, current_limit=1600)
    reading = await charger.read()
    assert reading.setpoint_a == pytest.approx(16.0)
    await charger.set_limit(10)
    assert device.written(charger.profile.registers["current_limit"]) == [[1000]]


@pytest.mark.parametrize(
    ("profile_id", "field", "raw"),
    [
        ("heidelberg_energy_control", "charger_state", 42),
        ("evse_wb_din", "charger_state", 0),
        ("alfen_eve", "current_l1", float("nan")),
        ("alfen_eve", "current_l1", -3.0),
    ],
)
async def test_garbage_state_or_current_is_no_response(profile_id, field, raw) -> None:
    profile = get_profile(profile_id)
    charger, device = _charger(profile_id)
    if isinstance(raw, float) and math.isnan(raw):  # encode refuses NaN: set raw words
        device.set_words(profile.registers[field], [0x7FC0, 0])
    else:
        device.set(profile.registers[field], raw)
    with pytest.raises(NoResponse, match=field):
        await charger.read()


async def test_garbage_optional_values_are_none() -> None:
    charger, device = _charger("alfen_eve", power_total=-5.0, energy_total=-1.0)
    for name in ("current_limit", "current_limit_readback"):  # infinity, written and applied
        device.set_words(charger.profile.registers[name], [0x7F80, 0])
    reading = await charger.read()
    assert reading.power_w is None
    assert reading.energy_total_kwh is None
    assert reading.setpoint_a is None


async def test_errors_from_the_bus_propagate() -> None:
    charger, device = _charger("abb_terra_ac")
    device.silent = True
    with pytest.raises(NoResponse):
        await charger.read()
    device.silent = False
    device.fail_next.append(DeviceRefused("no", exception_code=3))
    with pytest.raises(DeviceRefused):
        await charger.set_limit(6)


def test_factory_refuses_models_without_a_driver_and_meters() -> None:
    with pytest.raises(Unsupported, match="no driver"):
        create_charger(FakeDevice(), get_profile("victron_evcs"))
    with pytest.raises(ValueError, match="not a charger"):
        AbbTerraAc(FakeDevice(), get_profile("eastron_sdm630"))


def test_a_missing_read_back_never_counts_as_the_wanted_setting() -> None:
    from custom_components.headroom.devices import chargers  # noqa: PLC0415

    assert not chargers._same(None, 6)
    assert chargers._same(6.000000000000001, 6)


def test_model_limits_without_a_driver() -> None:
    assert max_limit_a_of("heidelberg_energy_control") == 16
    assert max_limit_a_of("evse_wb_din") == 80
    assert max_limit_a_of("vestel_evc04") == 32
    with pytest.raises(Unsupported):
        max_limit_a_of("delta_ac_max")


async def test_abb_code_5_needs_the_socket_lock() -> None:
    charger, device = _charger("abb_terra_ac", charger_state=5 << 8)
    device.set_words(charger.profile.registers["socket_lock_state"], [0xFFFF, 0xFFFF])
    assert (await charger.read(full=False)).state == "B"  # all ones: >= 0x0101, a car


async def test_heidelberg_unlocks_in_f_at_most_every_10_s() -> None:
    clock = Clock()
    charger, device = _charger("heidelberg_energy_control", clock, charger_state=10)
    register = charger.profile.registers["remote_lock"]
    assert (await charger.read()).state == "F"
    await charger.maintain()
    await charger.maintain()
    assert device.written(register) == [[1]]  # once: the box needs ~10 s to leave F
    clock.now += 10
    await charger.maintain()
    assert device.written(register) == [[1], [1]]
    device.set(charger.profile.registers["charger_state"], 4)
    assert (await charger.read()).state == "B"
    clock.now += 30
    await charger.maintain()
    assert device.written(register) == [[1], [1]]  # not in F: nothing to clear


def _alfen_with_station(**station: object) -> tuple[AlfenEve, FakeDevice, FakeDevice]:
    """An Alfen socket at unit 1 whose station (unit 200) is its own register bank."""
    profile = get_profile("alfen_eve")
    socket = FakeDevice.from_profile(profile, ALFEN, strict=False)
    values: dict[str, Value] = {"temperature": 41.5}
    bank = FakeDevice.from_profile(profile, values, device_id=200)
    for name, value in station.items():
        setattr(bank, name, value)
    socket.units[200] = bank
    charger = create_charger(socket, profile, clock=Clock())
    assert isinstance(charger, AlfenEve)
    return charger, socket, bank


async def test_alfen_reads_its_temperature_from_the_station_unit() -> None:
    charger, socket, station = _alfen_with_station()
    reading = await charger.read()
    assert reading.temperature_c == 41.5
    assert reading.current_l1_a == 12.0
    temperature = charger.profile.registers["temperature"]
    assert station.reads == [(3, temperature.address, 2)]
    assert all(address != temperature.address for _, address, _ in socket.reads)
    # Fast reads do not ask the station; they keep the last full read's temperature.
    assert (await charger.read(full=False)).temperature_c == 41.5
    assert len(station.reads) == 1


async def test_a_station_that_refuses_leaves_the_socket_readable() -> None:
    charger, socket, station = _alfen_with_station(holding={})  # every read: exception 2
    reading = await charger.read()
    assert reading.state is ChargerState.C
    assert reading.current_l1_a == 12.0
    assert reading.temperature_c is None
    assert "temperature" in charger.disabled_registers
    assert "unit 200" in charger.disabled_registers["temperature"]
    # Dropped for good: the station is not asked again, the socket still is.
    socket.reads.clear()
    await charger.read()
    assert len(station.reads) == 1
    assert socket.reads


async def test_a_silent_station_is_skipped_for_a_while_then_read_again() -> None:
    charger, _, station = _alfen_with_station(silent=True)
    reading = await charger.read()
    assert reading.current_l1_a == 12.0
    assert reading.temperature_c is None
    assert "not answered" in charger.disabled_registers["temperature"]
    for _ in range(SILENT_SKIP_READS):
        assert (await charger.read()).temperature_c is None
    station.silent = False
    assert len(station.reads) == 1  # asked once in those reads, not once a read
    reading = await charger.read()
    assert reading.temperature_c == 41.5
    assert charger.disabled_registers == {}
