"""Ending live AWS sessions at revoke: the Deny statements this project merges into a permission set's
inline policy (pure; see docs/ending-sessions.md).

Deleting an account assignment stops new sign-ins only; role credentials already issued stay valid
for the permission set's ``SessionDuration``. AWS's documented remedy is a Deny-all statement on
the permission set matching the Identity Center user (``identitystore:userId``), the account
(``aws:PrincipalAccount``) and sessions issued before the revoke (``aws:TokenIssueTime``).

Rules kept here:
- Our statements carry the ``Sid`` prefix :data:`SID_PREFIX`; nothing else in the document is ever
  rewritten: edits are splices into the original text, so every other statement (and the text
  between them) stays byte-identical.
- IAM caps a role's inline policies at :data:`ROLE_INLINE_POLICY_LIMIT` characters, whitespace not
  counted. When the narrow statement would overflow, the wider one (every session of the permission
  set in the account issued before T, any user) is used instead; see :func:`merge_deny`.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from jitwire.timefmt import format_duration

if TYPE_CHECKING:
    from collections.abc import Mapping

    from backend.domain.policy import Policy

SID_PREFIX: Final = "JitEndSessions"
ROLE_INLINE_POLICY_LIMIT: Final = 10_240
DEFAULT_SESSION_DURATION: Final = timedelta(hours=1)
_ISO_DURATION = re.compile(r"^PT(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+)S)?$")
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
_SID_TIME = "%Y%m%dT%H%M%SZ"


class PolicyTooLarge(ValueError):
    """Even the wider statement does not fit in the role's inline policy limit."""


class NotAPolicy(ValueError):
    """The inline policy is not a JSON object with a Statement we can splice into."""


@dataclass(frozen=True, order=True)
class SessionDeny:
    """Deny every session of ``user_id`` (any user when None: the wide form) in ``account_id``
    issued before ``issued_before``."""

    account_id: str
    issued_before: datetime
    user_id: str | None = None

    @property
    def wide(self) -> bool:
        return self.user_id is None

    @property
    def sid(self) -> str:
        # Sids are alphanumeric; the user id is hashed so the Sid stays short and fixed-length.
        when = self.issued_before.astimezone(UTC).strftime(_SID_TIME)
        if self.user_id is None:
            return f"{SID_PREFIX}A{self.account_id}{when}"
        user = hashlib.sha256(self.user_id.encode()).hexdigest()[:12]
        return f"{SID_PREFIX}U{self.account_id}{when}{user}"

    def statement(self) -> dict[str, Any]:
        equals = {"aws:PrincipalAccount": self.account_id}
        if self.user_id is not None:
            equals = {"identitystore:userId": self.user_id, **equals}
        return {
            "Sid": self.sid,
            "Effect": "Deny",
            "Action": "*",
            "Resource": "*",
            "Condition": {
                "StringEquals": equals,
                "DateLessThan": {"aws:TokenIssueTime": self.issued_before.astimezone(UTC).strftime(_TIME_FORMAT)},
            },
        }

    def statement_text(self) -> str:
        return json.dumps(self.statement(), separators=(",", ":"))

    def covers(self, other: SessionDeny) -> bool:
        """Every session ``other`` denies is denied by this statement too."""
        return (
            self.account_id == other.account_id
            and self.issued_before >= other.issued_before
            and (self.wide or self.user_id == other.user_id)
        )

    def expires_at(self, session_duration: timedelta) -> datetime:
        """After this, every session it could match has expired on its own."""
        return self.issued_before + session_duration


def parse_session_duration(text: str | None) -> timedelta:
    """ISO 8601 ``PT1H``/``PT12H``/``PT1H30M``; Identity Center's default (one hour) when absent."""
    if not text:
        return DEFAULT_SESSION_DURATION
    match = _ISO_DURATION.match(text)
    if match is None or not any(match.groupdict().values()):
        raise ValueError(f"not an ISO 8601 session duration: {text!r}")
    parts = {k: int(v) for k, v in match.groupdict().items() if v}
    return timedelta(hours=parts.get("h", 0), minutes=parts.get("m", 0), seconds=parts.get("s", 0))


