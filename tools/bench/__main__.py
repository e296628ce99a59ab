"""Entry point: `python -m tools.bench SCENARIO.yaml [--json] [--plot FILE.png]`."""

import sys
import types
from pathlib import Path

import custom_components


def _bare_integration_package() -> None:
    """
    Let the pure-Python engine load without the integration's `__init__`.

    That `__init__` imports Home Assistant (several seconds of the benchmark's start-up);
    the engine imports nothing outside its own package (DESIGN section 3), so an empty
    package object is all it needs, and an engine that broke that rule would fail here.
    """
    if "custom_components.headroom" not in sys.modules:
        package = types.ModuleType("custom_components.headroom")
        package.__path__ = [str(Path(next(iter(custom_components.__path__))) / "headroom")]
        sys.modules[package.__name__] = package


_bare_integration_package()

from tools.bench.cli import main  # noqa: E402  (after the package is in place)

raise SystemExit(main())
