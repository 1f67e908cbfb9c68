"""The clock's synchronisation as the kernel reports it (gateway/core/clock_sync.py)."""

from __future__ import annotations

import ctypes
import sys

import pytest

from gateway.core.clock_sync import ClockSync, _Timex, clock_sync


@pytest.mark.skipif(sys.platform != "linux" or ctypes.sizeof(ctypes.c_long) != 8,
                    reason="struct timex is laid out for 64-bit Linux here")
def test_the_structure_is_the_kernels_size() -> None:
    # sizeof(struct timex) on x86_64 and aarch64 glibc: a smaller one would let the
    # kernel write past it
    assert ctypes.sizeof(_Timex) == 208


@pytest.mark.skipif(sys.platform != "linux", reason="adjtimex is Linux's")
def test_the_kernel_answers_synced_or_not_with_its_error_bound() -> None:
    sync = clock_sync()
    assert isinstance(sync.synced, bool)
    assert sync.max_error_s is not None and 0 <= sync.max_error_s <= 16.0 + 1e-6


def test_fleet_status_says_synced_or_not() -> None:
    from gateway.cli.fleet import _clock
    from gateway.i18n import set_language

    set_language("en")
    try:
        assert _clock({"clock_synced": False, "clock_max_error_s": 16.0}) == "NOT synced"
        assert _clock({"clock_synced": True, "clock_max_error_s": 0.0125}) == "synced ±0.0125 s"
        assert _clock({"clock_synced": None}) == ""
        assert ClockSync(None, None).synced is None
    finally:
        set_language(None)
