"""A block's numbers unpacked together give exactly what decoding each point alone gives
(gateway/acquisition/block_decode.py), for every shipped Modbus profile's blocks, on
random registers: NaNs, enums out of range and all."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest

from gateway.acquisition.block_decode import block_decoder
from gateway.acquisition.planner import plan_reads
from gateway.core.codec import CodecError
from gateway.core.profile import ProfileLibrary, Value
from gateway.core.profile_spec import ProfileSpec

LIBRARY = ProfileLibrary()
MODBUS = [pid for pid in LIBRARY.ids() if isinstance(LIBRARY.get(pid).spec, ProfileSpec)]


def outcome(decode: Callable[..., Value], *args: Any) -> object:
    try:
        return decode(*args)
    except CodecError as exc:
        return f"error: {exc}"


@pytest.mark.parametrize("profile_id", MODBUS)
def test_unpacked_together_equals_decoded_alone(profile_id: str) -> None:
    profile = LIBRARY.get(profile_id)
    rng = random.Random(profile_id)
    blocks = plan_reads(profile.points_for(None if profile.per_unit is None else
                                           profile.per_unit.first).values(),
                        max_registers=125, max_bits=2000, max_gap=16, no_bridge=())
    together = 0
    for block in blocks:
        decoder = block_decoder(block)
        if decoder.unpack is None:
            continue
        assert set(decoder.together) | set(decoder.alone) == set(block.points)
        for _ in range(50):
            regs = [rng.choice((0, 0xFFFF, 0x7FC0, 0x4366, rng.randrange(0x10000)))
                    for _ in range(block.count)]
            raws = decoder.unpack(regs)
            for point, finish, raw in zip(decoder.together, decoder.finishers, raws,
                                          strict=True):
                at = point.address - block.start
                alone = outcome(point.decode, regs[at:at + point.count])
                both = outcome(finish, raw)
                assert both == alone or (both != both and alone != alone), point.name
        together += len(decoder.together)
    if profile_id == "eastron-sdm630":
        assert together >= 30  # float32 meters: every point unpacked together
