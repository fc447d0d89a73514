"""``oneexam audit``: verify the chain, print a signed checkpoint, seal a chain written before
the key. Exit codes: 0 intact, 1 broken (or no checkpoint could be taken), 2 bad configuration
or a checkpoint file that cannot be read."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from app import sealed
from app.audit import service
from app.config import ConfigError, Settings, load_settings
from app.crypto import load_vault
from app.db import Database

audit_cli = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)
console = Console(stderr=True)


def bound_database(settings: Settings, *, pool_size: int = 2) -> Database:
    """A database whose sessions can append to and verify the chain, and read and write
    certificate numbers (sealed under the PII key)."""
    from app.models import load_all_models

    load_all_models()
    database = Database(settings.database_url, pool_size=pool_size)
    service.bind_settings(database, settings)
    sealed.bind(database.engine, lambda: load_vault(settings))
    return database


def _database() -> Database:
    try:
        return bound_database(load_settings())
    except ConfigError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None


def _read_checkpoint(path: Path) -> service.Checkpoint:
    try:
        return service.Checkpoint.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError) as exc:
        console.print(f"[red]cannot read the checkpoint {path}: {exc}[/red]")
        raise typer.Exit(2) from None


@audit_cli.command("verify")
def audit_verify(
    checkpoint: Annotated[
        Path | None,
        typer.Option(help="a checkpoint printed earlier by `oneexam audit checkpoint`"),
    ] = None,
) -> None:
    """Recompute the keyed chain; exit 1 and name the first broken entry if any (or if the log
    is shorter than the checkpoint)."""
    cp = _read_checkpoint(checkpoint) if checkpoint is not None else None
    database = _database()
    try:
        with database.read() as db:
            result = service.verify(db, checkpoint=cp)
    except ConfigError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    finally:
        database.dispose()
    if result.intact:
        against = f", checkpoint {cp.seq} found" if cp is not None else ""
        console.print(f"audit log intact: {result.entries} entries verified{against}")
        return
    console.print(f"[red]audit log broken at entry {result.first_broken}: {result.problem}[/red]")
    raise typer.Exit(1)


@audit_cli.command("checkpoint")
def audit_checkpoint() -> None:
    """Print the chain's tip (sequence, hash, time), signed with the chain key, as JSON on
    standard output: keep it somewhere the database's writers cannot reach."""
    database = _database()
    try:
        with database.read() as db:
            cp = service.checkpoint(db)
    except ValueError as exc:
        console.print(f"[red]{exc}; no checkpoint taken[/red]")
        raise typer.Exit(1) from None
    finally:
        database.dispose()
    print(json.dumps(cp.as_json()))


@audit_cli.command("seal")
def audit_seal() -> None:
    """Key a log written before the audit key: append an `audit.sealed` entry linking to it."""
    database = _database()
    try:
        with database.write() as db:
            sealed = service.seal(db)
    finally:
        database.dispose()
    console.print("audit log sealed" if sealed else "audit log already keyed: nothing to seal")
