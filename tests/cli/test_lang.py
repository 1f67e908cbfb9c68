"""``escogw`` in Chinese and in English: --lang, help on every argument, no English left in
a Chinese ``rules plan``, holiday labels, one clear line for a device that cannot be read."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from gateway import i18n
from gateway.cli.main import build_parser, main
from gateway.cli.parser_text import hoist_global, lang_from_argv
from gateway.control.rules import load_rules
from gateway.core.calendar import SiteCalendar, date_label, day_label
from gateway.core.site import load_site
from tests.cli.test_device import escogw
from tests.i18n.english import english_left
from tests.sitefiles import ROOT, site_copy

SITE = str(ROOT / "config" / "demo-site.yaml")
RULES = ROOT / "rules" / "demo-office.yaml"
#: subcommands whose parsers another module owns (gateway/cli/energy.py)
NOT_MINE = {"report", "whatif", "season"}


@pytest.fixture(autouse=True)
def english_afterwards() -> Iterator[None]:
    yield
    i18n.set_language(None)


def _subparsers(parser: argparse.ArgumentParser, path: str = "escogw",
                ) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                if name not in NOT_MINE:
                    yield from _subparsers(sub, f"{path} {name}")


@pytest.mark.parametrize("lang", ["en", "zh_CN"])
def test_every_argument_has_help(lang: str) -> None:
    i18n.set_language(lang)
    parser = build_parser()
    seen, missing = 0, []
    for path, sub in _subparsers(parser):
        for action in sub._actions:
            if isinstance(action, argparse._SubParsersAction):
                continue
            seen += 1
            if not action.help:
                missing.append(f"{path} {'/'.join(action.option_strings) or action.dest}")
    assert seen > 60 and missing == []


def test_help_is_plain_text_and_translated(capsys: pytest.CaptureFixture[str],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # one line per help text, names whole
    with pytest.raises(SystemExit):
        main(["--help"])
    english = capsys.readouterr().out
    assert "``" not in english and english.startswith("usage: escogw")
    assert "--lang {en,zh_CN}" in english
    with pytest.raises(SystemExit):  # the flag after the verb, as people type it
        main(["rules", "plan", "--help", "--lang", "zh_CN"])
    chinese = capsys.readouterr().out
    assert chinese.startswith("用法：escogw rules plan")
    assert "一天内每台空调的控制命令时间线" in chinese and "选项" in chinese
    assert english_left(chinese.split("\n", 2)[2], names=[
        "--config", "--rules", "--json", "--date", "--device", "--outdoor", "--room", "-c",
        "-r", "-h",
        "--help", "CONFIG", "RULES", "DATE", "DEVICE", "OUTDOOR", "gateway.rules",
        "rules/", ".yaml"]) == []


def test_lang_is_found_anywhere_and_a_wrong_one_is_refused(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert lang_from_argv(["read", "--lang=zh", "x"]) == ("zh_CN", ["read", "x"])
    assert lang_from_argv(["--lang", "en", "check"]) == ("en", ["check"])
    assert lang_from_argv(["check", "--", "--lang", "zh"]) == (None,
                                                              ["check", "--", "--lang", "zh"])
    assert hoist_global(["scan", "--link", "x", "--log-level", "DEBUG"]) == [
        "--log-level", "DEBUG", "scan", "--link", "x"]
    assert hoist_global(["read", "--log-level=info", "d"]) == ["--log-level=info", "read", "d"]
    with pytest.raises(SystemExit) as exit_:
        main(["--lang", "fr", "check", "-c", SITE])
    assert exit_.value.code == 2
    assert "invalid choice: 'fr' (choose from 'en', 'zh_CN')" in capsys.readouterr().err


# -- rules plan in Chinese ------------------------------------------------------------------


def _names() -> list[str]:
    """What the user wrote in the site and rule files: ids, rule names, notes, reasons."""
    rules = load_rules(RULES, load_site(SITE))
    names = [*rules.units, *rules.groups, str(rules.tz)]
    for rule in (*rules.slot_rules, *rules.precool, *rules.optimal_start,
                 *rules.comfort_guard):
        names += [rule.id, rule.name]

    def notes(node: Any) -> Iterator[str]:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("note", "reason") and isinstance(value, str):
                    yield value
                else:
                    yield from notes(value)
        elif isinstance(node, list):
            for item in node:
                yield from notes(item)

    return names + list(notes(yaml.safe_load(RULES.read_text())))


@pytest.mark.parametrize("day", ["2026-07-15", "2026-10-04", "2026-10-10", "2026-01-15",
                                 "2026-08-10"])
def test_a_chinese_plan_has_no_english_left(day: str,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--lang", "zh_CN", "rules", "plan", "-c", SITE, "--date", day]) == 0
    out = capsys.readouterr().out
    assert english_left(out, names=_names()) == [], out
    assert "条命令" in out


def test_chinese_and_english_plans_say_the_same(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "plan", "-c", SITE, "--date", "2026-07-15",
                 "--device", "ac-r101"]) == 0
    english = capsys.readouterr().out.splitlines()
    assert main(["rules", "plan", "-c", SITE, "--date", "2026-07-15", "--device", "ac-r101",
                 "--lang", "zh_CN"]) == 0
    chinese = capsys.readouterr().out.splitlines()
    assert english[0] == "2026-07-15: workday"
    assert chinese[0] == "2026年7月15日 星期三：工作日"
    assert len(english) == len(chinese)
    assert "  12:00  setpoint_c    27 °C → 26.5 °C  precool:offices-valley       pre-cooling " \
           "in the valley period 12:00-14:00 to 26.5 °C" in english
    assert "  12:00  设定温度      27 °C → 26.5 °C  precool:offices-valley       低谷时段 " \
           "12:00-14:00 预冷至 26.5 °C" in chinese
    assert english[-1] == "times are site-local (Asia/Shanghai); 6 commands, 1 unit"
    assert chinese[-1] == "时间为站点当地时间（Asia/Shanghai）；共 6 条命令，涉及 1 台空调"


def test_check_counts_in_words(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "check", "-c", SITE]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first.endswith(": ok — 20 AC units, 5 schedules, 2 sweeps, 1 pre-cooling rule, "
                          "5 optimal-start rules, 1 comfort-guard rule; demand limit 32.0 kW")
    assert main(["rules", "check", "-c", SITE, "--lang", "zh_CN"]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first.endswith("：通过 — 20 台空调，5 个时间表，2 条巡检关机规则，1 条预冷规则，"
                          "5 条优化启动规则，1 条舒适度保护规则；需量上限 32.0 kW")


def test_explain_in_chinese(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "explain", "ac-r101", "-c", SITE, "--at", "2026-07-15T16:30",
                 "--outdoor", "35", "--lang", "zh_CN"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("ac-r101 于 2026-07-15T16:30+08:00：工作日，电价时段：高峰，室外 35 °C")
    assert english_left(out, names=_names()) == [], out


# -- day labels ---------------------------------------------------------------------------


@pytest.mark.parametrize(("day", "english", "chinese"), [
    ("2026-10-04", "National Day holiday", "国庆节假期"),           # a Sunday in the block
    ("2026-10-03", "National Day holiday", "国庆节假期"),
    ("2026-10-06", "National Day holiday", "国庆节假期"),           # a day off moved here
    ("2026-09-20", "make-up working day for National Day", "调休上班（国庆节）"),
    ("2026-10-10", "make-up working day for National Day", "调休上班（国庆节）"),
    ("2026-02-22", "Chinese New Year (Spring Festival) holiday", "春节假期"),
    ("2026-09-27", "Mid-Autumn Festival holiday", "中秋节假期"),    # the weekend after it
    ("2026-10-11", "weekend", "周末"),
    ("2026-07-15", "workday", "工作日"),
])
def test_day_labels(day: str, english: str, chinese: str) -> None:
    calendar = SiteCalendar()
    info = calendar.day(date.fromisoformat(day))
    i18n.set_language("en")
    assert day_label(info) == english
    i18n.set_language("zh_CN")
    assert day_label(info) == chinese


def test_the_day_type_the_rules_see_is_unchanged() -> None:
    info = SiteCalendar().day(date(2026, 10, 4))
    assert info.type.value == "weekend"  # labels only: the weekend steps still apply
    assert info.reason == "weekend in the National Day holiday"


def test_dates_are_unambiguous() -> None:
    i18n.set_language("en")
    assert date_label(date(2026, 10, 4)) == "2026-10-04"
    i18n.set_language("zh_CN")
    assert date_label(date(2026, 10, 4)) == "2026年10月4日 星期日"


# -- a device that cannot be read -----------------------------------------------------------


@pytest.mark.parametrize("lang", ["en", "zh_CN"])
async def test_read_of_a_closed_port_is_one_line(tmp_path: Path, lang: str) -> None:
    path = site_copy(tmp_path)  # every TCP port free: nothing listens there
    port = yaml.safe_load(path.read_text())["links"]["meters-485"]["port"]
    code, out, err = await escogw("--lang", lang, "read", "-c", str(path), "main-meter")
    assert code == 1 and out == ""
    expected = {"en": f"main-meter: cannot be read at 127.0.0.1:{port} (link meters-485): "
                      "connection refused",
                "zh_CN": f"main-meter：无法在 127.0.0.1:{port}（链路 meters-485）读取："
                         "连接被拒绝"}[lang]
    assert err.splitlines() == [expected]


async def test_read_of_a_missing_serial_port_is_one_line(tmp_path: Path) -> None:
    path = site_copy(tmp_path)
    code, out, err = await escogw("read", "-c", str(path), "ac-m101")
    assert code == 1 and out == ""
    assert err.splitlines() == [f"ac-m101: cannot be read at {tmp_path}/tty-ac-485 "
                                "(link ac-485): no such serial port"]


async def test_a_unit_that_does_not_answer_is_named(tmp_path: Path) -> None:
    """The serial server answers TCP, but nothing behind it replies."""
    path = site_copy(tmp_path)
    port = yaml.safe_load(path.read_text())["links"]["meters-485"]["port"]
    connected = asyncio.Event()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connected.set()
        await reader.read()  # takes every request, answers none
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", port)
    async with server:
        code, out, err = await escogw("read", "-c", str(path), "main-meter")
    assert connected.is_set()
    assert code == 1 and out == ""
    assert err.splitlines() == [f"main-meter: cannot be read at 127.0.0.1:{port} "
                                "(link meters-485): no reply from unit 1 within 0.5 s"]


# -- the control layers' reasons ------------------------------------------------------------


@pytest.mark.parametrize(("english", "chinese"), [
    ("schedule 'offices': workday step 18:00 (people leave: float to the top of the band); "
     "over after-hours (narrower scope)",
     "时间表 'offices'：工作日 18:00 时间点（people leave: float to the top of the band）；"
     "优先于 after-hours（适用范围更小）"),
    ("off while the mode change waits: changeover delay 600 s after cooling: may change at "
     "08:10", "等待模式切换期间关机：制冷后模式切换延时 600 s：08:10 后方可切换"),
    ("3 starts in the last hour (cap 3); may start at 09:12",
     "近一小时已启动 3 次（上限 3）；09:12 后方可开机"),
    ("override cli-1a2b (mqtt by ops): setpoint_c=27 until 2026-07-15T18:00:00+08:00",
     "人工干预 cli-1a2b（mqtt，操作人 ops）：setpoint_c=27，至 2026-07-15T18:00:00+08:00"),
    ("a reason no layer writes", "a reason no layer writes"),  # kept as written
])
def test_reasons_are_translated_clause_by_clause(english: str, chinese: str) -> None:
    from gateway.control.reason_text import reason_text

    i18n.set_language("en")
    assert reason_text(english) == english
    i18n.set_language("zh_CN")
    assert reason_text(english) == chinese


def test_the_environment_chooses_when_there_is_no_flag(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("ESCOGW_LANG", "zh_CN")
    assert main(["rules", "check", "-c", SITE]) == 0
    assert "：通过 — 20 台空调" in capsys.readouterr().out
    assert main(["rules", "check", "-c", SITE, "--lang", "en"]) == 0  # the flag beats it
    assert ": ok — 20 AC units" in capsys.readouterr().out


def test_chinese_help_wraps_between_characters_not_before_punctuation() -> None:
    from gateway.cli.parser_text import wrap
    from gateway.cli.table import width

    text = "escogw：能源网关命令行工具。输出表格供人阅读，--json 供脚本使用；" \
           "退出码 0 成功，1 操作失败"
    lines = wrap(text, 20)
    assert "".join(lines).replace(" ", "") == text.replace(" ", "")
    assert all(width(line) <= 22 for line in lines)  # a full-width comma may hang over
    assert not any(line.startswith(("，", "。", "；")) for line in lines)
    assert wrap("site file (YAML) and more", 12) == ["site file", "(YAML) and", "more"]


def test_a_chinese_usage_lines_up(capsys: pytest.CaptureFixture[str],
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "60")
    with pytest.raises(SystemExit):
        main(["--lang", "zh_CN", "rules", "plan", "--help"])
    first, second = capsys.readouterr().out.splitlines()[:2]
    assert first.startswith("用法：escogw rules plan [-h]")
    # the continuation starts under "[-h]": 用法： is six columns wide, three characters long
    assert len(second) - len(second.lstrip()) == len("用法：escogw rules plan ") + 3


async def test_scan_and_discover_of_a_link_that_does_not_open(tmp_path: Path) -> None:
    path = site_copy(tmp_path)  # nothing listens, no serial port: every link is down
    port = yaml.safe_load(path.read_text())["links"]["meters-645"]["port"]
    code, out, err = await escogw("scan", "-c", str(path), "--link", "ac-485", "--json")
    assert code == 1 and out == ""
    assert err.splitlines()[-1] == (f"link ac-485 did not open at {tmp_path}/tty-ac-485: "
                                    "no such serial port")
    code, out, err = await escogw("--lang", "zh_CN", "discover", "-c", str(path),
                                  "--link", "meters-645", "--json")
    assert code == 1 and out == "" and "Traceback" not in err
    assert err.splitlines()[-1] == f"链路 meters-645（127.0.0.1:{port}）未能打开：连接被拒绝"


async def test_write_to_a_unit_that_cannot_be_read_is_one_line(tmp_path: Path) -> None:
    path = site_copy(tmp_path)
    port = yaml.safe_load(path.read_text())["links"]["coolmaster"]["port"]
    code, out, err = await escogw("write", "-c", str(path), "ac-r101", "setpoint_c", "27")
    assert code == 1 and out == ""
    assert err.splitlines() == [f"ac-r101: cannot be read at 127.0.0.1:{port} "
                                "(link coolmaster): connection refused"]


def test_a_typed_in_year_names_its_holiday_block() -> None:
    """A year the package lacks, typed in from the notice with its weekdays only: the
    weekend inside the block is the holiday, the Saturday after its make-up Friday is not."""
    from gateway.core.calendar import OfficialYear

    holidays = frozenset(date(2027, 10, d) for d in (1, 4, 5, 6, 7))
    calendar = SiteCalendar(official_years=[OfficialYear(
        2027, holidays, frozenset({date(2027, 9, 26)}), "国办发明电〔2026〕X号")])
    i18n.set_language("zh_CN")
    assert day_label(calendar.day(date(2027, 10, 1))) == "国庆节假期（来源：国办发明电〔2026〕X号）"
    assert day_label(calendar.day(date(2027, 10, 3))) == "国庆节假期"
    assert day_label(calendar.day(date(2027, 10, 9))) == "周末"
    assert day_label(calendar.day(date(2027, 9, 26))) == "调休上班（来源：国办发明电〔2026〕X号）"
