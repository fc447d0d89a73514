"""The `oneexam` command: serve, migrate, worker, catalogue and operator tools."""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
import yaml
from rich.console import Console
from rich.table import Table

from app.config import DEFAULT_DATABASE_URL, ConfigError, Settings, load_settings

cli = typer.Typer(
    help="oneexam: one combined assessment, many certificates.",
    no_args_is_help=True,
    rich_markup_mode="rich",
)
catalogue_cli = typer.Typer(help="Load and export the catalogue.", no_args_is_help=True)
cli.add_typer(catalogue_cli, name="catalogue")


def _console(*, stderr: bool) -> Console:
    """A console that wraps only on a terminal: piped output keeps each line whole."""
    stream = sys.stderr if stderr else sys.stdout
    piped = not stream.isatty()
    return Console(stderr=stderr, soft_wrap=piped, width=PIPED_WIDTH if piped else None)


PIPED_WIDTH = 120
console = _console(stderr=True)
REFERENCE_DIR = Path(__file__).resolve().parent / "catalogue" / "reference"


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        print(f"oneexam {version('oneexam')}")
        raise typer.Exit()


@cli.callback()
def _main(
    _version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """oneexam: one combined assessment, many certificates."""


def _settings(**overrides: object) -> Settings:
    try:
        return load_settings(**{k: v for k, v in overrides.items() if v is not None})
    except ConfigError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None


def _ready(settings: Settings, *, database: bool = True) -> None:
    """The start-up checks of app/ops/preflight.py: one line and exit 1 if one fails."""
    from app.ops import preflight

    try:
        preflight.check_data_folder(settings)
        if database:
            preflight.check_database(settings)
    except preflight.NotReady as exc:
        _fail(str(exc))


def _fail(message: str, code: int = 1) -> NoReturn:
    console.print(message, style="red", markup=False, highlight=False)
    raise typer.Exit(code)


@cli.command()
def serve(
    host: Annotated[
        str | None, typer.Option(help="listen on this address (default ONEEXAM_HOST)")
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="listen on this port (default ONEEXAM_PORT)")
    ] = None,
) -> None:
    """Serve the API, with the delivery worker unless ONEEXAM_WORKER=off.

    Listens on ONEEXAM_HOST:ONEEXAM_PORT (or --host/--port). Before listening it checks that the data folder exists, that the database answers and is
    migrated, and that the port is free; if not, it says so in one line and exits 1.
    """
    import uvicorn

    from app.ops import preflight

    settings = _settings(host=host, port=port)
    _ready(settings)
    try:
        sock = preflight.bind(settings)
    except preflight.NotReady as exc:
        _fail(str(exc))
    from app.main import create_app

    try:
        app = create_app(settings)
    except ConfigError as exc:
        sock.close()
        _fail(str(exc), 2)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=max(5, int(settings.delivery_timeout) + 5),
    )
    url = f"http://{settings.host}:{settings.port}"
    logging.getLogger("oneexam.serve").info(
        f"oneexam listening on {url} (API reference: {url}/docs)", extra={"url": url}
    )
    uvicorn.Server(config).run(sockets=[sock])


@cli.command()
def worker() -> None:
    """Run a standalone delivery worker (any number may share one PostgreSQL).

    Stops cleanly on SIGTERM or Ctrl-C: in-flight attempts finish and are recorded.
    """
    import signal

    from app.crypto import load_vault
    from app.delivery.metrics import DeliveryQueueCollector
    from app.delivery.worker import DeliveryWorker
    from app.issuance.lifecycle import make_outbox
    from app.logs import configure_logging
    from app.metrics import Metrics

    settings = _settings()
    _ready(settings)
    configure_logging(settings.log_level, settings.log_format)
    database = _database(settings)
    try:
        vault = load_vault(settings)
    except ConfigError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    metrics = Metrics()
    if settings.worker_metrics_port:
        from prometheus_client import start_http_server

        metrics.registry.register(DeliveryQueueCollector(database))
        start_http_server(
            settings.worker_metrics_port, addr=settings.host, registry=metrics.registry
        )
        console.print(
            f"worker metrics on http://{settings.host}:{settings.worker_metrics_port}/metrics"
        )
    outbox = make_outbox(vault=vault, settings=settings)
    delivery = DeliveryWorker(database=database, outbox=outbox, settings=settings, metrics=metrics)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: delivery.request_stop())
    delivery.start()
    delivery.wait()
    delivery.stop()
    database.dispose()


