"""Results recorded once, amendments, finalisation against each certificate's own marks,
re-evaluation, and the issuance outbox written in the same transaction."""

from __future__ import annotations

import sqlalchemy as sa
from fastapi.testclient import TestClient

from app.db import create_db_engine
from tests.support import (
    ELEC3,
    ExamClock,
    World,
    adult,
    assert_problem,
    electrician_results,
    post_all_at_once,
    post_results,
    register_many,
    registration,
    schedule_session,
)


def count(settings, table: str) -> int:  # type: ignore[no-untyped-def]
    engine = create_db_engine(settings.database_url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(sa.text(f"select count(*) from {table}")).scalar_one())
    finally:
        engine.dispose()


def test_one_sitting_many_pass_marks(
    world: World, client: TestClient, settings, exam_clock: ExamClock
) -> None:  # type: ignore[no-untyped-def]
    s = schedule_session(client, world.centre_a)
    (reg,) = register_many(client, world, s["id"], [registration(adult(1), ELEC3)])
    exam_clock.start_of(s)
    assert post_results(client, world, s["id"], electrician_results(reg["id"])).json() == {
        "created": 4,
        "unchanged": 0,
    }

    r = client.post(f"/v1/sessions/{s['id']}/finalise", headers=world.centre_a)
    assert r.status_code == 200, r.text
    assert r.json() == {
        "status": "finalised",
        "certificates": s["certificates"],
        "not_eligible": 0,
        "registrations": 1,
        "qualified": 2,
        "not_qualified": 1,
        "absent": 0,
        "issuance_requests": 2,
    }

    outcomes = {
        o["certificate"]: o
        for o in client.get(f"/v1/sessions/{s['id']}/outcomes", headers=world.centre_a).json()[
            "items"
        ]
    }
    assert outcomes["MOHURD-ELEC"]["status"] == "qualified"
    assert outcomes["MOHRSS-ELEC-L5"]["status"] == "qualified"
    mem = outcomes["MEM-LV"]
    assert mem["status"] == "not_qualified" and mem["failed_sections"] == ["ELEC-THEORY"]
    assert mem["failures"] == [
        {
            "section": "ELEC-THEORY",
            "score": 75,
            "passed": None,
            "pass_score": 80,
            "missing": False,
            "code": "below-pass-mark",
            "message": "ELEC-THEORY is not passed at this certificate's pass mark",
        }
    ]
    assert mem["issuance_request_id"] is None

    requests = client.get(
        "/v1/issuance-requests", headers=world.centre_a, params={"session_id": s["id"]}
    ).json()["items"]
    assert sorted(r["department"] for r in requests) == ["mohrss", "mohurd"]
    assert all(r["status"] == "pending" for r in requests)
    assert {
        outcomes["MOHURD-ELEC"]["issuance_request_id"],
        outcomes["MOHRSS-ELEC-L5"]["issuance_request_id"],
    } == {r["id"] for r in requests}
    assert count(settings, "deliveries") == 2  # the outbox: one issuance.requested event each

    # the payload follows §9, with this department's own marks, and masks the ID for the centre
    mohurd = next(r for r in requests if r["department"] == "mohurd")
    data = mohurd["payload"]
    assert data["request_id"] == mohurd["id"]
    assert data["certificate"] == {
        "code": "MOHURD-ELEC",
        "name": "建筑施工特种作业操作资格证（建筑电工）",
        "department": "mohurd",
        "level": None,
        "validity_years": 2,
    }
    assert data["candidate"]["id_number"] == reg["candidate"]["id_number"]  # masked for a centre
    assert data["session"]["id"] == s["id"] and data["session"]["catalogue_version"] == 1
    theory = next(x for x in data["sections"] if x["code"] == "ELEC-THEORY")
    assert theory == {
        "code": "ELEC-THEORY",
        "name": "电工作业安全技术理论（统一题库）",
        "kind": "theory",
        "scoring": "score",
        "score": 75,
        "pass_score": 70,
        "exempted": False,
    }
    # the issuing department pulls the same request with the full number
    pulled = client.get("/v1/issuance-requests", headers=world.departments["mohurd"]).json()[
        "items"
    ]
    assert [p["id"] for p in pulled] == [mohurd["id"]]
    assert pulled[0]["payload"]["candidate"]["id_number"] == adult(1)
    assert (
        client.get("/v1/issuance-requests", headers=world.departments["mem"]).json()["items"] == []
    )


