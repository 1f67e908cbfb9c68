"""Run the benchmarks bench/bench_*.py: `python -m bench [NAME ...] [--budget S] [--list]`."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DEFAULT_BUDGET_S = float(os.environ.get("BENCH_BUDGET_S", "900"))


def discover() -> list[str]:
    """Module names (bench_*) in name order."""
    return sorted(p.stem for p in HERE.glob("bench_*.py"))


def short(module: str) -> str:
    return module.removeprefix("bench_")


def format_value(value: float) -> str:
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    if abs(value) >= 1e4:
        return f"{value:.1f}"
    return f"{value:.6g}"


def check_figures(result: object) -> dict[str, float]:
    """The figures of a run() result, or TypeError saying what is wrong."""
    if not isinstance(result, dict):
        raise TypeError(f"run() returned {type(result).__name__}, not dict[str, float]")
    figures: dict[str, float] = {}
    for key, value in result.items():
        if not isinstance(key, str) or not key or any(c.isspace() or c == ":" for c in key):
            raise TypeError(f"figure name {key!r} is not a word")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError(f"figure {key!r} is {type(value).__name__}, not a number")
        if not math.isfinite(value):
            raise TypeError(f"figure {key!r} is {value}")
        figures[key] = float(value)
    return figures


def run_child(module: str, result_file: str) -> int:
    """In the child process: import and run one benchmark, write JSON to result_file."""
    try:
        mod = importlib.import_module(f"bench.{module}")
        run = getattr(mod, "run", None)
        if not callable(run):
            raise TypeError(f"bench/{module}.py has no run() function")
        payload: dict[str, object] = {"figures": check_figures(run())}
        status = 0
    except BaseException as e:  # report anything, KeyboardInterrupt included
        traceback.print_exc()
        message = f"{type(e).__name__}: {e}".strip().splitlines()[0]
        payload = {"error": message}
        status = 1
    Path(result_file).write_text(json.dumps(payload))
    return status


def run_one(module: str, timeout: float) -> dict[str, float]:
    """Run one benchmark in a child process; RuntimeError with a one-line reason."""
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        result_file = os.path.join(tmp, "result.json")
        proc = subprocess.Popen(
            [sys.executable, "-m", "bench", "--child", module, "--result-file", result_file],
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=sys.stderr,  # a benchmark's own prints never mix with the figures
            start_new_session=True,
        )
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise RuntimeError(f"over the budget: killed after {timeout:.0f} s") from None
        finally:
            # Whatever the benchmark left behind in its session goes too.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
        try:
            payload = json.loads(Path(result_file).read_text())
        except (OSError, ValueError):
            raise RuntimeError(f"child exited with status {proc.returncode}, no result") from None
    if "error" in payload:
        raise RuntimeError(str(payload["error"]))
    return check_figures(payload.get("figures"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("names", nargs="*", help="run only these (bench_NAME or NAME)")
    parser.add_argument(
        "--budget",
        type=float,
        default=DEFAULT_BUDGET_S,
        help="total seconds for all benchmarks (default: $BENCH_BUDGET_S or 900)",
    )
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--result-file", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        return run_child(args.child, args.result_file)

    modules = discover()
    if args.names:
        wanted = {n if n.startswith("bench_") else f"bench_{n}" for n in args.names}
        unknown = wanted - set(modules)
        if unknown:
            parser.error(f"no such benchmark: {', '.join(sorted(unknown))}")
        modules = [m for m in modules if m in wanted]
    if args.list:
        for m in modules:
            print(short(m))
        return 0

    deadline = time.monotonic() + args.budget
    failed = 0
    printed: dict[str, str] = {}  # figure name → the benchmark that printed it
    for module in modules:
        name = short(module)
        remaining = deadline - time.monotonic()
        try:
            if remaining <= 0:
                raise RuntimeError(f"not run: the budget of {args.budget:.0f} s is spent")
            figures = run_one(module, remaining)
        except (RuntimeError, TypeError) as e:
            print(f"# {name}: error {e}", file=sys.stderr, flush=True)
            failed += 1
            continue
        # Figure names are the exact names the issues give, so they are printed
        # bare; two benchmarks claiming one name is a bug in the benchmarks.
        for key, value in figures.items():
            if key in printed:
                print(f"# {name}: error figure {key} already printed by {printed[key]}",
                      file=sys.stderr, flush=True)
                failed += 1
                continue
            printed[key] = name
            print(f"{key}: {format_value(value)}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
