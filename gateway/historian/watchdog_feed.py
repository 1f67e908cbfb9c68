"""When the historian feeds systemd's watchdog: only while it makes progress.

The writer thread's progress counter (``Historian.progress``) moves at least once a second
while it works or waits normally — each batch, each retry against a database that is down,
each idle wake-up. The watchdog is fed when the counter moved since the last check and the
threads (ours and paho's network thread) are alive; otherwise it starves and systemd
restarts the historian. This module decides; gateway/historian/run.py notifies systemd.
"""

from __future__ import annotations


class ProgressCheck:
    """Compares each check's progress with the previous one's."""

    __slots__ = ("last",)

    def __init__(self, progress: int):
        #: the progress counter at the previous check (or at the start)
        self.last = progress

    def feed(self, progress: int, threads_alive: bool) -> bool:
        """Whether to feed the watchdog now; ``progress`` becomes the next check's baseline."""
        moved = progress != self.last
        self.last = progress
        return moved and threads_alive
