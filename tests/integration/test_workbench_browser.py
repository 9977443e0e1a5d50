"""The workbench 工作台 end to end (issue 19): Playwright drives Debian's chromium
(``executable_path``, no browser download) against a real worker on the real broker.

A street signs in and blows the whistle to a department; the department, signed in
elsewhere, sees it arrive in its inbox without reloading, signs, reports and answers
(a return without a reason is refused with the Chinese message first); the street
closes and rates it; the justice bureau sees the department in the month's assessment.
Every page's screenshot goes to the artefact folder (HUB_TEST_ARTEFACTS, default
<repo>/.artefacts/workbench), and any console error or page error fails the test.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, expect, sync_playwright

from tests.conftest import ROOT
from tests.integration.conftest import issue_tokens, running_worker, worker_env

STREET, DEPARTMENT = "street-jiyuqiao", "dept-urban"
ARTEFACTS = Path(os.environ.get("HUB_TEST_ARTEFACTS", str(ROOT / ".artefacts"))) / "workbench"
WAIT_MS = 20_000
expect.set_options(timeout=WAIT_MS)


Hub = tuple[str, dict[str, str]]  # the worker's base URL, the parties' tokens


@pytest.fixture(scope="module")
def hub(applied_topics: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    data = tmp_path_factory.mktemp("workbench")
    env = worker_env(applied_topics, data, "workbench")
    tokens = issue_tokens(env, (STREET, DEPARTMENT, "justice"))
    with running_worker(env, data / "worker.log") as base:
        yield base, tokens


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "Debian's chromium is missing: make system installs it"
    with sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            yield launched
        finally:
            launched.close()


class Officer:
    """One party's browser: its own cookies, its console watched."""

    def __init__(self, browser: Browser, base: str, token: str, who: str) -> None:
        self.context = browser.new_context(viewport={"width": 1366, "height": 768},
                                           locale="zh-CN", timezone_id="Asia/Shanghai")
        self.page: Page = self.context.new_page()
        self.page.set_default_timeout(WAIT_MS)
        self.base, self.token, self.who = base, token, who
        self.errors: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.errors.append(f"page error: {error}"))

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":  # a script's error, or a request answered 4xx/5xx
            self.errors.append(f"{message.text} ({message.location.get('url', '')})")

    def sign_in(self) -> None:
        self.page.goto(f"{self.base}/app/")
        expect(self.page.get_by_role("heading", name="登录工作台")).to_be_visible()
        self.page.get_by_label("接入令牌").fill(self.token)
        self.page.get_by_role("button", name="登录").click()
        expect(self.page.get_by_role("heading", name="待办")).to_be_visible()

    def shot(self, name: str) -> None:
        ARTEFACTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(ARTEFACTS / f"{self.who}-{name}.png"), full_page=True)

    def act(self, action: str) -> None:
        self.page.locator(f'[data-action="{action}"]').click()

    def choose(self, label: str, option: str) -> None:
        """Pick option of the Element Plus select labelled label."""
        box = self.page.get_by_role("combobox", name=label)
        self.page.locator(".el-select__wrapper", has=box).click()  # as a user: the box
        self.page.locator(".el-select-dropdown__item:visible", has_text=option).first.click()


def test_a_whistle_goes_round_the_workbench_from_street_to_department_and_back(
    hub: Hub, browser: Browser
) -> None:
    base, tokens = hub
    street = Officer(browser, base, tokens[STREET], "street")
    department = Officer(browser, base, tokens[DEPARTMENT], "department")
    justice = Officer(browser, base, tokens["justice"], "justice")

    street.sign_in()
    department.sign_in()
    department.shot("inbox-before")

    # the street blows the whistle 吹哨
    street.page.get_by_role("link", name="吹哨").click()
    street.choose("报到部门", DEPARTMENT)
    street.choose("事项", "URB-001")
    street.page.get_by_label("吹哨内容").fill("积玉桥街道吹哨：和平大道占道经营，请城管部门报到")
    street.page.get_by_label("地点").fill("武昌区和平大道388号")
    street.shot("whistle")
    street.page.get_by_role("button", name="吹哨").click()
    expect(street.page).to_have_url(re.compile(r"#/orders/[0-9a-f-]{36}$"))
    order_id = street.page.url.rsplit("/", 1)[1]
    expect(street.page.get_by_role("heading", name=re.compile("吹哨"))).to_be_visible()

    # the department sees it arrive live (no reload), with its countdown
    row = department.page.locator(".inbox .el-table__row", has_text="URB-001").first
    expect(row).to_be_visible()
    expect(row).to_contain_text("待签收")
    expect(row).to_contain_text(re.compile("签收剩余"))
    department.shot("inbox")
    row.get_by_role("button", name="办理").click()
    expect(department.page).to_have_url(re.compile(order_id))

    # a return needs a reason: refused with the rule's Chinese message
    department.act("RETURNED")
    dialog = department.page.get_by_role("dialog")
    dialog.get_by_role("button", name="提交").click()
    expect(dialog.get_by_role("alert")).to_have_text("请填写理由")
    department.shot("return-without-reason")
    department.page.keyboard.press("Escape")

    for action in ("SIGNED", "REPORTED"):
        department.act(action)
        expect(department.page.get_by_text("状态：")).to_be_visible()
    department.act("FEEDBACK")
    dialog.get_by_label("说明").fill("已联合整治，占道已清理")
    dialog.get_by_role("button", name="提交").click()
    expect(department.page.get_by_text("状态：已反馈")).to_be_visible()
    expect(department.page.get_by_role("heading", name=re.compile("已反馈"))).to_be_visible()
    expect(department.page.locator('[data-action="FEEDBACK"]')).to_be_visible()  # may add more
    department.shot("order")

    # the street closes 办结 and rates 评价
    street.page.reload()
    street.act("CLOSED")
    expect(street.page.get_by_text("状态：已办结")).to_be_visible()
    street.act("EVALUATED")
    street.page.get_by_role("dialog").locator(".el-rate__item").nth(3).click()
    street.page.get_by_role("dialog").get_by_role("button", name="提交").click()
    expect(street.page.get_by_text("状态：已评价")).to_be_visible()
    timeline = street.page.locator(".el-timeline")
    for step in ("签收（dept-urban）", "报到（dept-urban）", "反馈（dept-urban）",
                 "办结（street-jiyuqiao）", "评价（street-jiyuqiao）→ 已评价"):
        expect(timeline).to_contain_text(step)
    expect(street.page.get_by_text("当前无可办理操作")).to_be_visible()
    street.shot("order-closed")

    # the justice bureau sees the department in the month's two-way assessment
    justice.sign_in()
    justice.page.get_by_role("link", name="双向考核").click()
    expect(justice.page.locator(".figures .el-table__row", has_text=DEPARTMENT)).to_be_visible()
    justice.shot("assessment")

    for officer in (street, department, justice):
        assert officer.errors == [], (officer.who, officer.errors)
        officer.context.close()
