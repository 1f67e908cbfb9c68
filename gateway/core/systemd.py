"""systemd integration without a dependency: sd_notify and a progress-gated watchdog.

The notify protocol is one datagram to ``$NOTIFY_SOCKET``; the unmaintained
Python packages for it add nothing. The watchdog is fed only while the poll
and publish loops make progress, so a hung loop gets the service restarted
(``WatchdogSec`` + ``Restart=on-failure``) instead of idling forever.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Callable

log = logging.getLogger("escogw.systemd")


def notify(message: str) -> bool:
    """Send one sd_notify message; False when not running under systemd."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]  # abstract namespace
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(address)
            sock.sendall(message.encode())
        return True
    except OSError as exc:
        log.warning("sd_notify failed: %s", exc)
        return False


def watchdog_interval_s() -> float | None:
    """Half of systemd's WatchdogSec for this process, or None when there is none."""
    usec = os.environ.get("WATCHDOG_USEC")
    pid = os.environ.get("WATCHDOG_PID")
    if not usec or (pid and pid != str(os.getpid())):
        return None
    try:
        return int(usec) / 2_000_000
    except ValueError:
        return None


def reloading() -> None:
    monotonic_us = int(time.clock_gettime(time.CLOCK_MONOTONIC) * 1_000_000)
    notify(f"RELOADING=1\nMONOTONIC_USEC={monotonic_us}")


class Watchdog:
    """Feeds systemd's watchdog while every ``progress`` counter keeps moving.

    ``progress`` maps a loop's name to a function returning a counter that the
    loop increments whenever it does work or wakes up; a counter that has not
    moved since the last check means that loop is stuck.
    """

    def __init__(self, progress: dict[str, Callable[[], int]], interval_s: float):
        self.progress = progress
        self.interval_s = interval_s
        self._last: dict[str, int] = {}
        self.fed = 0
        self.checks = 0
        self.stuck: list[str] = []

    def check(self) -> bool:
        self.checks += 1
        now = {name: fn() for name, fn in self.progress.items()}
        self.stuck = [n for n, v in now.items() if n in self._last and v == self._last[n]]
        self._last = now
        return not self.stuck

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            if self.check():
                notify("WATCHDOG=1")
                self.fed += 1
            else:
                log.error("watchdog not fed: no progress in %s", ", ".join(self.stuck))
