"""paho-mqtt's Client, reading what the socket already holds in one go.

Stock paho 2.x reads one packet per select() when it holds no QoS 2 state
(``loop_read`` sizes its loop by ``len(_out_messages) + len(_in_messages)``),
and each packet with three or four ``recv`` calls (1 byte of type, the length
byte by byte, then the rest). That is ~27 000 QoS 1 messages/s on our test
machine; a historian catching up after an outage wants more. This subclass

- reads the socket 64 KiB at a time into a buffer and serves paho's small
  reads from it (``_sock_recv``), and
- keeps reading packets until the socket and the buffer are both empty, reading
  the socket for at most ``DRAIN_PACKETS`` per select() (``loop_read``), so
  writes (PUBACKs) and keepalives still get their turn, and
- sends a batch's PUBACKs as one queued write (``ack_many``: the same bytes as
  one ``ack`` per message, without a wake-up of the network thread for each),
- and hands QoS 0/1 publishes straight to ``on_raw_publish``
  (``_handle_publish``),

which measured ~67 000 messages/s (MQTT 3.1.1) on the same machine. It touches
paho internals (``_sock``, ``_sock_recv``, ``_packet_read``, ``_loop_rc_handle``,
``_packet_queue``, ``_manual_ack``, ``_handle_publish``, ``_in_packet``,
``_in_callback_mutex``, ``_protocol``), pinned by ``paho-mqtt>=2.1,<3``;
``make_client`` falls back to the stock client if they are missing, and every
historian test runs through this class.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Callable, Sequence
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode
from paho.mqtt.exception import MalformedPacket

log = logging.getLogger("escogw.historian")

DRAIN_PACKETS = 1000
READ_SIZE = 65_536
_INTERNALS = ("_sock_recv", "_packet_read", "_loop_rc_handle", "_packet_queue",
              "_handle_publish", "_send_puback")

#: (topic, payload, packet id, qos, retain, dup) of one PUBLISH
RawPublish = Callable[[bytes, bytes, int, int, bool, bool], None]
_PUBACK = struct.Struct("!BBH")  # exactly what paho's _send_command_with_mid builds


class DrainingClient(mqtt.Client):
    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._rbuf = b""
        self._rpos = 0
        self._refill = True
        #: when set, MQTT 3.1.1 QoS 0/1 publishes go here instead of on_message
        self.on_raw_publish: RawPublish | None = None

    def _handle_publish(self) -> MQTTErrorCode:
        """QoS 0 or 1 with ``on_raw_publish`` set: decode the packet in a few slices and
        hand it over, without paho's MQTTMessage (a Condition per message), its
        format-string struct calls, MQTT 5 property objects, callback matching and
        debug log — about 5 µs of the ~22 µs a message cost. MQTT 5 properties are
        skipped (the historian reads none). Anything else: paho's own."""
        handler = self.on_raw_publish
        header = self._in_packet["command"]
        qos = (header & 0x06) >> 1
        if handler is None or qos == 2:
            return super()._handle_publish()
        packet = self._in_packet["packet"]
        if len(packet) < 2:
            raise MalformedPacket("PUBLISH too short")
        end = 2 + ((packet[0] << 8) | packet[1])
        if end == 2:  # MQTT 5 topic alias (never granted by us) or a broken packet
            return super()._handle_publish()
        payload_at = end + (2 if qos else 0)
        if len(packet) < payload_at:
            raise MalformedPacket("PUBLISH topic or packet id missing")
        mid = (packet[end] << 8) | packet[end + 1] if qos else 0
        if self._protocol == mqtt.MQTTv5:
            payload_at = _skip_properties(packet, payload_at)
        with self._in_callback_mutex:
            handler(bytes(packet[2:end]), bytes(packet[payload_at:]), mid, qos,
                    bool(header & 0x01), bool(header & 0x08))
        if qos == 1 and not self._manual_ack:
            return self._send_puback(mid)
        return MQTTErrorCode.MQTT_ERR_SUCCESS

    def _sock_recv(self, bufsize: int) -> bytes:
        if self._rpos >= len(self._rbuf):
            if not self._refill:
                raise BlockingIOError  # finish the buffer only; the socket waits for select()
            # Raises BlockingIOError when the socket is empty: paho's "try again later".
            data = super()._sock_recv(max(bufsize, READ_SIZE))
            if not data:
                return data  # connection closed
            self._rbuf, self._rpos = data, 0
        start = self._rpos
        self._rpos = min(len(self._rbuf), start + bufsize)
        return self._rbuf[start:self._rpos]

    def _buffered(self) -> bool:
        return self._rpos < len(self._rbuf)

    def loop_read(self, max_packets: int = 1) -> MQTTErrorCode:
        """Read packets until nothing is left. After DRAIN_PACKETS, only what is
        already buffered is finished (at most READ_SIZE bytes): select() sees the
        socket but not our buffer, so we never return while the buffer holds bytes."""
        n = 0
        try:
            while True:
                if self._sock is None:
                    return MQTTErrorCode.MQTT_ERR_NO_CONN
                n += 1
                if n > DRAIN_PACKETS:
                    self._refill = False
                rc = self._packet_read()
                if rc > 0:
                    return self._loop_rc_handle(rc)
                if rc == MQTTErrorCode.MQTT_ERR_AGAIN and not self._buffered():
                    return MQTTErrorCode.MQTT_ERR_SUCCESS
        finally:
            self._refill = True

    def ack_many(self, mids: Sequence[int]) -> None:
        """PUBACK every QoS 1 message id in one write (paho queues, and wakes its
        network thread, once per ``ack``)."""
        if mids and self._manual_ack:
            blob = b"".join([_PUBACK.pack(mqtt.PUBACK, 2, mid) for mid in mids])
            self._packet_queue(mqtt.PUBACK, blob, 0, 1)

    def reconnect(self) -> MQTTErrorCode:
        self._rbuf, self._rpos = b"", 0  # never carry bytes into a new connection
        return super().reconnect()


def _skip_properties(packet: bytes | bytearray, at: int) -> int:
    """Index after an MQTT 5 property block (a variable byte integer length, then
    that many bytes) starting at ``at``."""
    length, shift = 0, 0
    while True:
        if at >= len(packet) or shift > 21:
            raise MalformedPacket("PUBLISH property length")
        byte = packet[at]
        at += 1
        length |= (byte & 0x7F) << shift
        if not byte & 0x80:
            break
        shift += 7
    if at + length > len(packet):
        raise MalformedPacket("PUBLISH properties")
    return at + length


def make_client(*args: Any, **kwargs: Any) -> mqtt.Client:
    """A DrainingClient, or paho's own if its internals are not what we expect."""
    if all(callable(getattr(mqtt.Client, name, None)) for name in _INTERNALS):
        client: mqtt.Client = DrainingClient(*args, **kwargs)
        if hasattr(client, "_sock"):
            return client
    log.warning("paho-mqtt internals changed: using the stock client (slower reads)")
    return mqtt.Client(*args, **kwargs)
