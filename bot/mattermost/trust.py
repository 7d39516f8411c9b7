"""Whether the bot can vouch for a Mattermost account's e-mail address (docs/identity.md).

The backend binds an account to the Identity Center user with that address only when the bot
vouches, and only once; so this decides who can be linked at all, never who is who later.
A bot sees other users' ``auth_service`` only as a system admin, and never their ``email_verified``,
so the per-user check is SSO, and the deployment-wide check is Mattermost's client configuration,
re-read every ``refresh_seconds``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

log = logging.getLogger("bot.trust")

VERIFIED_EMAIL = "mattermost:verified-email"
SSO_ONLY = "mattermost:sso-only"
OPERATOR = "operator:trust-all-emails"


@dataclass(frozen=True)
class TrustSettings:
    trusted_auth_services: frozenset[str]
    trust_deployment_email: bool = True
    trust_all_emails: bool = False
    refresh_seconds: float = 300.0


def deployment_verdict(config: Mapping[str, str]) -> str | None:
    """Can an account's e-mail come from anything but SSO or a verified address, in this deployment?

    - RequireEmailVerification: sign-ups and address changes take effect only once the mailbox
      owner follows the link, so typing someone else's address gets an account nowhere; open
      sign-up then only admits people with their own mailbox.
    - No e-mail or username sign-in: password accounts cannot sign in at all; every active
      account came through SSO, whose providers keep the address.
    """
    if config.get("RequireEmailVerification") == "true":
        return VERIFIED_EMAIL
    if config.get("EnableSignInWithEmail") == "false" and config.get("EnableSignInWithUsername") == "false":
        return SSO_ONLY
    return None


class EmailTrust:
    def __init__(
        self,
        settings: TrustSettings,
        fetch_client_config: Callable[[], Awaitable[Mapping[str, str]]],
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self._fetch = fetch_client_config
        self._monotonic = monotonic
        self._verdict: str | None = None
        self._read_at: float | None = None

    async def _deployment(self) -> str | None:
        now = self._monotonic()
        if self._read_at is None or now - self._read_at >= self._settings.refresh_seconds:
            try:
                config = await self._fetch()
            except Exception:  # keep the last answer (none at first: vouch for nobody)
                log.exception("could not read Mattermost's client configuration; keeping the previous verdict")
                return self._verdict
            verdict = deployment_verdict(config)
            if verdict != self._verdict:
                log.warning(
                    "Mattermost e-mail trust is now %s", verdict or "none (e-mail sign-in without verification)"
                )
            self._verdict, self._read_at = verdict, now
        return self._verdict

    async def vouch(self, auth_service: str) -> str | None:
        """How the account's e-mail is vouched for, or None (then the backend will not bind it)."""
        if auth_service and auth_service in self._settings.trusted_auth_services:
            return f"sso:{auth_service}"
        if self._settings.trust_deployment_email:
            verdict = await self._deployment()
            if verdict is not None:
                return verdict
        return OPERATOR if self._settings.trust_all_emails else None
