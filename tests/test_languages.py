"""Problems in the language the client asks for (docs/api.md §2 "Language"): Chinese when
``Accept-Language`` prefers zh, English otherwise; ``type``, ``status`` and pointers the same in
both, and ``Content-Language`` saying which. Through the HTTP API only."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient

from tests.support import (
    ELEC3,
    World,
    adult,
    assert_problem,
    registration,
    schedule_session,
)

CHINESE = {"Accept-Language": "zh-CN"}
CJK = re.compile(r"[\u4e00-\u9fff]")


def _both(client: TestClient, method: str, url: str, **kwargs: Any) -> tuple[Any, Any, Any]:
    """The same request in Chinese, in English and with no Accept-Language."""
    headers = kwargs.pop("headers", {})
    answers = [
        client.request(method, url, headers={**headers, **extra}, **kwargs)
        for extra in (CHINESE, {"Accept-Language": "en"}, {})
    ]
    return answers[0], answers[1], answers[2]


def _same_machine_parts(zh: dict[str, Any], en: dict[str, Any]) -> None:
    """type, status, pointers and parameters do not change with the language."""
    assert (zh["type"], zh["status"]) == (en["type"], en["status"])

    def where(body: dict[str, Any]) -> list[tuple[Any, Any]]:
        return [(e.get("pointer"), e.get("parameter")) for e in body.get("errors", [])]

    assert where(zh) == where(en)
    assert zh.get("error_count") == en.get("error_count")


def test_a_validation_error_in_chinese(client: TestClient, world: World) -> None:
    body = {"certificates": ["MEM-LV"], "starts_at": "2026-12-15T09:00:00", "capacity": "40"}
    zh, en, none = _both(client, "POST", "/v1/sessions", headers=world.centre_a, json=body)
    zh_body, en_body = assert_problem(zh, 422), assert_problem(en, 422)
    assert none.json() == en_body
    _same_machine_parts(zh_body, en_body)
    assert zh.headers["content-language"] == "zh-CN"
    assert en.headers["content-language"] == none.headers["content-language"] == "en"
    assert zh_body["title"] == "提交的内容有误"
    assert zh_body["detail"] == "请求内容不符合接口文档规定的格式。"
    assert en_body["detail"] == "The request does not match the documented schema."
    messages = {e["pointer"]: e["message"] for e in zh_body["errors"]}
    assert messages["/ends_at"] == "此项为必填项"
    assert messages["/starts_at"] == "应带时区信息（如 +08:00）"
    assert {e["pointer"]: e["message"] for e in en_body["errors"]}["/ends_at"] == "Field required"
    assert all(CJK.search(m) for m in messages.values()), messages


def test_our_own_validator_messages_in_chinese(client: TestClient, world: World) -> None:
    s = schedule_session(client, world.centre_a, ELEC3)
    body = registration("110105199005170018", ELEC3, name="1234")
    url = f"/v1/sessions/{s['id']}/registrations"
    zh, en, _none = _both(client, "POST", url, headers=world.centre_a, json=body)
    zh_body, en_body = assert_problem(zh, 422), assert_problem(en, 422)
    _same_machine_parts(zh_body, en_body)
    zh_messages = {e["pointer"]: e["message"] for e in zh_body["errors"]}
    en_messages = {e["pointer"]: e["message"] for e in en_body["errors"]}
    assert zh_messages["/candidate/name"] == "名称至少应包含一个文字"
    assert en_messages["/candidate/name"] == "Value error, a name needs at least one letter"
    assert (
        zh_messages["/candidate/id_number"]
        == "不是有效的公民身份号码：校验码不符（ISO 7064 MOD 11-2）"
    )


def test_a_not_found_in_chinese(client: TestClient, world: World) -> None:
    zh, en, none = _both(client, "GET", "/v1/sessions/ses_nothing", headers=world.centre_a)
    zh_body, en_body = assert_problem(zh, 404), assert_problem(en, 404)
    assert none.json() == en_body
    _same_machine_parts(zh_body, en_body)
    assert (zh_body["title"], zh_body["detail"]) == ("未找到", "未找到考试场次 ses_nothing。")
    assert (en_body["title"], en_body["detail"]) == ("Not found", "No session ses_nothing.")
    unknown = client.get("/v1/no-such-thing", headers=CHINESE)
    assert assert_problem(unknown, 404)["detail"] == "请求的地址不存在。"


def test_a_conflict_in_chinese_session_started(
    client: TestClient, world: World, exam_clock: Any
) -> None:
    s = schedule_session(client, world.centre_a, ELEC3, **exam_clock.session_times(1))
    exam_clock.start_of(s)
    url = f"/v1/sessions/{s['id']}/registrations"
    body = registration(adult(1), ELEC3)
    zh, en, none = _both(client, "POST", url, headers=world.centre_a, json=body)
    zh_body, en_body = assert_problem(zh, 409), assert_problem(en, 409)
    assert none.json() == en_body
    _same_machine_parts(zh_body, en_body)
    assert zh_body["type"].endswith("/session-started")
    assert zh_body["title"] == "操作冲突"
    assert zh_body["detail"].startswith("本场次已于 ") and zh_body["detail"].endswith(
        " 开考，报名已截止。"
    )
    assert en_body["detail"].endswith("; registration is closed.")


def test_a_status_word_is_translated_inside_its_sentence(client: TestClient, world: World) -> None:
    s = schedule_session(client, world.centre_a, ELEC3)
    r = client.post(f"/v1/sessions/{s['id']}/cancel", headers=world.centre_a)
    assert r.status_code == 200, r.text
    url = f"/v1/sessions/{s['id']}/registrations"
    zh, en, _none = _both(
        client, "POST", url, headers=world.centre_a, json=registration(adult(2), ELEC3)
    )
    assert assert_problem(zh, 409)["detail"] == "本场次状态为“已取消”，不再接受报名。"
    assert (
        assert_problem(en, 409)["detail"] == "The session is cancelled; it takes no registrations."
    )


def test_a_batch_row_problem_is_in_the_request_language(client: TestClient, world: World) -> None:
    s = schedule_session(client, world.centre_a, ELEC3)
    rows = [registration(adult(3), ELEC3), registration(adult(3), ELEC3)]
    url = f"/v1/sessions/{s['id']}/registrations:batch"
    zh, en, _none = _both(client, "POST", url, headers=world.centre_a, json={"registrations": rows})
    assert zh.headers["content-language"] == "zh-CN"
    zh_problem = zh.json()["items"][1]["problem"]
    en_problem = en.json()["items"][1]["problem"]
    assert zh_problem["type"] == en_problem["type"] and zh_problem["type"].endswith(
        "/already-registered"
    )
    assert zh_problem["detail"] == "该考生已在本场次报名。"


def test_an_unauthorized_request_in_chinese(client: TestClient) -> None:
    zh = client.get("/v1/sessions", headers=CHINESE)
    body = assert_problem(zh, 401)
    assert body["title"] == "未通过身份验证"
    assert body["detail"] == "请以 `Authorization: Bearer <key>` 的形式提供 API 密钥。"
    assert zh.headers["content-language"] == "zh-CN"


SEVENTEEN = "110105200912160074"  # born 2009-12-16: 16 on the exam day


def test_reasons_in_chinese_with_the_same_codes(client: TestClient, world: World) -> None:
    body = {
        "certificates": ["MEM-LV", "MOHRSS-ELEC-L4"],
        "held": [{"certificate": "MEM-HV", "number": "HV-1", "valid_until": "2026-01-31"}],
        "id_number": SEVENTEEN,
        "on": "2026-12-15",
    }
    zh, en, none = _both(client, "POST", "/v1/plans", headers=world.centre_a, json=body)
    assert zh.status_code == en.status_code == 200, zh.text
    assert none.json() == en.json()
    assert zh.headers["content-language"] == "zh-CN"

    def reasons(plan: dict[str, Any]) -> dict[str, list[dict[str, str]]]:
        return {t["certificate"]: t["reasons"] for t in plan["targets"]}

    zh_reasons, en_reasons = reasons(zh.json()), reasons(en.json())
    assert {c: [r["code"] for r in rs] for c, rs in zh_reasons.items()} == {
        c: [r["code"] for r in rs] for c, rs in en_reasons.items()
    }
    assert zh_reasons["MEM-LV"][0]["message"] == (
        "年龄不足：2026-12-15 时年满 16 周岁，报考 MEM-LV 须年满 18 周岁"
    )
    assert en_reasons["MEM-LV"][0]["message"] == (
        "age 16 on 2026-12-15 is below the minimum age 18 for MEM-LV"
    )
    assert zh_reasons["MOHRSS-ELEC-L4"][0]["message"].startswith("缺少前置证书：")
    ignored = zh.json()["ignored_held"][0]["reason"]
    assert ignored == {
        "code": "expired",
        "message": "证书已过期：有效期至 2026-01-31，早于 2026-12-15",
    }


def test_a_refused_registration_gives_its_reasons_in_chinese(
    client: TestClient, world: World
) -> None:
    s = schedule_session(client, world.centre_a, ["MEM-LV", "MOHRSS-ELEC-L5"])
    url = f"/v1/sessions/{s['id']}/registrations"
    body = registration(SEVENTEEN, ["MEM-LV", "MOHRSS-ELEC-L5"])
    zh, en, _none = _both(client, "POST", url, headers=world.centre_a, json=body)
    zh_body, en_body = assert_problem(zh, 422), assert_problem(en, 422)
    _same_machine_parts(zh_body, en_body)
    assert zh_body["detail"] == "该考生不符合部分报考证书的报考条件。"
    assert [e["message"] for e in zh_body["errors"]] == [
        "年龄不足：2026-12-15 时年满 16 周岁，报考 MEM-LV 须年满 18 周岁"
    ]
    zh_targets = [[(r["code"], r["message"]) for r in t["reasons"]] for t in zh_body["targets"]]
    assert zh_targets == [
        [("too-young", "年龄不足：2026-12-15 时年满 16 周岁，报考 MEM-LV 须年满 18 周岁")],
        [],
    ]
