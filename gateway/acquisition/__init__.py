"""Acquisition: links → read plans → one scheduler per bus → decoded readings.

``link`` is the interface to a bus, which ``tcp`` and ``rtu`` implement on
the wire (``modbus``: what they share; ``rtu_sync``: the stale-reply books,
pure); ``planner`` and ``bus_budget`` decide what to read and whether it fits
(pure); ``scheduler`` owns a bus's queue (writes first, back-off, isolation);
``buses`` runs every bus; readings go out through ``stream``. Upper layers see
``Reading`` and ``WriteOutcome`` and little else.
"""

from gateway.acquisition.bus_budget import budget_problems
from gateway.acquisition.buses import AcquisitionEngine, UnknownTarget
from gateway.acquisition.health import DeviceState, HealthPolicy
from gateway.acquisition.link import DeviceException, Link, LinkError
from gateway.acquisition.reading import Reading, WriteOutcome
from gateway.acquisition.scheduler import DevicePoller, LinkScheduler
from gateway.acquisition.stream import ReadingStream, Subscription
from gateway.acquisition.transports import make_link

__all__ = [
    "AcquisitionEngine", "DeviceException", "DevicePoller", "DeviceState", "HealthPolicy",
    "Link", "LinkError", "LinkScheduler", "Reading", "ReadingStream", "Subscription",
    "UnknownTarget", "WriteOutcome", "budget_problems", "make_link",
]