@cli.command()
def migrate() -> None:
    """Upgrade the configured database to the latest schema (Alembic upgrade head).

    The default database folder (./var) is created if missing; any other must exist. A
    database that cannot be reached is reported in one line, with the driver's cause.
    """
    from app.crypto import load_vault
    from app.migrate import head_revision, upgrade
    from app.ops.preflight import one_line, sqlite_path

    settings = _settings()
    path = sqlite_path(settings)
    if path is not None and settings.database_url == DEFAULT_DATABASE_URL:
        path.parent.mkdir(parents=True, exist_ok=True)
    _ready(settings, database=False)
    try:
        upgrade(settings.database_url, vault=lambda: load_vault(settings))
    except Exception as exc:  # any failure of the driver or the migration: its cause, one line
        _fail(f"cannot migrate ONEEXAM_DATABASE_URL: {one_line(exc)}")
    console.print(f"database at revision {head_revision()}")


@cli.command()
def keygen() -> None:
    """Print a new random key suitable for ONEEXAM_PII_KEY."""
    from app.crypto import generate_key

    print(generate_key())


def _read_document(path: Path) -> Any:
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() in (".yaml", ".yml"):
        return yaml.safe_load(text)
    return json.loads(text)


def _database(settings: Settings):  # type: ignore[no-untyped-def]
    from app.audit.cli import bound_database

    return bound_database(settings)


@catalogue_cli.command("import")
def catalogue_import(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="catalogue JSON or YAML")
    ],
    departments: Annotated[
        Path | None,
        typer.Option(
            exists=True, dir_okay=False, help="also create these departments (JSON/YAML list)"
        ),
    ] = None,
) -> None:
    """Store FILE as a new catalogue version (creating departments first, if given)."""
    settings = _settings()
    database = _database(settings)
    document = _read_document(file)
    dept_docs = _read_document(departments) if departments else []
    _import(settings, database, document, dept_docs)


@catalogue_cli.command("load-reference")
def catalogue_load_reference() -> None:
    """Load the shipped reference departments and electrician/welder catalogue."""
    settings = _settings()
    database = _database(settings)
    document = _read_document(REFERENCE_DIR / "electrician-welder.json")
    dept_docs = _read_document(REFERENCE_DIR / "departments.json")
    _import(settings, database, document, dept_docs)


def _import(settings: Settings, database: Any, document: Any, dept_docs: list[Any]) -> None:
    from pydantic import ValidationError

    from app.catalogue import service as catalogue_service
    from app.catalogue.schemas import CatalogueDocument
    from app.crypto import load_vault
    from app.departments import service as department_service
    from app.departments.models import Department
    from app.departments.schemas import DepartmentCreate
    from app.errors import AppError, validation_items

    vault = load_vault(settings)
    created: list[tuple[str, str]] = []
    try:
        doc = CatalogueDocument.model_validate(document)
        depts = [DepartmentCreate.model_validate(d) for d in dept_docs]
    except ValidationError as exc:
        for item in validation_items(exc.errors()):
            console.print(f"[red]{item.pointer or item.parameter}: {item.message}[/red]")
        raise typer.Exit(1) from None
    try:
        with database.transaction() as db:
            for dept in depts:
                if db.get(Department, dept.code) is None:
                    _, secret = department_service.create(
                        db=db, vault=vault, data=dept, actor="cli"
                    )
                    created.append((dept.code, secret))
            row = catalogue_service.put(db=db, document=doc, actor="cli")
    except AppError as exc:
        console.print(f"[red]{exc.detail}[/red]")
        for item in exc.errors or []:
            console.print(f"[red]  {item.pointer}: {item.message}[/red]")
        raise typer.Exit(1) from None
    if created:
        table = Table(title="departments created (signing secrets are shown only now)")
        table.add_column("code")
        table.add_column("signing_secret")
        for code, secret in created:
            table.add_row(code, secret)
        _console(stderr=False).print(table)
    console.print(
        f"catalogue version {row.version}: {len(doc.sections)} sections, "
        f"{len(doc.certificates)} certificates, {len(doc.recognitions)} recognitions, "
        f"{len(doc.equivalences)} equivalences"
    )


