"""Line protocol built as strings, and MQTT messages (docs/mqtt.md) turned into points."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.historian import lineproto
from gateway.historian.convert import BadMessage, Converter, parse_ts


def payload(**doc: object) -> bytes:
    return json.dumps({"v": 1, **doc}).encode()


def convert(topic: str, doc: bytes, prefix: str = "escogw") -> list[str]:
    return Converter(prefix).convert(topic, doc).lines


# -- line protocol ------------------------------------------------------------------------


def test_escaping_of_names_tags_and_strings() -> None:
    assert lineproto.escape_measurement("my meter,x") == "my\\ meter\\,x"
    assert lineproto.escape_key("a b,c=d") == "a\\ b\\,c\\=d"
    assert lineproto.escape_key("line\nbreak") == "line\\ break"
    assert lineproto.escape_key("ends\\") == "ends"  # would escape the separator
    assert lineproto.escape_string_field('say "hi" \\ o\nk') == '"say \\"hi\\" \\\\ o\\nk"'


def test_series_key_sorts_tags_and_drops_empty_and_reserved() -> None:
    key = lineproto.series_key("meter", {"site": "s 1", "device": "m1", "zone": "",
                                         "time": "x", "building": "A"})
    assert key == "meter,building=A,device=m1,site=s\\ 1"


def test_numbers_are_always_floats() -> None:
    fields = lineproto.float_fields({"a": 1, "b": 2.5, "c": True, "d": False, "e": 10**20,
                                     "f": math.nan, "g": math.inf, "h": None, "i": "text",
                                     "time": 3.0, "": 1.0})
    assert fields == ["a=1.0", "b=2.5", "c=1.0", "d=0.0", "e=1e+20"]
    assert not any(f.endswith("i") for f in fields)


def test_json_numbers_keep_their_text() -> None:
    doc = lineproto.decode_json('{"x": 1, "y": -0.5e-3, "z": 12345678901234567890, "s": "1"}')
    assert lineproto.float_fields(doc) == ["x=1", "y=-0.5e-3", "z=12345678901234567890"]
    assert isinstance(doc["x"], lineproto.Number) and not isinstance(doc["s"], lineproto.Number)


def test_decode_json_errors_and_whitespace() -> None:
    assert lineproto.decode_json(' {"a": 1}\n') == {"a": "1"}
    for bad in ('{"a": 1} x', "", "{", "[1,]"):
        with pytest.raises(ValueError):
            lineproto.decode_json(bad)


def test_names_that_escape_to_nothing_are_left_out() -> None:
    assert lineproto.float_fields({"\\": 1.0, "ok": 2.0}) == ["ok=2.0"]
    assert lineproto.series_key("m", {"\\": "x", "a": "\\", "b": "c"}) == "m,b=c"


def test_a_point_needs_a_field() -> None:
    assert lineproto.line("m,a=b", [], 1) is None
    assert lineproto.line("m,a=b", ["f=1.0"], 5) == "m,a=b f=1.0 5"


@given(st.dictionaries(st.text(min_size=1, max_size=12),
                       st.one_of(st.floats(allow_nan=True, allow_infinity=True),
                                 st.integers(-10**6, 10**6), st.booleans()), max_size=8))
def test_float_fields_always_parse_back(values: dict[str, object]) -> None:
    for field in lineproto.float_fields(values):
        key, _, number = field.rpartition("=")
        assert key
        assert math.isfinite(float(number))


# -- timestamps ------------------------------------------------------------------------


def test_parse_ts_is_exact_milliseconds() -> None:
    assert parse_ts("2026-07-15T01:23:45.123Z") == 1_784_078_625_123
    assert parse_ts("2026-07-15T09:23:45.123+08:00") == 1_784_078_625_123
    assert parse_ts("1970-01-01T00:00:00.001Z") == 1
    for bad in ("2026-07-15T01:23:45.123", "yesterday", None, 17):
        with pytest.raises(BadMessage):
            parse_ts(bad)


# -- messages → points -------------------------------------------------------------------------


def test_a_data_message_becomes_one_point() -> None:
    doc = payload(ts="2026-07-15T01:23:45.123Z", seq=812, device="main-meter", kind="meter",
                  tags={"building": "A", "role": "main", "site": "forged", "floor": 2},
                  values={"active_power_kw": 4.92, "energy_import_kwh": 1234, "power": True},
                  failed={"thd_voltage_l1_pct": "timeout"}, flags={"energy_import_kwh": "reset"})
    (point,) = convert("escogw/demo-office/main-meter/data", doc)
    assert point == ("meter,building=A,device=main-meter,floor=2,role=main,site=demo-office "
                     "active_power_kw=4.92,energy_import_kwh=1234,power=1.0 1784078625123")


def test_a_state_message_becomes_a_device_state_point() -> None:
    doc = payload(online=True, state="degraded", since="2026-07-15T01:00:00.000Z", error="x")
    assert convert("escogw/s1/ac-r101/state", doc) == [
        "device_state,device=ac-r101,site=s1 online=1.0,state_code=1.0 1784077200000"]


def test_a_control_event_keeps_its_reason_as_a_string() -> None:
    doc = payload(ts="2026-07-15T00:00:00.000Z", device="ac-r101", point="setpoint_c",
                  before=24.0, after=26.0, rule="clamp:cooling-floor",
                  reason='below 26 °C, "raised"', inputs={"room_temp_c": 27.1})
    assert convert("escogw/s1/control/event", doc) == [
        'control_event,device=ac-r101,point=setpoint_c,rule=clamp:cooling-floor,site=s1 '
        'before=24.0,after=26.0,reason="below 26 °C, \\"raised\\"" 1784073600000']


def test_a_site_level_alarm_is_stored_not_dropped() -> None:
    """Issue 14, finding 8: ``device: null`` made every alarm and notice a bad message."""
    from gateway.control.audit import Alarm, Notice, alarm_record, notice_record

    at = datetime(2026, 12, 6, 1, 0, tzinfo=UTC)
    alarm = alarm_record(Alarm("calendar:coverage", None, "2027 is not covered", True, at))
    assert convert("escogw/s1/control/event", json.dumps(alarm).encode()) == [
        'control_event,kind=alarm,rule=calendar:coverage,site=s1 active=1.0,'
        'reason="2027 is not covered" 1796518800000']
    notice = notice_record(Notice(at, "ac-r101", "demand:shed", "shed one step", {}))
    assert convert("escogw/s1/control/event", json.dumps(notice).encode()) == [
        'control_event,device=ac-r101,kind=notice,rule=demand:shed,site=s1 '
        'reason="shed one step" 1796518800000']


def test_an_energy_interval_is_stamped_with_its_start() -> None:
    doc = payload(start="2026-07-15T00:00:00.000Z", end="2026-07-15T00:15:00.000Z",
                  device="main-meter", kwh=12.34, period="peak", price=1.12, cost=13.82,
                  demand_kw=49.4, quality="good")
    assert convert("escogw/s1/energy/interval", doc) == [
        "energy_interval,device=main-meter,period=peak,site=s1 "
        "kwh=12.34,cost=13.82,price=1.12,demand_kw=49.4 1784073600000"]


def test_ev_charger_state_session_and_allocation_become_points() -> None:
    state = payload(ts="2026-07-15T01:00:00.000Z", online=True, connectors={
        "1": {"status": "Charging", "power_kw": 7.2, "limit_kw": 7.26, "session": None},
        "2": {"status": "Available", "power_kw": 0.0, "limit_kw": None, "session": None}})
    assert convert("escogw/s1/ev/CP01/state", state) == [
        "ev_connector,charger=CP01,connector=1,site=s1,status=Charging "
        "power_kw=7.2,limit_kw=7.26,online=1.0 1784077200000",
        "ev_connector,charger=CP01,connector=2,site=s1,status=Available "
        "power_kw=0.0,online=1.0 1784077200000"]
    session = payload(charger="CP01", stop="2026-07-15T07:00:00.000Z", energy_kwh=24.9)
    assert convert("escogw/s1/ev/session", session) == [
        "ev_session,charger=CP01,site=s1 energy_kwh=24.9 1784098800000"]
    priced = payload(charger="CP01", stop="2026-07-15T07:00:00.000Z", energy_kwh=24.9,
                     cost=9.95, by_period={"valley": {"kwh": 14.0, "cost": 4.1},
                                           "flat": {"kwh": 10.9, "cost": 7.09}})
    assert convert("escogw/s1/ev/session", priced) == [
        "ev_session,charger=CP01,site=s1 energy_kwh=24.9,cost=9.95,kwh_valley=14.0,"
        "cost_valley=4.1,kwh_flat=10.9,cost_flat=7.09 1784098800000"]
    alloc = payload(ts="2026-07-15T01:00:00.000Z", budget_kw=61.4, uncontrolled_kw=0.0,
                    limits_kw={}, paused=["CP02/1"])
    assert convert("escogw/s1/ev/allocation", alloc) == [
        "ev_allocation,site=s1 budget_kw=61.4,uncontrolled_kw=0.0,paused=1.0 1784077200000"]
    with pytest.raises(BadMessage, match="connectors"):
        convert("escogw/s1/ev/CP01/state", payload(ts="2026-07-15T01:00:00.000Z"))


def test_a_fleet_health_summary_becomes_a_point() -> None:
    from gateway.fleet.site_health import HealthFacts

    facts = HealthFacts(ts="2026-07-15T01:00:00.000Z", software="0.1.0", uptime_s=3600.0,
                        links=4, links_online=3, devices=25, failing_devices=("wm",),
                        outbox_depth=12, outbox_age_s=1.5, outbox_dropped=0,
                        mqtt_connected=True, control_ticks=360, control_tick_failures=0,
                        alarms=("demand:meter",), rules_digest="sha256:ab", rules_version="v2")
    assert convert("escogw/s1/fleet/health", facts.payload("s1")) == [
        # numbers keep their JSON text (line protocol reads 4 as a float), booleans are 0/1
        "fleet_health,rules_version=v2,site=s1,software=0.1.0 uptime_s=3600.0,links=4,"
        "links_online=3,devices=25,devices_failing=1,outbox_depth=12,outbox_age_s=1.5,"
        "outbox_dropped=0,mqtt_connected=1.0,control_ticks=360,control_tick_failures=0,"
        "alarms_active=1 1784077200000"]
    with pytest.raises(BadMessage, match="health summary"):
        convert("escogw/s1/fleet/health", payload(ts="2026-07-15T01:00:00.000Z"))


def test_a_multi_level_prefix() -> None:
    doc = payload(ts="2026-07-15T00:00:00.000Z", kind="water", values={"volume_m3": 1.5})
    assert convert("acme/escogw/s1/wm/data", doc, prefix="acme/escogw") == [
        "water,device=wm,site=s1 volume_m3=1.5 1784073600000"]


@pytest.mark.parametrize("topic", [
    "escogw/s1/gateway/state",          # plain text, no time: not stored
    "escogw/s1/ac-r101/cmd",            # commands go the other way
    "escogw/s1/ac-r101/cmd/result",
    "other/s1/m1/data",
    "escogw/s1/m1/meta",
])
def test_topics_that_are_not_stored(topic: str) -> None:
    assert Converter("escogw").convert(topic, b"online").ignored


def test_a_reading_without_any_number_stores_nothing() -> None:
    doc = payload(ts="2026-07-15T00:00:00.000Z", kind="meter", values={},
                  failed={"active_power_kw": "timeout"})
    assert Converter().convert("escogw/s1/m1/data", doc).ignored


@pytest.mark.parametrize(("doc", "reason"), [
    (b"not json", "not JSON"),
    (b"\xff\xfe", "not JSON"),
    (b"[1, 2]", "not a JSON object"),
    (json.dumps({"v": 2, "ts": "2026-07-15T00:00:00Z"}).encode(), "unknown payload version"),
    (json.dumps({"ts": "2026-07-15T00:00:00Z"}).encode(), "unknown payload version"),
    (json.dumps({"v": "1", "ts": "2026-07-15T00:00:00Z"}).encode(), "unknown payload version"),
    (payload(kind="meter", values={"a": 1}), "'ts'"),
    (payload(ts="2026-07-15T00:00:00", kind="meter", values={"a": 1}), "no time zone"),
    (payload(ts="2026-07-15T00:00:00Z", values={"a": 1}), "'kind'"),
    (payload(ts="2026-07-15T00:00:00Z", kind="Meter X", values={"a": 1}), "'kind'"),
    (payload(ts="2026-07-15T00:00:00Z", kind="meter", values=[1]), "'values'"),
    (payload(ts="2026-07-15T00:00:00Z", kind="meter", values={}, tags=[1]), "'tags'"),
])
def test_bad_payloads(doc: bytes, reason: str) -> None:
    with pytest.raises(BadMessage, match=reason):
        Converter().convert("escogw/s1/m1/data", doc)


def test_bad_state_event_and_interval_payloads() -> None:
    c = Converter()
    with pytest.raises(BadMessage, match="state"):
        c.convert("escogw/s1/m1/state", payload(since="2026-07-15T00:00:00Z"))
    with pytest.raises(BadMessage, match="ts"):  # site-level events may lack a device, not a time
        c.convert("escogw/s1/control/event", payload(point="p", reason="r"))
    with pytest.raises(BadMessage, match="neither"):
        c.convert("escogw/s1/control/event",
                  payload(ts="2026-07-15T00:00:00Z", device="d", point="p", after="cool"))
    with pytest.raises(BadMessage, match="'start'"):
        c.convert("escogw/s1/energy/interval", payload(device="m", kwh=1))


def test_unhashable_tag_values_are_left_out() -> None:
    doc = payload(ts="2026-07-15T00:00:00Z", kind="meter", values={"a": 1},
                  tags={"building": "A", "odd": ["x"], "deep": {"y": 1}})
    assert convert("escogw/s1/m1/data", doc) == [
        "meter,building=A,device=m1,site=s1 a=1 1784073600000"]


def test_mqtt5_property_block_is_skipped() -> None:
    from paho.mqtt.exception import MalformedPacket

    from gateway.historian.mqttclient import _skip_properties

    assert _skip_properties(b"\x00payload", 0) == 1
    assert _skip_properties(b"\x03\x01\x01\x00payload", 0) == 4
    assert _skip_properties(b"xx\x80\x01" + b"p" * 128 + b"payload", 2) == 4 + 128
    for broken in (b"", b"\x05ab", b"\x80\x80\x80\x80\x01"):
        with pytest.raises(MalformedPacket):
            _skip_properties(broken, 0)
