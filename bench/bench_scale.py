"""Scale: revoke lateness and grant latency in bursts, next to what the Identity Center budget allows.

One local stack on a clock that flows at the real rate but can jump over a grant's minutes
(``ShiftedClock``), so lateness is real while the run stays short. The workflow's tasks run on
four jit-api "containers" in turn, each with its own clients and call-budget object: the budget
they share lives in DynamoDB, and the calls per second are counted over all four. Every Identity
Center call is recorded at the wire (botocore's ``before-parameter-build`` on the stack's own
clients, which the adapter reaches only after its call budget), with the time and the user it
concerns. The call budget's own calls (``UpdateItem`` and ``GetItem`` on ``jit_budget``) are timed
at the wire too: their round trip shows how busy the local DynamoDB is during a burst (in AWS it
answers in milliseconds).

Bounds. With a budget of ``rate`` calls per second and one call per revoke, the k-th revoke of a
burst cannot finish before ⌊(k-1)/rate⌋ s after its end time. A grant cannot finish before the
calls ahead of it (creates and grants of the burst, counted at the wire) have fitted in the
budget: ⌊calls ahead/rate⌋ s after the burst began.
"""

from __future__ import annotations

import math
import os
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
USERS = 160  # 1 + 50 + 100 fresh users (none in the directory cache), and spare
DURATION = "10m"  # the expiry warning (10 min ahead) is then due at once, not in the revoke burst
IC_SERVICES = ("sso_admin", "identitystore")
TASK_INSTANCES = 4  # the workflow's tasks run on four jit-api "containers", each with its own budget object


@dataclass
class WireCall:
    at: float  # time.monotonic()
    clock: datetime  # the stack's clock at the same moment
    operation: str
    principal: str | None


@dataclass
class Wire:
    clock: Callable[[], datetime]
    calls: list[WireCall] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        principal = params.get("PrincipalId") if isinstance(params, dict) else None
        call = WireCall(time.monotonic(), self.clock(), model.name, principal)
        with self.lock:
            self.calls.append(call)

    def since(self, start: float) -> list[WireCall]:
        with self.lock:
            return [c for c in self.calls if c.at >= start]


@dataclass
class BudgetCalls:
    """The call budget's own DynamoDB round trips (on ``jit_budget``), at the wire."""

    table: str
    done: list[tuple[float, float]] = field(default_factory=list)  # (started, took)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        if isinstance(params, dict) and params.get("TableName") == self.table:
            context["bench_budget_call_started"] = time.monotonic()

    def finish(self, context: dict[str, Any], **_: Any) -> None:
        started = context.get("bench_budget_call_started")
        if started is not None:
            with self.lock:
                self.done.append((started, time.monotonic() - started))

    def since(self, start: float) -> list[float]:
        with self.lock:
            return [took for at, took in self.done if at >= start]


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _max_per_second(calls: list[WireCall]) -> int:
    """The most calls that started in any one-second window (sliding)."""
    times = sorted(c.at for c in calls)
    best, first = 0, 0
    for last, moment in enumerate(times):
        while times[first] <= moment - 1.0:
            first += 1
        best = max(best, last - first + 1)
    return best


def _wait(done: Callable[[], bool], timeout: float = 300.0, every: float = 0.5) -> None:
    from botocore.exceptions import ReadTimeoutError

    deadline = time.monotonic() + timeout
    while True:
        try:
            if done():
                return
        except ReadTimeoutError:  # moto busy with a burst: ask again
            pass
        if time.monotonic() > deadline:
            raise TimeoutError("the stack did not get there in time")
        time.sleep(every)  # lateness is read at the wire, not here: poll gently, moto is the bottleneck


def _config(state: Path) -> Path:
    base = yaml.safe_load((ROOT / "config" / "local-stack.yaml").read_text(encoding="utf-8"))
    extra = [
        {
            "user_name": f"u{i:03d}",
            "email": f"u{i:03d}@example.com",
            "display_name": f"Bench User{i:03d}",
            "groups": ["Engineers"],
        }
        for i in range(USERS)
    ]
    base["identity_center"]["users"] = list(base["identity_center"]["users"]) + extra
    base["state_dir"] = str(state)
    base["policy_file"] = str(ROOT / "config" / "policy.yaml")
    path = state / "local-stack.yaml"
    state.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(base), encoding="utf-8")
    return path


def run() -> list[tuple[str, str, str]]:
    os.environ["TZ"] = "UTC"
    time.tzset()
    import logging

    logging.disable(logging.WARNING)
    from jitlocal.clock import ShiftedClock
    from jitlocal.stack import LocalStack, StackOptions

    state = Path(os.environ.get("TMPDIR", "/tmp")) / f"jit-bench-scale-{uuid.uuid4().hex[:8]}"
    clock = ShiftedClock()
    options = StackOptions(
        config_path=_config(state),
        moto_port=0,
        api_port=0,
        clock=clock,
        retry_sleep_factor=1.0,
        reconcile_every_seconds=0,
        state_dir=state,
        task_instances=TASK_INSTANCES,
    )
    stack = LocalStack(options).start()
    try:
        bench = ScaleRun(stack, clock)
        bench.per_operation()
        bench.scenarios()
        return bench.rows
    finally:
        stack.stop()


