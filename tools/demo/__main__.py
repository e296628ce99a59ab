"""`python -m tools.demo onboard URL PTY`: what `scripts/develop --onboard` runs."""

from __future__ import annotations

import sys

from .harness import main_onboard

USAGE = "usage: python -m tools.demo onboard URL PTY"
ARGS = 3

if __name__ == "__main__":
    if len(sys.argv) != ARGS + 1 or sys.argv[1] != "onboard":
        print(USAGE, file=sys.stderr)
        sys.exit(2)
    sys.exit(main_onboard(sys.argv[2:]))
