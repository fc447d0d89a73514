"""Every route, called as every kind of principal, answers as the matrix says.

The routes come from the application's own route table: a route added without an entry here
fails the test. "ok" means the principal is let through (any answer but 401, 403 or 404; the
request itself may still be refused on its merits with 409 or 422).
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient

from tests.support import ExamClock, World, adult, bearer, qualify, reference_catalogue

PRINCIPALS = ("none", "revoked", "other_centre", "other_dept", "own_dept", "own_centre", "admin")
OK = "ok"

PUBLIC = dict.fromkeys(PRINCIPALS, OK)
ANY_ROLE = {"none": 401, "revoked": 401, **dict.fromkeys(PRINCIPALS[2:], OK)}
ADMIN_ONLY = {
    "none": 401,
    "revoked": 401,
    "other_centre": 403,
    "other_dept": 403,
    "own_dept": 403,
    "own_centre": 403,
    "admin": OK,
}
CENTRES = {
    "none": 401,
    "revoked": 401,
    "other_centre": OK,
    "other_dept": 403,
    "own_dept": 403,
    "own_centre": OK,
    "admin": OK,
}
OWN_SESSION = {**CENTRES, "other_centre": 404}
OWN_CENTRE = {**CENTRES, "other_centre": 403}
OWN_DEPARTMENT = {**ADMIN_ONLY, "own_dept": OK}
REQUEST_READ = {
    "none": 401,
    "revoked": 401,
    "other_centre": 404,
    "other_dept": 404,
    "own_dept": OK,
    "own_centre": OK,
    "admin": OK,
}
DECISION = {
    "none": 401,
    "revoked": 401,
    "other_centre": 403,
    "other_dept": 404,
    "own_dept": OK,
    "own_centre": 403,
    "admin": 403,
}
REVOCATION = {
    "none": 401,
    "revoked": 401,
    "other_centre": 403,
    "other_dept": 404,  # another department's certificate: not found
    "own_dept": OK,
    "own_centre": 403,
    "admin": OK,
}
REDELIVER = {
    "none": 401,
    "revoked": 401,
    "other_centre": 404,
    "other_dept": 404,
    "own_dept": 403,
    "own_centre": OK,
    "admin": OK,
}

MATRIX: dict[tuple[str, str], dict[str, Any]] = {
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/readyz"): PUBLIC,
    ("GET", "/metrics"): PUBLIC,
    ("GET", "/openapi.json"): PUBLIC,
    ("GET", "/docs"): PUBLIC,
    ("GET", "/docs/oauth2-redirect"): PUBLIC,
    ("GET", "/redoc"): PUBLIC,
    ("GET", "/"): PUBLIC,
    ("GET", "/problems"): PUBLIC,
    ("GET", "/problems/{slug}"): PUBLIC,
    ("POST", "/v1/api-keys"): ADMIN_ONLY,
    ("GET", "/v1/api-keys"): ADMIN_ONLY,
    ("DELETE", "/v1/api-keys/{key_id}"): ADMIN_ONLY,
    ("POST", "/v1/departments"): ADMIN_ONLY,
    ("GET", "/v1/departments"): ADMIN_ONLY,
    ("GET", "/v1/departments/{code}"): OWN_DEPARTMENT,
    ("PATCH", "/v1/departments/{code}"): ADMIN_ONLY,
    ("POST", "/v1/departments/{code}/secret-rotations"): ADMIN_ONLY,
    ("POST", "/v1/departments/{code}/recover"): ADMIN_ONLY,
    ("POST", "/v1/centres"): ADMIN_ONLY,
    ("GET", "/v1/centres"): ADMIN_ONLY,
    ("GET", "/v1/centres/{code}"): OWN_CENTRE,
    ("PUT", "/v1/catalogue"): ADMIN_ONLY,
    ("GET", "/v1/catalogue"): ANY_ROLE,
    ("GET", "/v1/catalogue/versions/{version}"): ANY_ROLE,
    ("POST", "/v1/sessions"): CENTRES,
    ("GET", "/v1/sessions"): CENTRES,
    ("GET", "/v1/sessions/{session_id}"): OWN_SESSION,
    ("POST", "/v1/sessions/{session_id}/cancel"): OWN_SESSION,
    ("POST", "/v1/sessions/{session_id}/registrations"): OWN_SESSION,
    ("POST", "/v1/sessions/{session_id}/registrations:batch"): OWN_SESSION,
    ("GET", "/v1/sessions/{session_id}/registrations"): OWN_SESSION,
    ("POST", "/v1/registrations/{registration_id}/absence"): OWN_SESSION,
    ("PATCH", "/v1/registrations/{registration_id}"): OWN_SESSION,
    ("POST", "/v1/registrations/{registration_id}/withdraw"): OWN_SESSION,
    ("GET", "/v1/registrations/{registration_id}"): OWN_SESSION,
    ("POST", "/v1/plans"): ANY_ROLE,
    ("POST", "/v1/sessions/{session_id}/results"): OWN_SESSION,
    ("POST", "/v1/registrations/{registration_id}/results/{section}/amendments"): OWN_SESSION,
    ("POST", "/v1/sessions/{session_id}/finalise"): OWN_SESSION,
    ("GET", "/v1/sessions/{session_id}/outcomes"): OWN_SESSION,
    ("GET", "/v1/issuance-requests"): ANY_ROLE,
    ("GET", "/v1/issuance-requests/{request_id}"): REQUEST_READ,
    ("POST", "/v1/issuance-requests/{request_id}/decision"): DECISION,
    ("POST", "/v1/issuance-requests/{request_id}/redeliver"): REDELIVER,
    # a centre looks up only people registered in its own sessions (adult(1) is CA's)
    ("POST", "/v1/candidate-certificates:search"): {**ANY_ROLE, "other_centre": 403},
    ("POST", "/v1/candidate-certificates/{certificate_id}/revocation"): REVOCATION,
    ("GET", "/v1/audit-log"): ADMIN_ONLY,
    ("GET", "/v1/audit-log/verification"): ADMIN_ONLY,
}


def _bodies(ids: dict[str, str]) -> dict[tuple[str, str], Any]:
    """A well-formed body for each route that takes one, so that only the principal decides."""
    person = {"candidate": {"id_number": adult(900), "name": "王五"}, "targets": ["MOHRSS-ELEC-L5"]}
    return {
        ("POST", "/v1/api-keys"): {"role": "admin"},
        ("POST", "/v1/departments"): {"code": "matrix", "name": "矩阵测试部门"},
        ("PATCH", "/v1/departments/{code}"): {"name": "应急管理部门"},
        ("POST", "/v1/departments/{code}/recover"): {"since": "2026-01-01T00:00:00Z"},
        ("POST", "/v1/centres"): {"code": "MX", "name": "矩阵考点"},
        ("PUT", "/v1/catalogue"): reference_catalogue(),
        ("POST", "/v1/sessions"): {
            "certificates": ["MEM-LV"],
            "starts_at": "2027-01-10T09:00:00+08:00",
            "ends_at": "2027-01-10T12:00:00+08:00",
            "capacity": 5,
        },
        ("POST", "/v1/sessions/{session_id}/registrations"): person,
        ("POST", "/v1/sessions/{session_id}/registrations:batch"): {"registrations": [person]},
        ("POST", "/v1/plans"): {"certificates": ["MEM-LV"]},
        ("PATCH", "/v1/registrations/{registration_id}"): {"held": []},
        ("POST", "/v1/registrations/{registration_id}/withdraw"): {"reason": "退考"},
        ("POST", "/v1/sessions/{session_id}/results"): {
            "results": [
                {"registration_id": ids["registration_id"], "section": "ELEC-THEORY", "score": 90}
            ]
        },
        ("POST", "/v1/registrations/{registration_id}/results/{section}/amendments"): {
            "score": 91,
            "reason": "复核",
        },
        ("POST", "/v1/issuance-requests/{request_id}/decision"): {
            "decision": "issued",
            "certificate_number": "T-MATRIX-1",
            "issued_on": "2026-12-20",
        },
        ("POST", "/v1/candidate-certificates:search"): {"id_number": adult(1)},
        ("POST", "/v1/candidate-certificates/{certificate_id}/revocation"): {"reason": "撤销"},
    }


def _path(template: str, ids: dict[str, str]) -> str:
    values = {**ids}
    values["code"] = "CA" if template.startswith("/v1/centres") else "mem"
    return template.format(**values)


@pytest.fixture
def principals(world: World, client: TestClient) -> dict[str, dict[str, str]]:
    revoked = client.post(
        "/v1/api-keys", headers=world.admin, json={"role": "centre", "subject": "CA"}
    ).json()
    client.delete(f"/v1/api-keys/{revoked['id']}", headers=world.admin)
    return {
        "none": {},
        "revoked": bearer(revoked["key"]),
        "other_centre": world.centre_b,
        "other_dept": world.departments["samr"],
        "own_dept": world.departments["mem"],
        "own_centre": world.centre_a,
        "admin": world.admin,
    }


def test_every_route_answers_every_principal_as_the_matrix_says(
    world: World, client: TestClient, principals: dict[str, dict[str, str]], exam_clock: ExamClock
) -> None:
    session_id, (registration,) = qualify(client, world, [(adult(1), ["MEM-LV"])], clock=exam_clock)
    (request,) = client.get("/v1/issuance-requests", headers=world.admin).json()["items"]
    spare = client.post("/v1/api-keys", headers=world.admin, json={"role": "admin"}).json()["id"]
    decision = _bodies({"registration_id": ""})[
        ("POST", "/v1/issuance-requests/{request_id}/decision")
    ]
    mem = world.departments["mem"]  # issued, so that there is a certificate to revoke
    client.post(f"/v1/issuance-requests/{request['id']}/decision", headers=mem, json=decision)
    found = client.post(
        "/v1/candidate-certificates:search", headers=mem, json={"id_number": adult(1)}
    )
    ids = {
        "session_id": session_id,
        "registration_id": registration["id"],
        "request_id": request["id"],
        "certificate_id": found.json()["items"][0]["id"],
        "key_id": spare,
        "version": "1",
        "section": "ELEC-THEORY",
        "slug": "validation",
    }
    bodies = _bodies(ids)

    routes = set()
    api_routes = 0
    for route in iter_route_contexts(client.app.routes):  # type: ignore[attr-defined]
        api_routes += isinstance(route.original_route, APIRoute)
        for method in sorted(route.methods or ()):
            if method != "HEAD":
                routes.add((method, route.path))
    routes = {(m, path) for m, path in routes if not path.startswith("/console")}
    missing = routes - set(MATRIX)
    assert not missing, f"routes without role expectations: {sorted(missing)}"
    assert not set(MATRIX) - routes, (
        f"expectations for routes that no longer exist: {sorted(set(MATRIX) - routes)}"
    )

    failures = []
    checked = 0
    for (method, template), expected in sorted(MATRIX.items()):
        path = _path(template, ids)
        for principal in PRINCIPALS:  # denied principals first, so they see untouched state
            response = client.request(
                method, path, headers=principals[principal], json=bodies.get((method, template))
            )
            checked += 1
            want = expected[principal]
            got = response.status_code
            allowed = got not in (401, 403, 404) and got < 500
            if (want == OK and not allowed) or (want != OK and got != want):
                failures.append(
                    f"{method} {template} as {principal}: expected {want}, got {got} {response.text[:160]}"
                )
            if got >= 400:
                assert response.headers["content-type"].startswith("application/problem+json"), (
                    method,
                    template,
                )
    assert not failures, "\n".join(failures)
    print(
        f"\nrole matrix: {len(MATRIX)} routes ({api_routes} API routes) x {len(PRINCIPALS)} principals = {checked} calls checked"
    )


SIGN_IN_PAGE = "redirect to sign-in"
CONSOLE_PUBLIC: dict[tuple[str, str], int] = {
    ("GET", "/console"): 303,  # on to /console/home, which asks for a sign-in
    ("GET", "/console/sign-in"): 200,
    ("POST", "/console/sign-in"): 403,  # a form post without its CSRF token
    ("GET", "/console/language"): 422,  # without the language to switch to
}


def test_an_api_key_signs_nobody_into_the_console(
    world: World, client: TestClient, principals: dict[str, dict[str, str]]
) -> None:
    """Console routes are for people: every page asks for a sign-in, every form post is a 401,
    whatever bearer key comes with it. What a signed-in person may see is tested in
    tests/console (another centre's session is a 404, a disabled person is signed out, ...)."""
    failures = []
    for route in iter_route_contexts(client.app.routes):  # type: ignore[attr-defined]
        if not route.path.startswith("/console"):
            continue
        for method in sorted(set(route.methods or ()) - {"HEAD"}):
            path = route.path.format(
                session_id="ses_x",
                request_id="req_x",
                registration_id="reg_x",
                code="mem",
                username="someone",
            )
            want = CONSOLE_PUBLIC.get((method, route.path))
            if want is None:
                want = SIGN_IN_PAGE if method == "GET" else 401
            for principal, headers in principals.items():
                r = client.request(method, path, headers=headers, follow_redirects=False)
                got: Any = r.status_code
                if got == 303 and r.headers["location"].startswith("/console/sign-in"):
                    got = SIGN_IN_PAGE
                if got != want:
                    failures.append(
                        f"{method} {route.path} as {principal}: expected {want}, got {got}"
                    )
    assert not failures, "\n".join(failures)
