"""``jit-admin``: argparse over the planning functions and the backend's own adapters.

Exit codes: 0 done, 1 error or refused, 2 usage, 3 assignments removed but not yet recorded
(finish with ``jit-admin break-glass resume <journal>``).
"""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from backend.auth.errors import KeyStoreUnavailable
from backend.auth.keyset import KeyEntry, KeySet, KeyStatus, generate_key
from backend.domain.errors import BindingNotFound, DomainError, InvalidRequest, ReconcileFailed
from backend.domain.models import IdentityBinding
from backend.domain.session_deny import sessions_outlive_grants
from backend.service.policy_apply import resolve_users
from jitadmin import audit_cli, breakglass, listings
from jitadmin import journal as journal_file
from jitadmin.confirm import ConfirmationRefused, confirm
from jitadmin.context import AdminContext, ConfigurationError, default_journal_dir
from jitadmin.journal import StepState
from jitadmin.keys import KeyStore, write_secret_file
from jitadmin.policy import PolicyFileError, load_policy_file, policy_diff
from jitadmin.render import identities_table, keys_table, plan_table, reconcile_table, requests_table
from jitwire.signing import KEY_ID_PATTERN
from jitwire.timefmt import parse_duration

if TYPE_CHECKING:
    from typing import TypeAlias

    from backend.domain.policy import Policy
    from jitadmin.journal import Journal

    Subparsers: TypeAlias = argparse._SubParsersAction[argparse.ArgumentParser]

log = logging.getLogger("jitadmin")

PROG = "jit-admin"
EXIT_OK, EXIT_FAILED, EXIT_UNRECORDED = 0, 1, 3
DEFAULT_OVERLAP = "1d"
DESCRIPTION = """\
Operate JIT access with your own AWS credentials (works when the API or the bot is down).
Settings come from --stack NAME (CloudFormation outputs) or JIT_* environment variables.
Exit codes: 0 done, 1 error or refused, 2 usage, 3 access removed but not yet recorded."""

Handler = Callable[[argparse.Namespace, AdminContext], int]


def _duration(text: str) -> timedelta:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _key_id(text: str) -> str:
    if not KEY_ID_PATTERN.match(text):
        raise argparse.ArgumentTypeError(f"{text!r}: key ids are 1-32 of a-z, 0-9 and '-'")
    return text


