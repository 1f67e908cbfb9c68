"""The PUBACK decoder put in paho's place (gateway/uplink/puback_decode.py) returns what
paho's own returns, for every message id, and leaves MQTT 5 and malformed packets to it."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from paho.mqtt import _packet
from paho.mqtt.enums import MQTTProtocolVersion
from paho.mqtt.exception import MalformedPacket

from gateway.uplink import puback_decode


def same(packet: bytes, protocol: MQTTProtocolVersion) -> None:
    paho = puback_decode._PAHO
    assert paho is not None
    ours = puback_decode.decode_puback(0x40, packet, protocol)
    theirs = paho(0x40, packet, protocol)
    assert (ours.mid, ours.reason, ours.reason.getName(), str(ours.properties)) == \
        (theirs.mid, theirs.reason, theirs.reason.getName(), str(theirs.properties))


@given(mid=st.integers(1, 0xFFFF))
def test_an_mqtt311_puback_decodes_as_paho_decodes_it(mid: int) -> None:
    same(mid.to_bytes(2, "big"), MQTTProtocolVersion.MQTTv311)
    same(mid.to_bytes(2, "big"), MQTTProtocolVersion.MQTTv31)


def test_mqtt5_pubacks_go_to_paho() -> None:
    same(b"\x00\x07\x10", MQTTProtocolVersion.MQTTv5)  # reason "No matching subscribers"
    same(b"\x00\x07", MQTTProtocolVersion.MQTTv5)


@pytest.mark.parametrize("packet", [b"", b"\x00", b"\x00\x01\x00"])
def test_a_malformed_puback_is_refused_as_paho_refuses_it(packet: bytes) -> None:
    with pytest.raises(MalformedPacket):
        puback_decode.decode_puback(0x40, packet, MQTTProtocolVersion.MQTTv311)


def test_installed_in_paho() -> None:
    assert puback_decode.install()
    assert _packet.decode_puback is puback_decode.decode_puback


def test_paho_s_client_looks_the_decoder_up_in_its_packet_module() -> None:
    """The patch only works while paho's client calls ``_packet.decode_puback`` by that
    name at every PUBACK; a release that binds it otherwise makes this fail."""
    import inspect

    from paho.mqtt import client

    assert "_packet.decode_puback(" in inspect.getsource(client)


def test_a_paho_that_decodes_otherwise_is_not_patched(monkeypatch: pytest.MonkeyPatch) -> None:
    paho = puback_decode._PAHO
    assert paho is not None
    monkeypatch.setattr(_packet, "decode_puback", paho)

    def other(header: int, packet: bytes, protocol: MQTTProtocolVersion) -> object:
        decoded = paho(header, packet, protocol)
        return _packet.PubackPacket(mid=decoded.mid + 1, reason=decoded.reason,
                                    properties=decoded.properties)
    monkeypatch.setattr(puback_decode, "_PAHO", other)
    assert not puback_decode.install()
    assert _packet.decode_puback is paho
