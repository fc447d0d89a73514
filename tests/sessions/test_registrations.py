"""Scheduling, registration and planning through the API, with the issue's reference examples."""

from __future__ import annotations

from datetime import date, timedelta

from fastapi.testclient import TestClient

from tests.support import (
    EXAM_DAY,
    ExamClock,
    World,
    adult,
    assert_problem,
    id_number,
    post_all_at_once,
    registration,
    schedule_session,
)


def register(client: TestClient, world: World, session_id: str, body: dict, headers=None):  # type: ignore[no-untyped-def]
    return client.post(
        f"/v1/sessions/{session_id}/registrations", headers=headers or world.centre_a, json=body
    )


def test_no_certificates_held_sits_everything_its_targets_require(
    world: World, client: TestClient
) -> None:
    s = schedule_session(client, world.centre_a)
    r = register(
        client, world, s["id"], registration(adult(1), ["MEM-LV", "MOHURD-ELEC", "MOHRSS-ELEC-L5"])
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert sorted(body["required_sections"]) == sorted(
        ["ELEC-TRAINING", "ELEC-THEORY", "ELEC-PRACTICAL", "BUILD-SAFETY"]
    )
    assert body["exemptions"] == [] and body["ignored_held"] == []
    assert body["status"] == "registered"


def test_a_valid_mem_lv_exempts_training_for_mohurd_and_opens_level_4(
    world: World, client: TestClient
) -> None:
    s = schedule_session(client, world.centre_a)
    held = [{"certificate": "MEM-LV", "number": "MEM-2024-000011", "valid_until": "2030-01-01"}]
    r = register(
        client, world, s["id"], registration(adult(2), ["MOHURD-ELEC", "MOHRSS-ELEC-L4"], held)
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["exemptions"] == [
        {
            "target": "MOHURD-ELEC",
            "section": "ELEC-TRAINING",
            "basis": {"certificate": "MEM-LV", "number": "MEM-2024-000011"},
        }
    ]
    assert "ELEC-TRAINING" not in body["required_sections"]
    assert {
        "ELEC-L4-THEORY",
        "ELEC-L4-PRACTICAL",
        "ELEC-THEORY",
        "BUILD-SAFETY",
        "ELEC-PRACTICAL",
    } == set(body["required_sections"])


def test_level_4_without_a_prerequisite_is_refused_naming_it(
    world: World, client: TestClient
) -> None:
    s = schedule_session(client, world.centre_a)
    r = register(client, world, s["id"], registration(adult(3), ["MOHRSS-ELEC-L4"]))
    body = assert_problem(r, 422)
    assert body["errors"][0]["pointer"] == "/targets/0"
    assert "MOHRSS-ELEC-L5" in body["errors"][0]["message"]
    assert body["targets"] == [
        {
            "certificate": "MOHRSS-ELEC-L4",
            "eligible": False,
            "reasons": [{"code": "missing-prerequisite", "message": body["errors"][0]["message"]}],
        }
    ]
    assert client.get(f"/v1/sessions/{s['id']}", headers=world.centre_a).json()["registered"] == 0


def test_age_17_is_refused_for_mem_lv_but_registered_for_level_5(
    world: World, client: TestClient
) -> None:
    s = schedule_session(client, world.centre_a)
    seventeen = id_number(EXAM_DAY.replace(year=EXAM_DAY.year - 17), 4)
    r = register(client, world, s["id"], registration(seventeen, ["MEM-LV"]))
    body = assert_problem(r, 422)
    assert "age 17" in body["errors"][0]["message"] and "18" in body["errors"][0]["message"]
    r = register(client, world, s["id"], registration(seventeen, ["MOHRSS-ELEC-L5"]))
    assert r.status_code == 201, r.text
    assert (
        r.json()["candidate"]["birth_date"] == EXAM_DAY.replace(year=EXAM_DAY.year - 17).isoformat()
    )


def test_a_certificate_that_expired_the_day_before_gives_no_exemption(
    world: World, client: TestClient
) -> None:
    s = schedule_session(client, world.centre_a)
    day_before = (EXAM_DAY - timedelta(days=1)).isoformat()
    held = [{"certificate": "MEM-WELD", "number": "W-2020-77", "valid_until": day_before}]
    r = register(client, world, s["id"], registration(adult(5), ["SAMR-WELD"], held))
    assert r.status_code == 201, r.text
    body = r.json()
    assert "HOTWORK-SAFETY" in body["required_sections"] and body["exemptions"] == []
    assert [(i["certificate"], i["number"], i["valid_until"]) for i in body["ignored_held"]] == [
        ("MEM-WELD", "W-2020-77", day_before)
    ]
    # valid on the day itself: the exemption applies
    held[0]["valid_until"] = EXAM_DAY.isoformat()
    r = register(client, world, s["id"], registration(adult(6), ["SAMR-WELD"], held))
    assert r.json()["exemptions"][0]["section"] == "HOTWORK-SAFETY"


def test_a_wrong_check_character_is_a_422_at_the_id_number(
    world: World, client: TestClient
) -> None:
    s = schedule_session(client, world.centre_a)
    good = adult(7)
    bad = good[:-1] + ("0" if good[-1] != "0" else "1")
    body = assert_problem(register(client, world, s["id"], registration(bad, ["MEM-LV"])), 422)
    assert [e["pointer"] for e in body["errors"]] == ["/candidate/id_number"]
    assert bad not in str(body)  # the number is not echoed back


def test_lowercase_x_is_accepted_and_numbers_are_masked_everywhere(
    world: World, client: TestClient
) -> None:
    s = schedule_session(client, world.centre_a)
    number = "11010519491231002X"
    r = register(client, world, s["id"], registration(number.lower(), ["MOHRSS-ELEC-L5"]))
    assert r.status_code == 201, r.text
    assert r.json()["candidate"]["id_number"] == "110105********002X"
    listed = client.get(f"/v1/sessions/{s['id']}/registrations", headers=world.centre_a).text
    assert number not in listed and number.lower() not in listed and "110105********002X" in listed


def test_duplicates_targets_not_offered_and_closed_sessions(
    world: World, client: TestClient
) -> None:
    s = schedule_session(client, world.centre_a, ["MEM-LV", "MOHRSS-ELEC-L5"])
    body = registration(adult(8), ["MEM-LV"])
    assert register(client, world, s["id"], body).status_code == 201
    assert (
        "already registered"
        in assert_problem(register(client, world, s["id"], body), 409)["detail"]
    )
    problem = assert_problem(
        register(client, world, s["id"], registration(adult(9), ["SAMR-WELD"])), 422
    )
    assert problem["errors"][0]["pointer"] == "/targets/0"
    assert (
        client.post(f"/v1/sessions/{s['id']}/cancel", headers=world.centre_a).json()["status"]
        == "cancelled"
    )
    assert_problem(register(client, world, s["id"], registration(adult(10), ["MEM-LV"])), 409)


def test_batch_rows_are_independent_with_their_own_status(world: World, client: TestClient) -> None:
    s = schedule_session(client, world.centre_a, capacity=3)
    rows = [
        registration(adult(11), ["MEM-LV"]),
        registration(adult(11), ["MEM-LV"]),  # the same person again
        {"candidate": {"id_number": "123", "name": "李四"}, "targets": ["MEM-LV"]},
        registration(adult(12), ["MOHRSS-ELEC-L4"]),  # no prerequisite
        registration(adult(13), ["MEM-LV"]),
        registration(adult(14), ["MEM-LV"]),
        registration(adult(15), ["MEM-LV"]),  # no seat left
    ]
    r = client.post(
        f"/v1/sessions/{s['id']}/registrations:batch",
        headers=world.centre_a,
        json={"registrations": rows},
    )
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert [i["status"] for i in items] == [201, 409, 422, 422, 201, 201, 409]
    assert [i["index"] for i in items] == list(range(7))
    assert items[2]["problem"]["errors"][0]["pointer"] == "/candidate/id_number"
    assert items[6]["problem"]["status"] == 409 and "full" in items[6]["problem"]["detail"]
    assert r.json()["created"] == 3
    assert client.get(f"/v1/sessions/{s['id']}", headers=world.centre_a).json()["registered"] == 3


def test_a_batch_over_1000_rows_is_413(world: World, client: TestClient) -> None:
    s = schedule_session(client, world.centre_a)
    rows = [registration(adult(i), ["MEM-LV"]) for i in range(1001)]
    assert_problem(
        client.post(
            f"/v1/sessions/{s['id']}/registrations:batch",
            headers=world.centre_a,
            json={"registrations": rows},
        ),
        413,
    )


def test_absence(world: World, client: TestClient, exam_clock: ExamClock) -> None:
    s = schedule_session(client, world.centre_a)
    reg = register(client, world, s["id"], registration(adult(16), ["MEM-LV"])).json()
    exam_clock.start_of(s)
    r = client.post(f"/v1/registrations/{reg['id']}/absence", headers=world.centre_a)
    assert r.status_code == 200 and r.json()["status"] == "absent"
    assert_problem(
        client.post(f"/v1/registrations/{reg['id']}/absence", headers=world.centre_b), 404
    )
    listed = client.get(
        f"/v1/sessions/{s['id']}/registrations", headers=world.centre_a, params={"status": "absent"}
    ).json()
    assert [i["id"] for i in listed["items"]] == [reg["id"]]


def test_sessions_pin_their_catalogue_and_are_scoped_to_the_centre(
    world: World, client: TestClient
) -> None:
    from tests.support import reference_catalogue

    s = schedule_session(client, world.centre_a, ["MEM-LV"])
    assert s["catalogue_version"] == 1 and s["status"] == "scheduled"
    assert [x["code"] for x in s["sections"]] == ["ELEC-TRAINING", "ELEC-THEORY", "ELEC-PRACTICAL"]
    doc = reference_catalogue()
    doc["certificates"][0]["min_age"] = 16
    client.put("/v1/catalogue", headers=world.admin, json=doc)
    assert (
        client.get(f"/v1/sessions/{s['id']}", headers=world.centre_a).json()["catalogue_version"]
        == 1
    )
    # the pinned version still applies its own age bound
    seventeen = id_number(EXAM_DAY.replace(year=EXAM_DAY.year - 17), 20)
    assert_problem(register(client, world, s["id"], registration(seventeen, ["MEM-LV"])), 422)
    assert schedule_session(client, world.centre_a, ["MEM-LV"])["catalogue_version"] == 2

    assert_problem(client.get(f"/v1/sessions/{s['id']}", headers=world.centre_b), 404)
    assert_problem(
        register(
            client, world, s["id"], registration(adult(21), ["MEM-LV"]), headers=world.centre_b
        ),
        404,
    )
    assert client.get("/v1/sessions", headers=world.centre_b).json()["items"] == []
    assert len(client.get("/v1/sessions", headers=world.centre_a).json()["items"]) == 2
    assert_problem(client.post("/v1/sessions", headers=world.departments["mem"], json={}), 403)


def test_session_validation(world: World, client: TestClient) -> None:
    base = {
        "certificates": ["MEM-LV"],
        "starts_at": "2026-12-15T09:00:00+08:00",
        "ends_at": "2026-12-15T08:00:00+08:00",
        "capacity": 10,
    }
    body = assert_problem(client.post("/v1/sessions", headers=world.centre_a, json=base), 422)
    assert body["errors"][0]["pointer"] == "/ends_at"
    body = assert_problem(
        client.post(
            "/v1/sessions",
            headers=world.centre_a,
            json={**base, "certificates": ["NOPE"], "ends_at": "2026-12-15T18:00:00+08:00"},
        ),
        422,
    )
    assert body["errors"][0]["pointer"] == "/certificates/0"
    body = assert_problem(
        client.post("/v1/sessions", headers=world.centre_a, json={**base, "capacity": 0}), 422
    )
    assert body["errors"][0]["pointer"] == "/capacity"
    body = assert_problem(
        client.post(
            "/v1/sessions",
            headers=world.centre_a,
            json={**base, "starts_at": "2026-12-15T09:00:00"},
        ),
        422,
    )
    assert body["errors"][0]["pointer"] == "/starts_at"
    assert_problem(
        client.post(
            "/v1/sessions",
            headers=world.centre_a,
            json={**base, "centre": "CB", "ends_at": "2026-12-15T18:00:00+08:00"},
        ),
        403,
    )
    assert_problem(
        client.post(
            "/v1/sessions",
            headers=world.admin,
            json={**base, "ends_at": "2026-12-15T18:00:00+08:00"},
        ),
        422,
    )
    admin_made = client.post(
        "/v1/sessions",
        headers=world.admin,
        json={**base, "centre": "CB", "ends_at": "2026-12-15T18:00:00+08:00"},
    )
    assert admin_made.status_code == 201 and admin_made.json()["centre"] == "CB"


def test_exam_date_is_the_local_date_of_the_start(world: World, client: TestClient) -> None:
    body = {
        "certificates": ["MEM-LV"],
        "starts_at": "2026-12-15T07:30:00+08:00",
        "ends_at": "2026-12-15T12:00:00+08:00",
        "capacity": 5,
    }
    r = client.post("/v1/sessions", headers=world.centre_a, json=body)
    assert r.json()["exam_date"] == "2026-12-15"  # 2026-12-14T23:30Z in UTC


def test_plans_compute_without_storing(world: World, client: TestClient) -> None:
    held = [{"certificate": "MEM-LV", "number": "LV-9", "valid_until": "2031-01-01"}]
    r = client.post(
        "/v1/plans",
        headers=world.centre_a,
        json={"certificates": ["MOHURD-ELEC", "MOHRSS-ELEC-L4"], "held": held, "on": "2026-12-15"},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["exemptions"][0]["basis"] == {"certificate": "MEM-LV", "number": "LV-9"}
    assert all(t["eligible"] for t in body["targets"])
    r = client.post(
        "/v1/plans",
        headers=world.centre_a,
        json={
            "certificates": ["MEM-LV"],
            "id_number": id_number(date(2010, 1, 1), 1),
            "on": "2026-12-15",
        },
    )
    assert r.json()["targets"][0]["eligible"] is False
    assert_problem(
        client.post("/v1/plans", headers=world.centre_a, json={"certificates": ["NOPE"]}), 422
    )


def test_fifty_at_once_into_ten_seats_gives_ten_and_forty_409(
    world: World, client: TestClient, live
) -> None:  # type: ignore[no-untyped-def]
    s = schedule_session(client, world.centre_a, ["MOHRSS-ELEC-L5"], capacity=10)
    bodies = [registration(adult(100 + i), ["MOHRSS-ELEC-L5"]) for i in range(50)]
    statuses = post_all_at_once(
        f"{live.url}/v1/sessions/{s['id']}/registrations", world.centre_a, bodies
    )
    assert sorted(statuses) == [201] * 10 + [409] * 40
    listed = client.get(f"/v1/sessions/{s['id']}/registrations", headers=world.centre_a).json()[
        "items"
    ]
    assert len(listed) == 10
    assert client.get(f"/v1/sessions/{s['id']}", headers=world.centre_a).json()["registered"] == 10


def test_the_same_candidate_posted_twice_at_once_is_registered_once(
    world: World, client: TestClient, live
) -> None:  # type: ignore[no-untyped-def]
    s = schedule_session(client, world.centre_a, ["MOHRSS-ELEC-L5"], capacity=10)
    for attempt in range(5):
        body = registration(adult(300 + attempt), ["MOHRSS-ELEC-L5"])
        statuses = post_all_at_once(
            f"{live.url}/v1/sessions/{s['id']}/registrations", world.centre_a, [body, body]
        )
        assert sorted(statuses) == [201, 409]
    assert client.get(f"/v1/sessions/{s['id']}", headers=world.centre_a).json()["registered"] == 5
