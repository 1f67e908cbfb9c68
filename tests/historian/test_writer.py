"""Writing a batch: back-off while the database is away, refused lines isolated,
logged and counted without blocking the rest — with a scripted sink, against the
real InfluxDB 1.x writer, and end to end through the historian."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest

from gateway.historian.config import InfluxSettings
from gateway.historian.logfmt import LogfmtFormatter
from gateway.historian.sink import Rejected, SinkError, TooLarge, Unavailable, V1Sink, classify
from gateway.historian.writer import Abandoned, Backoff, BatchWriter
from tests.historian.conftest import running, settings_for
from tests.historian.hist_helpers import data_message, publish, unique, until
from tests.services import InfluxDB, Mosquitto, VictoriaMetrics


class ScriptedSink:
    """Refuses lines containing 'bad' (400), is down for the first ``down`` calls,
    refuses bodies over ``limit`` bytes (413)."""

    def __init__(self, down: int = 0, limit: int = 10**9, quote: bool = False):
        self.down = down
        self.limit = limit
        self.quote = quote
        self.calls: list[list[str]] = []
        self.stored: set[str] = set()

    def write(self, body: bytes) -> None:
        lines = body.decode().split("\n")
        self.calls.append(lines)
        if self.down:
            self.down -= 1
            raise Unavailable("unavailable", "connection refused")
        if len(body) > self.limit:
            raise TooLarge("too_large", "request entity too large", 413)
        bad = [ln for ln in lines if "bad" in ln]
        if bad:
            self.stored.update(ln for ln in lines if "bad" not in ln)  # 1.x: partial write
            if self.quote:
                raise Rejected("rejected", f"partial write: unable to parse '{bad[0]}': "
                                           "invalid field format dropped=0", 400)
            raise Rejected("rejected", 'partial write: field type conflict: input field "v" '
                                       'on measurement "m" is type string dropped=1', 400)
        self.stored.update(lines)

    def close(self) -> None:
        pass

    def describe(self) -> str:
        return "scripted"


def writer(sink: ScriptedSink, stop_after: int | None = None) -> tuple[BatchWriter, list[float]]:
    waits: list[float] = []

    def wait(seconds: float) -> bool:
        waits.append(seconds)
        return stop_after is not None and len(waits) >= stop_after

    return BatchWriter(sink, Backoff(0.5, 4.0, rng=lambda: 1.0), wait,
                       lambda e, n, d: None), waits


def lines(n: int, bad: tuple[int, ...] = ()) -> list[str]:
    return [f"m,i={i} v={'bad' if i in bad else i} {i}" for i in range(n)]


def test_refused_lines_are_isolated_by_bisection() -> None:
    sink = ScriptedSink()
    w, _ = writer(sink)
    batch = lines(64, bad=(3, 40, 41))
    outcome = w.write(batch)
    assert sorted(line for line, _ in outcome.rejected) == sorted(batch[i] for i in (3, 40, 41))
    assert all("type conflict" in reason for _, reason in outcome.rejected)
    assert outcome.written == 61
    assert sink.stored == {ln for i, ln in enumerate(batch) if i not in (3, 40, 41)}
    assert outcome.requests < 40  # ~2·log2(64) per bad line, not one per line


def test_quoted_unparsable_lines_are_taken_out_at_once() -> None:
    sink = ScriptedSink(quote=True)
    w, _ = writer(sink)
    outcome = w.write(lines(1000, bad=(500,)))
    assert [line for line, _ in outcome.rejected] == ["m,i=500 v=bad 500"]
    assert outcome.requests == 2  # the batch, then the batch without the quoted line


def test_unavailable_is_retried_with_exponential_back_off() -> None:
    sink = ScriptedSink(down=5)
    w, waits = writer(sink)
    outcome = w.write(lines(10))
    assert outcome.written == 10 and not outcome.rejected
    assert waits == [0.5, 1.0, 2.0, 4.0, 4.0]  # doubling, capped (jitter pinned to 1.0)
    assert len(sink.calls) == 6


def test_jitter_keeps_delays_between_half_and_full() -> None:
    backoff = Backoff(1.0, 8.0)
    delays = [backoff.next() for _ in range(6)]
    caps = [1, 2, 4, 8, 8, 8]
    assert all(c / 2 <= d <= c for d, c in zip(delays, caps, strict=True))
    backoff.reset()
    assert backoff.next() <= 1.0


def test_stopping_while_unavailable_abandons_the_batch() -> None:
    sink = ScriptedSink(down=100)
    w, _ = writer(sink, stop_after=3)
    with pytest.raises(Abandoned):
        w.write(lines(10))
    assert not sink.stored


def test_too_large_bodies_are_split() -> None:
    sink = ScriptedSink(limit=200)
    w, _ = writer(sink)
    outcome = w.write(lines(50))
    assert outcome.written == 50 and len(sink.stored) == 50


@pytest.mark.parametrize(("status", "kind", "cls"), [
    (400, "rejected", Rejected), (422, "rejected", Rejected), (413, "too_large", TooLarge),
    (500, "server", Unavailable), (503, "server", Unavailable), (429, "server", Unavailable),
    (401, "client", Unavailable), (404, "client", Unavailable)])
def test_http_status_classes(status: int, kind: str, cls: type[SinkError]) -> None:
    err = classify(status, "x")
    assert isinstance(err, cls) and err.kind == kind


# -- the real InfluxDB 1.x ------------------------------------------------------------------


def test_the_v1_sink_against_influxdb(influxdb: InfluxDB) -> None:
    db = unique("sink").replace("-", "_")
    influxdb.create_database(db)
    influxdb.write('meter,device=x note="a string" 1', db, precision="ms")
    sink = V1Sink(InfluxSettings(api="v1", url=influxdb.url, database=db))
    w = BatchWriter(sink, Backoff(0.1, 0.1), lambda s: False, lambda e, n, d: None)
    batch = [f"meter,device=d{i} v={i}.0 {1000 + i}" for i in range(20)]
    batch[7] = "meter,device=d7 note=3.0 1007"  # float into a string field: refused
    batch[12] = "meter,device=d12 v=1.0,v 1012"  # unparsable
    outcome = w.write(batch)
    assert sorted(ln for ln, _ in outcome.rejected) == sorted([batch[7], batch[12]])
    rows = influxdb.points('SELECT count("v") FROM "meter"', db)
    assert rows[0]["count"] == 18
    sink.close()
    with pytest.raises(Unavailable) as err:
        V1Sink(InfluxSettings(api="v1", url=influxdb.url.replace(str(influxdb.port), "1"),
                              database=db)).write(b"m v=1.0 1")
    assert err.value.kind == "unavailable"
    with pytest.raises(Unavailable) as err:
        V1Sink(InfluxSettings(api="v1", url=influxdb.url, database="nope")).write(b"m v=1 1")
    assert err.value.kind == "client" and "database not found" in err.value.message


def test_refused_and_bad_messages_are_counted_logged_and_acknowledged(
        mosquitto: Mosquitto, influxdb: InfluxDB, caplog: pytest.LogCaptureFixture) -> None:
    db = unique("refused").replace("-", "_")
    influxdb.create_database(db)
    t0 = datetime(2026, 7, 15, tzinfo=UTC)
    # InfluxDB 1.x keeps field types per shard: the string goes into the readings' shard.
    influxdb.write(f'meter,device=m0,site=s1 note="text" {int(t0.timestamp() * 1000)}', db,
                   precision="ms")
    prefix = unique("escogw-refused")
    good = [data_message(prefix, "s1", "m1", "meter", t0 + timedelta(seconds=i), i,
                         {"active_power_kw": float(i)}) for i in range(50)]
    conflict = data_message(prefix, "s1", "m1", "meter", t0 + timedelta(seconds=99), 99,
                            {"note": 1.5})  # a float into a string field
    bad = [(f"{prefix}/s1/m1/data", b"{not json"),
           (f"{prefix}/s1/m1/data", b'{"v": 9, "ts": "2026-07-15T00:00:00Z"}'),
           (f"{prefix}/s1/m1/data", b'{"v": 1, "kind": "meter", "values": {"a": 1}}')]
    messages = [*good[:25], conflict, *bad, *good[25:]]
    settings = settings_for(mosquitto, {"api": "v1", "url": influxdb.url, "database": db},
                            prefix)
    caplog.set_level(logging.WARNING, logger="escogw.historian")
    with running(settings) as historian:
        publish(mosquitto.host, mosquitto.port, messages)
        until(lambda: historian.metrics.snapshot()["messages_written"] == 50, 20,
              what="50 good messages")
        until(lambda: historian.window.pending == 0, 10, what="everything acknowledged")
        snap = historian.metrics.snapshot()
    assert snap["messages_rejected"] == 1 and snap["rejected_lines"] == 1
    assert snap["messages_bad"] == 3
    assert snap["write_errors_rejected"] >= 1
    rows = influxdb.points('SELECT count("active_power_kw") FROM "meter"', db)
    assert rows[0]["count"] == 50
    text = "\n".join(LogfmtFormatter().format(r) for r in caplog.records)
    assert "event=line_rejected" in text and "note=1.5" in text and "type conflict" in text
    assert text.count("event=bad_message") == 3 and "not JSON" in text


def test_v2_keeps_the_batch_while_victoria_metrics_is_down(
        mosquitto: Mosquitto, victoria_metrics: VictoriaMetrics) -> None:
    prefix = unique("escogw-v2down")
    site = unique("site")
    t0 = datetime(2026, 7, 15, tzinfo=UTC)
    messages = [data_message(prefix, site, f"m{i % 5}", "meter", t0 + timedelta(seconds=i), i,
                             {"active_power_kw": float(i)}) for i in range(150)]
    settings = settings_for(mosquitto, {"api": "v2", "url": victoria_metrics.url,
                                        "bucket": "escogw", "token": "x"}, prefix)
    with running(settings) as historian:
        publish(mosquitto.host, mosquitto.port, messages[:50])
        until(lambda: historian.metrics.snapshot()["messages_written"] == 50, 10,
              what="50 written")
        victoria_metrics.stop()
        publish(mosquitto.host, mosquitto.port, messages[50:])
        until(lambda: historian.metrics.snapshot()["write_errors_unavailable"] > 0, 10,
              what="a failed write")
        until(lambda: historian.window.pending == 100, 5, what="100 held, unacknowledged")
        victoria_metrics.start()
        until(lambda: historian.metrics.snapshot()["messages_written"] == 150, 20,
              what="150 written")
    exported = victoria_metrics.export(f'{{__name__="meter_active_power_kw", site="{site}"}}')
    assert sum(len(s["values"]) for s in exported) == 150


def test_v2_sink_errors() -> None:
    from gateway.historian.sink import V2Sink

    sink = V2Sink(InfluxSettings(api="v2", url="http://127.0.0.1:1", bucket="b"))
    with pytest.raises(Unavailable) as err:
        sink.write(b"m v=1.0 1")
    assert err.value.kind == "unavailable"
    sink.close()
