"""
A scan's bus for tests on the simulator: the real `Bus`, with shorter waits for an answer.

A scan waits out its probe timeout at every id nobody answers on (0.3 s over Modbus TCP,
about 0.12 s plus a late-answer guard on a 9600 baud line). Those timeouts are for real
lines; the simulator without wire time answers within milliseconds, so a test that scans
it can wait less at each silent id without changing what the scan finds. Passed to
`scripts/scan` through its `bus_factory` parameter; the transport stays real.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from custom_components.headroom.devices.discovery import default_bus_factory

if TYPE_CHECKING:
    from custom_components.headroom.devices.bus import BusSettings
    from custom_components.headroom.devices.transport import RegisterTransport

QUICK_TIMEOUT_S: Final = 0.05
"""The longest a test's scan waits for one answer from the simulator."""


class QuickProbeBus:
    """The real `Bus` a scan opens (`default_bus_factory`), every wait capped."""

    def __init__(self, settings: BusSettings) -> None:
        self._bus = default_bus_factory(settings)

    async def connect(self) -> None:
        await self._bus.connect()

    async def close(self) -> None:
        await self._bus.close()

    def device(
        self,
        device_id: int,
        *,
        pacing_s: float = 0.0,
        timeout_s: float | None = None,
        retries: int | None = None,
    ) -> RegisterTransport:
        capped_s = QUICK_TIMEOUT_S if timeout_s is None else min(timeout_s, QUICK_TIMEOUT_S)
        return self._bus.device(device_id, pacing_s=pacing_s, timeout_s=capped_s, retries=retries)
