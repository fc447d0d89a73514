"""Signed webhook delivery against a real HTTP receiver on 127.0.0.1: success, retries,
timeouts, refused connections, 410, 429 with Retry-After, slow answers, rotation, ordering of
cancellations, pull-only departments, redelivery, decisions and the certificate record."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
import standardwebhooks
from fastapi.testclient import TestClient

from app.config import Settings
from app.db import create_db_engine
from app.delivery.service import EXCERPT_BYTES, stored_excerpt
from app.main import create_app
from app.rules import mask_id_number
from tests.conftest import make_settings
from tests.receiver import (
    Answer,
    Call,
    Receiver,
    always,
    closed_port_url,
    fail_first,
    slow,
    wait_until,
)
from tests.support import (
    ExamClock,
    World,
    adult,
    assert_problem,
    build_world,
    qualify,
    registration,
    schedule_session,
)

DEPARTMENTS = ("mem", "mohurd", "samr", "mohrss")


@dataclass
class Env:
    client: TestClient
    world: World
    receiver: Receiver
    settings: Settings

    def requests(self, **params: str) -> list[dict]:  # type: ignore[type-arg]
        return self.client.get(
            "/v1/issuance-requests", headers=self.world.admin, params={"limit": 500, **params}
        ).json()["items"]

    def request(self, request_id: str) -> dict:  # type: ignore[type-arg]
        return self.client.get(
            f"/v1/issuance-requests/{request_id}", headers=self.world.admin
        ).json()

    def wait_idle(self) -> None:
        """The worker looked at every department afresh and had nothing to send or record."""
        assert self.client.app.state.worker.wait_idle(timeout=15)  # type: ignore[attr-defined]

    def statuses(self) -> list[str]:
        return sorted(r["status"] for r in self.requests())

    def deliveries(self) -> list[tuple[str, str, str]]:
        engine = create_db_engine(self.settings.database_url)
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "select request_id, event_type, status from deliveries order by created_at, event_type"
                )
            ).all()
        engine.dispose()
        return [tuple(r) for r in rows]  # type: ignore[misc]


@contextmanager
def start_env(
    fresh_database_url: str,
    receiver: Receiver,
    urls: dict[str, str] | None = None,
    **overrides: object,
) -> Iterator[Env]:
    settings = make_settings(fresh_database_url, worker="embedded", **overrides)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        world = build_world(
            client, urls if urls is not None else {d: receiver.url(d) for d in DEPARTMENTS}
        )
        yield Env(client, world, receiver, settings)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


@pytest.fixture
def env(fresh_database_url: str, receiver: Receiver) -> Iterator[Env]:
    with start_env(fresh_database_url, receiver) as e:
        yield e


def test_a_delivery_verifies_with_the_departments_secret_alone(
    env: Env, exam_clock: ExamClock
) -> None:
    qualify(
        env.client,
        env.world,
        [(adult(1), ["MEM-LV", "MOHURD-ELEC", "MOHRSS-ELEC-L5"])],
        clock=exam_clock,
    )
    assert wait_until(lambda: env.statuses() == ["delivered"] * 3)
    for department in ("mem", "mohurd", "mohrss"):
        (call,) = env.receiver.calls_to(department)
        payload = standardwebhooks.Webhook(env.world.secrets[department]).verify(
            call.body, call.headers
        )
        assert payload["type"] == "issuance.requested"
        assert payload["data"]["certificate"]["department"] == department
        assert payload["data"]["candidate"]["id_number"] == adult(
            1
        )  # the full number, to its department only
        assert call.headers["content-type"] == "application/json"
        assert abs(int(call.headers["webhook-timestamp"]) - time.time()) < 60
        with pytest.raises(standardwebhooks.webhooks.WebhookVerificationError):
            other = "samr" if department != "samr" else "mem"
            standardwebhooks.Webhook(env.world.secrets[other]).verify(call.body, call.headers)
    detail = env.request(env.requests()[0]["id"])
    assert [(a["attempt"], a["status_code"], a["outcome"]) for a in detail["attempts"]] == [
        (1, 200, "delivered")
    ]
    assert detail["attempts"][0]["webhook_id"].startswith("msg_")
    assert env.receiver.calls_to("samr") == []


def test_500_then_200_retries_with_the_same_id_and_the_same_bytes(
    env: Env, exam_clock: ExamClock
) -> None:
    env.receiver.behaviours["mohurd"] = fail_first(2, 500)
    qualify(env.client, env.world, [(adult(2), ["MOHURD-ELEC"])], clock=exam_clock)
    assert wait_until(lambda: env.statuses() == ["delivered"])
    calls = env.receiver.calls_to("mohurd")
    assert len(calls) == 3
    assert len({c.webhook_id for c in calls}) == 1 and len({c.body for c in calls}) == 1
    attempts = env.request(env.requests()[0]["id"])["attempts"]
    assert [(a["attempt"], a["status_code"], a["outcome"]) for a in attempts] == [
        (1, 500, "retry"),
        (2, 500, "retry"),
        (3, 200, "delivered"),
    ]


def test_an_answer_is_kept_only_when_it_failed_and_without_the_id_numbers_it_echoes(
    env: Env, exam_clock: ExamClock
) -> None:
    """A department that echoes the payload back would otherwise leave the candidate's full
    ID number in clear in the attempt's stored excerpt."""
    person = adult(2)

    def echo(call: Call) -> Answer:
        return Answer(500 if call.index == 0 else 200, body=call.body)

    env.receiver.behaviours["mohurd"] = echo
    qualify(env.client, env.world, [(person, ["MOHURD-ELEC"])], clock=exam_clock)
    assert wait_until(lambda: env.statuses() == ["delivered"])
    assert person.encode() in env.receiver.calls_to("mohurd")[0].body
    engine = create_db_engine(env.settings.database_url)
    with engine.connect() as conn:
        excerpts = conn.execute(
            sa.text("select status_code, response_excerpt from delivery_attempts order by attempt")
        ).all()
    engine.dispose()
    assert [code for code, _ in excerpts] == [500, 200]
    failed, delivered = excerpts[0][1], excerpts[1][1]
    assert failed is not None and person not in failed
    assert mask_id_number(person) in failed
    assert delivered is None


