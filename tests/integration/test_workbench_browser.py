"""The workbench 工作台 end to end (issue 19): Playwright drives Debian's chromium
(``executable_path``, no browser download) against a real worker on the real broker.

A street signs in and blows the whistle to a department; the department, signed in
elsewhere, sees it arrive in its inbox without reloading, signs, reports and answers
(a return without a reason is refused with the Chinese message first); the street
closes and rates it; the justice bureau sees the department in the month's assessment.
On a criminal referral walked from issue to close, each party (issuer, police,
procuratorate, justice, a department with no part in it) is offered on the order page
exactly the actions the state machine gives it (`hub.dispatch.actions_for`), and takes
its own through the page.
Every page's screenshot goes to the artefact folder (HUB_TEST_ARTEFACTS, default
<repo>/.artefacts/workbench), and any console error or page error fails the test.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Locator, Page, expect, sync_playwright

from hub.dispatch import OrderState, actions_for, open_order
from hub.records import DispatchOrder, validate
from tests.conftest import ROOT
from tests.integration.conftest import (
    chromium_executable,
    issue_tokens,
    running_worker,
    worker_env,
)
from tests.samples import sample

STREET, DEPARTMENT = "street-jiyuqiao", "dept-urban"
PARTIES = (STREET, DEPARTMENT, "police", "procuratorate", "justice")
ARTEFACTS = Path(os.environ.get("HUB_TEST_ARTEFACTS", str(ROOT / ".artefacts"))) / "workbench"
WAIT_MS = 20_000
expect.set_options(timeout=WAIT_MS)


Hub = tuple[str, dict[str, str]]  # the worker's base URL, the parties' tokens


@pytest.fixture(scope="module")
def hub(applied_topics: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    data = tmp_path_factory.mktemp("workbench")
    env = worker_env(applied_topics, data, "workbench")
    tokens = issue_tokens(env, PARTIES)
    with running_worker(env, data / "worker.log") as base:
        yield base, tokens


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as driver:
        launched = driver.chromium.launch(
            executable_path=chromium_executable(), args=["--no-sandbox"])
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

    def choose(self, label: str, option: str, *, more: bool = False) -> None:
        """Pick option of the Element Plus select labelled label (more: a select of several
        choices, whose list stays open until Escape)."""
        box = self.page.get_by_role("combobox", name=label)
        self.page.locator(".el-select__wrapper", has=box).click()  # as a user: the box
        self.page.locator(".el-select-dropdown__item:visible", has_text=option).first.click()
        if more:
            self.page.keyboard.press("Escape")


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
                 "说明：已联合整治，占道已清理", "办结（street-jiyuqiao）",
                 "评价（street-jiyuqiao）→ 已评价", "评价：★★★★☆（4分）"):
        expect(timeline).to_contain_text(step)
    expect(street.page.get_by_text("当前无可办理操作")).to_be_visible()
    street.shot("order-closed")

    # a phone-width screen: the pages fit it (nothing wider than the screen)
    street.page.set_viewport_size({"width": 390, "height": 844})
    for page_name, url in (("order", street.page.url), ("inbox", f"{base}/app/#/inbox"),
                           ("whistle", f"{base}/app/#/whistle")):
        street.page.goto(url)
        street.page.reload()
        expect(street.page.locator("h2").first).to_be_visible()
        wide = street.page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert wide <= 1, f"the {page_name} page is {wide}px wider than a phone's screen"
        street.shot(f"phone-{page_name}")

    # the justice bureau sees the department in the month's two-way assessment
    justice.sign_in()
    justice.page.get_by_role("link", name="双向考核").click()
    expect(justice.page.locator(".figures .el-table__row", has_text=DEPARTMENT)).to_be_visible()
    bars = justice.page.get_by_role("img", name=re.compile(f"^{DEPARTMENT}：按时签收率"))
    expect(bars).to_be_visible()
    justice.shot("assessment")

    for officer in (street, department, justice):
        assert officer.errors == [], (officer.who, officer.errors)
        officer.context.close()


STATE_LABELS = {  # labels.ts's, for the states the walk below passes
    "ISSUED": "待签收", "ACCEPTED": "已受理", "NOT_FILED": "不予立案", "RECONSIDERING": "复议中",
    "SUPERVISED": "立案监督中", "FILED": "已立案", "CLOSED": "已办结",
}


def _post(base: str, token: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    """POST body as the party of token, as its own system would; the answer's body."""
    request = urllib.request.Request(  # noqa: S310 - the test's own worker
        f"{base}{path}", data=json.dumps(body).encode(), method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
        return dict(json.load(answer))


def _post_referral(base: str, token: str) -> DispatchOrder:
    now = datetime.now(UTC).isoformat()
    body = {
        **sample("order"), "source_party": STREET, "from_party": STREET,
        "source_id": f"WB-REF-{uuid.uuid4().hex[:10]}", "order_type": "CRIMINAL_REFERRAL",
        "to_parties": ["police"], "occurred_at": now, "issued_at": now, "deadline": None,
        "subject_id": None,
        "referral": {"suspected_offence": "非法经营罪", "evidence": ["现场检查笔录", "询问笔录"]},
    }
    made = _post(base, token, "/v1/records/order", body)
    order = validate("order", {**body, "order_id": made["record_id"], "received_at": now})
    assert isinstance(order, DispatchOrder)
    return order


def _offered(officer: Officer, base: str, order_id: str, state: str) -> list[str]:
    """The actions the order page offers officer once it shows the order in state (the
    page is loaded again until it does: an event just taken is applied in a moment)."""
    page = officer.page
    page.goto(f"{base}/app/#/orders/{order_id}")
    deadline = time.monotonic() + WAIT_MS / 1000
    while True:
        page.reload()  # a hash change alone keeps the page it had
        heading, refused = page.locator("#order-title"), page.get_by_role("alert")
        expect(heading.or_(refused).first).to_be_visible()
        if refused.is_visible():
            return []
        if heading.inner_text().endswith(STATE_LABELS[state]):
            return list(page.locator("[data-action]").evaluate_all(
                "buttons => buttons.map(b => b.dataset.action)"))
        assert time.monotonic() < deadline, f"{officer.who} never saw the order {state}"
        page.wait_for_timeout(300)


def test_each_party_is_offered_exactly_the_actions_the_state_machine_gives_it(
    hub: Hub, browser: Browser
) -> None:
    base, tokens = hub
    officers = {party: Officer(browser, base, tokens[party], f"role-{party}") for party in PARTIES}
    for officer in officers.values():
        officer.sign_in()
    order = _post_referral(base, tokens[STREET])
    order_id = str(order.order_id)
    copies = officers["procuratorate"]  # 抄送检察院: its inbox opens on the copies
    copies.page.goto(f"{base}/app/#/inbox")
    copies.page.reload()
    row = copies.page.locator(".inbox .el-table__row", has_text="涉嫌犯罪移送").first
    expect(row).to_be_visible()
    copies.shot("copies")
    view = open_order(order)
    walk = [  # who acts, what, the reason it gives (a form), the state after
        ("police", "ACCEPTED", None, "ACCEPTED"),
        ("police", "NOT_FILED", "证据不足，不予立案", "NOT_FILED"),
        (STREET, "RECONSIDERATION", "补充证据后申请复议", "RECONSIDERING"),
        ("procuratorate", "SUPERVISION", None, "SUPERVISED"),
        ("police", "FILED", None, "FILED"),
        (STREET, "CLOSED", None, "CLOSED"),
    ]
    state = "ISSUED"
    for actor, action, reason, after in [*walk, (None, None, None, None)]:
        current = dataclasses.replace(view, state=OrderState(state))
        for party, officer in officers.items():
            expected = [str(event) for event in actions_for(current, party)]
            assert _offered(officer, base, order_id, state) == expected, (state, party)
        officers[STREET].shot(f"referral-{state.lower()}")
        if actor is None:
            break
        officer = officers[actor]  # its page shows the order, as _offered left it
        officer.act(action)
        if reason is not None:
            dialog = officer.page.get_by_role("dialog")
            dialog.get_by_label("理由").fill(reason)
            dialog.get_by_role("button", name="提交").click()
        expect(officer.page.get_by_text(f"状态：{STATE_LABELS[after]}")).to_be_visible()
        state = after

    stranger = officers[DEPARTMENT]  # no part in the referral: its read is refused
    assert all("status of 40" in error for error in stranger.errors), stranger.errors
    for party, officer in officers.items():
        if party != DEPARTMENT:
            assert officer.errors == [], (party, officer.errors)
        officer.context.close()


def _field(page: Page, path: str) -> Locator:
    """The form item of the record field at path (SchemaField's data-field)."""
    return page.locator(f'[data-field="{path}"]')


def test_records_are_made_in_forms_the_hub_checks_as_the_officer_types(
    hub: Hub, browser: Browser
) -> None:
    """The create forms, built from the record models: a wrong citizen id is named at
    its field in Chinese before anything is sent; a criminal referral with its evidence
    and seized-item lists reaches the order page; a case transfer asks first whether the
    stop order 责令停止 was issued."""
    base, tokens = hub
    street = Officer(browser, base, tokens[STREET], "forms")
    street.sign_in()
    page = street.page

    page.goto(f"{base}/app/#/create/case")
    expect(page.get_by_role("heading", name="立案与处罚决定")).to_be_visible()
    street.choose("当事人类型", "自然人")
    page.get_by_label("姓名或名称").fill("李四")
    page.get_by_label("公民身份号码").fill("420106198503120012")  # a wrong check digit
    expect(_field(page, "party.id_number")).to_contain_text("公民身份号码校验码错误")
    street.shot("case-live-check")
    page.get_by_label("公民身份号码").fill("420106198503120011")
    expect(_field(page, "party.id_number")).not_to_contain_text("校验码")

    page.goto(f"{base}/app/#/create/referral")
    expect(page.get_by_role("heading", name="涉嫌犯罪移送")).to_be_visible()
    street.choose("接收方", "police", more=True)
    street.choose("事项编码", "URB-001")
    page.get_by_label("派单内容").fill("占道经营者涉嫌非法经营，移送公安机关")
    page.get_by_label("涉嫌罪名").fill("非法经营罪")
    page.get_by_role("textbox", name="证据清单第1项", exact=True).fill("现场检查笔录")
    _field(page, "referral.evidence").get_by_role("button", name="添加一项").click()
    page.get_by_role("textbox", name="证据清单第2项", exact=True).fill("询问笔录")
    _field(page, "referral.seized_items").get_by_role("button", name="添加一项").click()
    page.get_by_role("textbox", name="涉案物品清单第1项", exact=True).fill("无证经营的商品一批")
    street.shot("referral-form")
    page.get_by_role("button", name="提交").click()
    expect(page).to_have_url(re.compile(r"#/orders/[0-9a-f-]{36}$"))
    expect(page.get_by_role("heading", name="涉嫌犯罪移送 · 待签收")).to_be_visible()

    page.goto(f"{base}/app/#/create/transfer")
    expect(page.get_by_role("heading", name="案件移送")).to_be_visible()
    street.choose("接收方", "dept-water", more=True)
    street.choose("事项编码", "WAT-001")
    page.get_by_label("派单内容").fill("河道管理范围内违法建设，属水务部门查处")
    page.get_by_label("移送理由").fill("违法行为属水务部门管辖")
    page.get_by_role("textbox", name="移送材料第1项", exact=True).fill("现场照片")
    page.get_by_role("button", name="提交").click()
    confirm = page.get_by_role("dialog", name="确认案件移送")
    expect(confirm).to_contain_text("尚未勾选")
    street.shot("transfer-confirm")
    confirm.get_by_role("button", name="返回修改").click()
    _field(page, "transfer.stop_order_issued").locator(".el-checkbox").click()  # as a user
    expect(page.get_by_role("checkbox", name="已责令停止违法行为")).to_be_checked()
    page.get_by_role("button", name="提交").click()
    expect(confirm).to_contain_text("已责令当事人停止违法行为")
    confirm.get_by_role("button", name="确认移送").click()
    expect(page.get_by_role("heading", name="案件移送 · 待签收")).to_be_visible()
    assert street.errors == [], street.errors
    street.context.close()


def _shared_data_loaded(base: str, token: str) -> None:
    """Wait until the worker's shared view has loaded (a fresh worker answers lookups
    503 with Retry-After meanwhile, which the page retries but the browser logs)."""
    request = urllib.request.Request(  # noqa: S310 - the test's own worker
        f"{base}/v1/shared/matter/URB-001",
        headers={"Authorization": f"Bearer {token}", "X-Hub-Purpose": "test"},
    )
    deadline = time.monotonic() + WAIT_MS / 1000
    while True:
        try:
            with urllib.request.urlopen(request, timeout=10):  # noqa: S310
                return
        except urllib.error.HTTPError as error:
            assert error.code == 503 and time.monotonic() < deadline, error
        time.sleep(0.5)


def test_shared_data_is_looked_up_with_a_purpose(hub: Hub, browser: Browser) -> None:
    """共享数据调阅: a street reads one matter of the catalogue by its key and the
    certified officers of its own unit by a secondary key, each read saying why."""
    base, tokens = hub
    _shared_data_loaded(base, tokens[STREET])
    street = Officer(browser, base, tokens[STREET], "shared")
    street.sign_in()
    page = street.page
    page.get_by_role("link", name="共享数据").click()
    expect(page.get_by_role("heading", name="共享数据调阅")).to_be_visible()
    street.choose("数据集", "执法事项目录")
    page.get_by_label("查询值").fill("URB-001")
    page.get_by_role("button", name="调阅").click()
    expect(page.get_by_role("alert")).to_contain_text("请说明调阅用途")  # no purpose, no read
    page.get_by_label("调阅用途").fill("核对吹哨事项的主管部门")
    page.get_by_role("button", name="调阅").click()
    expect(page.get_by_text("结果（1条）")).to_be_visible()
    expect(page.locator(".record")).to_contain_text("dept-urban")

    street.choose("数据集", "持证执法人员")
    page.locator(".el-radio-button", has_text="party").click()  # as a user: the button
    page.get_by_label("查询值").fill(STREET)
    page.get_by_role("button", name="调阅").click()
    expect(page.get_by_text(re.compile(r"结果（[1-9][0-9]*条）"))).to_be_visible()
    street.shot("shared")
    assert street.errors == [], street.errors
    street.context.close()


def test_the_justice_bureau_rules_an_escalated_order(hub: Hub, browser: Browser) -> None:
    """Returned twice, a whistle is escalated (督办) to the justice bureau: its workbench
    opens on the escalations, the returns' reasons are in the story, and it rules who
    handles it (改派) on the order page."""
    base, tokens = hub
    now = datetime.now(UTC).isoformat()
    whistle = {
        **sample("order"), "source_party": STREET, "from_party": STREET,
        "source_id": f"WB-ESC-{uuid.uuid4().hex[:10]}", "order_type": "WHISTLE",
        "to_parties": [DEPARTMENT], "occurred_at": now, "issued_at": now, "deadline": None,
        "subject_id": None,
    }
    order_id = _post(base, tokens[STREET], "/v1/records/order", whistle)["record_id"]
    steps = [(DEPARTMENT, {"event_type": "RETURNED", "reason": "不属于本部门职责"}),
             (STREET, {"event_type": "REASSIGNED", "reassign_to": [DEPARTMENT]}),
             (DEPARTMENT, {"event_type": "RETURNED", "reason": "仍不属于本部门职责"})]
    for party, event in steps:
        deadline = time.monotonic() + WAIT_MS / 1000
        while True:  # each event once the one before is applied (503/409 meanwhile)
            try:
                _post(base, tokens[party], f"/v1/orders/{order_id}/events", event)
                break
            except urllib.error.HTTPError as error:
                assert error.code in (409, 503) and time.monotonic() < deadline, error.read()
                time.sleep(0.3)

    justice = Officer(browser, base, tokens["justice"], "ruling")
    justice.sign_in()
    row = justice.page.locator(".inbox .el-table__row", has_text="吹哨").first
    expect(row).to_be_visible()  # the tab 提请审定 first
    expect(justice.page.get_by_role("radio", name=re.compile("提请审定"))).to_be_checked()
    justice.page.goto(f"{base}/app/#/orders/{order_id}")
    justice.page.reload()
    expect(justice.page.locator(".el-timeline")).to_contain_text("理由：仍不属于本部门职责")
    justice.act("REASSIGNED")
    dialog = justice.page.get_by_role("dialog")
    dialog.get_by_label("改派单位").fill("dept-water")
    dialog.get_by_label("说明").fill("经审定，由水务局承办")
    justice.shot("ruling")
    dialog.get_by_role("button", name="提交").click()
    expect(justice.page.get_by_text("状态：待签收")).to_be_visible()
    assert justice.errors == [], justice.errors
    justice.context.close()


def test_the_workbench_speaks_english_when_asked(hub: Hub, browser: Browser) -> None:
    """English as an option: the header's switch, kept in this browser; the record forms
    take the English half of each field's description."""
    base, tokens = hub
    officer = Officer(browser, base, tokens[STREET], "english")
    page = officer.page
    page.goto(f"{base}/app/")
    page.get_by_role("button", name="English").click()
    expect(page.get_by_role("heading", name="Sign in to the workbench")).to_be_visible()
    page.get_by_label("Access token").fill(tokens[STREET])
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Inbox")).to_be_visible()
    page.goto(f"{base}/app/#/create/referral")
    page.reload()  # the choice is kept
    expect(page.get_by_role("heading", name="Criminal referral")).to_be_visible()
    expect(page.get_by_label("Suspected offence")).to_be_visible()
    officer.shot("referral-form")
    page.get_by_role("button", name="中文").click()
    expect(page.get_by_role("heading", name="涉嫌犯罪移送")).to_be_visible()
    assert officer.errors == [], officer.errors
    officer.context.close()
