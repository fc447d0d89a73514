"""A revocation and a registration resting on the revoked certificate at the same moment, on a
real server (docs/api.md §8; the locks are explained in ``app/sessions/replanning.py``): the
registration either sees the certificate revoked, or the revocation sees the registration and
re-plans it. Whichever wins, what is stored never rests on the revoked certificate."""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from app.rules import mask_certificate_number
from tests.conftest import BACKEND
from tests.results.test_revocation import LEVEL4, REASON, detail
from tests.support import (
    ExamClock,
    World,
    adult,
    issue_certificate,
    post_each_at_once,
    registration,
    schedule_session,
)

ROUNDS = 12
TARGETS = ["MOHURD-ELEC", "MOHRSS-ELEC-L4"]
# how long after the registration the revocation is sent, round after round: sent together, the
# revocation (less work before its locks) nearly always wins; a few milliseconds later, it meets
# the registration between its reading of the record and its commit, or finds it committed
STAGGER = [0.0, 0.004, 0.008, 0.012]


def _at_once(
    requests: list[tuple[str, dict[str, str], dict[str, Any], float]],
) -> list[tuple[httpx.Response, float, float]]:
    """Send every ``(url, headers, body, delay)`` from its own thread, all released at the same
    moment and each ``delay`` seconds after it: each answer, with when it was sent and when it
    came back."""
    barrier = threading.Barrier(len(requests))

    def one(request: tuple[str, dict[str, str], dict[str, Any], float]) -> Any:
        url, headers, body, delay = request
        with httpx.Client(timeout=60) as http:
            barrier.wait()
            time.sleep(delay)
            sent = time.monotonic()
            answer = http.post(url, headers=headers, json=body)
            return answer, sent, time.monotonic()

    with ThreadPoolExecutor(len(requests)) as pool:
        return list(pool.map(one, requests))


def _rests_on(stored: dict[str, Any], number: str) -> list[str]:
    """What in a registration (as GET shows it) still rests on the certificate ``number``, and
    what its plan lacks without it; empty when nothing does."""
    masked = mask_certificate_number(number)
    wrong = [
        f"{e['section']} exempted for {e['target']} through it"
        for e in stored["exemptions"]
        if e["basis"]["number"] == masked
    ]
    wrong += [f"{h['certificate']} held" for h in stored["held"] if h["number"] == masked]
    if "ELEC-TRAINING" not in stored["required_sections"]:
        wrong.append(f"ELEC-TRAINING not required (required: {stored['required_sections']})")
    for target in stored["eligibility"]:
        if target["certificate"] != "MOHRSS-ELEC-L4":
            continue
        if target["eligible"] or [r["code"] for r in target["reasons"]] != ["missing-prerequisite"]:
            wrong.append(f"level 4 eligible={target['eligible']} reasons={target['reasons']}")
        if set(LEVEL4) & set(stored["required_sections"]):
            wrong.append("level 4 sections required")
    return wrong


