"""Modbus wire layer of the device simulators: PDUs, MBAP/RTU framing, faults, servers.

Stdlib and asyncio only. A simulated device plugs in as a `UnitMemory`.
"""

from simulators.modbus.faults import FaultKind, FaultSpec, FaultSpecError, FaultSwitch
from simulators.modbus.memory import DictMemory, ModbusError, Table, UnitMemory
from simulators.modbus.server import (
    ServerHandle,
    UnknownUnit,
    serve_rtu_over_tcp,
    serve_rtu_pty,
    serve_tcp,
)
from simulators.modbus.stats import ServerStats
from simulators.modbus.timing import Parity, StopBits, frame_time_s, read_wire_time_s

__all__ = [
    "DictMemory",
    "FaultKind",
    "FaultSpec",
    "FaultSpecError",
    "FaultSwitch",
    "ModbusError",
    "Parity",
    "ServerHandle",
    "ServerStats",
    "StopBits",
    "Table",
    "UnitMemory",
    "UnknownUnit",
    "frame_time_s",
    "read_wire_time_s",
    "serve_rtu_over_tcp",
    "serve_rtu_pty",
    "serve_tcp",
]
