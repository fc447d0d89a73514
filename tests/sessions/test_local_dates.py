"""Dates are local: a session's exam date is the date of its start in its centre's zone, its
times come back in that offset, and "today" is the date in ONEEXAM_TIMEZONE."""

from __future__ import annotations

from datetime import UTC, date, datetime

from fastapi.testclient import TestClient

from tests.support import ExamClock, World, assert_problem, bearer, id_number, registration

BORN = date(2008, 12, 15)  # 18 on 2026-12-15, still 17 on 2026-12-14


def _schedule(client: TestClient, headers: dict[str, str], starts: str, ends: str) -> dict:  # type: ignore[type-arg]
    body = {"certificates": ["MEM-LV"], "starts_at": starts, "ends_at": ends, "capacity": 5}
    r = client.post("/v1/sessions", headers=headers, json=body)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def test_one_instant_in_two_offsets_is_one_exam_date_and_one_age_decision(
    world: World, client: TestClient
) -> None:
    beijing = _schedule(
        client, world.centre_a, "2026-12-15T07:30:00+08:00", "2026-12-15T11:30:00+08:00"
    )
    utc = _schedule(client, world.centre_a, "2026-12-14T23:30:00Z", "2026-12-15T03:30:00Z")
    for s in (beijing, utc):
        assert s["exam_date"] == "2026-12-15"
        assert s["timezone"] == "Asia/Shanghai"
        assert s["starts_at"] == "2026-12-15T07:30:00+08:00"
        assert s["ends_at"] == "2026-12-15T11:30:00+08:00"
    for serial, s in enumerate((beijing, utc)):
        r = client.post(
            f"/v1/sessions/{s['id']}/registrations",
            headers=world.centre_a,
            json=registration(id_number(BORN, serial), ["MEM-LV"]),
        )
        assert r.status_code == 201, r.text  # 18 on the local exam date, though 17 on the UTC one
    again = client.get(f"/v1/sessions/{utc['id']}", headers=world.centre_a).json()
    assert again["starts_at"] == "2026-12-15T07:30:00+08:00" and again["exam_date"] == "2026-12-15"


def test_a_centre_in_another_zone_reads_the_same_instant_on_its_own_date(
    world: World, client: TestClient
) -> None:
    r = client.post(
        "/v1/centres",
        headers=world.admin,
        json={"code": "LON", "name": "伦敦考点", "timezone": "Europe/London"},
    )
    assert r.status_code == 201 and r.json()["timezone"] == "Europe/London", r.text
    key = client.post(
        "/v1/api-keys", headers=world.admin, json={"role": "centre", "subject": "LON"}
    ).json()["key"]
    s = _schedule(client, bearer(key), "2026-12-15T07:30:00+08:00", "2026-12-15T11:30:00+08:00")
    assert (s["exam_date"], s["timezone"]) == ("2026-12-14", "Europe/London")
    assert s["starts_at"] == "2026-12-14T23:30:00Z" or s["starts_at"].endswith("+00:00")
    r = client.post(
        f"/v1/sessions/{s['id']}/registrations",
        headers=bearer(key),
        json=registration(id_number(BORN, 7), ["MEM-LV"]),
    )
    assert assert_problem(r, 422)["targets"][0]["eligible"] is False  # 17 on the 14th
    assert client.get("/v1/centres", headers=world.admin).json()["items"][0]["timezone"] == (
        "Asia/Shanghai"
    )
    bad = client.post(
        "/v1/centres",
        headers=world.admin,
        json={"code": "MARS", "name": "火星", "timezone": "Mars/X"},
    )
    assert assert_problem(bad, 422)["errors"][0]["pointer"] == "/timezone"


def test_at_half_past_midnight_in_beijing_a_plan_is_for_the_local_date(
    world: World, client: TestClient, exam_clock: ExamClock
) -> None:
    exam_clock.move_to(datetime(2026, 12, 14, 16, 30, tzinfo=UTC))  # 00:30 on the 15th, Beijing
    plan = client.post(
        "/v1/plans",
        headers=world.centre_a,
        json={"certificates": ["MEM-LV"], "id_number": id_number(BORN)},
    ).json()
    assert plan["on"] == "2026-12-15"
    assert plan["targets"][0]["eligible"] is True, plan


def test_an_id_number_born_after_today_is_invalid(
    world: World, client: TestClient, exam_clock: ExamClock
) -> None:
    exam_clock.move_to(datetime(2026, 12, 14, 16, 30, tzinfo=UTC))  # the 15th in Beijing
    tomorrow, today = id_number(date(2026, 12, 16)), id_number(date(2026, 12, 15))
    body = {"certificates": ["MEM-LV"], "id_number": tomorrow}
    r = assert_problem(client.post("/v1/plans", headers=world.centre_a, json=body), 422)
    assert r["errors"][0]["pointer"] == "/id_number" and "after today" in r["errors"][0]["message"]
    body = {"certificates": ["MEM-LV"], "id_number": today}
    assert client.post("/v1/plans", headers=world.centre_a, json=body).status_code == 200
    s = _schedule(client, world.centre_a, "2026-12-20T09:00:00+08:00", "2026-12-20T17:00:00+08:00")
    r = client.post(
        f"/v1/sessions/{s['id']}/registrations",
        headers=world.centre_a,
        json=registration(tomorrow, ["MEM-LV"]),
    )
    assert assert_problem(r, 422)["errors"][0]["pointer"] == "/candidate/id_number"


def _plan(client: TestClient, world: World, held: list[dict]) -> dict:  # type: ignore[type-arg]
    r = client.post(
        "/v1/plans",
        headers=world.centre_a,
        json={"certificates": ["MOHURD-ELEC"], "held": held, "on": "2026-12-15"},
    )
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def test_declared_certificates_are_dated_by_valid_until_or_issued_on(
    world: World, client: TestClient
) -> None:
    # MEM-LV (six years) exempts MOHURD-ELEC's training while it is valid.
    undated = _plan(client, world, [{"certificate": "MEM-LV", "number": "LV-1"}])
    assert undated["exemptions"] == []
    assert undated["ignored_held"][0]["reason"]["code"] == "undated"
    assert undated["ignored_held"][0]["reason"]["message"].startswith("undated")

    recent = _plan(
        client, world, [{"certificate": "MEM-LV", "number": "LV-2", "issued_on": "2022-03-01"}]
    )
    assert [e["section"] for e in recent["exemptions"]] == ["ELEC-TRAINING"]

    old = _plan(
        client, world, [{"certificate": "MEM-LV", "number": "LV-3", "issued_on": "2020-03-01"}]
    )
    assert old["exemptions"] == []  # valid until 2026-02-28
    assert old["ignored_held"][0]["valid_until"] == "2026-02-28"

    # A valid_until of 2099 on a six-year certificate issued in 2020 does not extend it.
    inflated = _plan(
        client,
        world,
        [
            {
                "certificate": "MEM-LV",
                "number": "LV-4",
                "issued_on": "2020-03-01",
                "valid_until": "2099-12-31",
            }
        ],
    )
    assert inflated["exemptions"] == []
    assert inflated["ignored_held"][0]["reason"] == {
        "code": "expired",
        "message": "expired on 2026-02-28, before 2026-12-15",
    }
