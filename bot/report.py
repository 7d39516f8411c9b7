"""``/jit report [7d]``: the audit summary and the timeline picture, to the caller by direct message.

The backend decides who may see it (admins) and builds the rows from the append-only audit table;
the bot draws the picture, uploads it (``POST /api/v4/files``) to the DM channel and posts it there
with ``file_ids``.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from jitwire.chattext import bound_post, neutralise
from jitwire.report import GrantRow, summary, timeline_png
from jitwire.timefmt import parse_iso_z

if TYPE_CHECKING:
    from bot.core import Core, Reply
    from jitwire.models import Person

MAX_LINES = 20


def report_text(rows: list[GrantRow], start: str, end: str) -> str:
    counts = ", ".join(f"{k} {v}" for k, v in summary(rows).items()) or "nothing"
    lines = [f"**JIT access report** {start} to {end} (UTC): {len(rows)} request(s): {counts}."]
    for row in rows[:MAX_LINES]:
        lines.append(
            f"- `{row.request_id}` {neutralise(row.requester, 64, single_line=True)}: "
            f"{neutralise(row.permission_set, 64, single_line=True)} on {neutralise(row.account, 64, single_line=True)}"
            f", {row.outcome}"
            + (f", approved by {neutralise(row.approvers, 200, single_line=True)}" if row.approvers else "")
        )
    if len(rows) > MAX_LINES:
        lines.append(f"… and {len(rows) - MAX_LINES} more: `jit-admin audit report` has them all.")
    return bound_post("\n".join(lines))


async def send_report(core: Core, actor: Person, window: str, reply: Reply) -> None:
    data = await core.backend.run(lambda c: c.audit_report(actor, window))
    rows = [GrantRow.from_strings(g) for g in data["grants"]]
    start, end = parse_iso_z(data["from"]), parse_iso_z(data["to"])
    text = report_text(rows, data["from"], data["to"])
    png = await asyncio.to_thread(timeline_png, rows, start, end)
    channel_id = await core.mm.direct_channel(actor.user_id)
    if png is None:
        await core.mm.create_post(channel_id, text)
    else:
        file_id = await core.mm.upload_file(channel_id, f"jit-report-{end:%Y%m%d}.png", png, "image/png")
        await core.mm.create_post_with_files(channel_id, text, [file_id])
    await reply("I sent you the report by direct message.")
