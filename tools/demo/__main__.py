"""
`python -m tools.demo onboard URL PTY | wait URL PID TIMEOUT_S | screenshot URL PNG`.

What `scripts/develop` runs (`main_onboard`, `main_wait`), and the README's dashboard
picture (`tools.demo.screenshot.main_screenshot`).
"""

from __future__ import annotations

import sys

from .harness import main_onboard, main_wait
from .screenshot import main_screenshot

USAGE = "usage: python -m tools.demo onboard URL PTY | wait URL PID TIMEOUT_S | screenshot URL PNG"
COMMANDS = {
    "onboard": (main_onboard, 2),
    "wait": (main_wait, 3),
    "screenshot": (main_screenshot, 2),
}

if __name__ == "__main__":
    command = COMMANDS.get(sys.argv[1] if len(sys.argv) > 1 else "")
    if command is None or len(sys.argv) != command[1] + 2:
        print(USAGE, file=sys.stderr)
        sys.exit(2)
    sys.exit(command[0](sys.argv[2:]))
