"""The command line's own words in the user's language: ``--lang`` found before the parser
is built (so help texts are translated as they are written), argparse's fixed texts
("usage:", "options", its error messages) from our catalogue, and the helpers every
verb uses to declare a subcommand and ``--json`` with their help."""

from __future__ import annotations

import argparse
import gettext
import re
from collections.abc import Sequence
from typing import Any

from gateway.i18n import N_, _, normalise

#: argparse's texts that a user of escogw meets (Python 3.11+ wording), for the catalogue
ARGPARSE_TEXTS = (
    N_("usage: "), N_("positional arguments"), N_("options"), N_("commands"),
    N_("show this help message and exit"), N_("%(prog)s: error: %(message)s\n"),
    N_("the following arguments are required: %s"), N_("unrecognized arguments: %s"),
    N_("invalid choice: %(value)r (choose from %(choices)s)"),
    N_("argument %(argument_name)s: %(message)s"), N_("expected one argument"),
    N_("expected at least one argument"), N_("invalid %(type)s value: %(value)r"),
    N_("not allowed with argument %s"), N_("one of the arguments %s is required"),
    N_("ambiguous option: %(option)s could match %(matches)s"),
)


def lang_from_argv(argv: Sequence[str]) -> tuple[str | None, list[str]]:
    """The language ``--lang X`` / ``--lang=X`` asks for (None: not given), and the
    arguments without it: the flag is global but may stand anywhere on the line. A value
    that is not a language is left in place for the parser to refuse with the choices."""
    rest = list(argv)
    for n, arg in enumerate(rest):
        if arg == "--":
            break
        value, width = (rest[n + 1], 2) if arg == "--lang" and n + 1 < len(rest) else \
            (arg.partition("=")[2], 1) if arg.startswith("--lang=") else (None, 0)
        if value is not None and normalise(value) is not None:
            return normalise(value), rest[:n] + rest[n + width:]
    return None, rest


def hoist_global(argv: Sequence[str], flag: str = "--log-level") -> list[str]:
    """The arguments with ``flag VALUE`` moved to the front, where the parser expects a
    global option: ``escogw scan … --log-level DEBUG`` works as the scan's summary says."""
    front: list[str] = []
    rest: list[str] = []
    items = list(argv)
    n = 0
    while n < len(items):
        arg = items[n]
        if arg == "--":
            rest += items[n:]
            break
        if arg == flag and n + 1 < len(items):
            front += items[n:n + 2]
            n += 2
            continue
        (front if arg.startswith(flag + "=") else rest).append(arg)
        n += 1
    return front + rest


def _argparse_text(message: str) -> str:
    if message is None:  # argparse asks for a missing description too
        return message
    mine = _(message)
    return mine if mine != message else gettext.gettext(message)


def _argparse_plural(singular: str, plural: str, n: int) -> str:
    return gettext.ngettext(singular, plural, n)


def translate_argparse() -> None:
    """argparse's fixed texts through our catalogue (it looks its ``_`` up at each use)."""
    module: Any = argparse
    module._ = _argparse_text
    module.ngettext = _argparse_plural


def language_choice(text: str) -> str:
    """``--lang``'s value: zh, zh-CN and zh_CN.UTF-8 all mean zh_CN."""
    return normalise(text) or text


_TOKEN = re.compile(r"\s+|[\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef]|"
                    r"[^\s\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef]+")


#: punctuation that never begins a line in Chinese typesetting (it stays on the last one)
_NO_LINE_START = frozenset("，。、；：！？）》」』”’")


def wrap(text: str, columns: int) -> list[str]:
    """Lines of at most ``columns`` display columns: breaks at spaces, and between two
    Chinese characters (which have no spaces between them)."""
    from gateway.cli.table import width

    lines: list[str] = []
    line, gap = "", False
    for token in _TOKEN.findall(" ".join(text.split())):
        if token.isspace():
            gap = True
            continue
        joined = line + (" " if gap and line else "") + token
        # without a space, a line breaks only between two Chinese characters: a path
        # like rules/<站点 ID>.yaml or "（YAML）" stays whole
        breakable = gap or (width(token[0]) == 2 and width(line[-1:]) == 2)
        if line and width(joined) > columns and breakable and token not in _NO_LINE_START:
            lines.append(line)
            joined = token
        line, gap = joined, False
    return [*lines, line] if line else lines


class HelpFormatter(argparse.HelpFormatter):
    """argparse's layout with lines wrapped by display width (Chinese help wraps too)."""

    def _split_lines(self, text: str, width: int) -> list[str]:
        return wrap(text, width)

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        return "\n".join(indent + line for line in wrap(text, width))

    def _format_usage(self, usage: str | None, actions: Any, groups: Any,
                      prefix: str | None) -> str:
        """argparse indents the usage's continuation lines by len("用法："); a Chinese
        prefix is wider on screen than it is long, so they get the difference."""
        from gateway.cli.table import width

        text: str = super()._format_usage(usage, actions, groups, prefix)
        head = prefix if prefix is not None else _argparse_text("usage: ")
        extra = width(head) - len(head)
        if extra <= 0:
            return text
        first, *rest = text.split("\n")
        return "\n".join([first, *(" " * extra + line if line.strip() else line
                                   for line in rest)])


def command(sub: Any, name: str, text: str) -> argparse.ArgumentParser:
    """A subcommand whose help line in the list is also the head of its own --help."""
    parser: argparse.ArgumentParser = sub.add_parser(name, help=text, description=text,
                                                     formatter_class=HelpFormatter)
    return parser


def add_json(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true",
                        help=_("print JSON for scripts instead of the table"))
