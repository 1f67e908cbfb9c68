"""``escogw``: the gateway's command line.

Output that people read is a table; ``--json`` gives scripts the same facts.
Exit codes: 0 ok, 1 the operation failed (device silent, write refused), 2 bad
input (config, arguments).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Sequence

from gateway.cli.parser_text import (
    HelpFormatter,
    add_json,
    command,
    hoist_global,
    lang_from_argv,
    language_choice,
    translate_argparse,
)
from gateway.core.sourcefile import ConfigError
from gateway.i18n import LANGUAGES, _, set_language

Handler = Callable[[argparse.Namespace], int]


def _add_config(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", "-c", required=True, help=_("site file (YAML)"))


def _add_mqtt(p: argparse.ArgumentParser) -> None:
    p.add_argument("--mqtt-host", help=_("MQTT broker host (default: the site's gateway.mqtt)"))
    p.add_argument("--mqtt-port", type=int, help=_("MQTT broker port (default: the site's "
                                                   "gateway.mqtt)"))


def build_parser() -> argparse.ArgumentParser:
    translate_argparse()
    parser = argparse.ArgumentParser(
        prog="escogw", formatter_class=HelpFormatter,
        description=_("escogw: the energy gateway's command line. Tables for people, --json "
                      "for scripts; exit code 0 ok, 1 the operation failed, 2 bad input."))
    parser.add_argument("--lang", choices=LANGUAGES, type=language_choice,
                        help=_("language of the output: en or zh_CN (default: ESCOGW_LANG, "
                               "then LANG)"))
    parser.add_argument("--log-level", default="WARNING", metavar="LEVEL",
                        help=_("DEBUG, INFO, WARNING (default) or ERROR"))
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                title=_("commands"))

    p = command(sub, "run", _("run the gateway: poll, store, publish, take commands"))
    _add_config(p)
    p.add_argument("--outbox", help=_("outbox file (default: gateway.outbox.path)"))
    _add_mqtt(p)
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help=_("override a gateway setting, e.g. mqtt.port=1884 (beats ESCOGW_… "
                          "environment variables, which beat the site file)"))
    p.add_argument("--dry-run", action="store_true",
                   help=_("run the control loop with writes off: it decides and reports only"))
    p.set_defaults(handler=_cmd_run)

    p = command(sub, "override", _("hold a point of a unit through the running gateway (an "
                                   "MQTT command; the rules' clamps still apply)"))
    _add_config(p)
    p.add_argument("device", help=_("device id, as in the site file"))
    p.add_argument("point", help=_("standard point name, e.g. setpoint_c or mode"))
    p.add_argument("value", help=_("a number, or an enum name such as cool / on / high"))
    p.add_argument("--timeout", type=float, default=30.0,
                   help=_("seconds to wait for the result"))
    _add_mqtt(p)
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help=_("override a gateway setting, as for run"))
    p.set_defaults(handler=_cmd_override)

    p = command(sub, "check", _("validate a site file, its profiles and bus budgets"))
    _add_config(p)
    add_json(p)
    p.set_defaults(handler=_cmd_check)

    p = command(sub, "read", _("poll one device once and print its points"))
    _add_config(p)
    p.add_argument("device", help=_("device id, as in the site file"))
    p.add_argument("points", nargs="*", help=_("standard point names (default: all)"))
    add_json(p)
    p.set_defaults(handler=_cmd_read)

    p = command(sub, "write", _("write one declared writable point, then read it back"))
    _add_config(p)
    p.add_argument("device", help=_("device id, as in the site file"))
    p.add_argument("point", help=_("standard point name, e.g. setpoint_c or mode"))
    p.add_argument("value", help=_("a number, or an enum name such as cool / on / high"))
    add_json(p)
    p.set_defaults(handler=_cmd_write)

    p = command(sub, "scan", _("find which unit ids answer on a link"))
    _add_config(p)
    p.add_argument("--link", required=True, help=_("link id, as in the site file"))
    p.add_argument("--units", default="1-247",
                   help=_("ids to try, e.g. 1-10,20 (default 1-247)"))
    p.add_argument("--timeout", type=float, default=None,
                   help=_("seconds per id (default: the link's timeout)"))
    add_json(p)
    p.set_defaults(handler=_cmd_scan)

    p = command(sub, "discover", _("find what answers on a link (Modbus units, DL/T 645 and "
                                   "CJ/T 188 meters) and print draft site entries"))
    _add_config(p)
    p.add_argument("--link", required=True, help=_("link id, as in the site file"))
    p.add_argument("--units", default="1-247",
                   help=_("Modbus ids to try, e.g. 1-10,20 (default 1-247)"))
    p.add_argument("--timeout", type=float, default=None,
                   help=_("seconds per question (default: the link's timeout)"))
    add_json(p)
    p.set_defaults(handler=_cmd_discover)

    p = command(sub, "historian", _("write the site topics from MQTT into InfluxDB"))
    p.add_argument("--config", "-c", required=True, help=_("historian config (YAML)"))
    p.set_defaults(handler=_cmd_historian)

    from gateway.cli.rules import add_rules_commands

    add_rules_commands(command(sub, "rules", _("check, explain and plan the AC rules")))

    from gateway.cli.energy import add_report_command, add_whatif_command

    add_report_command(sub)  # escogw report (docs/energy.md)
    add_whatif_command(sub)  # escogw whatif

    from gateway.cli.fleet import add_fleet_commands

    add_fleet_commands(sub)  # escogw fleet push|status|diff (docs/fleet.md)

    from gateway.cli.institution_stats import add_stats_command

    add_stats_command(sub)  # escogw stats (docs/fleet.md)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # the language first, so that the help texts themselves are in it
    lang, argv = lang_from_argv(argv)
    if lang is not None:  # else the environment's (or what the caller chose in-process)
        set_language(lang)
    argv = hoist_global(argv)
    args = build_parser().parse_args(argv)
    import logging

    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")
    handler: Handler = args.handler
    try:
        return handler(args)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `escogw read … | head`
        sys.stderr.close()
        return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from gateway.cli.site_args import load_settings
    from gateway.daemon import run

    site, settings = load_settings(args)
    return asyncio.run(run(site, settings, dry_run=args.dry_run))


def _cmd_override(args: argparse.Namespace) -> int:
    from gateway.cli.override import send_override
    from gateway.cli.site_args import load_settings

    site, settings = load_settings(args)
    return send_override(site, settings, args.device, args.point, args.value, args.timeout)


def _cmd_check(args: argparse.Namespace) -> int:
    from gateway.cli.check import check

    return check(args)


def _cmd_read(args: argparse.Namespace) -> int:
    from gateway.cli.device import read_device

    return asyncio.run(read_device(args.config, args.device, args.points, args.json))


def _cmd_write(args: argparse.Namespace) -> int:
    from gateway.cli.device import write_point

    return asyncio.run(write_point(args.config, args.device, args.point, args.value, args.json))


def _cmd_scan(args: argparse.Namespace) -> int:
    from gateway.cli.device import parse_units, scan_link

    try:
        units = parse_units(args.units)
    except ValueError as exc:
        print(f"--units: {exc}", file=sys.stderr)
        return 2
    return asyncio.run(scan_link(args.config, args.link, units, args.timeout, args.json))


def _cmd_discover(args: argparse.Namespace) -> int:
    from gateway.cli.device import parse_units
    from gateway.cli.discover import discover

    try:
        units = parse_units(args.units)
    except ValueError as exc:
        print(f"--units: {exc}", file=sys.stderr)
        return 2
    return asyncio.run(discover(args.config, args.link, units, args.timeout, args.json))


def _cmd_historian(args: argparse.Namespace) -> int:
    from gateway.historian.run import main as run_historian

    return run_historian(args.config)


if __name__ == "__main__":
    sys.exit(main())
