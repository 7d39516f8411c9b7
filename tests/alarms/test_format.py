from __future__ import annotations

import hashlib
import hmac
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from alarms.catalogue import CATALOGUE, AlarmDefinition, definition_for
from alarms.cloudwatch import AlarmNotification, parse_alarm_message
from alarms.format import (
    AlarmPostSettings,
    RootInfo,
    decide_thread_action,
    format_alarm_post,
    format_flap_reply,
    format_gap_reply,
    format_ok_reply,
    latest_root,
    mark_root_resolved,
    post_chars,
    root_info,
)
from alarms.runbook import AlarmSection, CodeBlock, InvestigationStep, load_runbook
from alarms.sns import SnsVerifier, route
from jitwire.chattext import MAX_POST_CHARS
from jitwire.chattext import neutralise_alarm_text as neutralise
from jitwire.timefmt import format_elapsed as format_duration
from tests.alarms.conftest import ALARM_TOPIC, NOW, Signer, encode, fixture_text

RUNBOOK = load_runbook(
    Path(__file__).parents[2] / "docs" / "runbooks" / "01-monitoring-alarms.md",
    docs_base_url="https://docs.example.com/runbooks",
)
SETTINGS = AlarmPostSettings(
    runbook_url=RUNBOOK.url,
    oncall_group_mention="@platform-oncall",
    action_url="https://bot.example.com/actions/alarm",
)
SFN_ARN = "arn:aws:states:eu-central-1:123456789012:stateMachine:jit-grant-revoke"


def notification(fixture: str, **changes: Any) -> AlarmNotification:
    data = json.loads(fixture_text(fixture))
    data.update(changes)
    return parse_alarm_message(json.dumps(data))


def post_for(n: AlarmNotification, settings: AlarmPostSettings = SETTINGS, **kwargs: Any) -> dict[str, Any]:
    return format_alarm_post(
        n, definition_for(n.alarm_name), RUNBOOK.sections.get(n.alarm_name), RUNBOOK.escalation, settings, **kwargs
    )


def attachment(post: dict[str, Any]) -> dict[str, Any]:
    first: dict[str, Any] = post["props"]["attachments"][0]
    return first


def everything(post: dict[str, Any]) -> str:
    return json.dumps(post, ensure_ascii=False)


@pytest.mark.parametrize(
    ("fixture", "reason", "state"),
    [
        ("jit-lambdaerrorrate.alarm.message.json", "7.3 % > 5 %", "OK → **ALARM**"),
        ("jit-lambdaduration.alarm.message.json", "p99 12.4 s > 10 s", "OK → **ALARM**"),
        ("jit-grantrevokefailed.alarm.message.json", "3 > 0", "OK → **ALARM**"),
        ("jit-api5xxrate.insufficient-data.message.json", "no data", "ALARM → **INSUFFICIENT_DATA**"),
    ],
)
@pytest.mark.parametrize("version", ["1", "2"])
def test_signed_notification_to_post(
    signer: Signer, cert_store: dict[str, bytes], fixture: str, reason: str, state: str, version: str
) -> None:
    verifier = SnsVerifier(frozenset({ALARM_TOPIC}), cert_store.__getitem__, lambda: NOW)
    message = verifier.verify(encode(signer.notification(fixture_text(fixture), version=version)))
    assert route(message) == "alarm"
    n = parse_alarm_message(message.message)
    post = post_for(n)
    assert reason in post["message"]
    assert state in post["message"]
    fields = {f["title"]: f["value"] for f in attachment(post)["fields"]}
    assert fields["Region"] == "eu-central-1"
    assert fields["Reason"].startswith(reason)


@pytest.mark.parametrize("defn", CATALOGUE, ids=lambda d: d.name)
def test_colour_marker_and_mention_by_severity(defn: AlarmDefinition) -> None:
    n = notification("jit-grantrevokefailed.alarm.message.json", AlarmName=defn.name)
    post = post_for(n)
    colour, marker = {
        "High": ("#d0021b", ":red_circle: HIGH"),
        "Medium": ("#f5a623", ":large_orange_diamond: MEDIUM"),
        "Low": ("#4a90e2", ":large_blue_circle: LOW"),
    }[defn.severity]
    assert attachment(post)["color"] == colour
    assert post["message"].startswith(marker)
    assert ("@platform-oncall" in everything(post)) is (defn.severity == "High")
    assert "**L1** On-call → **L2** Platform team → **L3** Security team" in attachment(post)["text"]


