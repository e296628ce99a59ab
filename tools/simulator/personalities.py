"""
Device personalities: what each scanned meter and first-wave charger answers, and how.

Meters report the site's grid currents, voltages and power, with energy counters that
grow with the power. Chargers report their site charger's state and currents in their
vendor's encoding, turn current limit writes into `Site.set_setpoint`, and keep their
own watchdog: a charger that hears nothing from its master for the watchdog time falls
back to its fail-safe current (Heidelberg, Alfen, ABB Terra AC with a fallback set) or
stops with an error (ABB Terra AC without one). EVSE-WB has no watchdog.
"""

from __future__ import annotations

import cmath
import math
from typing import TYPE_CHECKING, Final

from custom_components.headroom.devices.discovery import SCANNED_CHARGERS, SCANNED_METERS
from custom_components.headroom.devices.registers import Profile, Register, Value, get_profile
from custom_components.headroom.engine.model import MIN_CHARGE_A

from .devices import ProfileDevice
from .frames import ILLEGAL_DATA_ADDRESS, ILLEGAL_DATA_VALUE, READ_INPUT, ModbusError

if TYPE_CHECKING:
    from collections.abc import Mapping

    from .line import LineSettings
    from .site import ChargerView, Site

_SQRT3: Final = math.sqrt(3)
_S_PER_H: Final = 3600.0
_W_PER_KW: Final = 1000.0
_PHASES: Final = 3
ALFEN_STATION_UNIT: Final = 200
"""The unit id of an Alfen station's own registers (identity, temperature)."""

# The simulated models are the ones discovery looks for: the scan must find every one.
METERS: Final = SCANNED_METERS
CHARGERS: Final = SCANNED_CHARGERS

# What the identification registers hold (registers.yaml's expectations; where the
# research has no value, as for the SDM230's meter code, the register reads 0).
_IDENTITY: Final[Mapping[str, Mapping[str, Value]]] = {
    "eastron_sdm630": {
        "meter_code": 0x0070,
        "serial_number": 21000630,
        "software_version": 0x0203,
        "system_type": 3.0,
        "password": 1000.0,
    },
    "eastron_sdm120": {"meter_code": 0x0020, "serial_number": 21000120, "software_version": 0x0106},
    "eastron_sdm230": {"serial_number": 21000230},
    "eastron_sdm72dm_v2": {"meter_code": 0x0089, "password": 1000.0},
    "chint_dtsu666": {"sw_version": 204, "network_selection": 0, "ct_ratio": 1, "vt_ratio": 1.0},
    "carlogavazzi_em3xx": {
        "model_id": 340,
        "hw_version": 1,
        "fw_version": 0x0203,
        "measurement_system": 0,
        "serial": "SIM0000340",
    },
    "carlogavazzi_em1xx": {"model_id": 120, "serial": "SIM0000112"},
    "carlogavazzi_em24_rs485": {"model_id": 71, "fw_version": 0x0105, "serial": "SIM0000024"},
    "abb_b2x": {
        "product_type": 0x42323320,  # "B23 "
        "serial_number": 23000001,
        "firmware_version": "1.0.0",
    },
    "orno_we516_517": {},
    "chint_ddsu666": {},
    "shelly_pro_3em": {"model": "SPEM-003CEBEU"},
    "schneider_iem3x5x": {"meter_model": "iEM3255", "manufacturer": "Schneider Electric"},
    "ccs_wattnode_modbus": {"model": 205, "serial_number": 100205},  # WNC-3D-240-MB
}

# Eastron's baud-rate setting codes (holding register 28, a float).
_EASTRON_BAUD: Final[Mapping[int, float]] = {2400: 0, 4800: 1, 9600: 2, 19200: 3, 38400: 4}
_EASTRON_PARITY: Final[Mapping[str, float]] = {"N": 0, "E": 1, "O": 2}


def _energy(unit: str | None, kwh: float) -> float:
    return kwh * _W_PER_KW if unit in {"Wh", "VAh"} else kwh


class MeterDevice(ProfileDevice):
    """A whole-home meter reporting the site's grid side."""

    def __init__(
        self,
        profile: Profile,
        device_id: int,
        site: Site,
        *,
        line: LineSettings | None = None,
    ) -> None:
        """Measure `site`; the `line` settings fill the meter's own setting registers."""
        super().__init__(profile, device_id)
        self._site = site
        self.import_kwh = [1200.0, 1100.0, 1000.0]
        self.export_kwh = [300.0, 300.0, 300.0]
        self.settings.update(_IDENTITY.get(profile.id, {}))
        if profile.id.startswith("eastron"):
            self.settings["network_node"] = float(device_id)
            if line is not None and line.baudrate in _EASTRON_BAUD:
                self.settings["network_baud"] = _EASTRON_BAUD[line.baudrate]
                self.settings["network_parity_stop"] = _EASTRON_PARITY[line.parity]
        if profile.id == "chint_dtsu666":
            self.settings["address"] = device_id

    def phase_readings(self) -> list[tuple[float, float]]:
        """(voltage, signed current) on each of L1-L3; a single-phase meter sees L1."""
        grid = self._site.grid_currents_a()
        readings = []
        for phase in range(1, _PHASES + 1):
            if phase > len(grid) or (self.profile.phases == 1 and phase > 1):
                readings.append((0.0, 0.0))
            else:
                readings.append((self._site.voltage_v(phase), grid[phase - 1]))
        return readings

    def tick(self, dt_s: float) -> None:
        """Count energy: import while drawing, export while feeding in."""
        super().tick(dt_s)
        for index, (voltage, current) in enumerate(self.phase_readings()):
            kwh = voltage * current * dt_s / _S_PER_H / _W_PER_KW
            if kwh >= 0:
                self.import_kwh[index] += kwh
            else:
                self.export_kwh[index] -= kwh

    def values(self) -> Mapping[str, Value]:
        """Every quantity the first-wave meters have, under its canonical name."""
        readings = self.phase_readings()
        values: dict[str, Value] = {}
        powers = []
        for phase, (voltage, current) in enumerate(readings, start=1):
            power = voltage * current
            powers.append(power)
            values |= {
                f"voltage_l{phase}": voltage,
                f"current_l{phase}": abs(current),
                f"power_l{phase}": power,
                f"apparent_power_l{phase}": abs(power),
                f"reactive_power_l{phase}": 0.0,
                f"power_factor_l{phase}": 1.0,
            }
        units = {r.name: r.unit for r in self.profile.registers.values()}
        for phase in range(1, _PHASES + 1):
            imported, exported = self.import_kwh[phase - 1], self.export_kwh[phase - 1]
            for name, kwh in (
                (f"energy_import_l{phase}", imported),
                (f"energy_export_l{phase}", exported),
                (f"energy_total_l{phase}", imported + exported),
            ):
                values[name] = _energy(units.get(name), kwh)
        imported, exported = sum(self.import_kwh), sum(self.export_kwh)
        total_w = sum(powers)
        voltages = [voltage for voltage, _ in readings if voltage]
        # Neutral current: the phasor sum of three currents 120 degrees apart.
        neutral = abs(
            sum(
                abs(current) * cmath.exp(-2j * math.pi * index / 3)
                for index, (_, current) in enumerate(readings)
            )
        )
        values |= {
            "power_total": total_w,
            "apparent_power_total": abs(total_w),
            "apparent_power": abs(total_w),
            "reactive_power_total": 0.0,
            "reactive_power": 0.0,
            "power_factor_total": 1.0,
            "power_factor": 1.0,
            "phase_angle_total": 0.0,
            "phase_angle": 0.0,
            "current_sum": sum(abs(current) for _, current in readings),
            "current_neutral": neutral,
            "voltage_avg": sum(voltages) / len(voltages) if voltages else 0.0,
            "voltage_ll_avg": _SQRT3 * readings[0][0],
            "frequency": 50.0,
            "energy_import": _energy(units.get("energy_import"), imported),
            "energy_export": _energy(units.get("energy_export"), exported),
            "energy_total": _energy(units.get("energy_total"), imported + exported),
            "energy_net": imported - exported,
            "power_import_total": max(total_w, 0.0),
            "power_export_total": max(-total_w, 0.0),
        }
        for name, first, second in (("l1_l2", 0, 1), ("l2_l3", 1, 2), ("l3_l1", 2, 0)):
            both = readings[first][0] and readings[second][0]
            values[f"voltage_ll_{name}"] = _SQRT3 * readings[first][0] if both else 0.0
        return values


