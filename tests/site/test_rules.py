"""The loop's rules on the bus, as a table: what each charger is sent, cycle by cycle."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from custom_components.headroom.site import Site
from tests.devices.fakes import FakeDevice
from tests.site.test_faults import HEIDELBERG, charging, meter, two_chargers

LIMIT = HEIDELBERG.registers["current_limit"].address
WATCHDOG = HEIDELBERG.registers["watchdog_timeout"].address
FAIL_SAFE = HEIDELBERG.registers["failsafe_current"].address


@dataclass
class Bench:
    grid: FakeDevice
    garage: FakeDevice
    carport: FakeDevice
    site: Site


def bench() -> Bench:
    grid, garage, carport = meter(10.0), charging(2, 0.0), charging(3, 0.0)
    return Bench(grid, garage, carport, two_chargers(grid, garage, carport))


def meter_silent(b: Bench) -> None:
    b.grid.silent = True


def fail_safe_8(b: Bench) -> None:
    b.site.balancer.settings = dataclasses.replace(b.site.balancer.settings, fail_safe_a=8.0)


def timeout_20(b: Bench) -> None:
    b.site.watchdog_timeout_s = 20.0


def same_timeout(b: Bench) -> None:
    b.site.watchdog_timeout_s = b.site.watchdog_timeout_s


def same_fail_safe(b: Bench) -> None:
    b.site.balancer.settings = dataclasses.replace(b.site.balancer.settings)


@pytest.mark.parametrize(
    ("change", "cycles_asked", "writes_at"),
    [
        # The meter goes silent: the garage is read until the meter's stale time (5 s) has
        # passed, is then sent the fail-safe current once, and is left alone after that so
        # that its own watchdog can act.
        (meter_silent, 5, {LIMIT: 1, FAIL_SAFE: 0, WATCHDOG: 0}),
        # A new fail-safe current: armed again once, in a loop that goes on; the timeout it
        # holds already is not written again (persistent settings are written once).
        (fail_safe_8, 20, {FAIL_SAFE: 1, WATCHDOG: 0}),
        # A new watchdog timeout: the timeout is written once, the fail-safe current is not.
        (timeout_20, 20, {FAIL_SAFE: 0, WATCHDOG: 1}),
        # The same timeout or settings again: nothing is armed again.
        (same_timeout, 20, {FAIL_SAFE: 0, WATCHDOG: 0}),
        (same_fail_safe, 20, {FAIL_SAFE: 0, WATCHDOG: 0}),
    ],
    ids=["meter-silent", "fail-safe-changed", "timeout-changed", "same-timeout", "same-settings"],
)
async def test_what_a_charger_is_sent(
    change: Callable[[Bench], None], cycles_asked: int, writes_at: dict[int, int]
) -> None:
    b = bench()
    for second in range(100, 115):  # armed, resumed after the raise hold
        await b.site.cycle(float(second), full=second == 100)
    writes = len(b.garage.writes)
    change(b)
    asked = 0
    for second in range(115, 135):
        before = len(b.garage.reads) + len(b.garage.writes)
        await b.site.cycle(float(second))
        asked += len(b.garage.reads) + len(b.garage.writes) > before
    new_writes = b.garage.writes[writes:]
    assert asked == cycles_asked
    assert {
        address: sum(1 for a, _, _ in new_writes if a == address) for address in writes_at
    } == writes_at
