"""The bot's handlers wired to fakes at its two ports (bot/ports.py), in this process: no emulator,
no stack, no socket. ``call`` drives the real Starlette app over ASGI for the endpoint tests."""

from __future__ import annotations

import json
from collections.abc import Coroutine
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from alarms.catalogue import RUNBOOK_FILE
from alarms.format import AlarmPostSettings
from alarms.runbook import load_runbook
from alarms.sns import SnsVerifier
from bot.access.action_context import ContextSigner
from bot.access.cards import Cards
from bot.access.lifecycle_events import LifecycleHandler
from bot.access.services import AccessServices
from bot.app import Endpoints, build_app
from bot.oncall.alarm_buttons import AlarmButtons
from bot.oncall.alarm_context import AlarmContextSigner
from bot.oncall.alarm_intake import AlarmIntake
from bot.runbooks import default_runbooks_dir
from jitwire.models import Person
from tests.fakes.access_api import NOW, FakeAccessApi
from tests.fakes.chat import FakeChat

KEY = b"k" * 32
PUBLIC_URL = "https://bot.example.com"
ACTIONS_URL = PUBLIC_URL + "/mattermost/actions"
MATTERMOST_URL = "https://chat.example.com"
COMMAND_TOKEN = "slash-token"
APPROVALS = "approvalsid"
ONCALL = "oncallid"
ALICE = Person(user_id="ua", username="alice", email="alice@example.com")
BOB = Person(user_id="ub", username="bob", email="bob@example.com")
RUNBOOK = load_runbook(default_runbooks_dir() / RUNBOOK_FILE, docs_base_url=PUBLIC_URL + "/runbooks")


@dataclass
class Bot:
    """One bot's handlers over a ``FakeChat`` and a ``FakeAccessApi``, at a fixed clock."""

    chat: FakeChat = field(default_factory=lambda: FakeChat(users={ALICE.user_id: ALICE, BOB.user_id: BOB}))
    api: FakeAccessApi = field(default_factory=FakeAccessApi)
    now: datetime = NOW
    spawned: list[Coroutine[Any, Any, None]] = field(default_factory=list)

    def clock(self) -> datetime:
        return self.now

    @property
    def signer(self) -> ContextSigner:
        return ContextSigner(KEY, 3600)

    @property
    def alarm_signer(self) -> AlarmContextSigner:
        return AlarmContextSigner(KEY)

    @property
    def services(self) -> AccessServices:
        cards = Cards(self.chat, self.signer, ACTIONS_URL, "https://portal.example.com", self.clock)
        return AccessServices(self.chat, self.api, cards, self.signer, self.clock, PUBLIC_URL, APPROVALS, "approvals")

    @property
    def lifecycle(self) -> LifecycleHandler:
        return LifecycleHandler(self.services, ONCALL)

    def alarm_intake(self) -> AlarmIntake:
        settings = AlarmPostSettings(
            runbook_url=RUNBOOK.url,
            oncall_group_mention="@platform-oncall",
            action_url=ACTIONS_URL,
            sign_context=self.alarm_signer.sign,
        )
        return AlarmIntake(self.chat, ONCALL, RUNBOOK, settings, self.clock)

    def alarm_buttons(self) -> AlarmButtons:
        return AlarmButtons(self.chat, ONCALL, self.alarm_signer, ACTIONS_URL, self.clock)

    def endpoints(self) -> Endpoints:
        async def healthy() -> dict[str, bool]:
            return {"websocket": True, "backend": True}

        async def confirm(_url: str) -> None:
            return None

        return Endpoints(
            services=self.services,
            command_token=COMMAND_TOKEN,
            sns=SnsVerifier(frozenset(), lambda _url: b"", self.clock, trust_mode="local-unsigned"),
            lifecycle=self.lifecycle,
            spawn=self.spawned.append,
            healthy=healthy,
            confirm_subscription=confirm,
            alarms=self.alarm_intake(),
            alarm_buttons=self.alarm_buttons(),
            mattermost_url=MATTERMOST_URL,
        )

    async def call(self, path: str, body: bytes, content_type: str) -> tuple[int, Any]:
        """POST ``body`` to the bot's app over ASGI; the status and the JSON answer."""
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode())],
            "client": ("127.0.0.1", 50000),
            "server": ("bot", 80),
        }
        inbound = [{"type": "http.request", "body": body, "more_body": False}]
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return inbound.pop(0) if inbound else {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await build_app(self.endpoints())(scope, receive, send)
        status = next(m["status"] for m in sent if m["type"] == "http.response.start")
        answer = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
        return status, json.loads(answer)

    async def finish_background_work(self) -> None:
        """Run what the endpoints spawned (the slash command's work after its acknowledgement)."""
        while self.spawned:
            await self.spawned.pop(0)