class ChintDtsu666Device(MeterDevice):
    """
    Chint DTSU666: measures the secondary side of its transformers.

    Currents are divided by the CT ratio (IrAt, 0x0006), voltages by the VT ratio (UrAt,
    0x0007, 0.1 steps), powers and energies by both, as openWB's driver undoes them. The
    ratios start at 1 (direct connection); a test sets `settings["ct_ratio"]` for a CT meter.
    """

    def values(self) -> Mapping[str, Value]:
        """Return the site's values as the meter's secondary side sees them."""
        ct = float(self.settings["ct_ratio"]) or 1.0
        vt = float(self.settings["vt_ratio"]) or 1.0
        values = dict(super().values())
        for name, value in values.items():
            if not isinstance(value, float) or name.startswith("power_factor"):
                continue
            if name.startswith("current"):
                values[name] = value / ct
            elif name.startswith("voltage"):
                values[name] = value / vt
            elif "power" in name or name.startswith("energy"):
                values[name] = value / (ct * vt)
        return values


class AbbB21Device(MeterDevice):
    """
    ABB B21: the 1-phase member of the B2x family, on the B23/B24 register map.

    It measures L1 only and answers "not available" (all ones; 0x7FFF... when signed) on
    every per-phase register but L1 voltage and current (Victron `abb.py` ABB_Meter_1P).
    """

    _NOT_AVAILABLE: Final = frozenset(
        {
            "voltage_l2",
            "voltage_l3",
            "current_l2",
            "current_l3",
            *(f"power_l{p}" for p in (1, 2, 3)),
            *(f"power_factor_l{p}" for p in (2, 3)),
            *(f"energy_{d}_l{p}" for d in ("import", "export") for p in (1, 2, 3)),
        }
    )

    def __init__(self, device_id: int, site: Site, *, line: LineSettings | None = None) -> None:
        """Answer at the B23/B24 addresses with a B21's product type."""
        super().__init__(get_profile("abb_b2x"), device_id, site, line=line)
        self.settings["product_type"] = int.from_bytes(b"B21 ", "big")

    def phase_readings(self) -> list[tuple[float, float]]:
        """L1 only: what the site draws on its first phase."""
        readings = super().phase_readings()
        return [readings[0], (0.0, 0.0), (0.0, 0.0)]

    def _words(self, register: Register, values: Mapping[str, Value]) -> list[int]:
        if register.name not in self._NOT_AVAILABLE:
            return super()._words(register, values)
        if register.data_type.value.startswith("int"):
            return [0x7FFF] + [0xFFFF] * (register.count - 1)
        return [0xFFFF] * register.count


class Em24Device(MeterDevice):
    """Carlo Gavazzi EM24 (RS-485) variant without kWh(-) TOT: 0x5C answers exception 2."""

    def __init__(
        self, profile: Profile, device_id: int, site: Site, *, line: LineSettings | None = None
    ) -> None:
        """Measure `site`; refuse the export counter."""
        super().__init__(profile, device_id, site, line=line)
        self.refused.add("energy_export")


class ChargerDevice(ProfileDevice):
    """A charger on the site: its limit writes reach the car, its watchdog falls back."""

    def __init__(self, profile: Profile, device_id: int, site: Site, *, name: str) -> None:
        """Report the site's charger `name`."""
        super().__init__(profile, device_id)
        self._site = site
        self.name = name
        self.commanded_a = 0.0
        """The limit the master last wrote."""
        self.in_failsafe = False
        self._applied_a = 0.0
        self._site.set_setpoint(name, 0.0)

    @property
    def applied_a(self) -> float:
        """The limit the charger applies now (the fail-safe current once it fell back)."""
        return self._applied_a

    def view(self) -> ChargerView:
        """Return the site's view of this charger."""
        return self._site.charger_view(self.name)

    def command(self, current_a: float) -> None:
        """Apply a limit the master set, leaving any fail-safe."""
        self.commanded_a = current_a
        self.in_failsafe = False
        self._apply(current_a)

    def fall_back(self, current_a: float) -> None:
        """Apply the fail-safe current (the watchdog expired)."""
        self.in_failsafe = True
        self._apply(current_a)

    def _apply(self, current_a: float) -> None:
        if current_a != self._applied_a:
            self._applied_a = current_a
            self._site.set_setpoint(self.name, current_a)

    def line_currents(self) -> tuple[float, float, float]:
        """Measured current on L1-L3 (padded)."""
        currents = (*self.view().currents_a, 0.0, 0.0, 0.0)
        return currents[0], currents[1], currents[2]

    def power_w(self) -> float:
        """Return the power the car draws, at the site voltage."""
        return sum(self.line_currents()) * self._site.voltage_v(1)

    def meter_values(self) -> dict[str, Value]:
        """Return the charger's own meter: currents and voltages per line, and the power."""
        l1, l2, l3 = self.line_currents()
        voltage = self._site.voltage_v(1)
        return {
            "current_l1": l1,
            "current_l2": l2,
            "current_l3": l3,
            "voltage_l1": voltage,
            "voltage_l2": voltage,
            "voltage_l3": voltage,
            "power_total": self.power_w(),
        }


