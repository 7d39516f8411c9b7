"""The local stack's configuration file (config/local-stack.yaml)."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SeedUser(_Frozen):
    user_name: str
    email: str
    display_name: str
    groups: tuple[str, ...] = ()


class IdentityCenterSeed(_Frozen):
    users: tuple[SeedUser, ...]
    permission_sets: tuple[str, ...]


class StandingAccess(_Frozen):
    user: str
    account: str = Field(pattern=r"^\d{12}$")
    permission_set: str


class LocalStackConfig(_Frozen):
    region: str = "eu-central-1"
    audience: str = "jit-api.local"
    moto_port: int = Field(default=5055, ge=0, le=65535)
    api_port: int = Field(default=8787, ge=0, le=65535)
    reconcile_every_seconds: float = Field(default=60, gt=0)
    state_dir: Path = Path(".local-stack")
    policy_file: Path = Path("config/policy.yaml")
    identity_center: IdentityCenterSeed
    standing_access: tuple[StandingAccess, ...] = ()

    @classmethod
    def load(cls, path: Path) -> LocalStackConfig:
        """Relative paths in the file are relative to the repository root (the file's parent's parent)."""
        config = cls.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
        root = path.resolve().parent.parent
        return config.model_copy(
            update={
                "state_dir": config.state_dir if config.state_dir.is_absolute() else root / config.state_dir,
                "policy_file": config.policy_file if config.policy_file.is_absolute() else root / config.policy_file,
            }
        )


def repo_root() -> Path:
    return Path(__file__).resolve().parents[1]


def default_config_path() -> Path:
    return repo_root() / "config" / "local-stack.yaml"