def test_runbook_sections_and_checklist() -> None:
    post = post_for(notification("jit-grantrevokefailed.alarm.message.json"))
    text = attachment(post)["text"]
    section = RUNBOOK.sections["JIT-GrantRevokeFailed"]
    assert f"**What triggered:** {section.what_triggered}" in text
    assert f"**Impact:** {section.impact}" in text
    assert "- [ ] Check Step Functions execution history:" in text
    assert text.count("- [ ] ") == 4
    # the state machine ARN from the alarm's dimension replaces the runbook's placeholder
    assert f"    --state-machine-arn {SFN_ARN} \\" in text
    assert "<sfn_arn>" not in text
    assert "<execution_arn>" in text  # not known to the bot: left for the reader
    assert text.count("```") % 2 == 0
    assert "- **Revoke failure:**" in text
    assert "(https://docs.example.com/runbooks/03-break-glass-revoke.md)" in text
    assert "[Full runbook](https://docs.example.com/runbooks/01-monitoring-alarms.md#jit-grantrevokefailed)" in text
    assert attachment(post)["title_link"].endswith("#jit-grantrevokefailed")


def test_known_names_fill_placeholders() -> None:
    n = notification("jit-grantrevokefailed.alarm.message.json")
    text = attachment(post_for(n, known_names={"<execution_arn>": "arn:aws:states:x:execution:jit:r-1"}))["text"]
    assert "--execution-arn arn:aws:states:x:execution:jit:r-1" in text


def test_buttons_and_context() -> None:
    def sign(context: dict[str, Any]) -> str:
        return hmac.new(b"k", json.dumps(context, sort_keys=True).encode(), hashlib.sha256).hexdigest()

    n = notification("jit-lambdaerrorrate.alarm.message.json")
    post = post_for(n, settings=SETTINGS.model_copy(update={"sign_context": sign}))
    actions = attachment(post)["actions"]
    assert [a["id"] for a in actions] == ["ack", "mute"]
    assert all(re.fullmatch(r"[A-Za-z0-9]+", a["id"]) for a in actions)
    assert [a["name"] for a in actions] == ["Acknowledge", "Mute 1 hour"]
    for action in actions:
        assert action["type"] == "button"
        assert action["integration"]["url"] == "https://bot.example.com/actions/alarm"
        context = dict(action["integration"]["context"])
        sig = context.pop("sig")
        assert sig == sign(context)
        assert context["alarm_name"] == "JIT-LambdaErrorRate"
        assert context["action"] == action["id"]
        assert context["state"] == "ALARM"
        assert context["exp"] == int((n.state_change_time + timedelta(hours=24)).timestamp())
    assert actions[1]["integration"]["context"]["mute_seconds"] == 3600
    assert post["props"]["jit_alarm_name"] == "JIT-LambdaErrorRate"
    assert post["props"]["jit_alarm_episode"] == "2026-11-27T14:05:40.100000+00:00"


def test_huge_runbook_is_truncated_with_a_link() -> None:
    huge_code = "\n".join(
        f"aws logs filter-log-events --log-group-name /aws/lambda/jit-api --n {i}" for i in range(900)
    )
    section = AlarmSection(
        name="JIT-LambdaErrorRate",
        anchor="jit-lambdaerrorrate",
        what_triggered="x" * 3000,
        impact="y" * 3000,
        investigation=tuple(
            InvestigationStep(text=f"step {i}", code_blocks=(CodeBlock(language="bash", code=huge_code),))
            for i in range(5)
        ),
        resolution=tuple("z" * 500 for _ in range(30)),
    )
    n = notification("jit-lambdaerrorrate.alarm.message.json")
    post = format_alarm_post(n, definition_for(n.alarm_name), section, RUNBOOK.escalation, SETTINGS)
    text = attachment(post)["text"]
    assert post_chars(post) <= MAX_POST_CHARS
    assert len(post["message"]) + len(text) <= MAX_POST_CHARS
    assert text.endswith("_truncated: read the [full runbook](" + RUNBOOK.url + "#jit-lambdaerrorrate)._")
    assert text.count("```") % 2 == 0
    assert attachment(post)["actions"]  # buttons survive truncation


def test_normal_posts_are_not_truncated() -> None:
    for defn in CATALOGUE:
        post = post_for(notification("jit-grantrevokefailed.alarm.message.json", AlarmName=defn.name))
        assert "truncated" not in attachment(post)["text"]
        assert post_chars(post) <= MAX_POST_CHARS


