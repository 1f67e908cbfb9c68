"""Plain aligned tables: what people read on the command line.

Widths are display columns: a Chinese character takes two, so 设定温度 lines up
with setpoint_c in a terminal.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gateway.i18n import ljust, rjust, width

__all__ = ["ljust", "print_table", "rjust", "width"]


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """A plain aligned table on stdout."""
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in r] for r in rows]
    widths = [max(width(row[i]) for row in cells) for i in range(len(headers))]
    for n, row in enumerate(cells):
        print("  ".join(ljust(c, w) for c, w in zip(row, widths, strict=True)).rstrip())
        if n == 0:
            print("  ".join("-" * w for w in widths))
