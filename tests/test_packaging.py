"""What HACS, hassfest and Home Assistant's loader require of the repository."""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path

import pytest
from awesomeversion import AwesomeVersion, AwesomeVersionStrategy
from packaging.requirements import Requirement

ROOT = Path(__file__).parent.parent
PACKAGE = ROOT / "custom_components" / "headroom"
MANIFEST = json.loads((PACKAGE / "manifest.json").read_text())
HACS = json.loads((ROOT / "hacs.json").read_text())


def home_assistant_pins() -> dict[str, str]:
    """Package pins of the installed Home Assistant (package_constraints.txt)."""
    text = resources.files("homeassistant").joinpath("package_constraints.txt").read_text()
    pins = {}
    for line in text.splitlines():
        if match := re.fullmatch(r"([A-Za-z0-9_.\-]+)==([^\s;]+)", line.strip()):
            pins[match[1].lower()] = match[2]
    return pins


def test_manifest_keys_sorted_as_hassfest_wants() -> None:
    keys = list(MANIFEST)
    assert keys[:2] == ["domain", "name"]
    assert keys[2:] == sorted(keys[2:])


@pytest.mark.parametrize(
    "key",
    ["domain", "name", "version", "codeowners", "documentation", "issue_tracker", "config_flow"],
)
def test_manifest_has_required_key(key: str) -> None:
    assert MANIFEST.get(key)


def test_manifest_declares_a_local_polling_hub() -> None:
    assert MANIFEST["domain"] == "headroom"
    assert MANIFEST["iot_class"] == "local_polling"
    assert MANIFEST["integration_type"] == "hub"
    # "dependencies": ["usb"] breaks setup under the test harness; after_dependencies is enough
    # for USB discovery and the USB panel's port attribution.
    assert MANIFEST["after_dependencies"] == ["usb"]
    assert "dependencies" not in MANIFEST
    assert "quality_scale" not in MANIFEST  # the loader reports "custom" anyway


def test_manifest_version_loads() -> None:
    version = AwesomeVersion(MANIFEST["version"])
    assert version.strategy is not AwesomeVersionStrategy.UNKNOWN


def test_manifest_urls_are_https_and_not_core_docs() -> None:
    assert MANIFEST["documentation"].startswith("https://")
    assert not MANIFEST["documentation"].startswith("https://www.home-assistant.io/integrations")
    assert MANIFEST["issue_tracker"].startswith("https://")


def test_requirements_satisfied_by_home_assistant_pins() -> None:
    """Home Assistant installs requirements under its constraints: ours must accept its pins."""
    pins = home_assistant_pins()
    assert pins["pymodbus"] == "3.13.1"
    names = set()
    for line in MANIFEST["requirements"]:
        requirement = Requirement(line)
        names.add(requirement.name.lower())
        if requirement.name.lower() in pins:
            assert requirement.specifier.contains(pins[requirement.name.lower()]), line
    assert {"pymodbus", "pyserial"} <= names


def test_installed_pymodbus_is_the_pinned_one() -> None:
    from importlib.metadata import version  # noqa: PLC0415

    assert version("pymodbus") == home_assistant_pins()["pymodbus"]


def test_hacs_json() -> None:
    assert set(HACS) <= {
        "name",
        "content_in_root",
        "country",
        "filename",
        "hacs",
        "hide_default_branch",
        "homeassistant",
        "persistent_directory",
        "render_readme",
        "zip_release",
    }
    assert HACS["name"] == MANIFEST["name"]
    assert AwesomeVersion(HACS["homeassistant"]) == AwesomeVersion("2026.10.0")


def test_brand_icon_present() -> None:
    icon = PACKAGE / "brand" / "icon.png"
    assert icon.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_translations_match_strings() -> None:
    strings = json.loads((PACKAGE / "strings.json").read_text())
    english = json.loads((PACKAGE / "translations" / "en.json").read_text())
    assert english == strings


def _leaves(tree: object, path: tuple[str, ...] = ()) -> dict[tuple[str, ...], str]:
    if isinstance(tree, dict):
        return {k: v for key, sub in tree.items() for k, v in _leaves(sub, (*path, key)).items()}
    return {path: str(tree)}


@pytest.mark.parametrize("language", ["de", "nl"])
def test_every_string_is_translated_with_its_placeholders(language: str) -> None:
    # A German or Dutch homeowner sees every form, error and repair in their language
    # (Home Assistant would fall back to English for a missing one, silently).
    english = _leaves(json.loads((PACKAGE / "strings.json").read_text()))
    translated = _leaves(json.loads((PACKAGE / "translations" / f"{language}.json").read_text()))
    assert set(translated) == set(english)
    for path, text in english.items():
        wanted = sorted(re.findall(r"\{\w+\}", text))
        assert sorted(re.findall(r"\{\w+\}", translated[path])) == wanted, path
