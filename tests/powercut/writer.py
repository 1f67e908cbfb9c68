"""The outbox at work until the power goes: ``python -m tests.powercut.writer DIR SEED``.

Puts batches of readings (as the outbox writer does) and acknowledges the oldest now and
then (as the publisher does), through ``gateway.uplink.outbox.Outbox`` with its default
durability. After each call returns, one line on stdout says what is now committed:
``put FIRST LAST`` (rows numbered FIRST..LAST, the number opening the payload) or
``ack N,N,…`` (rows about to be removed, said before the call).
The parent cuts the power at a random moment and compares.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

from gateway.uplink.outbox import Outbox


def number(payload: bytes) -> int:
    return int(payload.split(b":", 1)[0])


def main(directory: str, seed: str) -> None:
    rng = random.Random(int(seed))
    outbox = Outbox(Path(directory) / "outbox.sqlite")
    n = 0
    while True:
        size = rng.randint(1, 40)
        batch = [(f"escogw/cut/m{(n + i) % 7}/data",
                  f"{n + i}:".encode() + b"x" * rng.randint(10, 400)) for i in range(1, size + 1)]
        if outbox.put(batch, {"m0": n + size}):
            sys.exit("the outbox dropped rows: raise its size")
        print(f"put {n + 1} {n + size}", flush=True)
        n += size
        if rng.random() < 0.2:
            rows = outbox.peek(rng.randint(1, 60))
            # said before: from here on these rows may be gone, committed or not
            print("ack " + ",".join(str(number(r.payload)) for r in rows), flush=True)
            outbox.ack(rows)


if __name__ == "__main__":
    main(*sys.argv[1:])
