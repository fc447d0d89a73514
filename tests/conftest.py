"""Test databases run through the real migrations, on SQLite or PostgreSQL.

``ONEEXAM_TEST_BACKEND`` picks the backend for the whole run: ``sqlite`` (default) or
``postgres``, which needs ``ONEEXAM_TEST_POSTGRES_URL``. The schema is migrated once per run;
each test then gets a fresh copy (SQLite: a copy of the migrated file; PostgreSQL: the migrated
database with every table emptied).
"""

from __future__ import annotations

import os
import shutil
import threading
import time
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
import uvicorn

warnings.filterwarnings("ignore", message=".*httpx2.*")

from fastapi.testclient import TestClient  # noqa: E402

from app.config import Settings  # noqa: E402
from app.main import create_app  # noqa: E402
from app.migrate import upgrade  # noqa: E402
from tests.support import ADMIN_KEY, TEST_PII_KEY, ExamClock, World, build_world  # noqa: E402

BACKEND = os.environ.get("ONEEXAM_TEST_BACKEND", "sqlite")
POSTGRES_URL = os.environ.get("ONEEXAM_TEST_POSTGRES_URL")


def pytest_report_header(config: pytest.Config) -> str:
    return f"oneexam test database: {BACKEND}"


def _admin_url(url: str, database: str) -> str:
    return sa.make_url(url).set(database=database).render_as_string(hide_password=False)


class PostgresDatabases:
    """Creates throwaway databases next to the one given, and drops them at the end."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.engine = sa.create_engine(
            sa.make_url(base_url).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT"
        )
        self.created: list[str] = []

    def create(self, label: str) -> str:
        name = f"oneexam_{label}_{uuid.uuid4().hex[:10]}"
        with self.engine.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        self.created.append(name)
        return _admin_url(self.base_url, name)

    def drop_all(self) -> None:
        with self.engine.connect() as conn:
            for name in self.created:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.engine.dispose()


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresDatabases | None]:
    if BACKEND != "postgres":
        yield None
        return
    if not POSTGRES_URL:
        pytest.exit("ONEEXAM_TEST_BACKEND=postgres needs ONEEXAM_TEST_POSTGRES_URL", returncode=2)
    dbs = PostgresDatabases(POSTGRES_URL)
    yield dbs
    dbs.drop_all()


@pytest.fixture(scope="session")
def migrated_template(
    tmp_path_factory: pytest.TempPathFactory, postgres: PostgresDatabases | None
) -> str:
    """A database migrated to head once per run (SQLite file or PostgreSQL database)."""
    if postgres is not None:
        url = postgres.create("suite")
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('template') / 'template.db'}"
    upgrade(url)
    return url


class PostgresEmptier:
    """Empties every table of the migrated PostgreSQL database between tests.

    ``DELETE`` in reverse foreign-key order: on tables holding a test's few rows it takes ~10 ms,
    where ``TRUNCATE`` of the same tables takes ~300 ms (measured on this kind of machine). The
    schema has no sequences or triggers, so nothing else needs resetting.
    """

    def __init__(self, url: str) -> None:
        self.engine = sa.create_engine(sa.make_url(url).set(drivername="postgresql+psycopg"))
        metadata = sa.MetaData()
        metadata.reflect(self.engine)
        self.tables = [t for t in reversed(metadata.sorted_tables) if t.name != "alembic_version"]

    def empty(self) -> None:
        with self.engine.begin() as conn:
            for table in self.tables:
                conn.execute(table.delete())


@pytest.fixture(scope="session")
def postgres_emptier(
    migrated_template: str, postgres: PostgresDatabases | None
) -> Iterator[PostgresEmptier | None]:
    if postgres is None:
        yield None
        return
    emptier = PostgresEmptier(migrated_template)
    yield emptier
    emptier.engine.dispose()


@pytest.fixture
def fresh_database_url(
    migrated_template: str, tmp_path: Path, postgres_emptier: PostgresEmptier | None
) -> str:
    """A migrated database with no rows, for this test alone."""
    if postgres_emptier is None:
        source = Path(sa.make_url(migrated_template).database or "")
        target = tmp_path / "oneexam.db"
        shutil.copyfile(source, target)
        return f"sqlite:///{target}"
    postgres_emptier.empty()
    return migrated_template


@pytest.fixture
def empty_database_url(tmp_path: Path, postgres: PostgresDatabases | None) -> str:
    """A database with no schema at all (for migration tests)."""
    if postgres is not None:
        return postgres.create("empty")
    return f"sqlite:///{tmp_path / 'empty.db'}"


def make_settings(database_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": database_url,
        "admin_key": ADMIN_KEY,
        "pii_key": TEST_PII_KEY,
        "worker": "off",
        "retry_schedule": (0, 0.2, 0.4),
        "delivery_timeout": 2.0,
        "delivery_poll_interval": 0.05,
        "delivery_lease_margin": 1.0,
        "webhook_allowed_networks": "127.0.0.0/8",
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
def settings(fresh_database_url: str) -> Settings:
    return make_settings(fresh_database_url)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        yield test_client


class LiveServer:
    """The app served by a real uvicorn on 127.0.0.1, in a background thread."""

    def __init__(self, app: object) -> None:
        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, access_log=False)  # type: ignore[arg-type]
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        while not self.server.started:
            if not self.thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.01)
        host, port = self.server.servers[0].sockets[0].getsockname()[:2]
        self.url = f"http://{host}:{port}"
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


@pytest.fixture
def live(settings: Settings) -> Iterator[LiveServer]:
    with LiveServer(create_app(settings)) as server:
        yield server


@pytest.fixture
def world(client: TestClient) -> World:
    """Reference departments and catalogue, two centres, and a key for every party."""
    return build_world(client)


@pytest.fixture
def exam_clock() -> Iterator[ExamClock]:
    """A controllable clock for the test: ``exam_clock.start_of(session)`` opens a session."""
    import time_machine

    from app import clock

    with time_machine.travel(clock.now(), tick=True) as traveller:
        yield ExamClock(traveller)
