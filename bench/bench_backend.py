"""Backend benchmarks: cold import, API latency through the local HTTP path, AWS calls per operation.

Each ``run()`` returns table rows (metric, value, note). Figures are from this machine (2 cores,
shared): read them as orders of magnitude and compare runs on the same machine only.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
import urllib.parse
import uuid
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
COLD_RUNS = 11
LATENCY_SAMPLES = 60
BURST_CLIENTS = 50
BURST_ROUNDS = 6  # each client: a create then a read, this many times

_IMPORT_ONLY = "import time; t=time.perf_counter(); import backend.handlers.api; print(time.perf_counter()-t)"
_IMPORT_BOTO3 = "import time; t=time.perf_counter(); import boto3; print(time.perf_counter()-t)"
# A fresh Lambda container's first event, as AWS runs it: import the handler module, then invoke it
# with a signed GET (settings from the environment, clients, routes and verifier built on the way,
# the AWS calls answered by the bench's moto server over HTTP). The event is read before the clock starts.
_FIRST_SIGNED_GET = """
import json, sys, time
event = json.loads(sys.stdin.read())
t = time.perf_counter()
import backend.handlers.api as h
from types import SimpleNamespace
context = SimpleNamespace(function_name="jit-api", memory_limit_in_mb=512, aws_request_id="bench",
                          invoked_function_arn="arn:aws:lambda:eu-west-1:111111111111:function:jit-api")
