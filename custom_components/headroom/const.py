"""Constants shared by the Home Assistant layer."""

from __future__ import annotations

import logging
from typing import Final

DOMAIN: Final = "headroom"
LOGGER: Final = logging.getLogger(__package__)
