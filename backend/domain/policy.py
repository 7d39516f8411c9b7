"""The access policy document and the decisions made from it (DESIGN section 5).

Identity Center groups are named by display name; the caller resolves a person's groups.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Self

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, field_validator, model_validator

from backend.domain.errors import InvalidRequest, NotAuthorized
from backend.domain.models import AccessRequest, Person
from backend.domain.timefmt import format_duration, parse_duration


def _duration(value: object) -> object:
    return parse_duration(value) if isinstance(value, str) else value


Duration = Annotated[timedelta, BeforeValidator(_duration), PlainSerializer(format_duration, return_type=str)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Account(_Frozen):
    id: str = Field(pattern=r"^\d{12}$")
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,30}$")


class PermissionSet(_Frozen):
    name: str = Field(pattern=r"^[\w+=,.@-]{1,32}$")
    description: str = ""


class Principals(_Frozen):
    users: frozenset[str] = frozenset()  # e-mail addresses, compared case-insensitively
    groups: frozenset[str] = frozenset()  # Identity Center group display names

    def includes(self, person: Person, groups: frozenset[str]) -> bool:
        emails = {u.lower() for u in self.users}
        return person.email.lower() in emails or bool(self.groups & groups)


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
    admins: frozenset[str] = frozenset()  # e-mail addresses
    approvals_channel: str = "jit-approvals"
    oncall_channel: str = "oncall"
    expiry_warning: Duration = timedelta(minutes=10)
    remove_drift: bool = False

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

    def is_admin(self, person: Person) -> bool:
        return person.email.lower() in {a.lower() for a in self.admins}

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


def decide_catalog(policy: Policy, person: Person, groups: frozenset[str]) -> list[Entitlement]:
    """Everything ``person`` may request, with the longest duration any matching rule allows."""
    best: dict[tuple[str, str], Entitlement] = {}
    for rule in policy.rules:
        if not rule.requesters.includes(person, groups):
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
    person: Person,
    groups: frozenset[str],
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
        if rule.requesters.includes(person, groups)
        and account.name in rule.accounts
        and ps.name in rule.permission_sets
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


def decide_can_approve(
    policy: Policy, request: AccessRequest, approver: Person, approver_groups: frozenset[str]
) -> None:
    """Raise NotAuthorized unless ``approver`` may approve or deny ``request``."""
    if approver.same_as(request.requester):
        raise NotAuthorized("you cannot approve or deny your own request")
    rule = policy.rule(request.rule_name)
    if not rule.approvers.includes(approver, approver_groups):
        raise NotAuthorized(f"you are not an approver for {request.permission_set_name} in {request.account_name}")


def may_end_early(policy: Policy, request: AccessRequest, actor: Person, actor_groups: frozenset[str]) -> bool:
    """Requester, an approver of the rule, or an admin may revoke early."""
    if actor.same_as(request.requester) or policy.is_admin(actor):
        return True
    try:
        rule = policy.rule(request.rule_name)
    except InvalidRequest:
        return False
    return rule.approvers.includes(actor, actor_groups)
