"""moto's server, switched to executing state machines, with the three seams the local stack needs.

0. DynamoDB: writes are serialised so conditional writes are atomic, as in DynamoDB; a cancelled
   transaction rolls back the items it named, not a copy of whole tables (``moto_transactions``).
1. Lambda: ``LambdaSimpleBackend.invoke`` dispatches to the real handlers by function name, and a
   raised exception becomes a function error whose ``errorType`` is its class name, as in AWS.
   The state machine interpreter reaches the handlers directly rather than through an HTTP request
   from moto to itself. In AWS every invocation has its own container and CPU; here all share one
   interpreter, so a hundred executions waking from a Wait in the same second would each get a
   hundredth of it and all reach their task late together. So an execution that wakes takes a
   turn (``jitlocal.turns``) and gives it back when its next task ends: at most ``woken_at_once``
   run at once, the others wait in arrival order.
2. Wait: ``TimestampPath`` waits follow the stack's clock (moto compares with naive local time,
   drops fractions of a second, and tests move a manual clock instead of sleeping). A real clock
   is read to the microsecond, so a wait wakes at its timestamp, as in AWS, and not up to a
   second later (the stack's own clock keeps second precision for what it stores).
3. Retry: the interval between Step Functions retries is scaled (tests use 0).
4. SNS HTTP(S) delivery: as in SNS, a delivery the endpoint refuses (no connection, non-2xx) does
   not fail the publish; it is counted as ``AWS/SNS NumberOfNotificationsFailed`` (dimension
   ``TopicName``) and, with a redrive policy, put in the dead-letter queue (moto posted once,
   ignored the status and failed the publish when nobody listened). No retries locally.
5. Identity Center: permission-set provisioning per account (``jitlocal.moto_provisioning``).
6. Dispatch speed: moto's server finds each request's service under one global lock by listing its
   own package folder and matching every service's URL patterns; the answer for a host never
   changes, so it is kept. Its state machine interpreter builds a new boto3 Lambda client for every
   task; one per region, service and server port is kept (clients are thread-safe). Under a burst of a hundred
   revokes these two were a fifth of the process's CPU and serialised every AWS call.

These patch moto's classes for the whole process: one local stack per process.
"""

from __future__ import annotations

import io
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import requests

from jitlocal.moto_provisioning import install_provisioning
from jitlocal.moto_transactions import install_item_level_transactions
from jitlocal.turns import Turns

log = logging.getLogger("jitlocal")

LambdaHandler = Callable[[dict[str, Any], Any], Any]
Clock = Callable[[], datetime]


class LambdaRegistry:
    """Function name → handler; the state machine's Lambda tasks land here."""

    def __init__(self, woken_at_once: int | None = None) -> None:
        self._handlers: dict[str, LambdaHandler] = {}
        self._turns = Turns(woken_at_once) if woken_at_once else None

    def take_turn(self) -> None:
        """An execution woke from a Wait: its next task starts when its turn comes."""
        if self._turns is not None:
            self._turns.take()

    def give_back_turn(self) -> None:
        """The task after a wake has ended (nothing if this execution holds no turn)."""
        if self._turns is not None:
            self._turns.give_back()

    def register(self, name: str, handler: LambdaHandler) -> None:
        self._handlers[name] = handler

    def invoke(self, function_name: str, body: Any, response_headers: dict[str, str]) -> bytes:
        name = function_name.rsplit(":function:", 1)[-1].split(":", 1)[0]
        handler = self._handlers.get(name)
        if handler is None:
            response_headers["x-amz-function-error"] = "Unhandled"
            return json.dumps({"errorType": "ResourceNotFoundException", "errorMessage": name}).encode()
        event = json.loads(body) if body else {}
        try:
            result = handler(event, None)
        except Exception as exc:  # noqa: BLE001 - becomes the function error the state machine matches on
            log.info("lambda %s raised %s: %s", name, type(exc).__name__, exc)
            response_headers["x-amz-function-error"] = "Unhandled"
            return json.dumps({"errorType": type(exc).__name__, "errorMessage": str(exc)}).encode()
        return json.dumps(result).encode()


class _ScaledTime:
    """Stands in for the ``time`` module inside moto's retrier: sleeps scaled by ``factor``."""

    def __init__(self, factor: float) -> None:
        self.factor = factor

    def sleep(self, seconds: float) -> None:
        if self.factor > 0:
            time.sleep(seconds * self.factor)

    def time(self) -> float:
        return time.time()


_DYNAMODB_LOCK = threading.RLock()
_DYNAMODB_WRITES = ("put_item", "update_item", "delete_item", "transact_write_items", "get_item")


