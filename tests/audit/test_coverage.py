"""Every write that changes an outcome, a plan or who may do what appends an audit entry that
names the acting key (its id), not just a role."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from app.config import Settings
from tests.support import (
    ELEC3,
    World,
    adult,
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
