"""``oneexam import registrations|results`` against a live server, through the real CLI."""

from __future__ import annotations

import csv
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.support import (
    EXAM_DAY,
    ExamClock,
    World,
    adult,
    id_number,
    schedule_session,
    withdraw,
)

pytestmark = pytest.mark.slow


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", "import", *args],
        capture_output=True,
        text=True,
        timeout=600,
    )


def _key(world: World) -> str:
    return world.centre_a["Authorization"].split()[1]


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig") as fh:  # the reports are UTF-8 with BOM, for Excel
        return list(csv.DictReader(fh))


def test_5000_registrations_with_20_bad_rows_then_the_same_file_again(
    world: World, client: TestClient, live, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    session = schedule_session(client, world.centre_a, ["MEM-LV", "MOHRSS-ELEC-L5"], capacity=5000)
    seventeen = EXAM_DAY.replace(year=EXAM_DAY.year - 17)
    bad_lines = {}
    path = tmp_path / "registrations.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id_number", "name", "targets", "held"])
        for n in range(5000):
            line = n + 2
            number, targets, held = (
                id_number(date(1980 + n % 20, 1 + n % 12, 1 + n % 28), n),
                "MEM-LV;MOHRSS-ELEC-L5",
                "",
            )
            if n % 10 == 3:
                held = f"MEM-LV:LV{n:05d}:2031-01-01"
            if n % 250 == 7:  # 20 bad rows, four kinds
                kind = (n // 250) % 4
                if kind == 0:
                    number = number[:-1] + ("0" if number[-1] != "0" else "1")
                    bad_lines[line] = "check character"
                elif kind == 1:
                    targets = "MEM-LV;NO-SUCH"
                    bad_lines[line] = "does not offer NO-SUCH"
                elif kind == 2:
                    number = id_number(seventeen, n)
                    targets = "MEM-LV"
                    bad_lines[line] = "age 17"
                else:
                    held = "MEM-LV"
                    bad_lines[line] = "CODE:NUMBER"
            writer.writerow([number, f"考生{n}", targets, held])
    assert len(bad_lines) == 20

    args = [
        "registrations",
        session["id"],
        str(path),
        "--api-url",
        live.url,
        "--api-key",
        _key(world),
    ]
    first = _cli(*args)
    assert first.returncode == 1, first.stderr  # some rows were refused
    errors = _rows(tmp_path / "registrations.errors.csv")
    assert len(errors) == 20
    for row in errors:
        assert bad_lines[int(row["line"])] in row["problem"], row
        assert "*" in row["id_number"] or row["id_number"] == "(invalid)"  # masked in the report
    registered = _rows(tmp_path / "registrations.registered.csv")
    assert len(registered) == 4980 and all(
        r["registration_id"].startswith("reg_") for r in registered
    )
    assert (
        client.get(f"/v1/sessions/{session['id']}", headers=world.centre_a).json()["registered"]
        == 4980
    )
    assert "4980" in first.stderr + first.stdout

    second = _cli(*args)
    assert second.returncode == 1
    again = _rows(tmp_path / "registrations.registered.csv")
    assert [r["status"] for r in again] == ["already registered"] * 4980
    assert [r["registration_id"] for r in again] == [r["registration_id"] for r in registered]
    assert len(_rows(tmp_path / "registrations.errors.csv")) == 20  # the same 20, no new errors
    assert (
        client.get(f"/v1/sessions/{session['id']}", headers=world.centre_a).json()["registered"]
        == 4980
    )


def test_results_import_is_all_or_nothing_and_idempotent(
    world: World, client: TestClient, live, tmp_path: Path, exam_clock: ExamClock
) -> None:  # type: ignore[no-untyped-def]
    session = schedule_session(client, world.centre_a, ["MOHRSS-ELEC-L5"])
    regs = []
    for n in range(3):
        r = client.post(
            f"/v1/sessions/{session['id']}/registrations",
            headers=world.centre_a,
            json={
                "candidate": {"id_number": adult(n), "name": "赵六"},
                "targets": ["MOHRSS-ELEC-L5"],
            },
        )
        regs.append(r.json()["id"])
    exam_clock.start_of(session)
    path = tmp_path / "results.csv"

    def write(bad: bool) -> None:
        with path.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(["registration_id", "section", "score", "passed"])
            for reg in regs:
                writer.writerow(
                    [reg, "ELEC-THEORY", "101" if bad and reg == regs[1] else "77.5", ""]
                )
                writer.writerow([reg, "ELEC-PRACTICAL", "66", ""])

    write(bad=True)
    args = ["results", session["id"], str(path), "--api-url", live.url, "--api-key", _key(world)]
    refused = _cli(*args)
    assert refused.returncode == 1
    (error,) = _rows(tmp_path / "results.errors.csv")
    assert (
        error["line"] == "4"
        and error["registration_id"] == regs[1]
        and "maximum" in error["problem"]
    )
    detail = client.get(f"/v1/registrations/{regs[0]}", headers=world.centre_a).json()
    assert detail["results"] == []  # nothing was written, not even the good rows

    write(bad=False)
    done = _cli(*args)
    assert done.returncode == 0, done.stderr
    assert (
        len(client.get(f"/v1/registrations/{regs[0]}", headers=world.centre_a).json()["results"])
        == 2
    )
    again = _cli(*args)
    assert again.returncode == 0 and "6" in again.stdout  # six rows, all unchanged
    assert (
        client.post(f"/v1/sessions/{session['id']}/finalise", headers=world.centre_a).json()[
            "qualified"
        ]
        == 3
    )


def test_results_by_id_number_go_to_the_registration_not_withdrawn(
    world: World, client: TestClient, live, tmp_path: Path, exam_clock: ExamClock
) -> None:  # type: ignore[no-untyped-def]
    session = schedule_session(client, world.centre_a, ["MOHRSS-ELEC-L5"])
    url = f"/v1/sessions/{session['id']}/registrations"
    body = {"candidate": {"id_number": adult(1), "name": "赵六"}, "targets": ["MOHRSS-ELEC-L5"]}
    withdrawn = client.post(url, headers=world.centre_a, json=body).json()["id"]
    withdraw(client, world.centre_a, withdrawn)
    again = client.post(url, headers=world.centre_a, json=body).json()["id"]  # registered again
    exam_clock.start_of(session)
    path = tmp_path / "marks.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id_number", "name", "section", "score", "passed"])
        writer.writerow([adult(1), "赵六", "ELEC-THEORY", "77.5", ""])
        writer.writerow([adult(1), "赵六", "ELEC-PRACTICAL", "66", ""])

    done = _cli(
        "results", session["id"], str(path), "--api-url", live.url, "--api-key", _key(world)
    )
    assert done.returncode == 0, done.stdout + done.stderr
    results = {
        reg: client.get(f"/v1/registrations/{reg}", headers=world.centre_a).json()["results"]
        for reg in (withdrawn, again)
    }
    assert (len(results[withdrawn]), len(results[again])) == (0, 2)


def test_import_refuses_a_bad_key_or_a_missing_column(
    world: World, client: TestClient, live, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    session = schedule_session(client, world.centre_a, ["MEM-LV"])
    path = tmp_path / "r.csv"
    path.write_text("id_number,name,targets\n11010519491231002X,张三,MEM-LV\n", encoding="utf-8")
    done = _cli(
        "registrations", session["id"], str(path), "--api-url", live.url, "--api-key", "oek_wrong"
    )
    assert done.returncode == 2 and "401" in done.stderr
    path.write_text("name,targets\n张三,MEM-LV\n", encoding="utf-8")
    done = _cli(
        "registrations", session["id"], str(path), "--api-url", live.url, "--api-key", _key(world)
    )
    assert done.returncode == 2 and "id_number" in done.stderr