def _add_confirmation(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--yes", action="store_true", help="do not prompt (scripts); needs --confirm")
    parser.add_argument("--confirm", metavar="TEXT", help="with --yes: the exact text the prompt asks for")


def _break_glass_parser(groups: Subparsers) -> None:
    bg = groups.add_parser("break-glass", help="revoke access now, directly in Identity Center")
    bg_cmds = bg.add_subparsers(dest="command", required=True)
    revoke = bg_cmds.add_parser("revoke", help="delete assignments, then record REVOKED")
    which = revoke.add_mutually_exclusive_group(required=True)
    which.add_argument("--request-id", help="one request (and every request sharing its assignment)")
    which.add_argument("--user", help="every grant of one person (Identity Center user name or e-mail)")
    which.add_argument("--all", action="store_true", help="every active grant")
    revoke.add_argument("--reason", required=True, help="why; goes to the audit trail and the channel")
    revoke.add_argument("--ledger-only", action="store_true", help="skip the sweep of live assignments")
    revoke.add_argument(
        "--keep-sessions",
        action="store_true",
        help="do not end live AWS sessions (by default a Deny statement cuts sessions issued before now)",
    )
    revoke.add_argument("--journal", type=Path, help="journal file (default: a new file in --journal-dir)")
    _add_confirmation(revoke)
    revoke.set_defaults(handler=cmd_break_glass_revoke)
    resume = bg_cmds.add_parser("resume", help="finish a break-glass run from its journal")
    resume.add_argument("journal", type=Path)
    resume.set_defaults(handler=cmd_break_glass_resume)


def _requests_parser(groups: Subparsers) -> None:
    req = groups.add_parser("requests", help="look at requests")
    req_cmds = req.add_subparsers(dest="command", required=True)
    listing = req_cmds.add_parser("list", help="requests that need attention")
    selection = listing.add_mutually_exclusive_group(required=True)
    selection.add_argument("--expired-granted", action="store_true", help="GRANTED with end_time in the past")
    selection.add_argument("--stuck", action="store_true", help="stuck grants, overdue approvals, failed revokes")
    selection.add_argument("--user", help="one person's requests (Identity Center user name or e-mail)")
    listing.add_argument("--limit", type=int, default=100)
    listing.set_defaults(handler=cmd_requests_list)
    rec = groups.add_parser("reconcile", help="run the reconciler now (dry run unless --apply)")
    rec.add_argument("--apply", action="store_true", help="act on the plan instead of only showing it")
    rec.set_defaults(handler=cmd_reconcile)


def _keys_parser(groups: Subparsers) -> None:
    keys = groups.add_parser("keys", help="HMAC key rotation (runbook 02)")
    key_cmds = keys.add_subparsers(dest="command", required=True)
    key_cmds.add_parser("list", help="key ids, status and expiry (never secrets)").set_defaults(handler=cmd_keys_list)
    init = key_cmds.add_parser("init", help="first key of a new deployment (active)")
    init.add_argument("key_id", type=_key_id)
    init.add_argument("--write-secret-to", type=Path, metavar="FILE", required=True, help="the bot's key file")
    init.set_defaults(handler=cmd_keys_init)
    add = key_cmds.add_parser("add", help="add a new verify-only key")
    add.add_argument("key_id", type=_key_id)
    add.add_argument("--write-secret-to", type=Path, metavar="FILE", help="write the bot's key file (mode 0600)")
    add.set_defaults(handler=cmd_keys_add)
    prom = key_cmds.add_parser("promote", help="make a key active; the old one verifies until the overlap ends")
    prom.add_argument("key_id")
    prom.add_argument("--overlap", type=_duration, default=_duration(DEFAULT_OVERLAP), help="e.g. 1d, 12h")
    prom.set_defaults(handler=cmd_keys_promote)
    ret = key_cmds.add_parser("retire", help="refuse a key from now on")
    ret.add_argument("key_id")
    _add_confirmation(ret)
    ret.set_defaults(handler=cmd_keys_retire)
    rem = key_cmds.add_parser("remove", help="delete a retired key from the set")
    rem.add_argument("key_id")
    rem.set_defaults(handler=cmd_keys_remove)


def _policy_parser(groups: Subparsers) -> None:
    pol = groups.add_parser("policy", help="the access policy in jit_config")
    pol_cmds = pol.add_subparsers(dest="command", required=True)
    for name, handler, text in (
        ("validate", cmd_policy_validate, "check a policy file"),
        ("diff", cmd_policy_diff, "compare a file with the applied policy"),
        ("apply", cmd_policy_apply, "apply a policy file as the next version"),
    ):
        sub = pol_cmds.add_parser(name, help=text)
        sub.add_argument("file", type=Path)
        if name == "apply":
            _add_confirmation(sub)
        sub.set_defaults(handler=handler)


def _identities_parser(groups: Subparsers) -> None:
    ids = groups.add_parser("identities", help="Mattermost account → Identity Center user bindings (docs/identity.md)")
    id_cmds = ids.add_subparsers(dest="command", required=True)
    id_cmds.add_parser("list", help="every binding").set_defaults(handler=cmd_identities_list)
    rebind = id_cmds.add_parser(
        "rebind", help="bind a Mattermost account to the Identity Center user with this e-mail (after a change)"
    )
    rebind.add_argument("mattermost_user_id", help="the 26-character Mattermost user id (see list)")
    rebind.add_argument("email", help="the account's current Mattermost e-mail; its Identity Center user is bound")
    rebind.add_argument("--username", help="the Mattermost username (default: the one already bound)")
    _add_confirmation(rebind)
    rebind.set_defaults(handler=cmd_identities_rebind)
    remove = id_cmds.add_parser("remove", help="delete a binding; the account binds afresh on its next action")
    remove.add_argument("mattermost_user_id")
    _add_confirmation(remove)
    remove.set_defaults(handler=cmd_identities_remove)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--stack", metavar="NAME", help="CloudFormation stack to read settings from (else JIT_* env)")
    parser.add_argument("--region", help="AWS region (default: JIT_REGION / AWS_REGION)")
    parser.add_argument("--endpoint-url", help="AWS endpoint override (the local stack's moto server)")
    parser.add_argument("--operator", default=os.environ.get("JIT_OPERATOR"), help="your e-mail, for the audit trail")
    parser.add_argument("--journal-dir", type=Path, default=None, help="where break-glass journals are written")
    groups = parser.add_subparsers(dest="group", required=True, metavar="COMMAND")
    _break_glass_parser(groups)
    _requests_parser(groups)
    _keys_parser(groups)
    _policy_parser(groups)
    _identities_parser(groups)
    audit_cli.add_parser(groups)
    return parser


# -- break-glass ----------------------------------------------------------------------------------


def _scope(args: argparse.Namespace) -> breakglass.Scope:
    if args.request_id:
        return breakglass.Scope("request", args.request_id)
    if args.user:
        return breakglass.Scope("user", args.user)
    return breakglass.Scope("all")


def _run_journal(ctx: AdminContext, journal: Journal, path: Path) -> int:
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=ctx.console,
        disable=not ctx.console.is_terminal,
    )
    with progress:
        task = progress.add_task("break-glass", total=breakglass.step_count(journal))
        journal = breakglass.execute(
            ctx.uow, journal, path, lambda label: progress.update(task, advance=1, description=label)
        )
    ctx.console.print(plan_table(journal))
    ctx.console.print(f"Journal: {escape(str(path))}")
    if journal.complete:
        ctx.console.print("Done: assignments removed, requests recorded, events sent.")
        return EXIT_OK
    if not journal.deletes_done:
        ctx.console.print(
            "[bold red]Some assignments could NOT be deleted[/]; access may remain. Fix the error above and run "
            f"[bold]{PROG} break-glass resume {escape(str(path))}[/]"
        )
        return EXIT_FAILED
    if any(step.state is not StepState.DONE for step in journal.sessions):
        ctx.console.print(
            "[bold red]Assignments are removed, but live sessions could NOT all be ended[/] (see the errors "
            f"above; runbook 03). Fix the cause and run [bold]{PROG} break-glass resume {escape(str(path))}[/]"
        )
        return EXIT_FAILED
    ctx.console.print(
        "[bold yellow]Access is removed, but recording it failed[/] (DynamoDB or SNS unavailable). When they are "
        f"back, run [bold]{PROG} break-glass resume {escape(str(path))}[/]"
    )
    return EXIT_UNRECORDED


