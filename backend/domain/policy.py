"""The access policy document and the decisions made from it (docs/architecture.md, "Policy").

People are Identity Center users, named by e-mail or user name and resolved to Identity Center user
ids when the policy is applied (``user_ids``); groups are named by display name. Decisions compare
the actor's bound Identity Center user id and its groups, never e-mail text (docs/identity.md).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Self

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, field_validator, model_validator

from backend.domain.errors import InvalidRequest, NotAuthorized
from backend.domain.models import AccessRequest, Identity
from jitwire.models import NotifyApprovers
from jitwire.timefmt import format_duration, parse_duration


def _duration(value: object) -> object:
    return parse_duration(value) if isinstance(value, str) else value


Duration = Annotated[timedelta, BeforeValidator(_duration), PlainSerializer(format_duration, return_type=str)]


class _Frozen(BaseModel):
    model_config = ConfigDict(defer_build=True, frozen=True, extra="forbid")


class Account(_Frozen):
    id: str = Field(pattern=r"^\d{12}$")
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,30}$")


class PermissionSet(_Frozen):
    name: str = Field(pattern=r"^[\w+=,.@-]{1,32}$")
    description: str = ""


class Principals(_Frozen):
    users: frozenset[str] = frozenset()  # Identity Center users by e-mail or user name (see Policy.user_ids)
    groups: frozenset[str] = frozenset()  # Identity Center group display names


def _principals(value: object) -> object:
    """``admins: [a@example.com]`` (the older form) means users."""
    return {"users": value} if isinstance(value, list | tuple | set | frozenset) else value


MAX_GRANT = timedelta(days=7)  # the access workflow times out after 8 days (JIT-StepFunctionTimeout)


class Rule(_Frozen):
    name: str
    accounts: frozenset[str]  # account names
    permission_sets: frozenset[str]
    requesters: Principals
    approvers: Principals = Principals()
    max_duration: Duration
    approvals_required: int = Field(default=1, ge=1, le=5)
    auto_approve: bool = False
    approval_timeout: Duration = timedelta(hours=1)
    end_sessions: bool = False  # at revoke, also end live AWS sessions (docs/ending-sessions.md)
    notify_approvers: NotifyApprovers = "channel"

    @field_validator("max_duration")
    @classmethod
    def _within_the_workflow_timeout(cls, value: timedelta) -> timedelta:
        if value > MAX_GRANT:
            raise ValueError("may be at most 7d (the access workflow times out after 8 days)")
        return value


class Policy(_Frozen):
    accounts: tuple[Account, ...]
    permission_sets: tuple[PermissionSet, ...]
    rules: tuple[Rule, ...]
    admins: Annotated[Principals, BeforeValidator(_principals)] = Principals()
    approvals_channel: str = "jit-approvals"
    oncall_channel: str = "oncall"
    expiry_warning: Duration = timedelta(minutes=10)
    remove_drift: bool = False
    # Filled when the policy is applied: each user name above (lower case) → Identity Center user id.
    # Anything a caller sends here is replaced (backend.service.policy_apply).
    user_ids: dict[str, str] = {}

    @model_validator(mode="after")
    def _references_resolve(self) -> Self:
        account_names = {a.name for a in self.accounts}
        ps_names = {p.name for p in self.permission_sets}
        if len(account_names) != len(self.accounts):
            raise ValueError("account names must be unique")
        if len({a.id for a in self.accounts}) != len(self.accounts):
            raise ValueError("account ids must be unique")
        for rule in self.rules:
            if unknown := rule.accounts - account_names:
                raise ValueError(f"rule {rule.name!r} names unknown accounts: {sorted(unknown)}")
            if unknown := rule.permission_sets - ps_names:
                raise ValueError(f"rule {rule.name!r} names unknown permission sets: {sorted(unknown)}")
            if not rule.auto_approve and not (rule.approvers.users or rule.approvers.groups):
                raise ValueError(f"rule {rule.name!r} needs approvers or auto_approve: true")
        if len({r.name for r in self.rules}) != len(self.rules):
            raise ValueError("rule names must be unique")
        return self

    def account(self, name_or_id: str) -> Account:
        for account in self.accounts:
            if name_or_id in (account.name, account.id):
                return account
        known = ", ".join(a.name for a in self.accounts)
        raise InvalidRequest(f"unknown account '{name_or_id}'; known accounts: {known}")

    def permission_set(self, name: str) -> PermissionSet:
        for ps in self.permission_sets:
            if ps.name.lower() == name.lower():
                return ps
        known = ", ".join(p.name for p in self.permission_sets)
        raise InvalidRequest(f"unknown permission set '{name}'; known: {known}")

    def rule(self, name: str) -> Rule:
        for rule in self.rules:
            if rule.name == name:
                return rule
        raise InvalidRequest(f"the policy no longer has rule '{name}'")

    def includes(self, principals: Principals, who: Identity) -> bool:
        """Named as a user (by the id resolved at apply time) or through an Identity Center group."""
        ids = {self.user_ids.get(name.lower()) for name in principals.users}
        return who.principal_id in ids or bool(principals.groups & who.groups)

    def is_admin(self, who: Identity) -> bool:
        return self.includes(self.admins, who)

    @property
    def named_users(self) -> frozenset[str]:
        """Every user the policy names (admins, requesters, approvers), as written."""
        named = set(self.admins.users)
        for rule in self.rules:
            named |= rule.requesters.users | rule.approvers.users
        return frozenset(named)

    @property
    def managed_permission_sets(self) -> frozenset[str]:
        return frozenset(ps for rule in self.rules for ps in rule.permission_sets)


class Entitlement(_Frozen):
    """One thing a person may request: the catalog shown in dialogs and autocomplete."""

    account: Account
    permission_set: str
    max_duration: Duration
    rule_name: str
    approvals_required: int
    auto_approve: bool


def decide_catalog(policy: Policy, who: Identity) -> list[Entitlement]:
    """Everything ``who`` may request, with the longest duration any matching rule allows."""
    best: dict[tuple[str, str], Entitlement] = {}
    for rule in policy.rules:
        if not policy.includes(rule.requesters, who):
            continue
        for account in policy.accounts:
            if account.name not in rule.accounts:
                continue
            for ps in sorted(rule.permission_sets):
                key = (account.name, ps)
                current = best.get(key)
                if current is None or rule.max_duration > current.max_duration:
                    best[key] = Entitlement(
                        account=account,
                        permission_set=ps,
                        max_duration=rule.max_duration,
                        rule_name=rule.name,
                        approvals_required=rule.approvals_required,
                        auto_approve=rule.auto_approve,
                    )
    return [best[k] for k in sorted(best)]


def decide_eligibility(
    policy: Policy,
    who: Identity,
    account_name: str,
    permission_set_name: str,
    duration: timedelta,
) -> Rule:
    """The rule that allows this request, or NotAuthorized/InvalidRequest with the reason."""
    account = policy.account(account_name)
    ps = policy.permission_set(permission_set_name)
    matching = [
        rule
        for rule in policy.rules
        if policy.includes(rule.requesters, who) and account.name in rule.accounts and ps.name in rule.permission_sets
    ]
    if not matching:
        raise NotAuthorized(f"you are not eligible for {ps.name} in {account.name}")
    allowed = [rule for rule in matching if duration <= rule.max_duration]
    if not allowed:
        longest = max(rule.max_duration for rule in matching)
        raise InvalidRequest(
            f"{ps.name} in {account.name} may be held for at most {format_duration(longest)}; "
            f"you asked for {format_duration(duration)}"
        )
    # Prefer auto-approval, then the fewest approvals: the least friction the policy grants.
    return min(allowed, key=lambda r: (not r.auto_approve, r.approvals_required, r.name))


def decide_can_approve(policy: Policy, request: AccessRequest, approver: Identity) -> None:
    """Raise NotAuthorized unless ``approver`` may approve or deny ``request``."""
    if approver.is_requester_of(request):
        raise NotAuthorized("you cannot approve or deny your own request")
    rule = policy.rule(request.rule_name)
    if not policy.includes(rule.approvers, approver):
        raise NotAuthorized(f"you are not an approver for {request.permission_set_name} in {request.account_name}")


def may_end_early(policy: Policy, request: AccessRequest, actor: Identity) -> bool:
    """Requester, an approver of the rule, or an admin may revoke early."""
    if actor.is_requester_of(request) or policy.is_admin(actor):
        return True
    try:
        rule = policy.rule(request.rule_name)
    except InvalidRequest:
        return False
    return policy.includes(rule.approvers, actor)
