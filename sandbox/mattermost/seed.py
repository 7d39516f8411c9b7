"""Sandbox seed file (config/mattermost-sandbox.yaml) parsed into typed, frozen models."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field


class _Seed(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class TeamSeed(_Seed):
    name: str
    display_name: str


class ChannelSeed(_Seed):
    name: str
    display_name: str


class UserSeed(_Seed):
    username: str
    first_name: str = ""
    last_name: str = ""
    token: str = Field(min_length=1)
    password: str | None = None
    system_admin: bool = False
    team_admin: bool = False


class BotSeed(_Seed):
    username: str
    display_name: str = ""
    token: str = Field(min_length=1)
    system_admin: bool = False
    team_admin: bool = False


class SandboxSeed(_Seed):
    team: TeamSeed
    channels: tuple[ChannelSeed, ...] = ()
    users: tuple[UserSeed, ...] = ()
    bots: tuple[BotSeed, ...] = ()
    email_domain: str = "example.com"


def default_seed_path() -> Path:
    return Path(__file__).resolve().parents[2] / "config" / "mattermost-sandbox.yaml"


def load_seed(path: Path | None = None) -> SandboxSeed:
    with (path or default_seed_path()).open(encoding="utf-8") as handle:
        return SandboxSeed.model_validate(yaml.safe_load(handle))
