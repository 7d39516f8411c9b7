"""``jit-admin audit report``: the auditors' report from the append-only audit table."""

from __future__ import annotations

import argparse
import base64
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from backend.adapters.dynamodb_audit import read_audit
from backend.admin.context import ConfigurationError
from backend.service.audit_report import build_report, to_csv, to_html, to_json
from jitwire.report import summary, timeline_png

if TYPE_CHECKING:
    from backend.admin.context import AdminContext


def _day(text: str) -> datetime:
    """``2026-11-01`` (midnight UTC) or ``2026-11-01T12:00:00Z``."""
    for layout in ("%Y-%m-%d", "%Y-%m-%dT%H:%M:%SZ"):
        try:
            return datetime.strptime(text, layout).replace(tzinfo=UTC)
        except ValueError:
            continue
    raise argparse.ArgumentTypeError(f"{text!r}: use a date like 2026-11-01 or 2026-11-01T12:00:00Z (UTC)")


def add_parser(groups: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    audit = groups.add_parser("audit", help="reports for auditors, from the append-only audit table")
    commands = audit.add_subparsers(dest="command", required=True)
    report = commands.add_parser("report", help="every request in a window, who approved it and how it ended")
    report.add_argument("--from", dest="start", type=_day, required=True, help="start (UTC), e.g. 2026-11-01")
    report.add_argument("--to", dest="end", type=_day, required=True, help="end (UTC, exclusive), e.g. 2026-12-01")
    report.add_argument("--account", help="only this account (name or id)")
    report.add_argument("--format", choices=("csv", "json", "html"), default="csv")
    report.add_argument("--output", type=Path, help="write to this file (default: standard output)")
    report.set_defaults(handler=cmd_audit_report)


def cmd_audit_report(args: argparse.Namespace, ctx: AdminContext) -> int:
    if args.end <= args.start:
        raise ConfigurationError("--to must be after --from")
    rows = build_report(read_audit(ctx.clients.dynamodb, args.end), args.start, args.end, args.account)
    if args.format == "csv":
        text = to_csv(rows)
    elif args.format == "json":
        text = to_json(rows, args.start, args.end)
    else:
        png = timeline_png(rows, args.start, args.end)
        text = to_html(rows, args.start, args.end, base64.b64encode(png).decode() if png else None)
    if args.output:
        args.output.write_text(text, encoding="utf-8")
        counts = ", ".join(f"{k}: {v}" for k, v in summary(rows).items()) or "none"
        ctx.console.print(f"{len(rows)} request(s) ({counts}) written to {args.output}", markup=False)
    else:
        ctx.console.print(text, markup=False, highlight=False, soft_wrap=True, end="")
    return 0
