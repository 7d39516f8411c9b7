"""The chat page's AWS side: who holds what now, recent lifecycle events, and firing the alarms.

Reads moto over HTTP with its own AWS clients (never the stack's objects in memory): Identity
Center's account assignments are who holds what; the request table says until when and through
which request; the audit table holds the lifecycle events. Firing an alarm runs the same code as
``python -m backend.local.fire_alarm`` (``backend.local.alarm_drill.fire``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import boto3
from boto3.dynamodb.types import TypeDeserializer
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from alarms.catalogue import CATALOGUE
from backend.adapters import tables
from backend.adapters.dynamodb_policy import DynamoPolicyStore
from backend.adapters.dynamodb_requests import request_from_item
from backend.domain.errors import DomainError
from backend.domain.models import AccessRequest
from backend.local.alarm_drill import State, fire
from jitwire.models import RequestStatus
from jitwire.timefmt import iso_z
from sandbox.mattermost.webpage import is_loopback

if TYPE_CHECKING:
    from backend.local.stack import LocalStack

RECENT_EVENTS = 15
_DESERIALIZER = TypeDeserializer()
ALARM_NAMES = tuple(d.name for d in CATALOGUE)


class FireAlarm(BaseModel):
    """What the page's alarm form sends: one of the eight alarms, a state, an optional datapoint."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=64)
    state: State = "ALARM"
    value: float | None = Field(default=None, allow_inf_nan=False)


@dataclass(frozen=True)
class StackEndpoints:
    moto_url: str
    region: str


@dataclass(frozen=True)
class IdentityCenter:
    """Found on moto at each read: a reset stack provisions new ARNs."""

    instance_arn: str
    identity_store_id: str
    permission_sets: dict[str, str]  # name → ARN