def test_unknown_alarm_still_posts() -> None:
    n = parse_alarm_message(fixture_text("cloudforet-ec2-cpu-alarm.message.json"))
    post = format_alarm_post(n, None, None, RUNBOOK.escalation, SETTINGS)
    assert "17.3 > 15" in post["message"]
    assert "No runbook section" in attachment(post)["text"]


def test_mass_mentions_and_images_are_neutralised() -> None:
    n = notification(
        "jit-grantrevokefailed.alarm.message.json",
        AlarmName="JIT-GrantRevokeFailed",
        NewStateReason="@channel @here @all ![x](https://evil/img.png) <!channel> [3.0 (27/11/26 14:00:00)]",
    )
    dumped = everything(post_for(n))
    for bad in ("@channel", "@here", "@all", "![x]", "<!channel>"):
        assert bad not in dumped
    assert neutralise("a" * 10, limit=5) == "aaaa…"


@pytest.mark.parametrize("text", ["www.evil.example/x.png", "evil.example/path", "http://Evil.Example/a"])
def test_bare_domains_in_alarm_text_are_not_left_to_auto_link(text: str) -> None:
    safe = neutralise(text)
    assert re.search(r"(?i)\b(?:[a-z0-9-]+\.)+[a-z]{2,}\b", safe) is None
    assert safe.replace("\u200b", "") == text
    assert neutralise("7.3 % > 5 % [3.0 (27/11/26 14:00:00)]") == "7.3 % > 5 % [3.0 (27/11/26 14:00:00)]"


# --- thread rules -------------------------------------------------------------------------------

OPENED = datetime(2026, 11, 27, 14, 0, tzinfo=UTC)
OPEN_ROOT = RootInfo(post_id="p1", alarm_name="JIT-LambdaErrorRate", episode=OPENED, resolved=False, flap_count=1)
RESOLVED_ROOT = OPEN_ROOT.model_copy(update={"resolved": True})


