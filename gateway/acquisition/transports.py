"""The link a site's link spec asks for: the one place that knows every transport.

Kept apart from link.py so the interface imports no implementation (they import
its errors and stats) and a new protocol is one more branch here.
"""

from __future__ import annotations

from gateway.acquisition.link import Link
from gateway.acquisition.meter_link import MeterLink
from gateway.acquisition.rtu import RtuModbusLink
from gateway.acquisition.tcp import TcpModbusLink
from gateway.core.site import Link as LinkConfig
from gateway.core.site import TcpLink


def make_link(link_id: str, config: LinkConfig) -> Link:
    if isinstance(config, TcpLink):
        return TcpModbusLink(link_id, config)
    if config.protocol != "modbus":
        return MeterLink(link_id, config)
    return RtuModbusLink(link_id, config)
