"""Centre pages through the console (server-rendered; the browser tests drive the same pages)."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from app.config import Settings
from tests.console.support import csrf_of, make_user, sign_in
from tests.support import ExamClock, World, adult, registration, schedule_session

ELEC = ["MEM-LV", "MOHURD-ELEC", "MOHRSS-ELEC-L5"]


def _centre(
    client: TestClient, settings: Settings, username: str = "wang.fang", centre: str = "CA"
) -> str:
    make_user(settings, username, "centre", centre)
    assert sign_in(client, username).status_code == 303
    return csrf_of(client.get("/console/sessions").text)


def test_schedule_a_session_and_see_it_in_the_centres_zone(
    client: TestClient, world: World, settings: Settings
) -> None:
    csrf = _centre(client, settings)
    r = client.post(
        "/console/sessions",
        data={
            "csrf_token": csrf,
            "certificates": ELEC,
            "day": "2026-12-15",
            "starts": "09:00",
            "ends": "17:00",
            "capacity": "30",
            "venue": "一号考场",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    page = client.get(r.headers["location"])
    assert "2026年12月15日 09:00" in page.text and "一号考场" in page.text
    listed = client.get("/v1/sessions", headers=world.centre_a).json()["items"]
    assert listed[0]["starts_at"].startswith("2026-12-15T01:00:00") or listed[0][
        "starts_at"
    ].startswith("2026-12-15T09:00:00+08:00")


def test_a_refused_schedule_says_why_and_keeps_the_form(
    client: TestClient, world: World, settings: Settings
) -> None:
    csrf = _centre(client, settings)
    r = client.post(
        "/console/sessions",
        data={
            "csrf_token": csrf,
            "certificates": ELEC,
            "day": "2026-12-15",
            "starts": "17:00",
            "ends": "09:00",
            "capacity": "30",
            "venue": "一号考场",
        },
    )
    assert r.status_code == 422
    assert 'data-testid="problem"' in r.text and 'value="一号考场"' in r.text
    assert client.get("/v1/sessions", headers=world.centre_a).json()["items"] == []


def test_the_plan_is_shown_before_saving_and_nothing_is_saved_by_it(
    client: TestClient, world: World, settings: Settings
) -> None:
    csrf = _centre(client, settings)
    s = schedule_session(client, world.centre_a, ELEC)
    form = {
        "csrf_token": csrf,
        "id_number": adult(1),
        "name": "李娜",
        "targets": ["MEM-LV", "MOHURD-ELEC"],
        "held_certificate": ["MOHURD-ELEC", ""],
        "held_number": ["JZ-2025-000123", ""],
        "held_until": ["2030-01-01", ""],
        "action": "preview",
    }
    preview = client.post(
        f"/console/sessions/{s['id']}/registrations", data=form, headers={"HX-Request": "true"}
    )
    assert preview.status_code == 200, preview.text
    assert "李娜 的考核安排" in preview.text and "JZ-2025-000123" in preview.text
    assert "<html" not in preview.text  # a fragment for htmx
    regs = client.get(f"/v1/sessions/{s['id']}/registrations", headers=world.centre_a).json()[
        "items"
    ]
    assert regs == []
    saved = client.post(
        f"/console/sessions/{s['id']}/registrations",
        data={**form, "action": "save"},
        follow_redirects=False,
    )
    assert saved.status_code == 303
    regs = client.get(f"/v1/sessions/{s['id']}/registrations", headers=world.centre_a).json()[
        "items"
    ]
    assert [r["candidate"]["name"] for r in regs] == ["李娜"]
    assert regs[0]["exemptions"]


def test_an_ineligible_candidate_is_refused_with_the_reasons(
    client: TestClient, world: World, settings: Settings
) -> None:
    from datetime import date

    csrf = _centre(client, settings)
    s = schedule_session(client, world.centre_a, ELEC)
    form = {
        "csrf_token": csrf,
        "id_number": adult(2, date(2012, 1, 1)),
        "name": "小明",
        "targets": ["MEM-LV"],
        "action": "save",
    }
    r = client.post(f"/console/sessions/{s['id']}/registrations", data=form)
    assert r.status_code == 422 and 'data-testid="problem"' in r.text


def test_csv_upload_registers_the_good_rows_and_offers_the_refused_ones(
    client: TestClient, world: World, settings: Settings
) -> None:
    csrf = _centre(client, settings)
    s = schedule_session(client, world.centre_a, ELEC)
    text = f"id_number,name,targets,held\n{adult(3)},张伟,MEM-LV;MOHURD-ELEC,\n123,坏行,MEM-LV,\n"
    r = client.post(
        f"/console/sessions/{s['id']}/registrations.csv",
        data={"csrf_token": csrf},
        files={"file": ("people.csv", text.encode("utf-8-sig"), "text/csv")},
    )
    assert r.status_code == 200, r.text
    assert "共 2 行：1 人报名成功，1 行未通过" in r.text
    assert 'download="registrations.errors.csv"' in r.text and "data:text/csv" in r.text


def test_another_centres_session_is_not_found(
    client: TestClient, world: World, settings: Settings
) -> None:
    s = schedule_session(client, world.centre_b, ELEC)
    _centre(client, settings)
    for path in ("", "/results", "/finalise", "/outcomes", "/delivery"):
        r = client.get(f"/console/sessions/{s['id']}{path}")
        assert r.status_code == 404, path


def test_the_results_grid_is_all_or_nothing_with_every_bad_cell_marked(
    client: TestClient, world: World, settings: Settings, exam_clock: ExamClock
) -> None:
    s = schedule_session(client, world.centre_a, ELEC)
    rows = [registration(adult(10 + i), ELEC, name=n) for i, n in enumerate(["甲", "乙"])]
    regs = client.post(
        f"/v1/sessions/{s['id']}/registrations:batch",
        headers=world.centre_a,
        json={"registrations": rows},
    ).json()["items"]
    exam_clock.start_of(s)
    csrf = _centre(client, settings)
    cells = {}
    for item in regs:
        reg = item["registration"]
        for section in reg["required_sections"]:
            cells[f"cell:{reg['id']}:{section}"] = "合格" if section == "ELEC-TRAINING" else "90"
    first = regs[0]["registration"]["id"]
    bad = {**cells, f"cell:{first}:ELEC-THEORY": "150", f"cell:{first}:ELEC-PRACTICAL": "abc"}
    r = client.post(
        f"/console/sessions/{s['id']}/results",
        data={"csrf_token": csrf, **bad},
        headers={"HX-Request": "true"},
    )
    assert r.status_code == 422
    assert len(re.findall(r'class="cell-bad"', r.text)) == 2
    assert 'value="150"' in r.text and 'value="abc"' in r.text
    detail = client.get(f"/v1/registrations/{first}", headers=world.centre_a).json()
    assert detail["results"] == []
    ok = client.post(
        f"/console/sessions/{s['id']}/results",
        data={"csrf_token": csrf, **cells},
        headers={"HX-Request": "true"},
    )
    assert ok.status_code == 200 and 'data-testid="grid-saved"' in ok.text
    detail = client.get(f"/v1/registrations/{first}", headers=world.centre_a).json()
    assert len(detail["results"]) == len(regs[0]["registration"]["required_sections"])
    history = detail["results"][0]["recorded_by"]
    assert history.endswith("user:wang.fang")  # the person, as audit and histories name them
    log = client.get("/v1/audit-log?limit=500", headers=world.admin).json()["items"]
    assert any(
        e["action"] == "results.recorded" and e["actor"] == "centre:CA:user:wang.fang" for e in log
    )

    confirm = client.get(f"/console/sessions/{s['id']}/finalise")
    assert "应急管理" in confirm.text or "mem" in confirm.text
    done = client.post(
        f"/console/sessions/{s['id']}/finalise",
        data={"csrf_token": csrf, "certificates": ELEC},  # as ticked on the confirmation page
        follow_redirects=False,
    )
    assert done.status_code == 303
    outcomes = client.get(done.headers["location"])
    assert outcomes.text.count('class="status qualified"') == 6
    delivery = client.get(f"/console/sessions/{s['id']}/delivery")
    assert delivery.status_code == 200 and "待推送" in delivery.text


def test_a_session_can_be_cancelled_from_its_page(
    client: TestClient, world: World, settings: Settings
) -> None:
    csrf = _centre(client, settings)
    s = schedule_session(client, world.centre_a, ELEC)
    r = client.post(f"/console/sessions/{s['id']}/cancel", data={"csrf_token": csrf})
    assert r.status_code == 200 and "已取消" in r.text
    assert (
        client.get(f"/v1/sessions/{s['id']}", headers=world.centre_a).json()["status"]
        == "cancelled"
    )


def test_release_per_certificate_and_absence_from_one_section(
    client: TestClient, world: World, settings: Settings, exam_clock: ExamClock
) -> None:
    s = schedule_session(client, world.centre_a, ["MEM-LV", "MOHRSS-ELEC-L5"])
    rows = [
        registration(adult(20 + i), ["MEM-LV", "MOHRSS-ELEC-L5"], name=n)
        for i, n in enumerate(["丙", "丁"])
    ]
    regs = [
        i["registration"]
        for i in client.post(
            f"/v1/sessions/{s['id']}/registrations:batch",
            headers=world.centre_a,
            json={"registrations": rows},
        ).json()["items"]
    ]
    exam_clock.start_of(s)
    csrf = _centre(client, settings)
    second = regs[1]["id"]
    grid = client.get(f"/console/sessions/{s['id']}/results").text
    assert 'data-testid="absence-form"' in grid
    r = client.post(
        f"/console/sessions/{s['id']}/absence",
        data={"csrf_token": csrf, "registration": second, "section": "ELEC-TRAINING"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    grid = client.get(f"/console/sessions/{s['id']}/results").text
    assert (
        f'name="cell:{second}:ELEC-TRAINING"' not in grid
        and f'name="cell:{second}:ELEC-THEORY"' in grid
    )
    cells = {f"cell:{regs[0]['id']}:ELEC-TRAINING": "合格"}
    for reg in regs:
        for section in ("ELEC-THEORY", "ELEC-PRACTICAL"):
            cells[f"cell:{reg['id']}:{section}"] = "90"
    assert (
        client.post(
            f"/console/sessions/{s['id']}/results", data={"csrf_token": csrf, **cells}
        ).status_code
        == 200
    )
    page = client.get(f"/console/sessions/{s['id']}/finalise")
    assert page.text.count('name="certificates"') == 2
    none = client.post(f"/console/sessions/{s['id']}/finalise", data={"csrf_token": csrf})
    assert none.status_code == 422
    done = client.post(
        f"/console/sessions/{s['id']}/finalise",
        data={"csrf_token": csrf, "certificates": ["MOHRSS-ELEC-L5"]},
        follow_redirects=False,
    )
    assert done.status_code == 303
    session = client.get(f"/v1/sessions/{s['id']}", headers=world.centre_a).json()
    assert session["status"] == "partially_finalised"
    page = client.get(f"/console/sessions/{s['id']}/finalise")
    assert page.text.count('name="certificates"') == 1 and "已发布" in page.text
    outcomes = client.get(f"/v1/sessions/{s['id']}/outcomes", headers=world.centre_a).json()[
        "items"
    ]
    statuses = {(o["registration_id"], o["certificate"]): o["status"] for o in outcomes}
    assert statuses[(regs[0]["id"], "MOHRSS-ELEC-L5")] == "qualified"
    assert statuses[(regs[0]["id"], "MEM-LV")] == "pending"
