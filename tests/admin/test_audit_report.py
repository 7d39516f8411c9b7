"""``jit-admin audit report`` on the local stack: every request in the window from the audit table
alone, how each ended, and the html timeline picture."""

from __future__ import annotations

import base64
import csv
import io
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from backend.adapters import tables
from backend.adapters.dynamodb_audit import read_audit
from backend.service.audit_report import build_report
from jitwire.contract import CreateRequestBody
from jitwire.models import RequestStatus as S
from jitwire.report import timeline_png
from tests.admin.conftest import granted
from tests.scenarios.helpers import BOB, DAVE

DOCS_EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "audit-timeline-example.png"


def _history(stack, admin):
    """Four requests: one runs its course, one revoked early, one break-glassed, one denied."""
    expired = granted(stack, account="staging")  # auto-approved, 2h
    early = granted(stack, account="prod", permission_set="ReadOnlyAccess")
    stack.client().revoke(BOB, early.request_id, note="done early")
    stack.wait_for(early.request_id, S.REVOKED)
    glass = granted(stack, account="prod", permission_set="AdministratorAccess")
    result = admin(
        "break-glass", "revoke", "--request-id", glass.request_id, "--reason", "INC-9", answers=[glass.request_id]
    )
    assert result.code == 0, result.output
    denied = stack.client().create_request(
        CreateRequestBody(actor=DAVE, account="prod", permission_set="PowerUserAccess", duration="1h", reason="look")
    )
    stack.client().decide(BOB, denied.request_id, "deny", note="not now")
    stack.advance(timedelta(hours=2, seconds=1))
    stack.wait_for(expired.request_id, S.REVOKED)
    return expired, early, glass, denied


def test_report_csv_and_json_from_the_audit_table_alone(stack, admin):
    expired, early, glass, denied = _history(stack, admin)
    stack.clients.dynamodb.delete_table(TableName=tables.REQUESTS)  # the report must not need it
    day = stack.clock().strftime("%Y-%m-%d")
    tomorrow = (stack.clock() + timedelta(days=1)).strftime("%Y-%m-%d")
    result = admin("audit", "report", "--from", day, "--to", tomorrow, "--format", "csv")
    assert result.code == 0, result.output
    rows = {r["request_id"]: r for r in csv.DictReader(io.StringIO(result.output))}
    assert rows[expired.request_id]["outcome"] == "expired"
    assert rows[early.request_id]["outcome"] == "early revoke"
    assert rows[early.request_id]["approvers"] == "bob"
    assert rows[glass.request_id]["outcome"] == "break-glass"
    assert rows[glass.request_id]["sessions_ended_at"]  # break-glass ends sessions
    assert rows[denied.request_id]["outcome"] == "denied"
    assert rows[expired.request_id]["approvers"] == "auto-approved"
    assert rows[expired.request_id]["reason"] == "INC-7" and rows[expired.request_id]["requester"] == "alice"
    assert all(rows[expired.request_id][k] for k in ("requested_at", "approved_at", "granted_at", "revoked_at"))
    prod = admin("audit", "report", "--from", day, "--to", tomorrow, "--format", "json", "--account", "prod")
    grants = json.loads(prod.output)["grants"]
    assert {g["request_id"] for g in grants} == {early.request_id, glass.request_id, denied.request_id}
    before = admin("audit", "report", "--from", "2020-01-01", "--to", "2020-02-01", "--format", "json")
    assert json.loads(before.output)["grants"] == []


def test_html_report_embeds_a_readable_timeline_picture(stack, admin, tmp_path):
    _history(stack, admin)
    out = tmp_path / "report.html"
    day = stack.clock().strftime("%Y-%m-%d")
    tomorrow = (stack.clock() + timedelta(days=1)).strftime("%Y-%m-%d")
    result = admin("audit", "report", "--from", day, "--to", tomorrow, "--format", "html", "--output", str(out))
    assert result.code == 0, result.output
    text = out.read_text(encoding="utf-8")
    [b64] = re.findall(r'src="data:image/png;base64,([^"]+)"', text)
    png = base64.b64decode(b64)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert width >= 800 and height >= 150
    assert len(png) > 10_000  # bars, labels and legend, not a blank canvas
    assert "break-glass" in text and "early revoke" in text


def test_timeline_picture_of_a_busy_week(tmp_path):
    """The committed example under docs/ is this picture; also checks it is not blank."""
    from jitwire.report import GrantRow

    start = datetime(2026, 11, 23, tzinfo=UTC)
    sets = ("AdministratorAccess", "PowerUserAccess", "ReadOnlyAccess")
    outcomes = ("expired", "early revoke", "expired", "break-glass", "expired", "error")
    rows = []
    for i, user in enumerate(("alice", "dave", "erin", "frank", "grace")):
        for j in range(4):
            begin = start + timedelta(days=j + i % 2, hours=3 * i + 2 * j)
            rows.append(
                GrantRow(
                    request_id=f"r{i}{j}",
                    requester=user,
                    account="prod",
                    account_id="111111111111",
                    permission_set=sets[(i + j) % 3],
                    reason="INC",
                    approvers="bob",
                    requested_at=begin - timedelta(minutes=10),
                    approved_at=begin - timedelta(minutes=2),
                    granted_at=begin,
                    revoked_at=begin + timedelta(hours=1 + (i + j) % 4),
                    outcome=outcomes[(i + j) % len(outcomes)],
                    sessions_ended_at=None,
                )
            )
    png = timeline_png(rows, start, start + timedelta(days=7))
    assert png is not None and png.startswith(b"\x89PNG") and len(png) > 20_000
    (tmp_path / "timeline.png").write_bytes(png)
    assert DOCS_EXAMPLE.exists() and DOCS_EXAMPLE.stat().st_size > 20_000
    assert timeline_png([], start, start + timedelta(days=7)) is None


def test_report_reads_only_what_the_audit_table_holds(stack, admin):
    expired, *_ = _history(stack, admin)
    records = read_audit(stack.clients.dynamodb, stack.clock() + timedelta(days=1))
    assert {r.request_id for r in records} >= {expired.request_id}
    assert all(r.event is not None for r in records)
    report = build_report(records, stack.clock() - timedelta(days=1), stack.clock() + timedelta(days=1))
    assert len(report) == 4