def test_amending_after_finalisation_adds_the_newly_qualified_request_only(
    world: World, client: TestClient, exam_clock: ExamClock
) -> None:
    s = schedule_session(client, world.centre_a)
    (reg,) = register_many(client, world, s["id"], [registration(adult(2), ELEC3)])
    exam_clock.start_of(s)
    post_results(client, world, s["id"], electrician_results(reg["id"]))
    client.post(f"/v1/sessions/{s['id']}/finalise", headers=world.centre_a)
    before = {
        r["id"]: r for r in client.get("/v1/issuance-requests", headers=world.admin).json()["items"]
    }

    r = client.post(
        f"/v1/registrations/{reg['id']}/results/ELEC-THEORY/amendments",
        headers=world.centre_a,
        json={"score": 82, "reason": "复核：第 37 题评分有误"},
    )
    assert r.status_code == 201, r.text
    assert r.json()["previous_score"] == 75 and r.json()["score"] == 82

    after = {
        r["id"]: r for r in client.get("/v1/issuance-requests", headers=world.admin).json()["items"]
    }
    assert len(after) == 3
    new = [r for rid, r in after.items() if rid not in before]
    assert [(n["department"], n["certificate"], n["status"]) for n in new] == [
        ("mem", "MEM-LV", "pending")
    ]
    for rid, old in before.items():
        assert after[rid] == old  # the other two untouched
    detail = client.get(f"/v1/registrations/{reg['id']}", headers=world.centre_a).json()
    theory = next(x for x in detail["results"] if x["section"] == "ELEC-THEORY")
    assert theory["score"] == 82 and theory["original_score"] == 75
    assert [(a["previous_score"], a["score"], a["reason"]) for a in theory["amendments"]] == [
        (75, 82, "复核：第 37 题评分有误")
    ]
    assert theory["amendments"][0]["amended_by"].startswith("centre:CA")
    mem = next(o for o in detail["outcomes"] if o["certificate"] == "MEM-LV")
    assert mem["status"] == "qualified" and mem["issuance_request_id"] == new[0]["id"]
    assert (
        client.post(f"/v1/sessions/{s['id']}/finalise", headers=world.centre_a).json()[
            "issuance_requests"
        ]
        == 3
    )


def test_amending_down_cancels_an_undelivered_request_and_sends_nothing(
    world: World, client: TestClient, settings, exam_clock: ExamClock
) -> None:  # type: ignore[no-untyped-def]
    s = schedule_session(client, world.centre_a)
    (reg,) = register_many(client, world, s["id"], [registration(adult(3), ELEC3)])
    exam_clock.start_of(s)
    post_results(client, world, s["id"], electrician_results(reg["id"], theory=85))
    assert (
        client.post(f"/v1/sessions/{s['id']}/finalise", headers=world.centre_a).json()[
            "issuance_requests"
        ]
        == 3
    )
    r = client.post(
        f"/v1/registrations/{reg['id']}/results/ELEC-THEORY/amendments",
        headers=world.centre_a,
        json={"score": 65, "reason": "录入错误"},
    )
    assert r.status_code == 201
    requests = client.get("/v1/issuance-requests", headers=world.admin).json()["items"]
    assert sorted((r["certificate"], r["status"]) for r in requests) == [
        ("MEM-LV", "cancelled"),
        ("MOHRSS-ELEC-L5", "pending"),
        ("MOHURD-ELEC", "cancelled"),
    ]
    engine = create_db_engine(settings.database_url)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text("select event_type, status from deliveries order by event_type, status")
        ).all()
    engine.dispose()
    # never delivered, so the department is told nothing: the requested events are withdrawn
    assert [tuple(r) for r in rows] == [
        ("issuance.requested", "cancelled"),
        ("issuance.requested", "cancelled"),
        ("issuance.requested", "pending"),
    ]
    # and back up again: a new revision, not the cancelled one revived
    client.post(
        f"/v1/registrations/{reg['id']}/results/ELEC-THEORY/amendments",
        headers=world.centre_a,
        json={"score": 90, "reason": "复核"},
    )
    requests = client.get(
        "/v1/issuance-requests", headers=world.admin, params={"status": "pending"}
    ).json()["items"]
    assert sorted((r["certificate"], r["revision"]) for r in requests) == [
        ("MEM-LV", 2),
        ("MOHRSS-ELEC-L5", 1),
        ("MOHURD-ELEC", 2),
    ]


