"""The gateway's progress-gated watchdog: fed only while every loop moves (issue 20: the
feeding was never tested in its failing direction; mutant: ``check`` returning True)."""

from __future__ import annotations

import asyncio

import pytest

from gateway.core import systemd
from tests.notify import NotifySocket


def test_a_loop_that_stops_moving_is_named_and_starves_the_watchdog() -> None:
    counters = {"bus a": 0, "mqtt publisher": 0}
    dog = systemd.Watchdog({n: (lambda n=n: counters[n]) for n in counters}, 1.0)
    assert dog.check() and dog.stuck == []  # the first look has nothing to compare with
    counters["bus a"] += 1
    counters["mqtt publisher"] += 3
    assert dog.check() and dog.stuck == []
    counters["bus a"] += 1  # the publisher hangs
    assert not dog.check() and dog.stuck == ["mqtt publisher"]
    assert not dog.check() and dog.stuck == ["bus a", "mqtt publisher"]  # now both
    counters["bus a"] += 1
    counters["mqtt publisher"] += 1
    assert dog.check() and dog.stuck == []  # moving again: fed again
    assert dog.checks == 5


class Watched(systemd.Watchdog):
    """Wakes the test after every check."""

    checked: asyncio.Queue[bool]

    def check(self) -> bool:
        ok = super().check()
        self.checked.put_nowait(ok)
        return ok


async def test_run_feeds_only_while_progressing(notify_socket: NotifySocket) -> None:
    """Mutant: ``if self.check():`` in ``Watchdog.run`` made ``if True:``."""
    progress = {"n": 0, "moving": True}

    def counter() -> int:
        progress["n"] += progress["moving"]
        return progress["n"]

    dog = Watched({"loop": counter}, 0.001)
    dog.checked = asyncio.Queue()
    runner = asyncio.create_task(dog.run())
    try:
        for _ in range(3):
            assert await dog.checked.get()
        progress["moving"] = False
        for _ in range(3):
            assert not await dog.checked.get()
        sent = sum(m == "WATCHDOG=1" for m in notify_socket.drain())
        assert sent == dog.fed == 3 and dog.stuck == ["loop"]
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)


@pytest.mark.parametrize(("usec", "pid", "expected"), [
    ("1000000", None, 0.5), ("30000000", "self", 15.0), ("1000000", "1", None),
    (None, None, None), ("x", None, None)])
def test_watchdog_interval_is_half_of_systemds(monkeypatch: pytest.MonkeyPatch, usec: str | None,
                                               pid: str | None, expected: float | None) -> None:
    import os

    for name, value in (("WATCHDOG_USEC", usec),
                        ("WATCHDOG_PID", str(os.getpid()) if pid == "self" else pid)):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    assert systemd.watchdog_interval_s() == expected


def test_notify_reaches_the_socket_and_says_when_it_cannot(
        notify_socket: NotifySocket, monkeypatch: pytest.MonkeyPatch) -> None:
    assert systemd.notify("READY=1") is True
    assert notify_socket.drain()[-1] == "READY=1"
    monkeypatch.setenv("NOTIFY_SOCKET", str(notify_socket.path) + "-gone")
    assert systemd.notify("READY=1") is False  # logged, never raised
    monkeypatch.delenv("NOTIFY_SOCKET")
    assert systemd.notify("READY=1") is False


def test_notify_to_an_abstract_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    import os
    import socket

    name = f"escogw-test-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
        assert systemd.notify("WATCHDOG=1") is True
        sock.settimeout(5)
        assert sock.recv(100) == b"WATCHDOG=1"


def test_reloading_says_when_on_the_monotonic_clock(notify_socket: NotifySocket) -> None:
    import time

    before = time.clock_gettime(time.CLOCK_MONOTONIC) * 1e6
    systemd.reloading()
    after = time.clock_gettime(time.CLOCK_MONOTONIC) * 1e6
    first, second = notify_socket.drain()[-1].split("\n")
    assert first == "RELOADING=1" and second.startswith("MONOTONIC_USEC=")
    assert before - 1 <= int(second.removeprefix("MONOTONIC_USEC=")) <= after + 1


def test_a_new_watchdog_has_nothing_stuck() -> None:
    assert systemd.Watchdog({}, 1.0).stuck == []
