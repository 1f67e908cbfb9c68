"""``escogw report`` and ``escogw whatif`` on the command line: every argument explained, a bad
``--weather`` blamed on the flag, plurals and units."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from bench.bench_whatif import SHIPPED
from gateway import i18n
from gateway.cli import main
from gateway.cli.main import build_parser
from gateway.energy.report_text import days_text
from tests.sitefiles import DEMO_SITE


def _subparser(name: str) -> argparse.ArgumentParser:
    parser = build_parser()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action.choices[name]  # type: ignore[no-any-return]
    raise AssertionError("no subcommands")


@pytest.mark.parametrize("command", ["report", "whatif"])
def test_every_argument_has_help(command: str) -> None:
    bare = [a.dest for a in _subparser(command)._actions if not a.help]
    assert bare == []


def test_a_bad_weather_name_is_the_flags_fault(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["whatif", "--rules", str(SHIPPED), "--site", str(DEMO_SITE), "--day",
               "2026-07-15", "--weather", "wuhan-summer-nosuch", "--out",
               str(tmp_path / "w.html")])
    assert rc == 2
    err = capsys.readouterr().err
    assert "--weather" in err and "wuhan-summer-nosuch" in err and "wuhan-summer-hot" in err
    assert str(SHIPPED) not in err and "demo-office.yaml" not in err
    assert not (tmp_path / "w.html").exists()


def test_plurals() -> None:
    assert (days_text(1), days_text(2)) == ("1 day", "2 days")
    i18n.set_language("zh_CN")
    try:
        assert (days_text(1), days_text(2)) == ("1 天", "2 天")
    finally:
        i18n.set_language(None)
