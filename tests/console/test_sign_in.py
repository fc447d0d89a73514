"""Sign-in, sessions, CSRF, throttling and lock-out, sign-out, disabled users (docs/api.md §12)."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta

from fastapi.testclient import TestClient

from app.config import Settings
from tests.console.support import PASSWORD, csrf_of, disable_user, make_user, sign_in
from tests.support import ExamClock, World, oneexam_env


def test_sign_in_sets_a_strict_cookie_and_opens_the_role_page(
    client: TestClient, world: World, settings: Settings
) -> None:
    make_user(settings, "wang.fang", "centre", "CA")
    page = client.get("/console/sign-in")
    assert "登录" in page.text and 'lang="zh-CN"' in page.text
    r = sign_in(client, "wang.fang")
    assert r.status_code == 303 and r.headers["location"] == "/console/sessions"
    cookie = next(c for c in r.headers.get_list("set-cookie") if c.startswith("oneexam_console="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/console" in cookie
    assert "Secure" not in cookie  # plain http here; https requests get Secure
    home = client.get("/console/sessions")
    assert home.status_code == 200 and "wang.fang" in home.text


def test_https_requests_get_a_secure_cookie(settings: Settings, world: World) -> None:
    from app.main import create_app

    make_user(settings, "li.na", "department", "mem")
    with TestClient(create_app(settings), base_url="https://testserver") as https:
        r = sign_in(https, "li.na")
    assert r.status_code == 303
    cookie = next(c for c in r.headers.get_list("set-cookie") if c.startswith("oneexam_console="))
    assert "Secure" in cookie


def test_pages_need_a_signed_in_person(client: TestClient) -> None:
    r = client.get("/console/sessions", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"].startswith("/console/sign-in?next=/console/sessions")
    client.cookies.set("oneexam_console", "made-up", path="/console")
    r = client.get("/console/sessions", follow_redirects=False)
    assert r.status_code == 303


def test_a_wrong_password_is_refused_without_saying_which_part_was_wrong(
    client: TestClient, world: World, settings: Settings
) -> None:
    make_user(settings, "wang.fang", "centre", "CA")
    wrong = sign_in(client, "wang.fang", "not the password")
    unknown = sign_in(client, "nobody", "not the password")
    assert wrong.status_code == unknown.status_code == 401
    assert "用户名或密码不正确" in wrong.text and "用户名或密码不正确" in unknown.text
    assert "oneexam_console=" not in wrong.headers.get("set-cookie", "")


def test_sign_in_without_the_form_token_is_refused(
    client: TestClient, world: World, settings: Settings
) -> None:
    make_user(settings, "wang.fang", "centre", "CA")
    r = client.post(
        "/console/sign-in",
        data={"username": "wang.fang", "password": PASSWORD, "csrf_token": "guess"},
        follow_redirects=False,
    )
    assert r.status_code == 403


def test_failures_are_throttled_then_the_account_is_locked(
    client: TestClient, world: World, settings: Settings, exam_clock: ExamClock
) -> None:
    make_user(settings, "wang.fang", "centre", "CA")
    for _ in range(3):
        assert sign_in(client, "wang.fang", "wrong password").status_code == 401
    # the fourth attempt at once is slowed down: refused without even checking the password
    throttled = sign_in(client, "wang.fang", PASSWORD)
    assert throttled.status_code == 429 and "秒" in throttled.text
    for _ in range(3):
        exam_clock.shift(timedelta(seconds=30))
        assert sign_in(client, "wang.fang", "wrong password").status_code in (401, 429)
    exam_clock.shift(timedelta(seconds=30))
    locked = sign_in(client, "wang.fang", PASSWORD)
    assert locked.status_code == 429 and "锁定" in locked.text
    exam_clock.shift(timedelta(minutes=10))
    assert sign_in(client, "wang.fang", PASSWORD).status_code == 429
    exam_clock.shift(timedelta(minutes=6))
    assert sign_in(client, "wang.fang", PASSWORD).status_code == 303


def test_a_post_without_its_csrf_token_is_refused(
    client: TestClient, world: World, settings: Settings
) -> None:
    make_user(settings, "wang.fang", "centre", "CA")
    sign_in(client, "wang.fang")
    page = client.get("/console/sessions")
    refused = client.post("/console/sign-out", data={}, follow_redirects=False)
    assert refused.status_code == 403
    forged = client.post("/console/sign-out", data={"csrf_token": "x" * 43}, follow_redirects=False)
    assert forged.status_code == 403
    assert client.get("/console/sessions", follow_redirects=False).status_code == 200
    ok = client.post(
        "/console/sign-out", data={"csrf_token": csrf_of(page.text)}, follow_redirects=False
    )
    assert ok.status_code == 303


def test_sign_out_ends_the_session_for_good(
    client: TestClient, world: World, settings: Settings
) -> None:
    make_user(settings, "wang.fang", "centre", "CA")
    r = sign_in(client, "wang.fang")
    token = client.cookies.get("oneexam_console")
    page = client.get("/console/sessions")
    client.post("/console/sign-out", data={"csrf_token": csrf_of(page.text)})
    client.cookies.set("oneexam_console", token, path="/console")
    assert r.status_code == 303
    assert client.get("/console/sessions", follow_redirects=False).status_code == 303


def test_a_disabled_users_session_stops_at_once(
    client: TestClient, world: World, settings: Settings
) -> None:
    make_user(settings, "wang.fang", "centre", "CA")
    sign_in(client, "wang.fang")
    assert client.get("/console/sessions", follow_redirects=False).status_code == 200
    disable_user(settings, "wang.fang")
    assert client.get("/console/sessions", follow_redirects=False).status_code == 303
    assert sign_in(client, "wang.fang").status_code == 401


def test_an_idle_session_ends(
    client: TestClient, world: World, settings: Settings, exam_clock: ExamClock
) -> None:
    make_user(settings, "wang.fang", "centre", "CA")
    sign_in(client, "wang.fang")
    exam_clock.shift(timedelta(minutes=20))
    assert client.get("/console/sessions", follow_redirects=False).status_code == 200
    exam_clock.shift(timedelta(minutes=20))
    assert client.get("/console/sessions", follow_redirects=False).status_code == 200
    exam_clock.shift(timedelta(minutes=31))
    assert client.get("/console/sessions", follow_redirects=False).status_code == 303


def test_each_role_lands_on_its_own_pages(
    client: TestClient, world: World, settings: Settings
) -> None:
    make_user(settings, "officer", "department", "mem")
    r = sign_in(client, "officer")
    assert r.headers["location"] == "/console/queue"
    assert client.get("/console/sessions").status_code == 403


def test_the_language_switch(client: TestClient, world: World, settings: Settings) -> None:
    make_user(settings, "wang.fang", "centre", "CA")
    sign_in(client, "wang.fang")
    assert "退出" in client.get("/console/sessions").text
    client.get("/console/language?to=en&next=/console/sessions")
    page = client.get("/console/sessions")
    assert "Sign out" in page.text and 'lang="en"' in page.text


def test_users_commands(fresh_database_url: str, world: World, client: TestClient) -> None:
    env = oneexam_env(fresh_database_url)

    def oneexam(*args: str, password: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "app.cli", "users", *args],
            input=password,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    created = oneexam(
        "create",
        "--role",
        "centre",
        "--subject",
        "CA",
        "zhao.lei",
        "--password-stdin",
        password=PASSWORD + "\n",
    )
    assert created.returncode == 0, created.stderr
    assert (
        oneexam(
            "create",
            "--role",
            "centre",
            "--subject",
            "XX",
            "x.y",
            "--password-stdin",
            password=PASSWORD + "\n",
        ).returncode
        == 1
    )
    assert sign_in(client, "zhao.lei").status_code == 303
    assert oneexam("disable", "zhao.lei").returncode == 0
    assert client.get("/console/sessions", follow_redirects=False).status_code == 303
    assert sign_in(client, "zhao.lei").status_code == 401
    reset = oneexam("reset-password", "zhao.lei", "--password-stdin", password="a new password 2\n")
    assert reset.returncode == 0, reset.stderr
    assert sign_in(client, "zhao.lei", "a new password 2").status_code == 303


def test_an_htmx_request_after_the_session_ended_goes_to_the_sign_in_page(
    client: TestClient, world: World, settings: Settings
) -> None:
    r = client.post("/console/sessions/ses_x/results", headers={"HX-Request": "true"}, data={})
    assert r.status_code == 200 and r.headers["hx-redirect"] == "/console/sign-in"
