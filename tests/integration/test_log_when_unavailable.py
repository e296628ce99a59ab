"""
`log-when-unavailable` (quality scale): a device that goes away is logged once, and once back.

The real site on the simulator's pty: a meter silent for many cycles, and the RS-485
adapter unplugged and plugged in again. Each is one warning when it starts and one info
line when it ends, however many cycles it lasts, and only the message that fits.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Iterator
from unittest.mock import patch

import pytest
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant

from custom_components.headroom.coordinator import HeadroomCoordinator
from custom_components.headroom.devices.bus import Bus
from tests.integration.helpers import METER_ID, setup_site, site_entry, step
from tools.simulator import Simulator

LOGGER = "custom_components.headroom"
METER_GONE = "Home: the meter stopped answering"
METER_BACK = "Home: the meter answers again"
PORT_GONE = "Home: the port or gateway stopped working"
PORT_BACK = "Home: the port or gateway works again"
SILENT_CYCLES = 15
"""Five times the meter's stale time (3 s), one cycle a second."""
METER_CURRENT = "sensor.home_meter_current_l1"
QUICK_TIMEOUT_S = 0.2
"""How long the site's buses wait for an answer in `quick_timeouts` (the product: 0.5 s)."""


@pytest.fixture
def quick_timeouts() -> Iterator[None]:
    """
    Build the site's buses with a shorter wait for an answer (Bus's `timeout_s`).

    A silent meter costs each cycle its timeouts and retry in real seconds; what is logged,
    and how often, does not depend on how long each wait is. The simulator answers the
    other devices within milliseconds.
    """
    quick_bus = functools.partial(Bus, timeout_s=QUICK_TIMEOUT_S)
    with patch("custom_components.headroom.site_build.Bus", quick_bus):
        yield


def logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The integration's log lines (INFO and up) since the last clear, in order."""
    return [
        record.getMessage()
        for record in caplog.records
        if record.name.startswith(LOGGER) and record.levelno >= logging.INFO
    ]


def lines_starting(caplog: pytest.LogCaptureFixture, text: str) -> list[str]:
    """The log lines that start with `text`."""
    return [line for line in logged(caplog) if line.startswith(text)]


async def running_site(
    hass: HomeAssistant, simulator: Simulator, caplog: pytest.LogCaptureFixture
) -> HeadroomCoordinator:
    """The site on the simulator, a few cycles in; the log captured from here on."""
    caplog.set_level(logging.INFO, logger=LOGGER)
    coordinator = await setup_site(hass, site_entry(simulator.endpoints().pty or ""))
    await step(coordinator, cycles=3)
    assert hass.states.get(METER_CURRENT).state != STATE_UNAVAILABLE
    caplog.clear()
    return coordinator


def assert_once_each(caplog: pytest.LogCaptureFixture, gone: str, back: str | None) -> None:
    """`gone` was logged once; `back` once after it (None: not yet)."""
    messages = logged(caplog)
    gone_lines = lines_starting(caplog, gone)
    assert len(gone_lines) == 1, gone_lines
    back_lines = lines_starting(caplog, back) if back is not None else []
    assert len(back_lines) == (back is not None), back_lines
    if back is not None:
        assert messages.index(gone_lines[0]) < messages.index(back_lines[0])


@pytest.mark.usefixtures("quick_timeouts")
async def test_a_silent_meter_is_logged_once_and_its_return_once(
    hass: HomeAssistant, simulator: Simulator, caplog: pytest.LogCaptureFixture
) -> None:
    coordinator = await running_site(hass, simulator, caplog)

    simulator.devices[METER_ID].faults.silent = True
    await step(coordinator, cycles=SILENT_CYCLES)
    assert hass.states.get(METER_CURRENT).state == STATE_UNAVAILABLE
    assert_once_each(caplog, METER_GONE, None)
    assert lines_starting(caplog, METER_BACK) == []

    simulator.devices[METER_ID].faults.silent = False
    await step(coordinator, cycles=SILENT_CYCLES)
    assert hass.states.get(METER_CURRENT).state != STATE_UNAVAILABLE
    assert_once_each(caplog, METER_GONE, METER_BACK)
    # The chargers kept answering and the port worked: nothing else went or came back.
    others = (PORT_GONE, PORT_BACK, "Home: charger")
    assert [line for line in logged(caplog) if line.startswith(others)] == []


async def test_an_unplugged_adapter_is_logged_once_and_its_return_once(
    hass: HomeAssistant, simulator: Simulator, caplog: pytest.LogCaptureFixture
) -> None:
    coordinator = await running_site(hass, simulator, caplog)

    await simulator.close()  # the adapter unplugged: the pty is gone
    await step(coordinator, cycles=SILENT_CYCLES)
    assert hass.states.get(METER_CURRENT).state == STATE_UNAVAILABLE
    assert_once_each(caplog, PORT_GONE, None)
    assert "is the adapter plugged in?" in lines_starting(caplog, PORT_GONE)[0]
    assert lines_starting(caplog, PORT_BACK) == []

    await simulator.start()  # plugged in again, at the same path
    # The bus reconnects no sooner than its backoff (real seconds) allows.
    deadline = time.monotonic() + 30
    while not lines_starting(caplog, PORT_BACK) and time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        await step(coordinator)
    await step(coordinator, cycles=SILENT_CYCLES)
    assert hass.states.get(METER_CURRENT).state != STATE_UNAVAILABLE
    # Every device on the port went with it and came back with it: once each as well.
    for gone, back in (
        (PORT_GONE, PORT_BACK),
        (METER_GONE, METER_BACK),
        ("Home: charger Garage stopped answering", "Home: charger Garage answers again"),
        ("Home: charger Carport stopped answering", "Home: charger Carport answers again"),
    ):
        assert_once_each(caplog, gone, back)
