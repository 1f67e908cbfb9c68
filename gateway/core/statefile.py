"""I/O: files the gateway keeps and must find whole after a power cut in the plant room —
the energy accountant's meters, the optimal starts' learned models, the fleet agent's
state and the live files a bundle replaces. A file is replaced in one step: its new
content flushed to the disk, renamed over the old one, and the rename itself flushed (the
folder), so the old file or the new one is there, never half of either."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def replace_with(src: Path, dst: Path) -> None:
    """``src`` takes ``dst``'s place in one step, and stays there after a power cut."""
    with open(src, "rb") as f:
        os.fsync(f.fileno())
    os.replace(src, dst)
    fd = os.open(dst.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def replace_whole(path: Path, data: str | bytes) -> None:
    """``path`` holds ``data`` from now on, or (an OSError) keeps what it held."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        if isinstance(data, str):
            tmp.write_text(data, encoding="utf-8")
        else:
            tmp.write_bytes(data)
        replace_with(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
