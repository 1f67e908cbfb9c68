"""The operator's connection to the central broker (paho-mqtt, synchronous, for the CLI):
read every site's retained health, reported and gateway state; push desired states and
wait for the sites' answers."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from gateway.core.settings import MqttSettings

#: what an operator listens to: {p}/{site}/fleet/{health,reported} and {p}/{site}/gateway/state
KINDS = ("health", "reported")


class BrokerUnreachable(OSError):
    pass


class FleetClient:
    """Connected on construction; ``close()`` when done. Retained messages arrive first."""

    def __init__(self, settings: MqttSettings, connect_timeout_s: float = 10.0):
        self.prefix = settings.prefix
        self.health: dict[str, dict[str, Any]] = {}
        self.reported: dict[str, dict[str, Any]] = {}
        self.online: dict[str, str] = {}
        self.last_message = time.monotonic()
        self._cond = threading.Condition()
        self._subscribed = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2,
                                  client_id=f"escogw-fleet-{uuid.uuid4().hex[:10]}")
        if settings.username:
            self.client.username_pw_set(settings.username, settings.password.get_secret_value()
                                        if settings.password else None)
        if settings.tls is not None:
            self.client.tls_set_context(settings.tls.ssl_context())
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = lambda *a: self._subscribed.set()
        self.client.on_message = self._on_message
        try:
            self.client.connect(settings.host, settings.port, keepalive=30)
        except OSError as exc:
            raise BrokerUnreachable(f"cannot reach the broker at {settings.host}:"
                                    f"{settings.port}: {exc.strerror or exc}") from None
        self.client.loop_start()
        if not self._subscribed.wait(connect_timeout_s):
            self.close()
            raise BrokerUnreachable(f"no answer from the broker at {settings.host}:"
                                    f"{settings.port} within {connect_timeout_s:g} s "
                                    "(credentials? TLS?)")

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, rc: Any,
                    props: Any) -> None:
        client.subscribe([(f"{self.prefix}/+/fleet/{k}", 1) for k in KINDS]
                         + [(f"{self.prefix}/+/gateway/state", 1)])

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        parts = msg.topic.split("/")
        site = parts[-3]
        with self._cond:
            self.last_message = time.monotonic()
            if parts[-2:] == ["gateway", "state"]:
                self.online[site] = msg.payload.decode("utf-8", "replace")[:20]
            else:
                try:
                    body = json.loads(msg.payload)
                except ValueError:
                    body = None
                if isinstance(body, dict):
                    (self.health if parts[-1] == "health" else self.reported)[site] = body
            self._cond.notify_all()

    def wait(self, predicate: Callable[[], bool], timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while not predicate():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.2))
            return True

    def settle(self, sites: Iterable[str], timeout_s: float, quiet_s: float = 0.5) -> None:
        """Until every site's retained health and report are in, or nothing new came for
        ``quiet_s`` (a site that never reported), at most ``timeout_s``."""
        wanted = set(sites)
        self.wait(lambda: (wanted <= set(self.health) and wanted <= set(self.reported))
                  or time.monotonic() - self.last_message > quiet_s, timeout_s)

    def push(self, site: str, payload: bytes, timeout_s: float = 30.0) -> None:
        """The desired state of ``site``, retained, acknowledged by the broker."""
        info = self.client.publish(f"{self.prefix}/{site}/fleet/desired", payload, qos=1,
                                   retain=True)
        info.wait_for_publish(timeout_s)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()