@catalogue_cli.command("export")
def catalogue_export(
    version: Annotated[
        int | None, typer.Option(help="a version number; default the latest")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="json or yaml")] = "json",
) -> None:
    """Print a catalogue version (default the latest) as JSON or YAML."""
    from app.catalogue import service as catalogue_service
    from app.errors import AppError

    settings = _settings()
    database = _database(settings)
    try:
        with database.transaction(write=False) as db:
            row = (
                catalogue_service.get_version(db=db, version=version)
                if version
                else catalogue_service.latest(db=db)
            )
            document = row.document
    except AppError as exc:
        console.print(f"[red]{exc.detail}[/red]")
        raise typer.Exit(1) from None
    if fmt == "yaml":
        sys.stdout.write(yaml.safe_dump(document, allow_unicode=True, sort_keys=False))
    else:
        sys.stdout.write(json.dumps(document, ensure_ascii=False, indent=2) + "\n")


@cli.command("simulate-departments")
def simulate_departments(
    config: Annotated[
        Path,
        typer.Option(exists=True, dir_okay=False, help="JSON: api, reject_share, departments[]"),
    ],
) -> None:
    """Run simulated department systems, one HTTP server each on 127.0.0.1.

    Each verifies every webhook's signature, refuses bad ones, and posts back issued or
    rejected decisions.
    """
    from app.logs import configure_logging
    from app.operator import simulator

    configure_logging("INFO")
    departments = simulator.load_departments(json.loads(config.read_text(encoding="utf-8")))
    console.print("simulating " + ", ".join(f"{d.code} on 127.0.0.1:{d.port}" for d in departments))
    simulator.run(departments)


import_cli = typer.Typer(help="Import CSV files into a running oneexam.", no_args_is_help=True)
cli.add_typer(import_cli, name="import")

ApiUrl = Annotated[
    str, typer.Option("--api-url", envvar="ONEEXAM_API_URL", help="the running service")
]
ApiKey = Annotated[
    str, typer.Option("--api-key", envvar="ONEEXAM_API_KEY", help="a centre (or admin) key")
]


