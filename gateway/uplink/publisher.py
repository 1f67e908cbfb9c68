"""The uplink: drains the outbox to the broker, keeps retained states, receives commands.

aiomqtt 2.x (paho-mqtt 2.x underneath), QoS 1, a persistent session with a
fixed client id. A row leaves the outbox only after its PUBACK, and only the
acknowledged prefix of a window is removed, so per-device order survives an
outage (a message may arrive twice — the historian's writes are idempotent —
but never out of order).

Every (re)connect: ``online`` (retained; Last Will ``offline``), every device's
retained state, and the command subscription again — brokers drop
subscriptions with a clean session, and Telegraf's silent stall came from not
resubscribing. A heartbeat the gateway sends to its own command topics proves
the subscription works; when it stops arriving while connected, that is an
alarm and the connection is rebuilt.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import secrets
import time
from collections.abc import Callable, Coroutine
from typing import Any

import aiomqtt
import paho.mqtt.client as mqtt

from gateway.core.settings import MqttSettings
from gateway.uplink import heartbeat, puback_decode
from gateway.uplink.ack_window import AckWindow
from gateway.uplink.messages import Topics
from gateway.uplink.outbox import Row
from gateway.uplink.outbox_writer import AsyncOutbox

log = logging.getLogger("escogw.mqtt")

CommandSink = Callable[[str, bytes], Coroutine[Any, Any, None]]


class _Stopped(Exception):
    """Ends a connection's task group when the publisher is stopped."""


class SubscriptionStalled(Exception):
    """Connected, but our own heartbeat no longer comes back through the subscription."""


def _has_internals(client: aiomqtt.Client) -> bool:
    """Whether aiomqtt still keeps its paho client in ``_client`` and its pending QoS 1
    publishes (message id → object with ``set()``) in ``_pending_publishes``, as
    aiomqtt 2.x does (pinned ``>=2.5,<3``); otherwise the publisher uses ``publish``."""
    return isinstance(getattr(client, "_client", None), mqtt.Client) and isinstance(
        getattr(client, "_pending_publishes", None), dict)


class _Ack:
    """Stands in for aiomqtt's per-message event: its on_publish calls ``set()``, which
    records the PUBACK in the window and wakes the waiter once the window is complete."""

    __slots__ = ("complete", "index", "window")

    def __init__(self, window: AckWindow, index: int, complete: asyncio.Event):
        self.window = window
        self.index = index
        self.complete = complete

    def set(self) -> None:
        if self.window.ack(self.index):
            self.complete.set()