def test_failures_of_every_kind_count_until_failed(
    fresh_database_url: str, receiver: Receiver, exam_clock: ExamClock
) -> None:
    receiver.behaviours["mem"] = always(503)
    receiver.behaviours["mohurd"] = always(302, {"location": "http://127.0.0.1:1/"})
    receiver.behaviours["mohrss"] = always(400)
    urls = {d: receiver.url(d) for d in DEPARTMENTS}
    urls["samr"] = closed_port_url()
    with start_env(fresh_database_url, receiver, urls, retry_schedule=(0, 0.05, 0.05)) as env:
        qualify(
            env.client,
            env.world,
            [(adult(3), ["MEM-LV", "MOHURD-ELEC", "MOHRSS-ELEC-L5", "SAMR-WELD"])],
            clock=exam_clock,
        )
        assert wait_until(lambda: env.statuses() == ["failed"] * 4)
        for r in env.requests():
            attempts = env.request(r["id"])["attempts"]
            assert [a["outcome"] for a in attempts] == ["retry", "retry", "failed"], (
                r["department"],
                attempts,
            )
        samr = next(r for r in env.requests() if r["department"] == "samr")
        assert all("connection failed" in a["error"] for a in env.request(samr["id"])["attempts"])
        assert (
            len(receiver.calls_to("mem"))
            == len(receiver.calls_to("mohurd"))
            == len(receiver.calls_to("mohrss"))
            == 3
        )


def test_a_timeout_is_a_failed_attempt(
    fresh_database_url: str, receiver: Receiver, exam_clock: ExamClock
) -> None:
    receiver.behaviours["mem"] = always(200, delay=3.0)
    with start_env(
        fresh_database_url, receiver, delivery_timeout=0.5, retry_schedule=(0, 0.05)
    ) as env:
        qualify(env.client, env.world, [(adult(4), ["MEM-LV"])], clock=exam_clock)
        assert wait_until(lambda: env.statuses() == ["failed"], timeout=20)
        attempts = env.request(env.requests()[0]["id"])["attempts"]
        assert [a["outcome"] for a in attempts] == ["retry", "failed"]
        assert all(a["error"].startswith("timeout") and a["status_code"] is None for a in attempts)
        assert all(a["duration_ms"] < 2500 for a in attempts)


