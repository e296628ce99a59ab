"""
Measure one control cycle's bus time through the product's Bus, with wire time emulated.

One cycle: the meter's phase voltages, currents and powers (and total power), each
charger's state and phase currents, and one setpoint write, all read as the product's
planner merges them, over the simulator's pty at the given baud rate with wire time on.

    .venv/bin/python -m tools.bus_timing [--baud 9600] [--cycles 20]

The line runs 8N2 (11 bits a character, as Modbus RTU without parity requires): a pty
cannot keep parity, and 8E1 has the same 11 bits, so the timing is that of 8E1 too.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

from custom_components.headroom.devices.bus import Bus, BusDevice, SerialSettings
from custom_components.headroom.devices.planner import ReadBlock, plan_reads
from custom_components.headroom.devices.registers import Profile, encode, get_profile
from tools.simulator import DeviceSpec, LineSettings, Simulator, StaticCharger, StaticSite

if TYPE_CHECKING:
    from collections.abc import Sequence

METER = "eastron_sdm630"
CHARGER = "heidelberg_energy_control"
METER_NAMES = (
    *(f"voltage_l{phase}" for phase in (1, 2, 3)),
    *(f"current_l{phase}" for phase in (1, 2, 3)),
    *(f"power_l{phase}" for phase in (1, 2, 3)),
    "power_total",
)
CHARGER_NAMES = ("charger_state", "current_l1", "current_l2", "current_l3")


def plan(profile: Profile, names: Sequence[str]) -> list[ReadBlock]:
    """Merge the wanted registers into read blocks, as the drivers do."""
    return plan_reads(
        [profile.register(name) for name in names],
        max_registers=profile.max_registers_per_read,
        mapped=profile.registers.values(),
    )


async def read_blocks(device: BusDevice, blocks: Sequence[ReadBlock]) -> None:
    """Read every block of a plan."""
    for block in blocks:
        if block.function_code == 4:  # noqa: PLR2004 (input registers)
            await device.read_input(block.address, block.count)
        else:
            await device.read_holding(block.address, block.count)


async def measure(baud: int, cycles: int) -> list[float]:
    """Run `cycles` control cycles; return each one's bus time in seconds."""
    meter_profile, charger_profile = get_profile(METER), get_profile(CHARGER)
    meter_plan = plan(meter_profile, METER_NAMES)
    charger_plan = plan(charger_profile, CHARGER_NAMES)
    limit = charger_profile.register("current_limit")
    site = StaticSite(chargers=[StaticCharger(name="garage"), StaticCharger(name="driveway")])
    with tempfile.TemporaryDirectory() as directory:
        link = Path(directory) / "ttyRS485"
        simulator = Simulator(
            site,
            [
                DeviceSpec(METER, 1),
                DeviceSpec(CHARGER, 2, "garage"),
                DeviceSpec(CHARGER, 3, "driveway"),
            ],
            line=LineSettings(baud, "N", 2),
            wire_time=True,
            link=link,
            modbus_tcp_port=None,
            rtu_over_tcp_port=None,
        )
        await simulator.start()
        bus = Bus(SerialSettings(str(link), baud, "N", 2), timeout_s=1.0, retries=0)
        try:
            await bus.connect()
            meter = bus.device(1, pacing_s=meter_profile.pacing_s)
            chargers = [bus.device(i, pacing_s=charger_profile.pacing_s) for i in (2, 3)]
            durations = []
            for cycle in range(cycles + 1):
                started = time.monotonic()
                for charger in chargers:
                    await read_blocks(charger, charger_plan)
                await read_blocks(meter, meter_plan)
                setpoint = encode(limit, 6.0 + cycle % 10)
                await chargers[0].write(
                    limit.address, setpoint, function_code=charger_profile.write_function_code
                )
                # The first cycle opens nothing but still pays the chargers' first pacing.
                if cycle:
                    durations.append(time.monotonic() - started)
                await asyncio.sleep(0.2)
            return durations
        finally:
            await bus.close()
            await simulator.close()


def main(argv: Sequence[str] | None = None) -> int:
    """Print the cycle's bus time (mean, max) and what one cycle sends."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--baud", type=int, default=9600)
    parser.add_argument("--cycles", type=int, default=20)
    args = parser.parse_args(argv)
    durations = asyncio.run(measure(args.baud, args.cycles))
    meter_blocks = plan(get_profile(METER), METER_NAMES)
    charger_blocks = plan(get_profile(CHARGER), CHARGER_NAMES)
    print(
        f"one cycle at {args.baud} baud 8N2 (11 bits/char), wire time emulated: "
        f"meter {[(b.address, b.count) for b in meter_blocks]}, "
        f"2 chargers x {[(b.address, b.count) for b in charger_blocks]}, 1 setpoint write"
    )
    print(
        f"bus time per cycle over {len(durations)} cycles: "
        f"mean {statistics.mean(durations) * 1000:.1f} ms, "
        f"max {max(durations) * 1000:.1f} ms"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
