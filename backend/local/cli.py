"""``python -m backend.local.cli``: act on the local stack as a seeded user, through the signed API.

python -m backend.local.cli --as alice request staging AdministratorAccess 2m "try it"
python -m backend.local.cli --as bob approve <request id>
python -m backend.local.cli --as alice status <request id>
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from pathlib import Path

from backend.local.config import LocalStackConfig, default_config_path
from jitwire.b64url import b64url_decode
from jitwire.client import BackendError, BackendUnavailable, JitApiClient
from jitwire.contract import CreateRequestBody
from jitwire.models import Person
from jitwire.signing import RequestSigner, SigningKey


def _client(config: LocalStackConfig) -> JitApiClient:
    key = json.loads((config.state_dir / "bot-key.json").read_text(encoding="utf-8"))
    endpoints = json.loads((config.state_dir / "endpoints.json").read_text(encoding="utf-8"))
    signer = RequestSigner(SigningKey(key_id=key["key_id"], secret=b64url_decode(key["secret"])), key["audience"])
    return JitApiClient(endpoints["api_url"], signer)


LOCAL_VOUCH = "local:stack-cli"  # the local CLI acts for the seed people it knows by name


def _person(name: str, config: LocalStackConfig) -> Person:
    for user in config.identity_center.users:
        if name in (user.user_name, user.email):
            return Person(
                user_id=f"mm-{user.user_name}", username=user.user_name, email=user.email, vouched_by=LOCAL_VOUCH
            )
    return Person(user_id=f"mm-{name}", username=name, email=f"{name}@example.com", vouched_by=LOCAL_VOUCH)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m backend.local.cli", description=__doc__)
    parser.add_argument("--config", type=Path, default=default_config_path())
    parser.add_argument("--as", dest="user", required=True, help="seeded user name, e.g. alice")
    sub = parser.add_subparsers(dest="command", required=True)
    create = sub.add_parser("request")
    create.add_argument("account")
    create.add_argument("permission_set")
    create.add_argument("duration")
    create.add_argument("reason", nargs="+")
    for name in ("approve", "deny", "cancel", "revoke", "status"):
        sub.add_parser(name).add_argument("request_id")
    extend = sub.add_parser("extend")
    extend.add_argument("request_id")
    extend.add_argument("duration")
    sub.add_parser("list")
    sub.add_parser("approvals")
    sub.add_parser("catalog")
    args = parser.parse_args(argv)

    config = LocalStackConfig.load(args.config)
    actor = _person(args.user, config)
    try:
        client = _client(config)
    except FileNotFoundError:
        print("The local stack is not running (no key file); start it with `make run`.", file=sys.stderr)
        return 2
    try:
        result = _run(client, actor, args)
    except BackendError as exc:
        print(f"refused ({exc.status} {exc.code}): {exc.message}", file=sys.stderr)
        return 1
    except BackendUnavailable as exc:
        print(str(exc), file=sys.stderr)
        return 2
    print(json.dumps(result, indent=2, default=str))
    return 0


def _run(client: JitApiClient, actor: Person, args: argparse.Namespace) -> object:
    match args.command:
        case "request":
            body = CreateRequestBody(
                actor=actor,
                account=args.account,
                permission_set=args.permission_set,
                duration=args.duration,
                reason=" ".join(args.reason),
                idempotency_key=uuid.uuid4().hex,
            )
            return client.create_request(body).model_dump(mode="json")
        case "approve" | "deny" | "revoke":
            return client.decide(actor, args.request_id, args.command).model_dump(mode="json")
        case "cancel":
            return client.cancel(actor, args.request_id).model_dump(mode="json")
        case "extend":
            return client.extend(actor, args.request_id, args.duration).model_dump(mode="json")
        case "status":
            return client.get_request(actor, args.request_id).model_dump(mode="json")
        case "list":
            return client.list_requests(actor).model_dump(mode="json")
        case "approvals":
            return client.list_requests(actor, view="pending_approval").model_dump(mode="json")
        case "catalog":
            return client.catalog(actor).model_dump(mode="json")
    raise AssertionError(args.command)  # pragma: no cover


if __name__ == "__main__":
    raise SystemExit(main())