class HeatingCharger(ChargerDevice):
    """A charger whose board temperature it reports, and which can heat under current."""

    ambient_c: float = 32.5
    """The board temperature of a charger that carries no current."""

    def __init__(self, profile: Profile, device_id: int, site: Site, *, name: str) -> None:
        """Start at the ambient temperature, not heating."""
        super().__init__(profile, device_id, site, name=name)
        self.temperature_c = self.ambient_c
        """The board temperature the charger reports."""
        self._heating_c_per_a2 = 0.0
        self._time_constant_s = 600.0

    def heat_under_current(self, *, c_per_a2: float, time_constant_s: float) -> None:
        """
        Make the charger heat under current (a hot garage, a tired contact).

        Its board settles `c_per_a2` x (line current)^2 above the ambient, with this time
        constant.
        """
        self._heating_c_per_a2 = c_per_a2
        self._time_constant_s = time_constant_s

    def tick(self, dt_s: float) -> None:
        """Let the board temperature follow the current."""
        super().tick(dt_s)
        current_a = max(self.line_currents())
        settled_c = self.ambient_c + self._heating_c_per_a2 * current_a**2
        self.temperature_c += (settled_c - self.temperature_c) * (
            1.0 - math.exp(-dt_s / self._time_constant_s)
        )


class HeidelbergDevice(HeatingCharger):
    """Heidelberg Energy Control: watchdog in ms on any request, standby, 0.1 A steps."""

    standby_after_s: float = 60.0
    """Idle time in state A after which a box with standby enabled goes to sleep."""
    recovery_s: float = 10.0
    """Time the box needs after the fail-safe before it follows the master again."""
    own_derate_c: float = 85.0
    """Above this the box reports state 8 ("derating") while it charges."""

    def __init__(self, profile: Profile, device_id: int, site: Site, *, name: str) -> None:
        """Start as shipped: standby allowed, watchdog 15 s, fail-safe current 0 A."""
        super().__init__(profile, device_id, site, name=name)
        self.settings |= {
            "watchdog_timeout": 15000,
            "standby_control": 0,
            "remote_lock": 1,
            "current_limit": 0.0,
            "failsafe_current": 0.0,
        }
        self._last_request_s = 0.0
        self._idle_since_s = 0.0
        self._recover_at_s: float | None = None

    def answers(self) -> bool:
        """Asleep (silent) after a while in state A unless standby is disabled (258 = 4)."""
        return not self._asleep()

    def _asleep(self) -> bool:
        if self.settings["standby_control"] == 4 or self.view().state != "A":  # noqa: PLR2004
            return False
        return self.now_s - self._idle_since_s >= self.standby_after_s

    def on_request(self) -> None:
        """Any read or write resets the watchdog; after a fail-safe, recovery starts."""
        super().on_request()
        self._last_request_s = self.now_s
        if self.in_failsafe and self._recover_at_s is None:
            self._recover_at_s = self.now_s + self.recovery_s

    def tick(self, dt_s: float) -> None:
        """Run the PCB temperature, the watchdog and the standby timer."""
        super().tick(dt_s)
        if self.view().state != "A":
            self._idle_since_s = self.now_s
        timeout_s = float(self.settings["watchdog_timeout"]) / 1000
        silent_s = self.now_s - self._last_request_s
        if timeout_s > 0 and silent_s >= timeout_s and not self.in_failsafe:
            self._recover_at_s = None
            self.fall_back(float(self.settings["failsafe_current"]))
        elif self._recover_at_s is not None and self.now_s >= self._recover_at_s:
            self._recover_at_s = None
            self.command(self.commanded_a)

    def validate(self, name: str, value: Value) -> None:
        """Currents are 0 or 6.0-16.0 A; standby 0 or 4."""
        if name in {"current_limit", "failsafe_current"} and not _zero_or_within(
            value, MIN_CHARGE_A, 16.0
        ):
            raise ModbusError(ILLEGAL_DATA_VALUE)
        if name == "standby_control" and value not in {0, 4}:
            raise ModbusError(ILLEGAL_DATA_VALUE)

    def apply(self, name: str, value: Value) -> None:
        """Pass a current limit write to the car (unless the box is in its fail-safe)."""
        super().apply(name, value)
        if name == "current_limit" and isinstance(value, float | int):
            self.commanded_a = float(value)
            if not self.in_failsafe and not self.locked:
                self.command(float(value))
        if name == "remote_lock":
            if self.locked:
                self._apply(0.0)
            elif not self.in_failsafe:
                self.command(self.commanded_a)

    @property
    def locked(self) -> bool:
        """Remote lock (259 = 0): the box reports F and offers no current (evcc clears it)."""
        return self.settings["remote_lock"] == 0

    def lock(self) -> None:
        """Lock the box remotely, as another master (or a wake-up toggle) may leave it."""
        self.apply("remote_lock", 0)

    def values(self) -> Mapping[str, Value]:
        """State 2-10 (A1..F), currents in 0.1 A, voltage, power and energy."""
        view = self.view()
        l1, l2, l3 = self.line_currents()
        pwm = self.applied_a >= MIN_CHARGE_A
        state = {
            "A": 3 if pwm else 2,
            "B": 5 if pwm else 4,
            "C": 7 if pwm else 6,
            "D": 7 if pwm else 6,
            "E": 9,
            "F": 10,
        }.get(view.state, 11)
        if self.locked:
            state = 10  # F
        elif state in {6, 7} and self.temperature_c >= self.own_derate_c:
            state = 8  # charging, derated by the box itself for heat
        energy_vah = 1_000_000 + view.session_energy_kwh * _W_PER_KW
        return {
            "layout_version": 0x0108,
            "charger_state": state,
            "current_l1": l1,
            "current_l2": l2,
            "current_l3": l3,
            "temperature": round(self.temperature_c, 1),
            "voltage_l1": self._site.voltage_v(1),
            "voltage_l2": self._site.voltage_v(1),
            "voltage_l3": self._site.voltage_v(1),
            "extern_lock_state": 1,
            "power_total": self.power_w(),
            "energy_since_power_on": view.session_energy_kwh * _W_PER_KW,
            "energy_total": energy_vah,
            "hw_max_current": 16,
            "hw_min_current": 6,
            "logistic_string": "HEC-SIM",
            "hw_variant": 1,
            "app_sw_revision": 0x0108,
        }


