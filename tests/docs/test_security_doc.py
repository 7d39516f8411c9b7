"""docs/security.md is the trust model: linked from the README, naming every secret the bot holds."""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr

from bot.settings import ENV_PREFIX, BotSettings

ROOT = Path(__file__).resolve().parents[2]
SECURITY = (ROOT / "docs" / "security.md").read_text(encoding="utf-8")


def test_the_readme_links_the_trust_model() -> None:
    assert "(docs/security.md)" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_every_secret_setting_of_the_bot_is_explained() -> None:
    secrets = [name for name, field in BotSettings.model_fields.items() if field.annotation is SecretStr]
    assert len(secrets) >= 4
    for name in secrets:
        assert f"`{ENV_PREFIX}{name.upper()}`" in SECURITY, name


def test_it_says_what_to_configure_in_mattermost() -> None:
    for needed in ("SSO", "Require Email Verification", "identity.md", "SiteURL"):
        assert needed in SECURITY