response = h.lambda_handler(event, context)
elapsed = time.perf_counter() - t
assert response["statusCode"] == 200, response
made = sorted(c.service for c in vars(h._process().clients).values() if c.made)
print(json.dumps({"seconds": elapsed, "clients": made, "boto3": "boto3" in sys.modules}))
"""

# What any handler that reads one request pays before code of ours runs: import boto3, the two
# clients a signed read needs (DynamoDB for the request, Secrets Manager for the key set), one call
# each. The start-up target is measured against ``import boto3``; this shows how much of it is fixed.
_BOTO3_FLOOR = """
import os, sys, time
t = time.perf_counter()
import boto3
session = boto3.session.Session(region_name=os.environ["AWS_REGION"])
url = os.environ.get("JIT_ENDPOINT_URL")
dynamodb = session.client("dynamodb", endpoint_url=url)
secrets = session.client("secretsmanager", endpoint_url=url)
dynamodb.get_item(TableName=sys.argv[2], Key={"request_id": {"S": sys.argv[1]}}, ConsistentRead=True)
secrets.get_secret_value(SecretId=os.environ["JIT_KEYSET_SECRET_ID"])
print(time.perf_counter() - t)
"""


def _median_of_fresh_processes(code: str) -> tuple[float, float]:
    samples = []
    for _ in range(COLD_RUNS):
        out = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
            env={"PATH": "", "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x", "PYTHONHASHSEED": "0"},
        )
        samples.append(float(out.stdout.strip()))
    return statistics.median(samples), min(samples)


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return statistics.median(ordered), p99


class CallCounter:
    def __init__(self, clients: Any) -> None:
        self.calls: Counter[str] = Counter()
        for name in ("dynamodb", "sso_admin", "identitystore", "stepfunctions", "sns", "secretsmanager", "cloudwatch"):
            getattr(clients, name).meta.events.register("before-call", self._count)

    def _count(self, model: Any, **_: Any) -> None:
        self.calls[f"{model.service_model.service_name}.{model.name}"] += 1

    def take(self) -> Counter[str]:
        taken, self.calls = self.calls, Counter()
        return taken


def _describe(calls: Counter[str]) -> str:
    return ", ".join(f"{name} {n}" for name, n in sorted(calls.items()))


def run() -> list[tuple[str, str, str]]:
    import os

    os.environ["TZ"] = "UTC"
    time.tzset()
    import logging

    logging.disable(logging.WARNING)
    from jitlocal.clock import ManualClock
    from jitlocal.stack import LocalStack, StackOptions
    from jitwire.contract import CreateRequestBody
    from jitwire.models import Person, RequestStatus

    rows: list[tuple[str, str, str]] = []
    median, best = _median_of_fresh_processes(_IMPORT_ONLY)
    rows.append(
        (
            "jit-api cold import (module)",
            f"{median * 1000:.0f} ms",
            f"median of {COLD_RUNS} fresh processes, min {best * 1000:.0f} ms; lazy imports",
        )
    )
    state = Path(os.environ.get("TMPDIR", "/tmp")) / f"jit-bench-{uuid.uuid4().hex[:8]}"
    clock = ManualClock()
    stack = LocalStack(
        StackOptions(
            moto_port=0, api_port=0, clock=clock, retry_sleep_factor=0, reconcile_every_seconds=0, state_dir=state
        )
    ).start()
    try:
        client = stack.client()
        alice = Person(user_id="mmalice", username="alice", email="alice@example.com", vouched_by="bench:local")
        bob = Person(user_id="mmbob", username="bob", email="bob@example.com", vouched_by="bench:local")
        counter = CallCounter(stack.clients)

        def body() -> CreateRequestBody:
            return CreateRequestBody(
                actor=alice,
                account="prod",
                permission_set="ReadOnlyAccess",
                duration="1h",
                reason="bench",
                idempotency_key=uuid.uuid4().hex,
            )

        # AWS calls for one request alone, first, so no other workflow runs meanwhile.
        client.create_request(body())  # warm caches (key set, policy, permission sets, directory)
        counter.take()
        one = client.create_request(body()).request_id
        create_calls = counter.take()
        client.decide(bob, one, "approve")
        approve_calls = counter.take()
        granted = stack.wait_for(one, RequestStatus.GRANTED, timeout=60)
        time.sleep(0.3)  # let the execution settle into its wait
        grant_calls = counter.take()
        clock.advance(granted.end_time - clock() + timedelta(seconds=1))
        stack.wait_for(one, RequestStatus.REVOKED, timeout=60)
        time.sleep(0.3)
        revoke_calls = counter.take()
        for name, calls in (
            ("create (API)", create_calls),
            ("approve (API)", approve_calls),
            ("grant (workflow)", grant_calls),
            ("warn + revoke (workflow)", revoke_calls),
        ):
            rows.append((f"AWS calls per {name}", str(sum(calls.values())), _describe(calls)))

        create_lat, ids = [], []
        for _ in range(LATENCY_SAMPLES):
            t = time.perf_counter()
            ids.append(client.create_request(body()).request_id)
            create_lat.append(time.perf_counter() - t)
        approve_lat = []
        for request_id in ids:
            t = time.perf_counter()
            client.decide(bob, request_id, "approve")
            approve_lat.append(time.perf_counter() - t)
            stack.wait_for(request_id, RequestStatus.GRANTED, timeout=60)
        p50, p99 = _percentiles(create_lat)
        rows.append(
            (
                "API create p50 / p99",
                f"{p50 * 1000:.0f} / {p99 * 1000:.0f} ms",
                f"{LATENCY_SAMPLES} sequential signed HTTP calls to the local API on moto",
            )
        )
        p50, p99 = _percentiles(approve_lat)
        rows.append(
            (
                "API approve p50 / p99",
                f"{p50 * 1000:.0f} / {p99 * 1000:.0f} ms",
                "includes StartExecution; each grant completes before the next approve",
            )
        )
        from jitwire.client import JitApiClient
        from jitwire.signing import RequestSigner

        # A generous client timeout: "dropped" means no answer at all, not a slow one on a busy machine.
        patient = JitApiClient(stack.api_url, RequestSigner(stack.signing_key(), stack.config.audience), timeout=60)
        rows.extend(_burst(patient, body, alice))
        rows.extend(_first_signed_get(stack, client.create_request(body()).request_id, alice))
    finally:
        stack.stop()
    return rows


def _first_signed_get(stack: Any, request_id: str, actor: Any) -> list[tuple[str, str, str]]:
    """A cold container's first signed GET against ``import boto3``, in interleaved fresh processes."""
    import json

    from backend.adapters import tables
    from jitlocal.http_api import proxy_event
    from jitwire.signing import RequestSigner

    settings = stack.settings
    env = {
        "PATH": "",
        "PYTHONHASHSEED": "0",
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_REGION": settings.region,
        **{f"JIT_{name.upper()}": str(value) for name, value in settings.model_dump().items() if value is not None},
    }
    signer = RequestSigner(stack.signing_key(), settings.audience)
    path = f"/requests/{request_id}"
    query = [("as_user_id", actor.user_id), ("as_username", actor.username), ("as_email", actor.email)]
    query.append(("as_vouched_by", actor.vouched_by))
    target = path + "?" + "&".join(f"{k}={urllib.parse.quote(v, safe='')}" for k, v in query)

    def fresh(code: str, stdin: str = "", *args: str) -> str:
        out = subprocess.run(
            [sys.executable, "-c", code, *args],
            input=stdin,
            capture_output=True,
            text=True,
            check=False,
            cwd=ROOT,
            env=env,
        )
        if out.returncode != 0:
            raise RuntimeError(f"cold start run failed: {out.stderr[-2000:]}")
        return out.stdout.strip().splitlines()[-1]

    boto3_times, floor_times, get_times, made, boto3_loaded = [], [], [], [], False
    for run in range(COLD_RUNS + 1):  # the first round only warms the file cache
        boto3_time = float(fresh(_IMPORT_BOTO3))
        floor_time = float(fresh(_BOTO3_FLOOR, "", request_id, tables.REQUESTS))
        event = proxy_event("GET", target, list(signer.sign("GET", path, query, b"").items()), b"", "127.0.0.1")
        result = json.loads(fresh(_FIRST_SIGNED_GET, json.dumps(event)))
        if run:
            boto3_times.append(boto3_time)
            floor_times.append(floor_time)
            get_times.append(result["seconds"])
        made, boto3_loaded = result["clients"], result["boto3"]
    baseline, floor = statistics.median(boto3_times), statistics.median(floor_times)
    first_get = statistics.median(get_times)
    note = f"median of {COLD_RUNS} interleaved fresh processes each"
    return [
        ("import boto3 (reference)", f"{baseline * 1000:.0f} ms", note),
        (
            "boto3 floor of a signed read / import boto3",
            f"{floor / baseline:.2f}x",
            f"{floor * 1000:.0f} ms: import boto3 + DynamoDB and Secrets Manager clients + one call each, "
            f"no code of ours; {note}",
        ),
        (
            "jit-api first signed GET, cold",
            f"{first_get * 1000:.0f} ms",
            f"import + settings + clients + routes + verifier + GET /requests/{{id}} on moto; "
            f"{(first_get - floor) * 1000:.0f} ms above the floor; {note}",
        ),
        (
            "jit-api first signed GET / import boto3",
            f"{first_get / baseline:.2f}x",
            f"target <= 1.5x (under the floor above); clients made: {', '.join(made)}; "
            f"boto3 imported: {'yes' if boto3_loaded else 'no'}",
        ),
    ]


