"""Department officers' pages: the queue, one request in full, issue and reject."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient

from app.config import Settings
from tests.console.support import csrf_of, make_user, sign_in
from tests.support import (
    ExamClock,
    World,
    adult,
    passing_results,
    post_results,
    register_many,
    registration,
    schedule_session,
)


def _finalised(client: TestClient, world: World, exam_clock: ExamClock) -> tuple[str, list[dict]]:  # type: ignore[type-arg]
    s = schedule_session(client, world.centre_a, ["MEM-LV"])
    regs = register_many(
        client,
        world,
        s["id"],
        [registration(adult(i), ["MEM-LV"], name=n) for i, n in ((1, "赵敏"), (2, "钱进"))],
    )
    exam_clock.start_of(s)
    assert post_results(client, world, s["id"], passing_results(regs)).status_code == 200
    assert (
        client.post(f"/v1/sessions/{s['id']}/finalise", headers=world.centre_a).status_code == 200
    )
    return s["id"], regs


def test_the_queue_a_request_in_full_and_the_decisions(
    client: TestClient, world: World, settings: Settings, exam_clock: ExamClock
) -> None:
    session_id, _regs = _finalised(client, world, exam_clock)
    make_user(settings, "officer", "department", "mem")
    assert sign_in(client, "officer").headers["location"] == "/console/queue"
    queue = client.get("/console/queue")
    assert queue.text.count('href="/console/requests/') == 2 and "赵敏" in queue.text
    assert "110105********" in queue.text
    filtered = client.get(f"/console/queue?status=issued&session_id={session_id}")
    assert "/console/requests/" not in filtered.text
    requests = client.get("/v1/issuance-requests", headers=world.departments["mem"]).json()["items"]
    first, second = requests[0]["id"], requests[1]["id"]
    page = client.get(f"/console/requests/{first}")
    full_id = requests[0]["payload"]["candidate"]["id_number"]
    assert full_id in page.text  # the issuing department sees the full number
    csrf = csrf_of(page.text)
    missing = client.post(
        f"/console/requests/{first}/decision",
        data={"csrf_token": csrf, "decision": "issued", "issued_on": "2026-12-20"},
    )
    assert missing.status_code == 422 and 'data-testid="problem"' in missing.text
    issued = client.post(
        f"/console/requests/{first}/decision",
        data={
            "csrf_token": csrf,
            "decision": "issued",
            "certificate_number": "T" + full_id,
            "issued_on": "2026-12-20",
        },
        follow_redirects=False,
    )
    assert issued.status_code == 303
    after = client.get(issued.headers["location"])
    assert "已发证" in after.text and "有效期至 2032年12月19日" in after.text
    rejected = client.post(
        f"/console/requests/{second}/decision",
        data={"csrf_token": csrf, "decision": "rejected", "reason": "照片不合规"},
        follow_redirects=False,
    )
    assert rejected.status_code == 303
    detail = client.get(f"/v1/issuance-requests/{second}", headers=world.departments["mem"]).json()
    assert detail["status"] == "rejected" and detail["decision"]["reason"] == "照片不合规"


def test_another_departments_request_is_not_found(
    client: TestClient, world: World, settings: Settings, exam_clock: ExamClock
) -> None:
    _finalised(client, world, exam_clock)
    make_user(settings, "builder", "department", "mohurd")
    sign_in(client, "builder")
    requests = client.get("/v1/issuance-requests", headers=world.departments["mem"]).json()["items"]
    assert "/console/requests/" not in client.get("/console/queue").text
    assert client.get(f"/console/requests/{requests[0]['id']}").status_code == 404


def test_an_officer_revokes_an_issued_certificate_behind_a_confirmation(
    client: TestClient, world: World, settings: Settings, exam_clock: ExamClock
) -> None:
    _finalised(client, world, exam_clock)
    mem = world.departments["mem"]
    listed = client.get("/v1/issuance-requests", headers=mem).json()["items"]
    (first, second), person = (
        [r["id"] for r in listed],
        listed[0]["payload"]["candidate"]["id_number"],
    )
    issued = {"decision": "issued", "certificate_number": "T-MEM-0001", "issued_on": "2026-12-20"}
    assert (
        client.post(f"/v1/issuance-requests/{first}/decision", headers=mem, json=issued).status_code
        == 200
    )
    make_user(settings, "officer", "department", "mem")
    sign_in(client, "officer")

    assert 'data-testid="revoke-form"' not in client.get(f"/console/requests/{second}").text
    page = client.get(f"/console/requests/{first}")
    assert 'data-testid="revoke-form"' in page.text and "return confirm(" in page.text
    assert json.dumps("确认吊销该证书")[1:-1] in page.text  # the question, in Chinese
    url = f"/console/requests/{first}/revocation"
    assert client.post(url, data={"reason": "伪造材料"}).status_code == 403  # no CSRF token
    csrf = csrf_of(page.text)
    empty = client.post(url, data={"csrf_token": csrf, "reason": " "})
    assert empty.status_code == 422 and 'data-testid="problem"' in empty.text
    not_issued = client.post(
        f"/console/requests/{second}/revocation", data={"csrf_token": csrf, "reason": "伪造材料"}
    )
    assert not_issued.status_code == 409

    done = client.post(url, data={"csrf_token": csrf, "reason": "伪造材料"}, follow_redirects=False)
    assert done.status_code == 303
    after = client.get(done.headers["location"])
    assert 'data-testid="revoked"' in after.text and "伪造材料" in after.text
    assert "证书已吊销" in after.text and 'data-testid="revoke-form"' not in after.text
    record = client.post(
        "/v1/candidate-certificates:search", headers=mem, json={"id_number": person}
    ).json()["items"]
    assert [(c["status"], c["revoked"]["reason"]) for c in record] == [("revoked", "伪造材料")]
    log = client.get("/v1/audit-log", headers=world.admin, params={"limit": 500}).json()["items"]
    (entry,) = [e for e in log if e["action"] == "candidate_certificate.revoked"]
    assert entry["actor"] == "department:mem:user:officer"
