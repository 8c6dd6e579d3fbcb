"""``posgraph token``: create, list and revoke API tokens in the tokens file (no server needed)."""

from __future__ import annotations

from pathlib import Path

import click

from posgraph.audit import AuditLog
from posgraph.cli.common import cli, data_dir_option, handled
from posgraph.config import load_settings
from posgraph.tokens import ROLES, TokenStore

__all__ = ["token"]


@cli.group()
def token() -> None:
    """Create, list and revoke API tokens (stored hashed in DATA_DIR/tokens.json, or POSGRAPH_TOKENS_FILE)."""


@token.command("create")
@click.option("--role", type=click.Choice(list(ROLES)), required=True, help="What the token may do.")
@click.option("--name", required=True, help="Who or what holds the token (unique among active tokens).")
@data_dir_option
@handled
def token_create(role: str, name: str, data_dir: Path | None) -> None:
    """Create a token and print it once: it is stored only as a hash."""
    settings = load_settings(data_dir=data_dir)
    record, secret = TokenStore(settings.tokens_file).create(name, role)
    AuditLog(settings.audit_log).record("cli", "token-create", token=record.id, name=name, role=role)
    click.echo(secret)
    click.echo(f"token {record.id} for {name!r} ({role}); store it now, it cannot be shown again", err=True)


@token.command("list")
@data_dir_option
@handled
def token_list(data_dir: Path | None) -> None:
    """List tokens (never their secrets)."""
    for record in TokenStore(load_settings(data_dir=data_dir).tokens_file).list():
        state = f"revoked {record.revoked}" if record.revoked else "active"
        click.echo(f"{record.id}  {record.role:<8}  {record.name:<24}  created {record.created}  {state}")


@token.command("revoke")
@click.argument("name_or_id")
@data_dir_option
@handled
def token_revoke(name_or_id: str, data_dir: Path | None) -> None:
    """Revoke the active token with this name or id."""
    settings = load_settings(data_dir=data_dir)
    record = TokenStore(settings.tokens_file).revoke(name_or_id)
    AuditLog(settings.audit_log).record("cli", "token-revoke", token=record.id, name=record.name)
    click.echo(f"revoked token {record.id} ({record.name})")
