"""A person at the sandbox's chat page (what `make run` prints first), in headless Chromium."""

from __future__ import annotations

import time

import requests
from playwright.sync_api import Page, Route, expect

from bot.commands.parsing import AUTOCOMPLETE_HINT
from tests.browser.conftest import shoot
from tests.e2e.conftest import System

REQUEST = "/jit request prod AdministratorAccess 30m INC-42"


def open_as(page: Page, sandbox: System, user: str) -> None:
    page.goto(f"{sandbox.mm.url}/?as={user}")
    expect(page.locator("#connection")).to_have_text("live: websocket connected")
    expect(page.locator("#channel-title")).to_have_text("JIT approvals")


def type_in_message_box(page: Page, text: str) -> None:
    box = page.get_by_placeholder("Write to ~jit-approvals, or type / for commands")
    box.fill(text)
    box.press("Enter")


def card(page: Page) -> object:
    return page.locator("#posts article").filter(has=page.locator(".attachment .title", has_text="Access request"))


def switch_to(page: Page, user: str) -> None:
    page.get_by_role("radio", name=user).click()
    expect(page.get_by_role("radio", name=user)).to_have_attribute("aria-checked", "true")


def test_alice_requests_access_and_sees_her_ephemeral_answer(page: Page, sandbox: System) -> None:
    open_as(page, sandbox, "alice")
    page.get_by_placeholder("Write to ~jit-approvals, or type / for commands").fill("/ji")
    suggestion = page.locator(".autocomplete .suggestion")
    expect(suggestion).to_contain_text("/jit")
    expect(suggestion.locator(".hint")).to_have_text(AUTOCOMPLETE_HINT)  # the hint the bot registered
    type_in_message_box(page, REQUEST)
    answer = page.locator("#posts article[data-ephemeral]").filter(has_text="is waiting for approval")
    expect(answer).to_contain_text("AdministratorAccess on prod for 30m")
    expect(answer).to_contain_text("(Only visible to you)")
    expect(card(page)).to_contain_text("Waiting for approval")
    shoot(page, "alice-request-answer")


def test_bob_approves_and_the_card_turns_granted_without_reloading(page: Page, sandbox: System) -> None:
    open_as(page, sandbox, "alice")
    type_in_message_box(page, REQUEST)
    expect(page.locator("#posts article[data-ephemeral]").filter(has_text="is waiting for approval")).to_be_visible()
    page.evaluate("window.__sameDocument = true")
    switch_to(page, "bob")
    expect(page.locator("#posts article[data-ephemeral]")).to_have_count(0)  # alice's answer was hers alone
    expect(card(page)).to_contain_text("@alice asks for AdministratorAccess on prod for 30m.")
    card(page).get_by_role("button", name="Approve").click()
    expect(card(page)).to_contain_text("GRANTED")
    expect(card(page)).to_contain_text("Granted until")
    expect(card(page).get_by_role("button", name="Approve")).to_have_count(0)
    expect(page.locator("#posts article[data-ephemeral]")).to_contain_text("You approved")
    access = page.locator("#access-table tbody tr").filter(has_text="AdministratorAccess")
    expect(access).to_contain_text("alice")
    expect(access).to_contain_text("left")
    expect(page.locator("#event-list")).to_contain_text("request.granted")
    assert page.evaluate("window.__sameDocument") is True  # updated live: the page never reloaded
    card(page).scroll_into_view_if_needed()
    shoot(page, "card-after-approval")


def test_alices_self_approval_is_refused(page: Page, sandbox: System) -> None:
    open_as(page, sandbox, "alice")
    type_in_message_box(page, REQUEST)
    card(page).get_by_role("button", name="Approve").click()
    refusal = page.locator("#posts article[data-ephemeral]").filter(has_text="your own request")
    expect(refusal).to_contain_text("you cannot approve or deny your own request")
    expect(card(page)).to_contain_text("Waiting for approval")
    shoot(page, "self-approval-refused")


def test_request_without_arguments_opens_the_form_and_a_bad_duration_shows_under_its_field(
    page: Page, sandbox: System
) -> None:
    open_as(page, sandbox, "alice")
    type_in_message_box(page, "/jit request")
    dialog = page.get_by_role("dialog", name="Request AWS access")
    expect(dialog).to_be_visible()
    access = dialog.get_by_label("Access")
    expect(access.locator("option", has_text="AdministratorAccess on prod")).to_have_count(1)
    access.select_option(label="AdministratorAccess on prod (max 4h)")
    dialog.get_by_label("Duration").fill("forever")
    dialog.get_by_label("Reason").fill("INC-42 database failover")
    dialog.get_by_role("button", name="Request").click()
    duration = dialog.locator("[data-field=duration]")
    expect(duration.locator(".field-error")).to_have_text("Use forms like 30m, 2h or 1h30m.")
    expect(dialog.locator("[data-field=reason] .field-error")).to_have_text("")
    expect(dialog).to_be_visible()  # the form stays open with what was typed
    expect(dialog.get_by_label("Reason")).to_have_value("INC-42 database failover")
    shoot(page, "dialog-field-error")
    dialog.get_by_label("Duration").fill("45m")
    dialog.get_by_role("button", name="Request").click()
    expect(dialog).to_be_hidden()
    expect(card(page)).to_contain_text("45m")


