"""The user-facing language: English, or Chinese (zh-CN) from gettext catalogues.

Every string a person reads goes through ``_`` (or ``ngettext`` where a number
decides the form). The catalogue is one gettext domain kept as several ``.po``
files under ``gateway/locale/<lang>/`` (one per area: cli, report, live, ...),
so areas can be translated independently; they are read with Babel when the
language is first used. English needs no catalogue: the msgids are English.

The language is, in order: ``set_language()`` (the ``--lang`` flag), the
``ESCOGW_LANG`` environment variable, then the POSIX locale variables
(``LC_ALL``, ``LC_MESSAGES``, ``LANG``). Anything starting ``zh`` means zh-CN.

Calls to ``_`` must happen when text is shown, not at import time: a module-level
``_("...")`` would be frozen in whichever language was active on import. Mark
such constants with ``N_`` and translate them where they are used.
"""

from __future__ import annotations

import os
import unicodedata
from functools import cache
from pathlib import Path

LOCALE_DIR = Path(__file__).parent / "locale"
ENGLISH = "en"
CHINESE = "zh_CN"
LANGUAGES = (ENGLISH, CHINESE)
# Babel / CLDR locale names for dates and numbers, by our language code
BABEL_LOCALES = {ENGLISH: "en_GB", CHINESE: "zh_Hans_CN"}

_chosen: str | None = None


def normalise(tag: str | None) -> str | None:
    """``zh``, ``zh_CN.UTF-8``, ``zh-Hans`` → zh_CN; ``en*``/``C``/``POSIX`` → en; else None."""
    if not tag:
        return None
    t = tag.strip().lower().replace("-", "_")
    if t.startswith("zh"):
        return CHINESE
    if t.startswith("en") or t.split(".")[0] in ("c", "posix"):
        return ENGLISH
    return None


def set_language(tag: str | None) -> str:
    """Choose the language for this process (None: back to the environment's). Returns it."""
    global _chosen
    if tag is not None and normalise(tag) is None:
        raise ValueError(f"unknown language {tag!r}: use one of {', '.join(LANGUAGES)}")
    _chosen = normalise(tag)
    return language()


def language() -> str:
    if _chosen is not None:
        return _chosen
    for var in ("ESCOGW_LANG", "LC_ALL", "LC_MESSAGES", "LANG"):
        found = normalise(os.environ.get(var))
        if found is not None:
            return found
        if os.environ.get(var):  # set to a language we do not have: it still decides
            return ENGLISH
    return ENGLISH


def babel_locale() -> str:
    """The CLDR locale for Babel's date and number formatting in the current language."""
    return BABEL_LOCALES[language()]


@cache
def catalogue(lang: str) -> dict[str, str | tuple[str, ...]]:
    """msgid → msgstr (a tuple of forms for plural entries) from every ``.po`` of ``lang``.

    Untranslated and fuzzy entries are left out, so they fall back to English.
    """
    from babel.messages.pofile import read_po

    table: dict[str, str | tuple[str, ...]] = {}
    for po in sorted((LOCALE_DIR / lang).glob("*.po")):
        with po.open("rb") as fh:
            cat = read_po(fh, locale=lang)
        for msg in cat:
            if not msg.id or msg.fuzzy:
                continue
            key = msg.id[0] if isinstance(msg.id, (tuple, list)) else msg.id
            if isinstance(msg.string, (tuple, list)):
                if all(msg.string):
                    table[key] = tuple(msg.string)
            elif msg.string:
                table[key] = msg.string
    return table


def _(message: str) -> str:
    """``message`` in the current language (itself when untranslated or in English)."""
    lang = language()
    if lang == ENGLISH:
        return message
    found = catalogue(lang).get(message)
    return found if isinstance(found, str) else message


def ngettext(singular: str, plural: str, n: int) -> str:
    """The form for ``n``: English has two; Chinese one (the catalogue's first)."""
    lang = language()
    if lang != ENGLISH:
        found = catalogue(lang).get(singular)
        if isinstance(found, tuple):
            return found[0]
        if isinstance(found, str):
            return found
    return singular if n == 1 else plural


def N_(message: str) -> str:
    """Marks a constant for the catalogue without translating it (translate at use)."""
    return message


# -- display columns: a Chinese character takes two in a terminal ------------------------


def width(text: str) -> int:
    """Terminal columns of ``text`` (wide and full-width characters count two)."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def ljust(text: str, columns: int) -> str:
    return text + " " * max(0, columns - width(text))


def rjust(text: str, columns: int) -> str:
    return " " * max(0, columns - width(text)) + text
