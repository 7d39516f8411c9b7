from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jitwire.chattext import MAX_POST_CHARS, ZWSP, bound_post, neutralise, truncate, username
from tests.bot.mention_check import channel_wide_mentions, markdown_images

CORPUS = [
    "@channel",
    "@here",
    "@all",
    "@Channel",
    "@ALL!",
    "hi @here, please",
    "<!channel>",
    "<!here|here>",
    "<!all>",
    "<@abc123>",
    "@group-approvers",
    "@\u200dchannel",  # zero-width joiner inside
    "@\u200bhere",
    "@\u2060all",
    "\ufeff@channel",
    "\uff20channel",  # full-width at sign
    "\ufe6bhere",  # small at sign
    "@ch\u0430nnel",  # Cyrillic a
    "@channel\u200d",
    "![img](https://evil.example/x.png)",
    "![img][ref]\n\n[ref]: https://evil.example/x.png",
    "[link](javascript:alert(1))",
    "```\n@channel\n```",
    "`@here`",
    "``` @all ```",
    "# @all",
    "> @channel",
    "**@here**",
    "_@all_",
    "~~@channel~~",
    "|@here|",
]


@pytest.mark.parametrize("text", CORPUS)
def test_corpus_loses_every_channel_mention_and_image(text: str) -> None:
    safe = neutralise(text)
    assert channel_wide_mentions(safe) == []
    assert markdown_images(safe) == []
    assert "<!" not in safe.replace("\\<\\!", "")


@given(st.text(max_size=300))
def test_any_text_is_safe(text: str) -> None:
    safe = neutralise(text)
    assert channel_wide_mentions(safe) == []
    assert markdown_images(safe) == []


def test_every_at_sign_is_followed_by_a_zero_width_space() -> None:
    safe = neutralise("@alice and @bob@x")
    assert safe == f"@{ZWSP}alice and @{ZWSP}bob@{ZWSP}x"


def test_markdown_and_links_are_escaped_not_removed() -> None:
    assert neutralise("see [docs](https://x.io) `code`") == (
        "see \\[docs\\]\\(https:" + ZWSP + "//x." + ZWSP + "io\\) \\`code\\`"
    )


# What Mattermost would auto-link (and preview) without a scheme: a dotted host name.
LINKABLE_HOST = re.compile(r"(?i)\b(?:[a-z0-9-]+\.)+[a-z]{2,}\b")


@pytest.mark.parametrize(
    "text",
    ["www.evil.example/x.png", "see evil.example/path now", "EVIL.Example", "mail alice@corp.example.com", "a.b.co"],
)
def test_bare_domains_are_not_left_to_auto_link(text: str) -> None:
    safe = neutralise(text)
    assert LINKABLE_HOST.search(safe) is None
    assert safe.replace(ZWSP, "") == text  # the same words on screen


def test_numbers_and_versions_are_left_alone() -> None:
    assert neutralise("7.3 %, v1.2, 10.0.0.1") == "7.3 %, v1.2, 10.0.0.1"


def test_ten_thousand_characters_are_bounded() -> None:
    assert len(truncate("a" * 10_000, 500)) == 500
    assert neutralise("a" * 10_000).endswith("…")
    assert len(neutralise("a" * 10_000)) == 500
    assert len(bound_post("x" * 20_000)) == MAX_POST_CHARS


def test_single_line_and_controls() -> None:
    assert neutralise("a\nb\x00\tc", single_line=True) == "a b c"
    assert neutralise("a\nb") == "a\nb"


def test_username_is_shown_without_a_ping() -> None:
    assert username("alice") == f"@{ZWSP}alice"
    assert channel_wide_mentions(username("channel")) == []
