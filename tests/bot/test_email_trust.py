"""Whom the bot vouches for: SSO accounts, deployments that verify e-mail, or the operator's word."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import pytest

from bot.mattermost.trust import OPERATOR, SSO_ONLY, VERIFIED_EMAIL, EmailTrust, TrustSettings, deployment_verdict

DEFAULTS = {
    "EnableSignUpWithEmail": "true",
    "EnableSignInWithEmail": "true",
    "EnableSignInWithUsername": "true",
    "RequireEmailVerification": "false",
    "EnableOpenServer": "false",
}
SSO = frozenset({"saml", "gitlab"})


@pytest.mark.parametrize(
    ("changes", "verdict"),
    [
        ({}, None),  # Mattermost's defaults: anyone with a password account may type any address
        ({"EnableOpenServer": "true"}, None),
        ({"RequireEmailVerification": "true"}, VERIFIED_EMAIL),
        ({"RequireEmailVerification": "true", "EnableOpenServer": "true"}, VERIFIED_EMAIL),
        ({"EnableSignUpWithEmail": "false"}, None),  # existing password accounts can still change address
        ({"EnableSignInWithEmail": "false", "EnableSignInWithUsername": "false"}, SSO_ONLY),
        ({"EnableSignInWithEmail": "false"}, None),
    ],
)
def test_deployment_verdict(changes: dict[str, str], verdict: str | None) -> None:
    assert deployment_verdict(DEFAULTS | changes) == verdict


class Config:
    def __init__(self, values: Mapping[str, str]) -> None:
        self.values = dict(values)
        self.reads = 0
        self.fail = False

    async def __call__(self) -> Mapping[str, str]:
        self.reads += 1
        if self.fail:
            raise ConnectionError("Mattermost is down")
        return self.values


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _vouch(trust: EmailTrust, auth_service: str = "") -> str | None:
    return asyncio.run(trust.vouch(auth_service))


def test_sso_accounts_are_vouched_for_without_reading_the_config() -> None:
    config = Config(DEFAULTS)
    trust = EmailTrust(TrustSettings(SSO), config)
    assert _vouch(trust, "saml") == "sso:saml"
    assert _vouch(trust, "email") is None  # not a configured SSO service
    assert config.reads == 1


def test_the_config_is_reread_after_the_refresh_interval_and_a_failed_read_keeps_the_last_verdict() -> None:
    config, clock = Config(DEFAULTS | {"RequireEmailVerification": "true"}), Clock()
    trust = EmailTrust(TrustSettings(SSO, refresh_seconds=60), config, clock)
    assert _vouch(trust) == VERIFIED_EMAIL
    config.values["RequireEmailVerification"] = "false"
    clock.now += 30
    assert _vouch(trust) == VERIFIED_EMAIL and config.reads == 1
    clock.now += 31
    assert _vouch(trust) is None and config.reads == 2
    config.fail = True
    clock.now += 61
    assert _vouch(trust) is None


def test_nobody_is_vouched_for_before_the_config_could_be_read() -> None:
    config = Config(DEFAULTS | {"RequireEmailVerification": "true"})
    config.fail = True
    assert _vouch(EmailTrust(TrustSettings(SSO), config)) is None


def test_the_operator_override_and_switching_the_deployment_check_off() -> None:
    verified = Config(DEFAULTS | {"RequireEmailVerification": "true"})
    assert _vouch(EmailTrust(TrustSettings(SSO, trust_deployment_email=False), verified)) is None
    assert _vouch(EmailTrust(TrustSettings(SSO, trust_all_emails=True), Config(DEFAULTS))) == OPERATOR
