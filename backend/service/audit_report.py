"""The auditors' report: every request in a window and how it ended, from the audit table alone.

Each audit event carries the lifecycle event published with it (the request as it was after that
transition), so the append-only ``jit_audit`` table is enough: no read of ``jit_requests``, which
changes. Building the rows is pure; reading the table is ``backend.adapters.dynamodb_audit``; formats
are csv, json and html (with the timeline picture of ``jitwire.report``).
"""

from __future__ import annotations

import csv
import html
import io
import json
from collections import defaultdict
from datetime import datetime
from typing import TYPE_CHECKING, Final

from jitwire.report import COLUMNS, GrantRow, summary
from jitwire.timefmt import iso_z

if TYPE_CHECKING:
    from collections.abc import Iterable

    from backend.domain.ports import AuditRecord

OUTCOMES: Final = {
    "access.break_glass": "break-glass",
    "request.error": "error",
    "request.denied": "denied",
    "request.cancelled": "cancelled",
    "request.expired": "approval expired",
}


def _first(records: list[AuditRecord], kind: str) -> AuditRecord | None:
    return next((r for r in records if r.type == kind), None)


def _outcome(records: list[AuditRecord]) -> str:
    kinds = {r.type for r in records}
    for kind, outcome in OUTCOMES.items():
        if kind in kinds:
            return outcome
    if "request.revoked" in kinds:
        return "early revoke" if "request.revoke_requested" in kinds else "expired"
    if "request.granted" in kinds:
        return "active"
    return "pending"


def build_row(records: list[AuditRecord]) -> GrantRow | None:
    """One request's row from its audit events (in time order); None without any snapshot."""
    records = sorted(records, key=lambda r: r.at)
    snapshots = [r.event.request for r in records if r.event is not None and r.event.request is not None]
    if not snapshots:
        return None
    last = snapshots[-1]
    created, approved, granted = (
        _first(records, k) for k in ("request.created", "request.approved", "request.granted")
    )
    ended = next((r for r in records if r.type in ("request.revoked", "access.break_glass")), None)
    approvers = ", ".join(a.approver.username for a in last.approvals) or (
        "auto-approved" if approved and not approved.actor else ""
    )
    return GrantRow(
        request_id=last.request_id,
        requester=last.requester.username,
        account=last.account_name,
        account_id=last.account_id,
        permission_set=last.permission_set,
        reason=last.reason,
        approvers=approvers,
        requested_at=created.at if created else last.created_at,
        approved_at=approved.at if approved else None,
        granted_at=granted.at if granted else None,
        revoked_at=ended.at if ended else None,
        outcome=_outcome(records),
        sessions_ended_at=last.sessions_ended_at,
    )


def build_report(
    records: Iterable[AuditRecord], start: datetime, end: datetime, account: str | None = None
) -> list[GrantRow]:
    """Every request whose life (requested → revoked, or still open) overlaps [start, end)."""
    by_request: dict[str, list[AuditRecord]] = defaultdict(list)
    for record in records:
        by_request[record.request_id].append(record)
    rows = []
    for request_records in by_request.values():
        row = build_row(request_records)
        if row is None or (account and account not in (row.account, row.account_id)):
            continue
        began = row.requested_at or min(r.at for r in request_records)
        finished = max(r.at for r in request_records) if row.outcome not in ("active", "pending") else None
        if began < end and (finished is None or finished >= start):
            rows.append(row)
    return sorted(rows, key=lambda r: (r.requested_at or start, r.request_id))


# -- formats ---------------------------------------------------------------------------------------


def to_csv(rows: list[GrantRow]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(row.as_strings())
    return out.getvalue()


def to_json(rows: list[GrantRow], start: datetime, end: datetime) -> str:
    return json.dumps({"from": iso_z(start), "to": iso_z(end), "grants": [row.as_strings() for row in rows]}, indent=2)


def to_html(rows: list[GrantRow], start: datetime, end: datetime, timeline_png_b64: str | None) -> str:
    esc = html.escape
    head = "".join(f"<th>{esc(c.replace('_', ' '))}</th>" for c in COLUMNS)
    body = "".join("<tr>" + "".join(f"<td>{esc(v)}</td>" for v in row.as_strings().values()) + "</tr>" for row in rows)
    counts = ", ".join(f"{esc(k)}: {v}" for k, v in summary(rows).items()) or "none"
    picture = (
        f'<img alt="Timeline of grants per user" src="data:image/png;base64,{timeline_png_b64}">'
        if timeline_png_b64
        else "<p>No grant was active in this window.</p>"
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>JIT access report</title>"
        "<style>body{font-family:sans-serif}table{border-collapse:collapse;font-size:13px}"
        "td,th{border:1px solid #ccc;padding:3px 6px;text-align:left}img{max-width:100%}</style></head><body>"
        f"<h1>JIT access report {esc(iso_z(start))} to {esc(iso_z(end))}</h1>"
        f"<p>{len(rows)} request(s). {counts}. Source: the append-only audit table.</p>{picture}"
        f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></body></html>\n"
    )