def cmd_break_glass_revoke(args: argparse.Namespace, ctx: AdminContext) -> int:
    operator = ctx.require_operator()
    reason = args.reason.strip()
    if not reason:
        raise ConfigurationError("--reason must say why")
    scope = _scope(args)
    with ctx.console.status("reading grants"):
        steps = breakglass.gather(ctx.uow, scope, sweep=not args.ledger_only)
    journal = breakglass.new_journal(scope, reason, operator, ctx.now(), steps, end_sessions=not args.keep_sessions)
    ctx.console.print(plan_table(journal))
    confirm(scope.confirmation, yes=args.yes, confirm_text=args.confirm, prompt=ctx.prompt)
    path = args.journal or ctx.journal_dir / journal.file_name()
    return _run_journal(ctx, journal, path)


def cmd_break_glass_resume(args: argparse.Namespace, ctx: AdminContext) -> int:
    journal = journal_file.load(args.journal)
    if journal.complete:
        ctx.console.print(plan_table(journal))
        ctx.console.print("Nothing to do: this journal is complete.")
        return EXIT_OK
    return _run_journal(ctx, journal, args.journal)


# -- requests and reconcile -----------------------------------------------------------------------


def cmd_requests_list(args: argparse.Namespace, ctx: AdminContext) -> int:
    if args.expired_granted:
        title, findings = "Expired but still GRANTED", listings.expired_granted(ctx.uow)
    elif args.stuck:
        title, findings = "Stuck requests", listings.stuck(ctx.uow, args.limit)
    else:
        principal = ctx.uow.directory.find_user_id(args.user)
        title, findings = f"Requests of {args.user}", listings.by_principal(ctx.clients.dynamodb, principal, args.limit)
    ctx.console.print(requests_table(title, findings[: args.limit]))
    ctx.console.print(f"{len(findings[: args.limit])} request(s)")
    return EXIT_OK


def cmd_reconcile(args: argparse.Namespace, ctx: AdminContext) -> int:
    from backend.service.reconciler import ReconcileReport, reconcile

    dry_run = not args.apply
    with ctx.console.status("reconciling"):
        try:
            report: ReconcileReport = reconcile(ctx.uow, dry_run=dry_run)
        except ReconcileFailed as exc:
            ctx.console.print(f"[bold red]{exc}[/] (details in the log above)")
            return EXIT_FAILED
    ctx.console.print(reconcile_table(report, dry_run=dry_run))
    ctx.console.print(f"{len(report.planned)} action(s) {'planned' if dry_run else 'applied'}")
    return EXIT_OK


# -- keys -----------------------------------------------------------------------------------------


def _keys(ctx: AdminContext) -> KeyStore:
    return KeyStore(ctx.clients.secretsmanager, ctx.settings.keyset_secret_id)


def cmd_keys_list(_args: argparse.Namespace, ctx: AdminContext) -> int:
    ctx.console.print(keys_table(_keys(ctx).load(), ctx.now()))
    return EXIT_OK


