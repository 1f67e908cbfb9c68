"""The demo's live view fits an 80×24 terminal in English and Chinese, and says what matters:
site and simulated local time, broker and outbox, the AC units by group, counters as words,
the demand limiter against its limit, the car park, and the latest notices and changes at
site-local time with their rules — from a fixed gateway state, rendered to text."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from rich.cells import cell_len

from devkit.live_state import (
    AcGroup,
    CarPark,
    DemandState,
    Event,
    LiveState,
    MeterLine,
    coalesce,
    group_units,
    latest,
    take,
)
from devkit.live_view import render_text
from gateway.core.settings import GatewaySettings, MetricsSettings, OutboxSettings
from gateway.core.site import load_site, rules_path_for
from gateway.daemon import Gateway
from gateway.i18n import set_language
from tests.i18n.english import english_left
from tests.sitefiles import site_copy

TZ = ZoneInfo("Asia/Shanghai")
AT = datetime(2026, 7, 15, 5, 3, 20, tzinfo=TZ)


@pytest.fixture(autouse=True)
def english_after() -> Iterator[None]:
    yield
    set_language(None)


def state(**changes: object) -> LiveState:
    offices = tuple(f"ac-r{n}" for n in (*range(101, 109), *range(201, 209)))
    events = (
        Event(AT.replace(minute=0, second=8), "change", offices, "schedule:offices-cooling",
              "power", 0, 1),
        Event(AT.replace(minute=1, second=10), "notice", ("ac-m101",), "demand",
              inputs={"level_before": 0, "level_after": 1, "projected_kw": 33.2}),
        *(Event(AT.replace(minute=2, second=n), "change", (f"ac-r10{n}",), "demand",
                "setpoint_c", 26.0, 27.0) for n in range(1, 9)),
        Event(AT.replace(minute=3), "alarm", ("main-meter",), "demand:futile"),
    )
    base = LiveState(
        site_id="demo-office", site_name="Demo office", sim_time=AT, speed=20,
        broker="127.0.0.1:18830", connected=True, outbox_waiting=3, published=1234,
        dropped=0, stored=5678,
        devices={**{d: "online" for d in offices}, "ac-m102": "offline",
                 "main-meter": "online"},
        meters=(MeterLine("main-meter", "online", 33.4, 1234.5),
                MeterLine("ac-meter", "online", 25.1, 800.2),
                MeterLine("water-meter", "online", None, None, 0.42, 123.0),
                MeterLine("revenue-meter", "online", 33.3, 1234.4),
                MeterLine("water-cjt188", "online", None, None, 0.1, 44.0)),
        ac_groups=(AcGroup("office", "1", 8, 8, 8, (26.1, 27.4), (27.0,), (0,)),
                   AcGroup("office", "2", 8, 8, 8, (26.3, 27.9), (27.0, 28.0), (0,)),
                   AcGroup("meeting", "1", 2, 1, 1, (29.0, 30.1), (27.0,), (0,)),
                   AcGroup("meeting", "2", 1, 1, 0, (29.5, 29.5), (), ()),
                   AcGroup("server", "2", 1, 1, 1, (26.0, 26.0), (26.0,), (0,))),
        counts={"change": 33, "notice": 1, "alarm": 1}, active_alarms=("demand:futile",),
        rules_digest="ad4c34a678641234", demand=DemandState(32, 33.2, 2, 1),
        car_park=CarPark(4, 4, 2, 14.2, 18.0, 1), events=events,
        footer="Ctrl-C stops · Grafana: demo-data/grafana/README.txt · then: make demo-report")
    return LiveState(**{**base.__dict__, **changes})


def fits(text: str) -> list[str]:
    lines = text.rstrip("\n").split("\n")
    assert len(lines) <= 24, f"{len(lines)} lines:\n{text}"
    wide = [line for line in lines if cell_len(line) > 80]
    assert not wide, "wider than 80 columns:\n" + "\n".join(wide)
    return lines


def test_english_fits_80x24_and_says_what_matters() -> None:
    set_language("en")
    text = render_text(state())
    lines = fits(text)
    assert lines[0] == ("esco-gateway demo · demo-office · simulated Wed 2026-07-15 05:03:20 "
                        "(×20)")
    assert lines[1] == ("broker 127.0.0.1:18830 connected · outbox 3 waiting, 1234 sent, "
                        "0 dropped")
    assert lines[2].startswith("17/18 devices online (not online: ac-m102) · InfluxDB: 5678")
    assert "control 33 changes, 1 notice, 1 alarm · rules ad4c34a6 raised now: " \
           "demand:futile" in text
    assert "{'change'" not in text and "Z " not in text
    assert "demand projected 33.2 kW / limit 32 kW (15 min) · shedding: 2 relieved, 1 off" \
        in text
    assert "car park 4/4 chargers online, 2 charging 14.2 kW of budget 18.0 kW, 1 paused" \
        in text
    assert any(line.startswith("offices, floor 1") and "8/8" in line and "26.1–27.4" in line
               and line.rstrip().endswith("cool") for line in lines), text
    # the notice and the alarm stay in view behind a burst of eight changes
    assert "05:01 notice ac-m101    level 0 → 1 at 33.2 kW   demand" in text
    assert "05:03 alarm  main-meter" in text and "demand:futile" in text
    assert "05:02 change ac-r108    setpoint 26 °C → 27 °C   demand" in text
    assert lines[-1].startswith("Ctrl-C stops")


def test_chinese_fits_80x24_in_terminal_columns() -> None:
    set_language("zh-CN")
    text = render_text(state())
    lines = fits(text)
    assert lines[0] == "esco-gateway 演示 · demo-office · 模拟时间 周三 2026-07-15 05:03:20（×20）"
    assert "MQTT 服务器 127.0.0.1:18830 已连接" in lines[1]
    assert "控制 33 次调节，1 条提示，1 条告警" in text
    assert "需量 预测 33.2 kW / 限值 32 kW（15 分钟） · 削峰中：2 台放宽设定，1 台关机" in text
    assert "停车场 充电桩 4/4 在线" in text
    assert any(line.startswith("办公室，1 层") and "制冷" in line for line in lines), text
    assert "最近的提示与调节（站点时间）" in text
    assert "05:01 提示" in text and "级别 0 → 1" in text
    names = [*state().devices, *(m.device for m in state().meters), "demo-office", "ac-m101",
             "schedule:offices-cooling", "demand:futile", "demand", "esco-gateway",
             "ad4c34a6", state().footer]
    left = english_left(text, names)
    assert not left, left


def test_without_car_park_and_broker_the_lines_go_and_the_events_get_them() -> None:
    set_language("en")
    full = fits(render_text(state()))
    bare = fits(render_text(state(car_park=None, broker=None, connected=False, stored=None)))
    assert not any(line.startswith("car park") for line in bare)
    assert "no broker: readings wait in the outbox" in bare[1]
    assert "no InfluxDB: nothing stored" in bare[2]
    events = [line for line in bare if line[:2] == "05"]
    assert len(events) == len([line for line in full if line[:2] == "05"]) + 1


def test_a_narrow_terminal_cuts_lines_instead_of_wrapping() -> None:
    set_language("zh-CN")
    lines = render_text(state(), width=60).rstrip("\n").split("\n")
    assert len(lines) <= 24 and all(cell_len(line) <= 60 for line in lines)


def test_alike_changes_in_one_minute_become_one_event_with_local_time() -> None:
    records = [{"kind": "change", "ts": f"2026-07-14T21:00:0{n}Z", "device": f"ac-r10{n}",
                "point": "power", "before": 0, "after": 1, "rule": "schedule:offices-cooling"}
               for n in range(1, 4)]
    records.append({"kind": "notice", "ts": "2026-07-14T21:00:09Z", "device": None,
                    "rule": "rules", "reason": "rule set loaded"})
    records.append({**records[0], "ts": "2026-07-14T21:00:10Z", "device": "ac-r104"})
    events = coalesce(records, TZ)
    assert [(e.ts.strftime("%H:%M:%S"), e.kind, e.devices) for e in events] == [
        ("05:00:01", "change", ("ac-r101", "ac-r102", "ac-r103")),
        ("05:00:09", "notice", ()),
        ("05:00:10", "change", ("ac-r104",))]
    assert events[0].ts.utcoffset() == datetime(2026, 1, 1, tzinfo=TZ).utcoffset()
    assert coalesce([{"kind": "change", "ts": "not a time"}], TZ) == ()


def test_latest_keeps_the_notices_in_a_burst_of_changes() -> None:
    t = datetime(2026, 7, 15, 5, 0, tzinfo=UTC)
    notice = Event(t, "notice", (), "demand")
    burst = [Event(t.replace(minute=m), "change", ("u",), "r", "power", 0, 1)
             for m in range(1, 20)]
    shown = latest([notice, *burst], 5)
    assert shown[0] is notice and shown[1:] == burst[-4:]
    assert latest([notice, *burst], 0) == []


def test_units_group_by_use_and_floor() -> None:
    units = [({"use": "office", "floor": "1"}, "online",
              {"power": 1, "room_temp_c": 27.0, "setpoint_c": 27, "mode": 0}),
             ({"use": "office", "floor": "1"}, "offline", {}),
             ({"use": "office", "floor": "1"}, "online",
              {"power": 0, "room_temp_c": 29.5, "setpoint_c": 26, "mode": 0}),
             ({"use": "server", "floor": "2"}, "online",
              {"power": 1, "room_temp_c": 26.0, "setpoint_c": 26, "mode": 0})]
    office, server = group_units(units)
    assert (office.units, office.online, office.on) == (3, 2, 1)
    assert office.room_c == (27.0, 29.5) and office.setpoints_c == (27.0,)
    assert server.use == "server" and server.on == 1


async def test_a_real_gateway_with_a_car_park_before_its_first_poll(tmp_path: Path) -> None:
    """``take`` reads a real gateway: AC units are grouped by their profile's kind even
    before they have been read, and a site with a car park gets its line."""
    set_language("en")
    site = load_site(site_copy(tmp_path))  # the demo site's car park: 5 chargers
    gw = Gateway(site, GatewaySettings(outbox=OutboxSettings(path=tmp_path / "outbox.sqlite"),
                                       metrics=MetricsSettings(enabled=False)),
                 rules_path=rules_path_for(site, site.spec.gateway))
    try:
        live = take(gw, AT, 20, "127.0.0.1:1883", None)
    finally:
        await gw.outbox.close()
    assert [(g.use, g.floor, g.units) for g in live.ac_groups] == [
        ("office", "1", 8), ("office", "2", 8), ("meeting", "1", 2), ("meeting", "2", 1),
        ("server", "2", 1)]
    assert [m.device for m in live.meters] == ["main-meter", "ac-meter", "water-meter",
                                               "revenue-meter", "water-cjt188"]
    assert live.demand is not None and live.demand.limit_kw == 32
    text = render_text(live)
    fits(text)
    assert "car park 0/5 chargers online, 0 charging 0.0 kW of budget –, 0 paused" in text
    assert "broker 127.0.0.1:1883 NOT connected" in text
