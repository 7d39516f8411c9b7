"""Bot settings: BOT_* environment variables, KEY=VALUE lines in a file (``BOT_CONFIG_FILE``), and
one file per secret in a folder (``BOT_SECRETS_DIR``, as Docker and Kubernetes mount secrets).

pydantic-settings maps ``BOT_<FIELD>`` variables to fields, but only from the mapping the entry point
passes to ``BotSettings.load``: constructing the class reads neither ``os.environ`` nor a ``.env`` file.
Secrets are ``SecretStr`` so a stray ``repr`` or log line never shows them.
"""

from __future__ import annotations

import io
import ipaddress
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from dotenv.parser import parse_stream
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import NoDecode, SecretsSettingsSource, SettingsConfigDict

from jitwire.b64url import b64url_decode_lenient
from jitwire.mapping_settings import MappingSettings

ENV_PREFIX = "BOT_"
CONFIG_FILE_VARIABLE = ENV_PREFIX + "CONFIG_FILE"
SECRETS_DIR_VARIABLE = ENV_PREFIX + "SECRETS_DIR"
SOURCE_VARIABLES = (CONFIG_FILE_VARIABLE, SECRETS_DIR_VARIABLE)  # where settings are, not settings


class BotSettings(MappingSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, frozen=True, extra="forbid")

    # Mattermost
    mattermost_url: str = Field(description="base URL of Mattermost, e.g. https://chat.example.com")
    mattermost_token: SecretStr = Field(description="the bot account's access token")
    mattermost_verify_tls: bool = True
    mattermost_ca_file: Path | None = None
    team_name: str = Field(min_length=1)
    approvals_channel: str = "jit-approvals"
    # The slash command: the token Mattermost sends; empty means "learn it when registering /jit".
    command_token: SecretStr = SecretStr("")
    command_trigger: str = Field(default="jit", pattern=r"^[a-z0-9_-]{1,128}$")
    register_command: bool = True
    public_url: str = Field(description="URL at which Mattermost reaches this bot (commands, buttons, dialogs)")
    # The backend
    backend_url: str
    backend_key_id: str = Field(pattern=r"^[a-z0-9-]{1,32}$")
    backend_key_secret: SecretStr = Field(description="base64url HMAC key shared with the backend")
    backend_audience: str = Field(min_length=1)
    backend_timeout_seconds: float = Field(default=10.0, gt=0)
    # How long a create whose answer was lost is asked again (same idempotency key) before giving up.
    backend_settle_seconds: float = Field(default=30.0, ge=0)
    # Buttons: their own key, never the backend key.
    action_key: SecretStr = Field(description="base64url key (>= 32 bytes) signing button contexts")
    action_ttl_seconds: int = Field(default=7 * 24 * 3600, gt=0)
    # SNS
    sns_trust_mode: Literal["aws", "local-unsigned"] = "aws"
    # NoDecode: a comma list (split below), not the JSON pydantic-settings expects for a tuple.
    sns_allowed_topics: Annotated[tuple[str, ...], NoDecode] = ()
    # Alarms (jit-alarms on /sns): where they are posted, who High alarms page, where the runbooks live.
    oncall_channel: str = "oncall"
    oncall_group_mention: str = Field(default="@oncall", pattern=r"^@[A-Za-z0-9._-]{1,64}$")
    # Base URL of docs/runbooks for links in alarm posts; empty means the bot's own /runbooks/.
    runbook_docs_url: str = ""
    # The runbook file parsed for alarm posts; empty means docs/runbooks/01-monitoring-alarms.md here.
    runbook_file: Path | None = None
    # Who the bot vouches for, so the backend may bind them to Identity Center (docs/identity.md):
    # accounts signed in through one of these SSO services (seen only if the bot is a system admin),
    # every account when the Mattermost client config shows e-mail is verified or SSO-only,
    # or every account when the operator vouches for the whole deployment (trust_all_emails).
    trusted_auth_services: Annotated[tuple[str, ...], NoDecode] = (
        "saml",
        "gitlab",
        "openid",
        "office365",
        "google",
        "ldap",
    )
    trust_deployment_email: bool = True
    trust_all_emails: bool = False
    client_config_refresh_seconds: float = Field(default=300.0, gt=0)
    # Service
    listen_host: str = "127.0.0.1"
    listen_port: int = Field(default=8080, ge=0, le=65535)
    aws_portal_url: str = ""
    websocket: bool = True
    replica_index: int = Field(default=0, ge=0)
    replica_count: int = Field(default=1, ge=1)
    worker_threads: int = Field(default=16, ge=1, le=256)

    @field_validator("mattermost_url", "public_url", "backend_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if urlsplit(value).scheme not in ("http", "https") or not urlsplit(value).hostname:
            raise ValueError("must be an http(s) URL")
        return value.rstrip("/")

    @field_validator("runbook_docs_url")
    @classmethod
    def _optional_http_url(cls, value: str) -> str:
        if value and (urlsplit(value).scheme not in ("http", "https") or not urlsplit(value).hostname):
            raise ValueError("must be an http(s) URL or empty")
        return value.rstrip("/")

    @field_validator("sns_allowed_topics", "trusted_auth_services", mode="before")
    @classmethod
    def _split_topics(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(t.strip() for t in value.split(",") if t.strip())
        return value

    @field_validator("trusted_auth_services")
    @classmethod
    def _auth_service_names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for name in value:
            if not name.isascii() or not name.isalnum() or not name.islower():
                raise ValueError(f"{name!r} is not a Mattermost auth_service name (e.g. saml, gitlab, openid)")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> BotSettings:
        if self.replica_index >= self.replica_count:
            raise ValueError("replica_index must be smaller than replica_count")
        if len(self.action_key_bytes()) < 32:
            raise ValueError("action_key must decode to at least 32 bytes")
        if self.sns_trust_mode == "local-unsigned" and not _is_loopback(self.listen_host):
            # local-unsigned trusts any sender on loopback: nobody else may be able to reach the bot.
            raise ValueError(f"sns_trust_mode local-unsigned needs listen_host on loopback, not {self.listen_host!r}")
        self.backend_key_bytes()
        return self

    def action_key_bytes(self) -> bytes:
        return _b64url(self.action_key.get_secret_value(), "action_key")

    def backend_key_bytes(self) -> bytes:
        return _b64url(self.backend_key_secret.get_secret_value(), "backend_key_secret")

    @classmethod
    def from_mapping(cls, values: Mapping[str, str], secrets: Mapping[str, str] | None = None) -> BotSettings:
        """``BOT_FOO`` keys become field ``foo``; other keys are ignored (the process environment).
        ``secrets`` (field → value, from ``secrets_in``) count only where ``values`` say nothing."""
        ours = {k: v for k, v in values.items() if k.startswith(ENV_PREFIX) and k not in SOURCE_VARIABLES}
        fields = cls.fields_from(ours)
        # pydantic-settings skips BOT_* names that are no field; a typo must fail, not be ignored.
        known = {ENV_PREFIX + name.upper() for name in cls.model_fields}
        unknown = {k[len(ENV_PREFIX) :].lower(): v for k, v in ours.items() if k.upper() not in known}
        return cls.model_validate(dict(secrets or {}) | fields | unknown)

    @classmethod
    def load(cls, environ: Mapping[str, str]) -> BotSettings:
        """The folder named by ``BOT_SECRETS_DIR`` (if any), the file named by ``BOT_CONFIG_FILE``
        (if any) over it, the environment over both: pydantic-settings' order (env, dotenv, secrets)."""
        merged: dict[str, str] = {}
        path = environ.get(CONFIG_FILE_VARIABLE)
        if path:
            merged |= parse_env_file(Path(path).read_text(encoding="utf-8"))
        merged |= {k: v for k, v in environ.items() if k.startswith(ENV_PREFIX)}
        folder = merged.get(SECRETS_DIR_VARIABLE)
        return cls.from_mapping(merged, cls.secrets_in(Path(folder)) if folder else None)

    @classmethod
    def secrets_in(cls, folder: Path) -> dict[str, str]:
        """Files named like the variables (``bot_mattermost_token``, any case), one value each, read by
        pydantic-settings; other files are ignored (a mounted folder may hold more)."""
        if not folder.is_dir():
            raise ValueError(f"{SECRETS_DIR_VARIABLE} {folder} is not a folder")
        found = SecretsSettingsSource(cls, secrets_dir=folder)()
        return {name: str(value) for name, value in found.items() if value is not None}


def parse_env_file(text: str) -> dict[str, str]:
    """``KEY=VALUE`` lines as python-dotenv reads them (quotes, ``export``, comments), without
    ``${VAR}`` expansion; a line it cannot read is an error, not skipped as ``dotenv_values`` would."""
    values: dict[str, str] = {}
    for binding in parse_stream(io.StringIO(text)):
        if binding.key is None and not binding.error:
            continue  # a blank or comment line
        if binding.error or binding.key is None or binding.value is None:
            # The binding starts at the blank lines before it; name the line that is wrong.
            raw = binding.original.string
            line = binding.original.line + raw[: len(raw) - len(raw.lstrip())].count("\n")
            raise ValueError(f"line {line}: expected KEY=VALUE")
        values[binding.key] = binding.value
    return values


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _b64url(text: str, name: str) -> bytes:
    try:
        return b64url_decode_lenient(text)
    except ValueError as exc:
        raise ValueError(f"{name} is not base64url") from exc
