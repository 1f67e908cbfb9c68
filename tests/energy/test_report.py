"""``escogw report`` against a real InfluxDB filled by the real historian (``escogw historian``
as a subprocess, fed over a real Mosquitto).

What is published is what the gateway would publish: two days of the demo site under the
shipped rules (the what-if co-simulation's readings, every 5 minutes, as ``{device}/data``)
with the accountant's ``energy/interval`` messages, and four weeks of June intervals of the
main meter shaped by a known daily model (the baseline period)."""

from __future__ import annotations

import csv
import json
import re
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path

import pytest

from bench.bench_whatif import SHIPPED
from gateway.acquisition.reading import Reading
from gateway.core.calendar import WORKING, SiteCalendar
from gateway.core.site import Site, load_site
from gateway.energy.accounting import Interval, IntervalAccountant, site_meters
from gateway.energy.baseline import degree_days
from gateway.energy.ev_sessions import session_costs, split_by_period
from gateway.energy.live import interval_message
from gateway.energy.tariff import load_site_tariff, money
from gateway.energy.whatif import run_day
from gateway.ev.charger_state import ChargerState, Session
from gateway.ev.payloads import charger_state_payload, session_payload
from gateway.uplink.messages import Topics, data_payload
from tests.historian_process import HistorianProcess, historian_config, publish, unique, until
from tests.services import InfluxDB, Mosquitto
from tests.sitefiles import DEMO_SITE

PREFIX = "escogw"
#: the baseline model the June data follow (kWh/day)
B0, BC, BW = 150.0, 20.0, 120.0
#: a day the main meter stops at 12:45 (51 of 96 quarter-hours), twice the load after 10:00
PARTIAL_DAY = date(2026, 6, 30)
PARTIAL_END = datetime(2026, 6, 30, 12, 45, tzinfo=load_site(DEMO_SITE).tz)


def _event(kind: str, rule: str, hour: int, **extra: object) -> dict[str, object]:
    return {"v": 1, "kind": kind, "ts": f"2026-07-14T0{hour}:00:00.000Z", "device": "ac-r101",
            "point": None, "rule": rule, "reason": f"{kind} {rule}", "inputs": {}, **extra}


#: what the control loop published on July 14 (audit records, gateway/control/audit.py)
CONTROL_EVENTS = [
    _event("change", "clamp:cooling-floor", 1, point="setpoint_c", before=24, after=26),
    _event("change", "clamp:cooling-floor", 2, point="setpoint_c", before=25, after=26),
    _event("change", "demand", 3, point="power", before=1, after=0),
    _event("notice", "override:ov-7", 4),
    _event("change", "override:ov-7", 5, point="setpoint_c", before=27, after=25),
    _event("alarm", "demand:infeasible", 6, active=True),
    _event("alarm", "demand:infeasible", 7, active=False),
]


#: the car park on July 14 and 15: CP01's connector at 7 kW and DC01's at 20 kW from 08:00
#: to 18:00 (a state every 5 minutes); two sessions that end on the 15th, one priced
EV_KW = {"CP01": 7.0, "DC01": 20.0}


@dataclass
class Published:
    messages: list[tuple[str, bytes]] = field(default_factory=list)
    #: ev/{charger}/state messages and ev/session messages
    ev_states: int = 0
    sessions: list[Session] = field(default_factory=list)
    intervals: list[Interval] = field(default_factory=list)
    #: water meter readings (local time, m³)
    water: list[tuple[datetime, float]] = field(default_factory=list)
    temps: dict[date, float] = field(default_factory=dict)


def june_temp(d: date) -> float:
    return 26.4 + ((d.day * 3) % 8) * 0.9