def _serialise_dynamodb() -> None:
    """DynamoDB applies each conditional write atomically; moto's threaded server does not
    (two of fifty identical conditional puts were seen to pass). One lock restores the guarantee."""
    from moto.dynamodb.models import DynamoDBBackend

    for name in _DYNAMODB_WRITES:
        original = getattr(DynamoDBBackend, name)
        if getattr(original, "_jit_serialised", False):
            continue

        def serialised(backend: Any, *args: Any, _original: Any = original, **kwargs: Any) -> Any:
            with _DYNAMODB_LOCK:
                return _original(backend, *args, **kwargs)

        serialised._jit_serialised = True  # type: ignore[attr-defined]
        setattr(DynamoDBBackend, name, serialised)


def _give_back_turns_after_tasks(registry: LambdaRegistry) -> None:
    """A task runs in a thread of its own (its timeout); its execution's thread waits for it."""
    from moto.stepfunctions.parser.asl.component.state.exec.execute_state import ExecutionState

    original = getattr(ExecutionState._evaluate_with_timeout, "_jit_original", ExecutionState._evaluate_with_timeout)

    def evaluate_then_give_back(self: Any, env: Any) -> None:
        try:
            original(self, env)
        finally:
            registry.give_back_turn()

    evaluate_then_give_back._jit_original = original  # type: ignore[attr-defined]
    ExecutionState._evaluate_with_timeout = evaluate_then_give_back  # type: ignore[method-assign]


class _DirectLambda:
    """The interpreter's Lambda client: ``Invoke`` answered by the registry, with boto3's shape."""

    def __init__(self, registry: LambdaRegistry) -> None:
        self._registry = registry

    def invoke(self, *, FunctionName: str, Payload: bytes | str | None = None, **_: Any) -> dict[str, Any]:
        headers: dict[str, str] = {}
        body = self._registry.invoke(FunctionName, Payload, headers)
        response: dict[str, Any] = {"StatusCode": 200, "Payload": io.BytesIO(body)}
        if "x-amz-function-error" in headers:
            response["FunctionError"] = headers["x-amz-function-error"]
        return response


def install_patches(registry: LambdaRegistry, clock: Clock, retry_sleep_factor: float) -> None:
    from moto.awslambda_simple.models import LambdaSimpleBackend
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function.timestamp import Timestamp

    def invoke(_backend: Any, function_name: str, *args: Any) -> bytes:
        _qualifier, body, _headers, response_headers = args
        return registry.invoke(function_name, body, response_headers)

    def wait_for_timestamp(self: Any, env: Any) -> None:
        self.string.eval(env=env)
        text = env.stack.pop()
        target = parse_wait_timestamp(text) if self._is_valid_timestamp_pattern(text) else None
        if target is None:
            from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
                FailureEventException,
            )

            raise FailureEventException(self._create_failure_event(env, text))
        registry.give_back_turn()  # a turn taken at an earlier wake and not used by a task
        _wait_until(clock, target, env)
        if env.is_running():
            registry.take_turn()

    _give_back_turns_after_tasks(registry)
    install_item_level_transactions()  # before serialising, so the lock covers its rollback too
    _serialise_dynamodb()
    _deliver_http_as_sns(clock)
    install_provisioning()
    _remember_dispatch()
    _reuse_interpreter_clients(registry)
    LambdaSimpleBackend.invoke = invoke  # type: ignore[method-assign,assignment]
    Timestamp._eval_body = wait_for_timestamp  # type: ignore[method-assign]
    setattr(retrier_decl, "time", _ScaledTime(retry_sleep_factor))  # noqa: B010 - replacing a module the interpreter imported


def _remember_dispatch() -> None:
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    original = DomainDispatcherApplication.get_backend_for_host
    if getattr(original, "_jit_remembered", False):
        return
    known: dict[str | None, Any] = {}

    def get_backend_for_host(app: DomainDispatcherApplication, host: str | None) -> Any:
        if host not in known:
            known[host] = original(app, host)
        return known[host]

    get_backend_for_host._jit_remembered = True  # type: ignore[attr-defined]
    DomainDispatcherApplication.get_backend_for_host = get_backend_for_host  # type: ignore[method-assign,assignment]


def _reuse_interpreter_clients(registry: LambdaRegistry) -> None:
    from moto.settings import moto_server_port
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils

    installed = getattr(lambda_eval_utils, "boto_client_for")  # noqa: B009 - imported there, not exported
    original = getattr(installed, "_jit_original", installed)  # a later stack replaces an earlier one's
    clients: dict[tuple[str, str, str], Any] = {}
    lock = threading.Lock()
    direct_lambda = _DirectLambda(registry)

    def boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:  # noqa: ARG001
        if service == "lambda":
            return direct_lambda
        # moto's own ignores the credentials too: its clients differ only in these, and in the port
        # of the server they call (a later stack in the same process has another).
        key = (region, service, moto_server_port())
        with lock:
            if key not in clients:
                clients[key] = original(region, service)
            return clients[key]

    boto_client_for._jit_original = original  # type: ignore[attr-defined]
    setattr(lambda_eval_utils, "boto_client_for", boto_client_for)  # noqa: B010 - the name the interpreter calls


