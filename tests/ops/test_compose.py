"""compose.yaml parses, has a documented first run that makes its keys (scripts/compose-env),
and health-checks only the services that listen. (No Docker engine here: not run.)"""

from __future__ import annotations

import base64
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_only_listening_services_have_a_healthcheck() -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))
    checked = {name for name, svc in compose["services"].items() if "healthcheck" in svc}
    assert checked == {"db", "api"}
    assert "HEALTHCHECK" not in (ROOT / "Dockerfile").read_text(encoding="utf-8").replace(
        "No HEALTHCHECK", ""
    )
    assert "scripts/compose-env" in (ROOT / "compose.yaml").read_text(encoding="utf-8")


def test_compose_env_writes_the_keys_once(tmp_path: Path) -> None:
    target = tmp_path / ".env"
    script = [sys.executable, str(ROOT / "scripts" / "compose-env"), str(target)]
    assert subprocess.run(script, capture_output=True, timeout=30).returncode == 0
    values = dict(
        line.split("=", 1) for line in target.read_text().splitlines() if not line.startswith("#")
    )
    assert set(values) == {"POSTGRES_PASSWORD", "ONEEXAM_PII_KEY", "ONEEXAM_ADMIN_KEY"}
    assert len(base64.b64decode(values["ONEEXAM_PII_KEY"])) == 32
    assert target.stat().st_mode & 0o077 == 0
    again = subprocess.run(script, capture_output=True, text=True, timeout=30)
    assert again.returncode != 0 and "not overwriting" in again.stderr
