"""Data messages of contract v1 (docs/mqtt.md): the fields, the time format, the escaping."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from gateway.acquisition.reading import Reading
from gateway.uplink.messages import data_payload, data_payload_with, device_fields, iso

TS = datetime(2026, 7, 15, 1, 23, 45, 123_999, tzinfo=UTC)


def test_a_data_message_carries_every_field_of_the_contract() -> None:
    reading = Reading("main-meter", TS, 0, {"active_power_kw": 4.92, "energy_import_kwh": 1234.5},
                      {"thd_voltage_l1_pct": "timeout"}, {"energy_import_kwh": "reset"})
    body = json.loads(data_payload(reading, 812, "meter", {"building": "A", "role": "main"}))
    assert body == {"v": 1, "ts": "2026-07-15T01:23:45.123Z", "seq": 812,
                    "device": "main-meter", "kind": "meter",
                    "tags": {"building": "A", "role": "main"},
                    "values": {"active_power_kw": 4.92, "energy_import_kwh": 1234.5},
                    "failed": {"thd_voltage_l1_pct": "timeout"},
                    "flags": {"energy_import_kwh": "reset"}}
    assert list(body)[:4] == ["v", "ts", "seq", "device"]


def test_failed_and_flags_are_left_out_when_empty() -> None:
    body = json.loads(data_payload(Reading("m", TS, 0, {"x": 1}), 1, "meter", {}))
    assert "failed" not in body and "flags" not in body and body["values"] == {"x": 1}


def test_times_are_utc_with_milliseconds_and_z() -> None:
    shanghai = timezone(timedelta(hours=8))
    assert iso(TS) == "2026-07-15T01:23:45.123Z"
    assert iso(TS.astimezone(shanghai)) == "2026-07-15T01:23:45.123Z"
    assert iso(TS.replace(microsecond=0)) == "2026-07-15T01:23:45.000Z"


@given(device=st.text(min_size=1, max_size=20), tag=st.text(max_size=20),
       values=st.dictionaries(st.text(max_size=10),
                              st.floats(allow_nan=False, allow_infinity=False) | st.integers(),
                              max_size=5))
def test_kept_device_fields_give_the_same_message(device: str, tag: str,
                                                  values: dict[str, float]) -> None:
    reading = Reading(device, TS, 0, dict(values))
    kept = data_payload_with(device_fields(device, "water", {"zone": tag}), reading, 7)
    assert kept == data_payload(reading, 7, "water", {"zone": tag})
    assert json.loads(kept)["tags"] == {"zone": tag} and json.loads(kept)["device"] == device
