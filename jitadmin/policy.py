"""Policy documents: validate a YAML file, diff it against the applied version, apply it."""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import ValidationError

from backend.domain.policy import Policy

if TYPE_CHECKING:
    from pathlib import Path


class PolicyFileError(Exception):
    """The file is not a valid policy; the message lists every problem."""


def load_policy_file(path: Path) -> Policy:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PolicyFileError(f"cannot read {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise PolicyFileError(f"{path} is not valid YAML: {exc}") from None
    if not isinstance(document, dict):
        raise PolicyFileError(f"{path} must hold a mapping (accounts, permission_sets, rules, ...)")
    try:
        return Policy.model_validate(document)
    except ValidationError as exc:
        problems = [
            f"  {'.'.join(str(p) for p in error['loc']) or '<document>'}: {error['msg']}"
            for error in exc.errors(include_url=False)
        ]
        raise PolicyFileError(f"{path} is not a valid policy:\n" + "\n".join(problems)) from None


def _canonical(value: Any) -> Any:
    """Sets come out of the model in arbitrary order: sort them so diffs show real changes only."""
    if isinstance(value, dict):
        return {k: _canonical(v) for k, v in value.items()}
    if isinstance(value, list):
        items = [_canonical(v) for v in value]
        return sorted(items) if all(isinstance(v, str) for v in items) else items
    return value


def policy_text(policy: Policy | None) -> str:
    if policy is None:
        return ""
    return yaml.safe_dump(_canonical(policy.model_dump(mode="json")), sort_keys=False, allow_unicode=True)


def policy_diff(current: Policy | None, proposed: Policy, proposed_name: str) -> list[str]:
    """Unified diff lines from the applied policy to the proposed one; empty when equal."""
    return list(
        difflib.unified_diff(
            policy_text(current).splitlines(),
            policy_text(proposed).splitlines(),
            fromfile="applied (jit_config)",
            tofile=proposed_name,
            lineterm="",
        )
    )