def test_a_failed_test_piece_fails_samr_whatever_the_scores(
    world: World, client: TestClient, exam_clock: ExamClock
) -> None:
    s = schedule_session(client, world.centre_a)
    (reg,) = register_many(client, world, s["id"], [registration(adult(4), ["SAMR-WELD"])])
    rows = [
        {"registration_id": reg["id"], "section": "HOTWORK-SAFETY", "score": 100},
        {"registration_id": reg["id"], "section": "WELD-THEORY", "score": 100},
        {"registration_id": reg["id"], "section": "WELD-TESTPIECE", "passed": False},
    ]
    exam_clock.start_of(s)
    assert post_results(client, world, s["id"], rows).status_code == 200
    summary = client.post(f"/v1/sessions/{s['id']}/finalise", headers=world.centre_a).json()
    assert (summary["qualified"], summary["not_qualified"], summary["issuance_requests"]) == (
        0,
        1,
        0,
    )
    (outcome,) = client.get(f"/v1/sessions/{s['id']}/outcomes", headers=world.centre_a).json()[
        "items"
    ]
    assert outcome["failed_sections"] == ["WELD-TESTPIECE"]


def _thousand_rows(client: TestClient, world: World) -> tuple[dict, list[dict]]:  # type: ignore[type-arg]
    s = schedule_session(client, world.centre_a, capacity=300)
    regs = register_many(
        client, world, s["id"], [registration(adult(1000 + i), ELEC3) for i in range(250)]
    )
    rows = [
        row
        for i, reg in enumerate(regs)
        for row in electrician_results(reg["id"], theory=60 + i % 40)
    ]
    assert len(rows) == 1000
    return s, rows


def test_resending_a_1000_row_batch_is_unchanged_and_one_changed_score_is_409(
    world: World, client: TestClient, settings, exam_clock: ExamClock
) -> None:  # type: ignore[no-untyped-def]
    s, rows = _thousand_rows(client, world)
    audited = count(settings, "audit_log")  # keys, departments, registrations so far
    exam_clock.start_of(s)
    assert post_results(client, world, s["id"], rows).json() == {"created": 1000, "unchanged": 0}
    assert post_results(client, world, s["id"], rows).json() == {"created": 0, "unchanged": 1000}

    changed = [dict(r) for r in rows]
    changed[417]["score"] = 99.5
    body = assert_problem(post_results(client, world, s["id"], changed), 409)
    assert [e["pointer"] for e in body["errors"]] == ["/results/417"]
    assert count(settings, "results") == 1000 and count(settings, "audit_log") == audited + 1


def test_every_invalid_row_is_listed_and_nothing_is_written(
    world: World, client: TestClient, settings, exam_clock: ExamClock
) -> None:  # type: ignore[no-untyped-def]
    s = schedule_session(client, world.centre_a)
    other = schedule_session(client, world.centre_a)
    reg, absentee = register_many(
        client, world, s["id"], [registration(adult(5), ELEC3), registration(adult(6), ["MEM-LV"])]
    )
    (foreign,) = register_many(client, world, other["id"], [registration(adult(7), ELEC3)])
    exam_clock.start_of(s)
    client.post(f"/v1/registrations/{absentee['id']}/absence", headers=world.centre_a)
    rows = [
        {"registration_id": reg["id"], "section": "ELEC-THEORY", "score": 88},  # fine on its own
        {"registration_id": "reg_nope", "section": "ELEC-THEORY", "score": 50},
        {"registration_id": foreign["id"], "section": "ELEC-THEORY", "score": 50},
        {"registration_id": reg["id"], "section": "WELD-THEORY", "score": 50},
        {"registration_id": reg["id"], "section": "ELEC-PRACTICAL", "score": 101},
        {"registration_id": reg["id"], "section": "ELEC-TRAINING", "score": 1},
        {"registration_id": reg["id"], "section": "BUILD-SAFETY", "passed": True},
        {"registration_id": absentee["id"], "section": "ELEC-THEORY", "score": 70},
    ]
    body = assert_problem(post_results(client, world, s["id"], rows), 422)
    assert [e["pointer"] for e in body["errors"]] == [
        "/results/1/registration_id",
        "/results/2/registration_id",
        "/results/3/section",
        "/results/4/score",
        "/results/5/score",
        "/results/6/passed",
        "/results/7/registration_id",
    ]
    two_decimals = [{"registration_id": reg["id"], "section": "ELEC-THEORY", "score": 88.25}]
    body = assert_problem(post_results(client, world, s["id"], two_decimals), 422)
    assert body["errors"][0]["pointer"] == "/results/0/score"
    negative = [{"registration_id": reg["id"], "section": "ELEC-THEORY", "score": -1}]
    assert (
        assert_problem(post_results(client, world, s["id"], negative), 422)["errors"][0]["pointer"]
        == "/results/0/score"
    )
    both = [{"registration_id": reg["id"], "section": "ELEC-THEORY", "score": 50, "passed": True}]
    assert (
        assert_problem(post_results(client, world, s["id"], both), 422)["errors"][0]["pointer"]
        == "/results/0"
    )
    assert count(settings, "results") == 0


