"""
Modbus device simulator: first-wave meters and chargers on a pty RS-485 line and TCP.

Start it with `scripts/simulate` (see `python -m tools.simulator --help`), or in tests:

    site = StaticSite(chargers=[StaticCharger(name="garage")])
    simulator = Simulator(site, [DeviceSpec("eastron_sdm630", 1),
                                 DeviceSpec("heidelberg_energy_control", 2, "garage")],
                          line=LineSettings(19200, "E"), link=tmp_path / "ttyRS485")
    await simulator.start()   # then connect to simulator.endpoints()
"""

from .line import Faults, LineSettings, SimulatedLine
from .personalities import CHARGERS, METERS, build_device
from .pty_server import PtyServer
from .simulator import DeviceSpec, Endpoints, Simulator
from .site import Site, StaticCharger, StaticSite
from .tcp_server import TcpServer

__all__ = [
    "CHARGERS",
    "METERS",
    "DeviceSpec",
    "Endpoints",
    "Faults",
    "LineSettings",
    "PtyServer",
    "SimulatedLine",
    "Simulator",
    "Site",
    "StaticCharger",
    "StaticSite",
    "TcpServer",
    "build_device",
]
