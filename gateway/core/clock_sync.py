"""Is this box's clock synchronised? The kernel's own answer (adjtimex, read-only).

Every reading, interval and control decision carries the gateway's time, so a site
whose clock drifts shifts its data against the tariff periods and the other sites.
NTP daemons (systemd-timesyncd, chrony, ntpd) tell the kernel how far off they think
it is; ``adjtimex`` with no mode bits set only reads that back. Linux only; elsewhere
(or where the call is refused) the state is unknown, never a guess.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from dataclasses import dataclass

#: adjtimex's return value when the clock is not synchronised (linux/timex.h)
TIME_ERROR = 5


class _Timeval(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_usec", ctypes.c_long)]


class _Timex(ctypes.Structure):
    """``struct timex`` (linux/timex.h) up to ``tai``, then its reserved words."""

    _fields_ = [("modes", ctypes.c_uint), ("offset", ctypes.c_long), ("freq", ctypes.c_long),
                ("maxerror", ctypes.c_long), ("esterror", ctypes.c_long),
                ("status", ctypes.c_int), ("constant", ctypes.c_long),
                ("precision", ctypes.c_long), ("tolerance", ctypes.c_long),
                ("time", _Timeval), ("tick", ctypes.c_long), ("ppsfreq", ctypes.c_long),
                ("jitter", ctypes.c_long), ("shift", ctypes.c_int), ("stabil", ctypes.c_long),
                ("jitcnt", ctypes.c_long), ("calcnt", ctypes.c_long), ("errcnt", ctypes.c_long),
                ("stbcnt", ctypes.c_long), ("tai", ctypes.c_int),
                ("reserved", ctypes.c_int * 11)]


@dataclass(frozen=True)
class ClockSync:
    #: None: could not be asked
    synced: bool | None
    #: the kernel's maximum error bound, seconds (grows while no NTP server answers)
    max_error_s: float | None


def clock_sync() -> ClockSync:
    """The kernel's view of this clock's synchronisation, now."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name, use_errno=True)
        tx = _Timex()  # modes 0: read only
        state = libc.adjtimex(ctypes.byref(tx))
    except (OSError, AttributeError):
        return ClockSync(None, None)
    if state < 0:
        return ClockSync(None, None)
    return ClockSync(state != TIME_ERROR, tx.maxerror / 1e6)
