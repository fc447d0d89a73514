"""``oneexam serve`` and ``oneexam migrate`` fail fast, in one line, without a traceback, before
binding anything, when the database, its folder or the port is not what they need."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

ONEEXAM = [sys.executable, "-m", "app.cli"]
PII_KEY = "r0Cc6Xq0c3p4S0k9b7n5O2m1L8j6H4g2F0d8S6a4Q2w="
REFUSED_POSTGRES = "postgresql://postgres@127.0.0.1:1/oneexam"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _run(*args: str, env: dict[str, str], timeout: float = 20) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ONEEXAM_")}
    return subprocess.run(
        [*ONEEXAM, *args],
        env={**clean, "ONEEXAM_WORKER": "off", **env},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _one_line(done: subprocess.CompletedProcess[str], *mentions: str) -> str:
    assert done.returncode != 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    assert "Uvicorn running" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    for mention in mentions:
        assert mention in lines[0], lines[0]
    return lines[0]


def test_serve_before_migrate_says_run_migrate(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/oneexam.db"
    _one_line(_run("serve", env={"ONEEXAM_DATABASE_URL": url}), "oneexam migrate")
    assert not (tmp_path / "oneexam.db").exists()


def test_serve_on_a_database_behind_the_head_says_run_migrate(tmp_path: Path) -> None:
    from app.migrate import upgrade

    url = f"sqlite:///{tmp_path}/oneexam.db"
    upgrade(url, "base")  # creates the file with no revision at all
    _one_line(_run("serve", env={"ONEEXAM_DATABASE_URL": url}), "oneexam migrate")


def test_serve_with_an_unreachable_postgresql_names_the_cause(tmp_path: Path) -> None:
    env = {"ONEEXAM_DATABASE_URL": REFUSED_POSTGRES, "ONEEXAM_PII_KEY": PII_KEY}
    line = _one_line(_run("serve", env=env), "ONEEXAM_DATABASE_URL", "127.0.0.1")
    assert "refused" in line.lower()


def test_a_data_folder_that_does_not_exist_is_not_created(tmp_path: Path) -> None:
    folder = tmp_path / "nonexistent" / "dir"
    url = f"sqlite:///{folder}/x.db"
    for command in ("serve", "migrate"):
        _one_line(_run(command, env={"ONEEXAM_DATABASE_URL": url}), str(folder))
        assert not folder.parent.exists()


def test_a_port_in_use_names_oneexam_port(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/oneexam.db"
    assert _run("migrate", env={"ONEEXAM_DATABASE_URL": url}).returncode == 0
    port = free_port()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        env = {"ONEEXAM_DATABASE_URL": url, "ONEEXAM_PORT": str(port)}
        _one_line(_run("serve", env=env), "ONEEXAM_PORT", str(port))


def test_migrate_against_an_unreachable_database_prints_the_cause_in_one_line() -> None:
    env = {"ONEEXAM_DATABASE_URL": REFUSED_POSTGRES, "ONEEXAM_PII_KEY": PII_KEY}
    line = _one_line(_run("migrate", env=env), "127.0.0.1")
    assert "refused" in line.lower()
