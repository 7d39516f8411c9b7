from __future__ import annotations

import pytest

from bot.commands import parsing as p


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", p.Help()),
        ("help", p.Help()),
        (
            "request prod ReadOnlyAccess 1h look at logs",
            p.Request(account="prod", permission_set="ReadOnlyAccess", duration="1h", reason="look at logs"),
        ),
        ("request", p.OpenRequestDialog()),
        ("request prod", p.OpenRequestDialog(account="prod")),
        (
            "request prod ReadOnlyAccess 2H",
            p.OpenRequestDialog(account="prod", permission_set="ReadOnlyAccess", duration="2h"),
        ),
        ("list", p.ListMine()),
        ("approvals", p.Approvals()),
        ("status rabc123", p.Status(request_id="rabc123")),
        ("cancel rabc123", p.Cancel(request_id="rabc123")),
        ("revoke rabc123", p.Revoke(request_id="rabc123")),
        ("extend rabc123 30m", p.Extend(request_id="rabc123", duration="30m")),
        ("policy", p.ShowPolicy()),
        ("report", p.Report(window="7d")),
        ("report 30D", p.Report(window="30d")),
        ("break-glass rabc123 leaked laptop", p.BreakGlass(request_id="rabc123", reason="leaked laptop")),
    ],
)
def test_parse(text: str, expected: p.Command) -> None:
    assert p.parse(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("frobnicate", "I don't know the command “frobnicate”."),
        ("status", "`status` takes <request id>."),
        ("status a b", "`status` takes <request id>."),
        ("status ../etc", "“../etc” is not a request id."),
        ("extend r1 forever", "“forever” is not a duration: use forms like 30m, 2h or 1h30m."),
        ("request prod X 0m reason", "“0m” is not a duration: use forms like 30m, 2h or 1h30m."),
        ("request prod X 1h ab", "The reason must be 3 to 500 characters long; yours has 2."),
        ("break-glass r1", "`break-glass` needs a request id and a reason."),
        ("report 7d extra", "`report` takes an optional window like `7d`."),
        ("report week", "“week” is not a duration: use forms like 30m, 2h or 1h30m."),
    ],
)
def test_usage_errors_say_what_is_wrong_and_show_usage(text: str, message: str) -> None:
    with pytest.raises(p.UsageError) as raised:
        p.parse(text)
    assert raised.value.message == message
    assert raised.value.reply.endswith(p.USAGE)


def test_echoed_words_cannot_mention() -> None:
    with pytest.raises(p.UsageError) as raised:
        p.parse("@channel")
    assert "@channel" not in raised.value.message
