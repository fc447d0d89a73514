"""API keys: the bootstrap admin key is a key like any other once it has been used."""

from __future__ import annotations

from fastapi.testclient import TestClient
from pydantic import SecretStr

from app.config import Settings
from app.main import create_app
from tests.support import ADMIN_KEY, assert_problem, bearer

OTHER_ADMIN_KEY = "oek_test-other-admin-key-0123456789abcdefghij"


def _bootstrap_row(client: TestClient, headers: dict[str, str]) -> dict[str, object]:
    items = client.get("/v1/api-keys", headers=headers).json()["items"]
    [row] = [i for i in items if i["label"] == "ONEEXAM_ADMIN_KEY"]
    return row


def test_the_bootstrap_admin_key_is_revoked_like_any_key_and_stays_revoked(
    settings: Settings,
) -> None:
    admin = bearer(ADMIN_KEY)
    with TestClient(create_app(settings)) as client:
        row = _bootstrap_row(client, admin)
        assert row["role"] == "admin" and row["revoked_at"] is None
        spare = client.post("/v1/api-keys", headers=admin, json={"role": "admin"}).json()
        assert client.delete(f"/v1/api-keys/{row['id']}", headers=admin).status_code == 204
        assert "revoked" in assert_problem(client.get("/v1/api-keys", headers=admin), 401)["detail"]
    with TestClient(create_app(settings)) as client:  # a restart with the same variable
        assert_problem(client.get("/v1/catalogue", headers=admin), 401)
        listed = client.get("/v1/api-keys", headers=bearer(spare["key"])).json()["items"]
        assert [i["revoked_at"] is not None for i in listed if i["id"] == row["id"]] == [True]
    changed = settings.model_copy(update={"admin_key": SecretStr(OTHER_ADMIN_KEY)})
    with TestClient(create_app(changed)) as client:  # the variable changes: the new key works
        assert client.get("/v1/api-keys", headers=bearer(OTHER_ADMIN_KEY)).status_code == 200
        assert_problem(client.get("/v1/catalogue", headers=admin), 401)