def build(site: Site) -> Published:
    pub = Published()
    topics = Topics(PREFIX, site.id)
    tariff = load_site_tariff(site.spec.site.tariff)
    tz = site.tz
    # -- June: the baseline period, main meter only, counter every 15 minutes
    acc = IntervalAccountant([m for m in site_meters(site) if m.device == "main-meter"], tz,
                             tariff)
    cal = SiteCalendar()
    t = datetime(2026, 6, 1, tzinfo=tz)
    value = 5000.0
    seq = 0
    acc.add(Reading("main-meter", t.astimezone(UTC), seq, {"energy_import_kwh": value}))
    # the baseline period, then a partial day: June 30 until 12:45 (51 quarter-hours)
    while t < PARTIAL_END:
        d = t.date()
        if t == datetime(2026, 6, 29, tzinfo=tz):
            t = datetime(2026, 6, 30, tzinfo=tz)  # June 29: nothing stored
            acc = IntervalAccountant([m for m in site_meters(site) if m.device == "main-meter"],
                                     tz, tariff)
            acc.add(Reading("main-meter", t.astimezone(UTC), seq, {"energy_import_kwh": value}))
            continue
        pub.temps[d] = june_temp(d)
        cdd, _ = degree_days(june_temp(d))
        day_kwh = B0 + BC * cdd + BW * (cal.national(d).type in WORKING)
        t += timedelta(minutes=15)
        value += day_kwh / 96 * (2.0 if d == PARTIAL_DAY and t.hour >= 10 else 1.0)
        seq += 1
        pub.intervals += acc.add(Reading("main-meter", t.astimezone(UTC), seq,
                                         {"energy_import_kwh": value}))
    # -- July 14-15: the demo site under the shipped rules, as the gateway publishes it
    live = IntervalAccountant(site_meters(site), tz, tariff)
    kinds = {d.id: (d.profile.kind, dict(d.config.tags)) for d in site.devices.values()}
    counter = {"n": 0}

    def observe(at: datetime, latest: Mapping[str, Reading]) -> None:
        counter["n"] += 1
        if at.minute % 5:
            return
        for dev, r in latest.items():
            kind, tags = kinds[dev]
            pub.messages.append((topics.data(dev), data_payload(r, counter["n"], kind, tags)))
            pub.intervals.extend(live.add(r))
            if dev == "water-meter":
                pub.water.append((at.astimezone(tz), float(r.values["volume_m3"])))

    run_day(site, SHIPPED, date(2026, 7, 15), weather="wuhan-summer-hot", observer=observe)
    pub.temps[date(2026, 7, 14)] = pub.temps[date(2026, 7, 15)] = 32.3
    car_park(site, topics, pub)
    pub.messages += [interval_message(topics, i) for i in pub.intervals]
    pub.messages += [(topics.control_event, json.dumps(e).encode()) for e in CONTROL_EVENTS]
    return pub


def car_park(site: Site, topics: Topics, pub: Published) -> None:
    """What the car park publishes (gateway/ev/payloads.py)."""
    tariff = load_site_tariff(site.spec.site.tariff)
    for d in (14, 15):
        charging_day(site, topics, pub, d)
    day = datetime(2026, 7, 15, tzinfo=site.tz).timestamp()
    # 10:00-14:00 across flat, peak and the 12:00-14:00 valley: 28 kWh; then 14:00-16:00
    for n, (a, b, kwh) in enumerate(((10, 14, 28.0), (14, 16, 14.0)), 1):
        s = Session(n, f"tag-{n}", day + a * 3600, 0.0, kwh * 1000, stopped=day + b * 3600,
                    reason="EVDisconnected",
                    samples=[(day + a * 3600, 0.0), (day + b * 3600, kwh * 1000)])
        priced = session_costs(s, tariff, site.tz) if n == 1 else None
        pub.messages.append((f"{topics.base}/ev/session", session_payload("CP01", s, priced)))
        pub.sessions.append(s)


def charging_day(site: Site, topics: Topics, pub: Published, day: int) -> None:
    """The chargers' states of one July day, every 5 minutes from 08:00 to 18:00."""
    assert site.spec.charging is not None
    t = datetime(2026, 7, day, 8, tzinfo=site.tz)
    while t < datetime(2026, 7, day, 18, tzinfo=site.tz):
        for cid, kw in EV_KW.items():
            st = ChargerState(cid, site.spec.charging.chargers[cid], online=True)
            st.connectors[1].status, st.connectors[1].power_kw = "Charging", kw
            pub.messages.append((f"{topics.base}/ev/{cid}/state",
                                 charger_state_payload(st, t.astimezone(UTC))))
            pub.ev_states += 1
        t += timedelta(minutes=5)


def table(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(path.read_text("utf-8").splitlines()))


