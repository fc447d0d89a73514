"""Catalogue versions, keys and roles, departments, errors as problem+json, operations."""

from __future__ import annotations

import base64
import copy

import pytest
import standardwebhooks
from fastapi.testclient import TestClient

from tests.support import (
    ADMIN_KEY,
    World,
    assert_problem,
    bearer,
    create_key,
    reference_catalogue,
    reference_departments,
)


def test_reference_catalogue_is_version_1_and_a_second_put_is_version_2(
    world: World, client: TestClient
) -> None:
    assert world.catalogue_version == 1
    v1 = client.get("/v1/catalogue/versions/1", headers=world.admin).json()

    changed = reference_catalogue()
    changed["certificates"][0]["requirements"][1]["pass_score"] = 85
    r = client.put("/v1/catalogue", headers=world.admin, json=changed)
    assert r.status_code == 201
    assert r.json()["version"] == 2

    assert client.get("/v1/catalogue", headers=world.centre_a).json()["version"] == 2
    again = client.get("/v1/catalogue/versions/1", headers=world.admin).json()
    assert again == v1
    assert again["certificates"][0]["requirements"][1]["pass_score"] == 80
    assert again["certificates"][0]["name"] == "特种作业操作证（低压电工作业）"


def test_four_faults_give_one_422_with_four_pointers_and_nothing_stored(
    world: World, client: TestClient
) -> None:
    doc = reference_catalogue()
    # 1. an unknown section in a requirement (MEM-LV's practical)
    doc["certificates"][0]["requirements"][2]["section"] = "NO-SUCH-SECTION"
    # 2. pass_score 120 on a 100-point section (MOHURD-ELEC's theory)
    doc["certificates"][2]["requirements"][1]["pass_score"] = 120
    # 3. a recognition exempting a section its target does not require
    doc["recognitions"][3]["exempt_sections"] = ["BUILD-SAFETY", "HOTWORK-SAFETY"]
    # 4. an equivalence cycle: L5 counts as MEM-LV, which counts as L5
    doc["equivalences"].append({"held": "MOHRSS-ELEC-L5", "counts_as": "MEM-LV"})

    r = client.put("/v1/catalogue", headers=world.admin, json=doc)
    body = assert_problem(r, 422)
    pointers = sorted(e["pointer"] for e in body["errors"])
    assert pointers == sorted(
        [
            "/certificates/0/requirements/2/section",
            "/certificates/2/requirements/1/pass_score",
            "/recognitions/3/exempt_sections/1",
            "/equivalences/6",
        ]
    ), body["errors"]
    assert client.get("/v1/catalogue", headers=world.admin).json()["version"] == 1
    assert_problem(client.get("/v1/catalogue/versions/2", headers=world.admin), 404)


def test_more_catalogue_checks_each_point_at_their_field(world: World, client: TestClient) -> None:
    doc = reference_catalogue()
    doc["sections"].append(copy.deepcopy(doc["sections"][0]))  # duplicate code
    doc["certificates"][3]["department"] = "nowhere"
    doc["certificates"][0]["requirements"][0]["pass_score"] = 50  # on a pass_fail section
    r = client.put("/v1/catalogue", headers=world.admin, json=doc)
    body = assert_problem(r, 422)
    assert {e["pointer"] for e in body["errors"]} == {
        f"/sections/{len(doc['sections']) - 1}/code",
        "/certificates/3/department",
        "/certificates/0/requirements/0/pass_score",
    }


def test_a_revoked_key_stops_at_once(world: World, client: TestClient) -> None:
    r = client.post("/v1/api-keys", headers=world.admin, json={"role": "centre", "subject": "CA"})
    created = r.json()
    key = bearer(created["key"])
    assert client.get("/v1/catalogue", headers=key).status_code == 200
    assert client.delete(f"/v1/api-keys/{created['id']}", headers=world.admin).status_code == 204
    body = assert_problem(client.get("/v1/catalogue", headers=key), 401)
    assert "revoked" in body["detail"]


def test_keys_are_random_shown_once_and_stored_only_as_hashes(
    world: World, client: TestClient
) -> None:
    a = client.post("/v1/api-keys", headers=world.admin, json={"role": "admin"}).json()
    b = client.post("/v1/api-keys", headers=world.admin, json={"role": "admin"}).json()
    assert a["key"] != b["key"] and len(a["key"]) >= 40
    listed = client.get("/v1/api-keys", headers=world.admin).json()["items"]
    text = str(listed)
    assert a["key"] not in text and b["key"] not in text
    assert all("key" not in item for item in listed)
    assert client.get("/v1/catalogue", headers=bearer(a["key"])).status_code == 200


