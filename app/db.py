"""Database plumbing: the declarative base, engines for SQLite and PostgreSQL, transactions.

One request is one transaction. Services ``flush``; only :meth:`Database.transaction` commits.
On SQLite a writing transaction starts with ``BEGIN IMMEDIATE`` so that concurrent writers queue
on the database lock instead of failing half-way; reads start a plain deferred ``BEGIN``.
"""

from __future__ import annotations

import json
import random
import secrets
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import Depends, Request
from sqlalchemy import event
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from app import clock

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> datetime:
    """The current instant in UTC, read from the one clock (:mod:`app.clock`)."""
    return clock.now()


class UTCDateTime(sa.TypeDecorator[datetime]):
    """A timestamp that is always stored and returned as an aware UTC datetime.

    SQLite has no time zones; PostgreSQL's ``timestamptz`` does. Both come back aware and in UTC.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


_random = random.Random(secrets.randbits(128))


def new_id(prefix: str) -> str:
    """An opaque, time-ordered identifier: ``prefix_`` + 32 hex digits.

    48 bits of milliseconds then 80 random bits (the ULID layout), so ids sort by creation
    time and serve as stable pagination cursors. Ids are unique, not secret: access is decided
    by keys and roles, never by knowing an id.
    """
    value = (time.time_ns() // 1_000_000) << 80 | _random.getrandbits(80)
    return f"{prefix}_{value:032x}"


def driver_url(url: str) -> sa.URL:
    """Map the contract's plain URLs onto the drivers oneexam ships with."""
    parsed = sa.make_url(url)
    backend = parsed.get_backend_name()
    if backend in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+psycopg")
    if backend == "sqlite":
        return parsed.set(drivername="sqlite+pysqlite")
    raise ValueError(f"unsupported database: {backend}")


def create_db_engine(url: str, *, pool_size: int = 10) -> Engine:
    real = driver_url(url)
    if real.get_backend_name() == "sqlite":
        return _sqlite_engine(real)
    return sa.create_engine(
        real,
        pool_size=pool_size,
        max_overflow=pool_size * 2,
        pool_pre_ping=True,
        hide_parameters=True,
        json_serializer=_json_dumps,
    )


def _json_dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _sqlite_engine(url: sa.URL) -> Engine:
    database = url.database or ""
    if database and database != ":memory:":
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": 60},
        hide_parameters=True,
        json_serializer=_json_dumps,
        pool_size=20,
        max_overflow=40,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin (see "begin" below).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=60000")
        # A finalisation writes tens of megabytes in one transaction: 16 MB of page cache per
        # connection (the default is 2 MB) keeps most of it in memory without bloating workers.
        cursor.execute("PRAGMA cache_size=-16384")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")

    return engine


class Database:
    """Engines and sessions for one configured database."""

    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.url = url
        self.engine = create_db_engine(url, pool_size=pool_size)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        writer = self.engine.execution_options(sqlite_begin="IMMEDIATE")
        self.session_info: dict[str, Any] = {}
        """Copied into every session's ``info`` (e.g. the audit chain key, ``app.audit``)."""
        self._reads = sessionmaker(self.engine, expire_on_commit=False, info=self.session_info)
        self._writes = sessionmaker(writer, expire_on_commit=False, info=self.session_info)

    @contextmanager
    def transaction(self, *, write: bool = True) -> Iterator[Session]:
        """A session whose work commits when the block ends and rolls back if it raises."""
        factory = self._writes if write else self._reads
        with factory() as session, session.begin():
            yield session

    def write(self) -> AbstractContextManager[Session]:
        """A transaction that writes (on SQLite it takes the write lock at once)."""
        return self.transaction(write=True)

    def read(self) -> AbstractContextManager[Session]:
        return self.transaction(write=False)

    def dispose(self) -> None:
        self.engine.dispose()


def bulk_insert(db: Session, model: type[Base], rows: list[dict[str, Any]]) -> None:
    """One executemany for all rows, whatever columns are null.

    The ORM's bulk insert starts a new statement whenever the set of non-null keys changes from
    one row to the next (a scored result after a pass/fail one), so its statement count grows
    with the batch; a Core insert on the table does not.
    """
    if rows:
        db.execute(sa.insert(model.__table__), rows)  # type: ignore[arg-type]


def update_rows(
    db: Session,
    model: type[Base],
    *,
    where: dict[str, Sequence[Any]],
    values: dict[str, Any],
) -> None:
    """``UPDATE`` ``model``'s rows whose columns hold one of the given values (``where``:
    column → values; the first names the rows), as a Core statement; then the updated
    attributes of any of those rows loaded in this session are expired, so they are read
    again. Cheaper than an ORM-enabled update in a hot path (no evaluation of the criteria in
    Python, no ORM statement compilation), and as correct for loaded objects."""
    table = model.__table__
    assert isinstance(table, sa.Table)
    if db.new or db.dirty or db.deleted:
        db.flush()  # as an ORM-enabled statement would (autoflush): pending writes go first
    db.execute(
        sa.update(table)
        .where(*(table.c[column].in_(list(allowed)) for column, allowed in where.items()))
        .values(**values)
    )
    if db.identity_map:
        column, keys = next(iter(where.items()))
        wanted = set(keys)
        for obj in list(db.identity_map.values()):
            if isinstance(obj, model) and getattr(obj, column, None) in wanted:
                db.expire(obj, list(values))


def insert_ignoring_conflicts(
    db: Session, model: type[Base], rows: list[dict[str, Any]], *, conflict_columns: list[str]
) -> None:
    """Bulk insert, skipping rows that collide on ``conflict_columns`` (another writer won)."""
    if not rows:
        return
    dialect = db.get_bind().dialect.name
    insert = sqlite_insert if dialect == "sqlite" else postgresql_insert
    db.execute(insert(model).on_conflict_do_nothing(index_elements=conflict_columns), rows)


def get_database(request: Request) -> Database:
    return request.app.state.database  # type: ignore[no-any-return]


DatabaseDep = Annotated[Database, Depends(get_database)]
"""The database; an endpoint runs its work in ``with database.write() as db:`` (or ``read()``).

The transaction begins and ends inside the endpoint's own worker thread. A session held open
by a dependency would commit in a later thread hop, and under load every worker thread can be
taken by requests waiting for the lock that the committing request holds: a deadlock.
"""