def _store_new_key(ctx: AdminContext, entry: KeyEntry, target: Path | None, init: bool) -> KeySet:
    if target is not None:
        write_secret_file(target, entry, ctx.settings.audience)  # first: a key nobody holds is useless
    try:
        return _keys(ctx).init(entry) if init else _keys(ctx).add(entry)
    except Exception:
        if target is not None:
            target.unlink(missing_ok=True)
        raise


def cmd_keys_init(args: argparse.Namespace, ctx: AdminContext) -> int:
    entry = generate_key(args.key_id, status=KeyStatus.ACTIVE)
    keyset = _store_new_key(ctx, entry, args.write_secret_to, init=True)
    ctx.console.print(keys_table(keyset, ctx.now()))
    ctx.console.print(f"{entry.id} is the active key; its secret was written to {args.write_secret_to} (mode 0600).")
    return EXIT_OK


def cmd_keys_add(args: argparse.Namespace, ctx: AdminContext) -> int:
    entry = generate_key(args.key_id)
    target: Path | None = args.write_secret_to
    keyset = _store_new_key(ctx, entry, target, init=False)
    ctx.console.print(keys_table(keyset, ctx.now()))
    where = f"written to {target} (mode 0600)" if target else "not written anywhere (use --write-secret-to)"
    ctx.console.print(f"Added {entry.id} as verify_only; its secret was {where}.")
    return EXIT_OK


def cmd_keys_promote(args: argparse.Namespace, ctx: AdminContext) -> int:
    keyset = _keys(ctx).promote(args.key_id, args.overlap, ctx.now())
    ctx.console.print(keys_table(keyset, ctx.now()))
    ctx.console.print(f"{args.key_id} is active; the previous key verifies until its not_after.")
    return EXIT_OK


def cmd_keys_retire(args: argparse.Namespace, ctx: AdminContext) -> int:
    confirm(args.key_id, yes=args.yes, confirm_text=args.confirm, prompt=ctx.prompt)
    keyset = _keys(ctx).retire(args.key_id)
    ctx.console.print(keys_table(keyset, ctx.now()))
    ctx.console.print(f"{args.key_id} is retired; API containers refuse it once their key cache expires (5 minutes).")
    return EXIT_OK


def cmd_keys_remove(args: argparse.Namespace, ctx: AdminContext) -> int:
    keyset = _keys(ctx).remove(args.key_id)
    ctx.console.print(keys_table(keyset, ctx.now()))
    return EXIT_OK


# -- policy ---------------------------------------------------------------------------------------


def _applied_policy(ctx: AdminContext) -> Policy | None:
    try:
        return ctx.uow.policies.current()
    except InvalidRequest:  # no policy applied yet
        return None


def cmd_policy_validate(args: argparse.Namespace, ctx: AdminContext) -> int:
    policy = load_policy_file(args.file)
    ctx.console.print(
        f"{args.file} is valid: {len(policy.accounts)} account(s), {len(policy.permission_sets)} permission set(s), "
        f"{len(policy.rules)} rule(s)."
    )
    for warning in _session_warnings(ctx, policy):
        ctx.console.print(f"[bold yellow]warning[/]: {escape(warning)}")
    return EXIT_OK


def _session_warnings(ctx: AdminContext, policy: Policy) -> list[str]:
    """Session durations come from Identity Center; if it cannot be asked, say the check was skipped."""
    try:
        sessions = ctx.uow.sessions
        if sessions is None:
            return []
        durations = {
            ps.name: sessions.session_duration(ctx.uow.directory.permission_set_arn(ps.name))
            for ps in policy.permission_sets
        }
    except (DomainError, BotoCoreError, ClientError) as exc:
        return [f"session durations not checked (Identity Center unavailable: {exc})"]
    return sessions_outlive_grants(policy, durations)


def _print_diff(ctx: AdminContext, lines: list[str]) -> None:
    for line in lines:
        style = "green" if line.startswith("+") else "red" if line.startswith("-") else None
        ctx.console.print(line, style=style, markup=False, highlight=False)


def _resolved_policy_file(ctx: AdminContext, path: Path) -> Policy:
    """The file's policy with every user it names resolved in Identity Center (unknown ones refused)."""
    return resolve_users(load_policy_file(path), ctx.uow.directory)


def cmd_policy_diff(args: argparse.Namespace, ctx: AdminContext) -> int:
    lines = policy_diff(_applied_policy(ctx), _resolved_policy_file(ctx, args.file), str(args.file))
    _print_diff(ctx, lines)
    ctx.console.print("No changes." if not lines else f"{len(lines)} diff line(s).")
    return EXIT_OK


