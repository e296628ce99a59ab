"""
The balancing engine: pure Python, no I/O, no clock reads, no Home Assistant.

`Balancer(settings).step(snapshot) -> Decision` once per meter cycle; the model module
holds the inputs and outputs. `suggest_fail_safe_a` proposes the installer's fail-safe
current.
"""

from .controller import Balancer
from .fail_safe import suggest_fail_safe_a

__all__ = ["Balancer", "suggest_fail_safe_a"]
