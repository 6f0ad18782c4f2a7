"""``veil login|logout``, ``veil user``, ``veil token``, ``veil role`` and ``veil policy``:
who may use the workspace, and how they prove it.

``veil login`` keeps a short-lived session token (0600) in the user's config directory, per
workspace; every later command acts as that user until ``veil logout`` or expiry. Without one
(and without ``VEIL_TOKEN``) a command acts as the owner, the holder of the master key.
``veil login --server URL`` signs in to a veil service instead and keeps its token for later
``veil --server URL`` commands; ``veil logout --server URL`` revokes it there.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from veil.cli.common import (
    ENV_PASSWORD,
    Options,
    err,
    forget_login,
    forget_server_login,
    keep_login,
    keep_server_login,
    kept_server_login,
    options,
    out,
    print_json,
)
from veil.errors import AccessError, InputError

user_app = typer.Typer(help="Users and service accounts.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens for service accounts and scripts.", no_args_is_help=True)
role_app = typer.Typer(help="Roles of users, per dataset or everywhere (*).", no_args_is_help=True)
policy_app = typer.Typer(help="Policy lines: who may do which operation, where, why.",
                         no_args_is_help=True)


def _secret(value: str | None, prompt: str, env: str | None = None) -> str:
    """A secret from the option, the environment, or a hidden prompt (never an echo)."""
    if value:
        return value
    if env and os.environ.get(env):
        return os.environ[env]
    return typer.prompt(prompt, hide_input=True)


def login(
    ctx: typer.Context,
    user: Annotated[str | None, typer.Argument(help="Your user name.")] = None,
    user_option: Annotated[str | None, typer.Option(
        "--user", help="Your user name (instead of the argument).")] = None,
    totp: Annotated[str | None, typer.Option(help="The code from your authenticator app.")] = None,
    recovery_code: Annotated[str | None, typer.Option(
        help="A one-time recovery code instead of the TOTP code.")] = None,
    hours: Annotated[float, typer.Option(help="How long the login lasts (at most 12).")] = 1.0,
    server: Annotated[str | None, typer.Option(
        help="Sign in to this veil service instead (same as `veil --server URL login`).")
    ] = None,
    ca: Annotated[Path | None, typer.Option(
        help="CA file the service's certificate must chain to; kept with the login.")] = None,
) -> None:
    """Log in with your password (prompted, or VEIL_PASSWORD) and TOTP code; later commands act
    as you (with --server: later `veil --server URL` commands). Five failures in a row lock
    the account."""
    opts = _remote_options(ctx, server, ca)
    if (user is None) == (user_option is None):
        raise InputError("give your user name once: as the argument or as --user")
    name = user or user_option or ""
    password = _secret(None, "Password", ENV_PASSWORD)
    code = None if recovery_code else _secret(totp, "TOTP code")
    if opts.server is not None:
        with opts.remote(signed_in=False) as remote:
            principal, token = remote.login(name, password, totp=code,
                                            recovery_code=recovery_code, hours=hours)
            where = keep_server_login(remote.url, token, remote.ca)
        out.print(f"logged in to {remote.url} as {principal} for {hours:g} h (session kept "
                  f"in {where})")
        return
    with opts.open_workspace() as ws:
        session = (ws.recover_login(name, password, recovery_code) if recovery_code
                   else ws.login(name, password, code or ""))
        where = keep_login(ws, ws.keep_login(session, hours=hours))
    out.print(f"logged in as {session.principal} for {hours:g} h (session kept in {where})")


def logout(
    ctx: typer.Context,
    server: Annotated[str | None, typer.Option(
        help="Sign out of this veil service (its session is revoked there).")] = None,
) -> None:
    """Forget the kept login of this workspace (it expires on its own too); with --server,
    revoke the service's session and forget it."""
    opts = _remote_options(ctx, server, None)
    if opts.server is not None:
        from veil.api.remote import RemoteError, normalized

        url = normalized(opts.server)
        if not kept_server_login(url):
            out.print(f"no kept login for {url}")
            return
        try:
            with opts.remote(kept_only=True) as remote, contextlib.suppress(AccessError):
                remote.logout()  # an expired or revoked session needs nothing more
        except RemoteError as exc:
            err.print(f"could not revoke the session on {url} ({exc.message}); it is forgotten "
                      "here and expires on its own")
        forget_server_login(url)
        out.print(f"logged out of {url}")
        return
    with opts.open_workspace() as ws:
        removed = forget_login(ws)
    out.print("logged out" if removed else "no kept login for this workspace")


