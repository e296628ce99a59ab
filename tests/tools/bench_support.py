"""Tiny synthetic traces and scenarios for the benchmark tests (right answers known by hand)."""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from tools.bench.scenario import Scenario, parse_scenario

HOUSE_HEADER = (
    "timestamp,active_power_W,reactive_power_var,voltage_V,current_A,"
    "sub1_kitchen_W,sub2_laundry_W,sub3_waterheater_ac_W,imputed"
)
START = dt.datetime.fromisoformat("2006-12-23T00:00:00")  # local wall clock, as the traces

# One house minute: (active_power_W, current_A, kitchen_W, laundry_W, water_heater_ac_W)
HouseRow = tuple[float, float, float, float, float]


class Traces:
    """Writes trace files into a test's directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def house(
        self, rows: Sequence[HouseRow], *, start: dt.datetime = START, name: str = "house.csv"
    ) -> str:
        """Write a household trace with one row per minute from `start`."""
        return write_house(self.directory, rows, start=start, name=name)

    def pv(
        self,
        days: Sequence[tuple[dt.date, Callable[[int], float]]],
        *,
        partial_minutes: int = 0,
        name: str = "pv.csv",
    ) -> str:
        """Write a PV trace (see `write_pv`)."""
        return write_pv(self.directory, days, partial_minutes=partial_minutes, name=name)

    @staticmethod
    def constant_house(minutes: int, current_a: float = 10.0) -> list[HouseRow]:
        """A single-phase house drawing `current_a` (at 230 V) every minute."""
        return constant_house(minutes, current_a)

    def build(self, raw: dict[str, Any], house: Sequence[HouseRow] | None = None) -> Scenario:
        """Parse a scenario mapping here, writing a 1-hour 10 A house trace if none is."""
        if house is not None or not (self.directory / "house.csv").exists():
            self.house(house if house is not None else constant_house(60))
        return parse_scenario(copy.deepcopy(raw), base_dir=self.directory)


def write_house(
    directory: Path,
    rows: Sequence[HouseRow],
    *,
    start: dt.datetime = START,
    name: str = "house.csv",
) -> str:
    """Write a household trace with one row per minute from `start`."""
    lines = [HOUSE_HEADER]
    for minute, (power, current, kitchen, laundry, heater) in enumerate(rows):
        stamp = (start + dt.timedelta(minutes=minute)).isoformat()
        lines.append(f"{stamp},{power},0,230,{current},{kitchen},{laundry},{heater},0")
    (directory / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return name


def write_pv(
    directory: Path,
    days: Sequence[tuple[dt.date, Callable[[int], float]]],
    *,
    partial_minutes: int = 0,
    name: str = "pv.csv",
) -> str:
    """Write a PV trace: whole days with power(minute_of_day), then an optional partial day."""
    lines = ["timestamp,ac_power_W,poa_irradiance_Wm2,module_temp_C,ambient_temp_C,ac_voltage_V"]
    for day, power in days:
        for minute in range(1440):
            stamp = dt.datetime.combine(day, dt.time()) + dt.timedelta(minutes=minute)
            lines.append(f"{stamp.isoformat()}-07:00,{power(minute)},0,0,0,120")
    if partial_minutes:
        last = dt.datetime.combine(days[-1][0], dt.time()) + dt.timedelta(days=1)
        for minute in range(partial_minutes):
            stamp = last + dt.timedelta(minutes=minute)
            lines.append(f"{stamp.isoformat()}-07:00,99999,0,0,0,120")
    (directory / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return name


def constant_house(minutes: int, current_a: float = 10.0) -> list[HouseRow]:
    """A single-phase house drawing `current_a` (at 230 V) every minute."""
    return [(current_a * 230, current_a, 0.0, 0.0, 0.0)] * minutes


def base_raw() -> dict[str, Any]:
    """A valid scenario: 20 A single-phase site, one 16 A charger, car there 00:00-00:30."""
    return {
        "name": "tiny",
        "site": {"supply": "single_phase", "voltage_v": 230, "breaker_a": 20, "margin_a": 1},
        "household": {"csv": "house.csv", "spread": "total"},
        "chargers": [
            {
                "name": "a",
                "phases": [1],
                "min_a": 6,
                "max_a": 16,
                "sessions": [
                    {
                        "arrive": "00:00",
                        "depart": "00:30",
                        "energy_kwh": 50,
                        "car_max_a": 16,
                        "car_phases": 1,
                        "response_s": 0,
                    }
                ],
            }
        ],
        "mode": "fast",
    }