def test_slow_but_successful_is_delivered_once(
    fresh_database_url: str, receiver: Receiver, exam_clock: ExamClock
) -> None:
    receiver.behaviours["mem"] = slow(0.8)
    with start_env(fresh_database_url, receiver, delivery_timeout=2.0) as env:
        qualify(
            env.client, env.world, [(adult(5 + i), ["MEM-LV"]) for i in range(5)], clock=exam_clock
        )
        assert wait_until(lambda: env.statuses() == ["delivered"] * 5)
        env.wait_idle()
        assert sorted(receiver.ids("mem").values()) == [1] * 5
        assert receiver.overlaps == []


def test_410_switches_the_endpoint_off_until_an_admin_reactivates_it(
    env: Env, exam_clock: ExamClock
) -> None:
    env.receiver.behaviours["samr"] = always(410)
    qualify(env.client, env.world, [(adult(11), ["SAMR-WELD"])], clock=exam_clock)
    assert wait_until(
        lambda: (
            env.client.get("/v1/departments/samr", headers=env.world.admin).json()["active"]
            is False
        )
    )
    dept = env.client.get("/v1/departments/samr", headers=env.world.admin).json()
    assert "410" in dept["deactivated_reason"]
    env.wait_idle()
    assert len(env.receiver.calls_to("samr")) == 1 and env.statuses() == ["pending"]
    # a second request for the same department waits too, without being tried
    qualify(env.client, env.world, [(adult(12), ["SAMR-WELD"])], clock=exam_clock)
    env.wait_idle()
    assert len(env.receiver.calls_to("samr")) == 1

    env.receiver.behaviours["samr"] = always(200)
    r = env.client.patch("/v1/departments/samr", headers=env.world.admin, json={"active": True})
    assert r.status_code == 200 and r.json()["deactivated_reason"] is None
    assert wait_until(lambda: env.statuses() == ["delivered", "delivered"])
    first = next(r for r in env.requests() if len(env.request(r["id"])["attempts"]) == 2)
    assert [a["outcome"] for a in env.request(first["id"])["attempts"]] == [
        "endpoint_gone",
        "delivered",
    ]


def test_429_retry_after_is_honoured(
    fresh_database_url: str, receiver: Receiver, exam_clock: ExamClock
) -> None:
    receiver.behaviours["mohrss"] = lambda call: (
        Answer(429, {"retry-after": "2"}) if call.index == 0 else Answer(200)
    )
    with start_env(fresh_database_url, receiver, retry_schedule=(0, 0.05, 0.05)) as env:
        qualify(env.client, env.world, [(adult(13), ["MOHRSS-ELEC-L5"])], clock=exam_clock)
        assert wait_until(lambda: env.statuses() == ["delivered"], timeout=15)
        first, second = receiver.calls_to("mohrss")
        assert second.arrived - first.arrived >= 1.9  # not the schedule's 0.05 s


def test_rotation_signs_with_both_secrets_during_the_overlap(
    env: Env, exam_clock: ExamClock
) -> None:
    # The overlap lasts 24 h from the rotation: rotate on the eve of the exam day, so that the
    # session (which opens the next morning on the test clock) is delivered inside it.
    exam_clock.move_to(datetime(2026, 12, 14, 12, 0, tzinfo=UTC))
    old = env.world.secrets["mem"]
    new = env.client.post("/v1/departments/mem/secret-rotations", headers=env.world.admin).json()[
        "signing_secret"
    ]
    qualify(env.client, env.world, [(adult(14), ["MEM-LV"])], clock=exam_clock)
    assert wait_until(lambda: env.statuses() == ["delivered"])
    (call,) = env.receiver.calls_to("mem")
    assert len(call.headers["webhook-signature"].split(" ")) == 2
    for secret in (old, new):
        assert (
            standardwebhooks.Webhook(secret).verify(call.body, call.headers)["type"]
            == "issuance.requested"
        )


