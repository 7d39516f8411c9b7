"""Access-request handlers in process, with fakes at the bot's two ports (bot/ports.py): the slash
command, card clicks, the request form and lifecycle events. What Mattermost and the backend were
asked is asserted on the fakes; the emulator and stack e2e tests stay the thin top."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import pytest

from bot.access import posts
from bot.access.clicks import handle_click
from bot.access.explain import UNCONFIRMED, UNREACHABLE
from bot.commands import dialog
from bot.commands.dialog import DialogState, sign_state
from bot.commands.direct_messages import PROP_REPLY_TO, DirectMessages
from bot.mattermost.payloads import ActionClick, DialogSubmission, WsPost
from jitwire.client import BackendError, BackendUnavailable, OutcomeUnknown
from jitwire.contract import LifecycleEvent, RequestView
from jitwire.models import CardRef, RequestStatus
from tests.bot.in_process import ALICE, APPROVALS, BOB, COMMAND_TOKEN, MATTERMOST_URL, Bot
from tests.fakes.access_api import NOW, request_view

RESPONSE_URL = MATTERMOST_URL + "/hooks/commands/abc"


def slash(bot: Bot, text: str) -> tuple[int, Any]:
    form = {
        "token": COMMAND_TOKEN,
        "channel_id": "town",
        "user_id": ALICE.user_id,
        "command": "/jit",
        "text": text,
        "trigger_id": "trigger1",
        "response_url": RESPONSE_URL,
    }

    async def go() -> tuple[int, Any]:
        answer = await bot.call("/mattermost/command", urlencode(form).encode(), "application/x-www-form-urlencoded")
        await bot.finish_background_work()
        return answer

    return asyncio.run(go())


def button_ids(props: dict[str, Any]) -> list[str]:
    return [a["id"] for a in props["attachments"][0].get("actions", [])]


def with_card(bot: Bot, **changes: Any) -> tuple[RequestView, str]:
    """A request whose card the bot posted in the approvals channel, showing ``version``."""
    card = bot.chat.add_post(APPROVALS, "card", {posts.PROP_REQUEST: "r1", posts.PROP_VERSION: 1})
    view = bot.api.add(request_view(card=CardRef(channel_id=APPROVALS, post_id=card["id"]), **changes))
    return view, card["id"]


def test_a_slash_request_is_acknowledged_then_answered_and_its_card_posted_with_buttons() -> None:
    bot = Bot()
    status, ack = slash(bot, "request prod AdministratorAccess 1h investigating INC-1")
    assert (status, ack["response_type"], ack["text"]) == (200, "ephemeral", "Submitting your request…")
    (created,) = bot.api.called("create_request")
    assert (created[0].actor, created[0].account, created[0].duration) == (ALICE, "prod", "1h")
    assert bot.chat.responses[0][0] == RESPONSE_URL
    assert bot.chat.ephemerals == [
        "Request `r1` for **AdministratorAccess** on **prod** for 1h is waiting for approval in "
        "~approvals (0 of 1 approvals)."
    ]
    card, opened = bot.chat.created
    assert (card["channel_id"], card["props"][posts.PROP_REQUEST]) == (APPROVALS, "r1")
    assert bot.api.called("place_card") == [(ALICE, "r1", APPROVALS, card["id"])]
    assert [(post_id, button_ids(props)) for post_id, _, props in bot.chat.patches] == [
        (card["id"], ["approve", "deny"])
    ]
    assert (opened["root_id"], opened["message"]) == (
        card["id"],
        "@\u200balice requested AdministratorAccess on prod for 1h",
    )


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("request prod AdministratorAccess forever investigating", "“forever” is not a duration"),
        ("request prod AdministratorAccess 1h no", "The reason must be"),
        ("grant me everything", "I don't know the command “grant”."),
    ],
)
def test_a_slash_command_with_bad_input_is_answered_at_once_and_reaches_no_backend(text: str, said: str) -> None:
    bot = Bot()
    status, answer = slash(bot, text)
    assert (status, answer["response_type"]) == (200, "ephemeral")
    assert said in answer["text"]
    assert bot.api.calls == []
    assert bot.chat.created == bot.chat.responses == []


def test_approve_decides_as_the_clicker_and_redraws_the_card_without_buttons() -> None:
    bot = Bot()
    _, card_id = with_card(bot)
    context = bot.signer.sign("r1", "approve", card_id, APPROVALS, NOW)
    click = ActionClick(user_id=BOB.user_id, channel_id=APPROVALS, post_id=card_id, context=context)
    answer = asyncio.run(handle_click(bot.services, click))
    assert answer == {"ephemeral_text": "You approved `r1`: Approved, access is being granted."}
    assert bot.api.called("decide") == [(BOB, "r1", "approve", None)]
    ((post_id, _, props),) = bot.chat.patches
    assert (post_id, props[posts.PROP_VERSION], button_ids(props)) == (card_id, 2, [])
    assert props["attachments"][0]["footer"] == "APPROVED · version 2"


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda ctx, _card: ctx | {"request_id": "r2"}, id="another-request"),
        pytest.param(lambda ctx, _card: ctx | {"action": "deny"}, id="another-action"),
        pytest.param(lambda ctx, _card: ctx | {"exp": ctx["exp"] + 86400}, id="later-expiry"),
        pytest.param(lambda ctx, card: ctx | {"post_id": card + "x"}, id="another-post"),
        pytest.param(lambda ctx, _card: {k: v for k, v in ctx.items() if k != "sig"}, id="unsigned"),
        pytest.param(lambda ctx, _card: {"value": "not a context"}, id="malformed"),
    ],
)
def test_a_tampered_click_is_refused_before_any_backend_call(tamper: Any) -> None:
    bot = Bot()
    _, card_id = with_card(bot)
    context = tamper(bot.signer.sign("r1", "approve", card_id, APPROVALS, NOW), card_id)
    click = ActionClick(user_id=BOB.user_id, channel_id=APPROVALS, post_id=card_id, context=context)
    answer = asyncio.run(handle_click(bot.services, click))
    assert answer == {"ephemeral_text": "This button is not one of ours."}
    assert bot.api.calls == []
    assert bot.chat.patches == []


def test_a_click_on_a_button_moved_to_another_post_or_expired_is_refused() -> None:
    bot = Bot()
    _, card_id = with_card(bot)
    elsewhere = bot.chat.add_post(APPROVALS, "someone's post", user_id=BOB.user_id)
    context = bot.signer.sign("r1", "approve", card_id, APPROVALS, NOW)
    moved = ActionClick(user_id=BOB.user_id, channel_id=APPROVALS, post_id=elsewhere["id"], context=context)
    assert asyncio.run(handle_click(bot.services, moved)) == {
        "ephemeral_text": "This button does not belong to this message."
    }
    bot.now = NOW + timedelta(hours=2)  # past the button's hour
    late = ActionClick(user_id=BOB.user_id, channel_id=APPROVALS, post_id=card_id, context=context)
    assert asyncio.run(handle_click(bot.services, late)) == {"ephemeral_text": "This button has expired."}
    assert bot.api.calls == []
    assert bot.chat.patches == []


@pytest.mark.parametrize(
    ("error", "said"),
    [
        (BackendError(409, "self_approval", "requester may not approve"), "You cannot approve your own request"),
        (BackendUnavailable("connection refused"), UNREACHABLE),
        (OutcomeUnknown("read timed out"), UNCONFIRMED),
    ],
)
def test_a_backend_failure_on_a_click_is_told_to_the_clicker_and_the_card_stays(error: Exception, said: str) -> None:
    bot = Bot()
    _, card_id = with_card(bot)
    bot.api.failing["decide"] = error
    context = bot.signer.sign("r1", "approve", card_id, APPROVALS, NOW)
    click = ActionClick(user_id=BOB.user_id, channel_id=APPROVALS, post_id=card_id, context=context)
    answer = asyncio.run(handle_click(bot.services, click))
    assert answer["ephemeral_text"].startswith(said)
    assert len(bot.api.called("decide")) == 1
    assert bot.chat.patches == []


def form(bot: Bot, **values: str) -> DialogSubmission:
    state = sign_state(bot.signer, DialogState(user_id=ALICE.user_id, response_url=RESPONSE_URL, exp=2_000_000_000))
    submitted = {"target": "prod/AdministratorAccess", "duration": "1h", "reason": "investigating INC-1"} | values
    return DialogSubmission(callback_id=dialog.CALLBACK_ID, state=state, user_id=ALICE.user_id, submission=submitted)


@pytest.mark.parametrize(
    ("values", "errors"),
    [
        ({"duration": "forever"}, {"duration": "Use forms like 30m, 2h or 1h30m."}),
        ({"duration": "9h"}, {"duration": "At most 4h for this access."}),
        ({"reason": "no"}, {"reason": "Between 3 and 500 characters, please."}),
        ({"target": "prod/PowerUser"}, {"target": "Choose one of the listed options."}),
    ],
)
def test_a_form_with_a_bad_field_keeps_the_form_open_with_that_field_s_error(
    values: dict[str, str], errors: dict[str, str]
) -> None:
    bot = Bot()
    answer = asyncio.run(dialog.submit(bot.services, form(bot, **values)))
    assert answer == {"errors": errors}
    assert bot.api.called("create_request") == []
    assert bot.chat.created == bot.chat.responses == []


def test_a_backend_field_refusal_shows_under_the_field_and_a_good_form_closes_with_an_answer() -> None:
    bot = Bot()
    bot.api.failing["create_request"] = BackendError(400, "invalid_request", "bad", {"reason": "Name a ticket."})
    assert asyncio.run(dialog.submit(bot.services, form(bot))) == {"errors": {"reason": "Name a ticket."}}
    del bot.api.failing["create_request"]
    assert asyncio.run(dialog.submit(bot.services, form(bot))) == {}
    assert len(bot.api.called("create_request")) == 2
    assert bot.chat.ephemerals[0].startswith("Request `r1` for **AdministratorAccess** on **prod**")
    assert bot.chat.created[0]["channel_id"] == APPROVALS


def test_a_form_opened_for_someone_else_is_refused_before_any_backend_call() -> None:
    bot = Bot()
    stolen = form(bot).model_copy(update={"user_id": BOB.user_id})
    answer = asyncio.run(dialog.submit(bot.services, stolen))
    assert answer == {"error": "This form is no longer valid; run /jit request again."}
    assert bot.api.calls == []


def granted(view: RequestView) -> LifecycleEvent:
    return LifecycleEvent.model_validate(
        {"event_id": "e7", "type": "request.granted", "occurred_at": NOW, "actor": None, "request": view}
    )


def test_a_granted_event_redraws_the_card_adds_history_and_tells_the_requester_once() -> None:
    bot = Bot()
    view, card_id = with_card(
        bot, status=RequestStatus.GRANTED, version=3, start_time=NOW, end_time=NOW + timedelta(hours=1)
    )
    handler = bot.lifecycle
    asyncio.run(handler.handle(granted(view)))
    ((post_id, _, props),) = bot.chat.patches
    assert (post_id, props[posts.PROP_VERSION], button_ids(props)) == (card_id, 3, [])
    assert props["attachments"][0]["fields"][3] == {
        "title": "Status",
        "value": "Granted until 2026-11-27 15:00 UTC",
        "short": True,
    }
    history, dm = bot.chat.created
    assert (history["root_id"], history["message"]) == (card_id, "Access granted until 2026-11-27 15:00 UTC")
    assert dm["channel_id"] == "dm-" + ALICE.user_id
    assert dm["message"].startswith("You now have **AdministratorAccess on prod** (request `r1`)")
    assert bot.api.calls == []  # the event carries the view; the card exists
    asyncio.run(bot.lifecycle.handle(granted(view)))  # redelivered to another replica: nothing new
    assert (len(bot.chat.patches), len(bot.chat.created)) == (1, 2)


def test_a_direct_message_command_is_answered_in_that_dm_as_a_reply_to_the_post() -> None:
    bot = Bot()
    bot.api.add(request_view(request_id="r1abc"))
    dms = DirectMessages(bot.services, "jit", 0, 1, bot.spawned.append)
    asyncio.run(dms.answer(WsPost(id="dm1", user_id=ALICE.user_id, channel_id="dm-ua", message="/jit status r1abc")))
    asyncio.run(dms.answer(WsPost(id="dm2", user_id=ALICE.user_id, channel_id="dm-ua", message="status r1 r2")))
    assert bot.api.called("get_request") == [(ALICE, "r1abc")]  # the second never reached the backend
    status, usage = bot.chat.created
    assert (status["channel_id"], status["props"], status["message"].splitlines()[0]) == (
        "dm-ua",
        {PROP_REPLY_TO: "dm1"},
        "**Request `r1abc`**",
    )
    assert (usage["props"], usage["message"].startswith("`status` takes")) == ({PROP_REPLY_TO: "dm2"}, True)


def _run(bot: Bot, text: str, reply: Any, **context: str) -> None:
    from bot.commands import parsing
    from bot.commands.run import execute

    asyncio.run(execute(bot.services, parsing.parse(text), ALICE, reply, source_id="dm:p1", **context))


def test_an_answer_lost_as_mattermost_goes_down_is_not_followed_by_a_second_answer() -> None:
    """The answer may have been posted with only the response lost (a dropped connection): a
    "Mattermost refused" line after it would be a second reply to one message."""
    from bot.mattermost.client import MattermostUnavailable

    bot, sent = Bot(), []

    async def reply(text: str) -> None:
        sent.append(text)
        raise MattermostUnavailable("the connection dropped before the response")

    bot.api.add(request_view())
    _run(bot, "status r1", reply)
    assert len(sent) == 1  # the status itself, tried once; no "Mattermost refused" after it


def test_a_mattermost_failure_elsewhere_is_still_explained_to_the_person() -> None:
    bot, sent = Bot(), []

    async def reply(text: str) -> None:
        sent.append(text)

    bot.chat.failing.add("open_dialog")  # opening the request form fails, not the answer
    _run(bot, "request", reply, trigger_id="trigger1", response_url=RESPONSE_URL)
    assert sent == ["Mattermost refused part of this; please try again."]