def test_an_alarm_fired_from_the_page_posts_to_oncall_and_resolves_in_its_thread(page: Page, sandbox: System) -> None:
    open_as(page, sandbox, "dave")
    page.get_by_label("Alarm").select_option("JIT-LambdaErrorRate")
    page.get_by_label("Value").fill("7.3")
    page.get_by_role("button", name="Fire").click()
    expect(page.locator("#alarm-result")).to_contain_text("JIT-LambdaErrorRate → ALARM")
    page.locator("#channel-list").get_by_role("button", name="On-call").click()
    alarm = page.locator("#posts article").filter(has_text="JIT-LambdaErrorRate")
    expect(alarm).to_contain_text("7.3 % > 5 %")
    expect(alarm).to_contain_text("What triggered:")  # the runbook excerpt
    expect(alarm).to_contain_text("Full runbook")
    expect(page.locator("[data-alarm=JIT-LambdaErrorRate]")).to_have_attribute("data-state", "ALARM")
    shoot(page, "alarm-post")
    page.get_by_label("State").select_option("OK")
    page.get_by_label("Value").fill("")
    page.get_by_role("button", name="Fire").click()
    expect(alarm).to_contain_text("Resolved")  # the bot answers in the thread, then edits the root
    alarm.get_by_role("button", name="1 reply").click()
    thread = page.locator("#thread-posts")
    expect(thread).to_contain_text("JIT-LambdaErrorRate is OK again")
    expect(alarm).to_contain_text("Resolved")
    shoot(page, "alarm-resolved-thread")


def test_what_was_posted_while_the_page_was_disconnected_shows_after_it_reconnects(page: Page, sandbox: System) -> None:
    open_as(page, sandbox, "carol")
    root = sandbox.mm.post_as(user="alice", channel="jit-approvals", message="before the outage")
    expect(page.locator("#posts")).to_contain_text("before the outage")
    sandbox.mm.stop(drop_tcp=True)  # the server dies: no close frame, and the events below are never sent
    expect(page.locator("#connection")).to_have_text("reconnecting…")
    sandbox.mm.post_as(user="bob", channel="jit-approvals", message="said during the outage")
    sandbox.mm.post_as(user="bob", channel="jit-approvals", message="a reply meanwhile", root_id=root["id"])
    sandbox.mm.start()
    expect(page.locator("#connection")).to_have_text("live: websocket connected")
    expect(page.locator("#posts")).to_contain_text("said during the outage")
    before = page.locator("#posts article").filter(has_text="before the outage")
    expect(before.get_by_role("button", name="1 reply")).to_be_visible()


def test_carol_writes_to_the_bot_in_a_direct_message(page: Page, sandbox: System) -> None:
    open_as(page, sandbox, "carol")
    page.locator("#dm-list").get_by_role("button", name="jit-bot").click()
    expect(page.locator("#channel-title")).to_have_text("@jit-bot")
    box = page.get_by_placeholder("Write to @jit-bot, or type / for commands")
    box.fill("list")
    box.press("Enter")
    expect(page.locator("#posts article").filter(has_text="carol")).to_contain_text("list")
    expect(page.locator("#posts")).to_contain_text("You have no requests yet.")
    shoot(page, "direct-message")


def test_a_message_renders_its_markdown_and_nothing_it_smuggles(page: Page, sandbox: System) -> None:
    open_as(page, sandbox, "carol")
    page.locator("#channel-list").get_by_role("button", name="Town Square").click()
    hostile = "**ready** `code` <img src=x onerror=alert(1)> [docs](https://example.com/x) [bad](javascript:alert(1))"
    box = page.get_by_placeholder("Write to ~town-square, or type / for commands")
    box.fill(hostile + "\n- one\n- two")
    box.press("Enter")
    message = page.locator("#posts article").filter(has_text="ready").locator(".message")
    expect(message.locator("strong")).to_have_text("ready")
    expect(message.locator("code")).to_have_text("code")
    expect(message.locator("li")).to_have_count(2)
    expect(message.locator("a[href='https://example.com/x']")).to_have_text("docs")
    expect(message).to_contain_text("<img src=x onerror=alert(1)>")  # shown as text, not an element
    assert message.locator("img").count() == 0
    assert message.locator("a[href^='javascript']").count() == 0


def test_a_post_arriving_while_the_channel_loads_is_kept(page: Page, sandbox: System) -> None:
    open_as(page, sandbox, "carol")

    def list_then_post_meanwhile(route: Route) -> None:
        listed = route.fetch()  # the list as it was before the message
        # carol herself, from another device: the page knows her, so no user lookup delays the event
        sandbox.mm.post_as(user="carol", channel="town-square", message="posted while the list loaded")
        time.sleep(1.0)  # the websocket delivers it to the page before the older list arrives
        route.fulfill(response=listed)

    town_square = sandbox.mm.channel_id("town-square")
    page.route(f"**/api/v4/channels/{town_square}/posts*", list_then_post_meanwhile)
    page.locator("#channel-list").get_by_role("button", name="Town Square").click()
    expect(page.locator("#channel-title")).to_have_text("Town Square")
    expect(page.locator("#posts")).to_contain_text("posted while the list loaded")


def test_the_alarm_helper_refuses_what_is_not_an_alarm(sandbox: System) -> None:
    url = f"{sandbox.mm.url}/_sandbox/alarm"
    unknown = requests.post(url, json={"name": "JIT-Nope"}, timeout=10)
    assert (unknown.status_code, unknown.json()) == (400, {"error": "no alarm named 'JIT-Nope'"})
    bad_state = requests.post(url, json={"name": "JIT-LambdaErrorRate", "state": "ON"}, timeout=10)
    assert bad_state.status_code == 400
    assert bad_state.json()["error"].startswith("state:")
    not_a_number = requests.post(url, json={"name": "JIT-LambdaErrorRate", "value": "NaN"}, timeout=10)
    assert not_a_number.status_code == 400
    as_a_form = requests.post(
        url, data='{"name": "JIT-LambdaErrorRate"}', headers={"Content-Type": "text/plain"}, timeout=10
    )
    assert as_a_form.status_code == 415
    assert sandbox.mm.posts("oncall") == []