def _run_import(kind: str, api_url: str, api_key: str, session_id: str, file: Path) -> None:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from app.operator import importer

    try:
        total = importer.count_rows(file)
    except importer.ImportFailed as exc:
        _fail(f"import failed: {exc}", 2)
    run = importer.import_registrations if kind == "registrations" else importer.import_results
    columns = (
        TextColumn(f"importing {kind}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    try:
        with Progress(*columns, console=console, disable=not console.is_terminal) as progress:
            task = progress.add_task(kind, total=total)
            report = run(api_url, api_key, session_id, file, lambda n: progress.advance(task, n))
    except importer.ImportFailed as exc:
        _fail(f"import failed: {exc}", 2)
    except (OSError, ValueError) as exc:
        _fail(f"cannot import {file}: {exc}", 2)
    table = Table(title=f"{file.name}: {report.rows} rows")
    for column in (
        "created",
        "already registered" if kind == "registrations" else "unchanged",
        "errors",
    ):
        table.add_column(column, justify="right")
    table.add_row(
        str(report.created),
        str(report.duplicates if kind == "registrations" else report.unchanged),
        str(len(report.errors)),
    )
    _console(stderr=False).print(table)
    if report.output_file:
        console.print(f"registration ids: {report.output_file}")
    if report.error_file:
        console.print(
            f"[yellow]{len(report.errors)} refused row(s), each with its problem: {report.error_file}[/yellow]"
        )
        if kind == "results":
            console.print(
                "[yellow]nothing was recorded; fix the rows and import the file again[/yellow]"
            )
        raise typer.Exit(1)


@import_cli.command("registrations")
def import_registrations(
    session_id: str,
    file: Annotated[
        Path,
        typer.Argument(
            exists=True, dir_okay=False, help="CSV (UTF-8 or GBK): id_number,name,targets,held"
        ),
    ],
    api_url: ApiUrl = "http://127.0.0.1:8000",
    api_key: ApiKey = "",
) -> None:
    """Register every row of FILE into SESSION_ID; rows are independent.

    Refused rows go to FILE.errors.csv; a row already registered counts as a duplicate, not an
    error.
    """
    _run_import("registrations", api_url, api_key, session_id, file)


@import_cli.command("results")
def import_results(
    session_id: str,
    file: Annotated[
        Path,
        typer.Argument(
            exists=True,
            dir_okay=False,
            help="CSV (UTF-8 or GBK): registration_id (or id_number,name),section,score,passed",
        ),
    ],
    api_url: ApiUrl = "http://127.0.0.1:8000",
    api_key: ApiKey = "",
) -> None:
    """Record the results in FILE, all or nothing.

    Any bad row and nothing is written (the rows go to FILE.errors.csv). Rows already recorded
    identically are unchanged.
    """
    _run_import("results", api_url, api_key, session_id, file)


from app.audit.cli import audit_cli  # noqa: E402

cli.add_typer(audit_cli, name="audit")


# --- users (console accounts) -------------------------------------------------------------------
users_cli = typer.Typer(help="People who sign in to the console at /console.", no_args_is_help=True)
cli.add_typer(users_cli, name="users")

PasswordStdin = Annotated[
    bool, typer.Option("--password-stdin", help="read the password from standard input")
]


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    password: str = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    return password


def _users_write(action: Any) -> Any:
    from app.errors import AppError

    database = _database(_settings())
    try:
        with database.transaction() as db:
            return action(db)
    except AppError as exc:
        console.print(f"[red]{exc.detail or exc.title}[/red]")
        raise typer.Exit(1) from None
    finally:
        database.dispose()


@users_cli.command("create")
def users_create(
    username: str,
    role: Annotated[str, typer.Option(help="centre, department or admin")],
    subject: Annotated[
        str | None, typer.Option(help="the centre or department code (none for an admin)")
    ] = None,
    password_stdin: PasswordStdin = False,
) -> None:
    """Create a console user who acts as an API key of ROLE and SUBJECT would."""
    from app.users import service as users_service

    password = _read_password(password_stdin)
    _users_write(
        lambda db: users_service.create(
            db, username=username, role=role, subject=subject, password=password, actor="cli"
        )
    )
    console.print(f"user {username} created ({role}{' ' + subject if subject else ''})")


@users_cli.command("disable")
def users_disable(username: str) -> None:
    """Disable USERNAME: their console sessions stop working at once."""
    from app.users import service as users_service

    _users_write(lambda db: users_service.disable(db, username=username, actor="cli"))
    console.print(f"user {username} disabled")


@users_cli.command("reset-password")
def users_reset_password(username: str, password_stdin: PasswordStdin = False) -> None:
    """Give USERNAME a new password (re-enabling and unlocking the account; sessions end)."""
    from app.users import service as users_service

    password = _read_password(password_stdin)
    _users_write(
        lambda db: users_service.reset_password(
            db, username=username, password=password, actor="cli"
        )
    )
    console.print(f"password of {username} reset")


# --- end of users ---------------------------------------------------------------------------------


def main() -> None:
    if not sys.stdout.isatty() and "TERMINAL_WIDTH" not in os.environ:
        # Help and tables piped to a file or a pager keep their lines whole.
        import typer.rich_utils

        typer.rich_utils.MAX_WIDTH = PIPED_WIDTH
    cli()


if __name__ == "__main__":
    main()