@pytest.mark.skipif(
    BACKEND != "postgres",
    reason="two writers at once need PostgreSQL (SQLite runs one writing transaction at a time)",
)
def test_a_registration_at_the_moment_of_a_revocation_never_rests_on_the_revoked_certificate(
    world: World, client: TestClient, live, exam_clock: ExamClock
) -> None:  # type: ignore[no-untyped-def]
    """Each round, one person holding an issued MEM-LV is registered in a session not yet
    started, at the very moment MEM-LV is revoked: even rounds for MOHURD-ELEC (ELEC-TRAINING
    exempted through MEM-LV), odd rounds for MOHURD-ELEC and level 4 (opened through MEM-LV,
    which counts as level 5)."""
    people = [adult(600 + n) for n in range(ROUNDS)]
    certificates = {
        p: issue_certificate(client, world, p, "MEM-LV", clock=exam_clock) for p in people
    }
    s = schedule_session(client, world.centre_a, TARGETS, **exam_clock.session_times())
    orders: Counter[str] = Counter()
    overlapping = 0
    broken: list[str] = []
    for n, person in enumerate(people):
        held = certificates[person]
        targets = TARGETS[: 1 + n % 2]
        (revoked, *revoking), (registered, *registering) = _at_once(
            [
                (
                    f"{live.url}/v1/candidate-certificates/{held['id']}/revocation",
                    world.departments["mem"],
                    {"reason": REASON},
                    STAGGER[n // 2 % len(STAGGER)],
                ),
                (
                    f"{live.url}/v1/sessions/{s['id']}/registrations",
                    world.centre_a,
                    registration(person, targets),
                    0.0,
                ),
            ]
        )
        assert revoked.status_code == 200, revoked.text
        assert revoked.json()["status"] == "revoked"
        overlapping += max(revoking[0], registering[0]) < min(revoking[1], registering[1])

        if registered.status_code == 422:  # it saw MEM-LV revoked: level 4 is not open
            assert targets == TARGETS, registered.text
            level4 = {t["certificate"]: t for t in registered.json()["targets"]}[TARGETS[1]]
            assert not level4["eligible"]
            assert [r["code"] for r in level4["reasons"]] == ["missing-prerequisite"]
            order = "refused: the registration saw the certificate revoked"
        else:
            assert registered.status_code == 201, registered.text
            stored = detail(client, world, registered.json()["id"])
            assert [t["certificate"] for t in stored["eligibility"]] == targets
            if stored["replans"]:
                (replan,) = stored["replans"]
                assert REASON in replan["reason"]
                order = "re-planned: the revocation saw the registration"
            else:
                order = "registered: the registration saw the certificate revoked"
            wrong = _rests_on(stored, held["number"])
            if wrong:
                order = "WRONG: planned on MEM-LV, not re-planned"
                broken.append(f"round {n} ({' + '.join(targets)}): {'; '.join(wrong)}")
        orders[order] += 1
        print(f"round {n} ({' + '.join(targets)}): {order}")

    print(
        f"{ROUNDS} rounds, {overlapping} with both requests in flight together: "
        + "; ".join(f"{count} {order}" for order, count in sorted(orders.items()))
    )
    assert broken == [], "registrations left resting on a revoked MEM-LV:\n" + "\n".join(broken)
    assert overlapping == ROUNDS  # each request was sent before the other was answered


@pytest.mark.skipif(
    BACKEND != "postgres",
    reason="two writers at once need PostgreSQL (SQLite runs one writing transaction at a time)",
)
def test_two_revocations_at_once_with_different_reasons_one_wins_the_other_is_409(
    world: World, client: TestClient, live, exam_clock: ExamClock
) -> None:  # type: ignore[no-untyped-def]
    """The department and an admin revoke the same certificate at the same moment, for different
    reasons: one revocation is on record, with its reason and one audit entry; the other is 409
    ``already-revoked``, whichever came second."""
    rounds = 8
    people = [adult(700 + n) for n in range(rounds)]
    for person in people:
        held = issue_certificate(client, world, person, "MEM-LV", clock=exam_clock)
        url = f"{live.url}/v1/candidate-certificates/{held['id']}/revocation"
        answers = post_each_at_once(
            [
                (url, world.departments["mem"], {"reason": "隐瞒事故责任"}),
                (url, world.admin, {"reason": "证书信息有误"}),
            ]
        )
        codes = tuple(sorted(a.status_code for a in answers))
        assert codes == (200, 409), [a.text for a in answers]
        (won,) = [a.json() for a in answers if a.status_code == 200]
        record = client.post(
            "/v1/candidate-certificates:search", headers=world.admin, json={"id_number": person}
        ).json()["items"]
        assert [c["revoked"]["reason"] for c in record] == [won["revoked"]["reason"]]
        entries = client.get(
            "/v1/audit-log",
            headers=world.admin,
            params={"subject": held["id"], "limit": 50},
        ).json()["items"]
        revocations = [e for e in entries if e["action"].endswith("revoked")]
        assert len(revocations) == 1, revocations
