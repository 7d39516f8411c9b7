"""The audit report's rows as the API returns them (GET /audit/report), their summary, and the
timeline picture drawn from them. Shared by ``jit-admin audit report`` and the bot's ``/jit report``;
pure apart from matplotlib (Agg backend, imported only when a picture is drawn; the figure is built
and closed here, nothing global is configured).
"""

from __future__ import annotations

import io
from collections import defaultdict
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, cast

from jitwire.timefmt import iso_z, parse_iso_z

if TYPE_CHECKING:
    from collections.abc import Callable


@dataclass(frozen=True)
class GrantRow:
    request_id: str
    requester: str
    account: str
    account_id: str
    permission_set: str
    reason: str
    approvers: str  # comma-separated usernames
    requested_at: datetime | None
    approved_at: datetime | None
    granted_at: datetime | None
    revoked_at: datetime | None
    outcome: str  # expired, early revoke, break-glass, error, denied, cancelled, approval expired, active, pending
    sessions_ended_at: datetime | None

    @classmethod
    def from_strings(cls, values: dict[str, str]) -> GrantRow:
        """Inverse of :meth:`as_strings` (the API's JSON back into rows, for the bot's picture)."""
        times = {"requested_at", "approved_at", "granted_at", "revoked_at", "sessions_ended_at"}
        parsed: dict[str, Any] = {
            k: (parse_iso_z(v) if v else None) if k in times else v for k, v in values.items() if k in COLUMNS
        }
        return cls(**parsed)

    def as_strings(self) -> dict[str, str]:
        return {
            k: (iso_z(v) if isinstance(v, datetime) else str(v)) if v is not None else ""
            for k, v in asdict(self).items()
        }


COLUMNS: Final = tuple(GrantRow.__dataclass_fields__)


def summary(rows: list[GrantRow]) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for row in rows:
        counts[row.outcome] += 1
    return dict(sorted(counts.items()))


_PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f")
_ENDED_EARLY = {"early revoke", "break-glass", "error"}


def timeline_png(rows: list[GrantRow], start: datetime, end: datetime) -> bytes | None:
    """PNG bytes, or None when no request in ``rows`` was ever granted."""
    from matplotlib import dates

    # matplotlib.dates is untyped: give its three helpers the types we use them with.
    date2num = cast("Callable[[datetime], float]", dates.date2num)
    locator = cast("Any", dates.AutoDateLocator)()
    formatter = cast("Any", dates.ConciseDateFormatter)(locator)
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    grants = [r for r in rows if r.granted_at is not None]
    if not grants:
        return None
    users = sorted({r.requester for r in grants})
    sets = sorted({r.permission_set for r in grants})
    colour = {name: _PALETTE[i % len(_PALETTE)] for i, name in enumerate(sets)}
    figure = Figure(figsize=(11, 1.2 + 0.55 * len(users)), dpi=110)
    axes = figure.subplots()
    for row in grants:
        assert row.granted_at is not None
        began = max(row.granted_at, start)
        finished = min(row.revoked_at or end, end)
        left = float(date2num(began))
        width = max(float(date2num(finished)) - left, 1 / (24 * 60))  # at least a minute, to stay visible
        axes.barh(
            users.index(row.requester),
            width,
            left=left,
            height=0.6,
            color=colour[row.permission_set],
            edgecolor="black" if row.outcome in _ENDED_EARLY else colour[row.permission_set],
            hatch="//" if row.outcome == "break-glass" else None,
            linewidth=1.2,
        )
    axes.set_yticks(range(len(users)), labels=users)
    axes.invert_yaxis()
    axes.set_xlim(float(date2num(start)), float(date2num(end)))
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(formatter)
    axes.grid(axis="x", alpha=0.3)
    axes.set_title(f"JIT grants {start:%Y-%m-%d} to {end:%Y-%m-%d} (UTC); hatched: break-glass, outlined: ended early")
    handles = [Patch(facecolor=colour[name], label=name) for name in sets]
    axes.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), title="permission set")
    figure.tight_layout()
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()
