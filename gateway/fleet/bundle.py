"""Pure: a desired-state bundle, as pushed to ``{p}/{site}/fleet/desired`` (retained).

    {"v": 1, "version": "2026-12-06.1", "pushed_by": "alice", "pushed_at": ISO-8601,
     "files": {"rules": {"name": "office.yaml", "text": "…"},
               "tariff": {"name": "hubei-general-ic.yaml", "text": "…"}},
     "digest": "sha256:…"}

A bundle carries a rule file, a tariff, the site file, or several; what it carries is
applied together or not at all. A site file is read only at start-up: the gateway
restarts to apply it and watches the health after the restart.

The digest covers the files only (kind, name, text), so the same content pushed
twice under two versions is recognised, and a payload altered on the way is
refused. Any bytes on the topic become a ``BundleError`` naming the field, in
bounded time and memory: the payload is capped before it is parsed.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

#: a rule file is under 10 kB; a bundle with a few files fits well below this
MAX_BYTES = 1 << 20
#: what a bundle may carry: the rule file, the site's tariff, the site file
KINDS = ("rules", "tariff", "site")
VERSION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:+-]{0,63}$")
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


class BundleError(ValueError):
    """The payload is not a bundle; ``field`` names what is wrong."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field or '(payload)'}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class BundleFile:
    name: str
    text: str


@dataclass(frozen=True)
class Bundle:
    version: str
    pushed_by: str
    pushed_at: str
    files: dict[str, BundleFile]
    digest: str

    def payload(self) -> bytes:
        return json.dumps({"v": 1, "version": self.version, "pushed_by": self.pushed_by,
                           "pushed_at": self.pushed_at, "digest": self.digest,
                           "files": {k: {"name": f.name, "text": f.text}
                                     for k, f in sorted(self.files.items())}},
                          ensure_ascii=False, separators=(",", ":")).encode()


def digest_of(files: dict[str, BundleFile]) -> str:
    h = hashlib.sha256()
    for kind in sorted(files):
        f = files[kind]
        for part in (kind, f.name, f.text):
            data = part.encode()
            h.update(len(data).to_bytes(8, "big") + data)
    return "sha256:" + h.hexdigest()


def make_bundle(version: str, pushed_by: str, pushed_at: datetime,
                files: dict[str, BundleFile]) -> Bundle:
    """A bundle to push; raises BundleError on a bad version, kind or name."""
    bundle = Bundle(version, pushed_by, pushed_at.isoformat(), files, digest_of(files))
    return parse_bundle(bundle.payload())


def parse_bundle(payload: bytes) -> Bundle:
    """The bundle in ``payload``, checked whole; raises BundleError."""
    if len(payload) > MAX_BYTES:
        raise BundleError("", f"{len(payload)} bytes, more than the {MAX_BYTES} a bundle may have")
    try:
        data = json.loads(payload)
    except (ValueError, RecursionError) as exc:
        raise BundleError("", f"not JSON ({str(exc)[:80]})") from None
    if not isinstance(data, dict):
        raise BundleError("", "a bundle is a JSON object")
    if data.get("v") != 1:
        raise BundleError("v", f"bundle format {data.get('v')!r} unknown; this gateway reads 1")
    version = _text(data, "version")
    if not VERSION_RE.match(version):
        raise BundleError("version", "1–64 letters, digits and . _ : + - (e.g. 2026-12-06.1)")
    pushed_by, pushed_at = _text(data, "pushed_by"), _text(data, "pushed_at")
    raw_files = data.get("files")
    if not isinstance(raw_files, dict) or not raw_files:
        raise BundleError("files", "a mapping of kind → {name, text}, at least one file")
    files: dict[str, BundleFile] = {}
    for kind, entry in raw_files.items():
        where = f"files.{kind}"
        if kind not in KINDS:
            raise BundleError(where, f"unknown kind; a bundle carries {', '.join(KINDS)}")
        if not isinstance(entry, dict):
            raise BundleError(where, "an object {name, text}")
        name, text = _text(entry, "name", where), _text(entry, "text", where)
        if not NAME_RE.match(name):
            raise BundleError(f"{where}.name", "a plain file name (letters, digits, . _ -)")
        files[kind] = BundleFile(name, text)
    digest = _text(data, "digest")
    if digest != digest_of(files):
        raise BundleError("digest", "does not match the files: altered or cut short on the way")
    return Bundle(version, pushed_by[:200], pushed_at[:64], files, digest)


def _text(data: dict[str, Any], key: str, where: str = "") -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise BundleError(f"{where}.{key}" if where else key, "a non-empty string is required")
    return value