def _burst(client: Any, body: Any, actor: Any) -> list[tuple[str, str, str]]:
    """50 clients at once, each creating and reading requests: latency, and nothing dropped."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    barrier = threading.Barrier(BURST_CLIENTS)

    failures: Counter[str] = Counter()

    def one_client(_: int) -> tuple[list[float], list[float], int]:
        creates, reads, failed = [], [], 0
        barrier.wait()
        for _round in range(BURST_ROUNDS):
            try:
                t = time.perf_counter()
                view = client.create_request(body())
                creates.append(time.perf_counter() - t)
                t = time.perf_counter()
                client.get_request(actor, view.request_id)
                reads.append(time.perf_counter() - t)
            except Exception as error:  # noqa: BLE001 - any failure is a dropped or failed request
                failed += 1
                failures[f"{type(error).__name__}: {str(error)[:60]}"] += 1
        return creates, reads, failed

    with ThreadPoolExecutor(BURST_CLIENTS) as pool:
        results = list(pool.map(one_client, range(BURST_CLIENTS)))
    creates = [x for r in results for x in r[0]]
    reads = [x for r in results for x in r[1]]
    failed = sum(r[2] for r in results)
    total = BURST_CLIENTS * BURST_ROUNDS * 2
    c50, c99 = _percentiles(creates) if creates else (0.0, 0.0)
    r50, r99 = _percentiles(reads) if reads else (0.0, 0.0)
    note = f"{BURST_CLIENTS} concurrent signed clients, {total} requests"
    return [
        ("API burst: dropped or failed", f"{failed} of {total}", f"must be 0; {note}; {dict(failures) or ''}"),
        ("API burst create p50 / p99", f"{c50 * 1000:.0f} / {c99 * 1000:.0f} ms", note),
        ("API burst read p50 / p99", f"{r50 * 1000:.0f} / {r99 * 1000:.0f} ms", note),
    ]