class StackConsole:
    def __init__(self, endpoints: StackEndpoints) -> None:
        self.endpoints = endpoints
        session = boto3.Session(
            aws_access_key_id="local",
            aws_secret_access_key="local",  # noqa: S106 - moto accepts any credentials
            region_name=endpoints.region,
        )

        def client(name: str) -> Any:
            return session.client(name, endpoint_url=endpoints.moto_url)  # type: ignore[call-overload]

        self.dynamodb = client("dynamodb")
        self.sso_admin = client("sso-admin")
        self.identitystore = client("identitystore")
        self.cloudwatch = client("cloudwatch")
        self.sns = client("sns")
        self.policies = DynamoPolicyStore(self.dynamodb, ttl_seconds=0)

    # reads ------------------------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        requests = self._requests()
        return {"access": self._access(requests), "events": self._events(requests), "alarms": self._alarms()}

    def _requests(self) -> dict[str, AccessRequest]:
        found: dict[str, AccessRequest] = {}
        for page in self.dynamodb.get_paginator("scan").paginate(TableName=tables.REQUESTS, ConsistentRead=True):
            for raw in page.get("Items", []):
                request = request_from_item(_plain(raw))
                found[request.request_id] = request
        return found

    def _identity_center(self) -> IdentityCenter:
        instance = self.sso_admin.list_instances()["Instances"][0]
        arns = [
            arn
            for page in self.sso_admin.get_paginator("list_permission_sets").paginate(
                InstanceArn=instance["InstanceArn"]
            )
            for arn in page["PermissionSets"]
        ]
        names = {
            self.sso_admin.describe_permission_set(InstanceArn=instance["InstanceArn"], PermissionSetArn=arn)[
                "PermissionSet"
            ]["Name"]: arn
            for arn in arns
        }
        return IdentityCenter(instance["InstanceArn"], instance["IdentityStoreId"], names)

    def _user_names(self, center: IdentityCenter) -> dict[str, str]:
        paginator = self.identitystore.get_paginator("list_users")
        pages = paginator.paginate(IdentityStoreId=center.identity_store_id)
        return {u["UserId"]: u["UserName"] for page in pages for u in page["Users"]}

    def _access(self, requests: dict[str, AccessRequest]) -> list[dict[str, Any]]:
        center = self._identity_center()
        names = self._user_names(center)
        accounts = {a.id: a.name for a in self.policies.current().accounts}
        granted = [r for r in requests.values() if r.status is RequestStatus.GRANTED]
        rows = []
        for account_id, account_name in sorted(accounts.items(), key=lambda a: a[1]):
            for ps_name, ps_arn in sorted(center.permission_sets.items()):
                pages = self.sso_admin.get_paginator("list_account_assignments").paginate(
                    InstanceArn=center.instance_arn, AccountId=account_id, PermissionSetArn=ps_arn
                )
                for page in pages:
                    for assignment in page["AccountAssignments"]:
                        principal = assignment["PrincipalId"]
                        through = [
                            r
                            for r in granted
                            if (r.principal_id, r.account_id, r.permission_set_arn) == (principal, account_id, ps_arn)
                        ]
                        ends = [r.end_time for r in through if r.end_time]
                        rows.append(
                            {
                                "user": names.get(principal, principal),
                                "account": account_name,
                                "account_id": account_id,
                                "permission_set": ps_name,
                                "until": iso_z(max(ends)) if ends else None,
                                "request_id": through[0].request_id if through else None,
                                "standing": not through,
                            }
                        )
        return rows

    def _events(self, requests: dict[str, AccessRequest]) -> list[dict[str, Any]]:
        items = [
            _plain(raw)
            for page in self.dynamodb.get_paginator("scan").paginate(TableName=tables.AUDIT, ConsistentRead=True)
            for raw in page.get("Items", [])
        ]
        items.sort(key=lambda i: (i["at"], i["at_seq"]), reverse=True)
        events = []
        for item in items[:RECENT_EVENTS]:
            request = requests.get(item["request_id"])
            actor = item.get("actor") or {}
            events.append(
                {
                    "at": item["at"],
                    "type": item["type"],
                    "status": item.get("to_status"),
                    "actor": actor.get("username"),
                    "request_id": item["request_id"],
                    "summary": _summary(request) if request else "",
                    "detail": item.get("detail"),
                }
            )
        return events

    def _alarms(self) -> list[dict[str, str]]:
        found = self.cloudwatch.describe_alarms(AlarmNames=list(ALARM_NAMES))["MetricAlarms"]
        states = {a["AlarmName"]: a.get("StateValue", "OK") for a in found}
        return [{"name": name, "state": states.get(name, "unknown")} for name in ALARM_NAMES]

    # writes -----------------------------------------------------------------------------------------
    def fire_alarm(self, order: FireAlarm) -> dict[str, Any]:
        return fire(self.cloudwatch, self.sns, order.name, order.state, order.value, self.endpoints.region)

    # HTTP -------------------------------------------------------------------------------------------
    def routes(self) -> list[Route]:
        async def aws(request: Request) -> Response:
            if not is_loopback(request):
                return JSONResponse({"error": "loopback only"}, status_code=403)
            try:
                return JSONResponse(await run_in_threadpool(self.snapshot))
            except (BotoCoreError, ClientError, DomainError) as error:  # moto stopped or not provisioned yet
                return JSONResponse({"error": f"the local stack did not answer: {error}"}, status_code=503)

        async def alarm(request: Request) -> Response:
            if not is_loopback(request):
                return JSONResponse({"error": "loopback only"}, status_code=403)
            if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
                # A cross-site form cannot send JSON without a CORS preflight, which is never granted.
                return JSONResponse({"error": "send application/json"}, status_code=415)
            try:
                order = FireAlarm.model_validate_json(await request.body())
            except ValidationError as error:
                return JSONResponse({"error": _first_error(error)}, status_code=400)
            if order.name not in ALARM_NAMES:
                return JSONResponse({"error": f"no alarm named {order.name!r}"}, status_code=400)
            message = await run_in_threadpool(self.fire_alarm, order)
            return JSONResponse({"alarm": order.name, "state": order.state, "reason": message["NewStateReason"]})

        return [
            Route("/_sandbox/aws", aws, methods=["GET"]),
            Route("/_sandbox/alarm", alarm, methods=["POST"]),
        ]


def _summary(request: AccessRequest) -> str:
    return (
        f"{request.requester.username}: {request.permission_set_name} on {request.account_name} "
        f"({_duration(request.duration.total_seconds())})"
    )


def _duration(seconds: float) -> str:
    minutes = int(seconds // 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m"


def _first_error(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "body"
    return f"{where}: {first['msg']}"


def _plain(raw: dict[str, Any]) -> dict[str, Any]:
    """A DynamoDB item as the adapters read it (``request_from_item`` takes this shape)."""
    return {k: _DESERIALIZER.deserialize(v) for k, v in raw.items()}


def console_for(stack: LocalStack) -> StackConsole:
    """Only the stack's address and region are taken; every read goes to moto over HTTP."""
    return StackConsole(StackEndpoints(moto_url=stack.moto_url, region=stack.config.region))
