"""The mutation score of the critical modules, from what ``mutmut run`` left in mutants/.

    python -m devkit.mutation        # after mutmut run (make mutation runs both)

Prints one ``name: value`` line per module and ``mutation_score_critical_pct`` for all of
them: killed mutants (a test failed, or the mutant hung past mutmut's timeout) plus the
equivalent ones, over all mutants. Equivalent means no input can tell the mutant from the
original: those listed by name with a reason in devkit/mutation_equivalent.txt, and one
kind recognised here from the mutant's code — a change of case inside an SQL statement
(SQLite's keywords and identifiers are case-insensitive). Mutants whose only change is the
text of a log line are not equivalent (an operator reads it) and count against the score;
they are shown apart from the rest. Then every other surviving mutant by name, for
``mutmut show NAME``. Exit status 1 when a mutant was never checked (the run did not finish).
"""

from __future__ import annotations

import ast
import json
import sys
import tomllib
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EQUIVALENT = Path(__file__).with_name("mutation_equivalent.txt")

#: mutmut 3's exit codes (mutmut/stats.py) folded into what the score needs
KILLED = {1, 3, 36, 24, -24, 152, 255}  # a failing test, or a timeout
SURVIVED = {0}
NO_TESTS = {5, 33}


def critical_modules() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return list(config["tool"]["mutmut"]["only_mutate"])


def equivalent() -> dict[str, str]:
    """Mutant name → why it cannot change behaviour (``name  reason`` per line, # comments)."""
    out: dict[str, str] = {}
    for line in EQUIVALENT.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, reason = line.partition(" ")
            out[name] = reason.strip()
    return out


SQL_WORDS = ("SELECT ", "INSERT ", "DELETE ", "UPDATE ", "PRAGMA ", "CREATE ", "BEGIN",
             "COMMIT", "ROLLBACK", "FROM ", "ON CONFLICT", "WHERE ")
LOG_METHODS = {"debug", "info", "warning", "error", "exception", "critical"}


def _functions(mutated_source: str) -> dict[str, ast.AST]:
    """Every function mutmut wrote into a mutants/ file, by its mangled name."""
    return {node.name: node for node in ast.walk(ast.parse(mutated_source))
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)}


def _in_log_call(tree: ast.AST) -> set[int]:
    """ids of the nodes inside ``log.<level>(…)`` or ``event(log, …)`` calls."""
    inside: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and _is_log_call(node):
            inside.update(id(n) for n in ast.walk(node))
    return inside


class _BlankLogCalls(ast.NodeTransformer):
    """Every logging call replaced by the same placeholder."""

    def visit_Call(self, node: ast.Call) -> ast.AST:
        if _is_log_call(node):
            return ast.Constant("<log>")
        self.generic_visit(node)
        return node


def _is_log_call(node: ast.Call) -> bool:
    f = node.func
    return (isinstance(f, ast.Attribute) and f.attr in LOG_METHODS
            and isinstance(f.value, ast.Name) and f.value.id in ("log", "logger")) \
        or (isinstance(f, ast.Name) and f.id == "event")


def _without_log_calls(node: ast.AST) -> str:
    import copy

    tree = _BlankLogCalls().visit(copy.deepcopy(node))
    return ast.dump(tree, include_attributes=False).split("args=", 1)[-1]


def kind_of_change(functions: dict[str, ast.AST], mutant: str) -> str | None:
    """"sql case" or "log text" when that is all the mutant changes, else None."""
    short = mutant.rsplit(".", 1)[-1]
    base = short.rsplit("__mutmut_", 1)[0]
    orig, new = functions.get(base + "__mutmut_orig"), functions.get(short)
    if orig is None or new is None:
        return None
    if _without_log_calls(orig) == _without_log_calls(new) and \
            ast.dump(orig).split("args=", 1)[-1] != ast.dump(new).split("args=", 1)[-1]:
        return "log text"  # whatever changed is inside a logging call
    a, b = list(ast.walk(orig)), list(ast.walk(new))
    if len(a) != len(b):
        return None
    logged = _in_log_call(orig)
    kinds: set[str] = set()
    for x, y in zip(a, b, strict=True):
        if type(x) is not type(y):
            return None
        if isinstance(x, ast.Constant) and isinstance(y, ast.Constant) and x.value != y.value:
            if (isinstance(x.value, str) and isinstance(y.value, str)
                    and x.value.lower() == y.value.lower()
                    and x.value.upper().lstrip().startswith(SQL_WORDS)):
                kinds.add("sql case")
            elif id(x) in logged:
                kinds.add("log text")
            else:
                return None
        elif not isinstance(x, ast.Constant) and ast.dump(x, include_attributes=False).split(
                "(", 1)[0] != ast.dump(y, include_attributes=False).split("(", 1)[0]:
            return None
    if not kinds:
        return None
    return "log text" if "log text" in kinds else "sql case"


def outcome(code: int | None) -> str:
    if code is None:
        return "unchecked"
    if code in KILLED:
        return "killed"
    if code in SURVIVED:
        return "survived"
    if code in NO_TESTS:
        return "no tests"
    return "suspicious"


def main() -> int:
    justified = equivalent()
    total: Counter[str] = Counter()
    rows: list[tuple[str, float, Counter[str]]] = []
    open_survivors: list[str] = []
    for module in critical_modules():
        meta = ROOT / "mutants" / (module + ".meta")
        codes = json.loads(meta.read_text())["exit_code_by_key"] if meta.exists() else {}
        mutated = ROOT / "mutants" / module
        functions = _functions(mutated.read_text()) if mutated.exists() else {}
        counts: Counter[str] = Counter()
        for name, code in codes.items():
            result = outcome(code)
            if result not in ("killed", "unchecked"):
                kind = kind_of_change(functions, name)
                if name in justified or kind == "sql case":
                    result = "equivalent"
                elif kind == "log text":
                    result = "log text"
                else:
                    open_survivors.append(f"{name} ({result})")
            counts[result] += 1
        n = sum(counts.values())
        score = 100.0 * (counts["killed"] + counts["equivalent"]) / n if n else 0.0
        rows.append((module, score, counts))
        total += counts
    n = sum(total.values())
    critical = 100.0 * (total["killed"] + total["equivalent"]) / n if n else 0.0
    print(f"mutation_score_critical_pct: {critical:.1f}")
    for module, score, counts in rows:
        detail = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
        print(f"mutation_score_pct[{module}]: {score:.1f}  ({detail})")
    print(f"mutants: {n}; not killed and not justified: {len(open_survivors)}")
    for name in open_survivors:
        print(f"  {name}")
    return 1 if total["unchecked"] else 0


if __name__ == "__main__":
    sys.exit(main())