SNS_HTTP_TIMEOUT_SECONDS = 15  # SNS waits this long for an HTTP(S) endpoint to answer


def _deliver_http_as_sns(clock: Clock) -> None:
    from moto.sns.models import Subscription

    original = Subscription.publish
    if getattr(original, "_jit_sns_http", False):
        return

    def publish(sub: Any, message: str, message_id: str, subject: str | None = None, **kwargs: Any) -> None:
        if sub.protocol not in ("http", "https"):
            original(sub, message, message_id, subject=subject, **kwargs)
            return
        attributes = kwargs.get("message_attributes")
        if sub._filter_policy_matcher is not None and not sub._filter_policy_matcher.matches(attributes, message):
            return
        if kwargs.get("message_structure") == "json":
            message = sub._parse_message_structure(message, sub.protocol)
        envelope = sub.get_post_data(message, message_id, subject)
        try:
            response = requests.post(
                sub.endpoint,
                json=envelope,
                headers={"Content-Type": "text/plain; charset=UTF-8", "x-amz-sns-message-type": "Notification"},
                timeout=SNS_HTTP_TIMEOUT_SECONDS,
            )
            delivered = 200 <= response.status_code < 300
        except requests.RequestException:
            delivered = False
        _count_delivery(sub, delivered, clock)
        if not delivered:
            log.info("SNS delivery to %s failed (message %s)", sub.endpoint, message_id)
            _dead_letter(sub, envelope)

    publish._jit_sns_http = True  # type: ignore[attr-defined]
    Subscription.publish = publish  # type: ignore[method-assign,assignment]


def _count_delivery(sub: Any, delivered: bool, clock: Clock) -> None:
    from moto.cloudwatch.models import cloudwatch_backends

    region, topic_name = sub.topic.arn.split(":")[3], sub.topic.arn.split(":")[5]
    name = "NumberOfNotificationsDelivered" if delivered else "NumberOfNotificationsFailed"
    datum = {
        "MetricName": name,
        "Value": 1,
        "Unit": "Count",
        "Timestamp": clock().astimezone(UTC).replace(tzinfo=None),  # moto keeps naive UTC and compares with it
        "Dimensions": [{"Name": "TopicName", "Value": topic_name}],
    }
    cloudwatch_backends[sub.account_id][region].put_metric_data("AWS/SNS", [datum])


def _dead_letter(sub: Any, envelope: dict[str, Any]) -> None:
    from moto.sqs.models import sqs_backends

    policy = sub.attributes.get("RedrivePolicy")
    if not policy:
        return
    arn = json.loads(policy)["deadLetterTargetArn"]
    region, queue_name = arn.split(":")[3], arn.split(":")[5]
    sqs_backends[sub.account_id][region].send_message(queue_name, json.dumps(envelope))


def parse_wait_timestamp(text: str) -> datetime | None:
    """An ASL Wait timestamp (``...Z``, fractions of a second allowed) as an aware UTC datetime."""
    try:
        return datetime.fromisoformat(text).astimezone(UTC)
    except ValueError:
        return None


def precise_now(clock: Clock) -> Clock:
    """The reading a wait compares with: the stack's clock, unless that is the real one at second
    precision; then the real time to the microsecond."""
    from backend.wiring import utc_now

    return (lambda: datetime.now(UTC)) if clock is utc_now else clock


def _wait_until(clock: Clock, target: datetime, env: Any) -> None:
    from jitlocal.clock import ManualClock, ShiftedClock

    if isinstance(clock, ManualClock | ShiftedClock):
        clock.wait_until(target, should_stop=lambda: not env.is_running())
        return
    wait_until_moment(precise_now(clock), target, env.is_running, env.program_state_event.wait)


def wait_until_moment(
    now: Clock, target: datetime, running: Callable[[], bool], wait: Callable[[float], object]
) -> None:
    """Wait (in steps of at most 5 s, so an aborted execution leaves) until ``now()`` reaches ``target``."""
    while running():
        remaining = (target - now()).total_seconds()
        if remaining <= 0:
            return
        wait(min(remaining, 5.0))


def start_moto_server(port: int) -> Any:
    """moto's threaded server on 127.0.0.1, executing state machines, with simple Lambdas."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per AWS call otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    host, actual_port = server.get_host_and_port()
    # moto's state machine interpreter calls Lambda at localhost:$MOTO_PORT.
    os.environ["MOTO_PORT"] = str(actual_port)
    configure_moto(f"http://{host}:{actual_port}")
    return server


def configure_moto(url: str) -> None:
    response = requests.post(
        f"{url}/moto-api/config",
        json={"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}},
        timeout=10,
    )
    response.raise_for_status()


def reset_moto(url: str) -> None:
    requests.post(f"{url}/moto-api/reset", timeout=10).raise_for_status()
    configure_moto(url)
