"""Commands that work on a running posgraph over HTTP: submit a batch, review batches."""

from __future__ import annotations

from pathlib import Path

import click

from posgraph.cli.client import call, nquads, server_option, token_option
from posgraph.cli.common import cli, handled
from posgraph.namespaces import compact_iri

__all__ = ["submit", "batches"]


@cli.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--label", default=None, help="A label for the batch.")
@click.option("--note", default=None, help="A note for the reviewer: what the batch is, where it comes from.")
@server_option
@token_option
@handled
def submit(files: tuple[Path, ...], label: str | None, note: str | None, server: str, token: str | None) -> None:
    """Submit FILES as one batch for review (a curator token). Exit 1 with the report if it does not conform."""
    params = {k: v for k, v in (("label", label), ("note", note)) if v}
    response = call(
        "POST",
        server,
        "/batches",
        token,
        content=nquads(files),
        params=params or None,
        headers={"Content-Type": "application/n-quads"},
    )
    batch = response.json()
    click.echo(f"submitted batch {batch['id']}: {batch['triples']} triples, awaiting review")


@cli.group()
def batches() -> None:
    """Review batches on a running posgraph: list, show, summary, accept, reject, revert."""


def _show(batch: dict) -> str:
    lines = [
        f"batch {batch['id']}: {batch['state']}",
        f"  label     {batch.get('label')}",
        f"  curator   {batch.get('curator')}   submitted {batch.get('submitted')}",
        f"  triples   {batch.get('triples')}",
    ]
    if batch.get("note"):
        lines.append(f"  note      {batch['note']}")
    if batch.get("reviewer"):
        lines.append(f"  reviewer  {batch['reviewer']}")
    lines += [
        f"  {h['time']}  {h['action']:<9} by {h['actor']}" + (f": {h['note']}" if h.get("note") else "")
        for h in batch.get("history", [])
    ]
    return "\n".join(lines)


@batches.command("list")
@click.option("--state", type=click.Choice(["submitted", "accepted", "rejected", "reverted"]), default=None)
@click.option("--about", default=None, help="Only batches that describe or amend this IRI (or pgid:… name).")
@server_option
@token_option
@handled
def batches_list(state: str | None, about: str | None, server: str, token: str | None) -> None:
    """List batches, newest first."""
    params = {k: v for k, v in (("state", state), ("about", about)) if v}
    items = call("GET", server, "/batches", token, params=params or None).json()["batches"]
    for batch in items:
        click.echo(f"{batch['id']:<34} {batch['state']:<9} {str(batch.get('curator')):<16} {batch.get('triples')}")


@batches.command("show")
@click.argument("batch_id")
@server_option
@token_option
@handled
def batches_show(batch_id: str, server: str, token: str | None) -> None:
    """Show a batch: state, curator, reviewer, history."""
    click.echo(_show(call("GET", server, f"/batches/{batch_id}", token).json()))


@batches.command("summary")
@click.argument("batch_id")
@server_option
@token_option
@handled
def batches_summary(batch_id: str, server: str, token: str | None) -> None:
    """Say in words what a batch adds, retracts and merges."""
    summary = call("GET", server, f"/batches/{batch_id}/summary", token).json()
    for sentence in summary["sentences"]:
        click.echo(sentence["text"])
    if summary.get("truncated"):
        click.echo(f"… and more: {summary['counts']['adds']} things added in all")


@batches.command("accept")
@click.argument("batch_id")
@server_option
@token_option
@handled
def batches_accept(batch_id: str, server: str, token: str | None) -> None:
    """Accept and publish a batch (a reviewer token)."""
    click.echo(_show(call("POST", server, f"/batches/{batch_id}/accept", token).json()))


@batches.command("reject")
@click.argument("batch_id")
@click.option("--note", default=None, help="Why it was rejected.")
@server_option
@token_option
@handled
def batches_reject(batch_id: str, note: str | None, server: str, token: str | None) -> None:
    """Reject a batch (a reviewer token)."""
    click.echo(
        _show(call("POST", server, f"/batches/{batch_id}/reject", token, json={"note": note} if note else None).json())
    )


@batches.command("revert")
@click.argument("batch_id")
@click.option("--dry-run", is_flag=True, help="Only show what would be removed and what depends on it.")
@click.option("--reason", "--note", "reason", default=None, help="Why it is reverted (kept in its history and PROV).")
@server_option
@token_option
@handled
def batches_revert(batch_id: str, dry_run: bool, reason: str | None, server: str, token: str | None) -> None:
    """Revert an accepted batch (a reviewer token), after showing what depends on it."""
    answer = call(
        "POST",
        server,
        f"/batches/{batch_id}/revert",
        token,
        params={"dry_run": "true"} if dry_run else None,
        json={"note": reason} if reason and not dry_run else None,
    ).json()
    preview = answer if dry_run else answer["preview"]
    click.echo(
        f"{preview['triples_removed']} triple(s) leave the public graph; "
        f"{len(preview['dependents'])} statement(s) in other batches refer to it"
    )
    for dep in preview["dependents"]:
        click.echo(
            f"  {compact_iri(dep['resource'])} {compact_iri(dep['property'])} "
            f"{compact_iri(dep['depends_on'])}  (batch {dep['batch']})"
        )
    if "triples_restored" in preview:  # a batch that amended published data gives it back
        click.echo(
            f"{preview['triples_restored']} triple(s) it retracted or merged away come back; "
            f"{preview['merge_triples_removed']} triple(s) its merges wrote leave"
        )
    if preview.get("amended_by"):
        click.echo(f"later batches amended its data, revert them first: {', '.join(preview['amended_by'])}")
    if not dry_run:
        click.echo(_show(answer))
