"""Tables for the terminal (rich). Nothing here reads secrets: key tables show ids and dates only."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.markup import escape
from rich.table import Table

from backend.domain.assignment import AssignmentTarget
from jitwire.timefmt import iso_z

if TYPE_CHECKING:
    from datetime import datetime

    from backend.admin.journal import Journal
    from backend.admin.listings import Finding
    from backend.auth.keyset import KeySet
    from backend.domain.models import IdentityBinding
    from backend.service.reconciler import ReconcileReport


def _row(table: Table, *cells: str) -> None:
    """Cells hold operator and user text: never interpret it as rich markup."""
    table.add_row(*(escape(cell) for cell in cells))


def _ts(moment: datetime | None) -> str:
    return iso_z(moment) if moment is not None else "-"


def _value(value: object) -> str:
    if isinstance(value, AssignmentTarget):
        return value.ledger_key
    if isinstance(value, frozenset):
        return "{" + ", ".join(sorted(str(v) for v in value)) + "}"
    return str(value)


def requests_table(title: str, findings: list[Finding]) -> Table:
    table = Table(title=title)
    for column in ("request id", "requester", "account", "permission set", "status", "end time", "note"):
        table.add_column(column, overflow="fold")
    for finding in findings:
        r = finding.request
        _row(
            table,
            r.request_id,
            r.requester.username,
            f"{r.account_name} ({r.account_id})",
            r.permission_set_name,
            r.status.value,
            _ts(r.end_time),
            finding.why,
        )
    return table


def identities_table(bindings: list[IdentityBinding]) -> Table:
    table = Table(title="Identity bindings (Mattermost → Identity Center)")
    for column in ("mattermost user", "mattermost user id", "identity center user id", "e-mail", "bound at", "how"):
        table.add_column(column, overflow="fold")
    for b in bindings:
        when = _ts(b.bound_at)
        _row(table, b.mattermost_username, b.mattermost_user_id, b.principal_id, b.email, when, b.verified_by)
    return table


def keys_table(keyset: KeySet, now: datetime) -> Table:
    table = Table(title="HMAC key set")
    for column in ("key id", "status", "not after", "usable now", "audience"):
        table.add_column(column)
    for entry in keyset.keys:
        _row(
            table,
            entry.id,
            entry.status.value,
            _ts(entry.not_after),
            "yes" if entry.usable_at(now) else "no",
            entry.audience or "-",
        )
    return table


def plan_table(journal: Journal) -> Table:
    table = Table(title=f"Break-glass {journal.scope}")
    for column in ("step", "what", "state", "error"):
        table.add_column(column, overflow="fold")
    for target in journal.targets:
        what = f"{target.target.ledger_key}" + (" (not in ledger)" if target.source == "sweep" else "")
        _row(table, "delete assignment", what, target.state.value, target.error or "")
    for session in journal.sessions:
        _row(table, "end live sessions", session.target.ledger_key, session.state.value, session.error or "")
    for record in journal.records:
        seen = record.status_seen.value if record.status_seen else "unknown request"
        _row(table, "record revoke", f"{record.request_id} (was {seen})", record.state.value, record.error or "")
    for notice in journal.notices:
        _row(table, "notify", notice.target.ledger_key, notice.state.value, notice.error or "")
    return table


def reconcile_table(report: ReconcileReport, *, dry_run: bool) -> Table:
    table = Table(title="Reconcile (dry run: nothing changed)" if dry_run else "Reconcile")
    table.add_column("action")
    table.add_column("detail", overflow="fold")
    for action in report.planned:
        fields = ", ".join(f"{k}={_value(v)}" for k, v in vars(action).items())
        _row(table, type(action).__name__, fields)
    for name, count in sorted(report.failed.items()):
        _row(table, f"FAILED {name}", str(count))
    return table
