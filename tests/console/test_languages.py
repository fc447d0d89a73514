"""The console shows the services' problems in the person's language (the API's catalogue)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from app.config import Settings
from tests.console.support import csrf_of, make_user, sign_in
from tests.support import ExamClock, World, adult, registration, schedule_session

ELEC = ["MEM-LV", "MOHURD-ELEC", "MOHRSS-ELEC-L5"]


def _signed_in_centre(client: TestClient, settings: Settings) -> str:
    make_user(settings, "li.ming", "centre", "CA")
    assert sign_in(client, "li.ming").status_code == 303
    return csrf_of(client.get("/console/sessions").text)


def test_a_refused_registration_says_why_in_chinese_then_in_english(
    client: TestClient, world: World, settings: Settings
) -> None:
    s = schedule_session(client, world.centre_a, ELEC)
    person = adult(41)
    r = client.post(
        f"/v1/sessions/{s['id']}/registrations",
        headers=world.centre_a,
        json=registration(person, ELEC),
    )
    assert r.status_code == 201, r.text
    csrf = _signed_in_centre(client, settings)
    form = {
        "csrf_token": csrf,
        "id_number": person,
        "name": "张三",
        "targets": ELEC,
        "action": "save",
    }
    url = f"/console/sessions/{s['id']}/registrations"
    chinese = client.post(url, data=form, headers={"Accept-Language": "en"})
    assert chinese.status_code == 409
    assert chinese.headers["content-language"] == "zh-CN"  # the console's switch decides
    assert "该考生已在本场次报名。" in chinese.text
    assert "already registered" not in chinese.text

    client.get("/console/language?to=en", follow_redirects=False)
    english = client.post(url, data=form, headers={"Accept-Language": "zh-CN"})
    assert english.status_code == 409
    assert english.headers["content-language"] == "en"
    assert "The candidate is already registered in this session." in english.text


def test_a_bad_cell_of_the_results_grid_is_marked_in_chinese(
    client: TestClient, world: World, settings: Settings, exam_clock: ExamClock
) -> None:
    s = schedule_session(client, world.centre_a, ELEC)
    r = client.post(
        f"/v1/sessions/{s['id']}/registrations",
        headers=world.centre_a,
        json=registration(adult(42), ELEC),
    )
    assert r.status_code == 201, r.text
    reg = r.json()
    exam_clock.start_of(s)
    csrf = _signed_in_centre(client, settings)
    cells = {
        f"cell:{reg['id']}:{section}": "合格" if section == "ELEC-TRAINING" else "90"
        for section in reg["required_sections"]
    }
    cells[f"cell:{reg['id']}:ELEC-THEORY"] = "150"
    page = client.post(
        f"/console/sessions/{s['id']}/results",
        data={"csrf_token": csrf, **cells},
        headers={"HX-Request": "true"},
    )
    assert page.status_code == 422
    assert "超过 ELEC-THEORY 的满分 100" in page.text
    assert "maximum" not in page.text


def test_the_plan_gives_its_reasons_in_the_persons_language(
    client: TestClient, world: World, settings: Settings
) -> None:
    from datetime import date

    s = schedule_session(client, world.centre_a, ELEC)
    csrf = _signed_in_centre(client, settings)
    form = {
        "csrf_token": csrf,
        "id_number": adult(43, date(2009, 12, 16)),
        "name": "小明",
        "targets": ["MEM-LV"],
        "action": "preview",
    }
    url = f"/console/sessions/{s['id']}/registrations"
    preview = client.post(url, data=form, headers={"HX-Request": "true", "Accept-Language": "en"})
    assert preview.status_code == 422, preview.text  # the plan, with what keeps it from saving
    assert "年龄不足：2026-12-15 时年满 16 周岁，报考 MEM-LV 须年满 18 周岁" in preview.text
    refused = client.post(url, data={**form, "action": "save"}, headers={"Accept-Language": "en"})
    assert refused.status_code == 422
    assert "年龄不足：" in refused.text and "below the minimum age" not in refused.text

    client.get("/console/language?to=en", follow_redirects=False)
    english = client.post(url, data=form, headers={"HX-Request": "true", "Accept-Language": "zh"})
    assert "age 16 on 2026-12-15 is below the minimum age 18 for MEM-LV" in english.text
