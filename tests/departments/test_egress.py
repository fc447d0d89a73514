"""The egress policy (issue 14, finding 3): webhook URLs that reach loopback, private, link-local,
unique-local, multicast, reserved, unspecified, CGNAT or NAT64/6to4/IPv4-mapped forms of such
addresses, in any notation or behind any name, are refused when saved and again at every
connection (against the address the name resolves to then), unless allowed by
``ONEEXAM_WEBHOOK_ALLOWED_NETWORKS``; a refused attempt shows departments a fixed error."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from app.db import create_db_engine
from app.delivery import egress
from app.main import create_app
from tests.conftest import make_settings
from tests.receiver import Receiver, closed_port_url, wait_until
from tests.support import ADMIN_KEY, ExamClock, adult, assert_problem, build_world, qualify

ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
GLOBAL = "93.184.216.34"

INTERNAL_URLS = [
    "http://169.254.169.254/latest/meta-data/",  # cloud metadata (link-local)
    "http://100.100.100.200/latest/meta-data/",  # Alibaba Cloud metadata (CGNAT)
    "http://100.64.0.1/",
    "http://10.0.0.1/hooks",
    "http://172.16.5.4/",
    "http://192.168.1.1/",
    "http://127.0.0.1:8000/",
    "http://localhost:5432/",
    "http://LOCALHOST./",
    "http://hooks.localhost/",
    "http://0.0.0.0/",
    "http://224.0.0.1/",  # multicast
    "http://240.0.0.1/",  # reserved
    "http://255.255.255.255/",
    "http://[::1]/",
    "http://[::]/",
    "http://[fd00::1]/",  # unique-local
    "http://[fe80::1]/",  # link-local
    "http://[ff02::1]/",  # multicast
    "http://[::ffff:127.0.0.1]/",  # IPv4-mapped
    "http://[::ffff:a9fe:a9fe]/",  # IPv4-mapped 169.254.169.254
    "http://[64:ff9b::a00:1]/",  # NAT64 of 10.0.0.1
    "http://[64:ff9b::7f00:1]/",  # NAT64 of 127.0.0.1
    "http://[2002:a00:1::1]/",  # 6to4 of 10.0.0.1
    "http://[2002:7f00:1::1]/",  # 6to4 of 127.0.0.1
    # other notations of 127.0.0.1
    "http://2130706433/",
    "http://0x7f.1/",
    "http://0x7f000001/",
    "http://0177.0.0.1/",
    "http://127.1/",
    "http://017700000001/",
    "https://127.0.0.1:443/",
]


@pytest.fixture
def strict_client(fresh_database_url: str) -> Iterator[TestClient]:
    """The app with the default policy: nothing but globally routable addresses."""
    settings = make_settings(fresh_database_url, webhook_allowed_networks="")
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


def _create(client: TestClient, code: str, url: str) -> httpx.Response:
    return client.post(
        "/v1/departments", headers=ADMIN, json={"code": code, "name": "部门", "webhook_url": url}
    )


@pytest.mark.parametrize("url", INTERNAL_URLS)
def test_internal_addresses_in_any_notation_are_refused_when_saved(
    strict_client: TestClient, url: str
) -> None:
    problem = assert_problem(_create(strict_client, "d1", url), 422)
    assert [e["pointer"] for e in problem["errors"]] == ["/webhook_url"]
    assert strict_client.get("/v1/departments/d1", headers=ADMIN).status_code == 404
    r = _create(strict_client, "d2", f"http://{GLOBAL}/hooks")
    assert r.status_code == 201, r.text
    patched = strict_client.patch("/v1/departments/d2", headers=ADMIN, json={"webhook_url": url})
    assert assert_problem(patched, 422)["errors"][0]["pointer"] == "/webhook_url"
    kept = strict_client.get("/v1/departments/d2", headers=ADMIN).json()
    assert kept["webhook_url"] == f"http://{GLOBAL}/hooks"


@pytest.mark.parametrize("url", ["ftp://example.org/x", "http://", "file:///etc/passwd", "hooks"])
def test_only_http_and_https_urls_with_a_host(strict_client: TestClient, url: str) -> None:
    assert_problem(_create(strict_client, "d1", url), 422)


def test_a_name_is_resolved_and_refused_if_any_address_is_internal(
    strict_client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    answers = {
        "hooks.internal.example": ["10.1.2.3"],
        "mixed.example": [GLOBAL, "127.0.0.1"],
        "public.example": [GLOBAL, "2606:2800:220:1:248:1893:25c8:1946"],
    }
    monkeypatch.setattr(egress, "resolve_host", lambda host, port: answers[host])
    assert_problem(_create(strict_client, "d1", "https://hooks.internal.example/x"), 422)
    assert_problem(_create(strict_client, "d2", "https://mixed.example/x"), 422)
    assert _create(strict_client, "d3", "https://public.example/x").status_code == 201

    def unresolvable(host: str, port: int) -> list[str]:
        raise OSError("name does not resolve")

    monkeypatch.setattr(egress, "resolve_host", unresolvable)
    # not resolvable yet: saved, and checked at every connection (refused while unresolvable)
    assert _create(strict_client, "d4", "https://nowhere.example/x").status_code == 201
    with pytest.raises(egress.EgressRefused):
        egress.checked_addresses("nowhere.example", 443, ())


def test_the_allowed_networks_let_loopback_in_and_nothing_else(client: TestClient) -> None:
    """The suite's own settings allow 127.0.0.0/8 (as the demo does)."""
    assert _create(client, "d1", "http://127.0.0.1:9/hooks").status_code == 201
    assert _create(client, "d2", "http://[::ffff:127.0.0.1]:9/hooks").status_code == 201
    for n, url in enumerate(("http://10.0.0.1/", "http://[::1]/", "http://169.254.169.254/")):
        assert_problem(_create(client, f"x{n}", url), 422)