def count(influxdb: InfluxDB, db: str, q: str) -> int:
    rows = influxdb.points(q, db)
    return int(rows[0]["count"]) if rows else 0


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory, mosquitto: Mosquitto,
           influxdb: InfluxDB) -> tuple[Published, str]:
    site = load_site(DEMO_SITE)
    pub = build(site)
    db = f"energy_{uuid.uuid4().hex[:8]}"
    influxdb.create_database(db)
    tmp = tmp_path_factory.mktemp("hist")
    config = historian_config(
        tmp / "historian.yaml", mqtt_port=mosquitto.port, prefix=PREFIX,
        client_id=unique("hist"),
        influx={"api": "v1", "url": influxdb.url, "database": db, "timeout_s": 10})
    proc = HistorianProcess(config, tmp / "historian.log")
    proc.start()
    try:
        # the historian keeps its session, so once subscribed nothing published is missed
        proc.wait_log("event=subscribed", timeout=30)
        publish(mosquitto.host, mosquitto.port, pub.messages)
        electric = sum(1 for i in pub.intervals if i.unit == "kwh")

        def written() -> bool:
            assert proc.alive(), proc.log_text()
            return count(influxdb, db, "SELECT count(kwh) FROM energy_interval") >= electric \
                and count(influxdb, db, "SELECT count(power_kw) FROM ev_connector") \
                >= pub.ev_states \
                and count(influxdb, db, "SELECT count(energy_kwh) FROM ev_session") \
                >= len(pub.sessions) \
                and count(influxdb, db, "SELECT count(room_temp_c) FROM hvac") >= 20 * 576 \
                and count(influxdb, db, "SELECT count(reason) FROM control_event") >= \
                len(CONTROL_EVENTS)

        until(written, 60, interval=0.1, what="the historian to write everything")
    finally:
        proc.stop()
    return pub, db


def test_report_from_influxdb(filled: tuple[Published, str], influxdb: InfluxDB,
                              tmp_path: Path) -> None:
    from gateway.cli import main

    pub, db = filled
    weather = tmp_path / "weather.csv"
    weather.write_text("date,mean_temp_c\n" + "".join(f"{d},{t}\n"
                                                      for d, t in sorted(pub.temps.items())))
    out = tmp_path / "report"
    rc = main(["report", "--config", str(DEMO_SITE), "--from", "2026-07-14", "--to",
               "2026-07-15", "--influx", influxdb.url, "--db", db, "--out", str(out),
               "--rules", str(SHIPPED), "--baseline-from", "2026-06-01", "--baseline-to",
               "2026-06-28", "--weather", str(weather), "--fee-coefficient", "0.95"])
    assert rc == 0
    tz = load_site(DEMO_SITE).tz
    # daily energy and cost: the sum of the main meter's intervals of each local day
    daily = {r["date"]: r for r in table(out / "daily.csv")}
    assert set(daily) == {"2026-07-14", "2026-07-15"}
    for day in ("2026-07-14", "2026-07-15"):
        mine = [i for i in pub.intervals if i.device == "main-meter"
                and i.start.astimezone(tz).date().isoformat() == day]
        assert len(mine) == 96 and int(daily[day]["intervals"]) == 96
        assert float(daily[day]["kwh"]) == pytest.approx(sum(i.amount for i in mine), abs=1e-3)
        cost = money(sum((i.cost for i in mine if i.cost is not None), Decimal(0)))
        assert Decimal(daily[day]["cost_cny"]) == cost  # to the cent
        assert float(daily[day]["peak_15min_kw"]) == pytest.approx(
            max(i.demand_kw or 0 for i in mine), abs=1e-3)
        by_period = sum(float(daily[day][f"kwh_{p}"]) for p in ("valley", "flat", "peak",
                                                                 "sharp"))
        # each column is rounded to 0.001 kWh in the CSV: four roundings may add up
        assert by_period == pytest.approx(float(daily[day]["kwh"]), abs=4 * 5e-4 + 1e-9)
        # water from the counter readings (the historian stores no m3 intervals)
        first = [v for t, v in pub.water if t.date().isoformat() == day]
        assert float(daily[day]["water_m3"]) == pytest.approx(max(first) - min(first), rel=0.05)
    # the baseline fitted on June recovers the model the data were made from
    model = json.loads((out / "baseline.json").read_text())
    assert model["intercept"] == pytest.approx(B0, abs=0.01)
    assert model["cdd26"] == pytest.approx(BC, abs=0.01)
    assert model["workday"] == pytest.approx(BW, abs=0.01)
    assert model["dropped"] == ["hdd18"] and model["accepted"] is True
    assert model["fit"]["cv_rmse_pct"] < 0.01
    savings = table(out / "savings.csv")
    assert [s["date"] for s in savings] == ["2026-07-14", "2026-07-15"]
    for s in savings:  # CDD 6.3, workday: 150 + 126 + 120 = 396 kWh
        assert float(s["adjusted_baseline_kwh"]) == pytest.approx(396.0, abs=0.01)
        assert float(s["avoided_kwh"]) == pytest.approx(396.0 - float(daily[s["date"]]["kwh"]),
                                                        abs=0.01)
    # statistics at 0.1229 kgce/kWh over 1200 m² and 62 people
    year = table(out / "statistics_year.csv")[0]
    kwh = sum(float(r["kwh"]) for r in daily.values())
    assert float(year["kgce"]) == pytest.approx(kwh * 0.1229, abs=0.01)
    assert float(year["kgce_per_m2"]) == pytest.approx(kwh * 0.1229 / 1200, abs=1e-4)
    assert float(year["kgce_per_person"]) == pytest.approx(kwh * 0.1229 / 62, abs=1e-3)
    assert float(year["water_m3_per_person"]) > 0
    # comfort: the 19 zones that are not exempt (srv201 is), both days are workdays
    comfort = table(out / "comfort.csv")
    assert len(comfort) == 2 and len(comfort[0]) == 1 + 19 and "srv201" not in comfort[0]
    html = (out / "report.html").read_text()
    for title in ("Energy by tariff period", "Cost by tariff period",
                  "Daily peak 15-minute demand", "15-minute demand", "limit 32 kW",
                  "Actual energy against the adjusted baseline", "Cumulative avoided cost",
                  "Discomfort per zone", "Trusteeship view", "kgce/m²"):
        assert title in html, title
    svgs = html.split("<svg")[1:]
    assert len(svgs) == 9
    for part in svgs:
        ET.fromstring("<svg" + part.split("</svg>")[0] + "</svg>")
    assert "<script" not in html and "http://" not in html.replace(influxdb.url, "").replace(
        "http://www.w3.org/2000/svg", "")


