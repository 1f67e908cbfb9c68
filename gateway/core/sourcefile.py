"""YAML files that people edit, loaded with the line of every value.

Operators edit site files, profiles and rules by hand, so every mistake must be
reported as ``file:line: field: message``. PyYAML's composer keeps the line of
each node; we walk the node tree once, build plain Python data and remember the
line of every path. Validation errors (pydantic's ``loc`` tuples or our own
checks) are then mapped back to the nearest line.

Any bytes must come back as a ``file:line`` problem in bounded time and memory:
files are capped in size, nesting is measured on PyYAML's event stream (its
parser is iterative, its composer recursive) before anything is composed, and
building the data refuses an alias that contains itself and stops at a budget
of values, so an alias bomb costs milliseconds instead of gigabytes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

Loc = tuple[str | int, ...]
M = TypeVar("M", bound=BaseModel)

#: Limits of a file people edit: the largest shipped file is under 10 kB.
MAX_BYTES = 1 << 20
MAX_DEPTH = 48
MAX_VALUES = 50_000


@dataclass(frozen=True)
class Problem:
    """One mistake in one file, pointing at a line and a field."""

    file: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{where}: {self.field or '(top level)'}: {self.message}"


class ConfigError(Exception):
    """One or more problems in files that people edit. Never half-applied."""

    def __init__(self, problems: Sequence[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


def format_loc(loc: Iterable[str | int]) -> str:
    """``("devices", "m1", "unit_id")`` → ``devices.m1.unit_id``; list items as ``[3]``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


@dataclass
class SourceDoc:
    """Plain data parsed from one YAML file, with the line of every path."""

    path: str
    data: Any
    lines: dict[Loc, int] = field(default_factory=dict)

    def line_of(self, loc: Loc) -> int | None:
        """Line of the deepest prefix of ``loc`` that exists in the file."""
        for end in range(len(loc), -1, -1):
            line = self.lines.get(tuple(loc[:end]))
            if line is not None:
                return line
        return None

    def problem(self, loc: Loc, message: str) -> Problem:
        return Problem(self.path, self.line_of(loc), format_loc(loc), message)

    def validate(self, model: type[M], data: Any = None, base: Loc = ()) -> M:
        """Validate ``data`` (default: the whole file) into ``model``.

        Raises ConfigError with every problem mapped to its line.
        """
        target = self.data if data is None else data
        try:
            return model.model_validate(target)
        except ValidationError as exc:
            raise ConfigError(self.problems_from(exc, target, base)) from None

    def problems_from(self, exc: ValidationError, data: Any, base: Loc = ()) -> list[Problem]:
        problems = []
        for err in exc.errors(include_url=False):
            loc = base + _data_path(data, tuple(err["loc"]))
            msg = str(err["msg"])
            if err["type"] == "extra_forbidden":
                msg = "unknown field (misspelt, or not allowed here)"
            problems.append(self.problem(loc, msg))
        # In the order a reader meets them in the file, not the model's field order.
        problems.sort(key=lambda p: p.line if p.line is not None else 0)
        return problems


def _data_path(data: Any, loc: Loc) -> Loc:
    """Drop pydantic's internal loc parts (union tags, validator names).

    Keeps the parts that exist in the data, plus a final missing key.
    """
    out: list[str | int] = []
    node = data
    for i, part in enumerate(loc):
        if isinstance(node, dict) and part in node:  # noqa: SIM114 (separate for mypy)
            node = node[part]
            out.append(part)
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
            out.append(part)
        elif i == len(loc) - 1 and isinstance(part, str) and not _is_internal(part):
            out.append(part)
    return tuple(out)


def _is_internal(part: str) -> bool:
    return "[" in part or part.startswith(("function-", "tagged-union", "literal"))


class _Composer(yaml.SafeLoader):
    """SafeLoader that never builds Python objects beyond plain scalars."""


def load_yaml(path: str | Path) -> SourceDoc:
    """Parse a YAML file, keeping the line of every value.

    Raises ConfigError for unreadable, oversized or non-UTF-8 files, YAML syntax
    errors, nesting deeper than MAX_DEPTH, aliases that contain themselves or
    expand past MAX_VALUES, and duplicate keys (PyYAML silently keeps the last
    one; an operator never means that).
    """
    name = str(path)
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_BYTES + 1)
    except OSError as exc:
        raise ConfigError([Problem(name, None, "", f"cannot read file: {exc.strerror}")]) from None
    if len(raw) > MAX_BYTES:
        raise ConfigError([Problem(name, None, "", f"larger than {MAX_BYTES // 1024} KiB; "
                                   "a file people edit is never that big")])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise ConfigError([Problem(name, line, "", f"not UTF-8 text: {exc.reason}")]) from None
    return parse_yaml(text, name)


