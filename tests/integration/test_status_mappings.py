"""
The status words Headroom knows for chargers behind other integrations, checked against
those integrations as Home Assistant ships them (the version the tests run on).

A word Headroom does not know counts as charging and is logged once: safe, but a car that
waits or a charger in fault would hold room it does not use. So every state a shipped
integration publishes for its status sensor must be in the mapping offered for it.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import homeassistant.components
import pytest

from custom_components.headroom.entity_config import (
    STATUS_MAPPING_BY_PLATFORM,
    STATUS_MAPPINGS,
    StatusCategory,
    normalize_state,
)

COMPONENTS = Path(homeassistant.components.__path__[0])


def entity_strings(component: str) -> dict[str, Any]:
    """An integration's entity texts by platform and translation key, as it ships."""
    strings: dict[str, Any] = json.loads((COMPONENTS / component / "strings.json").read_text())
    return strings["entity"]


def published_states(component: str, sensor: str) -> set[str]:
    """The states an integration's enum sensor publishes (the keys it translates)."""
    return set(entity_strings(component)["sensor"][sensor]["state"])


@pytest.mark.parametrize(
    ("mapping", "component", "sensor"),
    [
        ("openevse", "openevse", "status"),
        ("peblar", "peblar", "cp_state"),
        ("nrgkick", "nrgkick", "status"),
        ("lektrico", "lektrico", "state"),
        ("technove", "technove", "status"),
        ("silla_prism", "silla_prism", "status"),
        ("besen", "besen", "current_state"),
        ("tesla", "teslemetry", "charge_state_charging_state"),
        ("tesla", "tesla_fleet", "charge_state_charging_state"),
        ("tesla", "tessie", "charge_state_charging_state"),
    ],
)
def test_every_published_state_is_mapped(mapping: str, component: str, sensor: str) -> None:
    states = published_states(component, sensor)
    assert states  # the sensor and its states are where this test looks
    assert states <= set(STATUS_MAPPINGS[mapping])
    categories = {STATUS_MAPPINGS[mapping][state] for state in states}
    assert {StatusCategory.IDLE, StatusCategory.CHARGING} <= categories


def test_every_wallbox_status_is_mapped() -> None:
    # Wallbox's sensor shows the status description itself ("Locked, car connected"). Its
    # constants are read alone: the package needs the vendor's library, not installed here.
    spec = importlib.util.spec_from_file_location("wallbox_const", COMPONENTS / "wallbox/const.py")
    assert spec is not None
    assert spec.loader is not None
    const = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(const)
    words = {normalize_state(status) for status in const.ChargerStatus} - {"unknown"}
    assert len(words) > 10
    assert words <= set(STATUS_MAPPINGS["wallbox"])


def test_every_mapping_is_offered_with_a_label() -> None:
    root = Path(__file__).parents[2] / "custom_components" / "headroom"
    strings = json.loads((root / "strings.json").read_text())
    options = strings["selector"]["status_mapping"]["options"]
    assert set(STATUS_MAPPINGS) <= set(options)


def test_every_platform_brings_a_mapping_that_exists() -> None:
    assert set(STATUS_MAPPING_BY_PLATFORM.values()) <= set(STATUS_MAPPINGS)
    for platform in STATUS_MAPPING_BY_PLATFORM:
        assert (COMPONENTS / platform).is_dir() or platform in {"ocpp", "easee", "zaptec"}
