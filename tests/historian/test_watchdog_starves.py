"""The historian's watchdog in its failing direction: a write path that hangs (a database
that accepts the connection and never answers) starves the watchdog, so systemd
(``WatchdogSec``) would restart the historian and the broker redeliver what it held.

Mutant: in ``gateway/historian/run.py`` feeding the watchdog unconditionally (``if True:``
for the progress check) — every other historian test still passed.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.historian.hist_helpers import (
    HistorianProcess,
    data_message,
    historian_config,
    publish,
    unique,
    until,
)
from tests.notify import NotifySocket
from tests.services import Mosquitto


@pytest.fixture
def silent_database() -> Iterator[int]:
    """A TCP server that takes every connection and the request, and never answers."""
    server = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def serve() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            held.append(conn)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join(5)
    for conn in held:
        conn.close()
    server.close()


def test_a_hanging_write_starves_the_watchdog(mosquitto: Mosquitto, silent_database: int,
                                             tmp_path: Path, notify_socket: NotifySocket,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    prefix = unique("escogw-hang")
    config = historian_config(
        tmp_path / "h.yaml", mqtt_port=mosquitto.port, prefix=prefix,
        client_id=unique("hist-hang"),
        # the write blocks for up to 120 s: far longer than the watchdog's period
        influx={"api": "v1", "url": f"http://127.0.0.1:{silent_database}", "database": "x",
                "timeout_s": 120})
    notify = notify_socket
    proc = HistorianProcess(config, tmp_path / "h.log")
    # checked every 1.5 s: the idle writer wakes (progress) at least once a second
    monkeypatch.setenv("WATCHDOG_USEC", "3000000")
    proc.start()
    try:
        until(lambda: notify.saw("READY=1"), 20, what="READY=1")
        until(lambda: sum("WATCHDOG=1" in m for m in notify.drain()) >= 2, 10,
              what="the watchdog fed while idle")
        assert "watchdog_not_fed" not in proc.log_text()
        publish(mosquitto.host, mosquitto.port, [data_message(
            prefix, "s1", "m1", "meter", datetime(2026, 7, 15, tzinfo=UTC), 1,
            {"active_power_kw": 1.0})])
        proc.wait_log("event=watchdog_not_fed", 20)
        fed = sum("WATCHDOG=1" in m for m in notify.drain())  # drain() keeps them all
        until(lambda: proc.log_text().count("event=watchdog_not_fed") >= 3, 10,
              what="two more starved checks")  # the write still hangs: neither is fed
        assert sum("WATCHDOG=1" in m for m in notify.drain()) == fed
        assert proc.alive()  # starved, not crashed: systemd does the restart
    finally:
        proc.kill()
