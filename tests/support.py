"""Shared test data: keys, a world with every party, valid ID numbers."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from fastapi.testclient import TestClient

from app import clock
from app.db import create_db_engine
from app.errors import PROBLEM_BASE, PROBLEM_JSON
from app.rules.idnumber import check_character
from tests.receiver import wait_until

ADMIN_KEY = "oek_test-admin-key-0123456789abcdefghijklmnop"
TEST_PII_KEY = "dGVzdC1vbmx5LXBpaS1rZXktMDEyMzQ1Njc4OWFiY2Q="
REFERENCE = Path(__file__).resolve().parents[1] / "app" / "catalogue" / "reference"


def reference_catalogue() -> dict[str, Any]:
    return json.loads((REFERENCE / "electrician-welder.json").read_text(encoding="utf-8"))


def reference_departments() -> list[dict[str, Any]]:
    return json.loads((REFERENCE / "departments.json").read_text(encoding="utf-8"))


def id_number(born: date, serial: int = 1, region: str = "110105") -> str:
    """A valid GB 11643 number for a birth date; ``serial`` (0-999) tells people apart."""
    body = f"{region}{born:%Y%m%d}{serial % 1000:03d}"
    return body + check_character(body)


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@dataclass
class World:
    admin: dict[str, str]
    centres: dict[str, dict[str, str]] = field(default_factory=dict)
    departments: dict[str, dict[str, str]] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)
    catalogue_version: int = 0

    @property
    def centre_a(self) -> dict[str, str]:
        return self.centres["CA"]

    @property
    def centre_b(self) -> dict[str, str]:
        return self.centres["CB"]


def create_key(client: Any, role: str, subject: str | None) -> dict[str, str]:
    r = client.post(
        "/v1/api-keys", headers=bearer(ADMIN_KEY), json={"role": role, "subject": subject}
    )
    assert r.status_code == 201, r.text
    return bearer(r.json()["key"])


def build_world(client: Any, webhook_urls: dict[str, str] | None = None) -> World:
    world = World(admin=bearer(ADMIN_KEY))
    for dept in reference_departments():
        body = {**dept}
        if webhook_urls and dept["code"] in webhook_urls:
            body["webhook_url"] = webhook_urls[dept["code"]]
        r = client.post("/v1/departments", headers=world.admin, json=body)
        assert r.status_code == 201, r.text
        world.secrets[dept["code"]] = r.json()["signing_secret"]
        world.departments[dept["code"]] = create_key(client, "department", dept["code"])
    r = client.put("/v1/catalogue", headers=world.admin, json=reference_catalogue())
    assert r.status_code == 201, r.text
    world.catalogue_version = r.json()["version"]
    for code, name in (("CA", "甲考点"), ("CB", "乙考点")):
        r = client.post("/v1/centres", headers=world.admin, json={"code": code, "name": name})
        assert r.status_code == 201, r.text
        world.centres[code] = create_key(client, "centre", code)
    return world


EXAM_DAY = date(2026, 12, 15)
ELECTRICIAN = ["MEM-LV", "MEM-HV", "MOHURD-ELEC", "MOHRSS-ELEC-L5", "MOHRSS-ELEC-L4"]
WELDER = ["MEM-WELD", "MOHURD-WELD", "SAMR-WELD", "MOHRSS-WELD-L5", "MOHRSS-WELD-L4"]


def schedule_session(
    client: Any,
    headers: dict[str, str],
    certificates: list[str] | None = None,
    *,
    capacity: int = 100,
    day: date = EXAM_DAY,
    **extra: Any,
) -> dict[str, Any]:
    body = {
        "certificates": certificates or ELECTRICIAN + WELDER,
        "starts_at": f"{day.isoformat()}T09:00:00+08:00",
        "ends_at": f"{day.isoformat()}T17:00:00+08:00",
        "capacity": capacity,
        "venue": "实操考场一",
        **extra,
    }
    r = client.post("/v1/sessions", headers=headers, json=body)
    assert r.status_code == 201, r.text
    return r.json()


def registration(
    id_no: str, targets: list[str], held: list[dict[str, Any]] | None = None, name: str = "张三"
) -> dict[str, Any]:
    return {"candidate": {"id_number": id_no, "name": name}, "targets": targets, "held": held or []}


def adult(serial: int, born: date = date(1990, 5, 17)) -> str:
    return id_number(born, serial)


def passing_results(
    registrations: list[dict[str, Any]], scores: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """A result for every section each registration sits: pass/fail sections passed, scored
    sections 95 unless ``scores`` says otherwise."""
    catalogue = reference_catalogue()
    scoring = {s["code"]: s["scoring"] for s in catalogue["sections"]}
    rows = []
    for reg in registrations:
        for section in reg["required_sections"]:
            value = (scores or {}).get(section)
            if scoring[section] == "pass_fail":
                rows.append(
                    {
                        "registration_id": reg["id"],
                        "section": section,
                        "passed": True if value is None else value,
                    }
                )
            else:
                rows.append(
                    {
                        "registration_id": reg["id"],
                        "section": section,
                        "score": 95 if value is None else value,
                    }
                )
    return rows


def qualify(
    client: Any,
    world: World,
    people: list[tuple[str, list[str]]],
    capacity: int | None = None,
    *,
    clock: ExamClock | RealTime,
) -> tuple[str, list[dict[str, Any]]]:
    """Schedule a session, register these (id number, targets), let it start on ``clock``, pass
    them all, finalise."""
    certificates = sorted({t for _, targets in people for t in targets})
    s = schedule_session(
        client,
        world.centre_a,
        certificates,
        capacity=capacity or max(len(people), 1),
        **clock.session_times(len(people)),
    )
    regs: list[dict[str, Any]] = []
    for i in range(0, len(people), 1000):
        rows = [registration(number, targets) for number, targets in people[i : i + 1000]]
        r = client.post(
            f"/v1/sessions/{s['id']}/registrations:batch",
            headers=world.centre_a,
            json={"registrations": rows},
        )
        assert r.status_code == 200, r.text
        assert r.json()["created"] == len(rows), r.json()["items"][:3]
        regs += [item["registration"] for item in r.json()["items"]]
    clock.start_of(s)
    results = passing_results(regs)
    for i in range(0, len(results), 5000):
        r = client.post(
            f"/v1/sessions/{s['id']}/results",
            headers=world.centre_a,
            json={"results": results[i : i + 5000]},
        )
        assert r.status_code == 200, r.text
    r = client.post(f"/v1/sessions/{s['id']}/finalise", headers=world.centre_a)
    assert r.status_code == 200, r.text
    return s["id"], regs


def oneexam_env(database_url: str, **settings: Any) -> dict[str, str]:
    """Environment for an ``oneexam`` subprocess on this test database."""
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("ONEEXAM_")}
    env.update(
        {
            "ONEEXAM_DATABASE_URL": database_url,
            "ONEEXAM_ADMIN_KEY": ADMIN_KEY,
            "ONEEXAM_PII_KEY": TEST_PII_KEY,
            "ONEEXAM_LOG_LEVEL": "WARNING",
            "ONEEXAM_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",
        }
    )
    env.update({f"ONEEXAM_{k.upper()}": str(v) for k, v in settings.items()})
    return env


def spawn_oneexam(*args: str, env: dict[str, str]) -> Any:
    import subprocess
    import sys

    return subprocess.Popen(
        [sys.executable, "-m", "app.cli", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def assert_problem(response, status: int) -> dict:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    body = response.json()
    assert body["status"] == status
    assert body["type"].startswith(PROBLEM_BASE) and body["title"]  # a page of the service
    return body


ELEC3 = ["MEM-LV", "MOHURD-ELEC", "MOHRSS-ELEC-L5"]


def register_many(
    client: TestClient, world: World, session_id: str, rows: list[dict]
) -> list[dict]:  # type: ignore[type-arg]
    r = client.post(
        f"/v1/sessions/{session_id}/registrations:batch",
        headers=world.centre_a,
        json={"registrations": rows},
    )
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert all(i["status"] == 201 for i in items), [
        i["problem"] for i in items if i["status"] != 201
    ]
    return [i["registration"] for i in items]


def post_results(client: TestClient, world: World, session_id: str, rows: list[dict], headers=None):  # type: ignore[no-untyped-def, type-arg]
    return client.post(
        f"/v1/sessions/{session_id}/results",
        headers=headers or world.centre_a,
        json={"results": rows},
    )


def withdraw(
    client: TestClient, headers: dict[str, str], registration_id: str, reason: str = "退考"
) -> dict[str, Any]:
    """Withdraw a registration (it must succeed); the withdrawn registration."""
    r = client.post(
        f"/v1/registrations/{registration_id}/withdraw", headers=headers, json={"reason": reason}
    )
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def electrician_results(
    reg_id: str,
    theory: float = 75,
    practical: float = 85,
    safety: float = 72,
    training: bool = True,
) -> list[dict]:  # type: ignore[type-arg]
    return [
        {"registration_id": reg_id, "section": "ELEC-TRAINING", "passed": training},
        {"registration_id": reg_id, "section": "ELEC-THEORY", "score": theory},
        {"registration_id": reg_id, "section": "ELEC-PRACTICAL", "score": practical},
        {"registration_id": reg_id, "section": "BUILD-SAFETY", "score": safety},
    ]


def post_all_at_once(url: str, headers: dict[str, str], bodies: list[dict]) -> list[int]:  # type: ignore[type-arg]
    barrier = threading.Barrier(len(bodies))

    def one(body: dict) -> int:  # type: ignore[type-arg]
        with httpx.Client(timeout=60) as http:
            barrier.wait()
            return http.post(url, headers=headers, json=body).status_code

    with ThreadPoolExecutor(len(bodies)) as pool:
        return list(pool.map(one, bodies))


def post_each_at_once(requests: list[tuple[str, dict[str, str], dict]]) -> list[httpx.Response]:  # type: ignore[type-arg]
    """Send every ``(url, headers, body)`` at the same moment (each from its own thread)."""
    barrier = threading.Barrier(len(requests))

    def one(request: tuple[str, dict[str, str], dict]) -> httpx.Response:  # type: ignore[type-arg]
        url, headers, body = request
        with httpx.Client(timeout=60) as http:
            barrier.wait()
            return http.post(url, headers=headers, json=body)

    with ThreadPoolExecutor(len(requests)) as pool:
        return list(pool.map(one, requests))


class ExamClock:
    """The test's clock (``exam_clock`` fixture): real time until a test moves it.

    It moves every thread of this process (the TestClient app, a ``live`` server, the embedded
    worker); a spawned ``oneexam`` process keeps real time, so such tests use ``REAL_TIME``
    instead: a session a few seconds ahead, and a wait for its start.
    """

    def __init__(self, traveller: Any) -> None:
        self._traveller = traveller

    def move_to(self, instant: datetime) -> None:
        self._traveller.move_to(instant)

    def shift(self, delta: timedelta) -> None:
        self._traveller.shift(delta)

    def start_of(self, session: dict[str, Any], after: timedelta = timedelta(seconds=1)) -> None:
        """Move to just after ``session`` starts: results, absences and finalisation open."""
        self.move_to(datetime.fromisoformat(session["starts_at"]) + after)

    def session_times(self, registrations: int = 0) -> dict[str, str]:
        """09:00 to 17:00 Beijing time on the exam day, or on the first day after it whose
        09:00 is still ahead of this clock (a second session in one test)."""
        day = EXAM_DAY
        while datetime.fromisoformat(f"{day.isoformat()}T09:00:00+08:00") <= clock.now():
            day += timedelta(days=1)
        return {
            "starts_at": f"{day.isoformat()}T09:00:00+08:00",
            "ends_at": f"{day.isoformat()}T17:00:00+08:00",
        }


class RealTime:
    """Real time, for sessions that a spawned ``oneexam`` process must see as started.

    A session starts a few seconds from now (more for big registrations, which must all be in
    before it starts); ``start_of`` waits until the clock has passed its start.
    """

    def session_times(self, registrations: int = 0) -> dict[str, str]:
        lead = timedelta(seconds=3 + registrations / 200)
        starts = clock.now() + lead
        return {
            "starts_at": starts.isoformat(),
            "ends_at": (starts + timedelta(hours=8)).isoformat(),
        }

    def start_of(self, session: dict[str, Any]) -> None:
        starts = datetime.fromisoformat(session["starts_at"])
        timeout = (starts - clock.now()).total_seconds() + 30
        assert wait_until(lambda: clock.now() > starts, timeout=timeout, interval=0.02)


REAL_TIME = RealTime()


def every_stored_value(url: str) -> str:
    """Every column of every row of every table, cast to text by the database itself (SQL, not
    the ORM: nothing is decrypted on the way)."""
    engine = create_db_engine(url)
    values: list[str] = []
    try:
        with engine.connect() as conn:
            inspector = sa.inspect(conn)
            for table in inspector.get_table_names():
                columns = [c["name"] for c in inspector.get_columns(table)]
                casts = ", ".join(f'cast("{c}" as text)' for c in columns)
                for row in conn.execute(sa.text(f'select {casts} from "{table}"')):
                    values += [v for v in row if v is not None]
    finally:
        engine.dispose()
    return "\n".join(values)


def issue_certificate(
    client: TestClient,
    world: World,
    person: str,
    certificate: str,
    *,
    clock: ExamClock,
    issued_on: str = "2026-12-16",
) -> dict[str, Any]:
    """Qualify ``person`` for ``certificate`` in a session of its own and have its department
    issue it (number ``T`` + the ID number, as 特种作业操作证 are numbered): the entry of the
    person's record, as the department's search shows it."""
    session_id, _ = qualify(client, world, [(person, [certificate])], clock=clock)
    (cert,) = [c for c in reference_catalogue()["certificates"] if c["code"] == certificate]
    department = world.departments[cert["department"]]
    listed = client.get(
        "/v1/issuance-requests", headers=department, params={"session_id": session_id}
    )
    (request,) = listed.json()["items"]
    decided = client.post(
        f"/v1/issuance-requests/{request['id']}/decision",
        headers=department,
        json={"decision": "issued", "certificate_number": f"T{person}", "issued_on": issued_on},
    )
    assert decided.status_code == 200, decided.text
    found = client.post(
        "/v1/candidate-certificates:search", headers=department, json={"id_number": person}
    )
    assert found.status_code == 200, found.text
    (entry,) = [c for c in found.json()["items"] if c["issuance_request_id"] == request["id"]]
    return entry  # type: ignore[no-any-return]
