"""The uplink in its failing directions, against real Mosquitto through tests/mqtt_cutter.py:
a window of publishes of which only a prefix reaches the broker, and a command subscription
that goes silent while the connection stays up.

The publisher's code is not looked at: what counts is what reaches the broker and what
stays in the outbox.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from gateway.core.settings import MqttSettings
from gateway.uplink.outbox import Outbox
from gateway.uplink.outbox_writer import AsyncOutbox
from gateway.uplink.publisher import Publisher
from tests.mqtt_cutter import Cutter
from tests.mqtt_probe import Probe
from tests.services import Mosquitto

ROWS = 60


def settings(cutter: Cutter, client_id: str, **overrides: Any) -> MqttSettings:
    return MqttSettings(host="127.0.0.1", port=cutter.port, client_id=client_id,
                        window=ROWS, publish_timeout_s=1.0, reconnect_min_s=0.2,
                        reconnect_max_s=0.5, keepalive_s=5, **overrides)


async def running(publisher: Publisher) -> AsyncIterator[Publisher]:
    task = asyncio.create_task(publisher.run())
    try:
        yield publisher
    finally:
        publisher.stop()
        await asyncio.wait_for(task, 10)


async def wait(probe: Probe, predicate: Callable[[list[tuple[str, bytes, bool]]], bool],
               within_s: float = 20) -> list[tuple[str, bytes, bool]]:
    return await asyncio.to_thread(probe.wait_for, predicate, within_s)


class Connects(logging.Handler):
    """Counts the publisher's "connected" log lines; ``reached(n)`` awaits the n-th."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.count = 0
        self.changed = asyncio.Event()
        self._loop = asyncio.get_running_loop()

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith("mqtt: connected to"):
            self._loop.call_soon_threadsafe(self._bump)

    def _bump(self) -> None:
        self.count += 1
        self.changed.set()

    async def reached(self, n: int) -> None:
        while self.count < n:
            self.changed.clear()
            await self.changed.wait()


@pytest.fixture
async def connects() -> AsyncIterator[Connects]:
    handler = Connects()
    logger = logging.getLogger("escogw.mqtt")
    level = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(level)


@pytest.fixture
async def outbox(tmp_path: Path) -> AsyncIterator[AsyncOutbox]:
    box = AsyncOutbox(Outbox(tmp_path / "outbox.sqlite"))
    yield box
    await box.close()


async def no_command(topic: str, payload: bytes) -> None:
    raise AssertionError(f"no command expected, got {topic}")


async def test_a_window_cut_after_ten_publishes_loses_nothing(mosquitto: Mosquitto,
                                                              outbox: AsyncOutbox) -> None:
    """The first connection passes ten data messages of a 60-message window to the broker
    and loses the rest (no PUBACK: each times out); the outbox must keep exactly those, and
    the next connection delivers them.

    Mutant: in ``Publisher._drain``, acknowledging the whole window (``done = list(rows)``)
    instead of the PUBACKed prefix — survived every test while outages only came between
    windows.
    """
    site = "t20-cut"
    seen = {"data": 0}

    def first_ten_only(n: int, topic: str) -> bool:
        if cutter.connections > 1 or not topic.endswith("/data"):
            return True
        seen["data"] += 1
        return seen["data"] <= 10

    probe = Probe(mosquitto.host, mosquitto.port, f"escogw/{site}/+/data",
                  client_id=f"{site}-probe", persistent=False)
    try:
        await outbox.put([(f"escogw/{site}/dev{i % 3}/data", json.dumps({"seq": i}).encode())
                          for i in range(1, ROWS + 1)])
        async with Cutter(mosquitto.host, mosquitto.port, forward_up=first_ten_only) as cutter:
            publisher = Publisher(settings(cutter, f"{site}-gw"), site, outbox, no_command)
            async for _ in running(publisher):
                # delivered by the second connection, not lost by the first
                await wait(probe, lambda m: {json.loads(p)["seq"] for _, p, _ in m}
                           >= set(range(1, ROWS + 1)))
        assert len(cutter.lost_up) == ROWS - 10  # the cut really fell inside the window
        assert cutter.connections >= 2
        first = [json.loads(p)["seq"] for _, p, _ in probe.messages][:10]
        assert first == list(range(1, 11))
    finally:
        probe.close()


async def test_a_silent_subscription_is_alarmed_and_resubscribed(
        mosquitto: Mosquitto, outbox: AsyncOutbox, caplog: pytest.LogCaptureFixture,
        connects: Connects) -> None:
    """The broker stops delivering to the gateway (its own heartbeat no longer comes back)
    while the connection stays up: the gateway says so and rebuilds the connection, and once
    delivery works again a command gets through.

    Mutant: the silence check in ``Publisher._heartbeat`` never firing — the gateway would
    stay connected and deaf to every command.
    """
    site = "t20-silent"
    commands: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()

    async def on_command(topic: str, payload: bytes) -> None:
        await commands.put((topic, payload))

    deaf = {"on": True}
    probe = Probe(mosquitto.host, mosquitto.port, f"escogw/{site}/gateway/state",
                  client_id=f"{site}-probe", persistent=False)
    try:
        async with Cutter(mosquitto.host, mosquitto.port,
                          forward_down=lambda topic: not deaf["on"]) as cutter:
            publisher = Publisher(settings(cutter, f"{site}-gw", heartbeat_s=0.4), site,
                                  outbox, on_command)
            async for _ in running(publisher):
                await asyncio.wait_for(connects.reached(2), 15)
                assert any("silent" in r.getMessage() for r in caplog.records)
                assert cutter.lost_down  # the heartbeat really was swallowed
                deaf["on"] = False  # delivery works again: a command gets through
                cmd = f"escogw/{site}/ac-1/cmd"
                await asyncio.to_thread(probe.publish, cmd, b'{"id": "after-silence"}')
                topic, payload = await asyncio.wait_for(commands.get(), 10)
                assert topic == cmd and b"after-silence" in payload
    finally:
        probe.close()

