"""Run ``jit-admin`` in-process against the local stack, with its own boto3 clients (fault hooks go there)."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from rich.console import Console

from backend.domain.models import AccessRequest
from backend.wiring import Clients, build_unit_of_work, make_clients
from jitadmin.cli import run
from jitadmin.context import AdminContext, operator_person
from jitlocal.stack import LocalStack
from jitwire.contract import CreateRequestBody
from jitwire.models import Person, RequestStatus

ALICE = Person(user_id="mmalice", username="alice", email="alice@example.com", vouched_by="sso:saml")
BOB = Person(user_id="mmbob", username="bob", email="bob@example.com", vouched_by="sso:saml")
OPERATOR = "oncall@example.com"


@dataclass
class AdminResult:
    code: int
    output: str
    prompts: list[str] = field(default_factory=list)


@dataclass
class Admin:
    stack: LocalStack
    journal_dir: Path
    clients: Clients

    def fresh_clients(self, **endpoint_overrides: str) -> Clients:
        """New boto3 clients at the stack's moto; ``stepfunctions="http://127.0.0.1:9"`` points one elsewhere."""
        session = boto3.Session(region_name=self.stack.settings.region)
        clients = make_clients(self.stack.settings, session)
        for name, url in endpoint_overrides.items():
            service = name.replace("_", "-")
            setattr(clients, name, session.client(service, endpoint_url=url))  # type: ignore[call-overload]
        return clients

    def __call__(
        self, *argv: str, answers: Iterable[str] = (), clients: Clients | None = None, operator: bool = True
    ) -> AdminResult:
        console = Console(file=io.StringIO(), width=250, color_system=None)
        replies = iter(answers)
        result = AdminResult(code=-1, output="")

        def prompt(text: str) -> str:
            result.prompts.append(text)
            return next(replies)

        def factory(args: Any, con: Console) -> AdminContext:
            used = clients or self.clients
            return AdminContext(
                settings=self.stack.settings,
                clients=used,
                uow=build_unit_of_work(self.stack.settings, used, self.stack.clock),
                console=con,
                prompt=prompt,
                journal_dir=args.journal_dir,
                operator=operator_person(args.operator) if args.operator else None,
                now=self.stack.clock,
            )

        prefix = ["--journal-dir", str(self.journal_dir)] + (["--operator", OPERATOR] if operator else [])
        result.code = run([*prefix, *argv], factory, console)
        result.output = console.file.getvalue()  # type: ignore[attr-defined]
        return result


@pytest.fixture
def admin(stack: LocalStack, tmp_path: Path) -> Admin:
    helper = Admin(stack=stack, journal_dir=tmp_path / "journal", clients=Clients(**vars(stack.clients)))
    helper.clients = helper.fresh_clients()
    return helper


def granted(stack: LocalStack, account: str = "staging", permission_set: str = "AdministratorAccess") -> AccessRequest:
    """A GRANTED request of alice's (staging admin is auto-approved; others are approved by bob)."""
    client = stack.client()
    created = client.create_request(
        CreateRequestBody(actor=ALICE, account=account, permission_set=permission_set, duration="2h", reason="INC-7")
    )
    if created.status is RequestStatus.PENDING:
        client.decide(BOB, created.request_id, "approve")
    return stack.wait_for(created.request_id, RequestStatus.GRANTED)  # type: ignore[no-any-return]


class EventQueue:
    """An SQS queue subscribed (raw) to jit-events: what the channel would be told."""

    def __init__(self, stack: LocalStack) -> None:
        self._sqs = boto3.client("sqs", endpoint_url=stack.moto_url, region_name=stack.settings.region)
        self._url = self._sqs.create_queue(QueueName="jit-events-tap")["QueueUrl"]
        arn = self._sqs.get_queue_attributes(QueueUrl=self._url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        stack.clients.sns.subscribe(
            TopicArn=stack.settings.events_topic_arn,
            Protocol="sqs",
            Endpoint=arn,
            Attributes={"RawMessageDelivery": "true"},
        )

    def events(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        while True:
            batch = self._sqs.receive_message(QueueUrl=self._url, MaxNumberOfMessages=10).get("Messages", [])
            if not batch:
                return found
            for message in batch:
                found.append(json.loads(message["Body"]))
                self._sqs.delete_message(QueueUrl=self._url, ReceiptHandle=message["ReceiptHandle"])

    def of_type(self, event_type: str) -> list[dict[str, Any]]:
        return [e for e in self.events() if e["type"] == event_type]


@pytest.fixture
def event_queue(stack: LocalStack) -> EventQueue:
    return EventQueue(stack)


def failing(clients: Clients, service: str, operations: Iterable[str]) -> Callable[[], None]:
    """Make ``operations`` of one client answer HTTP 500 at the wire; returns the undo."""
    from botocore.awsrequest import AWSResponse

    client = getattr(clients, service)
    event_prefix = client.meta.service_model.service_id.hyphenize()

    def refuse(**_kwargs: Any) -> AWSResponse:
        # 400 AccessDenied: not retried by botocore, so the drill needs no backoff sleeps.
        body = json.dumps({"__type": "AccessDeniedException", "message": "injected outage"}).encode()
        raw = _Raw(body)
        return AWSResponse("https://injected", 400, {"Content-Type": "application/x-amz-json-1.0"}, raw)

    names = [f"before-send.{event_prefix}.{op}" for op in operations]
    for name in names:
        client.meta.events.register_first(name, refuse)

    def undo() -> None:
        for name in names:
            client.meta.events.unregister(name, refuse)

    return undo


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_kwargs: Any) -> Iterable[bytes]:
        yield self._body

    def read(self) -> bytes:
        return self._body
