"""Thermal derating: the gate's steps, and the balancer's reason `temperature`."""

from __future__ import annotations

import pytest

from custom_components.headroom.engine import Balancer
from custom_components.headroom.engine.model import ChargerReading, ChargerState, Constraint
from custom_components.headroom.engine.thermal import ThermalGate, ThermalLimits
from tests.engine.engine_support import charger, currents, site, snapshot

LIMITS = ThermalLimits(derate_c=70.0, stop_c=80.0, hysteresis_c=10.0, step_a=2.0, step_s=60.0)


def feed(gate: ThermalGate, temperature_c: float | None, now: float, drawn_a: float = 16.0):
    return gate.update(
        temperature_c=temperature_c, limits=LIMITS, drawn_a=drawn_a, min_a=6.0, max_a=16.0, now=now
    )


@pytest.mark.parametrize(
    ("temperatures", "expected"),
    [
        pytest.param([(0, 50.0)], None, id="cool: no cap"),
        pytest.param([(0, 72.0)], 14.0, id="hot: one step below the draw"),
        pytest.param([(0, 72.0), (30, 73.0)], 14.0, id="a step per minute, not per reading"),
        pytest.param([(0, 72.0), (60, 73.0), (120, 74.0)], 10.0, id="still hot: step by step"),
        pytest.param(
            [(0, 72.0), (60, 75.0), (120, 75.0), (180, 75.0), (240, 75.0)],
            6.0,
            id="never below the minimum while derating",
        ),
        pytest.param([(0, 72.0), (60, 65.0)], 14.0, id="within the hysteresis: held"),
        pytest.param(
            [(0, 72.0), (60, 73.0), (120, 59.0)], 14.0, id="cooled: back up one step a minute"
        ),
        pytest.param([(0, 72.0), (60, 59.0)], None, id="cooled: back up a step, gone at max"),
        pytest.param([(0, 81.0)], 0.0, id="too hot: paused"),
        pytest.param([(0, 81.0), (60, 75.0)], 0.0, id="paused until it cools by the hysteresis"),
        pytest.param([(0, 81.0), (60, 70.0)], 6.0, id="cooled: resumes at its minimum"),
        pytest.param([(0, 81.0), (60, None)], 0.0, id="no reading: the pause holds"),
    ],
)
def test_gate_steps(temperatures, expected):
    gate = ThermalGate()
    result = None
    for now, temperature_c in temperatures:
        result = feed(gate, temperature_c, float(now))
    assert result == expected


def hot_reading(temperature_c: float, draw_a: float) -> ChargerReading:
    return ChargerReading(
        charger_id="a",
        state=ChargerState.C,
        currents_a=(draw_a,),
        setpoint_a=16.0,
        temperature_c=temperature_c,
    )


def test_a_hot_charger_is_derated_then_paused_for_the_temperature_reason():
    balancer = Balancer(site(charger("a", thermal=LIMITS)))
    decision = balancer.step(snapshot(0.0, (18.0,), hot_reading(60.0, 16.0)))
    assert currents(decision) == {"a": 16.0}
    decision = balancer.step(snapshot(1.0, (18.0,), hot_reading(71.0, 16.0)))
    assert currents(decision) == {"a": 14.0}
    assert decision.commands[0].reason == Constraint.TEMPERATURE
    assert decision.binding == Constraint.TEMPERATURE
    decision = balancer.step(snapshot(2.0, (16.0,), hot_reading(85.0, 14.0)))
    assert currents(decision) == {"a": 0.0}
    assert decision.commands[0].reason == Constraint.TEMPERATURE


def test_without_limits_the_temperature_is_only_shown():
    balancer = Balancer(site(charger("a")))
    decision = balancer.step(snapshot(0.0, (18.0,), hot_reading(95.0, 16.0)))
    assert currents(decision) == {"a": 16.0}


def test_thermal_limits_that_cannot_work_are_refused():
    bad = ThermalLimits(derate_c=80.0, stop_c=70.0)
    with pytest.raises(ValueError, match="thermal"):
        Balancer(site(charger("a", thermal=bad)))
