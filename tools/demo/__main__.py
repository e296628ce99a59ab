"""
`python -m tools.demo onboard URL PTY` and `python -m tools.demo wait URL PID TIMEOUT_S`.

What `scripts/develop` runs: see `main_onboard` and `main_wait`.
"""

from __future__ import annotations

import sys

from .harness import main_onboard, main_wait

USAGE = "usage: python -m tools.demo onboard URL PTY | wait URL PID TIMEOUT_S"
COMMANDS = {"onboard": (main_onboard, 2), "wait": (main_wait, 3)}

if __name__ == "__main__":
    command = COMMANDS.get(sys.argv[1] if len(sys.argv) > 1 else "")
    if command is None or len(sys.argv) != command[1] + 2:
        print(USAGE, file=sys.stderr)
        sys.exit(2)
    sys.exit(command[0](sys.argv[2:]))
