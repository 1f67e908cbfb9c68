"""The zh-CN catalogue against the code: what is marked for translation but not translated.

``python -m devkit.catalogue`` lists each missing or inconsistent message with the
file and line that uses it, and exits 1 if there is any; ``--pot FILE`` also writes
the template (every marked message) for translators' tools.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from gateway.i18n import LANGUAGES, LOCALE_DIR, catalogue

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("gateway", "devkit", "simulators")
# ngettext's two arguments are one message; N_ marks constants translated where used
KEYWORDS = {"_": None, "N_": None, "ngettext": (1, 2)}
_FIELD = re.compile(r"(?<!\{)\{([^{}]*)\}(?!\})")


@dataclass(frozen=True)
class Marked:
    msgid: str
    plural: str | None
    where: str


def marked() -> list[Marked]:
    """Every message marked in the sources, with its first file:line."""
    from babel.messages.extract import extract_from_dir

    seen: dict[str, Marked] = {}
    for top in SOURCES:
        for filename, lineno, message, _comments, _ctx in extract_from_dir(
                ROOT / top, method_map=[("**.py", "python")], keywords=KEYWORDS):
            msgid, plural = (message[0], message[1]) if isinstance(message, tuple) \
                else (message, None)
            if msgid and msgid not in seen:
                seen[msgid] = Marked(msgid, plural, f"{top}/{filename}:{lineno}")
    return sorted(seen.values(), key=lambda m: m.where)


def fields(text: str) -> set[str]:
    """The str.format fields of a message (names and format specs)."""
    return set(_FIELD.findall(text))


def conflicts(lang: str) -> list[str]:
    """Messages translated differently in two of the language's files (the catalogue
    would keep whichever file sorts last: one word must read the same everywhere)."""
    from babel.messages.pofile import read_po

    seen: dict[str, tuple[str, object]] = {}
    out: list[str] = []
    for po in sorted((LOCALE_DIR / lang).glob("*.po")):
        with po.open("rb") as fh:
            cat = read_po(fh, locale=lang)
        for msg in cat:
            if not msg.id or msg.fuzzy or not msg.string:
                continue
            key = msg.id[0] if isinstance(msg.id, (tuple, list)) else msg.id
            if key in seen and seen[key][1] != msg.string:
                out.append(f"{po.name}: {key!r} is {msg.string!r} here but "
                           f"{seen[key][1]!r} in {seen[key][0]}")
            seen.setdefault(key, (po.name, msg.string))
    return out


def problems(lang: str) -> list[str]:
    table = catalogue(lang)
    out: list[str] = conflicts(lang)
    for m in marked():
        found = table.get(m.msgid)
        if found is None:
            out.append(f"{m.where}: not translated: {m.msgid!r}")
            continue
        for form in (found,) if isinstance(found, str) else found:
            if fields(form) != fields(m.msgid):
                out.append(f"{m.where}: fields differ: {m.msgid!r} has {sorted(fields(m.msgid))}"
                           f", the translation {sorted(fields(form))}")
    return out


def write_pot(path: Path) -> None:
    from babel.messages.catalog import Catalog
    from babel.messages.pofile import write_po

    cat = Catalog(project="esco-gateway")
    for m in marked():
        file, _sep, line = m.where.rpartition(":")
        cat.add((m.msgid, m.plural) if m.plural else m.msgid, locations=[(file, int(line))])
    with path.open("wb") as fh:
        write_po(fh, cat)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m devkit.catalogue")
    parser.add_argument("--pot", type=Path, help="also write the template here")
    args = parser.parse_args()
    if args.pot:
        write_pot(args.pot)
    bad = [p for lang in LANGUAGES if (LOCALE_DIR / lang).is_dir() for p in problems(lang)]
    for line in bad:
        print(line)
    print(f"{len(marked())} messages marked, {len(bad)} problems", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
