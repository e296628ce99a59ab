"""
A limit write in flight (`ChargerLink`), without Home Assistant: a Heidelberg driver on a
register bank whose writes can be held back, as a slow service call holds an entity write.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Literal

import pytest

from custom_components.headroom.charger_link import ChargerLink
from custom_components.headroom.devices.chargers import WatchdogStatus, create_charger
from custom_components.headroom.devices.errors import NoResponse
from tests.devices.fakes import FakeDevice
from tests.site.test_faults import HEIDELBERG, charging, limit_a


class HeldDevice(FakeDevice):
    """Writes wait for `gate` (when set); `cancelled` counts writes cancelled meanwhile."""

    gate: asyncio.Event | None = None
    cancelled: int = 0

    async def write(
        self, address: int, values: Sequence[int], *, function_code: Literal[6, 16] = 16
    ) -> None:
        if self.gate is not None:
            try:
                await self.gate.wait()
            except asyncio.CancelledError:
                self.cancelled += 1
                raise
        await super().write(address, values, function_code=function_code)


def held_link(grace_s: float | None) -> tuple[ChargerLink, HeldDevice]:
    device = charging(2, 10.0)
    device.__class__ = HeldDevice
    assert isinstance(device, HeldDevice)
    device.gate = asyncio.Event()
    driver = create_charger(device, HEIDELBERG)
    driver.write_grace_s = grace_s  # type: ignore[misc]  # as an entity charger's
    return ChargerLink(charger_id="garage", driver=driver, setpoint_a=16), device


async def test_a_write_past_its_grace_is_counted_by_the_cycle_after_it_ended() -> None:
    link, device = held_link(0.01)
    assert await link.write(10, 0.0) == 0  # in flight after the grace
    assert link.setpoint_a is None
    assert await link.write(8, 1.0) == 0  # no second write while it flies
    assert device.gate is not None
    device.gate.set()
    await asyncio.sleep(0.01)
    assert limit_a(device) == 10.0
    assert await link.write(8, 2.0) == 2  # the 10 A counted, the 8 A sent at once
    assert link.setpoint_a == 8
    assert limit_a(device) == 8.0


async def test_a_cycle_cancelled_mid_write_cancels_its_write() -> None:
    link, device = held_link(None)  # a Modbus driver: the cycle waits for the write
    cycle = asyncio.create_task(link.write(10, 0.0))
    await asyncio.sleep(0.01)
    cycle.cancel()
    with pytest.raises(asyncio.CancelledError):
        await cycle
    await asyncio.sleep(0)
    assert device.cancelled == 1
    assert link.setpoint_a is None  # unknown: the next cycle writes again
    assert device.gate is not None
    device.gate.set()
    assert await link.write(10, 1.0) == 1
    assert limit_a(device) == 10.0


async def test_closing_after_a_write_failed_unseen_neither_raises_nor_keeps_it() -> None:
    link, _ = held_link(0.01)

    async def refuse_late(_limit_a: int) -> None:
        await asyncio.sleep(0.1)
        msg = "garage: no answer"
        raise NoResponse(msg)

    link.driver.set_limit = refuse_late  # type: ignore[method-assign]
    assert await link.write(10, 0.0) == 0
    await asyncio.sleep(0.2)  # it failed after its cycle went on; no cycle collected it
    assert link.writing is not None
    assert link.writing.done()
    await link.abandon()  # the site closes: its failure no longer matters
    assert link.writing is None


@pytest.mark.parametrize(
    ("learnt_s", "reported_s", "fallen_at"),
    [(None, None, 16.0), (60.0, None, 61.0), (None, 40.0, 41.0), (None, 10.0, 16.0)],
)
async def test_a_silent_charger_falls_back_after_the_longer_of_both_timeouts(
    learnt_s: float | None, reported_s: float | None, fallen_at: float
) -> None:
    # A charger's own timeout (an Alfen's validity time learnt from its read-backs, a
    # Webasto NEXT's reported when armed): a silent one holds its last limit until that has
    # passed, not only the 15 s the loop armed.
    device = charging(2, 10.0)
    driver = create_charger(device, HEIDELBERG)
    driver.fallback_after_s = learnt_s
    link = ChargerLink(charger_id="garage", driver=driver, setpoint_a=16, armed_for_a=6)
    if reported_s is not None:
        link.watchdog = WatchdogStatus(timeout_s=reported_s, failsafe_a=6.0, failsafe_matches=True)
    own_s = max(learnt_s or 0.0, reported_s or 0.0)
    device.silent = True
    with pytest.raises(NoResponse):
        await link.read(0.0, full=False, grace_s=0.0, watchdog_timeout_s=15.0)
    assert link.next_read_at == fallen_at  # probed again once it has surely fallen back
    for now in (15.5, fallen_at - 0.5):
        link.read_due(now, watchdog_timeout_s=15.0)
        assert link.fell_back is (now > max(15.0, own_s))
    link.read_due(fallen_at, watchdog_timeout_s=15.0)
    assert link.fell_back