def test_cancelled_before_delivery_sends_nothing_and_after_delivery_follows(
    fresh_database_url: str, receiver: Receiver, exam_clock: ExamClock
) -> None:
    receiver.behaviours["mem"] = always(500)
    with start_env(fresh_database_url, receiver, retry_schedule=(0, 30)) as env:
        _, (reg,) = qualify(
            env.client, env.world, [(adult(15), ["MEM-LV", "MOHRSS-ELEC-L5"])], clock=exam_clock
        )
        assert wait_until(
            lambda: len(receiver.calls_to("mem")) == 1 and len(receiver.calls_to("mohrss")) == 1
        )
        assert wait_until(
            lambda: sorted(r["status"] for r in env.requests()) == ["delivered", "pending"]
        )
        # practical drops below every mark: both requests are withdrawn
        r = env.client.post(
            f"/v1/registrations/{reg['id']}/results/ELEC-PRACTICAL/amendments",
            headers=env.world.centre_a,
            json={"score": 10, "reason": "复核"},
        )
        assert r.status_code == 201
        assert wait_until(lambda: len(receiver.calls_to("mohrss")) == 2)
        cancel = json.loads(receiver.calls_to("mohrss")[1].body)
        assert (
            cancel["type"] == "issuance.cancelled"
            and "no longer qualified" in cancel["data"]["reason"]
        )
        assert standardwebhooks.Webhook(env.world.secrets["mohrss"]).verify(
            receiver.calls_to("mohrss")[1].body, receiver.calls_to("mohrss")[1].headers
        )
        env.wait_idle()
        # mem was never told (its only attempt failed): no cancellation goes there
        assert [json.loads(c.body)["type"] for c in receiver.calls_to("mem")] == [
            "issuance.requested"
        ]
        assert ("issuance.requested", "cancelled") in [(e, s) for _, e, s in env.deliveries()]


def test_a_cancellation_during_the_attempt_waits_for_its_outcome(
    fresh_database_url: str, receiver: Receiver, exam_clock: ExamClock
) -> None:
    receiver.behaviours["mem"] = slow(1.5)
    with start_env(fresh_database_url, receiver, delivery_timeout=5.0) as env:
        _, (reg,) = qualify(env.client, env.world, [(adult(16), ["MEM-LV"])], clock=exam_clock)
        assert wait_until(lambda: len(receiver.calls_to("mem")) == 1)
        r = env.client.post(
            f"/v1/registrations/{reg['id']}/results/ELEC-THEORY/amendments",
            headers=env.world.centre_a,
            json={"score": 10, "reason": "复核"},
        )
        assert r.status_code == 201
        assert ("issuance.cancelled", "held") in [(e, s) for _, e, s in env.deliveries()]
        assert wait_until(lambda: len(receiver.calls_to("mem")) == 2, timeout=10)
        requested, cancelled = receiver.calls_to("mem")
        assert json.loads(cancelled.body)["type"] == "issuance.cancelled"
        assert cancelled.arrived >= receiver.completed[requested.webhook_id][0]


def test_a_pull_only_department_lists_its_requests_and_a_url_set_later_delivers(
    fresh_database_url: str, receiver: Receiver, exam_clock: ExamClock
) -> None:
    urls = {d: receiver.url(d) for d in DEPARTMENTS if d != "mohurd"}
    with start_env(fresh_database_url, receiver, urls) as env:
        qualify(
            env.client,
            env.world,
            [(adult(17), ["MOHURD-ELEC"]), (adult(18), ["MOHURD-ELEC"])],
            clock=exam_clock,
        )
        env.wait_idle()
        pulled = env.client.get(
            "/v1/issuance-requests", headers=env.world.departments["mohurd"]
        ).json()["items"]
        assert sorted(p["payload"]["candidate"]["id_number"] for p in pulled) == sorted(
            [adult(17), adult(18)]
        )
        assert all(p["status"] == "pending" for p in pulled)
        # one is decided through the pull interface; setting a URL later pushes only the other
        decided = pulled[0]["id"]
        r = env.client.post(
            f"/v1/issuance-requests/{decided}/decision",
            headers=env.world.departments["mohurd"],
            json={"decision": "rejected", "reason": "资料不全"},
        )
        assert r.status_code == 200, r.text
        env.client.patch(
            "/v1/departments/mohurd",
            headers=env.world.admin,
            json={"webhook_url": receiver.url("mohurd")},
        )
        assert wait_until(lambda: len(receiver.calls_to("mohurd")) == 1)
        env.wait_idle()
        (call,) = receiver.calls_to("mohurd")
        assert json.loads(call.body)["data"]["request_id"] == pulled[1]["id"]