def _at(state: str, minutes: int) -> AlarmNotification:
    when = (OPENED + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%S.000+0000")
    return notification("jit-lambdaerrorrate.alarm.message.json", NewStateValue=state, StateChangeTime=when)


@pytest.mark.parametrize(
    ("state", "minutes", "root", "expected"),
    [
        ("ALARM", 5, None, "new_root"),
        ("ALARM", 5, RESOLVED_ROOT, "new_root"),
        ("ALARM", 5, OPEN_ROOT, "flap_reply"),
        ("ALARM", 0, OPEN_ROOT, "ignore"),  # the root's own notification delivered again
        ("ALARM", -5, OPEN_ROOT, "ignore"),  # late, out of order
        ("OK", 14, OPEN_ROOT, "resolve_reply"),
        ("OK", 14, None, "ignore"),
        ("OK", 14, RESOLVED_ROOT, "ignore"),
        ("INSUFFICIENT_DATA", 3, OPEN_ROOT, "gap_reply"),
        ("INSUFFICIENT_DATA", 3, None, "ignore"),
        ("INSUFFICIENT_DATA", 3, RESOLVED_ROOT, "ignore"),
    ],
)
def test_decide_thread_action(state: str, minutes: int, root: RootInfo | None, expected: str) -> None:
    assert decide_thread_action(_at(state, minutes), root) == expected


BOT = "bot-user-id"


def test_thread_found_again_after_restart_from_post_props() -> None:
    first = post_for(_at("ALARM", 0))
    stored_root = {"id": "root1", "root_id": "", "user_id": BOT, **first}
    flap = format_flap_reply(2, _at("ALARM", 6), definition_for("JIT-LambdaErrorRate"), OPEN_ROOT)
    stored_flap = {"id": "r2", "user_id": BOT, **flap}
    other = {"id": "x", "root_id": "", "user_id": BOT, "message": "hi", "props": {}}
    older = {"id": "old", "root_id": "", "user_id": BOT, **post_for(_at("ALARM", -600))}
    info = latest_root([other, older, stored_root, stored_flap], "JIT-LambdaErrorRate", author=BOT)
    assert info is not None
    assert (info.post_id, info.episode, info.resolved) == ("root1", OPENED, False)
    assert latest_root([stored_root], "JIT-API5xxRate", author=BOT) is None
    with_replies = root_info(stored_root, [stored_flap, {"props": {}}], author=BOT)
    assert with_replies is not None
    assert with_replies.flap_count == 2
    assert decide_thread_action(_at("ALARM", 9), with_replies) == "flap_reply"


def test_posts_by_anyone_but_the_bot_are_not_thread_state() -> None:
    """A channel member can put any props on their own post: a forged newer root (resolved or
    open) or a forged flap number must not change what the bot sees."""
    genuine = {"id": "root1", "root_id": "", "user_id": BOT, **post_for(_at("ALARM", 0))}
    forged_root = {"id": "f1", "root_id": "", "user_id": "mallory", **post_for(_at("ALARM", 600))}
    info = latest_root([genuine, forged_root], "JIT-LambdaErrorRate", author=BOT)
    assert info is not None
    assert info.post_id == "root1"
    assert latest_root([forged_root], "JIT-LambdaErrorRate", author=BOT) is None
    assert root_info(forged_root, author=BOT) is None
    assert latest_root([genuine], "JIT-LambdaErrorRate", author="") is None  # no bot id yet: trust nothing
    forged_flap = {"id": "f2", "root_id": "root1", "user_id": "mallory", "props": {"jit_alarm_flap": 99}}
    counted = root_info(genuine, [forged_flap], author=BOT)
    assert counted is not None
    assert counted.flap_count == 0


def test_flap_and_gap_replies() -> None:
    defn = definition_for("JIT-LambdaErrorRate")
    reply = format_flap_reply(OPEN_ROOT.flap_count + 1, _at("ALARM", 7), defn, OPEN_ROOT)
    assert reply["root_id"] == "p1"
    assert "2 flaps in this episode" in reply["message"]
    assert "7.3 % > 5 %" in reply["message"]
    assert reply["props"]["jit_alarm_flap"] == 2
    assert reply["props"]["jit_alarm_role"] == "reply"
    gap = format_gap_reply(_at("INSUFFICIENT_DATA", 3), defn, OPEN_ROOT)
    assert gap["root_id"] == "p1"
    assert "INSUFFICIENT_DATA" in gap["message"]


def test_ok_reply_and_root_resolved() -> None:
    ok = notification("jit-lambdaerrorrate.ok.message.json")
    root_post = {"id": "p1", "root_id": "", "user_id": "bot", **post_for(_at("ALARM", 0))}
    root = root_info(root_post, author="bot")
    assert root is not None
    assert decide_thread_action(ok, root) == "resolve_reply"
    reply = format_ok_reply(ok, definition_for(ok.alarm_name), root)
    assert reply["root_id"] == "p1"
    duration = ok.state_change_time - root.episode
    assert f"OK again after {format_duration(duration)}" in reply["message"]
    assert "0.4 % <= 5 %" in reply["message"]
    patch = mark_root_resolved(root_post, duration, ok.state_change_time)
    assert patch["message"].startswith(":white_check_mark: **Resolved** after 19 min\n")
    assert patch["props"]["jit_alarm_status"] == "resolved"
    assert patch["props"]["jit_alarm_name"] == "JIT-LambdaErrorRate"
    assert all("actions" not in a for a in patch["props"]["attachments"])
    assert all(a["color"] == "#2e7d32" for a in patch["props"]["attachments"])
    resolved = root_info({"id": "p1", "user_id": "bot", **patch}, author="bot")
    assert resolved is not None
    assert resolved.resolved
    assert decide_thread_action(_at("ALARM", 30), resolved) == "new_root"


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(seconds=20), "less than a minute"),
        (timedelta(minutes=14, seconds=59), "14 min"),
        (timedelta(hours=2, minutes=3), "2 h 3 min"),
        (timedelta(days=1, hours=1), "1 d 1 h"),
    ],
)
def test_format_duration(delta: timedelta, text: str) -> None:
    assert format_duration(delta) == text


def test_relative_start_time_is_pinned_to_the_alarm() -> None:
    n = notification("jit-grantrevokefailed.alarm.message.json")  # StateChangeTime 14:05:12.345Z
    text = attachment(post_for(n))["text"]
    expected = int(datetime(2026, 11, 27, 13, 35, 12, tzinfo=UTC).timestamp()) * 1000
    assert f"--start-time {expected}" in text
    assert "date -d" not in text
    reconciler = notification("jit-grantrevokefailed.alarm.message.json", AlarmName="JIT-ReconcilerErrors")
    hour_ago = int(datetime(2026, 11, 27, 13, 5, 12, tzinfo=UTC).timestamp()) * 1000
    assert f"--start-time {hour_ago}" in attachment(post_for(reconciler))["text"]
