"""Shared fixtures.

The repository's `custom_components` must be imported before the Home Assistant test
harness puts its own (empty) `custom_components` package first on sys.path.
"""

from __future__ import annotations

from custom_components.headroom.const import DOMAIN  # noqa: F401  (import order matters)

pytest_plugins = "pytest_homeassistant_custom_component"
