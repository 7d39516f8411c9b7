"""The HTTP API of ``jit-api``: API Gateway proxy events → HMAC check → routes → use cases.

Routing is Powertools' REST resolver; HMAC verification runs before routing so an unsigned
request learns nothing, not even which paths exist. Every bad input answers 4xx with a reason.
"""

from __future__ import annotations

import base64
import json
import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from pydantic import BaseModel, ValidationError

from backend.api.jsonbody import parse_strict
from backend.auth.errors import AuthenticationFailed
from backend.auth.verifier import SignedHttpRequest
from backend.domain.errors import DomainError, InvalidRequest, NotAuthorized
from backend.domain.policy import Entitlement, Policy
from backend.domain.wire import request_view
from backend.service import access_requests as use_cases
from backend.service.audit_report import build_report, to_json
from backend.service.policy_apply import resolve_users
from jitwire import contract
from jitwire.models import CardRef, Person, RequestStatus
from jitwire.timefmt import format_duration, parse_duration

if TYPE_CHECKING:
    from collections.abc import Callable

    from backend.auth.verifier import HmacVerifier
    from backend.domain.ports import AuditRecord
    from backend.service.unit_of_work import UnitOfWork

log = logging.getLogger("backend.api")

UNSIGNED_PATHS = frozenset({"/health"})
JSON = "application/json"
BodyT = TypeVar("BodyT", bound=BaseModel)


def _json(status: int, model: BaseModel | dict[str, Any]) -> Response[str]:
    body = model.model_dump_json() if isinstance(model, BaseModel) else contract.ErrorBody(**model).model_dump_json()
    return Response(status_code=status, content_type=JSON, body=body)


def _error(status: int, code: str, message: str, fields: dict[str, str] | None = None) -> Response[str]:
    return _json(status, {"error": code, "message": message, "fields": fields})


def _field_errors(exc: ValidationError) -> dict[str, str]:
    return {".".join(str(p) for p in err["loc"]) or "body": err["msg"] for err in exc.errors()}


def signed_request_from_event(event: dict[str, Any]) -> SignedHttpRequest:
    """The API Gateway REST proxy event → what the verifier checks (path without the stage)."""
    raw = event.get("body") or ""
    body = base64.b64decode(raw) if event.get("isBase64Encoded") else raw.encode("utf-8")
    headers = [(k, v) for k, values in (event.get("multiValueHeaders") or {}).items() for v in values or []]
    if not headers:
        headers = list((event.get("headers") or {}).items())
    query = [(k, v) for k, values in (event.get("multiValueQueryStringParameters") or {}).items() for v in values or []]
    identity = (event.get("requestContext") or {}).get("identity") or {}
    return SignedHttpRequest(
        method=str(event.get("httpMethod", "")),
        path=str(event.get("path", "")),
        query=query,
        headers=headers,
        body=body,
        source_ip=str(identity.get("sourceIp") or "-"),
    )


