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
    # "" for e-mail/password accounts; "saml", "gitlab", "openid", "office365", "google", "ldap" for SSO.
    auth_service: str = ""
    email_verified: bool = True


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
    # GET /config/client values over DEFAULT_CLIENT_CONFIG (Mattermost sends every value as a string).
    client_config: dict[str, str] = Field(default_factory=dict)


# A subset of what a current Mattermost server answers to GET /config/client, with its defaults
# (no licence: the SAML, LDAP, Google and Office 365 flags read "false").
DEFAULT_CLIENT_CONFIG: dict[str, str] = {
    "SiteName": "Mattermost",
    "Version": "10.5.0",
    "EnableSignUpWithEmail": "true",
    "EnableSignInWithEmail": "true",
    "EnableSignInWithUsername": "true",
    "RequireEmailVerification": "false",
    "EnableOpenServer": "false",
    "ShowEmailAddress": "true",
    "ShowFullName": "true",
    "EnableSignUpWithGoogle": "false",
    "EnableSignUpWithOffice365": "false",
    "EnableSignUpWithOpenId": "false",
    "EnableSaml": "false",
    "EnableLdap": "false",
}


def default_seed_path() -> Path:
    return Path(__file__).resolve().parents[2] / "config" / "mattermost-sandbox.yaml"


def load_seed(path: Path | None = None) -> SandboxSeed:
    with (path or default_seed_path()).open(encoding="utf-8") as handle:
        return SandboxSeed.model_validate(yaml.safe_load(handle))