def test_redeliver_and_recover_reuse_the_webhook_id(
    fresh_database_url: str, receiver: Receiver, exam_clock: ExamClock
) -> None:
    receiver.behaviours["mem"] = always(500)
    with start_env(fresh_database_url, receiver, retry_schedule=(0,)) as env:
        qualify(
            env.client,
            env.world,
            [(adult(19), ["MEM-LV"]), (adult(20), ["MEM-LV"])],
            clock=exam_clock,
        )
        assert wait_until(lambda: env.statuses() == ["failed", "failed"])
        first, second = env.requests()
        receiver.behaviours["mem"] = always(200)
        assert_problem(
            env.client.post(
                f"/v1/issuance-requests/{first['id']}/redeliver", headers=env.world.centre_b
            ),
            404,
        )
        assert_problem(
            env.client.post(
                f"/v1/issuance-requests/{first['id']}/redeliver",
                headers=env.world.departments["mem"],
            ),
            403,
        )
        r = env.client.post(
            f"/v1/issuance-requests/{first['id']}/redeliver", headers=env.world.centre_a
        )
        assert r.status_code == 202
        assert wait_until(lambda: env.request(first["id"])["status"] == "delivered")
        r = env.client.post(
            "/v1/departments/mem/recover",
            headers=env.world.admin,
            json={"since": "2000-01-01T00:00:00Z"},
        )
        assert r.json() == {"department": "mem", "requeued": 1}
        assert wait_until(lambda: env.statuses() == ["delivered", "delivered"])
        ids = receiver.ids("mem")
        assert len(ids) == 2 and sorted(ids.values()) == [
            2,
            2,
        ]  # each id: the failed try, then the redelivery
        assert env.request(second["id"])["attempts"][-1]["outcome"] == "delivered"


