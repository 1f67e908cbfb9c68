"""Libraries' own log lines kept out of a command's output.

pymodbus logs an ERROR with a hex dump for every unit id that does not answer; in
the middle of a scan's progress bar that is noise the user cannot act on. While a
command talks to the wire, those records are counted instead of printed, and the
command says once, in its own words, what came of it. With ``--log-level DEBUG``
they are printed as before (nothing is captured).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

#: the loggers of the bus libraries
LIBRARIES = ("pymodbus",)


@dataclass
class Captured:
    """How many records the libraries logged meanwhile."""

    records: int = 0


class _Count(logging.Handler):
    def __init__(self, into: Captured) -> None:
        super().__init__(logging.DEBUG)
        self.into = into

    def emit(self, record: logging.LogRecord) -> None:
        self.into.records += 1


@contextmanager
def library_log_captured(names: tuple[str, ...] = LIBRARIES) -> Iterator[Captured]:
    """Count the libraries' records instead of printing them (unless DEBUG is asked for)."""
    captured = Captured()
    if logging.getLogger().getEffectiveLevel() <= logging.DEBUG:
        yield captured
        return
    keep = _Count(captured)
    saved = []
    for name in names:
        logger = logging.getLogger(name)
        saved.append((logger, logger.propagate, list(logger.handlers)))
        for handler in list(logger.handlers):
            logger.removeHandler(handler)
        logger.addHandler(keep)
        logger.propagate = False
    try:
        yield captured
    finally:
        for logger, propagate, handlers in saved:
            logger.removeHandler(keep)
            for handler in handlers:
                logger.addHandler(handler)
            logger.propagate = propagate