class AmperfiedConnectDevice(HeidelbergDevice):
    """Amperfied connect (Modbus TCP, unit 255): the Energy Control, awake on the network."""

    def __init__(self, profile: Profile, device_id: int, site: Site, *, name: str) -> None:
        """Start as the Energy Control, but with no standby sleep (evcc never disables it)."""
        super().__init__(profile, device_id, site, name=name)
        self.settings["standby_control"] = 4


class AbbTerraDevice(ChargerDevice):
    """ABB Terra AC: limits in mA (FC 16), timeout in s, fallback current or error."""

    _READBACKS: Final = (
        "watchdog_timeout_readback",
        "current_limit_readback",
        "failsafe_current_readback",
    )

    def __init__(self, profile: Profile, device_id: int, site: Site, *, name: str) -> None:
        """Start as shipped: 60 s communication timeout, no fallback current."""
        super().__init__(profile, device_id, site, name=name)
        self.settings |= {"watchdog_timeout": 60, "failsafe_current": 0, "current_limit": 0.0}
        self._last_request_s = 0.0
        self.error = False
        self.firmware = 0x01061300

    def older_firmware(self) -> None:
        """Behave as firmware before Modbus doc v1.8: the read-backs 0x4020-0x4024 refused."""
        self.firmware = 0x01021300
        self.refused |= set(self._READBACKS)

    def on_request(self) -> None:
        """Any read or write keeps the link alive."""
        super().on_request()
        self._last_request_s = self.now_s

    def tick(self, dt_s: float) -> None:
        """On timeout: continue at the fallback current, or stop with an error."""
        super().tick(dt_s)
        timeout_s = float(self.settings["watchdog_timeout"])
        if self.in_failsafe or self.now_s - self._last_request_s < timeout_s:
            return
        fallback_a = float(self.settings["failsafe_current"])
        self.error = fallback_a < MIN_CHARGE_A
        self.fall_back(0.0 if self.error else fallback_a)

    def validate(self, name: str, value: Value) -> None:
        """Limit 0-32 A, timeout at least 10 s, fallback 0 or 6-32 A."""
        number = float(value) if isinstance(value, float | int) else math.nan
        if name == "current_limit" and not 0 <= number <= 32:  # noqa: PLR2004
            raise ModbusError(ILLEGAL_DATA_VALUE)
        if name == "watchdog_timeout" and number < 10:  # noqa: PLR2004
            raise ModbusError(ILLEGAL_DATA_VALUE)
        if name == "failsafe_current" and not _zero_or_within(value, MIN_CHARGE_A, 32.0):
            raise ModbusError(ILLEGAL_DATA_VALUE)

    def apply(self, name: str, value: Value) -> None:
        """Apply a limit write at once; it clears a communication error."""
        super().apply(name, value)
        if name == "current_limit" and isinstance(value, float | int):
            self.error = False
            self.command(float(value))

    def values(self) -> Mapping[str, Value]:
        """State in byte 1 of a u32 (0 A .. 4 C2, 5 other), currents in mA."""
        view = self.view()
        pwm = self.applied_a >= MIN_CHARGE_A
        # A limit below 6 A stops the session: "other" (5), not B1/C1 (vendor doc 5.15,
        # JernejHren session_state.py), until a limit of 6 A or more resumes it.
        paused = view.state != "A" and not pwm
        code = (
            5
            if self.error or paused
            else {"A": 0, "B": 2 if pwm else 1, "C": 4 if pwm else 3}.get(view.state, 5)
        )
        return self.meter_values() | {
            "serial_number": "TACSIM01",
            "firmware_version": self.firmware,
            "user_settable_max_current": 16.0,
            "error_code": 1 if self.error else 0,
            "socket_lock_state": 0 if view.state == "A" else 0x0111,
            "charger_state": code << 8,
            "charging_current_limit": self.applied_a,
            "energy_session": view.session_energy_kwh * _W_PER_KW,
            "watchdog_timeout_readback": self.settings["watchdog_timeout"],
            "current_limit_readback": self.commanded_a,
            "failsafe_current_readback": self.settings["failsafe_current"],
        }


class EvseWbDevice(ChargerDevice):
    """
    EVSE-WB/DIN (SimpleEVSE): no watchdog, the last limit stays.

    After a power cut the current after boot (2000, 32 A from the factory per openWB_lite's
    register dump) applies. Limit writes do nothing unless Modbus is enabled (2001 = 1);
    from firmware 17 on, bit 7 of 2005 switches the limit (1000) to 0.01 A steps.
    """

    _CENTIAMPS_BIT: Final = 0x0080
    _CENTIAMPS_FROM_FIRMWARE: Final = 17

    def __init__(self, profile: Profile, device_id: int, site: Site, *, name: str) -> None:
        """Start with the factory settings."""
        super().__init__(profile, device_id, site, name=name)
        self.firmware = 17
        self.settings |= {
            "current_limit": 0,
            "turn_off": 0,
            "current_after_boot": 32,
            "modbus_enabled": 1,
            "min_current": 6,
            "analog_input_config": 0,
            "amps_after_boot_button": 0,
            "config_bits": 0,
            "current_sharing_mode": 0,
            "pp_detection": 0,
        }

    @property
    def centiamps(self) -> bool:
        """Whether 1000 counts in 0.01 A (bit 7 of 2005, honoured from firmware 17)."""
        bits = self.settings["config_bits"]
        return (
            self.firmware >= self._CENTIAMPS_FROM_FIRMWARE
            and isinstance(bits, int)
            and bool(bits & self._CENTIAMPS_BIT)
        )

    def _amps(self, raw: Value) -> float:
        number = float(raw) if isinstance(raw, float | int) else math.nan
        return number / 100 if self.centiamps else number

    def power_cycle(self) -> None:
        """Lose power: the board restarts at its current after boot (2000)."""
        after_boot = self.settings["current_after_boot"]
        self.settings["current_limit"] = after_boot
        self.command(float(after_boot) if isinstance(after_boot, int | float) else 0.0)

    def validate(self, name: str, value: Value) -> None:
        """Accept a limit of 0 or 6-80 A (in the unit in force)."""
        if name == "current_limit" and not _zero_or_within(self._amps(value), MIN_CHARGE_A, 80.0):
            raise ModbusError(ILLEGAL_DATA_VALUE)

    def apply(self, name: str, value: Value) -> None:
        """Apply a limit write at once, if Modbus control is enabled."""
        if name == "current_limit" and self.settings["modbus_enabled"] != 1:
            return  # accepted on the wire, ignored by the board
        super().apply(name, value)
        if name == "current_limit":
            self.command(self._amps(value))

    def values(self) -> Mapping[str, Value]:
        """State 1-5 (A, B, C, D, failure), offered current, EVSE state."""
        view = self.view()
        pwm = self.applied_a >= MIN_CHARGE_A
        offered = self.applied_a * 100 if self.centiamps else self.applied_a
        return {
            "current_offered": int(offered) if pwm else 0,
            "charger_state": {"A": 1, "B": 2, "C": 3, "D": 4}.get(view.state, 5),
            "pp_limit": 32,
            "firmware_version": self.firmware,
            "evse_state": 2 if pwm else 1,
            "status_fails": 0,
        }