def test_decisions_build_the_record_that_later_registrations_use(
    env: Env, exam_clock: ExamClock
) -> None:
    qualify(env.client, env.world, [(adult(21), ["MEM-LV", "MOHRSS-ELEC-L5"])], clock=exam_clock)
    assert wait_until(lambda: env.statuses() == ["delivered", "delivered"])
    mem = next(r for r in env.requests() if r["department"] == "mem")
    url = f"/v1/issuance-requests/{mem['id']}/decision"
    issued = {
        "decision": "issued",
        "certificate_number": "MEM-2026-000021",
        "issued_on": "2026-12-20",
    }
    assert_problem(env.client.post(url, headers=env.world.departments["samr"], json=issued), 404)
    assert_problem(env.client.post(url, headers=env.world.centre_a, json=issued), 403)
    assert_problem(
        env.client.post(url, headers=env.world.departments["mem"], json={"decision": "issued"}), 422
    )
    r = env.client.post(url, headers=env.world.departments["mem"], json=issued)
    assert r.status_code == 200, r.text
    assert (
        r.json()["status"] == "issued" and r.json()["decision"]["valid_until"] == "2032-12-19"
    )  # 6 years
    assert (
        env.client.post(url, headers=env.world.departments["mem"], json=issued).status_code == 200
    )
    assert_problem(
        env.client.post(
            url,
            headers=env.world.departments["mem"],
            json={**issued, "certificate_number": "OTHER"},
        ),
        409,
    )
    assert_problem(
        env.client.post(
            url, headers=env.world.departments["mem"], json={"decision": "rejected", "reason": "x"}
        ),
        409,
    )

    found = env.client.post(
        "/v1/candidate-certificates:search",
        headers=env.world.departments["mem"],  # the issuing department sees the number in full
        json={"id_number": adult(21)},
    ).json()["items"]
    assert [(c["certificate"], c["number"], c["status"]) for c in found] == [
        ("MEM-LV", "MEM-2026-000021", "valid")
    ]
    assert (
        env.client.post(
            "/v1/candidate-certificates:search",
            headers=env.world.departments["mohurd"],  # a centre may not look up strangers
            json={"id_number": adult(99)},
        ).json()["items"]
        == []
    )

    # the verified MEM-LV exempts training for MOHURD-ELEC and opens L4 without being declared
    s = schedule_session(
        env.client,
        env.world.centre_b,
        ["MOHURD-ELEC", "MOHRSS-ELEC-L4"],
        day=__import__("datetime").date(2027, 3, 1),
    )
    r = env.client.post(
        f"/v1/sessions/{s['id']}/registrations",
        headers=env.world.centre_b,
        json=registration(adult(21), ["MOHURD-ELEC", "MOHRSS-ELEC-L4"]),
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["exemptions"][0]["basis"] == {
        "certificate": "MEM-LV",
        "number": "MEM-2026-000021",
    }
    assert [h for h in body["held"] if h["verified"]] == [
        {
            "certificate": "MEM-LV",
            "number": "MEM-2026-000021",
            "valid_until": "2032-12-19",
            "issued_on": None,
            "verified": True,
        }
    ]
    plan = env.client.post(
        "/v1/plans",
        headers=env.world.centre_b,
        json={"certificates": ["MOHRSS-ELEC-L4"], "id_number": adult(21), "on": "2027-03-01"},
    ).json()
    assert plan["targets"][0]["eligible"] is True


def test_decisions_on_cancelled_requests_conflict(
    fresh_database_url: str, receiver: Receiver, exam_clock: ExamClock
) -> None:
    urls: dict[str, str] = {}  # every department pull-only: nothing is pushed
    with start_env(fresh_database_url, receiver, urls) as env:
        _, (reg,) = qualify(
            env.client, env.world, [(adult(22), ["MOHRSS-ELEC-L5"])], clock=exam_clock
        )
        env.client.post(
            f"/v1/registrations/{reg['id']}/results/ELEC-THEORY/amendments",
            headers=env.world.centre_a,
            json={"score": 1, "reason": "复核"},
        )
        (request,) = env.requests()
        assert request["status"] == "cancelled"
        r = env.client.post(
            f"/v1/issuance-requests/{request['id']}/decision",
            headers=env.world.departments["mohrss"],
            json={"decision": "rejected", "reason": "x"},
        )
        assert_problem(r, 409)


def test_a_dead_department_does_not_hold_up_the_others(
    fresh_database_url: str, receiver: Receiver, exam_clock: ExamClock
) -> None:
    receiver.behaviours["samr"] = always(200, delay=60)  # accepts, then never answers in time
    with start_env(
        fresh_database_url, receiver, delivery_timeout=6.0, delivery_concurrency=4
    ) as env:
        people = [(adult(100 + i), ["SAMR-WELD"]) for i in range(20)]
        people += [(adult(200 + i), ["MEM-LV", "MOHURD-ELEC", "MOHRSS-ELEC-L5"]) for i in range(60)]
        qualify(env.client, env.world, people, clock=exam_clock)
        assert wait_until(
            lambda: sum(1 for s in env.statuses() if s == "delivered") == 180, timeout=30
        )
        # Every healthy request went out while samr's first four attempts were still hanging:
        # samr has had no second round, which would come only after those time out.
        assert len(receiver.calls_to("samr")) == 4
        assert all(not receiver.completed[c.webhook_id] for c in receiver.calls_to("samr"))


def test_delivery_outlives_failures_in_its_own_loops(
    fresh_database_url: str,
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
    exam_clock: ExamClock,
) -> None:
    """A claim or a recording that fails once (a database hiccup, a bug) must not stop
    deliveries for good: the loops log, wait and carry on."""
    from sqlalchemy.exc import OperationalError

    from app.delivery import service as delivery_service

    real_claim, real_record = delivery_service.claim, delivery_service.record
    failed = {"claim": 0, "record": 0}

    def flaky_claim(*args, **kwargs):  # type: ignore[no-untyped-def]
        if failed["claim"] < 2:
            failed["claim"] += 1
            raise RuntimeError("claim failed")
        return real_claim(*args, **kwargs)

    def flaky_record(*args, **kwargs):  # type: ignore[no-untyped-def]
        if failed["record"] < 2:
            failed["record"] += 1
            raise OperationalError("record", {}, Exception("database is locked"))
        return real_record(*args, **kwargs)

    monkeypatch.setattr(delivery_service, "claim", flaky_claim)
    monkeypatch.setattr(delivery_service, "record", flaky_record)
    with start_env(fresh_database_url, receiver) as env:
        qualify(
            env.client,
            env.world,
            [(adult(30 + i), ["MEM-LV", "MOHRSS-ELEC-L5"]) for i in range(5)],
            clock=exam_clock,
        )
        assert wait_until(lambda: env.statuses() == ["delivered"] * 10, timeout=30)
    assert failed == {"claim": 2, "record": 2}
    assert (
        sorted(receiver.ids().values()) == [1] * 10
    )  # the failed recordings were retried, not re-sent


def test_metrics_show_deliveries_latency_and_the_queue(
    fresh_database_url: str, receiver: Receiver, exam_clock: ExamClock
) -> None:
    urls = {
        d: receiver.url(d) for d in DEPARTMENTS if d != "samr"
    }  # samr pull-only: its queue waits
    with start_env(fresh_database_url, receiver, urls) as env:
        receiver.behaviours["mem"] = fail_first(1, 500)
        qualify(env.client, env.world, [(adult(40), ["MEM-LV", "SAMR-WELD"])], clock=exam_clock)
        assert wait_until(lambda: sorted(env.statuses()) == ["delivered", "pending"])
        text = env.client.get("/metrics").text
        assert 'oneexam_deliveries_total{department="mem",outcome="retry"} 1.0' in text
        assert 'oneexam_deliveries_total{department="mem",outcome="delivered"} 1.0' in text
        assert 'oneexam_delivery_duration_seconds_count{department="mem"} 2.0' in text
        assert 'oneexam_delivery_queue_depth{department="samr"} 1.0' in text
        oldest = next(
            line
            for line in text.splitlines()
            if line.startswith('oneexam_delivery_oldest_pending_seconds{department="samr"}')
        )
        assert float(oldest.split()[-1]) >= 0


def test_a_cancellation_held_behind_a_failed_attempt_is_dropped(
    fresh_database_url: str, receiver: Receiver, exam_clock: ExamClock
) -> None:
    receiver.behaviours["mem"] = always(500, delay=1.5)
    with start_env(fresh_database_url, receiver, delivery_timeout=5.0, retry_schedule=(0,)) as env:
        _, (reg,) = qualify(env.client, env.world, [(adult(50), ["MEM-LV"])], clock=exam_clock)
        assert wait_until(lambda: len(receiver.calls_to("mem")) == 1)
        r = env.client.post(
            f"/v1/registrations/{reg['id']}/results/ELEC-THEORY/amendments",
            headers=env.world.centre_a,
            json={"score": 10, "reason": "复核"},
        )
        assert r.status_code == 201
        assert ("issuance.cancelled", "held") in [(e, s) for _, e, s in env.deliveries()]
        # the only attempt fails: the department was never told, so it hears nothing more
        assert wait_until(
            lambda: ("issuance.cancelled", "cancelled") in [(e, s) for _, e, s in env.deliveries()],
            timeout=15,
        )
        assert [s for _, e, s in env.deliveries() if e == "issuance.requested"] == ["failed"]
        env.wait_idle()
        assert len(receiver.calls_to("mem")) == 1
        assert env.statuses() == ["cancelled"]


def test_an_id_number_cut_by_the_end_of_the_excerpt_is_not_kept_in_part() -> None:
    """The excerpt is the first 2 KB of the answer: an ID number that straddles its end is no
    longer a valid one to mask, so the digits it left are dropped."""
    person = adult(3)
    body = "x" * (EXCERPT_BYTES - 10) + person  # the excerpt ends after 10 of its 18 characters
    excerpt = body[:EXCERPT_BYTES]
    kept = stored_excerpt(500, excerpt)
    assert kept is not None and person[:10] not in kept and kept.startswith("x" * 100)
    whole = stored_excerpt(500, f'{{"id": "{person}", "n": 12}}')
    assert whole == f'{{"id": "{mask_id_number(person)}", "n": 12}}'
