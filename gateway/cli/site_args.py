"""The site and its layered gateway settings, as the verbs that need them load them."""

from __future__ import annotations

import argparse
from typing import Any

from gateway.core.sourcefile import ConfigError, Problem
from gateway.i18n import _


def load_settings(args: argparse.Namespace) -> tuple[Any, Any]:
    """The site and its gateway settings: file < ESCOGW_… environment < flags."""
    from gateway.core.settings import env_overrides, flag_overrides, layered
    from gateway.core.site import load_site

    site = load_site(args.config)
    assignments = list(args.set or [])
    for flag, key in (("mqtt_host", "mqtt.host"), ("mqtt_port", "mqtt.port"),
                      ("outbox", "outbox.path")):
        if getattr(args, flag, None) is not None:
            assignments.append(f"{key}={getattr(args, flag)}")
    try:
        flags = flag_overrides(assignments)
    except ValueError as exc:
        raise ConfigError([Problem(_("command line"), None, "--set", str(exc))]) from None
    file_section = site.doc.data.get("gateway") or {}
    return site, layered(file_section, env_overrides(), flags)