def test_the_charging_section(filled: tuple[Published, str], influxdb: InfluxDB,
                              tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The car park's part in each month's peak window and its energy and cost by period,
    from the historian's ev_connector and ev_session points."""
    from gateway.cli import main

    pub, db = filled
    site = load_site(DEMO_SITE)
    tz = site.tz
    out = tmp_path / "r"
    rc = main(["report", "-c", str(DEMO_SITE), "--from", "2026-06-01", "--to", "2026-07-15",
               "--influx", influxdb.url, "--db", db, "--out", str(out)])
    assert rc == 0
    text = capsys.readouterr().out
    rows = {r["month"]: r for r in table(out / "charging.csv")}
    assert set(rows) == {"2026-06", "2026-07", "all"}
    # July's peak window is the main meter's highest interval; both chargers ran in it
    july = [i for i in pub.intervals if i.device == "main-meter"
            and i.start.astimezone(tz).month == 7]
    top = max(july, key=lambda i: i.demand_kw or 0.0)
    assert rows["2026-07"]["peak_window_start"] == top.start.astimezone(tz).isoformat()
    assert 8 <= top.start.astimezone(tz).hour < 18  # inside the chargers' hours
    assert float(rows["2026-07"]["charging_kw_in_peak"]) == pytest.approx(27.0)
    assert float(rows["2026-07"]["charging_share_of_peak_pct"]) == pytest.approx(
        100 * 27.0 / (top.demand_kw or 1.0), abs=0.05)
    # June: no charger state stored in its peak window: unknown, not 0
    assert rows["2026-06"]["charging_kw_in_peak"] == ""
    assert rows["2026-06"]["charging_share_of_peak_pct"] == ""
    # the period's peak is July's (the shipped day is above the June model's days)
    assert rows["all"]["peak_window_start"] in (rows["2026-07"]["peak_window_start"],
                                                rows["2026-06"]["peak_window_start"])
    # sessions: 42 kWh, one priced by period, the other unpriced
    split = split_by_period(pub.sessions[0].samples, load_site_tariff(site.spec.site.tariff),
                            tz)
    assert rows["all"]["sessions"] == "2" and rows["all"]["sessions_unpriced"] == "1"
    assert float(rows["all"]["kwh"]) == pytest.approx(42.0)
    assert Decimal(rows["all"]["cost_cny"]) == money(split.total_cost)
    assert len(split.kwh) >= 2  # the session spans periods
    for p, kwh in split.kwh.items():
        assert float(rows["all"][f"kwh_{p}"]) == pytest.approx(kwh, abs=1e-3)
        assert Decimal(rows["all"][f"cost_{p}_cny"]) == money(split.cost[p])
    html = (out / "report.html").read_text()
    assert "EV charging: the car park" in html and "1 session was stored without a cost" in html
    assert "charging: 42.0 kWh" in text and "% of the peak window" in text


def test_report_without_baseline_still_reports(filled: tuple[Published, str],
                                               influxdb: InfluxDB, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    from gateway.cli import main

    _, db = filled
    rc = main(["report", "-c", str(DEMO_SITE), "--from", "2026-06-01", "--to", "2026-06-03",
               "--influx", influxdb.url, "--db", db, "--out", str(tmp_path / "r"),
               "--demand-limit-kw", "40"])
    assert rc == 0
    text = capsys.readouterr().out
    assert "3 days" in text and "limit 40 kW" in text
    assert not (tmp_path / "r" / "savings.csv").exists()
    rc = main(["report", "-c", str(DEMO_SITE), "--from", "2026-06-01", "--to", "2026-06-03",
               "--influx", "http://127.0.0.1:9", "--db", db, "--out", str(tmp_path / "x")])
    assert rc == 1


def _svg(html: str, title: str) -> str:
    """The chart whose <title> is ``title``."""
    for part in html.split("<svg")[1:]:
        if f"<title>{title}</title>" in part:
            return part.split("</svg>")[0]
    raise AssertionError(f"no chart {title!r}")


def test_report_over_an_empty_period_fails_and_says_why(
        filled: tuple[Published, str], influxdb: InfluxDB, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    from gateway.cli import main

    _, db = filled
    out = tmp_path / "r"
    rc = main(["report", "-c", str(DEMO_SITE), "--from", "2026-08-01", "--to", "2026-08-31",
               "--influx", influxdb.url, "--db", db, "--out", str(out)])
    assert rc == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    for part in ("no readings", "demo-office", "main-meter", "2026-08-01", "2026-08-31", db,
                 influxdb.url):
        assert part in captured.err, part
    assert not (out / "report.html").exists()


def test_a_partial_day_is_marked_with_its_coverage_and_the_line_stops(
        filled: tuple[Published, str], influxdb: InfluxDB, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    from gateway.cli import main

    pub, db = filled
    out = tmp_path / "r"
    rc = main(["report", "-c", str(DEMO_SITE), "--from", "2026-06-29", "--to", "2026-06-30",
               "--influx", influxdb.url, "--db", db, "--out", str(out),
               "--demand-limit-kw", "20"])
    assert rc == 0
    text = capsys.readouterr().out
    assert "2 partial days" in text and "06-30 53 %" in text and "06-29 0 %" in text
    daily = {r["date"]: r for r in table(out / "daily.csv")}
    # 51 of 96 quarter-hours: 53.1 %, partial; June 29 has nothing: empty, not a 0-kWh day
    assert (daily["2026-06-30"]["status"], daily["2026-06-30"]["coverage_pct"]) == \
        ("partial", "53.1")
    assert (daily["2026-06-29"]["status"], daily["2026-06-29"]["coverage_pct"]) == \
        ("empty", "0.0")
    cov = {r["date"]: r for r in table(out / "coverage.csv")}
    assert cov["2026-06-30"]["covered"] == "51"
    assert cov["2026-06-30"]["missing"] == "12:45–24:00 (main-meter)"
    assert cov["2026-06-29"]["missing"] == "00:00–24:00 (main-meter)"
    html = (out / "report.html").read_text()
    assert "53 %" in html and "12:45–24:00 (main-meter)" in html
    # the statistics say how much of each period they cover (2 × 96 quarter-hours, 51 there)
    assert "<td class=\"l\">2026-06 (26 %)</td>" in html
    assert "<td class=\"l\">2026-06-29 (0 %)</td>" in html
    # the demand line stops at 12:45 on June 30 (the end of the last window): two days over
    # 780 px from x = 64, so 64 + 780 × (1 + 12.75/24) / 2; it does not run on to midnight
    chart = _svg(html, "15-minute demand")
    xs = [float(p.split(",")[0]) for line in chart.split('points="')[1:]
          for p in line.split('"')[0].split()]
    assert max(xs) == pytest.approx(64 + 780 * (1 + 12.75 / 24) / 2, abs=0.11)
    assert min(xs) == pytest.approx(64 + 780 * 0.5, abs=0.11)  # nothing on June 29
    assert "The data end at 2026-06-30 12:45" in html
    # the windows over 20 kW, drawn in red and counted in the audit summary
    tz = PARTIAL_END.tzinfo
    over = [i for i in pub.intervals if i.device == "main-meter"
            and i.start.astimezone(tz).date() == PARTIAL_DAY
            and (i.demand_kw or 0) > 20]
    assert len(over) == 12  # 09:45 to 12:45: twice the load
    assert 'stroke="#D55E00"' in chart and "peak over the limit" in html
    assert f"{len(over)} windows of 15 minutes, 1 episode, {15 * len(over)} min in all" in html


def test_the_contract_review_sections(filled: tuple[Published, str], influxdb: InfluxDB,
                                      tmp_path: Path) -> None:
    from gateway.cli import main

    pub, db = filled
    weather = tmp_path / "weather.csv"
    weather.write_text("date,mean_temp_c\n" + "".join(f"{d},{t}\n"
                                                      for d, t in sorted(pub.temps.items())))
    out = tmp_path / "r"
    rc = main(["report", "-c", str(DEMO_SITE), "--from", "2026-07-14", "--to", "2026-07-15",
               "--influx", influxdb.url, "--db", db, "--out", str(out), "--rules", str(SHIPPED),
               "--baseline-from", "2026-06-01", "--baseline-to", "2026-06-28",
               "--weather", str(weather), "--water-price", "4.5"])
    assert rc == 0
    tz = load_site(DEMO_SITE).tz
    html = (out / "report.html").read_text()
    # every quarter-hour is covered
    assert {r["status"] for r in table(out / "coverage.csv")} == {"complete"}
    # the AC sub-meter on its own
    ac = table(out / "ac_daily.csv")
    for row in ac:
        mine = [i for i in pub.intervals if i.device == "ac-meter"
                and i.start.astimezone(tz).date().isoformat() == row["date"]]
        assert float(row["kwh"]) == pytest.approx(sum(i.amount for i in mine), abs=1e-3)
    # registers: opening and closing readings with the nameplate address of the revenue meter
    regs = {r["device"]: r for r in table(out / "registers.csv")}
    assert regs["revenue-meter"]["address"] == "000012345678"
    main_kwh = sum(i.amount for i in pub.intervals if i.device == "main-meter"
                   and i.start.astimezone(tz).date() >= date(2026, 7, 14))
    assert float(regs["main-meter"]["difference"]) == pytest.approx(main_kwh, rel=0.01)
    # the monthly settlement: one month, two days at 396 kWh each (CV(RMSE) ~0: no uncertainty)
    (month,) = table(out / "settlement.csv")
    assert month["month"] == "2026-07" and month["days"] == "2"
    assert float(month["adjusted_baseline_kwh"]) == pytest.approx(792.0, abs=0.01)
    june = [degree_days(june_temp(date(2026, 6, d)))[0] for d in range(1, 29)]
    static = 2 * (B0 + BC * sum(june) / len(june) + BW)  # both days are workdays
    assert float(month["baseline_kwh"]) == pytest.approx(static, abs=0.01)
    assert float(month["routine_adjustment_kwh"]) == pytest.approx(792.0 - static, abs=0.01)
    assert float(month["uncertainty_kwh_90pct"]) < 0.01
    assert Decimal(month["fee_cny"]) == Decimal(month["adjusted_baseline_cost_cny"])
    # the demand charge is unknown (the tariff's price is null): said, not 0
    assert month["demand_charge_cny"] == ""
    assert "the tariff has no demand price, the demand charge is unknown" in html
    # water: its cost at the given price; June has no water readings, and the report says so
    m3 = sum(float(r["water_m3"]) for r in table(out / "daily.csv"))
    cost = re.search(r'water cost</td><td>([0-9.,]+) CNY', html)
    assert cost is not None
    assert float(cost.group(1).replace(",", "")) == pytest.approx(m3 * 4.5, abs=0.02)
    assert "none: no water readings in the baseline period" in html
    # what the control loop did (CONTROL_EVENTS)
    for name, value in (("operator overrides", "1"), ("regulatory clamp hits", "2"),
                        ("demand actions (shed or setpoint relief)", "1"),
                        ("alarms raised", "1 (demand:infeasible × 1)")):
        assert f'<td class="l">{name}</td><td>{value}</td>' in html, name
    assert "0 windows of 15 minutes, 0 episodes, 0 min in all" in html


def test_without_control_events_the_audit_says_not_available() -> None:
    from gateway.energy.audit_summary import summarise
    from gateway.energy.report_html import _audit

    data = type("D", (), {"audit": summarise([], False, [], None)})()
    html = "".join(_audit(data))
    assert html.count("not available: the database holds no control events") == 4
    assert "<td>0</td>" not in html


class _Text(HTMLParser):
    """The text a reader sees on a page (not the style sheet)."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        self._style = False

    def handle_data(self, data: str) -> None:
        if not self._style:
            self.parts.append(data)


def visible(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    return " ".join(parser.parts)


#: standards, model terms and command-line syntax that stay as written in Chinese text
TERMS = ["ASHRAE Guideline 14", "CV(RMSE)", "NMBE", "CDD26", "HDD18", "BOPTEST tdis",
         "hdd18", "GB/T 2589", "FSU", "escogw report", "role: ac", "use: office", "meeting",
         "docs/energy.md",
         # command-line flags
         "--water-price", "--baseline-from", "--baseline-to", "--baseline", "--weather",
         "--outdoor", "--rules", "--demand-limit-kw"]


def names_of(site: Site, *more: str) -> list[str]:
    """What the user named: devices, zones, the site, the tariff file's own words."""
    tariff = load_site_tariff(site.spec.site.tariff)
    spec = tariff.spec
    out = [*site.devices, *(d.config.tags.get("zone", "") for d in site.devices.values()),
           site.id, site.spec.site.name, site.spec.site.timezone, tariff.id, spec.name,
           spec.version, spec.source.document, spec.source.status or "", *TERMS, *more]
    return [n for n in out if n]


def test_zh_cn_report_and_whatif_leave_no_english(
        filled: tuple[Published, str], influxdb: InfluxDB, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    from gateway import i18n
    from gateway.cli import main
    from tests.i18n.english import english_left

    pub, db = filled
    site = load_site(DEMO_SITE)
    weather = tmp_path / "weather.csv"
    weather.write_text("date,mean_temp_c\n" + "".join(f"{d},{t}\n"
                                                      for d, t in sorted(pub.temps.items())))
    out = tmp_path / "r"
    i18n.set_language("zh_CN")
    try:
        rc = main(["report", "-c", str(DEMO_SITE), "--from", "2026-07-14", "--to",
                   "2026-07-15", "--influx", influxdb.url, "--db", db, "--out", str(out),
                   "--rules", str(SHIPPED), "--baseline-from", "2026-06-01", "--baseline-to",
                   "2026-06-28", "--weather", str(weather)])
        report_text = capsys.readouterr().out
        page = tmp_path / "whatif.html"
        rc_whatif = main(["whatif", "--rules", str(SHIPPED), "--site", str(DEMO_SITE), "--day",
                          "2026-07-15", "--weather", "wuhan-summer-hot", "--warmup-days", "0",
                          "--out", str(page), "--no-progress"])
        whatif_text = capsys.readouterr().out
    finally:
        i18n.set_language(None)
    assert rc == 0 and rc_whatif == 0
    html = (out / "report.html").read_text()
    assert '<html lang="zh-CN">' in html and "Noto Sans CJK SC" in html
    assert "能耗报告" in html and "数据完整率" in html and "月份" in html
    names = names_of(site, str(out / "report.html"), str(DEMO_SITE), str(SHIPPED), str(page), db,
                     influxdb.url, Path(SHIPPED).stem, "wuhan-summer-hot",
                     "demand:infeasible")
    assert english_left(report_text, names) == []
    left = english_left(visible(html), names)
    assert left == [], " ".join(left)
    whatif_page = page.read_text()
    assert '<html lang="zh-CN">' in whatif_page
    assert english_left(whatif_text, names) == []
    assert english_left(visible(whatif_page), names) == []
