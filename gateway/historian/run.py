"""``escogw historian --config FILE``: run under systemd (or not) until SIGTERM/SIGINT.

- ``READY=1`` once started; ``STOPPING=1`` on the way out.
- The watchdog (``WatchdogSec`` in systemd/escogw-historian.service) is fed
  while the writer thread makes progress — a batch, a retry against a database
  that is down, or its once-a-second idle wake-up — and paho's network thread
  is alive (gateway/historian/watchdog_feed.py decides). A database or broker
  outage is not a hang: restarting would not help, and a restart loop would
  hit ``StartLimitBurst`` and leave the historian dead. A stuck thread is one:
  then systemd restarts us, and the broker delivers again whatever was not
  acknowledged.
- SIGHUP (``systemctl reload``) reads the config again: if it is valid and
  different, the historian stops (writing and acknowledging what it holds) and
  starts with the new one; if not, the running one stays, and the log says why.
"""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path
from types import FrameType

from gateway.core import systemd
from gateway.core.sourcefile import ConfigError
from gateway.historian import logfmt
from gateway.historian.config import load_settings
from gateway.historian.logfmt import event
from gateway.historian.service import Historian
from gateway.historian.watchdog_feed import ProgressCheck

log = logging.getLogger("escogw.historian")


class _Signals:
    def __init__(self) -> None:
        self.stop = threading.Event()
        self.reload = threading.Event()
        self.wake = threading.Event()

    def handle(self, signum: int, frame: FrameType | None) -> None:
        (self.reload if signum == signal.SIGHUP else self.stop).set()
        self.wake.set()


def main(config: str | Path) -> int:
    """Load the config (ConfigError on mistakes), run, stop cleanly on a signal."""
    settings = load_settings(config)
    logfmt.configure(settings.log_level)
    signals = _Signals()
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, signals.handle)
    historian = Historian(settings)
    historian.start()
    systemd.notify("READY=1\nSTATUS=running")
    watchdog_s = systemd.watchdog_interval_s()
    check = ProgressCheck(historian.progress())
    try:
        while not signals.stop.is_set():
            signals.wake.wait(watchdog_s or 1.0)
            signals.wake.clear()
            if signals.reload.is_set():
                signals.reload.clear()
                historian = _reload(config, historian)
                check = ProgressCheck(historian.progress())
                continue
            if watchdog_s:
                progress, alive = historian.progress(), historian.threads_alive()
                if check.feed(progress, alive):
                    systemd.notify("WATCHDOG=1")
                else:
                    event(log, logging.ERROR, "watchdog_not_fed", progress=progress,
                          threads_alive=alive)
    finally:
        systemd.notify("STOPPING=1")
        historian.stop()
    return 0


def _reload(config: str | Path, historian: Historian) -> Historian:
    systemd.reloading()
    try:
        settings = load_settings(config)
    except ConfigError as exc:
        event(log, logging.ERROR, "reload_refused", problems=str(exc))
        systemd.notify("READY=1\nSTATUS=running (reload refused: config has errors)")
        return historian
    if settings == historian.settings:
        event(log, logging.INFO, "reload_unchanged")
        systemd.notify("READY=1")
        return historian
    historian.stop()
    logfmt.configure(settings.log_level)
    historian = Historian(settings)
    historian.start()
    event(log, logging.INFO, "reloaded")
    systemd.notify("READY=1\nSTATUS=running")
    return historian
