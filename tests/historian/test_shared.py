"""Scale-out: two historians (real processes) in one MQTT shared subscription
(``$share/<group>/…``) split a site's stream; every message is written exactly
once — counted both in the database (VictoriaMetrics, v2 API) and by the
historians' own counters, whose sum must be exactly the number published (the
database alone could not tell: a second write of a point overwrites itself)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.historian.hist_helpers import (
    HistorianProcess,
    data_message,
    historian_config,
    publish,
    unique,
    until,
)
from tests.services import Mosquitto, VictoriaMetrics, free_port

N = 2000


def test_two_historians_share_the_stream_and_write_each_message_once(
        mosquitto: Mosquitto, victoria_metrics: VictoriaMetrics, tmp_path: Path) -> None:
    prefix = unique("escogw-shared")
    site = unique("site")
    group = unique("historians")
    procs = []
    for n in (1, 2):
        port = free_port()
        config = historian_config(
            tmp_path / f"h{n}.yaml", mqtt_port=mosquitto.port, prefix=prefix,
            client_id=unique(f"hist-shared-{n}"),
            influx={"api": "v2", "url": victoria_metrics.url, "bucket": "escogw",
                    "org": "esco", "token": "x"},
            **{"mqtt.shared_group": group, "mqtt.sites": [site],
               "metrics": {"enabled": True, "port": port}})
        procs.append(HistorianProcess(config, tmp_path / f"h{n}.log", port))
    try:
        for p in procs:
            p.start()
        for p in procs:
            until(lambda p=p: (p.metrics_or_none() or {}).get("mqtt_connected") == 1, 20,
                  what="both historians connected")
        for p in procs:
            p.wait_log("event=subscribed", 10)
        t0 = datetime(2026, 7, 15, tzinfo=UTC)
        messages = [data_message(prefix, site, f"m{i % 10}", "meter",
                                 t0 + timedelta(seconds=i // 10), i, {"active_power_kw": i})
                    for i in range(N)]
        # a topic of another site, which neither historian subscribed to
        messages.append(data_message(prefix, "other", "m0", "meter", t0, 0, {"x": 1.0}))
        publish(mosquitto.host, mosquitto.port, messages)

        def written() -> list[float]:
            return [p.metrics()["messages_written"] for p in procs]

        until(lambda: sum(written()) >= N, 30, what=f"{N} messages written")
        until(lambda: all(p.metrics()["pending_messages"] == 0 for p in procs), 10,
              what="everything acknowledged")
        counts = written()
        for p in procs:
            assert p.stop() == 0
    finally:
        for p in procs:
            p.kill()
            print(p.log, "\n".join(p.log_text().splitlines()[-30:]))  # on failure
    assert sum(counts) == N
    assert all(c > 0 for c in counts), f"one historian got nothing: {counts}"
    exported = victoria_metrics.export(f'{{__name__="meter_active_power_kw", site="{site}"}}')
    samples = {(s["metric"]["device"], t): v for s in exported
               for t, v in zip(s["timestamps"], s["values"], strict=True)}
    assert len(samples) == N
    assert sorted(samples.values()) == list(range(N))
    assert not victoria_metrics.export('{site="other"}')
