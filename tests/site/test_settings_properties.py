"""Whatever the flows, the entities or a storage file hand the site: refused, or safe."""

from __future__ import annotations

import math
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from custom_components.headroom.const import CONF_FAIL_SAFE
from custom_components.headroom.engine import Balancer
from custom_components.headroom.engine.fail_safe import fail_safe_currents_a, fail_safe_fits
from custom_components.headroom.engine_settings import ChargerConfig, hold_settings
from custom_components.headroom.rules import CHARGER_NUMBERS, SITE_NUMBERS, ProblemKey, number
from custom_components.headroom.validation import fail_safe_problem, validate
from tests.engine.test_balancer_properties import assert_valid_commands, phase_load, snapshots

EPS = 1e-9
GARBAGE = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["nan", "NaN", "inf", "-inf", "1e309", "", "12 A", None, True]),
    st.integers(-(10**6), 10**6),
)


def numbers(minimum: float, maximum: float) -> st.SearchStrategy[Any]:
    """Mostly sensible values of a setting, sometimes anything at all."""
    sensible = st.floats(minimum, maximum, allow_nan=False) | st.integers(
        math.ceil(minimum), math.floor(maximum)
    )
    return st.one_of(sensible, sensible, sensible, GARBAGE)


@st.composite
def stored_sites(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any], list[ChargerConfig]]:
    options: dict[str, Any] = {
        "supply": draw(st.sampled_from(["three_phase", "single_phase", "split_phase", "x", None]))
    }
    for rule in SITE_NUMBERS:
        if draw(st.integers(0, 3)):  # absent now and then: its default, if it has one
            options[rule.key] = draw(numbers(rule.minimum, min(rule.maximum, 100.0)))
    chargers = []
    for index in range(draw(st.integers(0, 3))):
        data: dict[str, Any] = {
            "phases": draw(
                st.sampled_from([[1], [2], [3], [1, 2], [1, 2, 3], [4], [], "1", ["L1"], [None]])
            ),
            "shared_circuit": draw(st.booleans()),
            "paused": draw(st.booleans()),
            "model": draw(st.sampled_from(["heidelberg_energy_control", "evse_wb_din", "x"])),
        }
        for rule in CHARGER_NUMBERS:
            if rule.default is None or draw(st.booleans()):
                data[rule.key] = draw(numbers(rule.minimum, rule.maximum))
        chargers.append(ChargerConfig(charger_id=f"c{index}", data=data))
    data = {"meter_device_id": 1} if draw(st.booleans()) else {}
    return data, options, chargers


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(stored=stored_sites(), run=st.data())
def test_any_stored_settings_are_refused_or_keep_the_breaker(stored, run):
    data, options, chargers = stored
    problems, site = validate(data, options, chargers)
    if site is None:
        assert problems
        # Refused: the site holds every charger at 0 A meanwhile.
        held = hold_settings(data, options, chargers)
        balancer = Balancer(held)
        decision = balancer.step(run.draw(snapshots(held, 0.0, stale=False)))
        assert all(command.current_a == 0.0 for command in decision.commands)
        assert all(current_a == 0.0 for current_a in fail_safe_currents_a(held).values())
        return
    assert not problems
    # Accepted: every number is one, the breaker leaves a car its 6 A, and every charger at
    # its fail-safe current at once (Home Assistant gone) fits the breaker.
    for value in (site.breaker_a, site.margin_a, site.fail_safe_a, site.voltage_v):
        assert number(value) is not None
    assert site.breaker_a - site.margin_a >= 6.0
    assert fail_safe_fits(site)
    balancer = Balancer(site)
    limit_a = site.breaker_a - site.margin_a
    for now in range(run.draw(st.integers(1, 8))):
        stale = run.draw(st.booleans()) and site.has_meter
        decision = balancer.step(run.draw(snapshots(site, float(now), stale=stale)))
        assert_valid_commands(site, decision)
        for index, phase in enumerate(site.supply.phases):
            load_a = phase_load(site, decision, phase)
            if decision.fail_safe:
                assert load_a <= limit_a + EPS
            elif site.has_meter:
                assert load_a == 0.0 or decision.house_a[index] + load_a <= limit_a + EPS
            else:
                assert load_a <= limit_a + EPS


@st.composite
def workable_sites(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any], list[ChargerConfig]]:
    """Sites an installer sets up: sensible numbers, a fail-safe that may not fit."""
    supply = draw(st.sampled_from(["three_phase", "single_phase", "split_phase"]))
    phases = {"three_phase": [1, 2, 3], "single_phase": [1], "split_phase": [1, 2]}[supply]
    breaker_a = float(draw(st.integers(10, 63)))
    options: dict[str, Any] = {
        "supply": supply,
        "voltage_v": 230.0,
        "breaker_a": breaker_a,
        "margin_a": float(draw(st.integers(0, 4))),
        "fail_safe_a": float(draw(st.sampled_from([0, *range(6, 33)]))),
        "circuit_a": float(draw(st.sampled_from([0, 16, 20, 25, 32]))),
        "meter_stale_after_s": 3.0,
    }
    chargers = [
        ChargerConfig(
            charger_id=f"c{index}",
            data={
                "phases": draw(st.lists(st.sampled_from(phases), min_size=1, unique=True)),
                "max_a": draw(st.integers(6, int(min(breaker_a, 32.0)))),
                "shared_circuit": draw(st.booleans()),
                "priority": 1,
                "paused": False,
            },
        )
        for index in range(draw(st.integers(0, 4)))
    ]
    return {"meter_device_id": 1}, options, chargers


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(stored=st.one_of(stored_sites(), workable_sites()))
def test_a_charger_form_names_a_fail_safe_that_fits(stored):
    # What a charger form tells the installer (its fail-safe check never raises, whatever is
    # stored): the site as it would be cannot hold its fail-safe, and the maximum it names
    # makes the same site work.
    data, options, chargers = stored
    problem = fail_safe_problem(data, options, chargers)
    problems, site = validate(data, options, chargers)
    if problem is None:
        assert all(p.key is not ProblemKey.FAIL_SAFE_TOO_HIGH for p in problems)
        return
    assert site is None
    assert problems == [problem]
    maximum_a = float(problem.placeholders["maximum"])
    _, lowered = validate(data, {**options, CONF_FAIL_SAFE: maximum_a}, chargers)
    assert lowered is not None
    assert fail_safe_fits(lowered)
