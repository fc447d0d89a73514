"""What the audit tests share: a short audited history, and the ``oneexam audit`` command."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

from fastapi.testclient import TestClient

from tests.support import (
    ELEC3,
    ExamClock,
    World,
    adult,
    electrician_results,
    oneexam_env,
    post_results,
    register_many,
    registration,
    schedule_session,
)


def audited_history(client: TestClient, world: World, clock: ExamClock) -> str:
    """Audited writes of a small session (registrations, an absence, results, an amendment, a
    finalisation); returns the session id."""
    s = schedule_session(client, world.centre_a)
    a, b = register_many(
        client, world, s["id"], [registration(adult(1), ELEC3), registration(adult(2), ["MEM-LV"])]
    )
    clock.start_of(s)
    client.post(f"/v1/registrations/{b['id']}/absence", headers=world.centre_a)
    post_results(client, world, s["id"], electrician_results(a["id"]))
    client.post(
        f"/v1/registrations/{a['id']}/results/ELEC-THEORY/amendments",
        headers=world.centre_a,
        json={"score": 81, "reason": "复核"},
    )
    client.post(f"/v1/sessions/{s['id']}/finalise", headers=world.centre_a)
    return str(s["id"])


def audit_cli(database_url: str, *args: str, **env: Any) -> subprocess.CompletedProcess[str]:
    """``oneexam audit ARGS`` in a subprocess on this test database."""
    return subprocess.run(
        [sys.executable, "-m", "app.cli", "audit", *args],
        env=oneexam_env(database_url, **env),
        capture_output=True,
        text=True,
    )
