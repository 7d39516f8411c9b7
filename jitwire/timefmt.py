"""Timestamps and durations as the system writes them, and elapsed time as posts show it.

Timestamps are ISO 8601 UTC with a ``Z`` suffix and second precision, so string order is time
order in the ``gsi_status_endtime`` index (and moto's ASL Wait accepts only ``Z``).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

_DURATION = re.compile(r"^(?:(?P<d>\d{1,3})d)?(?:(?P<h>\d{1,3})h)?(?:(?P<m>\d{1,4})m)?$")


def iso_z(moment: datetime) -> str:
    """``2026-11-27T14:00:00Z``; naive datetimes are refused rather than guessed."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime")
    return moment.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso_z(text: str) -> datetime:
    if not text.endswith("Z"):
        raise ValueError(f"timestamp {text!r} must end in Z")
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def parse_duration(text: str) -> timedelta:
    """``2h``, ``30m``, ``1h30m``, ``1d`` → timedelta. Raises ValueError with a usable message."""
    cleaned = text.strip().lower()
    match = _DURATION.match(cleaned)
    if not cleaned or match is None or not any(match.groupdict().values()):
        raise ValueError(f"'{text}' is not a duration; use forms like 30m, 2h or 1h30m")
    parts = {k: int(v) for k, v in match.groupdict().items() if v}
    value = timedelta(days=parts.get("d", 0), hours=parts.get("h", 0), minutes=parts.get("m", 0))
    if value <= timedelta(0):
        raise ValueError("the duration must be longer than zero")
    return value


def format_elapsed(duration: timedelta) -> str:
    """How long something lasted, for people reading a post: ``19 min``, ``1 d 2 h``, ``less than a minute``."""
    minutes = max(0, int(duration.total_seconds() // 60))
    if minutes < 1:
        return "less than a minute"
    hours, mins = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    parts = [f"{days} d" if days else "", f"{hours} h" if hours else "", f"{mins} min" if mins else ""]
    return " ".join(p for p in parts if p)


def format_duration(value: timedelta) -> str:
    """Inverse of ``parse_duration`` for whole minutes: 5400 s → ``1h30m``."""
    minutes = int(value.total_seconds() // 60)
    hours, minutes = divmod(minutes, 60)
    if hours and minutes:
        return f"{hours}h{minutes}m"
    return f"{hours}h" if hours else f"{minutes}m"
