"""
The loop's own rules as tables, without Home Assistant: fake register banks behind real drivers.

- write on change: a setpoint is written only when it differs from what the charger holds;
- identity back-off: after contact at once, then every 6 h; failures retry after 60 s,
  doubling, capped at the 6 h refresh;
- blind mode: a silent meter stops the charger reads once its values are stale, sends the
  fail-safe current once, and lets the charger's own watchdog act.

The watchdog re-arm table is in `test_rules.py` (what a charger is sent after a change).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from custom_components.headroom.engine.model import (
    ChargerCommand,
    Constraint,
    Decision,
    SiteSettings,
    Snapshot,
)
from custom_components.headroom.identities import (
    IDENTITY_REFRESH_S,
    IDENTITY_RETRY_S,
    _IdentityTimer,
)
from custom_components.headroom.site import Site
from tests.devices.fakes import FakeDevice
from tests.site.test_faults import HEIDELBERG, charging, limit_a, meter, set_draw, two_chargers

LIMIT = HEIDELBERG.registers["current_limit"]


# --- write on change ----------------------------------------------------------------------


@dataclass
class ScriptedEngine:
    """Commands the garage what the table says, cycle by cycle; the carport gets 0 A."""

    settings: SiteSettings
    garage_a: list[float]
    seen: list[Snapshot] = field(default_factory=list)

    def step(self, snapshot: Snapshot) -> Decision:
        self.seen.append(snapshot)
        commands = (
            ChargerCommand(
                charger_id="garage", current_a=self.garage_a.pop(0), reason=Constraint.NONE
            ),
            ChargerCommand(charger_id="carport", current_a=0.0, reason=Constraint.NONE),
        )
        return Decision(
            commands=commands,
            house_a=(0.0, 0.0, 0.0),
            headroom_a=(0.0, 0.0, 0.0),
            available_a=0.0,
            binding=Constraint.NONE,
            fail_safe=False,
        )


def limits_written(device: FakeDevice) -> list[float]:
    return [words[0] / 10 for words in device.written(LIMIT)]


@pytest.mark.parametrize(
    ("holds_a", "commands_a", "written_a"),
    [
        # What the charger reports at first contact is what it holds: not written again.
        (16.0, [16.0, 16.0, 16.0], []),
        # A change is written once, and once more when it changes back.
        (16.0, [10.0, 10.0, 16.0, 16.0], [10.0, 16.0]),
        # Pause and resume are changes like any other.
        (16.0, [0.0, 0.0, 6.0], [0.0, 6.0]),
        # Above the driver's maximum (16 A for a Heidelberg): clamped, so nothing changes.
        (16.0, [20.0, 32.0], []),
        # A charger that reports 0 A (paused) is written as soon as it may charge.
        (0.0, [0.0, 8.0, 8.0], [8.0]),
    ],
    ids=["same", "change-and-back", "pause-resume", "above-model-max", "from-paused"],
)
async def test_a_setpoint_is_written_only_when_it_differs_from_what_the_charger_holds(
    holds_a: float, commands_a: list[float], written_a: list[float]
) -> None:
    grid, garage, carport = meter(10.0), charging(2, 0.0), charging(3, 0.0)
    garage.set(LIMIT, holds_a)
    site = two_chargers(grid, garage, carport)
    engine = ScriptedEngine(site.balancer.settings, list(commands_a))
    site.balancer = engine  # type: ignore[assignment]
    for second in range(len(commands_a)):
        await site.cycle(100.0 + second)
    assert limits_written(garage) == written_a
    assert engine.seen[0].chargers[0].setpoint_a == holds_a


# --- identity back-off --------------------------------------------------------------------

H = IDENTITY_REFRESH_S
R = IDENTITY_RETRY_S


@pytest.mark.parametrize(
    ("events", "due_at"),
    [
        ([], None),  # never answered: never read
        ([("contact", 100.0)], 100.0),  # first contact: read now
        ([("contact", 100.0), ("ok", 100.0)], 100.0 + H),
        ([("contact", 100.0), ("fail", 100.0)], 100.0 + R),
        ([("contact", 0.0), ("fail", 0.0), ("fail", 60.0)], 60.0 + 2 * R),
        ([("contact", 0.0), ("fail", 0.0), ("fail", 0.0), ("fail", 0.0)], 4 * R),
        # Doubling stops at the refresh interval: 60 s x 2**9 > 6 h.
        ([("contact", 0.0)] + [("fail", 0.0)] * 10, H),
        # Success or a new contact forgets the failures.
        ([("contact", 0.0), ("fail", 0.0), ("fail", 0.0), ("ok", 0.0), ("fail", 9.0)], 9.0 + R),
        ([("contact", 0.0), ("fail", 0.0), ("fail", 0.0), ("contact", 5.0)], 5.0),
        ([("contact", 0.0), ("fail", 0.0), ("contact", 5.0), ("fail", 5.0)], 5.0 + R),
    ],
    ids=[
        "never",
        "contact",
        "success",
        "one-failure",
        "two-failures",
        "three-failures",
        "capped",
        "success-resets",
        "contact-resets",
        "contact-then-failure",
    ],
)
def test_identity_back_off(events: list[tuple[str, float]], due_at: float | None) -> None:
    timer = _IdentityTimer()
    for event, now in events:
        if event == "contact":
            timer.contact(now)
        else:
            timer.done(now, ok=event == "ok")
    assert timer.due_at == due_at
    if due_at is not None:
        assert not timer.is_due(due_at - 0.001)
        assert timer.is_due(due_at)


# --- blind mode ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("silent_s", "asked", "limit_writes", "fail_safe"),
    [
        # A few missed answers: the last values are fresh for the stale time (5 s), the
        # charger is read every cycle and nothing changes.
        (3, 3, 0, False),
        (5, 5, 0, False),
        # Stale: the fail-safe current once (a write, no read), then nothing at all
        # reaches the charger, so that its own watchdog can act.
        (6, 6, 1, True),
        (30, 6, 1, True),
    ],
    ids=["3s", "5s", "6s", "30s"],
)
async def test_blind_mode(silent_s: int, asked: int, limit_writes: int, fail_safe: bool) -> None:
    grid, garage, carport = meter(20.0), charging(2, 16.0), charging(3, 0.0)
    site: Site = two_chargers(grid, garage, carport)
    for second in range(100, 115):  # armed and settled at 12 A, the car following
        await site.cycle(float(second), full=second == 100)
        set_draw(garage, limit_a(garage))
    assert limit_a(garage) == 12.0
    writes = len(garage.written(LIMIT))
    grid.silent = True
    asked_while_silent = 0
    for second in range(115, 115 + silent_s):
        before = len(garage.reads) + len(garage.writes)
        result = await site.cycle(float(second))
        asked_while_silent += len(garage.reads) + len(garage.writes) > before
    assert asked_while_silent == asked
    assert len(garage.written(LIMIT)) - writes == limit_writes
    assert result.decision.fail_safe is fail_safe
    assert limit_a(garage) == (6.0 if fail_safe else 12.0)  # 6 A: the fail-safe current
    # The meter answers again: the charger is read in the very next cycle.
    grid.silent = False
    before = len(garage.reads)
    result = await site.cycle(115.0 + silent_s)
    assert len(garage.reads) > before
    assert not result.decision.fail_safe
