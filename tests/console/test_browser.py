"""In a real browser: a whole session through the console only, and the console's security.

A centre person signs in, schedules a session, registers three candidates (one exempt, seeing
the plan before saving), enters the results grid by keyboard with one bad cell (marked, nothing
saved), corrects it, finalises after the confirmation; a department person sees the request
and issues it; the centre sees the delivery and the decision. No JavaScript error on any page.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from app import clock
from tests.console.browser import Console, needs_browser, screenshot
from tests.receiver import wait_until
from tests.support import ExamClock, adult

pytestmark = needs_browser

SHANGHAI = clock.zone("Asia/Shanghai")
DOORS_OPEN = datetime(2026, 12, 15, 9, 0, tzinfo=SHANGHAI)
CERTIFICATES = ["MEM-LV", "MOHURD-ELEC", "MOHRSS-ELEC-L5"]


def _schedule(page: Any) -> str:
    for code in CERTIFICATES:
        page.check(f"input[name=certificates][value='{code}']")
    page.fill("input[name=day]", "2026-12-15")
    page.fill("input[name=starts]", "09:00")
    page.fill("input[name=ends]", "17:00")
    page.fill("input[name=capacity]", "30")
    page.fill("input[name=venue]", "实操考场一")
    page.click("[data-testid=schedule-form] button[type=submit]")
    page.wait_for_url(re.compile(r"/console/sessions/ses_"))
    assert "2026年12月15日 09:00" in page.inner_text("main")
    return page.url.rsplit("/", 1)[-1]


def _register(
    page: Any, id_number: str, name: str, targets: list[str], held: tuple[str, str] | None = None
) -> str:
    form = page.locator("[data-testid=register-form]")
    form.locator("input[name=id_number]").fill(id_number)
    form.locator("input[name=name]").fill(name)
    for code in targets:
        form.locator(f"input[name=targets][value='{code}']").check()
    if held:
        form.locator("select[name=held_certificate]").first.select_option(held[0])
        form.locator("input[name=held_number]").first.fill(held[1])
        form.locator("input[name=held_until]").first.fill("2030-12-31")
    form.locator("button[value=preview]").click()
    plan = page.locator("[data-testid=plan]")
    plan.wait_for()
    assert f"{name} 的考核安排" in plan.inner_text()
    text = plan.inner_text()
    form.locator("button[value=save]").click()
    page.wait_for_selector("[data-testid=notice]")
    return text


def _fill_grid(page: Any, values: dict[str, str]) -> None:
    """Type every cell by keyboard, column by column, pressing Enter to move down."""
    inputs = page.locator("table.results input[data-row]")
    cells = sorted(
        (
            int(inputs.nth(i).get_attribute("data-col")),
            int(inputs.nth(i).get_attribute("data-row")),
            inputs.nth(i).get_attribute("aria-label"),
        )
        for i in range(inputs.count())
    )
    page.locator("table.results input[data-row]").first.click()
    first_label = page.evaluate("document.activeElement.getAttribute('aria-label')")
    assert first_label == cells[0][2]
    for _col, _row, label in cells:
        focused = page.evaluate("document.activeElement.getAttribute('aria-label')")
        assert focused == label, (focused, label)
        page.keyboard.press("Control+A")
        page.keyboard.type(values[label.split(" ", 1)[1]] if label not in values else values[label])
        page.keyboard.press("Enter")


def test_a_session_from_scheduling_to_an_issued_certificate_in_the_browser(
    console: Console, exam_clock: ExamClock
) -> None:
    exam_clock.move_to(DOORS_OPEN - timedelta(minutes=15))
    centre = console.person("wang.fang", "centre", "CA")
    centre.goto("/console/sign-in")
    assert centre.locator("h1").inner_text() == "登录"
    screenshot(centre, "sign-in")
    console.sign_in(centre, "wang.fang")
    centre.wait_for_url("**/console/sessions")

    session_id = _schedule(centre)
    _register(centre, adult(1), "李娜", CERTIFICATES)
    _register(centre, adult(2), "王强", CERTIFICATES)
    exempt = _register(
        centre, adult(3), "张敏", ["MEM-LV", "MOHRSS-ELEC-L5"], ("MOHURD-ELEC", "JZ-2025-000123")
    )
    assert "免考" in exempt and "JZ-2025-000123" in exempt
    rows = centre.locator("[data-testid=registrations] tbody tr")
    assert rows.count() == 3

    exam_clock.move_to(DOORS_OPEN + timedelta(seconds=1))
    centre.click("text=成绩登记表")
    centre.wait_for_selector("[data-testid=results-grid]")
    values = {
        "电工作业安全培训（学时合格）": "合格",
        "电工作业安全技术理论（统一题库）": "88",
        "低压电工实际操作": "90",
        "建筑施工安全知识": "75",
    }
    bad = {**values, "王强 电工作业安全技术理论（统一题库）": "150"}
    _fill_grid(centre, bad)
    centre.click("[data-testid=save-results]")
    centre.wait_for_selector("[data-testid=grid-problem]")
    marked = centre.locator("td.cell-bad")
    assert marked.count() == 1
    assert (
        marked.locator("input").get_attribute("aria-label")
        == "王强 电工作业安全技术理论（统一题库）"
    )
    assert marked.locator("input").input_value() == "150"
    assert "未保存任何成绩" in centre.inner_text("[data-testid=grid-problem]")
    with console.api() as api:
        regs = api.get(
            f"/v1/sessions/{session_id}/registrations", headers=console.world.centre_a
        ).json()["items"]
        assert all(
            api.get(f"/v1/registrations/{r['id']}", headers=console.world.centre_a).json()[
                "results"
            ]
            == []
            for r in regs
        )
    screenshot(centre, "results-grid")
    marked.locator("input").fill("86")
    centre.click("[data-testid=save-results]")
    centre.wait_for_selector("[data-testid=grid-saved]")
    assert centre.locator("td.cell-bad").count() == 0

    centre.click("text=成绩发布")
    releases = centre.inner_text("[data-testid=releases]")
    assert "应急管理" in releases or "mem" in releases
    centre.click("[data-testid=finalise]")
    centre.wait_for_selector("[data-testid=outcomes]")
    assert centre.locator("[data-testid=session-status]").inner_text() == "已发布"
    assert centre.locator("[data-testid=outcomes] .status.qualified").count() == 8

    # Each click below navigates: wait for the new page before reloading it (a reload while the
    # navigation is under way fails with "Not attached to an active page").
    with centre.expect_navigation(url=re.compile(r"/delivery$")):
        centre.click("text=推送情况")

    def delivered() -> bool:
        centre.reload()
        return centre.locator(".status.delivered").count() == 8

    assert wait_until(delivered, timeout=30, interval=0.5)
    with centre.expect_navigation(url=re.compile(r"/delivery$")):
        centre.locator("[data-testid=delivery-mem] button", has_text="重新推送").first.click()
    assert wait_until(lambda: len(console.receiver.calls_to("mem")) == 4, timeout=30)
    assert len({c.webhook_id for c in console.receiver.calls_to("mem")}) == 3  # the same id again
    assert wait_until(delivered, timeout=30, interval=0.5)

    officer = console.person("zhou.jie", "department", "mem")
    console.sign_in(officer, "zhou.jie")
    officer.wait_for_url("**/console/queue")
    queue = officer.locator("[data-testid=queue] tbody tr")
    assert queue.count() == 3
    screenshot(officer, "department-queue")
    with officer.expect_navigation():
        officer.locator("[data-testid=queue] tbody tr", has_text="张敏").locator("a").click()
    details = officer.inner_text("main")
    assert adult(3) in details and "JZ-2025-000123" in details
    officer.fill("[data-testid=issue-form] input[name=certificate_number]", "T" + adult(3))
    officer.fill("[data-testid=issue-form] input[name=issued_on]", "2026-12-20")
    officer.click("[data-testid=issue-form] button[type=submit]")
    officer.wait_for_selector("[data-testid=notice]")
    assert officer.locator("[data-testid=request-status]").inner_text() == "已发证"

    centre.reload()
    decisions = centre.inner_text("[data-testid=delivery-mem]")
    # the centre sees the decision, the certificate number masked (it embeds the ID number)
    number = "T" + adult(3)
    assert "已发证" in decisions and f"{number[:7]}********{number[-4:]}" in decisions
    assert number not in decisions
    assert console.errors == []


def test_the_consoles_security_in_the_browser(console: Console, exam_clock: ExamClock) -> None:
    exam_clock.move_to(DOORS_OPEN - timedelta(hours=2))
    with console.api() as api:
        other = api.post(
            "/v1/sessions",
            headers=console.world.centre_b,
            json={
                "certificates": ["MEM-LV"],
                "starts_at": "2026-12-15T09:00:00+08:00",
                "ends_at": "2026-12-15T17:00:00+08:00",
                "capacity": 5,
            },
        ).json()["id"]
    page = console.person("wang.fang", "centre", "CA")
    console.sign_in(page, "wang.fang")
    page.wait_for_url("**/console/sessions")

    # a form post without its CSRF token is refused, and changes nothing
    refused = page.request.post(
        f"{console.url}/console/sessions",
        form={
            "certificates": "MEM-LV",
            "day": "2026-12-16",
            "starts": "09:00",
            "ends": "10:00",
            "capacity": "5",
        },
    )
    assert refused.status == 403
    assert page.locator("[data-testid=sessions] tbody tr").count() == 1  # the "none yet" row
    page.reload()
    assert "尚无考试场次" in page.inner_text("[data-testid=sessions]")

    # another centre's session is not found for a signed-in person
    response = page.goto(f"/console/sessions/{other}")
    assert response.status == 404 and "未找到" in page.inner_text("h1")

    # a disabled user's session stops working at once
    from tests.console.support import disable_user

    disable_user(console.settings, "wang.fang")
    page.goto("/console/sessions")
    assert "/console/sign-in" in page.url

    # repeated failures are slowed, then the account is locked
    console.person("li.ming", "centre", "CA")
    for _ in range(3):
        console.sign_in(page, "li.ming", "wrong password")
        assert "用户名或密码不正确" in page.inner_text("[data-testid=sign-in-error]")
    for _ in range(3):
        exam_clock.shift(timedelta(seconds=30))  # past each throttle wait, so every try counts
        console.sign_in(page, "li.ming", "wrong password")
    console.sign_in(page, "li.ming")
    assert "锁定" in page.inner_text("[data-testid=sign-in-error]")
    assert "/console/sign-in" in page.url
    assert console.errors == []