class JitApi:
    """Routes bound to one process's use-case dependencies and verifier."""

    def __init__(
        self, uow: UnitOfWork, verifier: HmacVerifier, audit: Callable[[datetime], list[AuditRecord]] | None = None
    ) -> None:
        self._deps = uow
        self._audit = audit  # reads the append-only audit table (GET /audit/report)
        self._verifier = verifier
        self.app = app = APIGatewayRestResolver()
        app.exception_handler(DomainError)(self._domain_error)
        app.exception_handler(ValidationError)(self._validation_error)
        app.not_found(self._not_found)
        app.get("/health")(self.health)
        app.post("/requests")(self.create)
        app.get("/requests")(self.list_requests)
        app.get("/requests/<request_id>")(self.get_one)
        app.post("/requests/<request_id>/approve")(self.approve)
        app.post("/requests/<request_id>/deny")(self.deny)
        app.post("/requests/<request_id>/cancel")(self.cancel)
        app.post("/requests/<request_id>/revoke")(self.revoke)
        app.post("/requests/<request_id>/extend")(self.extend)
        app.put("/requests/<request_id>/card")(self.place_card)
        app.get("/catalog")(self.catalog)
        app.get("/config/policy")(self.get_policy)
        app.put("/config/policy")(self.put_policy)
        app.get("/audit/report")(self.audit_report)

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        if event.get("path") not in UNSIGNED_PATHS:
            try:
                self._verifier.verify(signed_request_from_event(event))
            except AuthenticationFailed as failure:
                message = "request too large" if failure.status_code == 413 else "unauthorized"
                return _raw_response(failure.status_code, {"error": "unauthorized", "message": message})
            except ValidationError:
                return _raw_response(401, {"error": "unauthorized", "message": "unauthorized"})
        try:
            return self.app.resolve(event, context)
        except Exception:
            log.exception("ERROR unhandled exception in jit-api")
            return _raw_response(500, {"error": "internal_error", "message": "internal error; it was logged"})

    # -- request parsing -------------------------------------------------------------------

    def _body(self, model: type[BodyT]) -> BodyT:
        return model.model_validate(parse_strict(_raw_body(self.app.current_event.raw_event)))

    def _query(self, name: str) -> str | None:
        found = (self.app.current_event.multi_value_query_string_parameters or {}).get(name) or []
        if len(found) > 1:
            raise InvalidRequest(f"query parameter {name} may appear only once")
        return found[0] if found else None

    def _actor(self) -> Person:
        values = {}
        for name in contract.ACTOR_QUERY_FIELDS:
            value = self._query(name)
            if value is None:
                raise InvalidRequest(f"query parameter {name} is required")
            values[name.removeprefix("as_")] = value
        vouched_by = self._query(contract.ACTOR_VOUCHED_BY_QUERY_FIELD)
        if vouched_by is not None:
            values["vouched_by"] = vouched_by
        return Person.model_validate(values)

    # -- errors ----------------------------------------------------------------------------

    def _domain_error(self, exc: DomainError) -> Response[str]:
        return _error(exc.status_code, exc.code, exc.message)

    def _validation_error(self, exc: ValidationError) -> Response[str]:
        fields = _field_errors(exc)
        summary = "; ".join(f"{k}: {v}" for k, v in fields.items())
        return _error(400, "invalid_request", f"the request is invalid: {summary}", fields)

    def _not_found(self, _exc: Exception) -> Response[str]:
        event = self.app.current_event
        return _error(404, "not_found", f"no route {event.http_method} {event.path}")

    # -- routes ----------------------------------------------------------------------------

    def health(self) -> Response[str]:
        return Response(status_code=200, content_type=JSON, body='{"status":"ok"}')

    def create(self) -> Response[str]:
        request, created = use_cases.create_request(self._deps, self._body(contract.CreateRequestBody))
        return _json(201 if created else 200, request_view(request))

    def list_requests(self) -> Response[str]:
        actor = self._actor()
        status_text = self._query("status")
        try:
            status = RequestStatus(status_text) if status_text else None
        except ValueError as exc:
            raise InvalidRequest(f"unknown status '{status_text}'") from exc
        limit_text = self._query("limit") or "50"
        if not limit_text.isdigit() or not 1 <= int(limit_text) <= 200:
            raise InvalidRequest("limit must be a number from 1 to 200")
        view = self._query("view") or "mine"
        found = use_cases.list_requests(self._deps, actor, view, status, int(limit_text))
        return _json(200, contract.RequestList(requests=tuple(request_view(r) for r in found)))

    def get_one(self, request_id: str) -> Response[str]:
        return _json(200, request_view(use_cases.get_request(self._deps, self._actor(), request_id)))

    def approve(self, request_id: str) -> Response[str]:
        body = self._body(contract.DecisionBody)
        return _json(200, request_view(use_cases.approve(self._deps, body.actor, request_id, body.note)))

    def deny(self, request_id: str) -> Response[str]:
        body = self._body(contract.DecisionBody)
        return _json(200, request_view(use_cases.deny(self._deps, body.actor, request_id, body.note)))

    def cancel(self, request_id: str) -> Response[str]:
        body = self._body(contract.ActorBody)
        return _json(200, request_view(use_cases.cancel(self._deps, body.actor, request_id)))

    def revoke(self, request_id: str) -> Response[str]:
        body = self._body(contract.DecisionBody)
        return _json(202, request_view(use_cases.revoke_early(self._deps, body.actor, request_id, body.note)))

    def extend(self, request_id: str) -> Response[str]:
        body = self._body(contract.ExtendBody)
        return _json(200, request_view(use_cases.extend(self._deps, body.actor, request_id, body.duration)))

    def place_card(self, request_id: str) -> Response[str]:
        body = self._body(contract.CardBody)
        card = CardRef(channel_id=body.channel_id, post_id=body.post_id)
        return _json(200, request_view(use_cases.place_card(self._deps, request_id, card)))

    def catalog(self) -> Response[str]:
        entries, is_admin = use_cases.catalog(self._deps, self._actor())
        return _json(200, contract.Catalog(entries=tuple(catalog_entry(e) for e in entries), is_admin=is_admin))

    def get_policy(self) -> Response[str]:
        policy = self._deps.policies.current()
        if not use_cases.is_admin(self._deps, self._actor()):
            raise NotAuthorized("only admins can read the policy")
        return Response(status_code=200, content_type=JSON, body=policy.model_dump_json())

    def put_policy(self) -> Response[str]:
        body = self._body(contract.PolicyBody)
        if not use_cases.is_admin(self._deps, body.actor):
            raise NotAuthorized("only admins can change the policy")
        policy = resolve_users(Policy.model_validate(body.policy), self._deps.directory)
        version = self._deps.policies.put(policy, body.actor, self._deps.now())
        return Response(status_code=200, content_type=JSON, body=json.dumps({"version": version}))

    def audit_report(self) -> Response[str]:
        """Admins: the auditors' report of the last ``window`` (default 7d, at most 31d) as JSON."""
        if not use_cases.is_admin(self._deps, self._actor()):
            raise NotAuthorized("only admins can read the audit report")
        try:
            window = parse_duration(self._query("window") or "7d")
        except ValueError as exc:
            raise InvalidRequest(str(exc)) from exc
        if window > MAX_REPORT_WINDOW:
            raise InvalidRequest("the report window may be at most 31d")
        if self._audit is None:
            raise InvalidRequest("this process cannot read the audit table")
        end = self._deps.now() + timedelta(seconds=1)  # exclusive: what happened this second is in
        start = end - window
        rows = build_report(self._audit(end), start, end)
        return Response(status_code=200, content_type=JSON, body=to_json(rows, start, end))


MAX_REPORT_WINDOW = timedelta(days=31)


def catalog_entry(entitlement: Entitlement) -> contract.CatalogEntry:
    return contract.CatalogEntry(
        account_id=entitlement.account.id,
        account_name=entitlement.account.name,
        permission_set=entitlement.permission_set,
        max_duration=format_duration(entitlement.max_duration),
        approvals_required=entitlement.approvals_required,
        auto_approve=entitlement.auto_approve,
    )


def _raw_body(event: dict[str, Any]) -> bytes:
    raw = event.get("body") or ""
    return base64.b64decode(raw) if event.get("isBase64Encoded") else raw.encode("utf-8")


def _raw_response(status: int, body: dict[str, str]) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"Content-Type": JSON},
        "multiValueHeaders": {},
        "body": json.dumps(body),
        "isBase64Encoded": False,
    }
