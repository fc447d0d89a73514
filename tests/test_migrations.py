"""The migrations build exactly the schema the models describe, unwind cleanly, and convert
the rows already stored when they change how personal data is kept."""

from __future__ import annotations

from functools import partial
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from fastapi.testclient import TestClient

from app.audit import service as audit
from app.audit.cli import bound_database
from app.config import Settings
from app.crypto import load_vault
from app.db import Base, create_db_engine
from app.main import create_app
from app.migrate import downgrade, head_revision, upgrade
from app.models import load_all_models
from tests.conftest import make_settings
from tests.support import (
    ExamClock,
    World,
    adult,
    build_world,
    every_stored_value,
    passing_results,
    registration,
    schedule_session,
    withdraw,
)


def test_upgrade_head_matches_models_and_downgrade_base_removes_everything(
    empty_database_url: str,
) -> None:
    load_all_models()
    upgrade(empty_database_url)
    engine = create_db_engine(empty_database_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert context.get_current_revision() == head_revision()
            diff = compare_metadata(context, Base.metadata)
            assert diff == [], f"models and migrations differ: {diff}"
            tables = set(sa.inspect(conn).get_table_names())
        assert set(Base.metadata.tables) <= tables

        downgrade(empty_database_url, "base")
        with engine.connect() as conn:
            left = set(sa.inspect(conn).get_table_names()) - {"alembic_version"}
            assert left == set()
            assert MigrationContext.configure(conn).get_current_revision() is None

        upgrade(empty_database_url)  # and back up again: the downgrade left nothing behind
        with engine.connect() as conn:
            assert MigrationContext.configure(conn).get_current_revision() == head_revision()
    finally:
        engine.dispose()


BEFORE_SEALING = "b41c7e2a9d05"
PERSON, HOLDER = adult(31), adult(32)
ISSUED, DECLARED = "T" + PERSON, "T" + HOLDER
MASKED = "T" + PERSON[:6] + "********" + PERSON[14:]  # what the audit entry of the decision holds


def _sealing_world(client: TestClient, clock: ExamClock) -> tuple[World, dict[str, str]]:
    """A person with a declared certificate, a plan resting on it, and an issued certificate."""
    world = build_world(client)
    s = schedule_session(client, world.centre_a, ["MEM-LV"], **clock.session_times())
    held = [{"certificate": "MOHURD-ELEC", "number": DECLARED, "valid_until": "2030-01-01"}]
    r = client.post(
        f"/v1/sessions/{s['id']}/registrations",
        headers=world.centre_a,
        json=registration(PERSON, ["MEM-LV"], held=held),
    )
    assert r.status_code == 201, r.text
    reg = r.json()
    clock.start_of(s)
    rows = {"results": passing_results([reg])}
    r = client.post(f"/v1/sessions/{s['id']}/results", headers=world.centre_a, json=rows)
    assert r.status_code == 200, r.text
    r = client.post(f"/v1/sessions/{s['id']}/finalise", headers=world.centre_a)
    assert r.status_code == 200, r.text
    mem = world.departments["mem"]
    [request] = client.get("/v1/issuance-requests", headers=mem).json()["items"]
    decision = {"decision": "issued", "certificate_number": ISSUED, "issued_on": "2026-12-20"}
    r = client.post(f"/v1/issuance-requests/{request['id']}/decision", headers=mem, json=decision)
    assert r.status_code == 200, r.text
    return world, {"session": s["id"], "registration": reg["id"], "request": request["id"]}


def _views(client: TestClient, world: World, ids: dict[str, str]) -> dict[str, Any]:
    """What the issuing department and an admin read of it."""
    mem, admin = world.departments["mem"], world.admin
    search = {"id_number": PERSON}
    return {
        "request": client.get(f"/v1/issuance-requests/{ids['request']}", headers=mem).json(),
        "search": client.post("/v1/candidate-certificates:search", headers=mem, json=search).json(),
        "registration": client.get(
            f"/v1/registrations/{ids['registration']}", headers=admin
        ).json(),
        "outcomes": client.get(f"/v1/sessions/{ids['session']}/outcomes", headers=admin).json(),
        "audit": client.get("/v1/audit-log", headers=admin, params={"limit": 500}).json(),
    }


def _intact(settings: Settings) -> bool:
    database = bound_database(settings)
    try:
        with database.read() as db:
            return audit.verify(db).intact
    finally:
        database.dispose()


def test_sealing_certificate_numbers_converts_existing_rows_both_ways(
    empty_database_url: str, exam_clock: ExamClock
) -> None:
    """Rows written before the revision (here: by downgrading to it, which decrypts them) are
    encrypted by the upgrade and read back as they were; the audit chain still verifies."""
    settings = make_settings(empty_database_url)
    upgrade(empty_database_url)
    with TestClient(create_app(settings)) as client:
        world, ids = _sealing_world(client, exam_clock)
        views = _views(client, world, ids)
    assert views["request"]["decision"]["certificate_number"] == ISSUED
    assert views["search"]["items"][0]["number"] == ISSUED
    assert views["outcomes"]["items"][0]["exemptions"]  # the declared MOHURD-ELEC is a basis
    vault = partial(load_vault, settings)

    downgrade(empty_database_url, BEFORE_SEALING, vault=vault)
    engine = create_db_engine(empty_database_url)
    with engine.connect() as conn:
        numbers = conn.execute(sa.text("select number from candidate_certificates")).scalars()
        assert list(numbers) == [ISSUED]  # the old schema holds them in clear
    engine.dispose()
    clear = every_stored_value(empty_database_url)
    assert DECLARED in clear and MASKED in clear

    upgrade(empty_database_url, vault=vault)
    stored = every_stored_value(empty_database_url)
    for number in (PERSON, HOLDER, MASKED):
        assert number not in stored, f"{number} is still in clear after the upgrade"
    assert _intact(settings)
    with TestClient(create_app(settings)) as client:
        again = _views(client, world, ids)
    before = views.pop("audit")["items"]
    assert again.pop("audit")["items"][: len(before)] == before  # then this lookup's own entry
    assert again == views


BEFORE_REREGISTRATION = "7df170dbafbe"


def test_registering_again_keeps_every_row_and_stops_the_downgrade(
    empty_database_url: str, exam_clock: ExamClock
) -> None:
    """The revision that lets a withdrawn person register again copies registrations as they
    were (on SQLite it rebuilds the table while results, outcomes and requests refer to it); once
    someone is registered twice in a session, the downgrade refuses and changes nothing."""
    settings = make_settings(empty_database_url)
    upgrade(empty_database_url, BEFORE_REREGISTRATION)
    with TestClient(create_app(settings)) as client:
        world, ids = _sealing_world(client, exam_clock)
        views = _views(client, world, ids)
    upgrade(empty_database_url)
    assert _intact(settings)
    with TestClient(create_app(settings)) as client:
        again = _views(client, world, ids)
        s = schedule_session(client, world.centre_a, ["MEM-LV"], **exam_clock.session_times())
        url = f"/v1/sessions/{s['id']}/registrations"
        first = client.post(url, headers=world.centre_a, json=registration(HOLDER, ["MEM-LV"]))
        withdraw(client, world.centre_a, first.json()["id"])
        r = client.post(url, headers=world.centre_a, json=registration(HOLDER, ["MEM-LV"]))
        assert r.status_code == 201, r.text
    before = views.pop("audit")["items"]
    assert again.pop("audit")["items"][: len(before)] == before
    assert again == views

    with pytest.raises(RuntimeError, match="registered again"):
        downgrade(empty_database_url, BEFORE_REREGISTRATION)
    engine = create_db_engine(empty_database_url)
    with engine.connect() as conn:
        assert MigrationContext.configure(conn).get_current_revision() == head_revision()
        count = conn.execute(sa.text("select count(*) from registrations")).scalar()
    engine.dispose()
    assert count == 3
