"""Administrators' pages: departments (secret shown once), centres, users, catalogue versions."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient

from app.config import Settings
from tests.console.support import PASSWORD, csrf_of, make_user, sign_in
from tests.support import World, reference_catalogue


def _admin(client: TestClient, settings: Settings) -> str:
    make_user(settings, "admin.li", "admin", None)
    assert sign_in(client, "admin.li").headers["location"] == "/console/admin"
    return csrf_of(client.get("/console/admin").text)


def test_a_new_department_and_a_rotated_secret_are_shown_once(
    client: TestClient, world: World, settings: Settings
) -> None:
    csrf = _admin(client, settings)
    created = client.post(
        "/console/admin/departments",
        data={"csrf_token": csrf, "code": "nhc", "name": "卫生健康部门", "webhook_url": ""},
    )
    assert created.status_code == 200 and "whsec_" in created.text
    assert "whsec_" not in client.get("/console/admin/departments").text
    rotated = client.post(
        "/console/admin/departments/mem/secret-rotations", data={"csrf_token": csrf}
    )
    assert "whsec_" in rotated.text
    off = client.post(
        "/console/admin/departments/mem",
        data={"csrf_token": csrf, "webhook_url": ""},
        follow_redirects=False,
    )
    assert off.status_code == 303
    mem = client.get("/v1/departments/mem", headers=world.admin).json()
    assert mem["active"] is False and len(mem["secrets"]) == 2


def test_centres_and_users(client: TestClient, world: World, settings: Settings) -> None:
    csrf = _admin(client, settings)
    r = client.post(
        "/console/admin/centres",
        data={"csrf_token": csrf, "code": "SH01", "name": "上海考点"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and "上海考点" in client.get("/console/admin/centres").text
    made = client.post(
        "/console/admin/users",
        data={
            "csrf_token": csrf,
            "username": "chen.gang",
            "role": "centre",
            "subject": "SH01",
            "password": PASSWORD,
        },
        follow_redirects=False,
    )
    assert made.status_code == 303
    bad = client.post(
        "/console/admin/users",
        data={
            "csrf_token": csrf,
            "username": "x.y",
            "role": "centre",
            "subject": "NOPE",
            "password": PASSWORD,
        },
    )
    assert bad.status_code == 422 and 'data-testid="problem"' in bad.text
    other = TestClient(client.app)
    assert sign_in(other, "chen.gang").status_code == 303
    client.post("/console/admin/users/chen.gang/disable", data={"csrf_token": csrf})
    assert other.get("/console/sessions", follow_redirects=False).status_code == 303


def test_a_catalogue_upload_lists_every_problem_and_a_good_one_is_stored(
    client: TestClient, world: World, settings: Settings
) -> None:
    csrf = _admin(client, settings)
    broken = reference_catalogue()
    broken["certificates"][0]["department"] = "nowhere"
    broken["recognitions"][0]["target"] = "NO-SUCH"
    r = client.post(
        "/console/admin/catalogue",
        data={"csrf_token": csrf},
        files={"file": ("c.json", json.dumps(broken).encode(), "application/json")},
    )
    assert r.status_code == 422
    assert r.text.count("<li>") >= 2
    good = client.post(
        "/console/admin/catalogue",
        data={"csrf_token": csrf},
        files={"file": ("c.json", json.dumps(reference_catalogue()).encode(), "application/json")},
        follow_redirects=False,
    )
    assert good.status_code == 303 and good.headers["location"].endswith("version=2")
    page = client.get(good.headers["location"])
    assert "特种作业操作证（低压电工作业）" in page.text


def test_an_admin_starts_from_nothing_with_the_reference_catalogue(
    client: TestClient, settings: Settings
) -> None:
    csrf = _admin(client, settings)
    assert "尚无考核目录" in client.get("/console/admin/catalogue").text
    r = client.post("/console/admin/catalogue/reference", data={"csrf_token": csrf})
    assert r.status_code == 200 and r.text.count("whsec_") == 4
    assert "特种作业操作证（低压电工作业）" in r.text
    again = client.post("/console/admin/catalogue/reference", data={"csrf_token": csrf})
    assert again.status_code == 200 and "whsec_" not in again.text and "版本 2" in again.text