def test_missing_unknown_and_wrong_role(world: World, client: TestClient) -> None:
    assert_problem(client.get("/v1/catalogue"), 401)
    assert_problem(client.get("/v1/catalogue", headers=bearer("oek_nope")), 401)
    assert_problem(client.get("/v1/catalogue", headers={"Authorization": "Basic abc"}), 401)
    body = assert_problem(
        client.put("/v1/catalogue", headers=world.centre_a, json=reference_catalogue()), 403
    )
    assert "admin" in body["detail"]
    assert_problem(
        client.post(
            "/v1/centres", headers=world.departments["mem"], json={"code": "X", "name": "x"}
        ),
        403,
    )


def test_key_subjects_must_exist_and_match_role(world: World, client: TestClient) -> None:
    assert_problem(
        client.post("/v1/api-keys", headers=world.admin, json={"role": "centre", "subject": "ZZ"}),
        422,
    )
    assert_problem(
        client.post("/v1/api-keys", headers=world.admin, json={"role": "admin", "subject": "CA"}),
        422,
    )
    assert_problem(
        client.post("/v1/api-keys", headers=world.admin, json={"role": "department"}), 422
    )


def test_body_that_is_not_json_is_a_422_problem(world: World, client: TestClient) -> None:
    r = client.put(
        "/v1/catalogue",
        headers={**world.admin, "content-type": "application/json"},
        content=b'{"sections": [',
    )
    body = assert_problem(r, 422)
    assert body["errors"][0]["pointer"] == ""
    assert "JSON" in body["errors"][0]["message"]


def test_validation_errors_point_into_the_body(world: World, client: TestClient) -> None:
    r = client.post("/v1/centres", headers=world.admin, json={"code": "bad code!", "name": ""})
    body = assert_problem(r, 422)
    assert {e["pointer"] for e in body["errors"]} == {"/code", "/name"}


def test_404_405_and_unexpected_errors_are_problems_without_internals(settings) -> None:  # type: ignore[no-untyped-def]
    from app.main import create_app

    app = create_app(settings)

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("secret internals: /etc/passwd at line 42")

    with TestClient(app, raise_server_exceptions=False) as client:
        assert_problem(client.get("/v1/nothing-here"), 404)
        assert_problem(client.delete("/v1/catalogue", headers=bearer(ADMIN_KEY)), 405)
        r = client.get("/boom")
        body = assert_problem(r, 500)
        assert (
            "secret internals" not in r.text
            and "Traceback" not in r.text
            and "RuntimeError" not in r.text
        )
        assert set(body) == {"type", "title", "status", "detail"}


def test_a_unique_violation_from_a_concurrent_writer_is_a_409_not_a_500(settings) -> None:  # type: ignore[no-untyped-def]
    import sqlalchemy as sa

    from app.main import create_app

    app = create_app(settings)

    @app.post("/twice")
    def twice() -> None:
        with (
            app.state.database.write() as db
        ):  # the same centre inserted twice, bypassing the service checks
            for _ in range(2):
                db.execute(
                    sa.text(
                        "insert into centres (code, name, created_at) values ('DUP', 'x', '2026-01-01')"
                    )
                )

    with TestClient(app, raise_server_exceptions=False) as client:
        body = assert_problem(client.post("/twice"), 409)
        assert "nothing was written" in body["detail"]
        assert_problem(client.get("/v1/centres/DUP", headers=bearer(ADMIN_KEY)), 404)


def test_department_secret_format_rotation_and_overlap(world: World, client: TestClient) -> None:
    secret = world.secrets["mem"]
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
    standardwebhooks.Webhook(secret)  # the reference library accepts it

    r = client.post("/v1/departments/mem/secret-rotations", headers=world.admin)
    assert r.status_code == 201
    new_secret = r.json()["signing_secret"]
    assert new_secret != secret and new_secret.startswith("whsec_")
    dept = client.get("/v1/departments/mem", headers=world.admin).json()
    assert len(dept["secrets"]) == 2  # the old one still signs for 24 h
    assert sum(1 for s in dept["secrets"] if s["expires_at"] is None) == 1
    assert secret not in r.text.replace(new_secret, "") and "signing_secret" not in dept
    # a department key reads its own record, not another's
    assert client.get("/v1/departments/mem", headers=world.departments["mem"]).status_code == 200
    assert_problem(client.get("/v1/departments/mem", headers=world.departments["samr"]), 403)


def test_department_patch_and_duplicates(world: World, client: TestClient) -> None:
    r = client.patch(
        "/v1/departments/samr",
        headers=world.admin,
        json={"webhook_url": "http://127.0.0.1:9/hooks", "active": False},
    )
    assert r.status_code == 200
    assert r.json()["webhook_url"] == "http://127.0.0.1:9/hooks" and r.json()["active"] is False
    r = client.patch(
        "/v1/departments/samr", headers=world.admin, json={"webhook_url": None, "active": True}
    )
    assert r.json()["webhook_url"] is None and r.json()["active"] is True
    assert_problem(
        client.post("/v1/departments", headers=world.admin, json=reference_departments()[0]), 409
    )
    assert_problem(
        client.post("/v1/centres", headers=world.admin, json={"code": "CA", "name": "x"}), 409
    )
    assert_problem(client.patch("/v1/departments/nope", headers=world.admin, json={}), 404)


