"""paho's PUBACK decoder, made cheap for the MQTT 3.1.1 PUBACKs the publisher receives.

paho 2.x decodes every incoming PUBACK through ``paho.mqtt._packet.decode_puback``,
which builds a new ``ReasonCode`` and a new ``Properties`` (two dictionaries of every
MQTT 5 property name) each time: ~20 µs of CPU on the development machine, one
PUBACK per reading published, more than the rest of the PUBACK's way through paho
(docs/performance.md). An MQTT 3.1.1 PUBACK carries a message id and nothing else,
and paho fills in a success reason code and no properties for it. ``install()``
puts a decoder in paho's place that returns, for such a PUBACK, its message id with
one shared success reason code and one shared empty property set — what paho's
own would return, without building them again — and hands every other packet
(MQTT 5, a malformed length) to paho's own decoder.

paho looks the decoder up in its ``_packet`` module for every PUBACK, so replacing
that name is enough; the publisher installs it once, after checking on a sample packet
that both decoders agree. Should a paho release no longer have it, or decode otherwise,
nothing is replaced and paho's own runs as before. tests/uplink/test_puback_decode.py
checks both decoders agree, and that paho's client really calls this one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from paho.mqtt import _packet
from paho.mqtt.enums import MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

_PAHO: Callable[..., Any] | None = getattr(_packet, "decode_puback", None)
_SUCCESS = ReasonCode(PacketTypes.PUBACK)
_NO_PROPERTIES = Properties(PacketTypes.PUBACK)  # type: ignore[no-untyped-call]


def decode_puback(header: int, packet: bytes | bytearray,
                  protocol: MQTTProtocolVersion) -> Any:
    """paho's ``decode_puback``, without new objects for a two-byte MQTT 3.1.1 PUBACK."""
    assert _PAHO is not None
    if protocol != MQTTProtocolVersion.MQTTv5 and len(packet) == 2:
        return _packet.PubackPacket(mid=packet[0] << 8 | packet[1], reason=_SUCCESS,
                                    properties=_NO_PROPERTIES)
    return _PAHO(header, packet, protocol)


def _agrees() -> bool:
    """Both decoders on a sample PUBACK: the same message id, a success reason code, no
    properties. A paho release that changed the packet's shape fails here, and paho's
    own decoder is kept (slower, never wrong)."""
    sample = bytes([0x12, 0x34])
    try:
        ours = decode_puback(0x40, sample, MQTTProtocolVersion.MQTTv311)
        theirs = _PAHO(0x40, sample, MQTTProtocolVersion.MQTTv311) if _PAHO else None
        return theirs is not None and type(ours) is type(theirs) and \
            ours.mid == theirs.mid == 0x1234 and ours.reason == theirs.reason and \
            ours.reason.value == 0 and not ours.properties.json()
    except Exception:  # any other shape: not ours to patch
        return False


def install() -> bool:
    """Put ``decode_puback`` in paho's place (again is harmless) when it decodes as
    paho's own does; whether it is there."""
    if _PAHO is None or not hasattr(_packet, "PubackPacket") or not _agrees():
        return False
    _packet.decode_puback = decode_puback
    return True
