"""Write one batch of lines: retry while the database is away, isolate lines it refuses.

- Unavailable (down, 5xx, timeout, 401/403/404): wait with exponential back-off
  and jitter and try again, keeping the batch, until it is accepted or the
  historian is stopping (then ``Abandoned``: the caller acknowledges nothing,
  and the broker delivers the messages again to the next run).
- Rejected (400/422): some line will never be accepted. InfluxDB 1.x quotes
  unparsable lines (``unable to parse '<line>': ...``): those are taken out
  at once. Otherwise (a field type conflict names only the field) the batch is
  bisected until each refused line stands alone. Good lines are written
  (again — a write is idempotent: same series, same timestamp), refused lines
  are returned to be logged and counted; they are never retried.
- TooLarge (413): halve and write both halves.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from gateway.historian.sink import Rejected, Sink, SinkError, TooLarge, Unavailable

_QUOTED = re.compile(r"unable to parse '(.*?)': ", re.S)


class Abandoned(Exception):
    """Stopping while the database was unavailable: the batch was not written."""


@dataclass
class Outcome:
    written: int = 0
    requests: int = 0
    #: (line, the database's reason) for every line refused for good
    rejected: list[tuple[str, str]] = field(default_factory=list)


class Backoff:
    """Exponential back-off with jitter: the n-th delay is in [d/2, d], d = initial·2ⁿ ≤ maximum."""

    def __init__(self, initial: float, maximum: float,
                 rng: Callable[[], float] = random.random):
        self.initial = initial
        self.maximum = maximum
        self._rng = rng
        self._n = 0

    def next(self) -> float:
        delay = min(self.maximum, self.initial * 2.0 ** min(self._n, 30))
        self._n += 1
        return delay * (0.5 + 0.5 * self._rng())

    def reset(self) -> None:
        self._n = 0


#: called on every failed attempt: (error, attempt number, seconds until the next)
ErrorHook = Callable[[SinkError, int, float], None]
#: sleeps up to the given seconds; True means "stop trying" (historian stopping)
Wait = Callable[[float], bool]


class BatchWriter:
    def __init__(self, sink: Sink, backoff: Backoff, wait: Wait, on_error: ErrorHook):
        self.sink = sink
        self.backoff = backoff
        self._wait = wait
        self._on_error = on_error

    def write(self, lines: list[str]) -> Outcome:
        """Write ``lines``; raises Abandoned if stopping while the database is away."""
        outcome = Outcome()
        self._resolve(lines, outcome)
        outcome.written = len(lines) - len(outcome.rejected)
        return outcome

    def _resolve(self, lines: list[str], outcome: Outcome) -> None:
        try:
            self._write_retrying(lines, outcome)
            return
        except (Rejected, TooLarge) as exc:
            self._on_error(exc, 0, 0.0)
            error = exc
        if len(lines) == 1:
            outcome.rejected.append((lines[0], error.message))
            return
        if isinstance(error, Rejected):
            quoted = set(_QUOTED.findall(error.message)).intersection(lines)
            if quoted:
                outcome.rejected.extend((ln, error.message) for ln in lines if ln in quoted)
                rest = [ln for ln in lines if ln not in quoted]
                if rest:
                    self._resolve(rest, outcome)
                return
        half = len(lines) // 2
        self._resolve(lines[:half], outcome)
        self._resolve(lines[half:], outcome)

    def _write_retrying(self, lines: list[str], outcome: Outcome) -> None:
        body = "\n".join(lines).encode()
        attempt = 0
        while True:
            outcome.requests += 1
            try:
                self.sink.write(body)
                self.backoff.reset()
                return
            except Unavailable as exc:
                attempt += 1
                delay = self.backoff.next()
                self._on_error(exc, attempt, delay)
                if self._wait(delay):
                    raise Abandoned(exc.message) from None
