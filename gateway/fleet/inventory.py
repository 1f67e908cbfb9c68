"""The platform's fleet file: the central broker, the sites, their groups (docs/fleet.md).

    broker: {host: mqtt.example.cn, port: 8883, username: platform,
             password: "…", tls: {ca_file: ca.crt}}
    operator: alice              # who pushes: the audit trail names it
    audit: fleet-audit.jsonl     # relative to this file
    sites:
      demo-office: {name: 武汉某办公楼}
      school-3: {}
    groups:
      wuhan-offices: [demo-office, school-3]    # a push goes to the first, then the rest

Loaded like every file people edit: a mistake is ``file:line: field: message``.
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from gateway.core.settings import MqttSettings
from gateway.core.sourcefile import ConfigError, load_yaml

SITE_ID = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SiteEntry(_Strict):
    name: str | None = None


class FleetFile(_Strict):
    broker: MqttSettings
    operator: str | None = None
    audit: Path = Path("fleet-audit.jsonl")
    sites: dict[str, SiteEntry] = Field(min_length=1)
    groups: dict[str, list[str]] = {}

    @field_validator("sites")
    @classmethod
    def _site_ids(cls, sites: dict[str, SiteEntry]) -> dict[str, SiteEntry]:
        for site in sites:
            if not re.match(SITE_ID, site):
                raise ValueError(f"{site!r} is not a site id (letters, digits, _ -)")
        return sites


class Fleet:
    def __init__(self, path: Path, spec: FleetFile):
        self.path = path
        self.spec = spec

    @property
    def audit_path(self) -> Path:
        return self.spec.audit if self.spec.audit.is_absolute() \
            else self.path.parent / self.spec.audit

    def targets(self, site: str | None, group: str | None) -> list[str]:
        """The sites a push goes to, in rollout order; raises ValueError."""
        if site is not None:
            if site not in self.spec.sites:
                raise ValueError(f"site {site!r} is not in {self.path}")
            return [site]
        if group is not None:
            if group not in self.spec.groups:
                raise ValueError(f"group {group!r} is not in {self.path}")
            return list(self.spec.groups[group])
        return list(self.spec.sites)


def load_fleet(path: str | Path) -> Fleet:
    """Raises ConfigError (file:line: field: message)."""
    doc = load_yaml(path)
    if not isinstance(doc.data, dict):
        raise ConfigError([doc.problem((), "a fleet file is a mapping (broker:, sites:, …)")])
    spec = doc.validate(FleetFile)
    problems = [doc.problem(("groups", group, n), f"{member!r} is not under sites:")
                for group, members in spec.groups.items()
                for n, member in enumerate(members) if member not in spec.sites]
    problems += [doc.problem(("groups", group), "a group names at least one site")
                 for group, members in spec.groups.items() if not members]
    if problems:
        raise ConfigError(problems)
    tls = spec.broker.tls
    if tls is not None and tls.ca_file is not None and not tls.ca_file.is_absolute():
        spec = spec.model_copy(update={"broker": spec.broker.model_copy(update={
            "tls": tls.model_copy(update={"ca_file": Path(path).parent / tls.ca_file})})})
    return Fleet(Path(path), spec)
