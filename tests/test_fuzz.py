"""Schemathesis against the live ``/openapi.json`` with every check (``--checks all``), as an
admin, as a centre and as a department: no server error; every response has a documented
status, content type, headers and schema (problem+json for errors); a 405 lists in ``Allow``
every method of its path; a schema-violating request is refused; a schema-valid one is never
refused by request validation (tests/schemathesis_hooks.py), so the schema says all the models
check.

A 422 stays allowed for a schema-valid request when it is a rule of the service that no schema
can state (an unknown certificate, a target the session does not offer, an ineligible
candidate, ``ends_at`` after ``starts_at``), and 413 counts as refusing a batch over its
documented ``maxItems`` (the contract's answer).

Each role is fuzzed on the operations it may call (the role matrix in tests/test_role_matrix.py
proves the others answer 401/403 whatever the request). Bounded for a 2-core machine: a fixed
seed, at most ``MAX_EXAMPLES`` cases per operation in the fuzzing phase (the examples and
coverage phases are deterministic), one worker: about 2,600 requests as admin, 1,500 as a
centre and 550 as a department, in 50 s, 40 s and 14 s on a 2-core machine shared with other
test runs (load average 7).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.support import ExamClock, World, adult, qualify
from tests.test_role_matrix import MATRIX, OK

pytestmark = pytest.mark.slow

SEED = 20261130
MAX_EXAMPLES = 10
HOOKS = "tests.schemathesis_hooks"
ROOT = Path(__file__).resolve().parents[1]

CONFIG = """
[checks.positive_data_acceptance]
expected-statuses = ["2xx", "3xx", "401", "403", "404", "409", "422", "429", "5xx"]

[checks.negative_data_rejection]
expected-statuses = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429", "5xx"]

[parameters]
"""


def _parameters(client: TestClient, world: World, clock: ExamClock) -> dict[str, object]:
    """Real identifiers for the path parameters, so that fuzzed bodies reach the handlers behind
    the lookups instead of stopping at 404."""
    session_id, (reg,) = qualify(
        client, world, [(adult(1), ["MEM-LV", "MOHRSS-ELEC-L5"])], clock=clock
    )
    mem = world.departments["mem"]
    requests = client.get("/v1/issuance-requests", headers=mem).json()["items"]
    # MEM decides its request, so that a certificate of its own is on record (for revocation);
    # deciding it again as fuzzed is a no-op or a 409.
    issued = {"decision": "issued", "certificate_number": "T-0001", "issued_on": "2026-12-20"}
    r = client.post(f"/v1/issuance-requests/{requests[0]['id']}/decision", headers=mem, json=issued)
    assert r.status_code == 200, r.text
    found = client.post(
        "/v1/candidate-certificates:search", headers=world.admin, json={"id_number": adult(1)}
    ).json()
    spare_key = client.post("/v1/api-keys", headers=world.admin, json={"role": "admin"}).json()
    return {
        "session_id": session_id,
        "registration_id": reg["id"],
        "request_id": requests[0]["id"],
        "certificate_id": found["items"][0]["id"],
        "key_id": spare_key["id"],
        "code": "mem",
        "section": "ELEC-THEORY",
        "version": 1,
    }


def _failures(stdout: str) -> str:
    start = stdout.find("FAILURES")
    return stdout[start if start >= 0 else 0 :][:20000]


ROLES = {"admin": "admin", "centre": "own_centre", "department": "own_dept"}
"""Each role, and the principal of the role matrix (tests/test_role_matrix.py) it is."""


def _operations_of(role: str, schema_paths: dict[str, dict[str, object]]) -> str:
    """A regex of the operationIds this role may call: the others answer 401/403 whatever the
    request (the role matrix proves that), so fuzzing them as this role finds nothing new."""
    names = [
        operation["operationId"]  # type: ignore[index]
        for path, item in schema_paths.items()
        for method, operation in item.items()
        if MATRIX.get((method.upper(), path), {}).get(ROLES[role], OK) == OK
    ]
    return "^(" + "|".join(sorted(names)) + ")$"


@pytest.mark.parametrize("role", list(ROLES))
def test_fuzzing_the_live_api_with_every_check_finds_nothing(
    role: str,
    world: World,
    client: TestClient,
    live,  # type: ignore[no-untyped-def]
    tmp_path: Path,
    exam_clock: ExamClock,
) -> None:
    headers = {
        "admin": world.admin,
        "centre": world.centre_a,
        "department": world.departments["mem"],
    }
    parameters = _parameters(client, world, exam_clock)
    # The live server builds its OpenAPI document on first request (seconds on a loaded
    # machine): build it now, so that Schemathesis' own load does not time out on it.
    assert httpx.get(f"{live.url}/openapi.json", timeout=120).status_code == 200
    config = tmp_path / "schemathesis.toml"
    config.write_text(CONFIG + "".join(f"{k} = {json.dumps(v)}\n" for k, v in parameters.items()))
    report = tmp_path / "report.json"
    env = {**os.environ, "SCHEMATHESIS_HOOKS": HOOKS, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "schemathesis.cli",
            "--config-file",
            str(config),
            "run",
            f"{live.url}/openapi.json",
            "--include-operation-id-regex",
            _operations_of(role, client.get("/openapi.json").json()["paths"]),
            "--checks",
            "all",
            "--suppress-health-check",
            "too_slow",  # the speed of generation on a shared 2-core machine, not the API
            "--phases",
            "examples,coverage,fuzzing",
            "--max-examples",
            str(MAX_EXAMPLES),
            "--seed",
            str(SEED),
            "--workers",
            "1",
            "--request-timeout",
            "30",
            "--no-color",
            "--header",
            f"Authorization: {headers[role]['Authorization']}",
            "--report",
            "json",
            "--report-json-path",
            str(report),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        cwd=tmp_path,  # Schemathesis keeps a cache in its working directory
    )
    assert report.exists(), done.stdout[-5000:] + done.stderr[-5000:]
    data = json.loads(report.read_text())
    assert data["complete"] and data["operations"]["tested"] == data["operations"]["selected"], (
        done.stdout[-5000:] + done.stderr[-2000:]
    )
    assert not data["failures"] and not data["errors"], f"as {role}:\n" + _failures(done.stdout)
    assert done.returncode == 0, f"as {role}:\n" + done.stdout[-20000:]
    print(
        f"\nschemathesis as {role}: {data['test_cases']['generated']} generated requests "
        f"(seed {SEED}, every check), 0 failures"
    )
