"""Read planning: merge near registers, respect limits and gaps, split by function code."""

from __future__ import annotations

import pytest

from custom_components.headroom.devices.errors import DeviceRefused
from custom_components.headroom.devices.planner import RegisterReader, plan_reads
from custom_components.headroom.devices.registers import DataType, Register, get_profile
from tests.devices.fakes import FakeDevice


def _reg(name: str, address: int, *, fc: int = 4, words: int = 2, **kw) -> Register:
    data_type = DataType.FLOAT32_ABCD if words == 2 else DataType.UINT16
    return Register(
        name=name, address=address, function_code=fc, data_type=data_type, count=words, **kw
    )


def test_contiguous_registers_make_one_block() -> None:
    regs = [_reg("a", 0), _reg("b", 2), _reg("c", 4)]
    (block,) = plan_reads(regs, max_registers=100)
    assert (block.function_code, block.address, block.count, block.end) == (4, 0, 6, 6)
    assert plan_reads([], max_registers=100) == []
    assert [r.name for r in block.registers] == ["a", "b", "c"]


def test_block_never_exceeds_the_device_limit() -> None:
    regs = [_reg(f"r{i}", 2 * i) for i in range(50)]
    blocks = plan_reads(regs, max_registers=80)
    assert [b.count for b in blocks] == [80, 20]
    assert all(b.count <= 80 for b in blocks)
    assert sum(len(b.registers) for b in blocks) == 50


def test_gaps_of_mapped_registers_are_bridged_up_to_max_gap() -> None:
    wanted = [_reg("a", 0), _reg("b", 12)]
    mapped = [_reg(f"m{i}", i) for i in range(2, 12, 2)]
    (block,) = plan_reads(wanted, max_registers=100, mapped=mapped)
    assert (block.address, block.count) == (0, 14)
    assert len(plan_reads(wanted, max_registers=100, mapped=mapped, max_gap=9)) == 2


def test_unmapped_gaps_are_bridged_only_when_small() -> None:
    assert len(plan_reads([_reg("a", 0), _reg("b", 4)], max_registers=100)) == 1
    assert len(plan_reads([_reg("a", 0), _reg("b", 5)], max_registers=100)) == 2
    assert len(plan_reads([_reg("a", 0), _reg("b", 3)], max_registers=100, max_unmapped_gap=0)) == 2


def test_function_codes_and_unit_ids_are_never_mixed() -> None:
    regs = [_reg("a", 0, fc=3), _reg("b", 2, fc=4), _reg("c", 4, fc=3, unit_id=200)]
    blocks = plan_reads(regs, max_registers=100)
    assert {(b.function_code, b.unit_id) for b in blocks} == {(3, None), (4, None), (3, 200)}


def test_overlapping_wanted_registers_share_a_block() -> None:
    (block,) = plan_reads([_reg("a", 0, words=4), _reg("b", 1, words=1)], max_registers=10)
    assert (block.address, block.count) == (0, 4)


