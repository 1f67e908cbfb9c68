"""A power cut under the outbox: every row that was committed when the power went is there
after it, and the database opens clean (issue 20).

This machine has no device-mapper (so no dm-flakey on a loop device) and no FUSE to spare;
an LD_PRELOAD shim (durable_shim.c) gives the same evidence: it copies each file at each
fsync, so the copies are exactly what a disk keeps when every unsynced write is lost. The
writer is SIGKILLed at a random moment and the outbox is opened from the copies.

Mutant: ``synchronous=NORMAL`` for the outbox (WAL commits are not synced until a
checkpoint) — a SIGKILL test passes on it, because the kernel keeps the page cache.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import in_ci

HERE = Path(__file__).parent
ROOT = HERE.parents[1]
CUTS = 6


@pytest.fixture(scope="module")
def shim(tmp_path_factory: pytest.TempPathFactory) -> Path:
    gcc = shutil.which("gcc")
    if gcc is None:
        if in_ci():
            pytest.fail("gcc is missing: scripts/ensure-services installs it", pytrace=False)
        pytest.skip("gcc is missing (apt-get install gcc)")
    out = tmp_path_factory.mktemp("shim") / "durable_shim.so"
    subprocess.run([gcc, "-shared", "-fPIC", "-O2", "-o", str(out),
                    str(HERE / "durable_shim.c"), "-ldl"], check=True)
    return out


def cut_power(shim: Path, workdir: Path, seed: int) -> tuple[set[int], Path]:
    """Run the writer, SIGKILL it at a random moment; (rows committed and not acknowledged
    at that moment, the directory of what the disk kept)."""
    live, durable = workdir / "live", workdir / "durable"
    live.mkdir()
    durable.mkdir()
    env = {**os.environ, "LD_PRELOAD": str(shim), "POWERCUT_DIR": str(live),
           "POWERCUT_DURABLE": str(durable), "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "tests.powercut.writer", str(live),
                             str(seed)], cwd=ROOT, env=env, stdout=subprocess.PIPE)
    assert proc.stdout is not None
    rng = random.Random(seed)
    lines: list[bytes] = []
    target = rng.randint(30, 400)  # the power goes after this many commits, mid-write
    while len(lines) < target:
        line = proc.stdout.readline()
        assert line, f"the writer stopped by itself: {proc.wait()}"
        lines.append(line)
    time.sleep(rng.uniform(0, 0.01))  # a random moment inside the next commit or two
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    lines += proc.stdout.read().splitlines()  # committed before the kill, printed in time
    committed: set[int] = set()
    for line in lines:
        verb, _, rest = line.decode().strip().partition(" ")
        if verb == "put":
            first, last = map(int, rest.split())
            committed.update(range(first, last + 1))
        elif verb == "ack" and rest:
            committed.difference_update(int(n) for n in rest.split(","))
    return committed, durable


@pytest.mark.parametrize("seed", range(CUTS))
def test_committed_rows_survive_a_power_cut(shim: Path, tmp_path: Path, seed: int) -> None:
    committed, durable = cut_power(shim, tmp_path, seed)
    assert committed, "nothing was committed before the cut"
    db = sqlite3.connect(durable / "outbox.sqlite")  # replays the kept WAL, as at boot
    try:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        present = {int(p.split(b":", 1)[0]) for (p,) in db.execute("SELECT payload FROM outbox")}
        (seq,) = db.execute("SELECT seq FROM seqs WHERE device='m0'").fetchone()
    finally:
        db.close()
    lost = committed - present
    assert not lost, f"{len(lost)} committed rows lost, e.g. {sorted(lost)[:5]}"
    assert seq >= max(committed)  # the seq is committed with its rows
