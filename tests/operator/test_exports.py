"""Outcomes and registrations as CSV (UTF-8 with BOM) and xlsx, by content negotiation: one row
per candidate and certificate, ID numbers masked, Chinese headers for Accept-Language zh."""

from __future__ import annotations

import csv
import io

from fastapi.testclient import TestClient
from openpyxl import load_workbook

from tests.support import ExamClock, World, adult, qualify

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PEOPLE = [(adult(i), ["MEM-LV", "MOHRSS-ELEC-L5"]) for i in range(1, 4)]


def _csv(body: bytes) -> list[dict[str, str]]:
    assert body.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs to read UTF-8
    return list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))


def test_outcomes_as_csv_one_row_per_candidate_and_certificate(
    client: TestClient, world: World, exam_clock: ExamClock
) -> None:
    session_id, regs = qualify(client, world, PEOPLE, clock=exam_clock)
    r = client.get(
        f"/v1/sessions/{session_id}/outcomes",
        headers={**world.centre_a, "Accept": "text/csv"},
        params={"limit": 1},  # an export is every row, not a page
    )
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    rows = _csv(r.content)
    assert len(rows) == len(PEOPLE) * 2
    assert {(row["registration_id"], row["certificate"]) for row in rows} == {
        (reg["id"], cert) for reg in regs for cert in ("MEM-LV", "MOHRSS-ELEC-L5")
    }
    for row in rows:
        assert "*" in row["id_number"] and row["id_number"] not in {p for p, _ in PEOPLE}
        assert row["status"] == "qualified" and row["name"]
        assert row["department"] in ("mem", "mohrss")


def test_registrations_as_csv_with_chinese_headers(
    client: TestClient, world: World, exam_clock: ExamClock
) -> None:
    session_id, _ = qualify(client, world, PEOPLE, clock=exam_clock)
    r = client.get(
        f"/v1/sessions/{session_id}/registrations",
        headers={**world.centre_a, "Accept": "text/csv", "Accept-Language": "zh-CN,zh;q=0.9"},
    )
    assert r.status_code == 200, r.text
    rows = _csv(r.content)
    assert len(rows) == len(PEOPLE) * 2
    assert {"姓名", "身份证号", "报考证书"} <= set(rows[0])
    assert all(row["身份证号"].count("*") == 8 for row in rows)
    english = _csv(
        client.get(
            f"/v1/sessions/{session_id}/registrations",
            headers={**world.centre_a, "Accept": "text/csv"},
        ).content
    )
    assert {"name", "id_number", "certificate"} <= set(english[0])


def test_outcomes_as_xlsx(client: TestClient, world: World, exam_clock: ExamClock) -> None:
    session_id, _ = qualify(client, world, PEOPLE, clock=exam_clock)
    r = client.get(
        f"/v1/sessions/{session_id}/outcomes", headers={**world.centre_a, "Accept": XLSX}
    )
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == XLSX
    sheet = load_workbook(io.BytesIO(r.content)).active
    values = list(sheet.values)
    assert values[0][:3] == ("registration_id", "id_number", "name")
    assert len(values) == 1 + len(PEOPLE) * 2
    assert all("*" in row[1] for row in values[1:])


def test_json_stays_the_default_and_exports_keep_the_access_rules(
    client: TestClient, world: World, exam_clock: ExamClock
) -> None:
    session_id, _ = qualify(client, world, PEOPLE[:1], clock=exam_clock)
    url = f"/v1/sessions/{session_id}/outcomes"
    for accept in ("*/*", "application/json", "application/json, text/csv;q=0.5"):
        r = client.get(url, headers={**world.centre_a, "Accept": accept})
        assert r.headers["content-type"].startswith("application/json"), accept
    other = client.get(url, headers={**world.centre_b, "Accept": "text/csv"})
    assert other.status_code == 404
    assert other.headers["content-type"].startswith("application/problem+json")
