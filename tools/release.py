"""
`python -m tools.release TAG [--notes FILE]`: checks whether TAG may be released.

The release workflow (.github/workflows/release.yml) runs it on every pushed tag, before
anything is published. A tag is released only when it is exactly `manifest.json`'s
`version` (HACS offers the tag, Home Assistant shows the manifest's version: they must be
one), the version has the form Home Assistant's loader and HACS both order correctly
(`1.2.3`, or `1.2.3b1` for a beta), and CHANGELOG.md has a section for it; that section
becomes the release notes (written to FILE). Exit status 0 when it may be released, 1 with
the reason on stderr when not. Standard library only: it runs before any install.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Final

ROOT: Final = Path(__file__).resolve().parents[1]
MANIFEST: Final = ROOT / "custom_components" / "headroom" / "manifest.json"
CHANGELOG: Final = ROOT / "CHANGELOG.md"
VERSION: Final = re.compile(r"\d+\.\d+\.\d+(?:(?:a|b|rc)\d+)?")
"""A release version: major.minor.patch, optionally an alpha, beta or release candidate."""
HEADING: Final = re.compile(r"^## \[(?P<version>[^\]]+)\]", re.MULTILINE)


class ReleaseError(ValueError):
    """The tag may not be released; the message says why."""


def manifest_version(manifest: Path = MANIFEST) -> str:
    """Return the integration's version from its manifest."""
    return str(json.loads(manifest.read_text())["version"])


def release_notes(changelog: str, version: str) -> str:
    """Return the CHANGELOG section of `version` (without its heading)."""
    headings = list(HEADING.finditer(changelog))
    for index, heading in enumerate(headings):
        if heading["version"] == version:
            end = headings[index + 1].start() if index + 1 < len(headings) else len(changelog)
            notes = changelog[changelog.index("\n", heading.end()) + 1 : end].strip()
            if not notes:
                msg = f"CHANGELOG.md's section for {version} is empty"
                raise ReleaseError(msg)
            return notes
    msg = f"CHANGELOG.md has no section '## [{version}]'"
    raise ReleaseError(msg)


def check_tag(tag: str, *, version: str, changelog: str) -> str:
    """Return the release notes for `tag`; raise ReleaseError when it may not be released."""
    if tag != version:
        msg = (
            f"the tag {tag!r} is not manifest.json's version {version!r}: tag the commit"
            f" {version!r}, or set the manifest's version to {tag!r} first"
        )
        raise ReleaseError(msg)
    if not VERSION.fullmatch(version):
        msg = f"{version!r} is not a release version (1.2.3, or 1.2.3b1 for a beta)"
        raise ReleaseError(msg)
    return release_notes(changelog, version)


def main(argv: list[str] | None = None) -> int:
    """Check the tag; write the release notes to --notes; say why on stderr if refused."""
    parser = argparse.ArgumentParser(prog="python -m tools.release", description=__doc__)
    parser.add_argument("tag", help="the pushed tag (GITHUB_REF_NAME)")
    parser.add_argument("--notes", type=Path, help="write the release notes here")
    args = parser.parse_args(argv)
    try:
        notes = check_tag(args.tag, version=manifest_version(), changelog=CHANGELOG.read_text())
    except ReleaseError as err:
        sys.stderr.write(f"release refused: {err}\n")
        return 1
    if args.notes is not None:
        args.notes.write_text(f"{notes}\n")
    sys.stdout.write(f"{args.tag} may be released\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
