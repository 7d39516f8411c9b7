"""Revoke lateness on the local stack: from ``end_time`` to REVOKED without ending sessions, and from
``end_time`` to the session-ending Deny statement provisioned (then REVOKED) with ``end_sessions``.

The manual clock jumps past ``end_time``; the wall time until the store shows REVOKED is the
lateness (the workflow's wait wakes, revokes, and for ``end_sessions`` merges the statement,
provisions the permission set to the account and polls until SUCCEEDED). moto answers provisioning
at once; in AWS it takes seconds, and IAM applies the statement within seconds to minutes after.
"""

from __future__ import annotations

import time
import uuid
from datetime import timedelta
from pathlib import Path

SAMPLES = 20


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p50 = ordered[len(ordered) // 2]
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return p50, p99


def run() -> list[tuple[str, str, str]]:
    import logging
    import os

    os.environ["TZ"] = "UTC"
    time.tzset()
    logging.disable(logging.WARNING)
    from backend.local.clock import ManualClock
    from backend.local.stack import LocalStack, StackOptions
    from jitwire.contract import CreateRequestBody
    from jitwire.models import Person, RequestStatus

    state = Path(os.environ.get("TMPDIR", "/tmp")) / f"jit-bench-{uuid.uuid4().hex[:8]}"
    clock = ManualClock()
    stack = LocalStack(
        StackOptions(
            moto_port=0, api_port=0, clock=clock, retry_sleep_factor=0, reconcile_every_seconds=0, state_dir=state
        )
    ).start()
    alice = Person(user_id="mmalice", username="alice", email="alice@example.com", vouched_by="bench:local")
    bob = Person(user_id="mmbob", username="bob", email="bob@example.com", vouched_by="bench:local")
    rows: list[tuple[str, str, str]] = []
    try:
        client = stack.client()
        # prod-admin ends sessions (config/policy.yaml); readonly does not.
        for label, permission_set in (
            ("revoke lateness: end_time → REVOKED", "ReadOnlyAccess"),
            ("end_time → deny provisioned (end_sessions)", "AdministratorAccess"),
        ):
            lateness: list[float] = []
            for _ in range(SAMPLES):
                created = client.create_request(
                    CreateRequestBody(
                        actor=alice,
                        account="prod",
                        permission_set=permission_set,
                        duration="1h",
                        reason="bench",
                        idempotency_key=uuid.uuid4().hex,
                    )
                )
                client.decide(bob, created.request_id, "approve")
                granted = stack.wait_for(created.request_id, RequestStatus.GRANTED, timeout=60)
                time.sleep(0.2)  # the execution settles into its wait
                clock.advance(granted.end_time - clock())
                started = time.perf_counter()
                revoked = stack.wait_for(created.request_id, RequestStatus.REVOKED, timeout=60)
                lateness.append(time.perf_counter() - started)
                if permission_set == "AdministratorAccess" and revoked.sessions_ended_at is None:
                    raise AssertionError("prod-admin should end sessions")
                clock.advance(timedelta(minutes=1))
            p50, p99 = _percentiles(lateness)
            rows.append(
                (label, f"{p50 * 1000:.0f} / {p99 * 1000:.0f} ms", f"p50 / p99 of {SAMPLES}, local stack (moto)")
            )
    finally:
        stack.stop()
    return rows