def policy_size(text: str) -> int:
    """IAM's measure of an inline policy: characters, whitespace not counted."""
    return sum(1 for ch in text if not ch.isspace())


# -- locating statements in the original text ----------------------------------------------------

_DECODER = json.JSONDecoder()


@dataclass(frozen=True)
class _Element:
    start: int
    end: int
    value: Any


@dataclass(frozen=True)
class _Layout:
    """Where the Statement value sits in the document, and its elements (one if it is an object)."""

    value_start: int
    value_end: int
    is_array: bool
    elements: tuple[_Element, ...]


def _skip_ws(text: str, index: int) -> int:
    while index < len(text) and text[index] in " \t\n\r":
        index += 1
    return index


def _decode_at(text: str, index: int) -> tuple[Any, int]:
    try:
        return _DECODER.raw_decode(text, index)
    except json.JSONDecodeError as exc:
        raise NotAPolicy(f"the inline policy is not valid JSON: {exc}") from exc


def _expect(text: str, index: int, char: str) -> int:
    index = _skip_ws(text, index)
    if index >= len(text) or text[index] != char:
        raise NotAPolicy(f"the inline policy is not a JSON object with a Statement (expected {char!r} at {index})")
    return index + 1


def _array_elements(text: str, start: int) -> tuple[tuple[_Element, ...], int]:
    """Elements of the JSON array whose '[' is at ``start``; returns them and the index after ']'."""
    index = _skip_ws(text, start + 1)
    elements: list[_Element] = []
    if index < len(text) and text[index] == "]":
        return (), index + 1
    while True:
        value, end = _decode_at(text, index)
        elements.append(_Element(index, end, value))
        index = _skip_ws(text, end)
        if index < len(text) and text[index] == ",":
            index = _skip_ws(text, index + 1)
            continue
        return tuple(elements), _expect(text, index, "]")


def _layout(text: str) -> _Layout:
    index = _expect(text, 0, "{")
    found: _Layout | None = None
    index = _skip_ws(text, index)
    if index < len(text) and text[index] == "}":
        raise NotAPolicy("the inline policy has no Statement")
    while True:
        key, index = _decode_at(text, _skip_ws(text, index))
        index = _skip_ws(text, _expect(text, index, ":"))
        if key == "Statement":
            if index < len(text) and text[index] == "[":
                elements, end = _array_elements(text, index)
                found = _Layout(index, end, True, elements)
            else:
                value, end = _decode_at(text, index)
                found = _Layout(index, end, False, (_Element(index, end, value),))
        else:
            _value, end = _decode_at(text, index)
        index = _skip_ws(text, end)
        if index < len(text) and text[index] == ",":
            index += 1
            continue
        _expect(text, index, "}")
        break
    if found is None:
        raise NotAPolicy("the inline policy has no Statement")
    return found


def _ours(value: Any) -> bool:
    return isinstance(value, dict) and str(value.get("Sid", "")).startswith(SID_PREFIX)


def _as_deny(value: dict[str, Any]) -> SessionDeny | None:
    """Read one of our statements back (None if someone edited it out of shape)."""
    try:
        condition = value["Condition"]
        equals = condition["StringEquals"]
        when = datetime.strptime(condition["DateLessThan"]["aws:TokenIssueTime"], _TIME_FORMAT).replace(tzinfo=UTC)
        user = equals.get("identitystore:userId")
        return SessionDeny(account_id=str(equals["aws:PrincipalAccount"]), issued_before=when, user_id=user)
    except (KeyError, TypeError, ValueError):
        return None


def project_denies(text: str) -> list[SessionDeny]:
    """Our statements currently in the document (empty document: none)."""
    if not text.strip():
        return []
    return [d for e in _layout(text).elements if _ours(e.value) and (d := _as_deny(e.value)) is not None]


# -- editing ---------------------------------------------------------------------------------------


def _empty_policy(statements: list[str]) -> str:
    return '{"Version":"2012-10-17","Statement":[' + ",".join(statements) + "]}"