# -- at connect time ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1", "2130706433", "0x7f.1", "127.1", "[::ffff:127.0.0.1]", "localhost"],
)
def test_the_transport_refuses_every_notation_unless_allowed(host: str) -> None:
    with Receiver() as receiver:
        port = receiver.base.rsplit(":", 1)[1]
        url = f"http://{host}:{port}/hooks/mem"
        with (
            httpx.Client(transport=egress.GuardedTransport(())) as strict,
            pytest.raises(egress.EgressRefused),
        ):
            strict.post(url, content=b"{}")
        assert receiver.calls == []
        allowed = egress.parse_networks("127.0.0.0/8")
        with httpx.Client(transport=egress.GuardedTransport(allowed)) as open_:
            assert open_.post(url, content=b"{}").status_code == 200
        assert len(receiver.calls) == 1


def test_the_transport_connects_to_the_address_it_checked_and_keeps_the_host(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(egress, "resolve_host", lambda host, port: ["127.0.0.1"])
    allowed = egress.parse_networks("127.0.0.0/8")
    with Receiver() as receiver:
        port = receiver.base.rsplit(":", 1)[1]
        with httpx.Client(transport=egress.GuardedTransport(allowed)) as http:
            assert http.post(f"http://hooks.dept.example:{port}/hooks/mem").status_code == 200
        assert receiver.calls[0].headers["host"] == f"hooks.dept.example:{port}"


def test_a_dns_answer_that_changes_after_saving_is_refused_at_connect(
    fresh_database_url: str, monkeypatch: pytest.MonkeyPatch, exam_clock: ExamClock
) -> None:
    """Saved while the name pointed at a public address; by delivery time it points at
    loopback, where a receiver listens: nothing reaches it, and the department sees only the
    fixed error."""
    answer = [GLOBAL]
    monkeypatch.setattr(egress, "resolve_host", lambda host, port: list(answer))
    settings = make_settings(
        fresh_database_url, worker="embedded", webhook_allowed_networks="", retry_schedule=(0, 0.05)
    )
    with Receiver() as receiver:
        port = receiver.base.rsplit(":", 1)[1]
        with TestClient(create_app(settings), raise_server_exceptions=False) as client:
            answer[:] = [GLOBAL]
            world = build_world(client, {"mem": f"http://rebind.example:{port}/hooks/mem"})
            answer[:] = ["127.0.0.1"]
            qualify(client, world, [(adult(1), ["MEM-LV"])], clock=exam_clock)

            def attempts() -> list[dict]:  # type: ignore[type-arg]
                items = client.get("/v1/issuance-requests", headers=world.departments["mem"])
                request = items.json()["items"][0]
                return client.get(
                    f"/v1/issuance-requests/{request['id']}", headers=world.departments["mem"]
                ).json()["attempts"]

            assert wait_until(lambda: len(attempts()) == 2)
            seen = attempts()
        assert receiver.calls == []
    assert [(a["status_code"], a["error"]) for a in seen] == [(None, egress.REFUSED)] * 2


def test_a_url_written_behind_the_api_is_refused_at_connect(
    fresh_database_url: str, exam_clock: ExamClock
) -> None:
    settings = make_settings(
        fresh_database_url, worker="embedded", webhook_allowed_networks="", retry_schedule=(0,)
    )
    with Receiver() as receiver:
        port = receiver.base.rsplit(":", 1)[1]
        with TestClient(create_app(settings), raise_server_exceptions=False) as client:
            world = build_world(client)
            engine = create_db_engine(fresh_database_url)
            with engine.begin() as conn:
                conn.execute(
                    sa.text("update departments set webhook_url = :u where code = 'mem'"),
                    {"u": f"http://2130706433:{port}/hooks/mem"},
                )
            engine.dispose()
            qualify(client, world, [(adult(2), ["MEM-LV"])], clock=exam_clock)
            assert wait_until(
                lambda: (
                    client.get("/v1/issuance-requests", headers=world.admin).json()["items"][0][
                        "status"
                    ]
                    == "failed"
                )
            )
        assert receiver.calls == []


def test_departments_see_a_fixed_error_kind_not_connection_detail(
    fresh_database_url: str, exam_clock: ExamClock
) -> None:
    settings = make_settings(fresh_database_url, worker="embedded", retry_schedule=(0,))
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        world = build_world(client, {"mem": closed_port_url()})
        qualify(client, world, [(adult(3), ["MEM-LV"])], clock=exam_clock)
        mem = world.departments["mem"]

        def attempts() -> list[dict]:  # type: ignore[type-arg]
            request = client.get("/v1/issuance-requests", headers=mem).json()["items"][0]
            return client.get(f"/v1/issuance-requests/{request['id']}", headers=mem).json()[
                "attempts"
            ]

        assert wait_until(lambda: len(attempts()) == 1)
        assert attempts()[0]["error"] == "connection failed"