class AlfenDevice(HeatingCharger):
    """
    Alfen Eve (Modbus TCP): float limit with a validity time, then the safe current.

    Its socket answers at its own unit id, the station (identity, board temperature) at 200.
    """

    ambient_c = 30.0

    def __init__(self, profile: Profile, device_id: int, site: Site, *, name: str) -> None:
        """Start at the safe current (6 A), as after a reboot; validity time 60 s."""
        super().__init__(profile, device_id, site, name=name)
        self.validity_s = 60.0
        self.safe_current_a = 6.0
        self.single_phase = False
        """Installed on one phase: L2 and L3 read NaN (evcc issue 4578)."""
        self.station_exception: int | None = None
        """Answer every request at the station's unit (200) with this Modbus exception."""
        self._valid_until_s: float | None = None
        self.settings |= {"charge_phases": 3}
        self.fall_back(self.safe_current_a)

    def tick(self, dt_s: float) -> None:
        """Fall back to the safe current when the limit was not rewritten in time."""
        super().tick(dt_s)
        if (
            not self.in_failsafe
            and self._valid_until_s is not None
            and self.now_s >= self._valid_until_s
        ):
            self.fall_back(self.safe_current_a)

    def read(self, function_code: int, unit_id: int, address: int, count: int) -> list[int]:
        """Answer a read; at the station's unit, `station_exception` if one is set."""
        if unit_id == ALFEN_STATION_UNIT and self.station_exception is not None:
            raise ModbusError(self.station_exception)
        return super().read(function_code, unit_id, address, count)

    def validate(self, name: str, value: Value) -> None:
        """Accept a limit of 0-32 A and 1 or 3 phases."""
        number = float(value) if isinstance(value, float | int) else math.nan
        if name == "current_limit" and not 0 <= number <= 32:  # noqa: PLR2004
            raise ModbusError(ILLEGAL_DATA_VALUE)
        if name == "charge_phases" and value not in {1, 3}:
            raise ModbusError(ILLEGAL_DATA_VALUE)

    def apply(self, name: str, value: Value) -> None:
        """Apply a written limit and restart the validity timer."""
        super().apply(name, value)
        if name == "current_limit" and isinstance(value, float | int):
            self._valid_until_s = self.now_s + self.validity_s
            self.command(float(value))

    def values(self) -> Mapping[str, Value]:
        """Station identity (unit 200) and the socket's meter, state and limits."""
        view = self.view()
        l1, l2, l3 = self.line_currents()
        voltage = self._site.voltage_v(1)
        pwm = self.applied_a >= MIN_CHARGE_A
        state = {"A": "A", "B": "B2" if pwm else "B1", "C": "C2" if pwm else "C1"}.get(
            view.state, view.state
        )
        # 1208: time left before the fall-back; all ones while no setpoint was ever written
        remaining: Value = (
            0xFFFFFFFF
            if self._valid_until_s is None
            else max(0, math.ceil(self._valid_until_s - self.now_s))
        )
        unwired = math.nan if self.single_phase else None
        values: dict[str, Value] = {
            "name": "ALF_1000",
            "manufacturer": "Alfen NV",
            "modbus_table_version": 1,
            "firmware_version": "6.4.0-4210",
            "platform_type": "NG910",
            "station_serial": "ACE0000001",
            "station_active_max_current": 32.0,
            "temperature": round(self.temperature_c, 1),
            "nr_of_sockets": 1,
            "meter_state": 1,
            "voltage_l1": voltage,
            "voltage_l2": voltage,
            "voltage_l3": voltage,
            "current_n": 0.0,
            "current_l1": l1,
            "current_l2": l2,
            "current_l3": l3,
            "current_sum": l1 + l2 + l3,
            "frequency": 50.0,
            "power_l1": l1 * voltage,
            "power_l2": l2 * voltage,
            "power_l3": l3 * voltage,
            "power_total": self.power_w(),
            "energy_total": 2_000_000.0 + view.session_energy_kwh * _W_PER_KW,
            "energy_consumed_sum": 2_000_000.0 + view.session_energy_kwh * _W_PER_KW,
            "availability": 1,
            "charger_state": state,
            "current_limit_readback": self.applied_a,
            "watchdog_remaining": remaining,
            "current_limit": self.commanded_a,
            "failsafe_current": self.safe_current_a,
            "setpoint_accounted_for": 1,
        }
        if unwired is not None:
            for name in ("voltage_l2", "voltage_l3", "current_l2", "current_l3"):
                values[name] = unwired
            values |= {"power_l2": unwired, "power_l3": unwired}
        return values