def test_lists_paginate_with_cursors(world: World, client: TestClient) -> None:
    for i in range(5):
        client.post(
            "/v1/centres", headers=world.admin, json={"code": f"P{i}", "name": f"centre {i}"}
        )
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = client.get("/v1/centres", headers=world.admin, params=params).json()
        seen += [c["code"] for c in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(seen) and len(seen) == len(set(seen)) == 7
    assert_problem(client.get("/v1/centres", headers=world.admin, params={"limit": 501}), 422)
    assert_problem(client.get("/v1/centres", headers=world.admin, params={"cursor": "%%%"}), 422)


@pytest.mark.parametrize("path", ["/v1/centres", "/v1/api-keys", "/v1/audit-log"])
def test_a_cursor_of_the_documented_form_that_names_no_position_gives_an_empty_page(
    world: World, client: TestClient, path: str
) -> None:
    # Unpadded base64url, as documented, of bytes that are no id (not UTF-8, a NUL), or of an id
    # after every row ("x"; for the audit log a letter where its cursor is a sequence number).
    for cursor in ("AA", "0000", "_-8", base64.urlsafe_b64encode(b"x").decode().rstrip("=")):
        r = client.get(path, headers=world.admin, params={"cursor": cursor})
        assert r.status_code == 200, (cursor, r.text)
        assert r.json() == {"items": [], "next_cursor": None}, cursor
    assert_problem(client.get(path, headers=world.admin, params={"cursor": "A"}), 422)


def test_dates_times_and_booleans_in_bodies_are_json_strings_and_booleans(
    world: World, client: TestClient
) -> None:
    """A number is not read as a Unix time, nor 0 as false (the schema says string, boolean)."""
    assert_problem(
        client.post("/v1/departments/mem/recover", headers=world.admin, json={"since": 0}), 422
    )
    assert_problem(
        client.patch("/v1/departments/mem", headers=world.admin, json={"active": 0}), 422
    )
    plan = {"certificates": ["MEM-LV"], "on": 0}
    assert_problem(client.post("/v1/plans", headers=world.centre_a, json=plan), 422)
    assert (
        client.post(
            "/v1/departments/mem/recover",
            headers=world.admin,
            json={"since": "2026-12-15T08:00:00+08:00"},
        ).status_code
        == 202
    )


def test_health_readiness_metrics_and_docs(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert (
        ready.status_code == 200 and ready.json()["migration"] == ready.json()["expected_migration"]
    )
    client.get("/v1/catalogue")
    text = client.get("/metrics").text
    assert 'oneexam_http_requests_total{method="GET",route="/v1/catalogue",status="401"}' in text
    assert "oneexam_http_request_duration_seconds_bucket" in text
    schema = client.get("/openapi.json").json()
    put = schema["paths"]["/v1/catalogue"]["put"]["responses"]
    assert "application/problem+json" in put["422"]["content"]
    assert client.get("/docs").status_code == 200


def test_readyz_reports_an_unmigrated_database(empty_database_url: str) -> None:
    from app.main import create_app
    from tests.conftest import make_settings

    with TestClient(create_app(make_settings(empty_database_url))) as client:
        r = client.get("/readyz")
        assert r.status_code == 503 and r.json()["migration"] is None


@pytest.mark.parametrize("size", [5 * 1024 * 1024])
def test_oversized_body_is_413(world: World, client: TestClient, size: int) -> None:
    r = client.put(
        "/v1/catalogue",
        headers={**world.admin, "content-type": "application/json"},
        content=b" " * size,
    )
    assert_problem(r, 413)


def test_chinese_text_round_trips(world: World, client: TestClient) -> None:
    r = client.post(
        "/v1/centres",
        headers=world.admin,
        json={"code": "GZ", "name": "广州市职业技能鉴定中心", "region": "广东"},
    )
    assert r.json()["name"] == "广州市职业技能鉴定中心"
    assert client.get("/v1/centres/GZ", headers=world.admin).json()["region"] == "广东"


def test_centre_key_sees_own_centre_only(world: World, client: TestClient) -> None:
    assert client.get("/v1/centres/CA", headers=world.centre_a).status_code == 200
    assert_problem(client.get("/v1/centres/CA", headers=world.centre_b), 403)
    key = create_key(client, "centre", "CB")
    assert client.get("/v1/centres/CB", headers=key).status_code == 200
