"""The historian: MQTT (QoS 1, persistent session, manual ack) → batches → InfluxDB.

Three threads and one buffer (gateway.historian.pending):

- paho's network thread receives, converts each message to line protocol
  (gateway.historian.convert) and holds it in the pending window; it
  subscribes again on every connect;
- the writer thread takes batches, writes them (gateway.historian.writer:
  retries, back-off, isolating refused lines) and only then acknowledges the
  messages to the broker (``client.ack``), in arrival order;
- a monitor thread updates gauges each second and raises the silence alarm.

A message the historian was killed holding was never acknowledged, so the
broker delivers it again to the next run (same client id, persistent
session); its points land on the same series and timestamp and overwrite
themselves.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from gateway.historian.config import HistorianSettings, MqttSettings
from gateway.historian.convert import BadMessage, Converter
from gateway.historian.exporter import HistorianMetrics
from gateway.historian.logfmt import RateLimit, event
from gateway.historian.mqttclient import DrainingClient, make_client
from gateway.historian.pending import Entry, PendingWindow
from gateway.historian.sink import Sink, SinkError, open_sink
from gateway.historian.writer import Abandoned, Backoff, BatchWriter, Outcome
from gateway.uplink.messages import Topics

log = logging.getLogger("escogw.historian")

#: MQTT 5 Receive Maximum is a 16-bit number
RECEIVE_MAXIMUM_LIMIT = 65_535


def topic_filters(m: MqttSettings) -> list[str]:
    """What the historian subscribes to (docs/mqtt.md), shared if a group is set."""
    filters = []
    for site in m.sites:
        topics = Topics(m.prefix, site)
        filters += [topics.data("+"), topics.state("+"), topics.control_event,
                    topics.energy_interval, topics.fleet_health,
                    # the car park (gateway/ev/payloads.py)
                    f"{topics.base}/ev/+/state", f"{topics.base}/ev/session",
                    f"{topics.base}/ev/allocation"]
    if m.shared_group:
        filters = [f"$share/{m.shared_group}/{f}" for f in filters]
    return filters


class Historian:
    def __init__(self, settings: HistorianSettings, *, sink: Sink | None = None,
                 metrics: HistorianMetrics | None = None):
        self.settings = settings
        self.metrics = metrics or HistorianMetrics()
        self.sink = sink or open_sink(settings.influx)
        self.converter = Converter(settings.mqtt.prefix)
        self.filters = topic_filters(settings.mqtt)
        b = settings.batch
        self.window = PendingWindow(b.max_pending, b.max_points, b.max_delay_s, self._ack,
                                    b.idle_flush_s)
        self.writer = BatchWriter(
            self.sink, Backoff(settings.influx.retry_initial_s, settings.influx.retry_max_s),
            self._wait, self._write_failed)
        self.client = self._make_client(settings.mqtt)
        self._stop = threading.Event()
        self._deadline = 0.0
        self._threads: list[threading.Thread] = []
        self._http: Any = None
        self.connected = False
        #: set once the broker granted every subscription of the current connection
        self.subscribed = threading.Event()
        self._last_message = time.monotonic()
        self._silence_alarm = False
        self._alarm_since = 0.0
        self._silent_from = 0.0
        self.newest_written_ms: int | None = None
        self._attempts = 0
        self._bad_log = RateLimit()
        self._rejected_log = RateLimit()

    # -- lifecycle ------------------------------------------------------------

    def start(self) -> None:
        s = self.settings
        if s.metrics.enabled:
            from prometheus_client import start_http_server

            self._http, _ = start_http_server(s.metrics.port, s.metrics.host,
                                              registry=self.metrics.registry)
        for name, target in (("historian-writer", self._writer_main),
                             ("historian-monitor", self._monitor_main)):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        m = s.mqtt
        event(log, logging.INFO, "starting", client_id=m.client_id, broker=f"{m.host}:{m.port}",
              protocol=m.protocol, sink=self.sink.describe(), filters=",".join(self.filters),
              max_points=s.batch.max_points, max_pending=s.batch.max_pending)
        if m.protocol == "5":
            props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            props.SessionExpiryInterval = m.session_expiry_s
            props.ReceiveMaximum = min(s.batch.max_pending, RECEIVE_MAXIMUM_LIMIT)
            self.client.connect_async(m.host, m.port, m.keepalive_s, clean_start=False,
                                      properties=props)
        else:
            self.client.connect_async(m.host, m.port, m.keepalive_s)
        self.client.loop_start()

    def stop(self) -> None:
        """Write what is held (for up to stop_timeout_s), acknowledge it, disconnect."""
        if self._stop.is_set():
            return
        self._deadline = time.monotonic() + self.settings.stop_timeout_s
        self._stop.set()
        self.window.close()
        for thread in self._threads:
            thread.join(self.settings.stop_timeout_s + 5)
        self.client.disable_logger()  # paho logs its last loop after disconnect as an error
        self.client.disconnect()
        self.client.loop_stop()
        self.sink.close()
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
        event(log, logging.INFO, "stopped", pending_high_water=self.window.high_water,
              backpressure_s=round(self.window.blocked_total_s, 1), **self.metrics.snapshot())

    # -- MQTT (network thread) -----------------------------------------------

    def _make_client(self, m: MqttSettings) -> mqtt.Client:
        if m.protocol == "5":
            client = make_client(CallbackAPIVersion.VERSION2, client_id=m.client_id,
                                 protocol=mqtt.MQTTv5, manual_ack=True)
        else:
            client = make_client(CallbackAPIVersion.VERSION2, client_id=m.client_id,
                                 clean_session=False, protocol=mqtt.MQTTv311, manual_ack=True)
        if m.username:
            client.username_pw_set(m.username,
                                   m.password.get_secret_value() if m.password else None)
        if m.tls is not None:
            client.tls_set_context(m.tls.ssl_context())
        client.reconnect_delay_set(1, m.reconnect_max_s)
        client.enable_logger(logging.getLogger("escogw.historian.paho"))
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        if isinstance(client, DrainingClient):
            client.on_raw_publish = self._on_raw_publish
        return client

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any,
                    properties: Any) -> None:
        if reason.is_failure:
            event(log, logging.ERROR, "connect_refused", reason=str(reason))
            return
        self.window.new_epoch()
        self.subscribed.clear()
        self.connected = True
        self.metrics.connected.set(1)
        self._last_message = time.monotonic()
        if self.settings.mqtt.protocol == "5":
            client.subscribe([(f, SubscribeOptions(qos=1)) for f in self.filters])
        else:
            client.subscribe([(f, 1) for f in self.filters])
        event(log, logging.INFO, "connected", session_present=bool(flags.session_present),
              pending=self.window.pending)

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any,
                       properties: Any) -> None:
        self.window.new_epoch()
        self.connected = False
        self.subscribed.clear()
        self.metrics.connected.set(0)
        level = logging.INFO if self._stop.is_set() else logging.WARNING
        event(log, level, "disconnected", reason=str(reason), pending=self.window.pending)

    def _on_subscribe(self, client: mqtt.Client, userdata: Any, mid: int, reasons: Any,
                      properties: Any) -> None:
        refused = [(t, r) for t, r in zip(self.filters, reasons, strict=False) if r.is_failure]
        for topic, reason in refused:
            event(log, logging.ERROR, "subscribe_refused", topic=topic, reason=str(reason))
        if not refused:
            self.subscribed.set()
            event(log, logging.INFO, "subscribed", filters=len(self.filters))

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        self._receive(msg._topic, msg.payload, msg.mid, msg.qos)

    def _on_raw_publish(self, topic: bytes, payload: bytes, mid: int, qos: int, retain: bool,
                        dup: bool) -> None:
        self._receive(topic, payload, mid, qos)

    def _receive(self, topic_bytes: bytes, payload: bytes | bytearray, mid: int,
                 qos: int) -> None:
        """One message, in the network thread: convert it and hold it (may block)."""
        self._last_message = time.monotonic()
        try:
            topic = topic_bytes.decode("utf-8")
            points = self.converter.convert(topic, payload)
        except (BadMessage, UnicodeDecodeError) as exc:
            self._bad(topic_bytes, payload, str(exc))
            entry = Entry(mid, qos, [], done=True, result="bad")
        except Exception as exc:  # never let one message kill the network thread
            self._bad(topic_bytes, payload, f"{type(exc).__name__}: {exc}")
            entry = Entry(mid, qos, [], done=True, result="bad")
        else:
            if points.ignored:
                self.metrics.messages.labels("ignored").inc()
                entry = Entry(mid, qos, [], done=True, result="ignored")
            else:
                entry = Entry(mid, qos, points.lines, points.newest_ms)
        self.window.add(entry)

    def _bad(self, topic: bytes, payload: bytes | bytearray, reason: str) -> None:
        self.metrics.messages.labels("bad").inc()
        if self._bad_log.allow():
            event(log, logging.WARNING, "bad_message", topic=topic.decode("utf-8", "replace"),
                  reason=reason, payload=bytes(payload[:200]).decode("utf-8", "replace"),
                  suppressed=self._bad_log.take_suppressed())

    def _ack(self, mids: list[int]) -> None:
        if isinstance(self.client, DrainingClient):
            self.client.ack_many(mids)
        else:
            for mid in mids:
                self.client.ack(mid, 1)

    # -- writer thread ----------------------------------------------------------

    def _writer_main(self) -> None:
        while True:
            batch = self.window.next_batch()
            if batch is None:
                return
            lines = [ln for entry in batch for ln in entry.lines]
            started = time.monotonic()
            try:
                outcome = self.writer.write(lines)
            except Abandoned as exc:
                event(log, logging.WARNING, "stopping_unwritten", messages=len(batch),
                      points=len(lines), error=str(exc))
                return
            self._account(batch, outcome, time.monotonic() - started)
            self.window.complete(batch)

    def _account(self, batch: list[Entry], outcome: Outcome, seconds: float) -> None:
        m = self.metrics
        m.points_written.inc(outcome.written)
        if outcome.rejected:
            m.rejected_lines.inc(len(outcome.rejected))
            refused = {line for line, _ in outcome.rejected}
            for entry in batch:
                if any(ln in refused for ln in entry.lines):
                    entry.result = "rejected"
            for line, reason in outcome.rejected:
                if self._rejected_log.allow():
                    event(log, logging.ERROR, "line_rejected", line=line[:1000], reason=reason,
                          suppressed=self._rejected_log.take_suppressed())
        rejected = sum(1 for e in batch if e.result == "rejected")
        m.messages.labels("written").inc(len(batch) - rejected)
        if rejected:
            m.messages.labels("rejected").inc(rejected)
        newest = max((e.newest_ms for e in batch if e.newest_ms is not None), default=None)
        if newest is not None and (self.newest_written_ms is None
                                   or newest > self.newest_written_ms):
            self.newest_written_ms = newest
        event(log, logging.DEBUG, "batch_written", messages=len(batch), points=outcome.written,
              rejected=len(outcome.rejected), requests=outcome.requests, seconds=seconds)

    def _write_failed(self, error: SinkError, attempt: int, delay: float) -> None:
        self._attempts += 1
        self.metrics.write_errors.labels(error.kind).inc()
        if attempt == 0:  # refused lines: the batch is being split
            event(log, logging.WARNING, "write_refused", kind=error.kind, status=error.status,
                  error=error.message[:500])
        else:
            event(log, logging.WARNING, "write_failed", kind=error.kind, status=error.status,
                  attempt=attempt, retry_in_s=round(delay, 2), error=error.message[:500],
                  pending=self.window.pending)

    def _wait(self, delay: float) -> bool:
        """Back-off sleep, in steps of at most a second (each one is progress for the
        watchdog); True once stopping and the stop deadline has passed."""
        end = time.monotonic() + delay
        while (left := end - time.monotonic()) > 0:
            self._attempts += 1
            if self._stop.is_set():
                if time.monotonic() >= self._deadline:
                    return True
                time.sleep(min(left, 1.0, max(0.0, self._deadline - time.monotonic())))
            else:
                self._stop.wait(min(left, 1.0))
        return self._stop.is_set() and time.monotonic() >= self._deadline

    # -- health (for the systemd watchdog) -----------------------------------------

    def progress(self) -> int:
        """A counter that moves while the writer thread works or waits normally: each
        wake-up of its batch wait and each second of back-off (at least once a second
        either way), each failed attempt."""
        return self.window.wakeups + self._attempts

    def threads_alive(self) -> bool:
        """Our threads and paho's network thread are running."""
        net = getattr(self.client, "_thread", None)  # set by loop_start()
        return all(t.is_alive() for t in self._threads) and net is not None and net.is_alive()

    # -- monitor thread -------------------------------------------------------------

    def _monitor_main(self) -> None:
        while not self._stop.wait(1.0):
            self.tick()

    def tick(self) -> None:
        """Refresh the gauges and the silence alarm (every second)."""
        m = self.metrics
        m.pending.set(self.window.pending)
        m.backpressure.set(1 if self.window.blocked else 0)
        if self.newest_written_ms is not None:
            m.lag.set(max(0.0, time.time() - self.newest_written_ms / 1000))
        limit = self.settings.silence_alarm_s
        now = time.monotonic()
        silent = now - self._last_message
        if self._silence_alarm:
            if self._last_message > self._alarm_since:  # a message arrived: clear
                self._silence_alarm = False
                m.silence.set(0)
                event(log, logging.INFO, "silence_cleared",
                      silent_s=round(self._last_message - self._silent_from, 1))
        elif limit and self.connected and not self.window.blocked and silent > limit:
            self._silence_alarm = True
            self._alarm_since = now
            self._silent_from = self._last_message
            m.silence.set(1)
            event(log, logging.WARNING, "silence_alarm", silent_s=round(silent, 1),
                  limit_s=limit, filters=",".join(self.filters))
