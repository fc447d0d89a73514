"""Schemathesis against the live ``/openapi.json``: bounded, fixed seed. No server errors, and
every response matches its documented status, content type and schema (problem+json for
errors)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.support import ExamClock, World, adult, qualify

pytestmark = pytest.mark.slow

CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
    ]
)
SEED = 20261130
MAX_EXAMPLES = 20


def test_fuzzing_the_live_api_finds_no_server_error_and_no_schema_violation(
    world: World,
    client: TestClient,
    live,
    tmp_path: Path,
    exam_clock: ExamClock,  # type: ignore[no-untyped-def]
) -> None:
    # Real identifiers for the path parameters, so that fuzzed bodies reach the handlers behind
    # the lookups instead of stopping at 404.
    session_id, (reg,) = qualify(
        client, world, [(adult(1), ["MEM-LV", "MOHRSS-ELEC-L5"])], clock=exam_clock
    )
    request_id = client.get("/v1/issuance-requests", headers=world.admin).json()["items"][0]["id"]
    spare_key = client.post("/v1/api-keys", headers=world.admin, json={"role": "admin"}).json()[
        "id"
    ]
    config = tmp_path / "schemathesis.toml"
    config.write_text(
        "[parameters]\n"
        f'session_id = "{session_id}"\n'
        f'registration_id = "{reg["id"]}"\n'
        f'request_id = "{request_id}"\n'
        f'key_id = "{spare_key}"\n'
        'code = "mem"\n'
        'section = "ELEC-THEORY"\n'
        "version = 1\n"
    )
    totals = {"cases": 0, "failures": 0, "errors": 0}
    for who, headers in (("admin", world.admin), ("centre", world.centre_a)):
        report = tmp_path / f"report-{who}.json"
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "schemathesis.cli",
                "--config-file",
                str(config),
                "run",
                f"{live.url}/openapi.json",
                "--checks",
                CHECKS,
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
                f"Authorization: {headers['Authorization']}",
                "--report",
                "json",
                "--report-json-path",
                str(report),
            ],
            capture_output=True,
            text=True,
            timeout=600,
            cwd=tmp_path,  # Schemathesis keeps a cache in its working directory
        )
        assert done.returncode == 0, f"as {who}:\n" + done.stdout[-20000:]
        data = json.loads(report.read_text())
        assert data["complete"] and data["operations"]["tested"] == data["operations"]["total"]
        totals["cases"] += data["test_cases"]["generated"]
        totals["failures"] += len(data["failures"])
        totals["errors"] += len(data["errors"])
    assert totals["failures"] == totals["errors"] == 0
    print(
        f"\nschemathesis: {totals['cases']} generated requests (seed {SEED}, as admin and as a centre), "
        f"0 server errors, 0 schema or status violations"
    )