class VestelDevice(ChargerDevice):
    """
    Vestel EVC04 (Modbus TCP, unit 255): alive register, fail-safe timeout and current.

    Once the master wrote the alive register (6000 = 1), it must write it again within the
    fail-safe timeout (2002, s), or the charger falls back to the fail-safe current (2000);
    the charger clears the register every half timeout. Strings are UTF-16BE, one character
    per register. Input reads must not cover addresses between values (evcc reads the
    currents 1008/1010/1012 one by one): such a read answers exception 2.
    """

    def __init__(self, profile: Profile, device_id: int, site: Site, *, name: str) -> None:
        """Start with a 20 s timeout (evcc's assumed default) and a 0 A fail-safe current."""
        super().__init__(profile, device_id, site, name=name)
        self.settings |= {"watchdog_timeout": 20, "failsafe_current": 0, "alive": 0}
        self._alive_at_s: float | None = None
        self._inputs = {
            address
            for r in profile.registers.values()
            if r.function_code == READ_INPUT
            for address in range(r.address, r.end)
        }

    def read(self, function_code: int, unit_id: int, address: int, count: int) -> list[int]:
        """Refuse input reads that cover an address between values."""
        if function_code == READ_INPUT and any(
            a not in self._inputs for a in range(address, address + count)
        ):
            self.on_request()
            raise ModbusError(ILLEGAL_DATA_ADDRESS)
        return super().read(function_code, unit_id, address, count)

    def tick(self, dt_s: float) -> None:
        """Fall back to the fail-safe current when the alive register was not written."""
        super().tick(dt_s)
        if self._alive_at_s is None or self.in_failsafe:
            return
        timeout_s = float(self.settings["watchdog_timeout"])
        if self.now_s - self._alive_at_s >= timeout_s:
            self.fall_back(float(self.settings["failsafe_current"]))

    def validate(self, name: str, value: Value) -> None:
        """Accept a limit of 0-32 A, a fail-safe of 0 or 6-32 A, a timeout of 3 s or more."""
        if name in {"current_limit", "failsafe_current"} and not _zero_or_within(value, 6, 32):
            raise ModbusError(ILLEGAL_DATA_VALUE)
        if name == "watchdog_timeout" and not (isinstance(value, int) and value >= 3):  # noqa: PLR2004
            raise ModbusError(ILLEGAL_DATA_VALUE)

    def apply(self, name: str, value: Value) -> None:
        """Take a limit, a setting, or a sign of life."""
        super().apply(name, value)
        if name == "alive" and value == 1:
            self._alive_at_s = self.now_s  # the fail-safe holds until a limit is written
        elif name == "current_limit" and isinstance(value, int):
            self.command(float(value))

    def values(self) -> Mapping[str, Value]:
        """Cable and charging state, the meter, the limit; strings one character a word."""
        view = self.view()
        alive = self._alive_at_s is not None and (
            self.now_s - self._alive_at_s < float(self.settings["watchdog_timeout"]) / 2
        )
        return self.meter_values() | {
            "serial": _utf16("SIM0000000000000000000004"),
            "brand": _utf16("Vestel"),
            "model": _utf16("EVC04"),
            "firmware": _utf16("v3.187.0"),
            "number_of_phases": 0,
            "chargepoint_state": {"A": 0, "B": 1, "C": 3}.get(view.state, 7),
            "charging_state": 1 if view.state == "C" else 0,
            "cable_state": 0 if view.state == "A" else 3,
            "fault_code": 0,
            "energy_total": 3000.0 + view.session_energy_kwh,
            "energy_session": view.session_energy_kwh,
            "session_time": 0,
            "current_limit": round(self.commanded_a),
            "alive": 1 if alive else 0,
        }


class KebaDevice(ChargerDevice):
    """
    KEBA KeContact P30 c-series (Modbus TCP, unit 255): every value is read alone.

    A read covering more than one value answers exception 2 (evcc: no reads across
    register boundaries). Limits arrive in mA (6000-63000 on a P30), the enable register
    pauses; once a fail-safe timeout is set, a master that writes nothing for that long
    gets the fail-safe current. Settings are read back at 1600/1602.
    """

    product_type = 311011
    """P30 c-series, 32 A cable, with a meter and RFID (a P40 has 7 digits: `402...`)."""

    def __init__(self, profile: Profile, device_id: int, site: Site, *, name: str) -> None:
        """Start enabled, no fail-safe timeout (0 = off, as from the factory)."""
        super().__init__(profile, device_id, site, name=name)
        self.settings |= {"failsafe_current": 0.0, "watchdog_timeout": 0, "enable": 1}
        self._written_at_s = 0.0
        self._starts = {r.address: r for r in profile.registers.values()}

    def read(self, function_code: int, unit_id: int, address: int, count: int) -> list[int]:
        """Answer only reads of exactly one value."""
        register = self._starts.get(address)
        if register is None or register.count != count:
            self.on_request()
            raise ModbusError(ILLEGAL_DATA_ADDRESS)
        return super().read(function_code, unit_id, address, count)

    def tick(self, dt_s: float) -> None:
        """Apply the fail-safe current after the timeout without a write."""
        super().tick(dt_s)
        timeout_s = float(self.settings["watchdog_timeout"])
        if timeout_s and not self.in_failsafe and self.now_s - self._written_at_s >= timeout_s:
            self.fall_back(float(self.settings["failsafe_current"]))

    def validate(self, name: str, value: Value) -> None:
        """P30 ranges: limit 6-63 A, fail-safe 0 or 6-32 A, timeout 0 or 10-600 s."""
        number = float(value) if isinstance(value, float | int) else math.nan
        if name == "current_limit" and not 6 <= number <= 63:  # noqa: PLR2004
            raise ModbusError(ILLEGAL_DATA_VALUE)
        if name == "failsafe_current" and not _zero_or_within(value, 6, 32):
            raise ModbusError(ILLEGAL_DATA_VALUE)
        if name == "watchdog_timeout" and not _zero_or_within(value, 10, 600):
            raise ModbusError(ILLEGAL_DATA_VALUE)
        if name == "enable" and value not in {0, 1}:
            raise ModbusError(ILLEGAL_DATA_VALUE)

    def apply(self, name: str, value: Value) -> None:
        """Any write is a sign of life; limits and enable reach the car."""
        super().apply(name, value)
        self._written_at_s = self.now_s
        if name in {"current_limit", "enable"}:
            enabled = self.settings["enable"] == 1
            limit = float(self.settings.get("current_limit", 0.0))
            self.command(limit if enabled else 0.0)

    def values(self) -> Mapping[str, Value]:
        """Cable and charging state, the meter (mA, mW, 0.1 Wh), the read-backs."""
        view = self.view()
        charging = {"A": 1, "B": 2 if self.applied_a else 5, "C": 3}.get(view.state, 4)
        return self.meter_values() | {
            "charging_state": charging,
            "cable_state": 0 if view.state == "A" else 7,
            "error_code": 0,
            "serial_number": 22000001,
            "product_type": self.product_type,
            "firmware_version": 0x030A1000,
            "energy_total": (2000.0 + view.session_energy_kwh) * _W_PER_KW,
            "failsafe_current_readback": self.settings["failsafe_current"],
            "watchdog_timeout_readback": self.settings["watchdog_timeout"],
        }


