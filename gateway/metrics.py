"""Prometheus metrics of the gateway, read from its parts at scrape time.

A custom collector reads the counters the parts already keep (link stats,
device health, outbox, publisher), so the polling hot path never touches a
metric object. Served on loopback by default (``gateway.metrics``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Protocol

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    InfoMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from gateway.acquisition import AcquisitionEngine
from gateway.acquisition.health import STATE_VALUE
from gateway.core.site import Site
from gateway.uplink import CommandHandler, OutboxWriter, Publisher


class Observed(Protocol):
    """What the collector reads from the running gateway (gateway.daemon.Gateway)."""

    site: Site
    engine: AcquisitionEngine
    writer: OutboxWriter
    publisher: Publisher
    commands: CommandHandler
    started_at: float
    #: (depth, oldest age in s, dropped), refreshed by the daemon off the event loop
    outbox_stats: tuple[int, float, int]

    def extra_metrics(self) -> Iterator[Metric]: ...

log = logging.getLogger("escogw.metrics")


class GatewayCollector(Collector):
    def __init__(self, gateway: Observed):
        self.gw = gateway
        self._busy: dict[str, tuple[float, float]] = {}  # link → (busy_s, at)

    def collect(self) -> Iterator[Metric]:
        from gateway import __version__

        gw = self.gw
        info = InfoMetricFamily("escogw_build", "Gateway version and site")
        info.add_metric([], {"version": __version__, "site": gw.site.id})
        yield info
        yield from self._links()
        yield from self._devices()
        yield from self._uplink()
        yield from gw.extra_metrics()

    def _links(self) -> Iterator[Metric]:
        requests = CounterMetricFamily("escogw_link_requests", "Modbus requests sent",
                                       labels=["link"])
        errors = CounterMetricFamily("escogw_link_errors", "Failed Modbus requests by kind",
                                     labels=["link", "kind"])
        rtt = GaugeMetricFamily("escogw_link_round_trip_seconds",
                                "Round-trip time of the last request", labels=["link"])
        rtt_sum = CounterMetricFamily("escogw_link_round_trip_seconds_sum",
                                      "Total round-trip time of all requests", labels=["link"])
        util = GaugeMetricFamily("escogw_link_utilisation_ratio",
                                 "Share of wall time the link was busy since the last scrape",
                                 labels=["link"])
        now = time.monotonic()
        for link_id, sched in self.gw.engine.schedulers.items():
            stats = sched.link.stats
            requests.add_metric([link_id], stats.requests)
            # copy: scrapes run in the HTTP thread while the event loop adds keys
            for kind, n in stats.errors.copy().items():
                errors.add_metric([link_id, kind], n)
            rtt.add_metric([link_id], stats.last_rtt_s)
            rtt_sum.add_metric([link_id], stats.rtt_sum_s)
            busy, at = self._busy.get(link_id, (0.0, self.gw.started_at))
            util.add_metric([link_id], min(1.0, (stats.busy_s - busy) / max(now - at, 1e-9)))
            self._busy[link_id] = (stats.busy_s, now)
        yield from (requests, errors, rtt, rtt_sum, util)

    def _devices(self) -> Iterator[Metric]:
        state = GaugeMetricFamily("escogw_device_state",
                                  "2 online, 1 degraded, 0 offline", labels=["device", "link"])
        polls = CounterMetricFamily("escogw_device_polls", "Poll cycles", labels=["device"])
        per_cycle = GaugeMetricFamily("escogw_device_requests_per_cycle",
                                      "Modbus requests one poll of the device takes",
                                      labels=["device"])
        regs = GaugeMetricFamily("escogw_device_registers_per_cycle",
                                 "Registers one poll of the device reads", labels=["device"])
        cycle = GaugeMetricFamily("escogw_device_cycle_seconds",
                                  "Wall time of the device's last poll", labels=["device"])
        failed = GaugeMetricFamily("escogw_device_failed_points",
                                   "Points that failed in the last poll", labels=["device"])
        for poller in self.gw.engine.pollers():
            dev = poller.id
            state.add_metric([dev, poller.device.link], STATE_VALUE[poller.health.state])
            polls.add_metric([dev], poller.cycles)
            per_cycle.add_metric([dev], poller.plan.requests_per_cycle)
            regs.add_metric([dev], poller.plan.registers_per_cycle)
            cycle.add_metric([dev], poller.last_cycle_s)
            last = poller.last_reading
            failed.add_metric([dev], len(last.failed) if last else 0)
        yield from (state, polls, per_cycle, regs, cycle, failed)

    def _uplink(self) -> Iterator[Metric]:
        gw = self.gw
        depth, age, dropped = gw.outbox_stats
        yield GaugeMetricFamily("escogw_outbox_depth", "Messages waiting in the outbox",
                                value=depth)
        yield GaugeMetricFamily("escogw_outbox_oldest_age_seconds",
                                "Age of the oldest message in the outbox", value=age)
        yield CounterMetricFamily("escogw_outbox_dropped", "Messages dropped because the "
                                  "outbox was full or too old", value=dropped)
        yield CounterMetricFamily("escogw_outbox_committed_readings",
                                  "Readings committed to the outbox", value=gw.writer.committed)
        pub = gw.publisher
        yield GaugeMetricFamily("escogw_mqtt_connected", "1 while connected to the broker",
                                value=1 if pub.connected else 0)
        yield CounterMetricFamily("escogw_mqtt_published", "Messages acknowledged by the broker",
                                  value=pub.published)
        yield CounterMetricFamily("escogw_mqtt_connects", "Successful connections",
                                  value=pub.connects)
        yield GaugeMetricFamily("escogw_mqtt_command_subscription_stale",
                                "1 when connected but the command subscription went silent",
                                value=1 if pub.subscription_stale else 0)
        commands = CounterMetricFamily("escogw_commands", "MQTT commands by outcome",
                                       labels=["result"])
        for result, n in gw.commands.counts.copy().items():  # see stats.errors above
            commands.add_metric([result], n)
        yield commands


def serve(gateway: Observed, host: str, port: int) -> CollectorRegistry:
    """Start the /metrics endpoint in a daemon thread; returns its registry."""
    registry = CollectorRegistry()
    registry.register(GatewayCollector(gateway))
    start_http_server(port, addr=host, registry=registry)
    log.info("metrics on http://%s:%d/metrics", host, port)
    return registry
