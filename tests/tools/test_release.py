"""The release check: a tag is released only as manifest.json's version, with its notes."""

from __future__ import annotations

import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

from tools import release
from tools.release import ReleaseError, check_tag, manifest_version, release_notes

if TYPE_CHECKING:
    from pathlib import Path

CHANGELOG = """\
# Changelog

## [Unreleased]

- Something merged after 0.2.0.

## [0.2.0] - 2027-01-10

### Added
- A dashboard.

## [0.1.0] - 2026-12-01

- First release.
"""


def test_the_manifest_version_is_released_with_its_section_only() -> None:
    notes = check_tag("0.2.0", version="0.2.0", changelog=CHANGELOG)
    assert notes == "### Added\n- A dashboard."
    assert release_notes(CHANGELOG, "0.1.0") == "- First release."


@pytest.mark.parametrize("tag", ["v0.2.0", "0.2.1", "0.2", "0.2.0 "])
def test_a_tag_other_than_the_manifest_version_is_refused(tag: str) -> None:
    with pytest.raises(ReleaseError, match=r"is not manifest\.json's version '0\.2\.0'"):
        check_tag(tag, version="0.2.0", changelog=CHANGELOG)


@pytest.mark.parametrize("version", ["1.0", "2026.12", "1.0.0-dev", "1.0.0.post1"])
def test_a_version_that_is_not_major_minor_patch_is_refused(version: str) -> None:
    changelog = f"## [{version}]\n\n- notes\n"
    with pytest.raises(ReleaseError, match="is not a release version"):
        check_tag(version, version=version, changelog=changelog)


def test_a_beta_is_a_release_version() -> None:
    assert check_tag("0.3.0b1", version="0.3.0b1", changelog="## [0.3.0b1]\n\n- try\n")


def test_a_version_without_notes_is_refused() -> None:
    with pytest.raises(ReleaseError, match=r"no section '## \[0\.3\.0\]'"):
        check_tag("0.3.0", version="0.3.0", changelog=CHANGELOG)
    with pytest.raises(ReleaseError, match="section for Unreleased is empty"):
        release_notes("## [Unreleased]\n\n## [0.1.0]\n- x\n", "Unreleased")


def test_the_repository_can_release_its_manifest_version() -> None:
    # What the release workflow runs when the manifest's version is tagged.
    version = manifest_version()
    assert check_tag(version, version=version, changelog=release.CHANGELOG.read_text())


def test_cli_refuses_with_the_reason_and_writes_the_notes(tmp_path: Path) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(  # noqa: S603 (our own module)
            [sys.executable, "-m", "tools.release", *args],
            capture_output=True,
            text=True,
            check=False,
            cwd=release.ROOT,
        )

    refused = run("v999.0.0")
    assert refused.returncode == 1
    assert "release refused: the tag 'v999.0.0' is not manifest.json's version" in refused.stderr
    notes = tmp_path / "notes.md"
    accepted = run(manifest_version(), "--notes", str(notes))
    assert accepted.returncode == 0, accepted.stderr
    assert (
        notes.read_text() == release_notes(release.CHANGELOG.read_text(), manifest_version()) + "\n"
    )