class BenderDevice(ChargerDevice):
    """
    Bender CC612/CC613 in energy-manager mode (Modbus TCP, unit 255).

    The energy manager's limit (1000, A) reaches the car and reads back; 0 pauses. The
    safe current (131) is set in the web interface, read-only over Modbus. A controller
    without a meter (`metered` False) answers all ones for currents, power and energy
    (evcc). It keeps the last limit when the energy manager goes silent: no source read
    documents a fall-back.
    """

    safe_current_a: int = 10
    """What the installer set in the web interface."""
    _METER: Final = frozenset(
        {"current_l1", "current_l2", "current_l3", "power_total", "energy_total"}
    )

    def __init__(
        self, profile: Profile, device_id: int, site: Site, *, name: str, metered: bool = True
    ) -> None:
        """Start with no energy-manager limit written (0 A: nothing offered)."""
        super().__init__(profile, device_id, site, name=name)
        self.metered = metered
        self.settings |= {"current_limit": 0}

    def validate(self, name: str, value: Value) -> None:
        """Accept 0 or 6-32 A in the limit registers."""
        if name in {"current_limit", "hems_current_limit_0_1a"} and not _zero_or_within(
            value, MIN_CHARGE_A, 32
        ):
            raise ModbusError(ILLEGAL_DATA_VALUE)

    def apply(self, name: str, value: Value) -> None:
        """Pass a limit to the car."""
        super().apply(name, value)
        if name == "current_limit" and isinstance(value, int | float):
            self.command(float(value))

    def _words(self, register: Register, values: Mapping[str, Value]) -> list[int]:
        if not self.metered and register.name in self._METER:
            return [0xFFFF] * register.count
        return super()._words(register, values)

    def values(self) -> Mapping[str, Value]:
        """Control-pilot state 1-5, the meter in mA, W and Wh."""
        view = self.view()
        return self.meter_values() | {
            "energy_total": 4000.0 + view.session_energy_kwh,
            "charger_state": {"A": 1, "B": 2, "C": 3, "D": 4}.get(view.state, 5),
            "failsafe_current": self.safe_current_a,
            "firmware_version": "5.2",
            "protocol_version": 0x0100,
            "relay_state": 1 if view.state == "C" else 0,
            "charge_point_model": "AMTRON Professional",
        }


class WebastoNextDevice(ChargerDevice):
    """
    Webasto / Ampure NEXT (Modbus TCP, unit 255; TQ-DM100 register set).

    Every value is read alone: a read covering an address between values answers
    exception 2 (OpenEMS: "cannot read the gaps"). The communication timeout (2002) and
    safe current (2000) are the installer's, read-only; once the master wrote the life bit
    (6000 = 1), a master that writes none for the timeout gets the safe current.
    """

    timeout_s: int = 20
    """The communication timeout set in the web interface (0 = no monitoring)."""
    safe_current_a: int = 6

    def __init__(self, profile: Profile, device_id: int, site: Site, *, name: str) -> None:
        """Start with nothing written: 0 A offered, no life bit seen."""
        super().__init__(profile, device_id, site, name=name)
        self.settings |= {"current_limit": 0, "alive": 0}
        self._alive_at_s: float | None = None
        self._addresses = {
            (r.function_code, address)
            for r in profile.registers.values()
            for address in range(r.address, r.end)
        }

    def read(self, function_code: int, unit_id: int, address: int, count: int) -> list[int]:
        """Refuse reads that cover an address between values."""
        if any((function_code, a) not in self._addresses for a in range(address, address + count)):
            self.on_request()
            raise ModbusError(ILLEGAL_DATA_ADDRESS)
        return super().read(function_code, unit_id, address, count)

    def tick(self, dt_s: float) -> None:
        """Apply the safe current when the life bit stayed unwritten for the timeout."""
        super().tick(dt_s)
        if self._alive_at_s is None or self.in_failsafe or not self.timeout_s:
            return
        if self.now_s - self._alive_at_s >= self.timeout_s:
            self.fall_back(float(self.safe_current_a))

    def validate(self, name: str, value: Value) -> None:
        """Accept a limit of 0 or 6-32 A and a life bit of 1."""
        if name == "current_limit" and not _zero_or_within(value, MIN_CHARGE_A, 32):
            raise ModbusError(ILLEGAL_DATA_VALUE)
        if name == "alive" and value != 1:
            raise ModbusError(ILLEGAL_DATA_VALUE)

    def apply(self, name: str, value: Value) -> None:
        """Take a limit or a sign of life."""
        super().apply(name, value)
        if name == "alive":
            self._alive_at_s = self.now_s
        elif name == "current_limit" and isinstance(value, int | float):
            self.command(float(value))

    def values(self) -> Mapping[str, Value]:
        """State 0/1/3/4/7, currents in mA, power, energy in Wh, the installer's settings."""
        view = self.view()
        paused = view.state == "B" and self.applied_a < MIN_CHARGE_A
        state = {"A": 0, "B": 4 if paused else 1, "C": 3}.get(view.state, 7)
        return self.meter_values() | {
            "charger_state": state,
            "cable_state": 0 if view.state == "A" else 1,
            "energy_total": 5000.0 + view.session_energy_kwh,
            "max_current": 32,
            "min_current": 6,
            "max_evse_current": 32,
            "failsafe_current": self.safe_current_a,
            "watchdog_timeout": self.timeout_s,
            "alive": 0,
        }


_PHOENIX_CURRENTS: Final = ("current_l1", "current_l2", "current_l3")


class _PhoenixCoilDevice(ChargerDevice):
    """
    Phoenix Contact EV-ETH / EV-SER: a limit register (6 A and more) and an enable coil.

    The car gets the limit while the coil is on, 0 A while it is off. Neither keeps a
    communication timeout (no source documents one): silent masters leave it as it is.
    A limit of 0 is refused (exception 3): the register's range starts at 6 A.
    """

    max_limit_a: int = 32
    _LETTER_SHIFT: int = 0

    def __init__(self, profile: Profile, device_id: int, site: Site, *, name: str) -> None:
        """Start enabled at 16 A (a charger without a master charges at its own limit)."""
        super().__init__(profile, device_id, site, name=name)
        self.settings |= {"current_limit": 16, "charging_enabled": 1}
        self._update()

    def coil_follows(self) -> bool:
        """Tell whether the coil switches charging (the EV-SER only with 4000 = 3)."""
        return True

    def validate(self, name: str, value: Value) -> None:
        """Accept a limit of 6 A up to the model's maximum."""
        if name == "current_limit" and not (
            isinstance(value, int | float) and MIN_CHARGE_A <= value <= self.max_limit_a
        ):
            raise ModbusError(ILLEGAL_DATA_VALUE)

    def apply(self, name: str, value: Value) -> None:
        """Take a limit or a coil."""
        super().apply(name, value)
        self._update()

    def _update(self) -> None:
        limit = self.settings["current_limit"]
        enabled = bool(self.settings["charging_enabled"]) or not self.coil_follows()
        self.command(float(limit) if enabled and isinstance(limit, int | float) else 0.0)

    def _letter_word(self, state: str) -> int:
        return ord(state) << self._LETTER_SHIFT

    def values(self) -> Mapping[str, Value]:
        """Report the state as an ASCII letter in its byte."""
        return {"charger_state": self._letter_word(self.view().state)}


