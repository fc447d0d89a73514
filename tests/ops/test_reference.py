"""The API reference works offline and reads well: Swagger UI and ReDoc from the app's own
assets, webhooks in the document, clean operationIds, described tags, problem types that
resolve on the service, and / leading somewhere."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient


def test_docs_and_redoc_load_their_assets_from_the_service(client: TestClient) -> None:
    for page in ("/docs", "/redoc"):
        r = client.get(page)
        assert r.status_code == 200
        assert "cdn" not in r.text.lower() and "googleapis" not in r.text
        assets = re.findall(r"""(?:src|href)=["']([^"']+\.(?:js|css|png))["']""", r.text)
        assert assets, r.text
        for asset in assets:
            assert asset.startswith("/"), asset
            assert client.get(asset).status_code == 200, asset


def test_root_leads_to_the_console(client: TestClient) -> None:
    r = client.get("/", follow_redirects=False)
    assert r.status_code in (302, 303, 307)
    assert r.headers["location"] == "/console"


def test_the_document_declares_both_webhooks_with_examples(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    assert schema["openapi"].startswith("3.1")
    for event in ("issuance.requested", "issuance.cancelled"):
        operation = schema["webhooks"][event]["post"]
        body = operation["requestBody"]["content"]["application/json"]
        (example,) = body["examples"].values()
        assert example["value"]["type"] == event
        headers = {p["name"] for p in operation["parameters"] if p["in"] == "header"}
        assert {"webhook-id", "webhook-timestamp", "webhook-signature"} <= headers


def test_operation_ids_are_clean_and_tags_described(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    ids = [op["operationId"] for item in schema["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids))
    for operation_id in ids:
        assert re.fullmatch(r"[a-z][a-z0-9_]*", operation_id) and "_v1_" not in operation_id
    described = {t["name"] for t in schema["tags"] if t.get("description")}
    used = {t for item in schema["paths"].values() for op in item.values() for t in op["tags"]}
    assert used <= described, used - described


def test_every_problem_type_resolves_to_a_page_on_the_service(client: TestClient) -> None:
    problem = client.get("/v1/catalogue").json()  # no key: 401
    assert problem["type"].startswith("/problems/")
    page = client.get(problem["type"])
    assert page.status_code == 200 and "401" in page.text
    index = client.get("/problems")
    for href in re.findall(r"href='(/problems/[^']+)'", index.text):
        assert client.get(href).status_code == 200, href
    assert client.get("/problems/no-such-type").status_code == 404