def test_results_only_for_own_scheduled_sessions_and_batches_up_to_5000(
    world: World, client: TestClient, exam_clock: ExamClock
) -> None:
    s = schedule_session(client, world.centre_a)
    (reg,) = register_many(client, world, s["id"], [registration(adult(8), ELEC3)])
    exam_clock.start_of(s)
    assert_problem(
        post_results(
            client, world, s["id"], electrician_results(reg["id"]), headers=world.centre_b
        ),
        404,
    )
    assert_problem(
        post_results(
            client, world, s["id"], electrician_results(reg["id"]), headers=world.departments["mem"]
        ),
        403,
    )
    too_many = electrician_results(reg["id"]) * 1251
    assert_problem(post_results(client, world, s["id"], too_many), 413)
    client.post(f"/v1/sessions/{s['id']}/cancel", headers=world.centre_a)
    assert_problem(post_results(client, world, s["id"], electrician_results(reg["id"])), 409)


def test_finalise_names_each_missing_result_then_is_idempotent(
    world: World, client: TestClient, settings, exam_clock: ExamClock
) -> None:  # type: ignore[no-untyped-def]
    s = schedule_session(client, world.centre_a)
    a, b, gone = register_many(
        client,
        world,
        s["id"],
        [
            registration(adult(9), ELEC3),
            registration(adult(10), ["MOHRSS-ELEC-L5"]),
            registration(adult(11), ["MEM-LV"]),
        ],
    )
    exam_clock.start_of(s)
    client.post(f"/v1/registrations/{gone['id']}/absence", headers=world.centre_a)
    post_results(client, world, s["id"], electrician_results(a["id"])[:3])
    body = assert_problem(
        client.post(f"/v1/sessions/{s['id']}/finalise", headers=world.centre_a), 409
    )
    assert body["missing_count"] == 3
    assert sorted((m["registration_id"], m["section"]) for m in body["missing"]) == sorted(
        [(a["id"], "BUILD-SAFETY"), (b["id"], "ELEC-THEORY"), (b["id"], "ELEC-PRACTICAL")]
    )
    assert (
        client.get(f"/v1/sessions/{s['id']}", headers=world.centre_a).json()["status"]
        == "scheduled"
    )

    post_results(client, world, s["id"], electrician_results(a["id"]))
    post_results(
        client,
        world,
        s["id"],
        [
            {"registration_id": b["id"], "section": "ELEC-THEORY", "score": 59.9},
            {"registration_id": b["id"], "section": "ELEC-PRACTICAL", "score": 60},
        ],
    )
    first = client.post(f"/v1/sessions/{s['id']}/finalise", headers=world.centre_a).json()
    assert first == {
        "status": "finalised",
        "certificates": s["certificates"],
        "not_eligible": 0,
        "registrations": 3,
        "qualified": 2,
        "not_qualified": 2,
        "absent": 1,
        "issuance_requests": 2,
    }
    written = (
        count(settings, "issuance_requests"),
        count(settings, "deliveries"),
        count(settings, "outcomes"),
        count(settings, "audit_log"),
    )
    assert client.post(f"/v1/sessions/{s['id']}/finalise", headers=world.centre_a).json() == first
    assert (
        count(settings, "issuance_requests"),
        count(settings, "deliveries"),
        count(settings, "outcomes"),
        count(settings, "audit_log"),
    ) == written
    outcomes = client.get(f"/v1/sessions/{s['id']}/outcomes", headers=world.centre_a).json()[
        "items"
    ]
    assert {o["status"] for o in outcomes if o["registration_id"] == gone["id"]} == {"absent"}
    assert_problem(
        post_results(client, world, s["id"], electrician_results(a["id"])), 409
    )  # no longer scheduled
    assert_problem(client.post(f"/v1/sessions/{s['id']}/cancel", headers=world.centre_a), 409)