def _remote_options(ctx: typer.Context, server: str | None, ca: Path | None) -> Options:
    """The root options, with this command's own --server and --ca in front."""
    opts = options(ctx)
    return dataclasses.replace(opts, server=server or opts.server, ca=ca or opts.ca)


# -- users ---------------------------------------------------------------------------------------
@user_app.command("add")
def user_add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The new user's name.")],
    service: Annotated[bool, typer.Option(
        "--service", help="A service account (API tokens only, no password).")] = False,
) -> None:
    """Add a user (password prompted, or VEIL_PASSWORD): shows the TOTP secret and recovery
    codes once. A new user has no rights until given a role."""
    with options(ctx).open() as ws:
        if service:
            ws.users.add_service(name)
            out.print(f"service account {name} added; issue it a token with `veil token issue`")
            return
        made = ws.users.add(name, _secret(None, "Password for the new user", ENV_PASSWORD))
    out.print(f"user {name} added. Enter this in an authenticator app (shown once):\n"
              f"  secret {made.secret}\n  {made.uri}\nrecovery codes (keep them offline): "
              + " ".join(made.recovery_codes))


@user_app.command("list")
def user_list(ctx: typer.Context,
              as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Every principal, with its state."""
    with options(ctx).open() as ws:
        found = ws.users.list()
    if as_json:
        print_json([p.__dict__ for p in found])
        return
    table = Table("name", "kind", "created", "locked until", "disabled", "failures")
    for p in found:
        table.add_row(p.name, p.kind, str(p.created)[:19], str(p.locked_until or ""),
                      str(p.disabled or ""), str(p.failures))
    out.print(table)


@user_app.command("passwd")
def user_passwd(ctx: typer.Context, name: Annotated[str, typer.Argument()]) -> None:
    """Set a user's password (prompted, or VEIL_PASSWORD)."""
    with options(ctx).open() as ws:
        ws.users.set_password(name, _secret(None, "New password", ENV_PASSWORD))
    out.print(f"password of {name} changed")


@user_app.command("mfa")
def user_mfa(ctx: typer.Context, name: Annotated[str, typer.Argument()]) -> None:
    """A new TOTP secret and recovery codes (a lost phone); the old ones stop working."""
    with options(ctx).open() as ws:
        made = ws.users.reset_mfa(name)
    out.print(f"new second factor for {name} (shown once):\n  secret {made.secret}\n"
              f"  {made.uri}\nrecovery codes: " + " ".join(made.recovery_codes))


@user_app.command("lock")
def user_lock(ctx: typer.Context, name: Annotated[str, typer.Argument()],
              hours: Annotated[float, typer.Option(help="For how long.")] = 24.0) -> None:
    """Refuse every login and token of a user for a while."""
    with options(ctx).open() as ws:
        ws.users.lock(name, until=datetime.now(UTC) + timedelta(hours=hours))
    out.print(f"{name} locked for {hours:g} h")


@user_app.command("unlock")
def user_unlock(ctx: typer.Context, name: Annotated[str, typer.Argument()]) -> None:
    with options(ctx).open() as ws:
        ws.users.unlock(name)
    out.print(f"{name} unlocked")


@user_app.command("disable")
def user_disable(ctx: typer.Context, name: Annotated[str, typer.Argument()]) -> None:
    """Refuse a principal for good (its tokens too); it stays in the audit trail."""
    with options(ctx).open() as ws:
        ws.users.disable(name)
    out.print(f"{name} disabled")


# -- tokens --------------------------------------------------------------------------------------
@token_app.command("issue")
def token_issue(
    ctx: typer.Context,
    principal: Annotated[str, typer.Argument(help="Who the token acts as.")],
    roles: Annotated[str, typer.Option(help="Comma-separated roles it may use.")],
    datasets: Annotated[str, typer.Option(help="Comma-separated datasets it may reach.")],
    days: Annotated[float, typer.Option(help="Days until it expires (at most 365).")] = 90,
) -> None:
    """Issue an API token (shown once; set it as VEIL_TOKEN to act as the principal)."""
    with options(ctx).open() as ws:
        token, info = ws.users.issue_token(principal, roles=_names(roles),
                                           datasets=_names(datasets), days=days)
    out.print(f"token {info.token_id} for {principal}, expires {info.expires:%Y-%m-%d}:\n{token}")


@token_app.command("revoke")
def token_revoke(ctx: typer.Context, token_id: Annotated[str, typer.Argument()]) -> None:
    with options(ctx).open() as ws:
        ws.users.revoke_token(token_id)
    out.print(f"token {token_id} revoked")


@token_app.command("list")
def token_list(ctx: typer.Context, principal: Annotated[str | None, typer.Argument()] = None,
               as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Tokens (ids and scopes, never the tokens themselves)."""
    with options(ctx).open() as ws:
        found = ws.users.tokens(principal)
    if as_json:
        print_json([t.__dict__ for t in found])
        return
    table = Table("id", "principal", "kind", "roles", "datasets", "expires", "revoked")
    for t in found:
        table.add_row(t.token_id, t.principal, t.kind, ",".join(t.roles), ",".join(t.datasets),
                      str(t.expires)[:19], str(t.revoked or ""))
    out.print(table)


# -- roles and policy lines ----------------------------------------------------------------------
@role_app.command("assign")
def role_assign(ctx: typer.Context, user: Annotated[str, typer.Argument()],
                role: Annotated[str, typer.Argument()],
                dataset: Annotated[str, typer.Option(help="A dataset, or * for all.")] = "*"
                ) -> None:
    """Give a user a role (owner, steward, analyst, ml_engineer, auditor, dpo, or your own)."""
    with options(ctx).open() as ws:
        made = ws.policy.assign(user, role, dataset)
    out.print(f"assigned: {made}")


@role_app.command("unassign")
def role_unassign(ctx: typer.Context, user: Annotated[str, typer.Argument()],
                  role: Annotated[str, typer.Argument()],
                  dataset: Annotated[str, typer.Option()] = "*") -> None:
    with options(ctx).open() as ws:
        made = ws.policy.unassign(user, role, dataset)
    out.print(f"removed: {made}")


@role_app.command("list")
def role_list(ctx: typer.Context) -> None:
    """Every role assignment."""
    with options(ctx).open() as ws:
        for line in ws.policy.assignments():
            out.print(str(line))


@policy_app.command("list")
def policy_list(ctx: typer.Context) -> None:
    """Every policy line (allow and deny)."""
    with options(ctx).open() as ws:
        for line in ws.policy.rules():
            out.print(str(line))


def _line_options(allow: bool) -> Callable[..., None]:
    def command(
        ctx: typer.Context,
        subject: Annotated[str, typer.Argument(help="A user or a role.")],
        operation: Annotated[str, typer.Argument(help="An operation, or *.")],
        dataset: Annotated[str, typer.Option()] = "*",
        purpose: Annotated[str, typer.Option()] = "*",
        category: Annotated[str, typer.Option(
            help="direct_identifier, quasi_identifier, sensitive, other, none or *.")] = "*",
        condition: Annotated[str, typer.Option(help="'', mfa, hours=8-18, or both with ;")] = "",
    ) -> None:
        with options(ctx).open() as ws:
            change = ws.policy.allow if allow else ws.policy.deny
            made = change(subject, operation, dataset=dataset, purpose=purpose,
                          category=category, condition=condition)
        out.print(f"{'allowed' if allow else 'denied'}: {made}")

    command.__doc__ = ("Allow an operation (least privilege: nothing is allowed otherwise)."
                       if allow else "Deny an operation (a deny wins over every allow).")
    return command


policy_app.command("allow")(_line_options(allow=True))
policy_app.command("deny")(_line_options(allow=False))


@policy_app.command("check")
def policy_check(
    ctx: typer.Context,
    subject: Annotated[str, typer.Argument()],
    operation: Annotated[str, typer.Argument()],
    dataset: Annotated[str, typer.Option()] = "*",
    purpose: Annotated[str, typer.Option()] = "administration",
    category: Annotated[str, typer.Option()] = "none",
    mfa: Annotated[bool, typer.Option("--mfa", help="As if after a step-up.")] = False,
) -> None:
    """What the policy decides for one request, and why."""
    with options(ctx).open() as ws:
        decision = ws.policy.check(subject, operation, dataset=dataset, purpose=purpose,
                                   category=category, mfa=mfa)
    out.print(("[green]allowed[/]: " if decision.allowed else "[red]denied[/]: ")
              + (str(decision.rule) if decision.allowed else decision.message))


def _names(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise InputError("give at least one name, comma-separated")
    return names