def parse_yaml(text: str, name: str) -> SourceDoc:
    try:
        _check_nesting(text, name)
        loader = _Composer(text)
        try:
            node = loader.get_single_node()
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark is not None else None
        message = f"YAML syntax: {exc.problem}"
        if exc.context and exc.context_mark is not None and exc.context_mark.line + 1 != line:
            # PyYAML notices late; say where the unfinished construct began.
            message += f" ({exc.context} that began at line {exc.context_mark.line + 1})"
        raise ConfigError([Problem(name, line, "", message)]) from None
    except yaml.reader.ReaderError as exc:  # a NUL or another character YAML forbids
        line = text[:exc.position].count("\n") + 1
        char = exc.character if isinstance(exc.character, int) else ord(exc.character)
        raise ConfigError([Problem(name, line, "", f"character U+{char:04X} is not allowed "
                                   "in YAML text")]) from None
    except yaml.YAMLError as exc:
        raise ConfigError([Problem(name, None, "", f"YAML syntax: {exc}")]) from None
    doc = SourceDoc(name, None)
    if node is None:
        doc.data = {}
        return doc
    problems: list[Problem] = []
    budget = _Budget(name)
    try:
        doc.data = _build(node, (), doc, problems, loader, budget)
    except yaml.MarkedYAMLError as exc:  # an unknown tag, a merge of a non-mapping
        mark = exc.problem_mark or exc.context_mark
        raise ConfigError([Problem(name, mark.line + 1 if mark else None, "",
                                   f"YAML: {exc.problem or exc.context}")]) from None
    except (yaml.YAMLError, ValueError, TypeError) as exc:  # e.g. a key 2026-09-31
        raise ConfigError([Problem(name, None, "", f"YAML: {_short(str(exc), 120)}")]) from None
    except RecursionError:  # aliases of aliases, each nested: deep only when followed
        raise ConfigError([Problem(name, None, "", f"nested deeper than {MAX_DEPTH} levels "
                                   "through its aliases")]) from None
    if problems:
        raise ConfigError(problems)
    return doc


def _check_nesting(text: str, name: str) -> None:
    """Refuse nesting deeper than MAX_DEPTH before the recursive composer sees it."""
    depth = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                line = event.start_mark.line + 1 if event.start_mark is not None else None
                raise ConfigError([Problem(name, line, "",
                                           f"nested deeper than {MAX_DEPTH} levels")])
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


class _Budget:
    """What building one file may cost: values made, and the nodes on the current path
    (an alias inside its own anchor would recurse for ever)."""

    __slots__ = ("name", "on_path", "values")

    def __init__(self, name: str):
        self.name = name
        self.values = 0
        self.on_path: set[int] = set()

    def enter(self, node: yaml.Node) -> None:
        self.values += 1
        if self.values > MAX_VALUES:
            raise ConfigError([Problem(self.name, node.start_mark.line + 1, "",
                                       f"expands to more than {MAX_VALUES} values "
                                       "(aliases repeating aliases?)")])
        if id(node) in self.on_path:
            raise ConfigError([Problem(self.name, node.start_mark.line + 1, "",
                                       "an alias refers to the collection that contains it")])


def _build(node: yaml.Node, loc: Loc, doc: SourceDoc, problems: list[Problem],
           loader: _Composer, budget: _Budget) -> Any:
    budget.enter(node)
    doc.lines[loc] = node.start_mark.line + 1
    if isinstance(node, yaml.CollectionNode):
        budget.on_path.add(id(node))
        try:
            return _build_collection(node, loc, doc, problems, loader, budget)
        finally:
            budget.on_path.discard(id(node))
    try:
        return _build_scalar(node, loader)
    except ValueError as exc:  # a value YAML resolves but cannot build, e.g. 2026-09-31
        why = f"{len(node.value)} digits is no number anyone means" \
            if node.tag == "tag:yaml.org,2002:int" else str(exc)
        problems.append(Problem(doc.path, node.start_mark.line + 1, format_loc(loc),
                                f"'{_short(node.value)}' is not a valid value: {why}"))
        return None


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def _build_collection(node: yaml.CollectionNode, loc: Loc, doc: SourceDoc,
                      problems: list[Problem], loader: _Composer, budget: _Budget) -> Any:
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _build_scalar(key_node, loader)
            if isinstance(key, bool) and isinstance(key_node, yaml.ScalarNode):
                # YAML 1.1 reads the keys on/off/yes/no as booleans; keys are names,
                # so keep what was written (`{off: 0, on: 1}` means "off" and "on").
                key = key_node.value
            if not isinstance(key, str | int | float | bool) or key is None:
                problems.append(Problem(doc.path, key_node.start_mark.line + 1, format_loc(loc),
                                        "mapping keys must be plain names or numbers"))
                continue
            key = str(key) if not isinstance(key, str) else key
            if key in out:
                problems.append(Problem(doc.path, key_node.start_mark.line + 1,
                                        format_loc((*loc, key)),
                                        f"duplicate key (first at line {doc.lines[(*loc, key)]})"))
                continue
            doc.lines[(*loc, key)] = key_node.start_mark.line + 1
            out[key] = _build(value_node, (*loc, key), doc, problems, loader, budget)
            doc.lines[(*loc, key)] = key_node.start_mark.line + 1
        return out
    return [_build(item, (*loc, i), doc, problems, loader, budget)
            for i, item in enumerate(node.value)]


def _build_scalar(node: yaml.Node, loader: _Composer) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_object(node, deep=True)
    return None