def test_two_concurrent_finalisations_make_one_set_of_requests(
    world: World, client: TestClient, live, settings, exam_clock: ExamClock
) -> None:  # type: ignore[no-untyped-def]
    s = schedule_session(client, world.centre_a)
    regs = register_many(
        client, world, s["id"], [registration(adult(20 + i), ELEC3) for i in range(20)]
    )
    exam_clock.start_of(s)
    post_results(
        client,
        world,
        s["id"],
        [row for reg in regs for row in electrician_results(reg["id"], theory=90)],
    )
    statuses = post_all_at_once(
        f"{live.url}/v1/sessions/{s['id']}/finalise", world.centre_a, [{}, {}, {}, {}]
    )
    assert statuses == [200, 200, 200, 200]
    assert count(settings, "issuance_requests") == 60 and count(settings, "deliveries") == 60
    assert count(settings, "outcomes") == 60


def test_concurrent_identical_result_batches_record_each_row_once(
    world: World, client: TestClient, live, settings, exam_clock: ExamClock
) -> None:  # type: ignore[no-untyped-def]
    s = schedule_session(client, world.centre_a)
    regs = register_many(
        client, world, s["id"], [registration(adult(50 + i), ELEC3) for i in range(25)]
    )
    rows = [row for reg in regs for row in electrician_results(reg["id"])]
    audited = count(settings, "audit_log")
    exam_clock.start_of(s)
    statuses = post_all_at_once(
        f"{live.url}/v1/sessions/{s['id']}/results", world.centre_a, [{"results": rows}] * 6
    )
    assert statuses == [200] * 6
    assert count(settings, "results") == 100
    assert count(settings, "audit_log") == audited + 1  # one batch created rows; not the others


def test_amendment_rules(world: World, client: TestClient, exam_clock: ExamClock) -> None:
    s = schedule_session(client, world.centre_a)
    (reg,) = register_many(client, world, s["id"], [registration(adult(12), ELEC3)])
    exam_clock.start_of(s)
    url = f"/v1/registrations/{reg['id']}/results"
    assert_problem(
        client.post(
            f"{url}/ELEC-THEORY/amendments",
            headers=world.centre_a,
            json={"score": 80, "reason": "x"},
        ),
        409,
    )
    post_results(client, world, s["id"], electrician_results(reg["id"]))
    assert_problem(
        client.post(
            f"{url}/WELD-THEORY/amendments",
            headers=world.centre_a,
            json={"score": 80, "reason": "x"},
        ),
        404,
    )
    assert_problem(
        client.post(
            f"{url}/ELEC-THEORY/amendments",
            headers=world.centre_a,
            json={"score": 75, "reason": "x"},
        ),
        422,
    )
    assert_problem(
        client.post(
            f"{url}/ELEC-THEORY/amendments",
            headers=world.centre_a,
            json={"passed": True, "reason": "x"},
        ),
        422,
    )
    assert_problem(
        client.post(f"{url}/ELEC-THEORY/amendments", headers=world.centre_a, json={"score": 80}),
        422,
    )
    assert_problem(
        client.post(
            f"{url}/ELEC-THEORY/amendments",
            headers=world.centre_b,
            json={"score": 80, "reason": "x"},
        ),
        404,
    )
    r = client.post(
        f"{url}/ELEC-TRAINING/amendments",
        headers=world.centre_a,
        json={"passed": False, "reason": "学时不足"},
    )
    assert r.status_code == 201 and r.json()["previous_passed"] is True
    assert_problem(
        client.post(f"/v1/registrations/{reg['id']}/absence", headers=world.centre_a), 409
    )


def test_a_dry_run_reports_what_would_happen_and_writes_nothing(
    world: World, client: TestClient, settings, exam_clock: ExamClock
) -> None:  # type: ignore[no-untyped-def]
    s = schedule_session(client, world.centre_a)
    (reg,) = register_many(client, world, s["id"], [registration(adult(70), ELEC3)])
    exam_clock.start_of(s)
    url = f"/v1/sessions/{s['id']}/results"
    rows = electrician_results(reg["id"])
    audited = count(settings, "audit_log")
    r = client.post(url, headers=world.centre_a, params={"dry_run": "true"}, json={"results": rows})
    assert r.json() == {"created": 4, "unchanged": 0}
    assert count(settings, "results") == 0 and count(settings, "audit_log") == audited
    bad = [*rows[:3], {**rows[3], "score": 101}]
    assert_problem(
        client.post(url, headers=world.centre_a, params={"dry_run": "true"}, json={"results": bad}),
        422,
    )
    assert client.post(url, headers=world.centre_a, json={"results": rows}).json() == {
        "created": 4,
        "unchanged": 0,
    }
