"""The reference voice service (`booth devserver`): the whole booth protocol on one port.

Needs the ``devserver`` extra (aiohttp, PyJWT).
"""

from booth.devserver.calls import Call, CallStatus
from booth.devserver.faults import Faults, RestFaults, SocketFaults
from booth.devserver.server import DevServer
from booth.devserver.settings import Settings

__all__ = ["Call", "CallStatus", "DevServer", "Faults", "RestFaults", "Settings", "SocketFaults"]