@pytest.mark.parametrize(
    ("register", "match"),
    [
        (_reg("w", 0, access="w"), "write-only"),
        # Discrete inputs (FC 2): no device Headroom drives needs them.
        (
            Register(name="d", address=0, function_code=2, data_type=DataType.COIL, count=1),  # type: ignore[arg-type]
            "function code 2",
        ),
        (_reg("big", 0, words=2), "spans"),
    ],
)
def test_unplannable_registers(register: Register, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        plan_reads([register], max_registers=1)


async def test_coils_are_planned_apart_and_read_with_fc1() -> None:
    coil = Register(name="enable", address=400, function_code=1, data_type=DataType.COIL, count=1)
    card = Register(name="card", address=401, function_code=1, data_type=DataType.COIL, count=1)
    holding = _reg("limit", 400)
    blocks = plan_reads([coil, card, holding], max_registers=10)
    assert [(b.function_code, b.address, b.count) for b in blocks] == [(1, 400, 2), (4, 400, 2)]
    device = FakeDevice(coils={400: 1, 401: 0})
    words = await device.read_coils(400, 2)
    assert words == [1, 0]
    assert device.reads == [(1, 400, 2)]


def test_sdm630_currents_and_power_plan() -> None:
    profile = get_profile("eastron_sdm630")
    reader = RegisterReader(FakeDevice(), profile)
    blocks = reader.plan(["current_l1", "current_l2", "current_l3", "power_total"])
    assert [(b.address, b.count) for b in blocks] == [(6, 6), (52, 2)]
    assert reader.plan(["current_l1", "current_l2", "current_l3", "power_total"]) is blocks


async def test_reader_decodes_and_maps_garbage_to_none() -> None:
    profile = get_profile("eastron_sdm630")
    device = FakeDevice.from_profile(profile, {"current_l1": 5.5, "current_l2": 1.0})
    device.set_words(profile.registers["current_l3"], [0x7FC0, 0])  # NaN
    values = await RegisterReader(device, profile).read(["current_l1", "current_l2", "current_l3"])
    assert values == {"current_l1": 5.5, "current_l2": 1.0, "current_l3": None}
    assert device.reads == [(4, 6, 6)]


async def test_reader_stops_bridging_unmapped_gaps_after_a_refusal() -> None:
    profile = get_profile("abb_terra_ac")
    names = ["watchdog_timeout_readback", "current_limit_readback"]
    device = FakeDevice.from_profile(
        profile, {"watchdog_timeout_readback": 60, "current_limit_readback": 16}
    )
    reader = RegisterReader(device, profile)
    values = await reader.read(names)
    assert values == {"watchdog_timeout_readback": 60, "current_limit_readback": 16.0}
    assert device.reads == [(3, 16416, 4), (3, 16416, 1), (3, 16418, 2)]
    await reader.read(names)
    assert device.reads[-2:] == [(3, 16416, 1), (3, 16418, 2)]


async def test_reader_reraises_other_refusals_and_short_answers() -> None:
    profile = get_profile("eastron_sdm630")
    device = FakeDevice.from_profile(profile, {"current_l1": 1.0})
    device.fail_next.append(DeviceRefused("busy", exception_code=6))
    with pytest.raises(DeviceRefused):
        await RegisterReader(device, profile).read(["current_l1"])

    class Short(FakeDevice):
        async def read_input(self, address: int, count: int) -> list[int]:  # noqa: ARG002
            return [0] * (count - 1)

    with pytest.raises(Exception, match="got 1"):
        await RegisterReader(Short(), profile).read(["current_l1"])


async def test_refused_optional_register_is_dropped_once(caplog: pytest.LogCaptureFixture) -> None:
    profile = get_profile("carlogavazzi_em24_rs485")
    values = {"current_l1": 5.0, "current_l2": 4.0, "current_l3": 3.0, "energy_import": 10.0}
    device = FakeDevice.from_profile(profile, values | {"power_total": 2300.0}, strict=True)
    reader = RegisterReader(device, profile)
    names = [*values, "power_total", "energy_export"]  # 0x5C: not on this variant
    first = await reader.read(names, optional=["energy_import", "energy_export"])
    assert first["current_l1"] == pytest.approx(5.0)
    assert first["energy_import"] == pytest.approx(10.0)
    assert "energy_export" not in first
    assert list(reader.disabled) == ["energy_export"]
    warnings = [r for r in caplog.records if "energy_export" in r.getMessage()]
    assert len(warnings) == 1
    device.reads.clear()
    again = await reader.read(names, optional=["energy_import", "energy_export"])
    assert again["current_l3"] == pytest.approx(3.0)
    assert all(address < 0x5C for _, address, _ in device.reads)  # never asked again
    assert len([r for r in caplog.records if "energy_export" in r.getMessage()]) == 1


async def test_refused_required_register_still_fails() -> None:
    profile = get_profile("carlogavazzi_em24_rs485")
    device = FakeDevice.from_profile(profile, {"current_l1": 5.0}, strict=True)
    reader = RegisterReader(device, profile)
    with pytest.raises(DeviceRefused):
        await reader.read(["current_l1", "current_l2"], optional=["current_l1"])
    assert reader.disabled == {}
