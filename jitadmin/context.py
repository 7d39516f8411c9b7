"""Everything one ``jit-admin`` run works with, built once from the command line and environment."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from backend.settings import BackendSettings
from jitwire.models import Person

if TYPE_CHECKING:
    from rich.console import Console

    from backend.service.unit_of_work import UnitOfWork
    from backend.wiring import Clients

# Stack outputs (infra/template.yaml) → settings fields; `--stack NAME` reads them.
STACK_OUTPUTS: Mapping[str, str] = {
    "Audience": "audience",
    "KeysetSecretId": "keyset_secret_id",
    "StateMachineArn": "state_machine_arn",
    "EventsTopicArn": "events_topic_arn",
    "IdentityCenterInstanceArn": "identity_center_instance_arn",
    "IdentityStoreId": "identity_store_id",
}


class ConfigurationError(Exception):
    """The CLI does not know which deployment to act on."""


def settings_from_outputs(outputs: Mapping[str, str], region: str, endpoint_url: str | None = None) -> BackendSettings:
    missing = sorted(key for key in STACK_OUTPUTS if key not in outputs)
    if missing:
        raise ConfigurationError(f"the stack has no outputs {', '.join(missing)}; is it the JIT template?")
    values: dict[str, Any] = {field: outputs[key] for key, field in STACK_OUTPUTS.items()}
    return BackendSettings(region=region, endpoint_url=endpoint_url, **values)


def settings_from_env(env: Mapping[str, str], region: str | None, endpoint_url: str | None) -> BackendSettings:
    merged = dict(env)
    if region:
        merged["JIT_REGION"] = region
    if endpoint_url:
        merged["JIT_ENDPOINT_URL"] = endpoint_url
    try:
        return BackendSettings.from_env(merged)
    except ValidationError as exc:
        names = sorted({f"JIT_{str(e['loc'][0]).upper()}" for e in exc.errors() if e["loc"]})
        raise ConfigurationError(
            f"set --stack NAME, or the environment variables {', '.join(names)} (see docs/deploy.md)"
        ) from None


def operator_person(email: str) -> Person:
    """The human running jit-admin, as audit events name them."""
    local_part = email.partition("@")[0] or email
    try:
        return Person(user_id=f"jit-admin:{email}"[:64], username=local_part[:64], email=email)
    except ValidationError:
        raise ConfigurationError(f"--operator must be an e-mail address, not {email!r}") from None


def default_journal_dir(env: Mapping[str, str] = os.environ) -> Path:
    return Path(env.get("JIT_ADMIN_JOURNAL_DIR", "jit-admin-journal"))


@dataclass
class AdminContext:
    settings: BackendSettings
    clients: Clients
    uow: UnitOfWork
    console: Console
    prompt: Callable[[str], str]
    journal_dir: Path
    operator: Person | None
    now: Callable[[], datetime]

    def require_operator(self) -> Person:
        if self.operator is None:
            raise ConfigurationError("this command changes state: pass --operator EMAIL (or set JIT_OPERATOR)")
        return self.operator
