"""The address search alone, against a fake line of meters (no sockets): what it asks."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from gateway.acquisition.address_search import Heard, children, search


def line(*addresses: str) -> tuple[list[str], Callable[[str], Awaitable[Heard]]]:
    asked: list[str] = []

    async def ask(pattern: str) -> Heard:
        asked.append(pattern)
        match = [a for a in addresses if all(
            p == "AA" or p == a[i:i + 2] for i, p in
            ((i, pattern[i:i + 2]) for i in range(0, len(pattern), 2)))]
        return Heard(tuple(match), False) if len(match) == 1 else Heard((), len(match) > 1)

    return asked, ask


async def test_one_meter_is_found_with_one_question() -> None:
    asked, ask = line("000012345678")
    assert await search(ask, 12) == ["000012345678"]
    assert asked == ["AA" * 6]


async def test_colliding_meters_are_split_by_their_low_digits_first() -> None:
    asked, ask = line("000000000145", "000000000245", "000000000377")
    assert await search(ask, 12) == ["000000000145", "000000000245", "000000000377"]
    assert asked[0] == "AA" * 6
    assert asked[1:101] == [f"AAAAAAAAAA{d:02d}" for d in range(100)]
    assert asked[101:] == [f"AAAAAAAA{d:02d}45" for d in range(100)]


async def test_an_empty_line_is_one_question() -> None:
    asked, ask = line()
    assert await search(ask, 14) == []
    assert asked == ["AA" * 7]


def test_children_fix_the_lowest_wildcard_byte() -> None:
    assert children("AAAAAAAAAA45")[7] == "AAAAAAAA0745"
    assert len(children("AA" * 7)) == 100
