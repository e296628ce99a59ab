"""
The first steps of the setup flow: which port or gateway, and the bus scan behind it.

`ScanSteps` asks for the connection (or takes a USB adapter that was discovered), scans
the bus with progress and keeps what it found in the flow's `SetupDraft`; the setup flow
(`config_flow.HeadroomConfigFlow`) goes on from there with the meter, site and chargers.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import probatio
from homeassistant.components.usb import usb_unique_id_from_service_info
from homeassistant.config_entries import (
    ConfigEntry,
    ConfigFlow,
    ConfigFlowResult,
    ConfigSubentryData,
)
from homeassistant.const import CONF_DEVICE, CONF_HOST, CONF_NAME, CONF_PORT
from homeassistant.core import callback
from homeassistant.helpers.selector import (
    BooleanSelector,
    SerialPortSelector,
    TextSelector,
)

from .const import (
    CONF_BAUDRATE,
    CONF_CONNECTION,
    CONF_USB_ID,
    CONNECTION_ENTITIES,
    CONNECTION_RTU_OVER_TCP,
    CONNECTION_SERIAL,
    CONNECTION_TYPES,
    DEFAULT_BAUDRATE,
    DEFAULT_TCP_PORT,
    SUBENTRY_CHARGER,
)
from .devices.discovery import (
    ALL_IDS,
    QUICK_IDS,
    FoundDevice,
    Scanner,
    ScanProgress,
    ScanResult,
)
from .devices.errors import (
    ConnectionLost,
)
from .devices.registers import get_profile
from .flow_common import (
    CONF_SCAN_ALL,
    bus_only,
    number_field,
    port_error,
    select_field,
)
from .settings import bus_settings

if TYPE_CHECKING:
    import asyncio
    from collections.abc import Mapping

    from homeassistant.helpers.service_info.usb import UsbServiceInfo

    from .devices.bus import BusSettings


@dataclass(slots=True)
class SetupDraft:
    """What the setup flow has gathered so far, step by step."""

    bus: dict[str, Any] = field(default_factory=dict)
    """The connection: serial port or gateway (no line settings)."""
    scan_all: bool = False
    found: tuple[FoundDevice, ...] = ()
    skipped: tuple[BusSettings, ...] = ()
    """Line settings the adapter refused: devices that use them were not looked for."""
    meter: dict[str, Any] | None = None
    max_house_a: float = 0.0
    """The largest phase current the meter measured (the fail-safe suggestion uses it)."""
    site: dict[str, Any] = field(default_factory=dict)
    pending: list[dict[str, Any]] = field(default_factory=list)
    """Chargers chosen and not described yet."""
    add_network: bool = False
    """The user adds a charger at its own network address after those on the port."""
    chargers: list[ConfigSubentryData] = field(default_factory=list)
    usb_id: str | None = None
    usb_name: str = ""


SERIAL_BY_ID: Final = Path("/dev/serial/by-id")


def _resolve_serial_by_id(device: str) -> str:
    """Return the stable /dev/serial/by-id path of a port, or the port itself."""
    if SERIAL_BY_ID.is_dir():
        real = os.path.realpath(device)
        for link in sorted(SERIAL_BY_ID.iterdir()):
            if os.path.realpath(link) == real:
                return str(link)
    return device


class ScanSteps(ConfigFlow):
    """Connection, USB discovery and the bus scan: the first steps of the setup flow."""

    def __init__(self) -> None:
        """Start with nothing found."""
        self.draft = SetupDraft()
        self._scanner: Scanner | None = None
        self._scan_task: asyncio.Task[ScanResult] | None = None
        self._scan_error: str | None = None

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Ask how the bus is reached (or none: `HeadroomConfigFlow` takes that choice)."""
        if user_input is not None:
            self.draft.bus = {CONF_CONNECTION: user_input[CONF_CONNECTION]}
            if user_input[CONF_CONNECTION] == CONNECTION_SERIAL:
                return await self.async_step_serial()
            return await self.async_step_tcp()
        return self.async_show_form(
            step_id="user",
            data_schema=probatio.Schema(
                {
                    probatio.Required(CONF_CONNECTION, default=CONNECTION_SERIAL): select_field(
                        [*CONNECTION_TYPES, CONNECTION_ENTITIES], CONF_CONNECTION
                    )
                }
            ),
        )

    async def async_step_usb(self, discovery_info: UsbServiceInfo) -> ConfigFlowResult:
        """
        Offer a newly plugged RS-485 adapter, or follow a known one to its new port.

        A site remembers its adapter by USB identity (vendor, product, serial number,
        maker, name): re-plugged elsewhere, or without a /dev/serial/by-id link, the same
        adapter moves the site (and its chargers on that port) to the new path.
        """
        device = await self.hass.async_add_executor_job(
            _resolve_serial_by_id, discovery_info.device
        )
        usb_id = usb_unique_id_from_service_info(discovery_info)
        for entry in self._async_current_entries(include_ignore=False):
            if entry.data.get(CONF_USB_ID) == usb_id:
                if entry.data.get(CONF_DEVICE) != device:
                    self._move_site(entry, {**bus_only(entry.data), CONF_DEVICE: device})
                return self.async_abort(reason="already_configured")
        self.draft.bus = {CONF_CONNECTION: CONNECTION_SERIAL, CONF_DEVICE: device}
        await self.async_set_unique_id(bus_settings(self.draft.bus).key)
        # A site set up by hand on this port learns its adapter's identity now.
        self._abort_if_unique_id_configured(updates={CONF_USB_ID: usb_id}, reload_on_update=False)
        self.draft.usb_id = usb_id
        self.draft.usb_name = discovery_info.description or device
        self.context["title_placeholders"] = {CONF_NAME: self.draft.usb_name}
        return await self.async_step_usb_confirm()

    async def async_step_usb_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Confirm scanning the discovered adapter."""
        if user_input is not None:
            self.draft.scan_all = bool(user_input[CONF_SCAN_ALL])
            return await self.async_step_scan()
        return self.async_show_form(
            step_id="usb_confirm",
            data_schema=probatio.Schema(
                {probatio.Required(CONF_SCAN_ALL, default=False): BooleanSelector()}
            ),
            description_placeholders={CONF_NAME: self.draft.usb_name},
        )

    async def async_step_serial(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Ask for the serial port."""
        errors: dict[str, str] = {}
        if self._scan_error is not None:
            errors["base"], self._scan_error = self._scan_error, None
        elif user_input is not None:
            self.draft.bus[CONF_DEVICE] = user_input[CONF_DEVICE]
            self.draft.scan_all = bool(user_input[CONF_SCAN_ALL])
            await self.async_set_unique_id(bus_settings(self.draft.bus).key)
            self._abort_if_unique_id_configured()
            return await self.async_step_scan()
        return self.async_show_form(
            step_id="serial",
            data_schema=self.add_suggested_values_to_schema(
                probatio.Schema(
                    {
                        probatio.Required(CONF_DEVICE): SerialPortSelector(),
                        probatio.Required(CONF_SCAN_ALL, default=False): BooleanSelector(),
                    }
                ),
                {CONF_DEVICE: self.draft.bus.get(CONF_DEVICE)}
                if CONF_DEVICE in self.draft.bus
                else {},
            ),
            errors=errors,
        )

    async def async_step_tcp(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Ask for the gateway's address."""
        errors: dict[str, str] = {}
        if self._scan_error is not None:
            errors["base"], self._scan_error = self._scan_error, None
        elif user_input is not None:
            self.draft.bus[CONF_HOST] = user_input[CONF_HOST]
            self.draft.bus[CONF_PORT] = int(user_input[CONF_PORT])
            self.draft.scan_all = bool(user_input[CONF_SCAN_ALL])
            await self.async_set_unique_id(bus_settings(self.draft.bus).key)
            self._abort_if_unique_id_configured()
            return await self.async_step_scan()
        return self.async_show_form(
            step_id="tcp",
            data_schema=probatio.Schema(
                {
                    probatio.Required(CONF_HOST, default=self.draft.bus.get(CONF_HOST, "")): (
                        TextSelector()
                    ),
                    probatio.Required(
                        CONF_PORT, default=float(self.draft.bus.get(CONF_PORT, DEFAULT_TCP_PORT))
                    ): number_field(1, 65535),
                    probatio.Required(CONF_SCAN_ALL, default=False): BooleanSelector(),
                }
            ),
            errors=errors,
        )

    async def async_step_scan(
        self,
        user_input: dict[str, Any] | None = None,  # noqa: ARG002 (a progress step has no form)
    ) -> ConfigFlowResult:
        """Scan the bus for supported devices, showing progress; never writes."""
        started = self._scan_task is None
        if self._scan_task is None:
            self._scanner = Scanner(
                device_ids=ALL_IDS if self.draft.scan_all else QUICK_IDS, progress=self._progress
            )
            self._scan_task = self.hass.async_create_task(self._scan(self._scanner))
        # The step that starts the scan always shows progress, even if the scan is done.
        if started or not self._scan_task.done():
            return self.async_show_progress(
                step_id="scan",
                progress_action="scan",
                progress_task=self._scan_task,
                description_placeholders={"bus": self._bus_label()},
            )
        task, self._scan_task = self._scan_task, None
        try:
            scan = task.result()
        except ConnectionLost:
            self._scan_error = await port_error(self.hass, self._scan_settings())
            next_step = "serial" if self.draft.bus[CONF_CONNECTION] == CONNECTION_SERIAL else "tcp"
            return self.async_show_progress_done(next_step_id=next_step)
        self.draft.found = scan.devices
        self.draft.skipped = tuple(settings for settings, _ in scan.skipped)
        return self.async_show_progress_done(
            next_step_id="scan_skipped" if self.draft.skipped else "meter"
        )

    async def _scan(self, scanner: Scanner) -> ScanResult:
        if self.draft.bus[CONF_CONNECTION] == CONNECTION_SERIAL:
            result = await scanner.scan_serial(self.draft.bus[CONF_DEVICE])
        else:
            result = await scanner.scan_tcp(
                self.draft.bus[CONF_HOST],
                self.draft.bus[CONF_PORT],
                rtu_framing=self.draft.bus[CONF_CONNECTION] == CONNECTION_RTU_OVER_TCP,
            )
        return result

    @callback
    def _progress(self, progress: ScanProgress) -> None:
        self.async_update_progress(progress.done / progress.total)

    @callback
    def async_remove(self) -> None:
        """Stop a running scan when the user closes the dialog."""
        if self._scanner is not None:
            self._scanner.cancel()
        if self._scan_task is not None:
            self._scan_task.cancel()

    def _scan_settings(self) -> BusSettings:
        return bus_settings({**self.draft.bus, CONF_BAUDRATE: DEFAULT_BAUDRATE})

    def _bus_label(self) -> str:
        return bus_settings(self.draft.bus).label

    def _found_of(self, kind: str) -> list[tuple[int, FoundDevice]]:
        return [
            (index, found) for index, found in enumerate(self.draft.found) if found.kind == kind
        ]

    def _found_label(self, found: FoundDevice) -> str:
        profile = get_profile(found.model)
        return f"{profile.name}, id {found.device_id} ({found.settings.line})"

    def _move_site(self, entry: ConfigEntry, bus: Mapping[str, Any]) -> None:
        """Move a site and the chargers on its port to the port `bus`; reload it."""
        self._move_chargers(entry, bus)
        self.hass.config_entries.async_update_entry(
            entry, data={**entry.data, **bus}, unique_id=bus_settings(bus).key
        )
        self.hass.config_entries.async_schedule_reload(entry.entry_id)

    def _move_chargers(self, entry: ConfigEntry, bus: Mapping[str, Any]) -> None:
        """Chargers that were on the site's old port move with it."""
        old = bus_settings(entry.data).key
        for subentry in entry.get_subentries_of_type(SUBENTRY_CHARGER):
            if bus_settings(subentry.data).key == old:
                self.hass.config_entries.async_update_subentry(
                    entry, subentry, data={**subentry.data, **bus_only(bus)}
                )