def cmd_policy_apply(args: argparse.Namespace, ctx: AdminContext) -> int:
    operator = ctx.require_operator()
    proposed = _resolved_policy_file(ctx, args.file)
    lines = policy_diff(_applied_policy(ctx), proposed, str(args.file))
    if not lines:
        ctx.console.print("No changes; nothing applied.")
        return EXIT_OK
    _print_diff(ctx, lines)
    confirm("apply", yes=args.yes, confirm_text=args.confirm, prompt=ctx.prompt)
    version = ctx.uow.policies.put(proposed, operator, ctx.now())
    ctx.console.print(f"Applied policy version {version} as {operator.email}.")
    return EXIT_OK


# -- identities -----------------------------------------------------------------------------------


def cmd_identities_list(_args: argparse.Namespace, ctx: AdminContext) -> int:
    found = ctx.uow.identities.all()
    ctx.console.print(identities_table(found))
    ctx.console.print(f"{len(found)} binding(s)")
    return EXIT_OK


def cmd_identities_rebind(args: argparse.Namespace, ctx: AdminContext) -> int:
    operator = ctx.require_operator()
    old = ctx.uow.identities.get(args.mattermost_user_id)
    username = args.username or (old.mattermost_username if old else None)
    if not username:
        raise ConfigurationError("this account has no binding yet: give its Mattermost --username")
    principal_id = ctx.uow.directory.find_user_id(args.email)
    new = IdentityBinding(
        mattermost_user_id=args.mattermost_user_id,
        mattermost_username=username,
        principal_id=principal_id,
        email=args.email,
        bound_at=ctx.now(),
        verified_by=f"admin:{operator.email}"[:64],
    )
    was = f"{old.principal_id} ({old.email})" if old else "nothing"
    ctx.console.print(
        f"Rebind Mattermost user {username} ({args.mattermost_user_id}) from {was} to Identity Center user "
        f"{principal_id} ({args.email}).",
        markup=False,
        highlight=False,
    )
    confirm(args.mattermost_user_id, yes=args.yes, confirm_text=args.confirm, prompt=ctx.prompt)
    ctx.uow.identities.rebind(new)
    log.warning("identity rebound by %s: %s %s → %s", operator.email, args.mattermost_user_id, was, principal_id)
    ctx.console.print(f"Bound {username} to {principal_id} as {operator.email}.", markup=False, highlight=False)
    return EXIT_OK


def cmd_identities_remove(args: argparse.Namespace, ctx: AdminContext) -> int:
    operator = ctx.require_operator()
    old = ctx.uow.identities.get(args.mattermost_user_id)
    if old is None:
        raise BindingNotFound(f"no binding for Mattermost user {args.mattermost_user_id}")
    ctx.console.print(
        f"Remove the binding of {old.mattermost_username} ({old.mattermost_user_id}) to {old.principal_id} "
        f"({old.email}); the account binds afresh, if the bot vouches for it, on its next action.",
        markup=False,
        highlight=False,
    )
    confirm(args.mattermost_user_id, yes=args.yes, confirm_text=args.confirm, prompt=ctx.prompt)
    ctx.uow.identities.remove(args.mattermost_user_id)
    log.warning("identity binding removed by %s: %s → %s", operator.email, old.mattermost_user_id, old.principal_id)
    ctx.console.print(f"Removed the binding of {old.mattermost_username}.", markup=False, highlight=False)
    return EXIT_OK


# -- entry point ----------------------------------------------------------------------------------

ContextFactory = Callable[[argparse.Namespace, Console], AdminContext]


def run(argv: list[str] | None, make_context: ContextFactory, console: Console | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    console = console or Console()
    if args.journal_dir is None:
        args.journal_dir = default_journal_dir()
    handler: Handler = args.handler
    try:
        return handler(args, make_context(args, console))
    except (ConfirmationRefused, ConfigurationError, PolicyFileError, breakglass.NothingToRevoke) as exc:
        console.print(str(exc), markup=False, highlight=False)
    except OSError as exc:
        console.print(f"{exc.strerror or exc}: {exc.filename or ''}", markup=False, highlight=False)
    except (DomainError, ValueError, BotoCoreError, ClientError, KeyStoreUnavailable) as exc:
        console.print(f"{type(exc).__name__}: {exc}", markup=False, highlight=False)
    return EXIT_FAILED


def main(argv: list[str] | None = None) -> int:
    from jitadmin.aws import aws_context

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    return run(argv, aws_context)
