"""
The device layer's exceptions: each class maps to exactly one behaviour upstream.

- ConnectionLost: the port or gateway is gone (adapter unplugged, socket closed). The bus
  reconnects with backoff; devices on it are unavailable meanwhile.
- NoResponse: the device did not answer in time (after the bus's retries), or answered
  with a frame that failed its checks. That device is unavailable; others carry on.
- DeviceRefused: the device answered with a Modbus exception (illegal address, value...).
  The request is wrong for this device: not retried.
- Unsupported: the profile has no way to do what was asked (a charger without watchdog).
"""

from __future__ import annotations


class DeviceError(Exception):
    """Base class for every error the device layer raises."""


class ConnectionLost(DeviceError):
    """The port or gateway cannot be used."""


class NoResponse(DeviceError):
    """The device did not answer, or the answer was not a valid frame."""


class DeviceRefused(DeviceError):
    """The device answered with a Modbus exception code."""

    def __init__(self, message: str, *, exception_code: int) -> None:
        """Keep the Modbus exception code (1 illegal function, 2 illegal address, ...)."""
        super().__init__(message)
        self.exception_code = exception_code


class Unsupported(DeviceError):
    """The device or its profile cannot do this."""
