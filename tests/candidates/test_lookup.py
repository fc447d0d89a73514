"""Purpose-limited lookups of a person's certificates: a centre only for people registered in
its own sessions, every lookup audited with the key, a rate limit per key."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app
from tests.conftest import make_settings
from tests.support import (
    World,
    adult,
    assert_problem,
    build_world,
    register_many,
    registration,
    schedule_session,
    withdraw,
)

SEARCH = "/v1/candidate-certificates:search"


def _search(client: TestClient, headers: dict[str, str], number: str) -> Any:
    return client.post(SEARCH, headers=headers, json={"id_number": number})


def test_a_centre_looks_up_only_people_registered_in_its_own_sessions(
    world: World, client: TestClient
) -> None:
    s = schedule_session(client, world.centre_a)
    register_many(client, world, s["id"], [registration(adult(1), ["MEM-LV"])])
    assert _search(client, world.centre_a, adult(1)).json()["items"] == []
    registered_elsewhere = assert_problem(_search(client, world.centre_b, adult(1)), 403)
    unknown = assert_problem(_search(client, world.centre_b, adult(77)), 403)
    assert registered_elsewhere == unknown  # the answer does not tell whether the person exists
    assert assert_problem(_search(client, world.centre_a, adult(77)), 403) == unknown
    for headers in (world.admin, world.departments["mem"]):
        assert _search(client, headers, adult(77)).status_code == 200


def test_a_withdrawal_ends_the_centres_purpose_to_look_the_person_up(
    world: World, client: TestClient
) -> None:
    """Registering and withdrawing at once is not a way to look up anyone at will."""
    s = schedule_session(client, world.centre_a)
    [reg] = register_many(client, world, s["id"], [registration(adult(1), ["MEM-LV"])])
    assert _search(client, world.centre_a, adult(1)).status_code == 200
    withdraw(client, world.centre_a, reg["id"])
    assert_problem(_search(client, world.centre_a, adult(1)), 403)
    register_many(client, world, s["id"], [registration(adult(1), ["MEM-LV"])])  # again
    assert _search(client, world.centre_a, adult(1)).status_code == 200


def test_every_lookup_is_audited_with_the_key_and_no_clear_id_number(
    world: World, client: TestClient
) -> None:
    s = schedule_session(client, world.centre_a)
    [reg] = register_many(client, world, s["id"], [registration(adult(1), ["MEM-LV"])])
    _search(client, world.centre_a, adult(1))
    _search(client, world.centre_b, adult(1))
    _search(client, world.departments["mem"], adult(77))
    items = client.get("/v1/audit-log", headers=world.admin, params={"limit": 500}).json()["items"]
    lookups = [e for e in items if e["action"] == "candidate_certificates.searched"]
    assert [e["actor"].split(":key_")[0] for e in lookups] == [
        "centre:CA",
        "centre:CB",
        "department:mem",
    ]
    assert all(e["actor"].rsplit(":", 1)[-1].startswith("key_") for e in lookups)
    assert [e["after"]["allowed"] for e in lookups] == [True, False, True]
    assert lookups[0]["after"]["id_number"] == reg["candidate"]["id_number"]  # masked
    assert adult(1) not in str(items) and adult(77) not in str(items)


def test_lookups_are_rate_limited_per_key(fresh_database_url: str) -> None:
    settings: Settings = make_settings(fresh_database_url, lookup_rate_limit=3)
    with TestClient(create_app(settings)) as client:
        world = build_world(client)
        for n in range(3):
            assert _search(client, world.departments["mem"], adult(n + 1)).status_code == 200
        limited = _search(client, world.departments["mem"], adult(9))
        body = assert_problem(limited, 429)
        assert limited.headers["content-type"].startswith("application/problem+json")
        assert 1 <= int(limited.headers["retry-after"]) <= 60 and body["status"] == 429
        assert _search(client, world.departments["mohurd"], adult(9)).status_code == 200
