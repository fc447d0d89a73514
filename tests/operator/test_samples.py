"""The CSV samples in docs/samples import as the README says into the walk-through's session;
the importer reads UTF-8 (with or without BOM) and GBK, writes UTF-8 with BOM, and ends in one
clear line when it cannot run at all."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.support import ExamClock, World, schedule_session

pytestmark = pytest.mark.slow

SAMPLES = Path(__file__).resolve().parents[2] / "docs" / "samples"
WALK_THROUGH = ["MEM-LV", "MOHURD-ELEC", "MOHRSS-ELEC-L5", "MOHRSS-ELEC-L4"]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", "import", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )
    print(done.stdout, done.stderr)
    return done


def _rows(path: Path) -> list[dict[str, str]]:
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), path  # UTF-8 with BOM, for Excel
    return list(csv.DictReader(raw.decode("utf-8-sig").splitlines()))


def _copy(name: str, tmp_path: Path, encoding: str = "utf-8") -> Path:
    target = tmp_path / name
    target.write_text((SAMPLES / name).read_text(encoding="utf-8"), encoding=encoding)
    return target


def test_the_samples_import_cleanly_and_the_error_samples_show_each_kind_of_error(
    world: World, client: TestClient, live, tmp_path: Path, exam_clock: ExamClock
) -> None:  # type: ignore[no-untyped-def]
    session = schedule_session(client, world.centre_a, WALK_THROUGH, capacity=40)
    key = world.centre_a["Authorization"].split()[1]
    common = ["--api-url", live.url, "--api-key", key]

    clean = _cli("registrations", session["id"], str(_copy("registrations.csv", tmp_path)), *common)
    assert clean.returncode == 0, clean.stderr
    assert not (tmp_path / "registrations.errors.csv").exists()
    assert [r["status"] for r in _rows(tmp_path / "registrations.registered.csv")] == [
        "registered"
    ] * 4

    bad = _copy("registrations-with-errors.csv", tmp_path)
    refused = _cli("registrations", session["id"], str(bad), *common)
    assert refused.returncode == 1
    errors = {
        int(r["line"]): r["problem"]
        for r in _rows(tmp_path / "registrations-with-errors.errors.csv")
    }
    assert sorted(errors) == [3, 4, 5, 6]
    assert "check character" in errors[3]
    assert "too-old" in errors[4] or "older" in errors[4] or "age" in errors[4]
    assert "SAMR-WELD" in errors[5]
    assert "CODE:NUMBER" in errors[6]
    (duplicate,) = _rows(tmp_path / "registrations-with-errors.registered.csv")
    assert duplicate["status"] == "already registered"

    exam_clock.start_of(session)
    wrong = _cli("results", session["id"], str(_copy("results-with-errors.csv", tmp_path)), *common)
    assert wrong.returncode == 1
    problems = {
        int(r["line"]): r["problem"] for r in _rows(tmp_path / "results-with-errors.errors.csv")
    }
    assert sorted(problems) == [2, 3, 4, 6], problems
    assert "no registration in this session" in problems[6]
    assert "not both" in problems[4]

    recorded = _cli("results", session["id"], str(_copy("results.csv", tmp_path)), *common)
    assert recorded.returncode == 0, recorded.stderr
    assert not (tmp_path / "results.errors.csv").exists()
    summary = client.post(f"/v1/sessions/{session['id']}/finalise", headers=world.centre_a)
    assert summary.status_code == 200, summary.text


def test_a_gbk_file_from_chinese_windows_imports(
    world: World, client: TestClient, live, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    session = schedule_session(client, world.centre_a, WALK_THROUGH, capacity=40)
    key = world.centre_a["Authorization"].split()[1]
    path = _copy("registrations.csv", tmp_path, encoding="gbk")
    done = _cli("registrations", session["id"], str(path), "--api-url", live.url, "--api-key", key)
    assert done.returncode == 0, done.stderr
    names = [r["name"] for r in _rows(tmp_path / "registrations.registered.csv")]
    assert names == ["张伟", "王芳", "刘洋", "陈静"]


def _one_line(done: subprocess.CompletedProcess[str], *mentions: str) -> None:
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    for mention in mentions:
        assert mention in lines[0], lines[0]


def test_it_cannot_run_says_why_in_one_line(
    world: World, client: TestClient, live, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    session = schedule_session(client, world.centre_a, WALK_THROUGH)
    key = world.centre_a["Authorization"].split()[1]
    path = _copy("registrations.csv", tmp_path)
    _one_line(
        _cli("registrations", session["id"], str(path), "--api-url", live.url),
        "ONEEXAM_API_KEY",
    )
    with socket_free() as port:
        _one_line(
            _cli(
                "registrations",
                session["id"],
                str(path),
                "--api-url",
                f"http://127.0.0.1:{port}",
                "--api-key",
                key,
            ),
            "cannot reach",
            "ONEEXAM_API_URL",
        )
    _one_line(
        _cli(
            "registrations", "ses_nosuchsession", str(path), "--api-url", live.url, "--api-key", key
        ),
        "no session ses_nosuchsession",
    )


class socket_free:
    """A port on 127.0.0.1 where nothing listens."""

    def __enter__(self) -> int:
        import socket

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port: int = probe.getsockname()[1]
        return port

    def __exit__(self, *_: object) -> None:
        return None
