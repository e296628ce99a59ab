"""
Second-wave charger drivers (Modbus TCP controllers built into many brands).

They build on the base classes in `chargers`; `chargers.create_charger` finds them here
(`TCP_DRIVERS`), so this module is imported only when one of them is wanted.

- Bender CC612/CC613 (Mennekes AMTRON, Webasto Live, Garo, ebee, ...): the "energy
  manager" limit (1000); no fail-safe Headroom can arm (see `BenderCc`).
- Webasto / Ampure NEXT: a life bit written every half of the communication timeout set
  in its web interface, after which it applies its safe current (see `WebastoNext`).
- Amperfied connect.home / connect.business: the Heidelberg Energy Control over Modbus
  TCP (see `AmperfiedConnect`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Final

from custom_components.headroom.engine.model import ChargerState

from .chargers import (
    ChargerValues,
    HeartbeatWatchdog,
    HeidelbergEnergyControl,
    WatchdogStatus,
    _CodedStateCharger,
)
from .errors import Unsupported

if TYPE_CHECKING:
    from collections.abc import Mapping

    from .chargers import Charger
    from .registers import Value

_PHASE_CURRENTS: Final = ("current_l1", "current_l2", "current_l3")


class BenderCc(_CodedStateCharger):
    """
    Bender CC612/CC613 in "Modbus TCP Server for energy management systems" mode, unit 255.

    State from the control pilot (122: 1 A .. 4 D, 5 E: evcc and OpenEMS agree on 1-4).
    The limit is whole amperes in 1000, written with FC16 and read back; 0 pauses (evcc).
    Currents in mA; a controller without a meter answers all ones there (evcc reads 0):
    Headroom then has no currents for it rather than 0 A. Power's all ones (sent now and
    then, evcc) is no value.

    Fail-safe: the controller has a safe current (131, read-only, set in its web interface;
    OpenEMS), but no source read says whether or when it applies it when the energy
    manager goes silent. `arm_watchdog` therefore reads it and raises `Unsupported`, so
    the site reports a charger it cannot arm, as for EVSE-WB. The limit is still written
    again every `REWRITE_INTERVAL_S`: should the installer have set a communication
    timeout, a healthy Headroom never lets it expire.
    """

    has_watchdog = False
    max_limit_a = 32
    REWRITE_INTERVAL_S: Final = 25.0
    """evcc's cadence for Alfen's validity time; cheap, and harmless without a timeout."""
    _STATES: ClassVar[Mapping[int, ChargerState]] = {
        1: ChargerState.A,
        2: ChargerState.B,
        3: ChargerState.C,
        4: ChargerState.D,
        5: ChargerState.E,
    }
    _fast_fields = ("charger_state", *_PHASE_CURRENTS)
    _full_fields = (*_fast_fields, "current_limit", "power_total", "energy_total")

    def _reading(self, values: dict[str, Value | None]) -> ChargerValues:
        if all(values.get(name) is None for name in _PHASE_CURRENTS):
            # No meter fitted: every current is "not available". One alone is garbage.
            values = {k: v for k, v in values.items() if k not in _PHASE_CURRENTS}
        return super()._reading(values)

    async def arm_watchdog(self, *, timeout_s: float, failsafe_a: int) -> WatchdogStatus:
        """Raise Unsupported, naming the safe current set in the controller's web interface."""
        del timeout_s
        self._check_limit(failsafe_a, what="fail-safe current")
        safe = (await self._reader.read(["failsafe_current"]))["failsafe_current"]
        msg = (
            f"charger {self.device_id} (Bender CC612/CC613): Headroom cannot arm a fail-safe "
            f"on it; its safe current is {safe} A, set in its web interface, and whether it "
            "applies it when Home Assistant stops is not documented"
        )
        raise Unsupported(msg)

    async def maintain(self) -> None:
        """Write the limit again every `REWRITE_INTERVAL_S`."""
        await super().maintain()
        await self._rewrite_limit_after(self.REWRITE_INTERVAL_S)


class WebastoNext(_CodedStateCharger, HeartbeatWatchdog):
    """
    Webasto / Ampure NEXT (Modbus TCP, unit 255; the TQ-DM100 register set).

    State 1000 (evcc and OpenEMS): 0 A, 1 B (no permission yet), 3 C, 4 B (paused), 7 E;
    8 (reserved for another user) is F. The limit is whole amperes in 5004; 0 pauses.
    Every value is read alone (OpenEMS: "cannot read the gaps"; the planner learns that
    from the first refusal).

    Watchdog: the communication timeout (2002, s) and the safe current (2000, A) are set
    in the charger's web interface and only read here (neither source writes them). With
    a timeout above 0 the master must write 1 to the life bit (6000) within it; evcc does
    every half timeout, and so does `maintain`. A timeout of 0 means no monitoring:
    `arm_watchdog` raises `Unsupported` saying where to set one.
    """

    max_limit_a = 32
    _HEARTBEATS_PER_TIMEOUT = 2
    _STATES: ClassVar[Mapping[int, ChargerState]] = {
        0: ChargerState.A,
        1: ChargerState.B,
        3: ChargerState.C,
        4: ChargerState.B,
        7: ChargerState.E,
        8: ChargerState.F,
    }
    _fast_fields = ("charger_state", *_PHASE_CURRENTS)
    _full_fields = (*_fast_fields, "power_total", "energy_total")

    async def arm_watchdog(self, *, timeout_s: float, failsafe_a: int) -> WatchdogStatus:
        """
        Read the timeout and safe current set in the charger, and start the life bit.

        `timeout_s` cannot be written: the charger's own timeout applies (reported back).
        Raises `Unsupported` when the charger monitors nothing (timeout 0).
        """
        del timeout_s
        self._check_limit(failsafe_a, what="fail-safe current")
        values = await self._reader.read(["watchdog_timeout", "failsafe_current"])
        timeout, safe = values["watchdog_timeout"], values["failsafe_current"]
        if not isinstance(timeout, int) or timeout <= 0:
            msg = (
                f"charger {self.device_id} (Webasto NEXT): no communication timeout is set, "
                "so it never falls back; set one in its web interface (Modbus/HEMS settings)"
            )
            raise Unsupported(msg)
        interval_s = self._start_heartbeat(timeout)
        await self._beat()
        safe_a = float(safe) if isinstance(safe, int) else None
        return WatchdogStatus(
            timeout_s=float(timeout),
            failsafe_a=safe_a,
            failsafe_matches=safe_a is not None and safe_a == failsafe_a,
            rewrite_interval_s=interval_s,
        )

    async def _heartbeat(self) -> None:
        """Write 1 to the life bit."""
        await self._write(self._profile.registers["alive"], 1)


class AmperfiedConnect(HeidelbergEnergyControl):
    """
    Amperfied connect.home / connect.business: the Energy Control's registers over Modbus TCP.

    Unit id 255 (evcc `amperfied.go`). States, 0.1 A limits, the remote-lock release in F
    and the watchdog (257, ms; any request resets it; 262 applies after it) are the Energy
    Control's. Unlike on the RS-485 box, standby (258) is left alone: evcc never writes it
    on these, and a networked box need not sleep to be found.
    """

    def _standby_setting(self) -> dict[str, Value]:
        """Standby is left as it is (the Energy Control's watchdog otherwise)."""
        return {}


TCP_DRIVERS: Final[Mapping[str, type[Charger]]] = {
    "amperfied_connect": AmperfiedConnect,
    "bender_cc612_cc613": BenderCc,
    "webasto_next": WebastoNext,
}
"""Profile id -> driver, for `chargers.create_charger` (ids listed there as `TCP_CHARGERS`)."""
