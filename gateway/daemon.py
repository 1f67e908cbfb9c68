"""``escogw run``: the gateway process (polling, outbox, uplink, command path), one asyncio loop.

    pollers ──stream──► outbox writer ──SQLite──► publisher ──MQTT──► broker
       ▲                                               │
       └──── link queues ◄── command path ◄── commands ┘
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import time
from collections.abc import Callable, Coroutine, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prometheus_client.core import Metric

from gateway.acquisition.buses import AcquisitionEngine
from gateway.acquisition.reading import WriteOutcome
from gateway.acquisition.scheduler import DevicePoller, LinkScheduler
from gateway.acquisition.stream import ReadingStream
from gateway.core import systemd
from gateway.core.chargers import ChargingConfig
from gateway.core.clock import Clock, SystemClock
from gateway.core.policy import SetpointPolicy
from gateway.core.settings import GatewaySettings
from gateway.core.site import Site, rules_path_for
from gateway.uplink.command_path import CommandHandler
from gateway.uplink.commands import OperatorCommand
from gateway.uplink.messages import Topics, state_payload
from gateway.uplink.outbox import Outbox
from gateway.uplink.outbox_writer import AsyncOutbox, OutboxWriter
from gateway.uplink.publisher import Publisher

if TYPE_CHECKING:
    from gateway.control.loop import ControlLoop
    from gateway.energy.live import EnergyService
    from gateway.ev.car_park import ChargingService
    from gateway.ev.charger_state import Session
    from gateway.ev.supervisor import RulesInForce
    from gateway.fleet.agent import FleetAgent
    from gateway.fleet.site_health import HealthFacts

log = logging.getLogger("escogw")
#: the exit status that asks systemd for a restart (EX_TEMPFAIL; the unit restarts on failure)
RESTART_EXIT = 75
#: a service the gateway cannot run without ended: a failure (the unit restarts on failure)
FAILED_EXIT = 1


@dataclass
class Gateway:
    """All parts of one running gateway, for the daemon, the demo view and tests."""

    site: Site
    settings: GatewaySettings
    clock: Clock = field(default_factory=SystemClock)
    policy: SetpointPolicy = field(default_factory=SetpointPolicy)
    #: rule file of the AC control loop; None runs without control
    rules_path: Path | None = None
    #: run the control loop with writes off: decisions and events only
    dry_run: bool = False

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
        #: SIGHUP reloads under way (asyncio itself keeps only weak references to tasks)
        self._reloads: set[asyncio.Task[list[str]]] = set()
        self.watchdog: systemd.Watchdog | None = None
        #: set by a signal or a restart request; run() then stops the gateway
        self.stop_requested = asyncio.Event()
        self.restart_requested = False
        #: why the gateway stops on its own: an essential service ended (run() then exits
        #: with FAILED_EXIT), None while all run
        self.failure: str | None = None
        self._stopping = False
        self.control: ControlLoop | None = None
        #: the interval accountant, from start()
        self.energy: EnergyService | None = None
        self.control_events: dict[str, int] = {"change": 0, "notice": 0, "alarm": 0}
        if self.rules_path is not None:
            self._start_control(self.rules_path)
        self.fleet: FleetAgent | None = None
        if s.fleet.enabled:
            self._start_fleet()
        self.charging: ChargingService | None = None
        if self.site.spec.charging is not None:
            self._start_charging(self.site.spec.charging)

    def _start_fleet(self) -> None:
        """The fleet agent: desired state from the platform, health summary to it."""
        from gateway.fleet.agent import FleetAgent

        self.fleet = FleetAgent(self.site, self.topics, self.settings.fleet, self.rules_path,
                                Path(self.settings.outbox.path).parent, self.clock,
                                self.health_facts, self.publisher.set_state, self.reload,
                                self.request_restart)
        self.publisher.listeners[self.topics.fleet_desired] = self.fleet.on_desired

    def health_facts(self) -> HealthFacts:
        """The fleet health summary's facts, from what the parts already count."""
        from gateway import __version__
        from gateway.acquisition.health import DeviceState
        from gateway.core.clock_sync import clock_sync
        from gateway.fleet.site_health import HealthFacts
        from gateway.uplink.messages import iso

        failing = tuple(sorted(p.id for p in self.engine.pollers()
                               if p.health.state != DeviceState.ONLINE))
        links_online = sum(1 for sched in self.engine.schedulers.values()
                           if any(p.health.state == DeviceState.ONLINE
                                  for p in sched.pollers.values()))
        depth, age, dropped = self.outbox_stats
        control = self.control
        sync = clock_sync()
        return HealthFacts(
            ts=iso(self.clock.now()), software=__version__,
            uptime_s=round(time.monotonic() - self.started_at, 1),
            links=len(self.engine.schedulers), links_online=links_online,
            devices=len(self.site.devices), failing_devices=failing, outbox_depth=depth,
            outbox_age_s=round(age, 1), outbox_dropped=dropped,
            mqtt_connected=self.publisher.connected,
            control_ticks=control.ticks if control else 0,
            control_tick_failures=control.failed_ticks if control else 0,
            alarms=tuple(sorted(control.engine.active_alarms)) if control else (),
            rules_digest=control.rules.digest if control else None,
            rules_version=self.fleet.version if self.fleet else None,
            extra={"clock_synced": sync.synced, "clock_max_error_s": sync.max_error_s})

    def _start_charging(self, cfg: ChargingConfig) -> None:
        """The car park (docs/ev-charging.md): its budget is the rule file's demand window."""
        from gateway.ev.car_park import ChargingService

        rules_demand = self.control.rules.demand if self.control is not None else None
        limit = cfg.limit_kw or (rules_demand.limit_kw if rules_demand is not None else None)
        if limit is None:
            log.warning("ev: no demand limit (charging.limit_kw or the rule file's demand "
                        "section): the chargers share only their fail-safe budget %.1f kW",
                        cfg.failsafe_kw)
        self.charging = ChargingService(
            cfg, self.clock, _DemandWindow(self), limit or cfg.failsafe_kw,
            topic_prefix=f"{self.settings.mqtt.prefix}/{self.site.id}",
            set_state=self.publisher.set_state, send=self._send_one, source=self.site.path,
            rules=self._charging_rules, tz=self.site.tz, writer=self.engine,
            readings=self.stream.subscribe(maxsize=max(64, len(self.site.devices)), lossy=True)
            if cfg.modbus_devices else None,
            profiles={dev_id: d.profile for dev_id, d in self.site.devices.items()})

    def _price_session(self, session: Session) -> dict[str, Any] | None:
        """A finished session's kWh and cost by period, with the tariff in force now (a
        reload may replace it); None without one."""
        from gateway.energy.ev_sessions import session_costs

        tariff = self.energy.accountant.tariff if self.energy is not None else None
        return None if tariff is None else session_costs(session, tariff, self.site.tz)

    def _charging_rules(self) -> RulesInForce:
        """The rule file's charging section and the tariff's periods in force now."""
        rules = self.control.rules if self.control is not None else None
        return (rules.charging, rules.tariff) if rules is not None else (None, None)

    async def _send_one(self, topic: str, payload: bytes) -> None:
        await self.outbox.put([(topic, payload)])

    def _start_control(self, rules_path: Path) -> None:
        """The AC control loop: rules → desired state → writes through the link queues.

        MQTT commands become operator overrides (clamped, expiring by themselves) and
        the command path takes its setpoint limits from the same rule set.
        Raises ConfigError when the rule file is invalid at start-up.
        """
        from gateway.control.audit import AuditLog
        from gateway.control.loop import ControlLoop

        state_dir = Path(self.settings.outbox.path).parent
        audit = AuditLog(state_dir / "control-audit.jsonl")
        self.control = ControlLoop(self.site, rules_path, self.engine, self.clock,
                                   self.stream.latest, audit=audit, dry_run=self.dry_run,
                                   publish=self._control_event,
                                   memory=state_dir / "control-learned.json")
        self.commands.apply = self.control.apply_command
        self.commands.policy = self.control.rules.setpoint_policy()
        self.metric_sources.append(self._control_metrics)

    async def _control_event(self, record: dict[str, Any]) -> None:
        kind = str(record.get("kind", "change"))
        self.control_events[kind] = self.control_events.get(kind, 0) + 1
        payload = json.dumps(record, separators=(",", ":"), ensure_ascii=False,
                             default=str).encode()
        await self.outbox.put([(self.topics.control_event, payload)])

    def _control_metrics(self) -> Iterator[Metric]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        assert self.control is not None
        events = CounterMetricFamily("escogw_control_events",
                                     "Control records published, by kind", labels=["kind"])
        for kind, n in self.control_events.items():
            events.add_metric([kind], n)
        yield events
        engine = self.control.engine
        yield GaugeMetricFamily("escogw_control_alarms_active", "Alarms now active",
                                value=len(engine.active_alarms))
        unapplied = sum(1 for tr in engine.tracks.values() if tr.pending or tr.alarmed)
        yield GaugeMetricFamily("escogw_control_unapplied_commands",
                                "Commands written but not yet seen applied, or given up on",
                                value=unapplied)
        yield CounterMetricFamily("escogw_control_ticks", "Control ticks run",
                                  value=self.control.ticks)
        yield CounterMetricFamily("escogw_control_tick_failures", "Control ticks that failed",
                                  value=self.control.failed_ticks)
        yield GaugeMetricFamily("escogw_control_rules_invalid",
                                "1 while the rule file on disk is rejected and the previous "
                                "set runs", value=1 if self.control.last_problems else 0)

    def extra_metrics(self) -> Iterator[Metric]:
        for source in self.metric_sources:
            yield from source()

    def progress(self) -> dict[str, Callable[[], int]]:
        """The loops the watchdog watches: every link scheduler, the publisher, the outbox,
        the control loop and the car park's allocation cycles."""
        loops: dict[str, Callable[[], int]] = {
            f"link {link_id}": _progress_of(sched)
            for link_id, sched in self.engine.schedulers.items()}
        loops["mqtt publisher"] = lambda: self.publisher.ticks
        loops["outbox"] = lambda: self._outbox_ticks
        if self.control is not None:
            control = self.control
            loops["control"] = lambda: control.ticks
        if self.charging is not None:  # stands still once no allocation cycle succeeds
            loops["ev"] = self.charging.supervisor.progress
        return loops

    def _service(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        """Start one of the gateway's services. Every one runs until stop() cancels it; one
        that ends by itself leaves the gateway unable to do its job (readings no longer
        committed or sent, control or the car park gone while polling goes on), so the
        gateway stops and exits with FAILED_EXIT, for systemd to start it again — sooner
        and surer than waiting for the watchdog, which sees only loops that stand still."""
        task = asyncio.create_task(coro, name=name)
        task.add_done_callback(self._service_ended)
        self._tasks.append(task)
        return task

    def _service_ended(self, task: asyncio.Task[None]) -> None:
        """A service ended by itself (stop() cancels them all): stop, and exit with
        FAILED_EXIT. The car park is the sharpest case: with it gone, the Modbus chargers'
        watchdogs would stay fed by the polls and the boxes would keep their last limits."""
        if self._stopping:  # only stop() cancels the services
            return
        exc = None if task.cancelled() else task.exception()
        self.failure = f"{task.get_name()} " + ("was cancelled" if task.cancelled() else "ended") \
            + (f": {exc!r}" if exc is not None else "")
        log.error("%s: stopping the gateway", self.failure, exc_info=exc)
        self.stop_requested.set()

    async def _refresh_outbox_stats(self) -> None:
        while True:
            self.outbox_stats = await self.outbox.stats()
            self._outbox_ticks += 1
            await asyncio.sleep(1.0)

    def request_restart(self) -> None:
        """The fleet agent installed a new site file: stop cleanly and exit with
        RESTART_EXIT, so systemd (Restart=on-failure) starts the gateway on it."""
        self.restart_requested = True
        self.stop_requested.set()

    def request_reload(self) -> None:
        """SIGHUP: reload in a task the gateway holds on to."""
        task = asyncio.create_task(self.reload(), name="reload")
        self._reloads.add(task)
        task.add_done_callback(self._reloads.discard)

    async def reload(self) -> list[str]:
        """SIGHUP: re-read the tariff and the rules (each validated whole, swapped in
        atomically or refused while the old one stays in force); polling goes on
        undisturbed."""
        systemd.reloading()
        problems: list[str] = []
        if self.energy is not None:
            problems += self.energy.reload_tariff()
            if problems:
                log.error("reload: tariff rejected, previous tariff stays: %s",
                          "; ".join(problems))
        if self.control is not None:
            refused = [str(p) for p in await self.control.reload_between_ticks()]
            self.commands.policy = self.control.rules.setpoint_policy()
            if refused:
                log.error("reload: rule file rejected, previous rules stay: %s",
                          "; ".join(refused))
            else:
                log.info("reload: rules %s in force", self.control.rules.digest)
            problems += refused
        systemd.notify("READY=1")
        return problems

    async def write_command(self, command: OperatorCommand) -> WriteOutcome:
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
        self._tasks = []
        self._service(self.writer.run(), "outbox-writer")
        self._service(self.publisher.run(), "mqtt")
        self._service(self._refresh_outbox_stats(), "outbox-stats")
        if self.charging is not None:
            self._service(self.charging.run(), "ev")
        # energy/interval: the interval accountant (docs/energy.md), state beside the outbox
        from gateway.energy.live import EnergyService

        self.energy = EnergyService.for_site(self.site, self.stream, self.outbox, self.topics,
                                             Path(self.settings.outbox.path).parent)
        self._service(self.energy.run(), "energy")
        if self.charging is not None:  # each finished session priced by time-of-use period
            self.charging.price_session = self._price_session
        if self.control is not None:
            self._service(self.control.run(), "control")
        if self.fleet is not None:
            self._service(self.fleet.run(), "fleet")
        interval = systemd.watchdog_interval_s()
        if interval is not None:
            self.watchdog = systemd.Watchdog(self.progress(), interval)
            self._service(self.watchdog.run(), "watchdog")

    async def stop(self) -> None:
        """Stop polling, commit what was read, close the uplink and the outbox."""
        self._stopping = True
        if self.control is not None:
            await self.control.close()
        await self.engine.stop()
        self.publisher.stop()
        # readings already in the stream are committed before the writer stops
        pending = self.writer.take_pending()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if pending:
            await self.writer.commit(pending)
        await self.outbox.close()


class _DemandWindow:
    """The demand limiter's window as the chargers see it: the rule set in force now
    (a reload may replace the limiter), None without one (the chargers fall back to
    their fail-safe budget)."""

    def __init__(self, gateway: Gateway):
        self.gateway = gateway

    def window_so_far(self, now: float) -> tuple[float, float, float] | None:
        control = self.gateway.control
        demand = control.engine.demand if control is not None else None
        return demand.window_so_far(now) if demand is not None else None


def _progress_of(sched: LinkScheduler) -> Callable[[], int]:
    return lambda: sched.progress


async def run(site: Site, settings: GatewaySettings, ready: asyncio.Event | None = None,
              dry_run: bool = False) -> int:
    gateway = Gateway(site, settings, rules_path=rules_path_for(site, settings),
                      dry_run=dry_run)
    stop = gateway.stop_requested
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    with contextlib.suppress(NotImplementedError, RuntimeError):
        loop.add_signal_handler(signal.SIGHUP, gateway.request_reload)
    # stop() runs however start() or the wait ends: a start that fails half-way must not
    # leave polling tasks behind for asyncio.run's shutdown to wait on
    try:
        await gateway.start()
        if settings.metrics.enabled:
            from gateway.metrics import serve

            try:
                serve(gateway, settings.metrics.host, settings.metrics.port)
            except OSError as exc:  # a port clash must not stop data collection
                log.error("metrics not served on %s:%d: %s", settings.metrics.host,
                          settings.metrics.port, exc.strerror)
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
        await stop.wait()
    finally:
        systemd.notify("STOPPING=1")
        await gateway.stop()
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)
    if gateway.failure is not None:
        log.error("exiting with %d: %s", FAILED_EXIT, gateway.failure)
        return FAILED_EXIT
    if gateway.restart_requested:
        log.warning("exiting with %d so that the service manager starts the gateway again",
                    RESTART_EXIT)
        return RESTART_EXIT
    return 0