def _remove_elements(text: str, drop: set[int]) -> str:
    """Splice out the chosen elements of the Statement array with their separating comma."""
    layout = _layout(text)
    elements = layout.elements
    for index in sorted(drop, reverse=True):
        element = elements[index]
        if not layout.is_array:  # a lone object Statement of ours: leave an empty array in its place
            text = text[: element.start] + "[]" + text[element.end :]
            break
        if index > 0:
            start, end = elements[index - 1].end, element.end  # ", <element>" after its predecessor
        elif len(elements) > 1:
            start, end = element.start, elements[1].start  # "<element>, " before the next one
        else:
            start, end = element.start, element.end
        text = text[:start] + text[end:]
        layout = _layout(text)
        elements = layout.elements
    return text


def _append(text: str, statement: str) -> str:
    if not text.strip():
        return _empty_policy([statement])
    layout = _layout(text)
    if not layout.is_array:  # a single-object Statement becomes an array around the untouched object
        only = layout.elements[0]
        return text[: only.start] + "[" + text[only.start : only.end] + "," + statement + "]" + text[only.end :]
    if not layout.elements:
        at = layout.value_end - 1
        return text[:at] + statement + text[at:]
    at = layout.elements[-1].end
    return text[:at] + "," + statement + text[at:]


def remove_denies(text: str, unwanted: set[SessionDeny]) -> str:
    """The document without those of our statements; others are untouched. May return ""."""
    if not text.strip():
        return text
    layout = _layout(text)
    drop = {
        i
        for i, e in enumerate(layout.elements)
        if _ours(e.value) and (d := _as_deny(e.value)) is not None and d in unwanted
    }
    if not drop:
        return text
    if len(drop) == len(layout.elements) and layout.is_array and _only_ours_envelope(text):
        return ""  # the document was ours alone: delete the inline policy rather than leave it empty
    return _remove_elements(text, drop)


def _only_ours_envelope(text: str) -> bool:
    try:
        document = json.loads(text)
    except json.JSONDecodeError:
        return False
    return set(document) <= {"Version", "Statement"}


@dataclass(frozen=True)
class Merge:
    text: str
    applied: SessionDeny  # what the document now holds for the request: narrow, wide, or a covering one
    changed: bool

    @property
    def wide(self) -> bool:
        return self.applied.wide


def merge_deny(text: str, wanted: SessionDeny, limit: int = ROLE_INLINE_POLICY_LIMIT) -> Merge:
    """Add ``wanted`` unless an existing statement of ours covers it; superseded ones of ours go.

    Falls back to the wide statement (same account and time, any user) when the narrow one would
    push the document over ``limit``; raises PolicyTooLarge when even that does not fit.
    """
    existing = project_denies(text)
    for deny in existing:
        if deny.covers(wanted):
            return Merge(text, deny, changed=False)
    for candidate in (wanted, SessionDeny(wanted.account_id, wanted.issued_before, None)):
        superseded = {d for d in existing if candidate.covers(d)}
        merged = _append(remove_denies(text, superseded), candidate.statement_text())
        if policy_size(merged) <= limit:
            return Merge(merged, candidate, changed=True)
    raise PolicyTooLarge(
        f"the permission set's inline policy is {policy_size(text)} characters; even the account-wide deny "
        f"statement would take it over IAM's {limit}-character limit for a role's inline policies"
    )


def sessions_outlive_grants(policy: Policy, session_durations: Mapping[str, timedelta]) -> list[str]:
    """Warnings for rules whose permission sets' sessions last longer than the rule's longest grant
    while ``end_sessions`` is off: a user could keep access well past the end of the grant."""
    warnings = []
    for rule in policy.rules:
        if rule.end_sessions:
            continue
        for name in sorted(rule.permission_sets):
            duration = session_durations.get(name)
            if duration is not None and duration > rule.max_duration:
                warnings.append(
                    f"rule {rule.name!r}: {name} sessions last {format_duration(duration)}, longer than the rule's "
                    f"max_duration {format_duration(rule.max_duration)}, and end_sessions is off: a revoked user "
                    "keeps a live session until it expires. Set end_sessions: true or shorten the session duration"
                )
    return warnings
