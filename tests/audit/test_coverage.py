"""Every write that changes an outcome, a plan or who may do what appends an audit entry that
names the acting key (its id), not just a role."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app
from tests.conftest import make_settings
from tests.console.support import csrf_of, make_user, sign_in
from tests.receiver import closed_port_url, wait_until
from tests.support import (
    ELEC3,
    ExamClock,
    World,
    adult,
    build_world,
    qualify,
    reference_catalogue,
    registration,
    schedule_session,
)


def _entries(client: TestClient, world: World, **query: str) -> list[dict[str, Any]]:
    r = client.get("/v1/audit-log", headers=world.admin, params={"limit": 500, **query})
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


def test_admin_actions_are_audited_with_the_acting_key(world: World, client: TestClient) -> None:
    admin_keys = client.get("/v1/api-keys", headers=world.admin).json()["items"]
    [bootstrap] = [k["id"] for k in admin_keys if k["label"] == "ONEEXAM_ADMIN_KEY"]
    by_action = {}
    for e in _entries(client, world):
        by_action.setdefault(e["action"], []).append(e)
    assert {"department.created", "api_key.created", "catalogue.version_stored"} <= set(by_action)
    assert all(e["actor"] == f"admin:{bootstrap}" for e in by_action["api_key.created"])
    [stored] = by_action["catalogue.version_stored"]
    assert stored["subject"] == "catalogue/1" and stored["actor"] == f"admin:{bootstrap}"

    r = client.put("/v1/catalogue", headers=world.admin, json=reference_catalogue())
    assert r.status_code == 201
    patch = {"webhook_url": "https://mem.example.cn/hooks", "active": False}
    assert client.patch("/v1/departments/mem", headers=world.admin, json=patch).status_code == 200
    assert (
        client.post("/v1/departments/mem/secret-rotations", headers=world.admin).status_code == 201
    )
    spare = client.post("/v1/api-keys", headers=world.admin, json={"role": "admin"}).json()
    assert client.delete(f"/v1/api-keys/{spare['id']}", headers=world.admin).status_code == 204

    latest = _entries(client, world)[-5:]
    assert [e["action"] for e in latest] == [
        "catalogue.version_stored",
        "department.updated",
        "department.secret_rotated",
        "api_key.created",
        "api_key.revoked",
    ]
    assert all(e["actor"] == f"admin:{bootstrap}" for e in latest)
    updated = latest[1]
    assert updated["subject"] == "mem"
    assert updated["before"] == {"webhook_url": None, "active": True}
    assert updated["after"] == {"webhook_url": "https://mem.example.cn/hooks", "active": False}
    assert "whsec_" not in str(latest[2]) and latest[3]["subject"] == spare["id"]
    assert latest[4]["subject"] == spare["id"] and spare["key"] not in str(latest)


def test_registrations_one_or_a_batch_are_audited_with_the_centre_key(
    world: World, client: TestClient, settings: Settings
) -> None:
    s = schedule_session(client, world.centre_a)
    one = client.post(
        f"/v1/sessions/{s['id']}/registrations",
        headers=world.centre_a,
        json=registration(adult(1), ELEC3),
    )
    assert one.status_code == 201, one.text
    batch = client.post(
        f"/v1/sessions/{s['id']}/registrations:batch",
        headers=world.centre_a,
        json={"registrations": [registration(adult(2), ["MEM-LV"]), {"nonsense": 1}]},
    )
    assert batch.status_code in (200, 207), batch.text
    entries = _entries(client, world, subject=s["id"])
    created = [e for e in entries if e["action"] == "registrations.created"]
    assert len(created) == 2
    assert all(e["actor"].startswith("centre:CA:key_") for e in created)
    assert [r["id"] for r in created[0]["after"]["registrations"]] == [one.json()["id"]]
    assert [r["targets"] for r in created[1]["after"]["registrations"]] == [["MEM-LV"]]
    assert adult(1) not in str(entries) and adult(2) not in str(entries)


def test_redeliver_and_recover_are_audited_with_the_acting_key_or_person(
    fresh_database_url: str, exam_clock: ExamClock
) -> None:
    settings = make_settings(fresh_database_url, worker="embedded", retry_schedule=(0,))
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        world = build_world(client, {"mem": closed_port_url()})
        qualify(client, world, [(adult(n), ["MEM-LV"]) for n in (1, 2, 3)], clock=exam_clock)
        admin = {"headers": world.admin, "params": {"limit": 500}}

        def statuses() -> list[str]:
            return [
                r["status"] for r in client.get("/v1/issuance-requests", **admin).json()["items"]
            ]

        assert wait_until(lambda: statuses() == ["failed"] * 3)
        first, second, _ = client.get("/v1/issuance-requests", **admin).json()["items"]
        r = client.post(f"/v1/issuance-requests/{first['id']}/redeliver", headers=world.centre_a)
        assert r.status_code == 202, r.text
        make_user(settings, "wang.fang", "centre", "CA")
        assert sign_in(client, "wang.fang").status_code == 303
        csrf = csrf_of(client.get("/console/sessions").text)
        r = client.post(
            f"/console/issuance-requests/{second['id']}/redeliver",
            data={"csrf_token": csrf},
            follow_redirects=False,
        )
        assert r.status_code == 303, r.text
        assert wait_until(lambda: statuses() == ["failed"] * 3)
        r = client.post(
            "/v1/departments/mem/recover",
            headers=world.admin,
            json={"since": "2000-01-01T00:00:00Z"},
        )
        assert r.status_code == 202 and r.json()["requeued"] == 3, r.text

        entries = _entries(client, world)
        key_of = {k["label"]: k["id"] for k in client.get("/v1/api-keys", **admin).json()["items"]}
        by_api, by_person = [e for e in entries if e["action"] == "issuance.redelivered"]
        assert by_api["subject"] == first["id"] and by_api["actor"].startswith("centre:CA:key_")
        assert by_api["before"] == {"status": "failed"} and by_api["after"] == {"status": "pending"}
        assert by_person["subject"] == second["id"]
        assert by_person["actor"] == "centre:CA:user:wang.fang"
        [recovered] = [e for e in entries if e["action"] == "deliveries.recovered"]
        assert recovered["actor"] == f"admin:{key_of['ONEEXAM_ADMIN_KEY']}"
        assert recovered["subject"] == "mem"
        assert recovered["after"] == {"since": "2000-01-01T00:00:00+00:00", "requeued": 3}
