"""Counters a server keeps, for tests and benchmarks."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class ServerStats:
    requests: int = 0
    """Well-formed request frames taken off the wire (any unit id)."""
    replies: int = 0
    """Replies written back (exception replies included)."""
    bad_frames: int = 0
    """Frames dropped: RTU bad CRC or garbage, MBAP wrong protocol id or length."""
    connections: int = 0
    """TCP connections accepted so far."""
