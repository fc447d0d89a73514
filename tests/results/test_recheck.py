"""At finalisation each plan is worked out again on the person's certificates as they stand
then (docs/api.md §8): a revoked certificate no longer opens a prerequisite (the target is
``not_eligible``, with reasons) nor an exemption (the section counts as not sat,
``exemption-withdrawn``)."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from fastapi.testclient import TestClient

from app.db import create_db_engine
from tests.support import (
    EXAM_DAY,
    ExamClock,
    World,
    adult,
    passing_results,
    post_results,
    qualify,
    register_many,
    registration,
    schedule_session,
)


def revoke_everything_of(settings, registration_id: str) -> None:  # type: ignore[no-untyped-def]
    """Stands in for the revocation endpoint: the person's issued certificates are revoked."""
    engine = create_db_engine(settings.database_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "update candidate_certificates set revoked_at = :now where candidate_id ="
                    " (select candidate_id from registrations where id = :reg)"
                ),
                {"now": "2026-12-20 00:00:00.000000", "reg": registration_id},
            )
    finally:
        engine.dispose()


def outcomes_ids(settings, session_id: str, certificate: str) -> str:  # type: ignore[no-untyped-def]
    engine = create_db_engine(settings.database_url)
    try:
        with engine.connect() as conn:
            return str(
                conn.execute(
                    sa.text("select id from outcomes where session_id = :s and certificate = :c"),
                    {"s": session_id, "c": certificate},
                ).scalar_one()
            )
    finally:
        engine.dispose()


def test_a_certificate_revoked_after_registration_counts_no_more_at_finalisation(
    world: World, client: TestClient, settings, exam_clock: ExamClock
) -> None:  # type: ignore[no-untyped-def]
    person = adult(1)
    qualify(client, world, [(person, ["MEM-LV"])], clock=exam_clock)
    mem = world.departments["mem"]
    (request,) = client.get("/v1/issuance-requests", headers=mem).json()["items"]
    decided = client.post(
        f"/v1/issuance-requests/{request['id']}/decision",
        headers=mem,
        json={"decision": "issued", "certificate_number": f"T{person}", "issued_on": "2026-12-18"},
    )
    assert decided.status_code == 200, decided.text

    targets = ["MOHURD-ELEC", "MOHRSS-ELEC-L4"]
    s = schedule_session(client, world.centre_a, targets, day=EXAM_DAY + timedelta(days=30))
    (reg,) = register_many(client, world, s["id"], [registration(person, targets)])
    assert "ELEC-TRAINING" not in reg["required_sections"]  # exempt through the held MEM-LV
    exam_clock.start_of(s)
    revoke_everything_of(settings, reg["id"])
    assert post_results(client, world, s["id"], passing_results([reg])).status_code == 200

    summary = client.post(f"/v1/sessions/{s['id']}/finalise", headers=world.centre_a).json()
    assert (summary["qualified"], summary["not_qualified"], summary["not_eligible"]) == (0, 1, 1)
    assert summary["issuance_requests"] == 0
    items = client.get(f"/v1/sessions/{s['id']}/outcomes", headers=world.centre_a).json()
    outcomes = {o["certificate"]: o for o in items["items"]}
    mohurd = outcomes["MOHURD-ELEC"]
    assert mohurd["status"] == "not_qualified"
    assert mohurd["failed_sections"] == ["ELEC-TRAINING"]
    assert mohurd["failures"][0]["code"] == "exemption-withdrawn"
    assert mohurd["exemptions"] == []
    level4 = outcomes["MOHRSS-ELEC-L4"]
    lost = "MOHRSS-ELEC-L4 requires holding one of MOHRSS-ELEC-L5 (directly or counted as held)"
    assert level4["status"] == "not_eligible"
    assert level4["reasons"] == [
        {"code": "missing-prerequisite", "message": f"{lost}; none is held"}
    ]

    # An outcome stored before reasons had codes (a sentence) is read with its code.
    engine = create_db_engine(settings.database_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.update(sa.table("outcomes", sa.column("reasons", sa.JSON), sa.column("id")))
                .where(sa.column("id") == sa.bindparam("out"))
                .values(reasons=[f"{lost}; none is held"]),
                {"out": outcomes_ids(settings, s["id"], "MOHRSS-ELEC-L4")},
            )
    finally:
        engine.dispose()
    items = client.get(f"/v1/sessions/{s['id']}/outcomes", headers=world.centre_a).json()
    again = {o["certificate"]: o for o in items["items"]}["MOHRSS-ELEC-L4"]
    assert again["reasons"] == level4["reasons"]
