"""``escogw override``: an operator override from the command line, through the broker.

The CLI sends the same command message an operator's dashboard would
(docs/mqtt.md) and waits for its result, so the running gateway's command path
and control loop handle it — checks, clamps, expiry — exactly as for MQTT.
"""

from __future__ import annotations

import json
import math
import sys
import threading
import uuid
from datetime import UTC, datetime

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from gateway.core.settings import GatewaySettings
from gateway.core.site import Site
from gateway.i18n import _
from gateway.uplink.messages import Topics, iso


def _value(text: str) -> int | float | str:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def send_override(site: Site, settings: GatewaySettings, device: str, point: str, value: str,
                  timeout_s: float) -> int:
    topics = Topics(settings.mqtt.prefix, site.id)
    command_id = f"cli-{uuid.uuid4().hex[:10]}"
    result: dict[str, object] = {}
    done = threading.Event()

    def on_message(client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        body = json.loads(msg.payload)
        if body.get("id") == command_id:
            result.update(body)
            done.set()

    def on_connect(client: mqtt.Client, userdata: object, flags: object, rc: object,
                   props: object) -> None:
        client.subscribe(topics.cmd_result(device), qos=1)
        client.subscribe(topics.cmd_result("gateway"), qos=1)
        # its age twice: sent_at for the gateway, message expiry for the broker, which
        # drops it unsent if the gateway is away for longer than the wait
        expiry = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
        expiry.MessageExpiryInterval = max(1, math.ceil(timeout_s))
        client.publish(f"{topics.base}/{device}/cmd",
                       json.dumps({"id": command_id, "point": point, "value": _value(value),
                                   "ttl_s": timeout_s,
                                   "sent_at": iso(datetime.now(UTC))}), qos=1,
                       properties=expiry)

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"escogw-cli-{command_id}",
                         protocol=mqtt.MQTTv5)
    m = settings.mqtt
    if m.username:
        client.username_pw_set(m.username, m.password.get_secret_value() if m.password else None)
    if m.tls is not None:
        client.tls_set_context(m.tls.ssl_context())  # honours tls.insecure, like the gateway
    client.on_message = on_message
    client.on_connect = on_connect
    try:
        client.connect(m.host, m.port, keepalive=30)
    except OSError as exc:
        print(_("cannot reach the broker at {host}:{port}: {error}").format(
            host=m.host, port=m.port, error=exc.strerror), file=sys.stderr)
        return 1
    client.loop_start()
    answered = done.wait(timeout_s)
    client.loop_stop()
    client.disconnect()
    if not answered:
        print(_("no result from the gateway within {seconds:g} s (is it running and "
                "connected to {host}:{port}?)").format(seconds=timeout_s, host=m.host,
                                                       port=m.port), file=sys.stderr)
        return 1
    if result.get("ok"):
        from gateway.cli.device import display

        applied = result.get("applied")
        shown = display(point, applied) if isinstance(applied, int | float | str) else applied
        print(_("{device}.{point} = {value} (override {id}; it expires by itself and the "
                "schedule resumes)").format(device=device, point=point, value=shown,
                                            id=command_id))
        return 0
    print(f"{device}.{point}: {result.get('error')}", file=sys.stderr)
    return 1
