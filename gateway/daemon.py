"""``escogw run``: the gateway process (polling, outbox, uplink, command path), one asyncio loop.

    pollers ──stream──► outbox writer ──SQLite──► publisher ──MQTT──► broker
       ▲                                               │
       └──── link queues ◄── command path ◄── commands ┘
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from prometheus_client.core import Metric

from gateway import systemd
from gateway.acquisition.engine import AcquisitionEngine
from gateway.acquisition.scheduler import DevicePoller, LinkScheduler, WriteOutcome
from gateway.acquisition.stream import ReadingStream
from gateway.clock import Clock, SystemClock
from gateway.command_path import CommandHandler
from gateway.commands import Command
from gateway.messages import Topics, state_payload
from gateway.mqtt.publisher import Publisher
from gateway.outbox import Outbox
from gateway.outbox_writer import AsyncOutbox, OutboxWriter
from gateway.policy import SetpointPolicy
from gateway.settings import GatewaySettings
from gateway.site import Site

log = logging.getLogger("escogw")


@dataclass
class Gateway:
    """All parts of one running gateway, for the daemon, the demo view and tests."""

    site: Site
    settings: GatewaySettings
    clock: Clock = field(default_factory=SystemClock)
    policy: SetpointPolicy = field(default_factory=SetpointPolicy)

    def __post_init__(self) -> None:
        s = self.settings
        self.stream = ReadingStream()
        self.engine = AcquisitionEngine(self.site, self.clock, self.stream)
        self.topics = Topics(s.mqtt.prefix, self.site.id)
        self.outbox = AsyncOutbox(Outbox(s.outbox.path, max_bytes=int(s.outbox.max_mb * 2**20),
                                         max_age_s=s.outbox.max_age_h * 3600,
                                         synchronous=s.outbox.synchronous))
        self.writer = OutboxWriter(self.site, self.outbox, self.topics, self.stream.subscribe())
        self.commands = CommandHandler(self.site, self.topics, self.outbox, self.clock,
                                       self.stream.latest, self.policy, self.write_command)
        self.publisher = Publisher(s.mqtt, self.site.id, self.outbox, self.commands.handle)
        self.engine.state_listeners.append(self._device_state)
        self._tasks: list[asyncio.Task[None]] = []
        self.started_at = time.monotonic()
        self._outbox_ticks = 0
        #: (depth, oldest age s, dropped total), refreshed off the event loop's hot path
        self.outbox_stats: tuple[int, float, int] = (0, 0.0, 0)
        #: extra metric sources (the control loop adds its own)
        self.metric_sources: list[Callable[[], Iterable[Metric]]] = []
        #: called on SIGHUP (rules reload); each returns a short status line
        self.reloaders: list[Callable[[], Awaitable[str]]] = []
        self.watchdog: systemd.Watchdog | None = None

    def extra_metrics(self) -> Iterator[Metric]:
        for source in self.metric_sources:
            yield from source()

    def progress(self) -> dict[str, Callable[[], int]]:
        """The loops the watchdog watches: every link scheduler and the publisher."""
        loops: dict[str, Callable[[], int]] = {
            f"link {link_id}": _progress_of(sched)
            for link_id, sched in self.engine.schedulers.items()}
        loops["mqtt publisher"] = lambda: self.publisher.ticks
        loops["outbox"] = lambda: self._outbox_ticks
        return loops

    async def _refresh_outbox_stats(self) -> None:
        while True:
            self.outbox_stats = await self.outbox.stats()
            self._outbox_ticks += 1
            await asyncio.sleep(1.0)

    async def reload(self) -> None:
        """SIGHUP: re-read what can change without a restart (rules); polling goes on."""
        systemd.reloading()
        for reloader in self.reloaders:
            log.info("reload: %s", await reloader())
        systemd.notify("READY=1")

    async def write_command(self, command: Command) -> WriteOutcome:
        """Default command application: a verified write through the link queue."""
        return await self.engine.write(command.device, command.point, command.value,
                                       ttl_s=command.ttl_s)

    async def _device_state(self, poller: DevicePoller) -> None:
        from datetime import UTC, datetime

        health = poller.health
        await self.publisher.set_state(
            self.topics.state(poller.id),
            state_payload(health.state.value, datetime.fromtimestamp(poller.since, UTC),
                          health.error))

    async def start(self) -> None:
        self.engine.start()
        self._tasks = [asyncio.create_task(self.writer.run(), name="outbox-writer"),
                       asyncio.create_task(self.publisher.run(), name="mqtt"),
                       asyncio.create_task(self._refresh_outbox_stats(), name="outbox-stats")]
        interval = systemd.watchdog_interval_s()
        if interval is not None:
            self.watchdog = systemd.Watchdog(self.progress(), interval)
            self._tasks.append(asyncio.create_task(self.watchdog.run(), name="watchdog"))

    async def stop(self) -> None:
        """Stop polling, commit what was read, close the uplink and the outbox."""
        await self.engine.stop()
        self.publisher.stop()
        # readings already in the stream are committed before the writer stops
        sub = self.writer.sub
        pending = []
        while not sub.queue.empty():
            pending.append(sub.queue.get_nowait())
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if pending:
            await self.writer.commit(pending)
        await self.outbox.close()


def _progress_of(sched: LinkScheduler) -> Callable[[], int]:
    return lambda: sched.progress


async def run(site: Site, settings: GatewaySettings, ready: asyncio.Event | None = None) -> int:
    gateway = Gateway(site, settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    with contextlib.suppress(NotImplementedError, RuntimeError):
        loop.add_signal_handler(signal.SIGHUP, lambda: asyncio.ensure_future(gateway.reload()))
    await gateway.start()
    if settings.metrics.enabled:
        from gateway.metrics import serve

        serve(gateway, settings.metrics.host, settings.metrics.port)
    log.info("gateway for site %s: %d devices on %d links, outbox %s, broker %s:%d",
             site.id, len(site.devices), len(gateway.engine.schedulers),
             Path(settings.outbox.path), settings.mqtt.host, settings.mqtt.port)
    # READY once every device has been polled once: systemd's start is then real
    first = gateway.stream.subscribe(lossy=True, maxsize=len(site.devices) + 1)
    seen: set[str] = set()
    while len(seen) < len(site.devices) and not stop.is_set():
        with contextlib.suppress(TimeoutError):
            seen.add((await asyncio.wait_for(first.get(), 1.0)).device)
    gateway.stream.unsubscribe(first)
    systemd.notify(f"READY=1\nSTATUS=polling {len(site.devices)} devices")
    if ready is not None:
        ready.set()
    try:
        await stop.wait()
    finally:
        systemd.notify("STOPPING=1")
        await gateway.stop()
    return 0
