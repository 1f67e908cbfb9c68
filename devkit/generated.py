"""Generated files kept in the repository: write them, or check that they are current.

Each generator (``devkit.dashboards``, ``devkit.schemas``) builds its files as
text; ``main`` writes them, or with ``--check`` exits 1 naming every file that
differs, so a test or CI catches a model changed without regenerating.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path


def main(argv: list[str] | None, *, module: str, description: str,
         build: Callable[[], dict[str, str]], out: Path) -> int:
    """Command line of the generator ``module``: ``build()`` gives file name → text."""
    parser = argparse.ArgumentParser(prog=f"python -m {module}", description=description)
    parser.add_argument("--check", action="store_true",
                        help="compare with the files instead of writing them")
    parser.add_argument("--out", type=Path, default=out)
    args = parser.parse_args(argv)
    stale = []
    for name, text in build().items():
        path = args.out / name
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(str(path))
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            print(path)
    for path in stale:
        print(f"{path}: differs from the generator; run python -m {module}", file=sys.stderr)
    return 1 if stale else 0
