"""A target the person's verified record already holds, valid on the session's exam date, is
refused with reason ``already-held`` (docs/api.md §6): in registrations, batch rows and plans
with an ID number. An expired or revoked certificate does not count; a declared one neither."""

from __future__ import annotations

from datetime import date

from fastapi.testclient import TestClient

from tests.support import (
    ExamClock,
    World,
    adult,
    assert_problem,
    issue_certificate,
    registration,
    schedule_session,
)


def _register(client: TestClient, world: World, session_id: str, body: dict):  # type: ignore[no-untyped-def, type-arg]
    return client.post(
        f"/v1/sessions/{session_id}/registrations", headers=world.centre_a, json=body
    )


def test_a_target_already_held_is_refused_in_registrations_batches_and_plans(
    client: TestClient, world: World, exam_clock: ExamClock
) -> None:
    person, other = adult(1), adult(3)
    declared = [{"certificate": "MOHURD-ELEC", "number": "JZ-1", "valid_until": "2030-01-01"}]
    held = issue_certificate(client, world, person, "MEM-LV", clock=exam_clock)
    # the other holds MOHURD-ELEC valid until 2026-12-15, not on the exam date below
    ending = issue_certificate(
        client, world, other, "MOHURD-ELEC", clock=exam_clock, issued_on="2024-12-16"
    )
    s = schedule_session(client, world.centre_a, ["MEM-LV", "MOHURD-ELEC"], day=date(2026, 12, 17))
    assert ending["valid_until"] == "2026-12-15"

    body = assert_problem(_register(client, world, s["id"], registration(person, ["MEM-LV"])), 422)
    (error,) = body["errors"]
    assert error["pointer"] == "/targets/0" and "already held" in error["message"]
    (reason,) = body["targets"][0]["reasons"]
    assert body["targets"][0]["eligible"] is False and reason["code"] == "already-held"

    batch = client.post(
        f"/v1/sessions/{s['id']}/registrations:batch",
        headers=world.centre_a,
        json={
            "registrations": [
                registration(person, ["MOHURD-ELEC", "MEM-LV"]),
                registration(adult(2), ["MEM-LV"]),  # holds nothing
                registration(other, ["MOHURD-ELEC"]),  # expired by the exam date
                registration(adult(4), ["MOHURD-ELEC"], declared),  # declared, not verified
            ]
        },
    ).json()
    assert [i["status"] for i in batch["items"]] == [422, 201, 201, 201]
    (refused,) = batch["items"][0]["problem"]["errors"]
    assert refused["pointer"] == "/targets/1" and "already held" in refused["message"]

    plan = client.post(
        "/v1/plans",
        headers=world.centre_a,
        json={"certificates": ["MEM-LV", "MOHURD-ELEC"], "id_number": person, "on": s["exam_date"]},
    ).json()
    targets = {t["certificate"]: t for t in plan["targets"]}
    assert targets["MEM-LV"]["eligible"] is False
    assert [r["code"] for r in targets["MEM-LV"]["reasons"]] == ["already-held"]
    assert targets["MOHURD-ELEC"]["eligible"] is True
    # without the ID number the record is not known: nothing is already held
    anonymous = client.post("/v1/plans", headers=world.centre_a, json={"certificates": ["MEM-LV"]})
    assert anonymous.json()["targets"][0]["eligible"] is True

    # once revoked, it is held no more and the person may sit for it again
    r = client.post(
        f"/v1/candidate-certificates/{held['id']}/revocation",
        headers=world.departments["mem"],
        json={"reason": "撤销"},
    )
    assert r.status_code == 200, r.text
    assert _register(client, world, s["id"], registration(person, ["MEM-LV"])).status_code == 201
