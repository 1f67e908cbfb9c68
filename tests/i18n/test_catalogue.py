"""zh-CN is a first-class language: every marked message has a translation with the same fields."""

from __future__ import annotations

import pytest

from devkit import catalogue
from gateway import i18n


def test_every_marked_message_is_translated() -> None:
    assert catalogue.problems(i18n.CHINESE) == []


def test_fields_are_compared() -> None:
    assert catalogue.fields("{n} of {total:.1f} kWh {{literal}}") == {"n", "total:.1f"}


@pytest.mark.parametrize(("tag", "lang"), [("zh_CN.UTF-8", "zh_CN"), ("zh-Hans", "zh_CN"),
                                           ("C.UTF-8", "en"), ("en_US", "en"), ("fr_FR", None)])
def test_locale_names(tag: str, lang: str | None) -> None:
    assert i18n.normalise(tag) == lang


def test_environment_then_flag(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ESCOGW_LANG", raising=False)
    monkeypatch.setenv("LC_ALL", "")
    monkeypatch.setenv("LANG", "zh_CN.UTF-8")
    try:
        assert i18n.set_language(None) == "zh_CN"
        monkeypatch.setenv("ESCOGW_LANG", "en")
        assert i18n.language() == "en"
        assert i18n.set_language("zh") == "zh_CN"
        with pytest.raises(ValueError, match="unknown language"):
            i18n.set_language("xx")
    finally:
        i18n.set_language(None)


def test_english_left_ignores_names_and_units() -> None:
    from tests.i18n.english import english_left

    assert english_left("office-3 设定 26.0 °C，电量 12 kWh", names=["office-3"]) == []
    assert english_left("温度 too high", names=[]) == ["too", "high"]