class Publisher:
    def __init__(self, settings: MqttSettings, site_id: str, outbox: AsyncOutbox,
                 on_command: CommandSink):
        self.settings = settings
        self.topics = Topics(settings.prefix, site_id)
        self.outbox = outbox
        self.on_command = on_command
        self.client_id = settings.client_id or f"escogw-{site_id}"
        #: retained device states (topic → payload), republished after every connect
        self.states: dict[str, bytes] = {}
        #: further subscriptions (exact topic → handler), renewed on every connect
        self.listeners: dict[str, CommandSink] = {}
        self.connected = False
        self.connects = 0
        self.published = 0
        self.subscription_stale = False
        #: incremented by every turn of the publish loops, for the watchdog
        self.ticks = 0
        self._client: aiomqtt.Client | None = None
        self._last_heartbeat_rx = 0.0
        self._heartbeat_token = secrets.token_hex(16)
        #: messages on the heartbeat topic that were not ours
        self.forged_heartbeats = 0
        self._stop = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        puback_decode.install()  # a PUBACK per message: decoded without new objects

    # -- public -----------------------------------------------------------------

    async def set_state(self, topic: str, payload: bytes) -> None:
        """Remember a retained state and publish it now if connected."""
        self.states[topic] = payload
        client = self._client
        if client is not None and self.connected:
            with contextlib.suppress(aiomqtt.MqttError):
                await client.publish(topic, payload, qos=1, retain=True,
                                     timeout=self.settings.publish_timeout_s)

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        """Connect, work, reconnect with back-off and jitter — until stopped."""
        delay = self.settings.reconnect_min_s
        while not self._stop.is_set():
            try:
                await self._session()
                delay = self.settings.reconnect_min_s
            # except*: what ends a session — a lost connection, a publish that failed
            # mid-window, a stalled subscription with the connection still up — comes out of
            # its task group as a group (plain except would let that end the publisher)
            except* (aiomqtt.MqttError, SubscriptionStalled, OSError) as group:
                log.warning("mqtt: %s; reconnecting in %.1f s",
                            "; ".join(dict.fromkeys(str(e) for e in group.exceptions)), delay)
            finally:
                self.connected = False
                self._client = None
            if self._stop.is_set():
                break
            await self._pause(delay * random.uniform(0.5, 1.5))
            delay = min(delay * 2, self.settings.reconnect_max_s)

    async def _pause(self, seconds: float) -> None:
        """Wait before reconnecting, ticking every second (the watchdog's proof of life)."""
        end = time.monotonic() + seconds
        while not self._stop.is_set() and (left := end - time.monotonic()) > 0:
            self.ticks += 1
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(min(left, 1.0)):  # not wait_for: see _drain
                    await self._stop.wait()

    # -- one connection ---------------------------------------------------------

    def _client_for(self) -> aiomqtt.Client:
        s = self.settings
        tls_context = s.tls.ssl_context() if s.tls is not None else None
        return aiomqtt.Client(
            s.host, s.port, identifier=self.client_id, clean_session=False,
            username=s.username,
            password=s.password.get_secret_value() if s.password else None,
            will=aiomqtt.Will(self.topics.gateway_state, b"offline", qos=1, retain=True),
            keepalive=s.keepalive_s, timeout=s.publish_timeout_s,
            # the window bounds what is in flight; a limit in paho as well would make
            # it rescan every message in flight at each PUBACK (_update_inflight)
            max_inflight_messages=0, tls_context=tls_context,
            logger=logging.getLogger("escogw.mqtt.client"))

    async def _session(self) -> None:
        client = self._client_for()
        await client.__aenter__()
        try:
            await self._connected_session(client)
        finally:
            await self._close(client)

    async def _close(self, client: aiomqtt.Client) -> None:
        """Leave the connection, boundedly: aiomqtt's exit waits without a timeout for a
        disconnect that paho may never report once the socket is already gone (seen after
        a broker restart under load: the session hung and never reconnected)."""
        try:
            async with asyncio.timeout(self.settings.publish_timeout_s):
                await client.__aexit__(None, None, None)
        except (TimeoutError, aiomqtt.MqttError) as exc:
            log.warning("mqtt: the old connection did not close cleanly (%s); dropped it",
                        exc or "timed out")

    async def _connected_session(self, client: aiomqtt.Client) -> None:
        client.pending_calls_threshold = 100_000  # we bound the window ourselves
        self._client = client
        await client.subscribe(self.topics.commands, qos=1)
        for topic in self.listeners:
            await client.subscribe(topic, qos=1)
        await client.publish(self.topics.gateway_state, b"online", qos=1, retain=True)
        for topic, payload in list(self.states.items()):
            await client.publish(topic, payload, qos=1, retain=True)
        self.connected = True
        self.connects += 1
        self.subscription_stale = False
        self._last_heartbeat_rx = time.monotonic()
        log.info("mqtt: connected to %s:%d as %s", self.settings.host, self.settings.port,
                 self.client_id)
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self._drain(client))
                group.create_task(self._listen(client))
                group.create_task(self._heartbeat(client))
                group.create_task(self._until_stopped())
        except* _Stopped:
            # a clean stop sends no Last Will, so say it ourselves
            with contextlib.suppress(aiomqtt.MqttError):
                await client.publish(self.topics.gateway_state, b"offline", qos=1,
                                     retain=True, timeout=2)

    async def _until_stopped(self) -> None:
        await self._stop.wait()
        raise _Stopped

    async def _drain(self, client: aiomqtt.Client) -> None:
        window = self.settings.window
        publish = self._publish_window if _has_internals(client) else self._publish_each
        rows: list[Row] = []
        while True:
            self.ticks += 1
            if not rows:
                self.outbox.added.clear()
                rows = await self.outbox.peek(window)
            if not rows:
                # asyncio.timeout, not wait_for: on Python 3.11 wait_for returns normally
                # when the event fires just as the task is cancelled, so the stop's cancel
                # was lost and this loop (and the gateway's stop) ran on forever
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(1.0):
                        await self.outbox.added.wait()
                continue
            window_acks, failure = await publish(client, rows)
            # keep order: only the acknowledged prefix leaves the outbox
            done = window_acks.acknowledged(rows)
            if failure is not None:
                await self.outbox.ack(done)
                self.published += len(done)
                raise aiomqtt.MqttError(f"publish failed: {failure}")
            self.outbox.added.clear()  # what was added meanwhile, the peek sees
            rows = await self.outbox.ack_and_peek(done, window)
            self.published += len(done)

    async def _publish_window(self, client: aiomqtt.Client,
                              rows: list[Row]) -> tuple[AckWindow, str | None]:
        """Publish a window of rows at QoS 1 and wait for their PUBACKs together.

        (the window's PUBACKs, why some rows were not acknowledged). aiomqtt's
        own publish costs two tasks, an event and a timer per message; here each
        message costs paho's publish and a slot in aiomqtt's table of pending
        publishes, whose on_publish calls ``set()`` on what it finds there.
        """
        paho = client._client  # see _has_internals
        pending: dict[int, Any] = client._pending_publishes
        window = AckWindow(len(rows))
        complete = asyncio.Event()
        mids: list[int] = []
        failure: str | None = None
        try:
            for index, row in enumerate(rows):
                try:
                    info = paho.publish(row.topic, row.payload, qos=1)
                except ValueError as exc:  # a topic or payload paho refuses
                    failure = str(exc)
                    break
                if info.rc != mqtt.MQTT_ERR_SUCCESS:
                    failure = mqtt.error_string(info.rc)
                    break
                pending[info.mid] = _Ack(window, index, complete)
                mids.append(info.mid)
            if window.expect(len(mids)):
                complete.set()
            async with asyncio.timeout(self.settings.publish_timeout_s):  # see _drain
                await complete.wait()
        except TimeoutError:
            failure = failure or "no PUBACK within publish_timeout_s"
        finally:
            for mid in mids:
                pending.pop(mid, None)
        return window, failure

    async def _publish_each(self, client: aiomqtt.Client,
                            rows: list[Row]) -> tuple[AckWindow, str | None]:
        """aiomqtt's public publish, one awaited call per row (when its internals moved)."""
        results = await asyncio.gather(
            *(client.publish(r.topic, r.payload, qos=1) for r in rows), return_exceptions=True)
        window = AckWindow(len(rows))
        failure: str | None = None
        for index, result in enumerate(results):
            if not isinstance(result, BaseException):
                window.ack(index)
            elif failure is None:
                failure = str(result)
        return window, failure

    async def _listen(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            topic = str(message.topic)
            payload = message.payload if isinstance(message.payload, bytes) \
                else str(message.payload or "").encode()
            if topic == self.topics.heartbeat:
                self._heard_heartbeat(payload)
                continue
            handler = self.listeners.get(topic, self.on_command)
            task = asyncio.create_task(handler(topic, payload))
            self._tasks.add(task)  # a write may take a while; keep receiving meanwhile
            task.add_done_callback(self._tasks.discard)

    def _heard_heartbeat(self, payload: bytes) -> None:
        """Only our own heartbeat proves the subscription (gateway/uplink/heartbeat.py)."""
        if heartbeat.is_ours(payload, self._heartbeat_token):
            self._last_heartbeat_rx = time.monotonic()
        else:
            self.forged_heartbeats += 1
            log.warning("mqtt: a heartbeat without our token on %s ignored",
                        self.topics.heartbeat)

    def heartbeat_payload(self, n: int) -> bytes:
        return heartbeat.heartbeat_payload(n, self._heartbeat_token)

    async def _heartbeat(self, client: aiomqtt.Client) -> None:
        period = self.settings.heartbeat_s
        n = 0
        while True:
            n += 1
            await client.publish(self.topics.heartbeat, self.heartbeat_payload(n), qos=1)
            await asyncio.sleep(period)
            silent = time.monotonic() - self._last_heartbeat_rx
            if heartbeat.is_silent(silent, period):
                self.subscription_stale = True
                log.error("mqtt: connected but the command subscription has been silent for "
                          "%.0f s (heartbeat every %.0f s): resubscribing", silent, period)
                raise SubscriptionStalled("command subscription stalled")