class ScaleRun:
    def __init__(self, stack: Any, clock: Any) -> None:
        from backend.adapters import tables
        from backend.adapters.shared_budget import ring_for
        from jitwire.client import JitApiClient
        from jitwire.signing import RequestSigner

        self.stack = stack
        self.clock = clock
        self.rate = stack.settings.ic_calls_per_second
        ring = ring_for(self.rate)
        self.pace = ring.places / float(ring.window)  # windows a little over a second (docs/architecture.md)
        self.wire = Wire(clock)
        self.budget_calls = BudgetCalls(tables.BUDGET)
        for clients in stack.instance_clients:
            events = clients.dynamodb.meta.events
            for operation in ("UpdateItem", "GetItem"):
                events.register(f"before-parameter-build.dynamodb.{operation}", self.budget_calls.start)
                events.register(f"after-call.dynamodb.{operation}", self.budget_calls.finish)
            for name in IC_SERVICES:
                getattr(clients, name).meta.events.register("before-parameter-build", self.wire.record)
        # A burst queues creates behind the budget for longer than a chat client would wait; the
        # bench measures the backend, so its client waits as long as it takes.
        signer = RequestSigner(stack.signing_key(), stack.config.audience)
        self.client = JitApiClient(stack.api_url, signer, timeout=600)
        self.users = iter(range(USERS))
        self.rows: list[tuple[str, str, str]] = []

    def people(self, n: int) -> list[Any]:
        from jitwire.models import Person

        chosen = [next(self.users) for _ in range(n)]
        return [
            Person(user_id=f"mm{i:03d}", username=f"u{i:03d}", email=f"u{i:03d}@example.com", vouched_by="bench:local")
            for i in chosen
        ]

    def ask(
        self,
        person: Any,
        account: str = "staging",
        permission_set: str = "AdministratorAccess",
        duration: str = DURATION,
    ) -> str:
        """staging AdministratorAccess is auto-approved (staging-self-service)."""
        from jitwire.contract import CreateRequestBody

        body = CreateRequestBody(
            actor=person,
            account=account,
            permission_set=permission_set,
            duration=duration,
            reason="bench burst",
            idempotency_key=uuid.uuid4().hex,
        )
        return self.client.create_request(body).request_id

    def burst(self, n: int) -> tuple[list[str], float]:
        from jitwire.models import RequestStatus

        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=min(n, 16)) as pool:
            ids = list(pool.map(self.ask, self.people(n)))
        self.seen_at_wire("CreateAccountAssignment", n, started)
        for request_id in ids:
            self.until(request_id, RequestStatus.GRANTED)
        return ids, started

    def seen_at_wire(self, operation: str, n: int, since: float) -> None:
        """Wait, making no AWS call, until ``n`` calls of ``operation`` have left: polling the store
        for a hundred requests while they are processed took a seventh of the stack's CPU."""
        _wait(lambda: sum(1 for c in self.wire.since(since) if c.operation == operation) >= n, every=0.1)

    def until(self, request_id: str, status: Any) -> None:
        _wait(lambda: self.stack.uow.store.get(request_id).status is status)

    def counted(self, step: Callable[[], object]) -> list[str]:
        mark = time.monotonic()
        step()
        return [c.operation for c in self.wire.since(mark)]

    def per_operation(self) -> None:
        """Identity Center calls of one create (new user, then cached), one grant, one revoke."""
        from jitwire.models import Person, RequestStatus

        bob = Person(user_id="mmbob", username="bob", email="bob@example.com", vouched_by="bench:local")
        warm = self.ask(self.people(1)[0], "prod", "ReadOnlyAccess")  # needs approval: no workflow runs
        self.client.decide(bob, warm, "deny", "warm-up")  # bob's groups are cached from here on
        [person] = self.people(1)
        ids: list[str] = []
        # 1h: the grant's own execution still waits for its warning when the early revoke runs.
        new_user = self.counted(lambda: ids.append(self.ask(person, "prod", "ReadOnlyAccess", "1h")))
        cached = self.counted(lambda: ids.append(self.ask(person, "prod", "ReadOnlyAccess", "1h")))
        self.client.decide(bob, ids[1], "deny", "one is enough")

        def approve_and_grant() -> None:
            self.client.decide(bob, ids[0], "approve")
            self.until(ids[0], RequestStatus.GRANTED)

        def revoke() -> None:
            self.client.revoke(person, ids[0], "bench")
            self.until(ids[0], RequestStatus.REVOKED)

        grant = self.counted(approve_and_grant)
        revoked = self.counted(revoke)
        detail = "; ".join(
            f"{label}: {', '.join(ops) or '-'}"
            for label, ops in (("new", new_user), ("grant", grant), ("revoke", revoked))
        )
        self.rows.append(
            (
                "IC calls per create (new user / cached) / grant / revoke",
                f"{len(new_user)} / {len(cached)} / {len(grant)} / {len(revoked)}",
                detail + " (moto answers at once; AWS adds a status poll to each create/delete)",
            )
        )

    def revokes_after(
        self, ids: list[str], wake_before: timedelta
    ) -> tuple[list[float], list[float], list[WireCall], list[float]]:
        """Jump to just before the first end time, let time flow; return lateness and bounds per
        revoke, the Identity Center calls, and the call budget's own round trips meanwhile."""
        from jitwire.models import RequestStatus

        store = self.stack.uow.store
        requests = [store.get(r) for r in ids]
        principal_end = {r.principal_id: r.end_time for r in requests}
        first_end = min(e for e in principal_end.values() if e is not None)
        # Every expiry warning is done first (those tasks must not crowd the revokes), then to the end.
        last_warning = max(r.warn_at for r in requests if r.warn_at is not None) + timedelta(seconds=1)
        if last_warning > self.clock():
            self.clock.jump_to(last_warning)
        for request in requests:
            _wait(lambda r=request: any(e.type == "request.expiring_soon" for e in store.audit_trail(r.request_id)))
        started = time.monotonic()
        self.clock.jump_to(first_end - wake_before)
        self.seen_at_wire("DeleteAccountAssignment", len(ids), started)
        for request_id in ids:
            self.until(request_id, RequestStatus.REVOKED)
        calls = self.wire.since(started)
        deletes = sorted((c for c in calls if c.operation == "DeleteAccountAssignment"), key=lambda c: c.at)
        lateness = [
            (c.clock - end).total_seconds()
            for c in deletes
            if c.principal is not None and (end := principal_end.get(c.principal)) is not None
        ]
        bounds = [math.floor(k / self.rate) for k in range(len(lateness))]  # k from 0: floor((k-1)/rate)
        return lateness, bounds, calls, self.budget_calls.since(started)

    def revoke_row(
        self, label: str, lateness: list[float], bounds: list[float], calls: list[WireCall], booked: list[float]
    ) -> None:
        excess = [late - bound for late, bound in zip(lateness, bounds, strict=True)]
        p50, p99 = _percentile(lateness, 0.5), _percentile(lateness, 0.99)
        b50, b99 = _percentile(bounds, 0.5), _percentile(bounds, 0.99)
        self.rows.append(
            (
                f"revoke lateness {label} p50 / p99",
                f"{p50:.2f} / {p99:.2f} s",
                f"bound ⌊(k-1)/rate⌋ at those ranks {b50:.0f} / {b99:.0f} s; p99 over the bound "
                f"{_percentile(excess, 0.99):.2f} s; IC calls/s max {_max_per_second(calls)} "
                f"(budget {self.rate:g}, paced at {self.pace:.2f}/s); budget table calls {len(booked)} "
                f"({len(booked) / max(1, len(lateness)):.1f} per revoke), round trip p50 / max "
                f"{_percentile(booked, 0.5) if booked else 0:.2f} / {max(booked, default=0):.2f} s",
            )
        )

    def grant_row(self, started: float) -> None:
        calls = self.wire.since(started)
        grants = sorted((c for c in calls if c.operation == "CreateAccountAssignment"), key=lambda c: c.at)
        latency = [c.at - started for c in grants]
        bounds = [math.floor(sum(1 for c in calls if c.at < g.at) / self.rate) for g in grants]
        excess = [lat - bound for lat, bound in zip(latency, bounds, strict=True)]
        self.rows.append(
            (
                "grant latency N=50 p50 / p99",
                f"{_percentile(latency, 0.5):.1f} / {_percentile(latency, 0.99):.1f} s",
                f"bound ⌊calls ahead/rate⌋ at those ranks {_percentile(bounds, 0.5):.0f} / "
                f"{_percentile(bounds, 0.99):.0f} s; p99 over the bound {_percentile(excess, 0.99):.2f} s; "
                f"IC calls/s max {_max_per_second(calls)} (budget {self.rate:g}, paced at {self.pace:.2f}/s)",
            )
        )

    def scenarios(self) -> None:
        # N=1: one grant, one revoke.
        ids, _ = self.burst(1)
        self.revoke_row("N=1", *self.revokes_after(ids, timedelta(seconds=2)))

        # N=50 at once: grants (and so end times) spread at the rate the budget allows.
        ids, started = self.burst(50)
        self.grant_row(started)
        self.revoke_row("N=50 natural", *self.revokes_after(ids, timedelta(seconds=1)))

        # N=100 expiring in the same second: granted while the clock stands still.
        self.clock.freeze()
        ids, _ = self.burst(100)
        self.clock.jump_to(self.clock())  # flowing again; revokes_after moves it on
        ends = {self.stack.uow.store.get(r).end_time for r in ids}
        assert len(ends) == 1, f"expected one end time, got {len(ends)}"
        self.revoke_row("N=100 same second", *self.revokes_after(ids, timedelta(seconds=1)))
