"""Start-up checks that ``oneexam serve``, ``migrate`` and ``worker`` make before doing anything.

Each failure is one :class:`NotReady` whose message is a single line an operator can act on:
the folder that is missing, the cause the database driver gave, ``run `oneexam migrate```, or
the port that is taken and the variable that moves it. Nothing here creates files or folders.
"""

from __future__ import annotations

import socket
from pathlib import Path

import sqlalchemy as sa

from app.config import Settings
from app.db import driver_url
from app.migrate import current_revision, head_revision

CONNECT_TIMEOUT = 5
BACKLOG = 2048


class NotReady(Exception):
    """The environment is not one the command can run in; the message says what to change."""


def one_line(exc: BaseException) -> str:
    """The innermost cause of a driver error, on one line (drivers spread it over several)."""
    cause: BaseException = getattr(exc, "orig", None) or exc
    text = " ".join(str(cause).split())
    return text or type(cause).__name__


def sqlite_path(settings: Settings) -> Path | None:
    """The database file of an SQLite URL (None for PostgreSQL and in-memory databases)."""
    if not settings.is_sqlite:
        return None
    database = sa.make_url(settings.database_url).database or ""
    if not database or database == ":memory:":
        return None
    return Path(database).expanduser().resolve()


def check_data_folder(settings: Settings) -> None:
    """The folder of the SQLite file (where a generated PII key goes too) must exist."""
    path = sqlite_path(settings)
    if path is not None and not path.parent.is_dir():
        raise NotReady(
            f"ONEEXAM_DATABASE_URL: the folder {path.parent} does not exist; "
            "create it or point ONEEXAM_DATABASE_URL elsewhere"
        )


def check_database(settings: Settings) -> None:
    """The database answers and is at the migration head this code expects."""
    path = sqlite_path(settings)
    if path is not None and not path.exists():
        raise NotReady(f"there is no database at {path} yet: run `oneexam migrate` first")
    url = driver_url(settings.database_url)
    connect_args = {} if settings.is_sqlite else {"connect_timeout": CONNECT_TIMEOUT}
    engine = sa.create_engine(url, connect_args=connect_args, poolclass=sa.NullPool)
    try:
        with engine.connect() as conn:
            current = current_revision(conn)
    except sa.exc.SQLAlchemyError as exc:
        raise NotReady(
            f"ONEEXAM_DATABASE_URL: cannot reach the database: {one_line(exc)}"
        ) from None
    finally:
        engine.dispose()
    expected = head_revision()
    if current != expected:
        found = f"at revision {current}" if current else "not migrated"
        raise NotReady(
            f"the database is {found}, this oneexam expects {expected}: run `oneexam migrate`"
        )


def bind(settings: Settings) -> socket.socket:
    """The listening socket for ``serve``, bound now so that a taken port is reported before
    anything starts (and cannot be taken between the check and the bind)."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            settings.host, settings.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except OSError as exc:
        raise NotReady(f"ONEEXAM_HOST: cannot use {settings.host!r}: {one_line(exc)}") from None
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise NotReady(
            f"cannot listen on {settings.host}:{settings.port} ({exc.strerror or exc}): "
            "stop what uses it or choose another port with ONEEXAM_PORT (or serve --port)"
        ) from None
    sock.listen(BACKLOG)  # connections wait in the backlog while the app starts
    return sock
