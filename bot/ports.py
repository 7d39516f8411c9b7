"""The bot's two ports: what the handlers call on Mattermost and on the backend, and nothing more.

``MattermostClient`` and ``JitApi`` satisfy them structurally; the in-process handler tests hand
in fakes instead (docs/architecture.md, "The bot's packages"). Set-up calls the composition root
alone makes (login, command registration, the health probe) stay on the concrete classes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from jitwire.contract import Catalog, CreateRequestBody, RequestList, RequestView
from jitwire.models import Person

T = TypeVar("T")
Json = dict[str, Any]


class ChatPort(Protocol):
    """Mattermost as the handlers use it (``bot.mattermost.client.MattermostClient``).

    Failures raise ``bot.mattermost.client.MattermostUnavailable``.
    """

    @property
    def bot_user_id(self) -> str: ...

    async def person(self, user_id: str) -> Person: ...

    async def direct_channel(self, user_id: str) -> str: ...

    async def direct_channel_ids(self) -> list[str]: ...

    async def create_post(
        self, channel_id: str, message: str, props: Json | None = None, root_id: str = ""
    ) -> Json: ...

    async def upload_file(self, channel_id: str, name: str, content: bytes, mime_type: str) -> str: ...

    async def create_post_with_files(self, channel_id: str, message: str, file_ids: list[str]) -> Json: ...

    async def get_post(self, post_id: str) -> Json: ...

    async def patch_post(self, post_id: str, message: str, props: Json) -> Json: ...

    async def delete_post(self, post_id: str) -> None: ...

    async def thread_posts(self, post_id: str) -> list[Json]: ...

    async def recent_posts(self, channel_id: str, per_page: int = 60) -> list[Json]: ...

    async def posts_since(self, channel_id: str, since_ms: int) -> list[Json]: ...

    async def open_dialog(self, trigger_id: str, url: str, dialog: Json) -> None: ...

    async def respond(self, response_url: str, payload: Json) -> None: ...


class AccessApiCalls(Protocol):
    """The backend's signed API calls the handlers make (``jitwire.client.JitApiClient``).

    Failures raise ``jitwire.client.BackendError`` (an answer) or ``BackendUnavailable`` (none).
    """

    def create_request(self, body: CreateRequestBody) -> RequestView: ...

    def get_request(self, actor: Person, request_id: str) -> RequestView: ...

    def list_requests(
        self, actor: Person, view: str = "mine", status: str | None = None, limit: int = 50
    ) -> RequestList: ...

    def decide(self, actor: Person, request_id: str, decision: str, note: str | None = None) -> RequestView: ...

    def cancel(self, actor: Person, request_id: str) -> RequestView: ...

    def revoke(self, actor: Person, request_id: str, note: str | None = None) -> RequestView: ...

    def extend(self, actor: Person, request_id: str, duration: str) -> RequestView: ...

    def place_card(self, actor: Person, request_id: str, channel_id: str, post_id: str) -> RequestView: ...

    def catalog(self, actor: Person) -> Catalog: ...

    def get_policy(self, actor: Person) -> dict[str, Any]: ...

    def audit_report(self, actor: Person, window: str = "7d") -> dict[str, Any]: ...


class AccessApiPort(Protocol):
    """The backend as the handlers await it (``bot.jit_api.JitApi``):
    ``await backend.run(lambda c: c.get_request(actor, request_id))``."""

    async def run(self, operation: Callable[[AccessApiCalls], T]) -> T: ...
