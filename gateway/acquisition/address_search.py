"""Finding the meters on a DL/T 645 or CJ/T 188 line by their addresses (pure: no I/O).

Both protocols let a request's address end in AA wildcard bytes: the meters
whose low bytes match the rest answer with their full address (DL/T 645-2007
§7.1 "地址域支持缩位寻址"; CJ/T 188 the same). The search starts with every byte a
wildcard. When one meter answers, it is found; when several answer at once
their replies collide and arrive garbled, so the search fixes one more byte
(the lowest wildcard: 00-99) and asks again for each value, until each
question is answered by one meter or by none. ``ask`` does the asking (a
meter link); this module only decides what to ask next.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

WILDCARD = "AA"


@dataclass(frozen=True, slots=True)
class Heard:
    """What came back to one read-address request."""

    #: addresses of the meters that answered with a valid frame
    addresses: tuple[str, ...] = ()
    #: bytes arrived that made no valid frame: several meters answered at once
    garbled: bool = False


@dataclass
class SearchProgress:
    asked: int = 0
    #: questions known to be still to ask (grows when a collision splits one)
    queued: int = 0
    found: list[str] = field(default_factory=list)


def children(pattern: str) -> list[str]:
    """The patterns that fix the lowest wildcard byte of ``pattern`` to 00..99."""
    pairs = [pattern[i:i + 2] for i in range(0, len(pattern), 2)]
    lowest = max(i for i, p in enumerate(pairs) if p == WILDCARD)
    return ["".join([*pairs[:lowest], f"{d:02d}", *pairs[lowest + 1:]]) for d in range(100)]


async def search(ask: Callable[[str], Awaitable[Heard]], digits: int,
                 on_progress: Callable[[SearchProgress], None] | None = None) -> list[str]:
    """Every address that answers, sorted; ``digits``: 12 (DL/T 645) or 14 (CJ/T 188)."""
    progress = SearchProgress()
    todo = deque([WILDCARD * (digits // 2)])
    found: set[str] = set()
    while todo:
        pattern = todo.popleft()
        progress.queued = len(todo)
        heard = await ask(pattern)
        progress.asked += 1
        found.update(heard.addresses)
        if heard.garbled and WILDCARD in pattern:
            todo.extend(children(pattern))
        progress.queued = len(todo)
        progress.found = sorted(found)
        if on_progress is not None:
            on_progress(progress)
    return sorted(found)
