"""Identity binding through the real bot: who the bot vouches for, and what a borrowed e-mail gets."""

from __future__ import annotations

from tests.e2e.conftest import System, wait_until

UNTRUSTED = {"RequireEmailVerification": "false"}  # Mattermost's default: e-mail sign-in, unverified


def _ask(system: System, user: str, text: str = "request prod AdministratorAccess 1h INC-7") -> None:
    system.mm.run_command(user=user, channel="jit-approvals", text="/jit " + text)


def _told(system: System, user: str, words: str) -> None:
    """The delayed ephemeral reply (through the command's response_url) says ``words``."""
    wait_until(lambda: any(words in t for t in system.ephemeral_texts(user)), what=f"{user} told {words!r}")


def test_seed_users_bind_because_the_sandbox_requires_verified_email(system: System) -> None:
    system.start_bot()
    _ask(system, "alice")
    binding = wait_until(lambda: system.stack.uow.identities.get(system.mm.user("alice").id), what="binding")
    assert (binding.email, binding.verified_by) == ("alice@example.com", "mattermost:verified-email")
    assert binding.principal_id == system.stack.provisioned.user_ids["alice"]


def test_untrusted_deployment_refuses_to_link_and_writes_nothing(system: System) -> None:
    system.mm.set_client_config(**UNTRUSTED)
    system.start_bot()
    _ask(system, "alice")
    _told(system, "alice", "cannot vouch for your Mattermost e-mail")
    assert system.stack.uow.identities.all() == []
    assert system.cards() == []


def test_sso_accounts_bind_when_the_bot_is_a_system_admin(system: System) -> None:
    system.mm.set_client_config(**UNTRUSTED)
    with system.mm.mm.store.lock:
        system.mm.user("jit-bot").system_admin = True
        system.mm.user("alice").auth_service = "saml"
    system.start_bot()
    _ask(system, "alice")
    binding = wait_until(lambda: system.stack.uow.identities.get(system.mm.user("alice").id), what="binding")
    assert binding.verified_by == "sso:saml"
    _ask(system, "bob", "list")  # bob signs in with a password: not vouched for
    _told(system, "bob", "cannot vouch")


def test_a_second_account_with_the_admins_email_gets_nothing(system: System) -> None:
    system.start_bot()
    _ask(system, "dave", "policy")
    _told(system, "dave", "access policy in force")
    system.mm.add_user("mallory", email="dave@example.com")
    _ask(system, "mallory", "policy")
    _told(system, "mallory", "already linked to another Mattermost account")
    assert not any("access policy in force" in t for t in system.ephemeral_texts("mallory"))
    assert system.stack.uow.identities.get(system.mm.user("mallory").id) is None


def test_an_email_change_is_refused_and_the_binding_stays(system: System) -> None:
    system.start_bot()
    _ask(system, "alice", "list")
    alice_id = system.mm.user("alice").id
    bound = wait_until(lambda: system.stack.uow.identities.get(alice_id), what="binding")
    system.mm.change_email("alice", "dave@example.com", verified=True)
    _ask(system, "alice", "policy")
    _told(system, "alice", "not the one your account was linked with")
    assert system.stack.uow.identities.get(alice_id) == bound
