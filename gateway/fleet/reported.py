"""Pure: what a gateway reports on ``{p}/{site}/fleet/reported`` (retained).

``state`` is one of

- ``applied``     the desired bundle runs and passed the health watch
- ``watching``    applied; the health watch (``rollback_window_s``) is under way
- ``refused``     not applied: ``reasons`` are ``file:line: field: message`` (or the
                  payload's field); the previous set keeps running
- ``rolled-back`` applied, then the site's health failed: the previous set runs again
- ``running``     no desired state received yet; the site runs what it was installed with
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

STATES = ("applied", "watching", "refused", "rolled-back", "running")


@dataclass(frozen=True)
class Report:
    site: str
    ts: str
    state: str
    #: the bundle version running now (None: the rule file the site was installed with)
    version: str | None
    digest: str | None
    #: the desired bundle this report answers
    desired_version: str | None = None
    desired_digest: str | None = None
    pushed_by: str | None = None
    reasons: list[str] = field(default_factory=list)
    #: the rule file running now, so an operator can diff before pushing
    rules_name: str | None = None
    rules_text: str | None = None

    def payload(self) -> bytes:
        return json.dumps({"v": 1, **asdict(self)}, ensure_ascii=False,
                          separators=(",", ":")).encode()
