"""Personal data and secrets: encrypted at rest, never in logs, masked everywhere but the
issuing department's webhook; structured request logs; input limits; key handling."""

from __future__ import annotations

import io
import json
import logging
import socket
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from app import auth
from app.config import ConfigError
from app.crypto import KEY_FILE_NAME, load_vault
from app.db import create_db_engine
from app.logs import json_formatter
from app.main import create_app
from tests.conftest import make_settings
from tests.receiver import Receiver, wait_until
from tests.support import (
    ADMIN_KEY,
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


def _raw_database_text(url: str) -> bytes:
    """Everything stored: the SQLite files byte for byte, or every PostgreSQL row as text."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        base = Path(parsed.database or "")
        return b"".join(p.read_bytes() for p in base.parent.glob(base.name + "*"))
    engine = create_db_engine(url)
    chunks = []
    with engine.connect() as conn:
        for table in sa.inspect(conn).get_table_names():
            for (row,) in conn.execute(sa.text(f'select row_to_json(t)::text from "{table}" t')):
                chunks.append(row.encode())
    engine.dispose()
    return b"\n".join(chunks)


@pytest.fixture
def captured_logs() -> io.StringIO:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(json_formatter())
    root = logging.getLogger()
    root.addHandler(handler)
    old = root.level
    root.setLevel(logging.DEBUG)
    yield stream
    root.removeHandler(handler)
    root.setLevel(old)


def test_after_a_full_flow_no_id_number_key_or_secret_is_stored_or_logged(
    fresh_database_url: str, captured_logs: io.StringIO, exam_clock: ExamClock
) -> None:
    people = [(adult(i), ["MEM-LV", "MOHURD-ELEC"]) for i in range(1, 6)] + [
        ("11010519491231002x", ["MOHRSS-ELEC-L5"])
    ]
    numbers = [p for p, _ in people] + ["11010519491231002X"]
    with Receiver() as receiver:
        settings = make_settings(fresh_database_url, worker="embedded")
        with TestClient(create_app(settings), raise_server_exceptions=False) as client:
            world = build_world(client, {d: receiver.url(d) for d in DEPARTMENTS})
            _, regs = qualify(client, world, people, clock=exam_clock)
            assert wait_until(lambda: len(receiver.calls) == 11)
            mem = client.get("/v1/issuance-requests", headers=world.departments["mem"]).json()[
                "items"
            ][0]
            client.post(
                f"/v1/issuance-requests/{mem['id']}/decision",
                headers=world.departments["mem"],
                json={"decision": "issued", "certificate_number": "T-1", "issued_on": "2026-12-20"},
            )
            client.post(
                "/v1/candidate-certificates:search",
                headers=world.centre_a,
                json={"id_number": adult(1)},
            )
            client.post(
                "/v1/plans",
                headers=world.centre_a,
                json={"certificates": ["MEM-LV"], "id_number": adult(2)},
            )
            bad = adult(3)[:-1] + ("0" if adult(3)[-1] != "0" else "1")
            s = schedule_session(client, world.centre_b, ["MEM-LV"])
            client.post(
                f"/v1/sessions/{s['id']}/registrations",
                headers=world.centre_b,
                json=registration(bad, ["MEM-LV"]),
            )
            # what centres and admins see is masked; only the issuing department sees the number
            seen_by_centre = client.get("/v1/issuance-requests", headers=world.centre_a).text
            seen_by_admin = client.get(
                f"/v1/registrations/{regs[0]['id']}", headers=world.admin
            ).text
            keys = [
                h["Authorization"].split()[1]
                for h in (world.admin, world.centre_a, world.centre_b, *world.departments.values())
            ]
            secrets = list(world.secrets.values())

        assert all(n not in seen_by_centre and n not in seen_by_admin for n in numbers)
        # the webhook carried the full number, to its department only
        assert any(adult(1).encode() in c.body for c in receiver.calls_to("mem"))

    stored = _raw_database_text(fresh_database_url)
    for n in [*numbers, bad]:
        assert n.encode() not in stored and n.lower().encode() not in stored, (
            "an ID number is stored in clear"
        )
    for secret in secrets:
        assert (
            secret.encode() not in stored and secret.removeprefix("whsec_").encode() not in stored
        )
    for key in keys:
        assert key.encode() not in stored

    logs = captured_logs.getvalue()
    assert (
        '"path": "/v1/sessions/{session_id}/registrations"' in logs
    )  # the logs did capture the flow
    for n in [*numbers, bad]:
        assert n not in logs and n.lower() not in logs, "an ID number reached the logs"
    for secret in [*secrets, *keys, ADMIN_KEY]:
        assert secret not in logs


def test_one_structured_line_per_request_with_the_request_id_echoed(
    client: TestClient, captured_logs: io.StringIO
) -> None:
    r = client.get(
        "/v1/catalogue",
        headers={"X-Request-ID": "trace-123", "Authorization": f"Bearer {ADMIN_KEY}"},
    )
    assert r.headers["x-request-id"] == "trace-123"
    assert (
        len(client.get("/healthz").headers["x-request-id"]) == 32
    )  # one is made up when none is sent
    lines = [
        json.loads(line)
        for line in captured_logs.getvalue().splitlines()
        if '"oneexam.http"' in line
    ]
    first = next(line for line in lines if line.get("request_id") == "trace-123")
    assert {k: first[k] for k in ("method", "path", "status", "principal")} == {
        "method": "GET",
        "path": "/v1/catalogue",
        "status": 404,
        "principal": "admin",
    }
    assert first["duration_ms"] >= 0 and first["level"] == "INFO"
    unsafe = client.get("/healthz", headers={"X-Request-ID": "bad id\nwith newline"})
    assert unsafe.headers["x-request-id"] != "bad id\nwith newline"


def test_key_comparison_is_constant_time(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []
    real = auth.hmac.compare_digest

    def spy(a: str, b: str) -> bool:
        calls.append((len(a), len(b)))
        return real(a, b)

    monkeypatch.setattr(auth.hmac, "compare_digest", spy)
    assert (
        client.get("/v1/catalogue", headers={"Authorization": "Bearer oek_guess"}).status_code
        == 401
    )
    assert (
        client.get("/v1/catalogue", headers={"Authorization": f"Bearer {ADMIN_KEY}"}).status_code
        == 404
    )
    assert calls and all(
        a == b == 64 for a, b in calls
    )  # digests compared, never the keys themselves


def test_names_with_control_characters_and_oversized_fields_are_refused(client: TestClient) -> None:
    admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
    body = assert_problem(
        client.post("/v1/centres", headers=admin, json={"code": "X1", "name": "考点\x07"}), 422
    )
    assert body["errors"][0]["pointer"] == "/name"
    body = assert_problem(
        client.post("/v1/centres", headers=admin, json={"code": "X2", "name": "长" * 201}), 422
    )
    assert body["errors"][0]["pointer"] == "/name"
    assert_problem(
        client.post("/v1/centres", headers=admin, json={"code": "X" * 33, "name": "x"}), 422
    )
    assert_problem(
        client.post("/v1/centres", headers=admin, json={"code": "X3", "name": "x", "extra": 1}), 422
    )


def test_the_embedded_default_generates_a_key_once_and_postgres_needs_one(
    tmp_path: Path, captured_logs: io.StringIO
) -> None:
    settings = make_settings(f"sqlite:///{tmp_path}/db.sqlite", pii_key=None)
    first = load_vault(settings)
    key_file = tmp_path / KEY_FILE_NAME
    assert key_file.exists() and (key_file.stat().st_mode & 0o777) == 0o600
    assert str(key_file) in captured_logs.getvalue()
    sealed = first.encrypt_text("11010519491231002X", context="t")
    assert load_vault(settings).decrypt_text(sealed, context="t") == "11010519491231002X"  # reused
    with pytest.raises(ConfigError, match="ONEEXAM_PII_KEY is required with PostgreSQL"):
        load_vault(make_settings("postgresql://nobody@127.0.0.1:1/none", pii_key=None))
    with pytest.raises(ConfigError, match=r"base64|32 bytes"):
        load_vault(make_settings(f"sqlite:///{tmp_path}/db.sqlite", pii_key="short"))


def test_ciphertexts_are_bound_to_their_use(tmp_path: Path) -> None:
    vault = load_vault(make_settings(f"sqlite:///{tmp_path}/db.sqlite"))
    sealed = vault.encrypt_text("secret", context="department-signing-secret")
    with pytest.raises(ValueError):
        vault.decrypt_text(sealed, context="national-id-number")
    assert vault.encrypt_text("secret", context="x") != vault.encrypt_text(
        "secret", context="x"
    )  # random nonce


def test_identifiers_and_filters_refuse_nul_and_odd_characters(world, client: TestClient) -> None:  # type: ignore[no-untyped-def]
    for url in (
        "/v1/sessions/ses%00x",
        "/v1/sessions?centre=%00",
        "/v1/issuance-requests?session_id=a%00",
        "/v1/departments/me%00m",
    ):
        r = client.get(url, headers=world.admin)
        assert r.status_code == 422, (url, r.status_code, r.text)
    body = {"results": [{"registration_id": "reg\u0000x", "section": "ELEC-THEORY", "score": 1}]}
    s = schedule_session(client, world.centre_a)
    assert_problem(
        client.post(f"/v1/sessions/{s['id']}/results", headers=world.centre_a, json=body), 422
    )
    held = [{"certificate": "MEM-LV", "number": "LV\u0000-1"}]
    r = client.post(
        f"/v1/sessions/{s['id']}/registrations",
        headers=world.centre_a,
        json=registration(adult(5), ["MEM-LV"], held),
    )
    assert assert_problem(r, 422)["errors"][0]["pointer"] == "/held/0/number"


# -- huge batches: refused before any row is validated (issue 14, finding 1) -------------------


def _post_raw(client: TestClient, url: str, headers: dict[str, str], body: bytes):  # type: ignore[no-untyped-def]
    return client.post(url, headers={**headers, "content-type": "application/json"}, content=body)


def test_a_million_empty_result_rows_are_a_small_413_at_once(world, client: TestClient) -> None:  # type: ignore[no-untyped-def]
    s = schedule_session(client, world.centre_a)
    body = json.dumps({"results": [{}] * 1_000_000}).encode()
    r = _post_raw(client, f"/v1/sessions/{s['id']}/results", world.centre_a, body)
    problem = assert_problem(r, 413)
    assert "errors" not in problem
    assert len(r.content) < 1000


def test_one_row_over_each_batch_cap_is_413_and_the_cap_itself_is_validated(
    world, client: TestClient
) -> None:  # type: ignore[no-untyped-def]
    s = schedule_session(client, world.centre_a)
    over = assert_problem(
        client.post(
            f"/v1/sessions/{s['id']}/results", headers=world.centre_a, json={"results": [{}] * 5001}
        ),
        413,
    )
    assert "errors" not in over
    at_cap = assert_problem(
        client.post(
            f"/v1/sessions/{s['id']}/results", headers=world.centre_a, json={"results": [{}] * 5000}
        ),
        422,
    )
    assert at_cap["errors"][0]["pointer"].startswith("/results/0")
    registrations = assert_problem(
        client.post(
            f"/v1/sessions/{s['id']}/registrations:batch",
            headers=world.centre_a,
            json={"registrations": [1] * 1001},
        ),
        413,
    )
    assert "1000" in registrations["detail"] and "errors" not in registrations


def test_nine_hundred_thousand_registration_rows_are_a_small_413(world, client: TestClient) -> None:  # type: ignore[no-untyped-def]
    s = schedule_session(client, world.centre_a)
    body = json.dumps({"registrations": [1] * 900_000}).encode()
    r = _post_raw(client, f"/v1/sessions/{s['id']}/registrations:batch", world.centre_a, body)
    assert_problem(r, 413)
    assert len(r.content) < 1000


def test_a_problem_document_lists_at_most_100_errors_and_the_total(
    world, client: TestClient
) -> None:  # type: ignore[no-untyped-def]
    s = schedule_session(client, world.centre_a)
    rows = [{"registration_id": f"reg_{i}", "section": "ELEC-THEORY"} for i in range(300)]
    problem = assert_problem(
        client.post(
            f"/v1/sessions/{s['id']}/results", headers=world.centre_a, json={"results": rows}
        ),
        422,
    )
    assert len(problem["errors"]) == 100
    assert problem["error_count"] == 300
    small = assert_problem(
        client.post("/v1/centres", headers=world.admin, json={"code": "X1", "name": "考点\x07"}),
        422,
    )
    assert len(small["errors"]) == small["error_count"] == 1


# -- strict inputs (issue 14, findings 8 and 9) ------------------------------------------------


@pytest.mark.parametrize(
    "row",
    [
        {"section": "ELEC-TRAINING", "passed": "yes"},
        {"section": "ELEC-TRAINING", "passed": 1},
        {"section": "ELEC-TRAINING", "passed": 0.0},
        {"section": "ELEC-TRAINING", "passed": "true"},
        {"section": "ELEC-THEORY", "score": "85"},
        {"section": "ELEC-THEORY", "score": True},
    ],
)
def test_booleans_and_scores_must_be_json_booleans_and_numbers(
    world: World, client: TestClient, row: dict[str, object]
) -> None:
    body = {"results": [{"registration_id": "reg_unknown", **row}]}
    r = client.post("/v1/sessions/ses_unknown/results", headers=world.centre_a, json=body)
    assert assert_problem(r, 422)["errors"][0]["pointer"].startswith("/results/0")
    amend = client.post(
        "/v1/registrations/reg_unknown/results/ELEC-THEORY/amendments",
        headers=world.centre_a,
        json={**{k: v for k, v in row.items() if k != "section"}, "reason": "typo"},
    )
    assert_problem(amend, 422)


@pytest.mark.parametrize(
    "name", ["\u200b\u200b", "\u202e\u202d", "\u2066\u2069", "\ufeff", "张\u200b三", "123", "-"]
)
def test_names_need_a_letter_and_refuse_zero_width_and_direction_controls(
    world: World, client: TestClient, name: str
) -> None:
    r = client.post("/v1/centres", headers=world.admin, json={"code": "X9", "name": name})
    assert assert_problem(r, 422)["errors"][0]["pointer"] == "/name"
    r = client.post("/v1/departments", headers=world.admin, json={"code": "x9", "name": name})
    assert assert_problem(r, 422)["errors"][0]["pointer"] == "/name"
    s = schedule_session(client, world.centre_a, ["MEM-LV"])
    r = client.post(
        f"/v1/sessions/{s['id']}/registrations",
        headers=world.centre_a,
        json=registration(adult(7), ["MEM-LV"], name=name),
    )
    assert assert_problem(r, 422)["errors"][0]["pointer"] == "/candidate/name"


def test_ordinary_names_and_numeric_venues_still_pass(world: World, client: TestClient) -> None:
    ok = client.post("/v1/centres", headers=world.admin, json={"code": "X8", "name": "欧阳·娜娜"})
    assert ok.status_code == 201, ok.text
    assert schedule_session(client, world.centre_a, ["MEM-LV"], venue="301")["venue"] == "301"


def test_a_query_filter_is_applied_or_refused_never_dropped(
    world: World, client: TestClient
) -> None:
    schedule_session(client, world.centre_a, ["MEM-LV"])
    own = client.get("/v1/sessions", headers=world.centre_a).json()["items"]
    assert len(own) == 1
    other = client.get("/v1/sessions", headers=world.centre_a, params={"centre": "CB"})
    assert other.status_code == 200 and other.json()["items"] == []
    for url in (
        "/v1/sessions?centr=CB",
        "/v1/issuance-requests?stauts=failed",
        "/v1/departments?x=1",
    ):
        r = client.get(url, headers=world.admin)
        assert assert_problem(r, 422)["errors"][0]["parameter"] in ("centr", "stauts", "x"), url


def test_a_lost_database_is_a_503_with_retry_after(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once the socket is closed
    settings = make_settings(f"postgresql://postgres@127.0.0.1:{port}/gone")
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        r = client.get("/v1/sessions", headers={"Authorization": f"Bearer {ADMIN_KEY}"})
    problem = assert_problem(r, 503)
    assert r.headers["retry-after"] == "5" and "internal" not in problem["type"]
