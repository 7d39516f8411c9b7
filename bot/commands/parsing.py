"""``/jit`` text (or a DM to the bot) → a typed command. Pure: no I/O."""

from __future__ import annotations

import re
from typing import Final

from pydantic import BaseModel, ConfigDict

from jitwire.chattext import neutralise
from jitwire.timefmt import parse_duration

MIN_REASON: Final = 3
MAX_REASON: Final = 500
_REQUEST_ID: Final = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

USAGE: Final = """\
**/jit** — just-in-time AWS access
- `/jit request <account> <permission set> <duration> <reason>` — ask for access (no arguments: a form)
- `/jit list` — your requests
- `/jit status <request id>` — one request
- `/jit cancel <request id>` — withdraw a pending request
- `/jit revoke <request id>` — end granted access now
- `/jit extend <request id> <duration>` — ask for more time (e.g. `30m`, `1h`)
- `/jit approvals` — requests waiting for your approval, with Approve / Deny in a DM
- `/jit help` — this text
Admins: `/jit policy` (show the access policy), `/jit break-glass <request id> <reason>` (revoke at once),
`/jit report [7d]` (the audit summary and timeline of the last days, by direct message).
Durations look like `30m`, `2h` or `1h30m`. You can also send these words to the bot in a direct message."""

AUTOCOMPLETE_HINT: Final = "request | list | status | cancel | revoke | extend | approvals | help"
AUTOCOMPLETE_DESC: Final = "Just-in-time AWS access: request, approve and revoke"


class _Command(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Help(_Command):
    pass


class Request(_Command):
    account: str
    permission_set: str
    duration: str
    reason: str


class OpenRequestDialog(_Command):
    """``request`` with arguments missing: whatever was given pre-fills the form."""

    account: str = ""
    permission_set: str = ""
    duration: str = ""


class ListMine(_Command):
    pass


class Approvals(_Command):
    pass


class Status(_Command):
    request_id: str


class Cancel(_Command):
    request_id: str


class Revoke(_Command):
    request_id: str


class Extend(_Command):
    request_id: str
    duration: str


class ShowPolicy(_Command):
    pass


class BreakGlass(_Command):
    request_id: str
    reason: str


class Report(_Command):
    window: str = "7d"


Command = (
    Help
    | Request
    | OpenRequestDialog
    | ListMine
    | Approvals
    | Status
    | Cancel
    | Revoke
    | Extend
    | ShowPolicy
    | BreakGlass
    | Report
)


class UsageError(Exception):
    """The text is not a command; ``message`` says what is wrong and the usage follows."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    @property
    def reply(self) -> str:
        return f"{self.message}\n\n{USAGE}"


def parse(text: str) -> Command:
    words = text.split()
    if not words:
        return Help()
    verb, args = words[0].lower(), words[1:]
    if verb in ("help", "-h", "--help", "?"):
        return Help()
    if verb == "request":
        return _request(args)
    if verb in ("list", "ls", "mine"):
        return ListMine()
    if verb in ("approvals", "pending"):
        return Approvals()
    if verb in ("policy", "report"):
        return _admin_view(verb, args)
    one_id: dict[str, type[Status | Cancel | Revoke]] = {"status": Status, "cancel": Cancel, "revoke": Revoke}
    if verb in one_id:
        _arity(verb, args, 1, "<request id>")
        return one_id[verb](request_id=_request_id(args[0]))
    if verb == "extend":
        _arity(verb, args, 2, "<request id> <duration>")
        return Extend(request_id=_request_id(args[0]), duration=_duration(args[1]))
    if verb in ("break-glass", "breakglass"):
        if len(args) < 2:
            raise UsageError("`break-glass` needs a request id and a reason.")
        return BreakGlass(request_id=_request_id(args[0]), reason=" ".join(args[1:]))
    raise UsageError(f"I don't know the command “{_shown(verb)}”.")


def _admin_view(verb: str, args: list[str]) -> ShowPolicy | Report:
    if verb == "policy":
        return ShowPolicy()
    if len(args) > 1:
        raise UsageError("`report` takes an optional window like `7d`.")
    return Report(window=_duration(args[0])) if args else Report()


def _request(args: list[str]) -> Request | OpenRequestDialog:
    if len(args) < 4:
        account, permission_set, duration = ([*args, "", "", ""])[:3]
        duration = _duration(duration) if duration else ""
        return OpenRequestDialog(account=account, permission_set=permission_set, duration=duration)
    reason = " ".join(args[3:])
    if not MIN_REASON <= len(reason) <= MAX_REASON:
        raise UsageError(f"The reason must be {MIN_REASON} to {MAX_REASON} characters long; yours has {len(reason)}.")
    return Request(account=args[0], permission_set=args[1], duration=_duration(args[2]), reason=reason)


def _arity(verb: str, args: list[str], count: int, shape: str) -> None:
    if len(args) != count:
        raise UsageError(f"`{verb}` takes {shape}.")


def _request_id(text: str) -> str:
    if not _REQUEST_ID.fullmatch(text):
        raise UsageError(f"“{_shown(text)}” is not a request id.")
    return text


def _duration(text: str) -> str:
    try:
        parse_duration(text)
    except ValueError as exc:
        raise UsageError(f"“{_shown(text)}” is not a duration: use forms like 30m, 2h or 1h30m.") from exc
    return text.lower()


def _shown(text: str) -> str:
    """Echo a word back: no mention, no Markdown, bounded."""
    return neutralise(text, 40, single_line=True)