class PhoenixEvEthDevice(_PhoenixCoilDevice):
    """EV-ETH (Modbus TCP, unit 255): the letter in input 100's low byte, whole amperes."""

    def values(self) -> Mapping[str, Value]:
        """State, currents, power and energy (Phoenix firmware, whole amperes)."""
        view = self.view()
        meter = self.meter_values()
        return (
            meter
            | {
                name: float(round(current))
                for name, current in zip(_PHOENIX_CURRENTS, self.line_currents(), strict=True)
            }
            | {
                "charger_state": self._letter_word(view.state),
                "energy_total": 3000.0 + view.session_energy_kwh,
                "firmware": "3.0",
                "error_code": 0,
            }
        )


class PhoenixEvSerDevice(_PhoenixCoilDevice):
    """
    EV-SER (EV Charge Control Basic, RS-485): "B1"-style state in input 24000, no meter.

    At factory settings register 4000 is 1: charging follows the EN input (taken as on
    here) and the coil changes nothing; an installer sets 4000 to 3 for the coil to work.
    The coil's value after power-up is not documented: 0 here.
    """

    max_limit_a = 63
    _LETTER_SHIFT = 8

    def __init__(self, profile: Profile, device_id: int, site: Site, *, name: str) -> None:
        """Start at factory settings: 4000 = 1 (input EN), coil off, 16 A."""
        super().__init__(profile, device_id, site, name=name)
        self.settings |= {"enable_mode": 1, "charging_enabled": 0}
        self._update()

    def coil_follows(self) -> bool:
        """Tell whether the coil switches charging: only with 4000 = 3."""
        return self.settings.get("enable_mode") == 3  # noqa: PLR2004 (the manual's value)

    def power_cycle(self) -> None:
        """Lose the volatile coil and limit in a power cut (back to off and 16 A)."""
        self.settings |= {"charging_enabled": 0, "current_limit": 16}
        self._update()

    def values(self) -> Mapping[str, Value]:
        """Report the letter and the PWM digit ("B1": no PWM, "C2": PWM on)."""
        state = self.view().state
        digit = "2" if self.applied_a >= MIN_CHARGE_A and state in "BCD" else "1"
        if state in "EF":
            digit = "0"
        return {
            "charger_state": self._letter_word(state) | ord(digit),
            "cp_current": round(self.applied_a),
            "order_designation": "EV-CC-AC1-M3-CBC-RCM-SER",
        }


class PhoenixCharxDevice(ChargerDevice):
    """
    CHARX SEC, charging point 1 (Modbus TCP, unit 1).

    The letter in 1299's high byte, the limit in 1301 (0 pauses), a meter in mA, mW and
    Wh. No source documents a fall-back.
    """

    def __init__(self, profile: Profile, device_id: int, site: Site, *, name: str) -> None:
        """Start at 16 A."""
        super().__init__(profile, device_id, site, name=name)
        self.settings |= {"current_limit": 16}
        self.command(16.0)

    def validate(self, name: str, value: Value) -> None:
        """Accept 0 or 6-32 A."""
        if name == "current_limit" and not _zero_or_within(value, MIN_CHARGE_A, 32):
            raise ModbusError(ILLEGAL_DATA_VALUE)

    def apply(self, name: str, value: Value) -> None:
        """Pass a limit to the car."""
        super().apply(name, value)
        if name == "current_limit" and isinstance(value, int | float):
            self.command(float(value))

    def values(self) -> Mapping[str, Value]:
        """State, meter, one controller, a meter fitted."""
        view = self.view()
        return self.meter_values() | {
            "charger_state": ord(view.state) << 8,
            "energy_total": 6000.0 + view.session_energy_kwh,
            "num_controllers": 1,
            "meter_type": 1,
            "name": "CHARX SEC-3100",
            "sw_version": "1.6",
        }


def _utf16(text: str) -> str:
    """Text as a register string of one UTF-16BE character per register (ASCII only)."""
    return "".join(f"\x00{char}" for char in text)


def _zero_or_within(value: Value, low: float, high: float) -> bool:
    if not isinstance(value, float | int):
        return False
    return value == 0 or low <= value <= high


_CHARGER_CLASSES: Final[Mapping[str, type[ChargerDevice]]] = {
    "heidelberg_energy_control": HeidelbergDevice,
    "abb_terra_ac": AbbTerraDevice,
    "evse_wb_din": EvseWbDevice,
    "alfen_eve": AlfenDevice,
    "vestel_evc04": VestelDevice,
    "keba_p30_p40": KebaDevice,
    "bender_cc612_cc613": BenderDevice,
    "webasto_next": WebastoNextDevice,
    "amperfied_connect": AmperfiedConnectDevice,
    "phoenix_ev_eth": PhoenixEvEthDevice,
    "phoenix_ev_ser": PhoenixEvSerDevice,
    "phoenix_charx": PhoenixCharxDevice,
}


def build_device(
    model: str,
    device_id: int,
    site: Site,
    *,
    charger_name: str | None = None,
    line: LineSettings | None = None,
) -> ProfileDevice:
    """
    Build the personality of a `registers.yaml` model id at `device_id`.

    Chargers report the site charger `charger_name`. Raises KeyError for a model that is
    not in the first wave.
    """
    profile = get_profile(model)
    if model == "chint_dtsu666":
        return ChintDtsu666Device(profile, device_id, site, line=line)
    if model == "carlogavazzi_em24_rs485":
        return Em24Device(profile, device_id, site, line=line)
    if model == "abb_b21":
        return AbbB21Device(device_id, site, line=line)
    if model in METERS:
        return MeterDevice(profile, device_id, site, line=line)
    if model in _CHARGER_CLASSES:
        if charger_name is None:
            msg = f"{model} needs the name of the site charger it reports"
            raise ValueError(msg)
        return _CHARGER_CLASSES[model](profile, device_id, site, name=charger_name)
    msg = f"{model} is not a simulated model; choose from {', '.join(METERS + CHARGERS)}"
    raise KeyError(msg)
