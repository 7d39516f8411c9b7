"""A signed client of the JIT API (standard library HTTP + the contract models).

The bot and the local command-line client both use it; it never imports boto3.
"""

from __future__ import annotations

import http.client
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ValidationError

from jitwire.contract import (
    ACTOR_QUERY_FIELDS,
    ACTOR_VOUCHED_BY_QUERY_FIELD,
    Catalog,
    CreateRequestBody,
    ErrorBody,
    RequestList,
    RequestView,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from jitwire.models import Person
    from jitwire.signing import RequestSigner

ModelT = TypeVar("ModelT", bound=BaseModel)


class BackendError(Exception):
    """The backend answered with an error: ``status`` and its machine ``code`` and human ``message``."""

    def __init__(self, status: int, code: str, message: str, fields: dict[str, str] | None = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.fields = fields or {}


class BackendUnavailable(Exception):
    """The backend could not be reached or answered nonsense; nothing is known to have happened."""


class OutcomeUnknown(BackendUnavailable):
    """The call may have reached the backend (it timed out or the connection was reset mid-way).

    Unlike a refused connection, the backend may have done the work: tell nobody "nothing happened".
    """


# API Gateway's answer when the function outlived the integration timeout: the work may be done.
_GATEWAY_TIMEOUT = 504


class JitApiClient:
    def __init__(
        self,
        base_url: str,
        signer: RequestSigner,
        timeout: float = 10.0,
        *,
        settle_seconds: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        parsed = urllib.parse.urlsplit(base_url)
        self._base = base_url.rstrip("/")
        self._stage_prefix = parsed.path.rstrip("/")  # API Gateway stage: not part of the signed path
        self._signer = signer
        self._timeout = timeout
        self._settle_seconds = settle_seconds
        self._sleep = sleep
        self._monotonic = monotonic

    # -- transport -------------------------------------------------------------------------

    def call(self, method: str, path: str, query: list[tuple[str, str]] | None = None, body: Any = None) -> Any:
        query = query or []
        raw = b"" if body is None else json.dumps(body, separators=(",", ":")).encode()
        headers = self._signer.sign(method, path, query, raw)
        if raw:
            headers["Content-Type"] = "application/json"
        url = self._base + urllib.parse.quote(path) + ("?" + urllib.parse.urlencode(query) if query else "")
        request = urllib.request.Request(url, data=raw or None, method=method, headers=headers)  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:  # noqa: S310
                payload = response.read()
        except urllib.error.HTTPError as exc:
            if exc.code == _GATEWAY_TIMEOUT:
                raise OutcomeUnknown(f"the JIT backend at {self._base} timed out at the gateway") from None
            raise _backend_error(exc.code, exc.read()) from None
        except (urllib.error.URLError, TimeoutError, ConnectionError, http.client.HTTPException) as exc:
            if _may_have_arrived(exc):
                raise OutcomeUnknown(f"the JIT backend at {self._base} did not answer: {exc}") from exc
            raise BackendUnavailable(f"the JIT backend at {self._base} is unreachable: {exc}") from exc
        try:
            return json.loads(payload)
        except ValueError as exc:
            raise BackendUnavailable("the JIT backend answered with something that is not JSON") from exc

    def _model(self, model: type[ModelT], method: str, path: str, **kwargs: Any) -> ModelT:
        try:
            return model.model_validate(self.call(method, path, **kwargs))
        except ValidationError as exc:
            raise BackendUnavailable(f"unexpected answer from the JIT backend: {exc}") from exc

    # -- operations ------------------------------------------------------------------------

    def create_request(self, body: CreateRequestBody) -> RequestView:
        """Create, or find out what became of an attempt whose answer was lost.

        A timed-out or reset create may have been done by the backend. Asking again with the same
        idempotency key returns that request instead of a second one, so retry (with back-off) for
        up to ``settle_seconds`` before admitting the outcome is unknown.
        """
        payload = body.model_dump(mode="json")
        deadline = self._monotonic() + self._settle_seconds
        pause = 0.25
        while True:
            try:
                return self._model(RequestView, "POST", "/requests", body=payload)
            except OutcomeUnknown:
                if self._monotonic() + pause > deadline:
                    raise
            self._sleep(pause)
            pause = min(pause * 2, 4.0)

    def get_request(self, actor: Person, request_id: str) -> RequestView:
        return self._model(RequestView, "GET", f"/requests/{request_id}", query=_actor_query(actor))

    def list_requests(
        self, actor: Person, view: str = "mine", status: str | None = None, limit: int = 50
    ) -> RequestList:
        query = [*_actor_query(actor), ("view", view), ("limit", str(limit))]
        if status:
            query.append(("status", status))
        return self._model(RequestList, "GET", "/requests", query=query)

    def decide(self, actor: Person, request_id: str, decision: str, note: str | None = None) -> RequestView:
        body = {"actor": actor.model_dump(), "note": note}
        return self._model(RequestView, "POST", f"/requests/{request_id}/{decision}", body=body)

    def cancel(self, actor: Person, request_id: str) -> RequestView:
        return self._model(RequestView, "POST", f"/requests/{request_id}/cancel", body={"actor": actor.model_dump()})

    def revoke(self, actor: Person, request_id: str, note: str | None = None) -> RequestView:
        return self.decide(actor, request_id, "revoke", note)

    def extend(self, actor: Person, request_id: str, duration: str) -> RequestView:
        body = {"actor": actor.model_dump(), "duration": duration}
        return self._model(RequestView, "POST", f"/requests/{request_id}/extend", body=body)

    def place_card(self, actor: Person, request_id: str, channel_id: str, post_id: str) -> RequestView:
        body = {"actor": actor.model_dump(), "channel_id": channel_id, "post_id": post_id}
        return self._model(RequestView, "PUT", f"/requests/{request_id}/card", body=body)

    def catalog(self, actor: Person) -> Catalog:
        return self._model(Catalog, "GET", "/catalog", query=_actor_query(actor))

    def get_policy(self, actor: Person) -> dict[str, Any]:
        return dict(self.call("GET", "/config/policy", query=_actor_query(actor)))

    def put_policy(self, actor: Person, policy: dict[str, Any]) -> int:
        answer = self.call("PUT", "/config/policy", body={"actor": actor.model_dump(), "policy": policy})
        return int(answer["version"])

    def audit_report(self, actor: Person, window: str = "7d") -> dict[str, Any]:
        """Admins: ``{"from", "to", "grants": [...]}`` for the last ``window``."""
        return dict(self.call("GET", "/audit/report", query=[*_actor_query(actor), ("window", window)]))

    def health(self) -> bool:
        return bool(self.call("GET", "/health").get("status") == "ok")


def _may_have_arrived(exc: BaseException) -> bool:
    """A timeout or a reset: the backend may have the call. A refusal or an unknown host: it has not."""
    reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    if isinstance(reason, ConnectionRefusedError):
        return False
    return isinstance(reason, TimeoutError | ConnectionError | http.client.HTTPException)


def _actor_query(actor: Person) -> list[tuple[str, str]]:
    query = list(zip(ACTOR_QUERY_FIELDS, (actor.user_id, actor.username, actor.email), strict=True))
    if actor.vouched_by is not None:
        query.append((ACTOR_VOUCHED_BY_QUERY_FIELD, actor.vouched_by))
    return query


def _backend_error(status: int, payload: bytes) -> BackendError:
    try:
        error = ErrorBody.model_validate_json(payload)
    except ValidationError:
        return BackendError(status, "http_error", payload.decode("utf-8", "replace")[:300] or f"HTTP {status}")
    return BackendError(status, error.error, error.message, error.fields)
