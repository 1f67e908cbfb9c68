"""docs/architecture.md is true of the tree: every folder it names exists, every package
folder is named, no module imports from a layer below its own, no import cycle, no two
modules share a basename, and every package says what it is."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "architecture.md"
ROW = re.compile(r"^\| (\d+) \| `([\w/]+)/` \|", re.M)
PACKAGES = ("gateway", "simulators", "devkit")


def layers() -> dict[str, int]:
    """folder (as on the page, without the slash) → rank."""
    found = {folder: int(rank) for rank, folder in ROW.findall(PAGE.read_text())}
    assert len(found) >= 8, "the layer table of docs/architecture.md was not found"
    return found


def modules() -> dict[str, Path]:
    out = {}
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            rel = path.relative_to(ROOT).with_suffix("")
            parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
            out[".".join(parts)] = path
    return out


def layer_of(module: str, path: Path, ranks: dict[str, int]) -> int:
    """The deepest folder on the page that holds the module; the package face
    gateway/__init__.py (only the version) and the user's language gateway/i18n.py
    (every layer shows text) sit above every layer."""
    if module in ("gateway", "gateway.i18n"):
        return -1
    folder = path.parent.relative_to(ROOT).as_posix()
    while folder not in ranks:
        assert "/" in folder, f"{path.relative_to(ROOT)}: its folder is not on the page"
        folder = folder.rsplit("/", 1)[0]
    return ranks[folder]


def imports(module: str, path: Path, known: dict[str, Path]) -> Iterator[tuple[int, str]]:
    """Every import of our own modules, at any depth (function bodies and TYPE_CHECKING
    blocks count: they are design arrows too)."""
    is_pkg = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = module.split(".") if is_pkg else module.split(".")[:-1]
                parts = parts[: len(parts) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            names = [base] + [f"{base}.{a.name}" for a in node.names]
        else:
            continue
        targets = set()
        for name in names:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name and name != module:
                targets.add(name)
        for name in sorted(targets):
            yield node.lineno, name


def test_every_folder_on_the_page_exists() -> None:
    for folder in layers():
        assert (ROOT / folder).is_dir(), f"docs/architecture.md names {folder}/"


def test_every_package_folder_is_on_the_page_or_inside_one() -> None:
    ranks = layers()
    for pkg in PACKAGES:
        for init in (ROOT / pkg).rglob("__init__.py"):
            folder = init.parent.relative_to(ROOT).as_posix()
            top = folder.split("/")[0] if folder.startswith(("simulators", "devkit")) \
                else "/".join(folder.split("/")[:2])
            assert top in ranks, f"{folder}/ belongs to no layer on docs/architecture.md"


def test_no_module_imports_from_a_lower_layer() -> None:
    ranks, known = layers(), modules()
    wrong = []
    for module, path in known.items():
        mine = layer_of(module, path, ranks)
        for line, target in imports(module, path, known):
            theirs = layer_of(target, known[target], ranks)
            if theirs > mine:
                wrong.append(f"{path.relative_to(ROOT)}:{line}: {module} (layer {mine}) "
                             f"imports {target} (layer {theirs})")
    assert not wrong, "\n".join(wrong)


def test_no_import_cycles() -> None:
    known = modules()
    graph = {m: {t for _, t in imports(m, p, known) if not m.startswith(t + ".")}
             for m, p in known.items()}
    state: dict[str, int] = {}  # 1 on the stack, 2 done
    cycles: list[str] = []

    def visit(m: str, stack: list[str]) -> None:
        state[m] = 1
        for t in sorted(graph[m]):
            if state.get(t) == 1:
                cycles.append(" -> ".join([*stack[stack.index(t):], t]))
            elif t not in state:
                visit(t, [*stack, t])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    assert not cycles, "\n".join(cycles)


def test_no_two_modules_share_a_basename() -> None:
    seen: dict[str, Path] = {}
    for pkg in ("gateway",):
        for path in (ROOT / pkg).rglob("*.py"):
            if path.name in ("__init__.py", "__main__.py"):
                continue
            assert path.name not in seen, f"{path} and {seen[path.name]}"
            seen[path.name] = path


@pytest.mark.parametrize("init", sorted((ROOT / "gateway").rglob("__init__.py")),
                         ids=lambda p: p.parent.relative_to(ROOT).as_posix())
def test_every_package_says_what_it_is(init: Path) -> None:
    tree = ast.parse(init.read_text())
    assert ast.get_docstring(tree), f"{init.relative_to(ROOT)} has no docstring"
    reexports = [n for n in tree.body if isinstance(n, ast.ImportFrom)]
    if reexports:  # a package face that re-exports lists its public surface
        assert any(isinstance(n, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__all__" for t in n.targets)
            for n in tree.body), f"{init.relative_to(ROOT)} re-exports without __all__"
