"""What every layer stands on: the site and its profiles, the register codec, the
standard point names, the setpoint policy, the calendar and time-of-use periods,
the injected clock, the source-file loader with its ``file:line`` errors, the
layered settings and sd_notify.

Pure except ``clock`` (time), ``sourcefile`` (reads files) and ``systemd`` (one
datagram socket). Imports nothing from the layers above (docs/architecture.md).
"""

from gateway.core.calendar import DayInfo, DayType, SiteCalendar
from gateway.core.clock import Clock, SystemClock
from gateway.core.codec import CodecError
from gateway.core.policy import COOLING_MODES, HEATING_MODES, SetpointPolicy
from gateway.core.profile import Point, Profile, ProfileLibrary, Value
from gateway.core.semantics import FAN_CODES, MODE_CODES, STANDARD_POINTS
from gateway.core.settings import GatewaySettings
from gateway.core.site import Device, Site, load_site, rules_path_for
from gateway.core.sourcefile import ConfigError, Problem

__all__ = [
    "COOLING_MODES", "FAN_CODES", "HEATING_MODES", "MODE_CODES", "STANDARD_POINTS",
    "Clock", "CodecError", "ConfigError", "DayInfo", "DayType", "Device", "GatewaySettings",
    "Point", "Problem", "Profile", "ProfileLibrary", "SetpointPolicy", "Site", "SiteCalendar",
    "SystemClock", "Value", "load_site", "rules_path_for",
]
