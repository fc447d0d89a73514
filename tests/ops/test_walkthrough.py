"""The README's walk-through with curl works as written, on any day: its ```sh blocks, run one
after the other by bash against a live server, get no 4xx/5xx, and leave what its comments
promise (outcomes, three requests, the decision, the certificate found, the resit)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from app.config import Settings
from tests.support import ADMIN_KEY, bearer, oneexam_env

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DEFAULT_API = "API=http://127.0.0.1:8000"

# Every curl of the walk-through fails on an HTTP error and is noted; the README's text is run
# unchanged, with only its API address pointed at the test server.
PREAMBLE = r"""
curl() {
  local code
  code=$(command curl --fail-with-body --write-out '%{stderr}%{http_code}' "$@" 2>&1 >&3) && return 0
  local method=GET url
  while [ $# -gt 0 ]; do
    case $1 in -X) method=$2; shift ;; http*) url=$1 ;; esac
    shift
  done
  printf '%s %s -> %s\n' "$method" "$url" "$code" >> "$WALK_FAILURES"
  return 22
} 3>&1
"""
EPILOGUE = r"""
printf '%s\n' "$SESSION" "$LATER" "$REG" "$RID" > "$WALK_VARS"
"""


def walk_through() -> str:
    """The ```sh blocks of the section "Walk-through with curl", in order, as one script."""
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## Walk-through with curl\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"^```sh\n(.*?)^```$", section, flags=re.S | re.M)
    assert blocks, "no ```sh block in the walk-through"
    return "\n".join(blocks)


def _tools_missing() -> str | None:
    for tool in ("bash", "curl", "jq", "date"):
        if shutil.which(tool) is None:
            return f"the walk-through needs {tool}, which is not installed"
    gnu = subprocess.run(["date", "-d", "+30 seconds", "--iso-8601=seconds"], capture_output=True)
    if gnu.returncode != 0:
        return "the walk-through needs GNU date (date -d)"
    return None


def test_the_walk_through_runs_as_written_and_does_what_it_says(
    live,  # type: ignore[no-untyped-def]
    settings: Settings,
    tmp_path: Path,
) -> None:
    missing = _tools_missing()
    if missing:
        pytest.skip(missing)
    script = walk_through()
    assert script.count(DEFAULT_API) == 1, "the walk-through sets API once"
    script = script.replace(DEFAULT_API, f"API={live.url}")

    # The working directory looks like a checkout after scripts/run: .venv and var/admin.key.
    (tmp_path / ".venv").symlink_to(ROOT / ".venv")
    (tmp_path / "var").mkdir()
    (tmp_path / "var" / "admin.key").write_text(ADMIN_KEY + "\n")
    failures, variables = tmp_path / "failures.txt", tmp_path / "vars.txt"
    failures.touch()
    env = {
        **oneexam_env(settings.database_url),
        "PYTHONPATH": str(ROOT),  # .venv/bin/oneexam runs this checkout's app
        "WALK_FAILURES": str(failures),
        "WALK_VARS": str(variables),
    }
    env.pop("ONEEXAM_ADMIN_KEY")  # the walk-through reads it from var/admin.key

    began = time.monotonic()
    done = subprocess.run(
        ["bash", "-c", PREAMBLE + script + EPILOGUE],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    print(done.stdout, done.stderr, f"walk-through: {time.monotonic() - began:.1f} s", sep="\n")
    assert done.returncode == 0, done.stderr
    assert failures.read_text() == "", failures.read_text()

    session, later, reg, rid = variables.read_text().split("\n")[:4]
    with httpx.Client(base_url=live.url, headers=bearer(ADMIN_KEY), timeout=30) as api:
        outcomes = api.get(f"/v1/sessions/{session}/outcomes").json()["items"]
        mine = {o["certificate"]: o["status"] for o in outcomes if o["registration_id"] == reg}
        # 75 passed MOHURD-ELEC and L5 at finalisation; the re-mark to 82 qualified MEM-LV
        assert mine == {
            "MEM-LV": "qualified",
            "MOHURD-ELEC": "qualified",
            "MOHRSS-ELEC-L5": "qualified",
        }
        others = [o for o in outcomes if o["registration_id"] != reg]
        assert [(o["certificate"], o["status"]) for o in others] == [("MEM-LV", "not_qualified")]
        assert api.get(f"/v1/sessions/{session}").json()["status"] == "finalised"

        csv = (tmp_path / "outcomes.csv").read_bytes()
        assert csv.startswith(b"\xef\xbb\xbf")
        assert len(csv.decode("utf-8-sig").splitlines()) == 1 + len(outcomes)

        requests = api.get("/v1/issuance-requests", params={"session_id": session}).json()["items"]
        assert sorted(r["certificate"] for r in requests) == [
            "MEM-LV",
            "MOHRSS-ELEC-L5",
            "MOHURD-ELEC",
        ]
        assert {r["registration_id"] for r in requests} == {reg}
        chosen = api.get(f"/v1/issuance-requests/{rid}").json()
        assert (chosen["certificate"], chosen["registration_id"]) == ("MEM-LV", reg)
        assert chosen["status"] == "issued"

        found = api.post(
            "/v1/candidate-certificates:search", json={"id_number": "440305199203150027"}
        ).json()["items"]
        assert [(c["certificate"], c["number"], c["status"]) for c in found] == [
            ("MEM-LV", "T440305********0027", "valid")  # the number as issued, masked
        ]

        (resit,) = api.get(f"/v1/sessions/{later}/registrations").json()["items"]
        resit = api.get(f"/v1/registrations/{resit['id']}").json()
        assert resit["required_sections"] == ["ELEC-PRACTICAL"]
        assert [(c["section"], c["basis"]["registration_id"]) for c in resit["carried"]] == [
            ("ELEC-TRAINING", others[0]["registration_id"]),
            ("ELEC-THEORY", others[0]["registration_id"]),
        ]
    # what the comments show came out of the commands themselves
    assert '"status":"partially_finalised"' in done.stdout.replace(" ", "")
    assert '"required_sections": [\n    "ELEC-PRACTICAL"\n  ]' in done.stdout
    assert os.path.getsize(tmp_path / "outcomes.csv") > 0
