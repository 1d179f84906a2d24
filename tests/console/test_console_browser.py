"""The console in a real browser: headless Chromium (Debian's) driven by Playwright, against a
real ``tanhui serve`` on SQLite and on PostgreSQL + Redis.

A person who has never seen the API signs in and, in Chinese, changes a methodology's factor
after seeing its effect, clears the review queue, reverses a record and settles a code at the
till; an auditor finds nothing to change. Screenshots of every page land in
``tests/console/screenshots/`` (ignored by git) for people to look at.

Locally these tests skip when Chromium or Playwright is missing (``make browser`` installs
Chromium and the CJK fonts); under ``CI=true`` they must run.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import asyncpg
import httpx
import pytest

from app.migrate import upgrade
from tests.conftest import (
    IN_CI,
    PG_ADMIN_URL,
    REDIS_URL,
    RUN_ID,
    _pg_base,
    _services_up,
    redis_prefix,
)
from tests.console.seed import Seed, _ok, _record, _token, seed
from tests.helpers import PASSWORD
from tests.production.server import base_env, serve

# One server per backend, each backend's tests on one xdist worker (the ``server`` fixture's
# parameters carry the group), so the two backends' halves run beside each other, each with
# its own browser.

SHOTS = Path(__file__).resolve().parent / "screenshots"
UUID = r"[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}"
CHROMIUM = os.environ.get("TANHUI_TEST_CHROMIUM") or shutil.which("chromium") or ""


def _missing() -> str | None:
    if not CHROMIUM:
        return "Chromium is not installed (make browser)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (make install)"
    return None


@pytest.fixture(scope="module")
def browser():
    why = _missing()
    if why:
        if IN_CI:
            pytest.fail(f"CI=true but the console's browser tests cannot run: {why}")
        pytest.skip(why)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield b
        finally:
            b.close()


def off_loop(fn, *args):
    """Run fn in another thread: Playwright's sync API keeps an event loop running in this
    one, and migrations and database set-up use asyncio.run."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(fn, *args).result()


def _pg_database() -> Iterator[str]:
    why = off_loop(_services_up)
    if why:
        if IN_CI:
            pytest.fail(f"CI=true but the console's PostgreSQL tests cannot run: {why}")
        pytest.skip(why)
    name = f"tanhui_t_{RUN_ID}_console_{uuid.uuid4().hex[:8]}"

    async def run(sql: str) -> None:
        conn = await asyncpg.connect(PG_ADMIN_URL)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    off_loop(asyncio.run, run(f'CREATE DATABASE "{name}"'))
    try:
        url = f"postgresql+asyncpg://{_pg_base().split('://', 1)[1]}/{name}"
        off_loop(upgrade, url)
        yield url
    finally:
        off_loop(asyncio.run, run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(
    scope="module",
    params=[
        pytest.param(backend, marks=pytest.mark.xdist_group(f"browser-{backend}"))
        for backend in ("sqlite", "postgres")
    ],
)
def server(request, tmp_path_factory, browser) -> Iterator[tuple[str, Seed, str]]:
    """A served, seeded platform: (base url, seed, backend name)."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('console') / 'tanhui.db'}"
        off_loop(upgrade, url)
        databases: Iterator[str] = iter([url])
        env = base_env(url)
    else:
        databases = _pg_database()
        url = next(databases)
        env = base_env(
            url,
            TANHUI_REDIS_URL=REDIS_URL,
            TANHUI_REDIS_PREFIX=redis_prefix(),
        )
    try:
        with serve(env) as (base_url, _proc):
            yield base_url, seed(base_url, env), request.param
    finally:
        for _ in databases:  # runs the PostgreSQL database's clean-up
            pass


@pytest.fixture
def context(browser):
    ctx = browser.new_context(
        locale="zh-CN", timezone_id="Asia/Shanghai", viewport={"width": 1280, "height": 900}
    )
    ctx.set_default_timeout(15_000)
    yield ctx
    ctx.close()


def new_phone(browser, **options):
    """A phone-sized browser context (``options`` as ``new_context`` takes them)."""
    ctx = browser.new_context(
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
        viewport={"width": 390, "height": 844},
        device_scale_factor=1,
        is_mobile=True,
        has_touch=True,
        **options,
    )
    ctx.set_default_timeout(15_000)
    return ctx


@pytest.fixture
def phone(browser):
    ctx = new_phone(browser)
    yield ctx
    ctx.close()


def shot(page, backend: str, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{backend}-{name}.png"), full_page=True)


def sign_in(page, base_url: str, email: str) -> None:
    page.goto(f"{base_url}/console/")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("form.signin button[type=submit]")
    page.wait_for_selector("header.top nav")


def visit(page, base_url: str, route: str) -> None:
    """Open a console page and wait until it has shown what it loaded."""
    page.goto(f"{base_url}/console/#/{route}")
    page.wait_for_selector(f'main[data-route="{route}"][data-ready]')


def go(page, section: str, name: str) -> None:
    """Open a page from the navigation: its section in the header, then the page in the
    section's row under it."""
    page.locator("header.top nav a", has_text=section).click()
    page.locator("nav.subnav a", has_text=name).click()
    page.wait_for_selector(f"nav.subnav a.active >> text={name}")


def no_console_errors(page) -> list[str]:
    """Script errors of the page. A refused request is logged by the browser too ("Failed to
    load resource"): the console shows those itself, so they are not counted."""
    errors: list[str] = []

    def on_console(message) -> None:
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            errors.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda e: errors.append(str(e)))
    return errors


def test_a_citizen_is_refused_with_the_reason_shown(context, server):
    base_url, data, backend = server
    page = context.new_page()
    page.goto(f"{base_url}/console/")
    shot(page, backend, "sign-in")
    page.fill("input[name=email]", data.citizen)
    page.fill("input[name=password]", PASSWORD)
    page.click("form.signin button[type=submit]")
    page.wait_for_selector(".notice.error")
    assert re.search("citizen|市民", page.inner_text(".notice.error"))
    assert page.locator("header.top").count() == 0
    assert not [c for c in page.context.cookies() if c["name"].startswith("tanhui_console")]
    shot(page, backend, "sign-in-refused")


def test_auditor_sees_everything_and_no_button_that_changes_anything(context, server):
    """Runs before the administrators' tests: the queue still holds a record, and the credited
    record could still be reversed by an administrator."""
    base_url, data, backend = server
    page = context.new_page()
    errors = no_console_errors(page)
    sign_in(page, base_url, data.auditor)
    read_only = {"退出", "查询", "生成报表", "下载 CSV", "下载 JSON", "筛选", "加载更多", "查看"}
    pages = [
        "dashboard",
        "methodologies",
        "methodologies/transit.metro",
        "review",
        f"records/{data.credited_id}",
        f"records/citizen/{data.citizen_id}",
        "organisations",
        f"organisations/{data.organisation_id}",
        "products",
        "projects",
        "batches",
        f"batches/{data.batch_id}",
        "merchants",
        "partners",
        "reports",
        "audit",
    ]
    for name in pages:
        visit(page, base_url, name)
        if name == "review":  # the record the administrators approve later
            page.locator("button.open").first.click()
            page.wait_for_selector("#record-detail")
        labels = {b.strip() for b in page.locator("button:visible").all_inner_texts()}
        assert labels <= read_only, (name, labels - read_only)
        assert (
            page.locator(
                "form input[type=password], #simulate, #schedule, #approve, #reject, #reverse, "
                "#org-form, #prod-form, #proj-form, #batch-form, #batch-final, "
                "#merchant-editor form, button.rename, button.offer, button.edit, "
                "button.retire, button.reinstate, #org-editor form, #prod-editor form, "
                "#org-status-filter, #prod-status-filter"
            ).count()
            == 0
        )
        assert page.locator(".notice.error").count() == 0, (name, page.inner_text("main"))
        # What the pages exist to show is there: the seeded rows, one batch, one citizen.
        shown = {
            "organisations": "#organisations-table >> text=迎泽街道社区",
            "products": "#products-table >> text=CL-2026-0001",
            "projects": "#projects-table >> text=吕梁山植树",
            "batches": "#batches-table >> text=TANHUI-SH-",
        }.get(name)
        if shown:
            assert page.locator(shown).count() >= 1, name
        if name.startswith("organisations/"):  # statistics, but not the join code
            assert page.locator("#org-join-code").count() == 0
            assert "579" in page.inner_text("#org-periods")
        if name.startswith("records/citizen"):
            assert page.locator("#citizen-records tbody tr").count() >= 4
        shot(page, backend, "auditor-" + re.sub(UUID, "one", name).replace("/", "-"))
    assert not errors, errors


def test_admin_simulates_a_factor_then_schedules_it(context, server):
    base_url, data, backend = server
    page = context.new_page()
    errors = no_console_errors(page)
    sign_in(page, base_url, data.admin)
    # The dashboard, in Chinese: today's figures, the queue, and the ledger proven balanced.
    page.wait_for_selector("#ledger-status")
    assert page.inner_text("header.top nav").startswith("概览")
    assert "平衡无误" in page.inner_text("#ledger-status")
    assert page.locator("main svg.chart").count() == 2
    shot(page, backend, "admin-dashboard")
    # A reload keeps the session: the cookie and the CSRF token come back from the service.
    page.reload()
    page.wait_for_selector("#ledger-status")

    go(page, "减排核算", "方法学")
    page.click("a[href='#/methodologies/transit.metro']")
    page.wait_for_selector("#params-form")
    assert "湖北日报" in page.inner_text("main")  # the source of a parameter is shown
    page.fill("#param-reduction_g_per_pkm", "60")
    page.click("#simulate")
    page.wait_for_selector("#sim-totals")
    sim = page.locator("#simulation")
    # Current and proposed as lines by day and bars by region.
    assert sim.locator("svg.chart path.line").count() == 2
    assert sim.locator("svg.chart rect.bar").count() == 4  # two regions × current, proposed
    totals = page.inner_text("#sim-totals")
    assert "现行" in totals and "拟议" in totals
    assert page.locator("#simulation table").nth(1).locator("tbody tr").count() >= 1
    shot(page, backend, "admin-methodology-simulation")

    page.fill("#version-note", "2026 年地铁排放因子更新")
    page.click("#schedule")
    page.wait_for_selector(".notice.ok")
    assert "v2" in page.inner_text(".notice.ok")
    row = page.locator("#versions tbody tr").last
    assert "2026 年地铁排放因子更新" in row.inner_text() and "已排期" in row.inner_text()
    shot(page, backend, "admin-methodology-scheduled")

    # The act is in the audit log.
    go(page, "报表与审计", "审计日志")
    page.wait_for_selector("#audit-table tbody tr")
    assert "methodology" in page.inner_text("#audit-table")
    shot(page, backend, "admin-audit")
    assert not errors, errors


def test_admin_clears_the_review_queue(context, server):
    base_url, data, backend = server
    page = context.new_page()
    sign_in(page, base_url, data.admin)
    visit(page, base_url, "review")
    assert page.locator(f"tr[data-record='{data.pending_id}']").count() == 1
    shot(page, backend, "admin-review")
    page.click(f"tr[data-record='{data.pending_id}'] button.open")
    page.wait_for_selector("#record-detail")
    assert "计算过程" in page.inner_text("#review-panel")  # the record's full calculation
    page.fill("#decision-note", "电费单照片与读数一致")
    page.click("#approve")
    page.wait_for_selector("#review-empty")
    assert "已批准" in page.inner_text(".notice.ok")
    shot(page, backend, "admin-review-cleared")


def test_admin_reverses_a_record_with_a_reason(context, server):
    base_url, data, backend = server
    page = context.new_page()
    sign_in(page, base_url, data.admin)
    visit(page, base_url, f"records/{data.credited_id}")
    assert page.locator("#reverse").count() == 1
    # A reason is required: the API's problem is shown, and nothing changes.
    page.click("#reverse")
    page.click("#reverse-confirm")
    page.wait_for_selector(".danger-zone .notice.error")
    assert page.inner_text(".danger-zone .problem-title")
    page.fill("#reverse-reason", "同一行程经两个渠道重复上报")
    page.click("#reverse-confirm")
    page.wait_for_selector(".notice.ok")
    assert "已冲正" in page.inner_text("#record-detail")
    assert page.locator("#reverse").count() == 0
    shot(page, backend, "admin-record-reversed")


def test_admin_tours_merchants_partners_and_reports(context, server):
    base_url, data, backend = server
    page = context.new_page()
    errors = no_console_errors(page)
    sign_in(page, base_url, data.admin)
    go(page, "商户与伙伴", "商户与员工")
    page.wait_for_selector("#merchants-table")
    assert "绿色咖啡" in page.inner_text("#merchants-table")
    cashier = f"cashier-{uuid.uuid4().hex[:6]}@example.cn"
    page.fill("#staff-email", cashier)
    page.fill("#staff-password", PASSWORD)
    page.locator("button[type=submit]", has_text="创建员工账号").click()
    page.wait_for_selector(".notice.ok")
    page.locator("#merchants-table li", has_text=cashier).locator("button").click()
    page.wait_for_selector(".notice.ok >> text=已停用")
    assert "停用" in page.locator("#merchants-table li", has_text=cashier).inner_text()
    shot(page, backend, "admin-merchants")
    go(page, "商户与伙伴", "数据伙伴")
    page.fill("#partner-name", "太原地铁")
    page.check("input[value='transit.metro']")
    page.click("#partner-create")
    page.wait_for_selector("#partner-secret")
    first = page.inner_text("#partner-secret")
    assert len(first) >= 32  # the secret, shown once, above the list that now holds it
    row = page.locator("#partners-table tr", has_text="太原地铁")
    assert row.count() == 1
    shot(page, backend, "admin-partners")
    row.locator("button", has_text="更换密钥").click()
    page.wait_for_function(
        "s => document.querySelector('#partner-secret')?.textContent !== s", arg=first
    )
    assert len(page.inner_text("#partner-secret")) >= 32
    # The access cookie is gone (expired): the next call renews the session by itself.
    context.clear_cookies(name="tanhui_console")
    go(page, "报表与审计", "报表")
    page.wait_for_selector("#report-table")
    assert [c for c in context.cookies() if c["name"] == "tanhui_console"]
    assert page.locator("#report svg.chart").count() == 1
    with page.expect_download() as download:
        page.click("#report-csv")
    assert download.value.suggested_filename == "reductions-by-day.csv"
    assert page.locator("header.top").bounding_box()["height"] < 70
    shot(page, backend, "admin-reports")
    # Language switch: the same page in English.
    page.select_option("select.lang", "en")
    page.wait_for_selector("text=Reports")
    assert page.inner_text("header.top nav").startswith("Dashboard")
    # At 1280 px the header keeps to one line in either language (one line is ~50 px).
    assert page.locator("header.top").bounding_box()["height"] < 70
    shot(page, backend, "admin-reports-en")
    page.select_option("select.lang", "zh-CN")
    assert not errors, errors


def test_admin_registers_an_organisation_and_a_product_and_sees_them_listed(context, server):
    base_url, data, backend = server
    page = context.new_page()
    errors = no_console_errors(page)
    sign_in(page, base_url, data.admin)
    go(page, "社区与公益", "社区组织")
    page.wait_for_selector("#organisations-table")
    name = f"太原理工大学 {uuid.uuid4().hex[:4]}"
    page.fill("#org-name", name)
    page.select_option("#org-kind", "campus")
    page.fill("#org-region", "cn-sx")
    page.click("#org-create")
    page.wait_for_selector("#org-join-code")
    code = page.inner_text("#org-join-code")
    assert re.fullmatch(r"[A-Z0-9]{8}", code), code
    assert code in page.inner_text(".notice.ok") and "校园" in page.inner_text("#org-detail")
    shot(page, backend, "admin-organisation")
    page.click("text=← 社区组织")
    page.wait_for_selector(f"#organisations-table >> text={name}")
    row = page.locator("#organisations-table tr", has_text=name)
    assert "校园" in row.inner_text() and "CN-SX" in row.inner_text()
    # A bad region is the API's problem, shown; nothing is registered.
    page.fill("#org-name", "无效地区")
    page.fill("#org-region", "Shanxi")
    page.click("#org-create")
    page.wait_for_selector("#org-form .notice.error")
    shot(page, backend, "admin-organisations")

    go(page, "社区与公益", "低碳商品")
    page.wait_for_selector("#products-table")
    label = f"CL-2026-{uuid.uuid4().hex[:4].upper()}"
    page.fill("#prod-name", "再生纸笔记本")
    page.fill("#prod-label", label)
    page.fill("#prod-certifier", "中环联合认证中心")
    page.fill("#prod-grams", "120.5")
    page.fill("#prod-source", f"碳标签 {label} 产品碳足迹报告")
    page.click("#prod-create")
    page.wait_for_selector(f".notice.ok >> text={label}")
    row = page.locator("#products-table tr", has_text=label)
    assert "再生纸笔记本" in row.inner_text() and "120.5" in row.inner_text()
    shot(page, backend, "admin-products")

    go(page, "社区与公益", "公益项目")
    page.wait_for_selector("#projects-table")
    page.fill("#proj-name", "汾河湿地修复")
    page.fill("#proj-description", "每单位修复一平方米湿地。")
    page.fill("#proj-points", "200")
    page.fill("#proj-unit", "平方米")
    page.fill("#proj-target", "5000")
    page.click("#proj-create")
    page.wait_for_selector(".notice.ok >> text=汾河湿地修复")
    page.locator("#projects-table tr", has_text="汾河湿地修复").locator("button").click()
    page.wait_for_selector(".notice.ok >> text=停止接受捐赠")
    assert "已关闭" in page.locator("#projects-table tr", has_text="汾河湿地修复").inner_text()
    shot(page, backend, "admin-projects")
    assert not errors, errors


def test_admin_renames_and_retires_an_organisation_and_a_product(context, server):
    base_url, data, backend = server
    tag = uuid.uuid4().hex[:4].upper()
    with httpx.Client(base_url=base_url, timeout=30) as c:
        boss = _token(c, data.admin)
        org = f"晋阳湖园区 {tag}"
        _ok(
            c.post(
                "/v1/admin/organisations",
                json={"name": org, "kind": "park", "region": "CN-SX"},
                headers=boss,
            )
        )
        label = f"CL-2026-R{tag}"
        _ok(
            c.post(
                "/v1/admin/products",
                json={
                    "name": "竹纤维毛巾",
                    "label_id": label,
                    "certifier": "示例认证中心",
                    "reduction_g_per_unit": "80",
                    "source": f"碳标签 {label}",
                },
                headers=boss,
            )
        )
    page = context.new_page()
    errors = no_console_errors(page)
    sign_in(page, base_url, data.admin)

    go(page, "社区与公益", "社区组织")
    page.wait_for_selector(f"#organisations-table >> text={org}")
    page.locator("#organisations-table tr", has_text=org).locator("button.edit").click()
    renamed = f"晋阳湖生态园区 {tag}"
    page.fill("#org-rename", renamed)
    page.click("#org-rename-save")
    page.wait_for_selector(f".notice.ok >> text={renamed}")
    row = page.locator("#organisations-table tr", has_text=renamed)
    assert "启用" in row.inner_text()
    # Retiring asks first; cancelling changes nothing.
    row.locator("button.retire").click()
    assert "加入码失效" in row.locator(".confirm-question").inner_text()
    row.locator("button.cancel").click()
    assert row.locator("button.retire-confirm").is_hidden()
    row.locator("button.retire").click()
    shot(page, backend, "admin-organisation-retire-confirm")
    row.locator("button.retire-confirm").click()
    page.wait_for_selector(f".notice.ok >> text=已停用“{renamed}”")
    row = page.locator("#organisations-table tr.retired", has_text=renamed)
    assert "已停用" in row.inner_text() and row.locator("button.reinstate").count() == 1
    # The seeded organisation is still active; the retired one is found by its status.
    page.select_option("#org-status-filter", "false")
    page.locator("form.row button[type=submit]", has_text="筛选").click()
    page.wait_for_function(
        "() => !document.querySelector('#organisations-table').innerText.includes('迎泽街道社区')"
    )
    assert renamed in page.inner_text("#organisations-table")
    shot(page, backend, "admin-organisations-retired")
    # Its page says so too.
    page.locator("#organisations-table tr", has_text=renamed).locator("a.open").click()
    page.wait_for_selector("#org-state")
    assert "已停用" in page.inner_text("#org-state")
    # Reinstated, it is active again.
    visit(page, base_url, "organisations")
    row = page.locator("#organisations-table tr", has_text=renamed)
    row.locator("button.reinstate").click()
    row.locator("button.reinstate-confirm").click()
    page.wait_for_selector(f".notice.ok >> text=已恢复“{renamed}”")
    row = page.locator("#organisations-table tr", has_text=renamed)
    assert "启用" in row.inner_text() and row.locator("button.retire").count() == 1

    go(page, "社区与公益", "低碳商品")
    page.wait_for_selector(f"#products-table >> text={label}")
    page.locator("#products-table tr", has_text=label).locator("button.edit").click()
    page.fill("#prod-edit-name", "竹纤维毛巾（两条装）")
    page.fill("#prod-edit-grams", "160")
    fixed = f"{label}-2"
    page.fill("#prod-edit-label", fixed)
    with page.expect_request("**/v1/admin/products/*") as sent:
        page.click("#prod-edit-save")
    # Only what changed is sent.
    assert sent.value.post_data_json == {
        "name": "竹纤维毛巾（两条装）",
        "label_id": fixed,
        "reduction_g_per_unit": "160",
    }
    page.wait_for_selector(f".notice.ok >> text={fixed}")
    row = page.locator("#products-table tr", has_text=fixed)
    assert "两条装" in row.inner_text() and "160 g" in row.inner_text()
    row.locator("button.retire").click()
    row.locator("button.retire-confirm").click()
    page.wait_for_selector(".notice.ok >> text=已停用“竹纤维毛巾（两条装）”")
    row = page.locator("#products-table tr.retired", has_text=fixed)
    assert "已停用" in row.inner_text()
    assert "有效" in page.locator("#products-table tr", has_text="CL-2026-0001").inner_text()
    shot(page, backend, "admin-products-retired")
    assert not errors, errors


def test_a_label_that_records_name_cannot_change_and_the_reason_is_shown(context, server):
    base_url, data, backend = server
    page = context.new_page()
    errors = no_console_errors(page)
    sign_in(page, base_url, data.admin)
    visit(page, base_url, "products")
    row = page.locator(f"#products-table tr[data-product='{data.product_id}']")
    row.locator("button.edit").click()
    page.fill("#prod-edit-grams", "400")
    with page.expect_response("**/v1/admin/products/*") as answer:
        page.click("#prod-edit-save")
    assert answer.value.status == 409
    problem = answer.value.json()
    assert problem["reason"] == "product_in_use"
    page.wait_for_selector("#prod-edit-form .notice.error")
    shown = page.inner_text("#prod-edit-form .notice.error")
    assert problem["title"] in shown and problem["detail"] in shown
    assert "已有记录引用该产品" in shown  # in Chinese, as the console asked
    shot(page, backend, "admin-product-in-use")
    # Nothing changed; renaming it is still allowed.
    visit(page, base_url, "products")
    row = page.locator(f"#products-table tr[data-product='{data.product_id}']")
    assert "350 g" in row.inner_text()
    row.locator("button.edit").click()
    page.fill("#prod-edit-name", "低碳燕麦奶 1 升（新包装）")
    page.click("#prod-edit-save")
    page.wait_for_selector(".notice.ok >> text=新包装")
    row = page.locator(f"#products-table tr[data-product='{data.product_id}']")
    assert "新包装" in row.inner_text() and "350 g" in row.inner_text()
    assert not errors, errors


def test_admin_issues_a_batch_retires_it_and_exports_it(context, server):
    base_url, data, backend = server
    page = context.new_page()
    errors = no_console_errors(page)
    sign_in(page, base_url, data.admin)
    go(page, "减排核算", "减排量批次")
    page.wait_for_selector("#batches-table")
    page.select_option("#batch-methodology", "energy.electricity_saving")
    page.fill("#batch-region", "CN-GD")
    page.fill("#batch-note", "广东 家庭节电 第一批")
    page.click("#batch-issue")
    page.wait_for_selector("#batch-detail")
    assert "TANHUI-GD-" in page.inner_text(".notice.ok")
    assert "已签发" in page.inner_text("#batch-status")
    shot(page, backend, "admin-batch-issued")
    # Nothing is left to issue in that range: the problem is shown.
    page.click("text=← 减排量批次")
    page.wait_for_selector("#batches-table >> text=TANHUI-GD-")
    page.fill("#batch-region", "CN-GD")
    page.fill("#batch-note", "再来一次")
    page.click("#batch-issue")
    page.wait_for_selector("#batch-form .notice.error")
    page.locator("#batches-table tr", has_text="TANHUI-GD-").locator("a.open").click()
    page.wait_for_selector("#retire-form")

    page.fill("#retire-party", "太原市生态环境局")
    page.fill("#retire-note", "2026 年会议碳中和")
    page.click("#batch-retire")
    page.wait_for_selector(".notice.ok >> text=太原市生态环境局")
    assert "已注销" in page.inner_text("#batch-status")
    assert "太原市生态环境局" in page.inner_text("#batch-detail")
    assert page.locator("#batch-final").count() == 0  # retired once, nothing more to do
    with page.expect_download() as download:
        page.click("#batch-export-csv")
    assert re.fullmatch(r"batch-[0-9a-f-]+\.csv", download.value.suggested_filename)
    assert "energy.electricity_saving" in Path(download.value.path()).read_text()
    with page.expect_download() as download:
        page.click("#batch-export-json")
    assert download.value.suggested_filename.endswith(".json")
    shot(page, backend, "admin-batch-retired")

    # The other batch is sold instead: transferred to a named holder, once.
    visit(page, base_url, f"batches/{data.batch_id}")
    page.fill("#transfer-party", "山西省碳交易服务中心")
    page.fill("#transfer-note", "2026 年第一批转让")
    page.click("#batch-transfer")
    page.wait_for_selector(".notice.ok >> text=山西省碳交易服务中心")
    assert "已转让" in page.inner_text("#batch-status")
    assert page.locator("#batch-final").count() == 0
    visit(page, base_url, "batches")
    page.select_option("#batch-status-filter", "transferred")
    page.click("text=筛选")
    page.wait_for_function(
        "() => document.querySelectorAll('#batches-table tbody tr').length === 1"
        " && document.querySelector('#batches-table').innerText.includes('TANHUI-SH-')"
    )
    shot(page, backend, "admin-batches")
    assert not errors, errors


def test_admin_renames_a_merchant_gives_it_an_incentive_and_finds_a_citizens_records(
    context, server
):
    base_url, data, backend = server
    page = context.new_page()
    errors = no_console_errors(page)
    sign_in(page, base_url, data.admin)
    visit(page, base_url, "merchants")
    page.locator("#merchants-table tr", has_text="绿色咖啡").locator("button.rename").click()
    page.fill("#merchant-rename", "绿色咖啡（迎泽店）")
    page.click("#merchant-rename-save")
    page.wait_for_selector(".notice.ok >> text=迎泽店")
    page.locator("#merchants-table tr", has_text="迎泽店").locator("button.offer").click()
    page.fill("#inc-title", "燕麦拿铁一杯")
    page.fill("#inc-cost", "450")
    page.fill("#inc-stock", "12")
    page.click("#inc-save")
    page.wait_for_selector(".notice.ok >> text=燕麦拿铁一杯")
    # The merchant's incentives are listed under the form: the new one, beside the seeded one.
    page.locator("#merchants-table tr", has_text="迎泽店").locator("button.offer").click()
    page.wait_for_selector("#merchant-incentives >> text=燕麦拿铁一杯")
    assert "美式咖啡一杯" in page.inner_text("#merchant-incentives")
    shot(page, backend, "admin-merchant-incentive")

    visit(page, base_url, f"records/{data.credited_id}")
    page.click("a.citizen-link")
    page.wait_for_selector("#citizen-records")
    rows = page.locator("#citizen-records tbody tr")
    assert rows.count() >= 4 and "transit.metro" in page.inner_text("#citizen-records")
    page.select_option("#citizen-status", "rejected")
    page.click("#lookup-citizen")
    page.wait_for_selector("#citizen-records td.empty")
    shot(page, backend, "admin-citizen-records")
    assert not errors, errors


def test_till_looks_up_settles_and_refuses_a_second_settle(browser, phone, server):
    base_url, data, backend = server
    till = phone.new_page()
    errors = no_console_errors(till)
    sign_in(till, base_url, data.staff)
    assert till.url.endswith("#/till")
    shot(till, backend, "merchant-till")
    # The second till is another phone in the same session. A second tab of one phone would
    # be a hidden tab, whose frames the browser throttles: every wait on it takes seconds.
    second_phone = new_phone(browser, storage_state=phone.storage_state())
    other_till = second_phone.new_page()
    other_till.goto(f"{base_url}/console/#/till")
    for page in (till, other_till):
        page.fill("#till-code", data.code.lower())
        page.click("#till-lookup")
        page.wait_for_selector("#till-settle")
    assert "美式咖啡一杯" in till.inner_text("#till-result")
    assert "待核销" in till.inner_text("#till-result")
    shot(till, backend, "merchant-till-lookup")
    till.click("#till-settle")
    till.wait_for_selector("#till-settled")
    assert "核销成功" in till.inner_text("#till-settled")
    shot(till, backend, "merchant-till-settled")
    # The second till still shows the button; the API refuses and its message is shown.
    with other_till.expect_response("**/v1/merchant/redemptions/verify") as answer:
        other_till.click("#till-settle")
    assert answer.value.status == 409
    problem = answer.value.json()
    other_till.wait_for_selector("#till-message .notice.error")
    shown = other_till.inner_text("#till-message")
    assert problem["title"] in shown and problem["detail"] in shown
    shot(other_till, backend, "merchant-till-refused")
    # Looked up again, the code is settled and offers no button.
    till.fill("#till-code", data.code)
    till.click("#till-lookup")
    till.wait_for_selector(".till-card.unusable")
    assert "已核销" in till.inner_text("#till-result")
    assert till.locator("#till-settle").count() == 0
    # The page fits the phone: nothing wider than the screen.
    assert till.evaluate("document.documentElement.scrollWidth") <= 390

    till.click("text=兑换记录")
    till.wait_for_selector("#redemptions-table")
    assert "已核销" in till.inner_text("#redemptions-table")
    shot(till, backend, "merchant-redemptions")
    till.click("text=权益管理")
    till.wait_for_selector("#incentives-table")
    till.fill("#inc-title", "环保购物袋")
    till.fill("#inc-cost", "150")
    till.fill("#inc-stock", "40")
    till.click("#inc-save")
    till.wait_for_selector(".notice.ok")
    row = till.locator("#incentives-table tr", has_text="环保购物袋")
    assert "40" in row.inner_text()
    row.locator("button", has_text="暂停").click()
    till.wait_for_selector(".notice.ok >> text=已暂停")
    assert "已暂停" in till.locator("#incentives-table tr", has_text="环保购物袋").inner_text()
    shot(till, backend, "merchant-incentives")
    # Signing out ends the session: a reload finds the sign-in form.
    till.click("#sign-out")
    till.wait_for_selector("form.signin")
    till.reload()
    till.wait_for_selector("form.signin")
    second_phone.close()
    assert not errors, errors


def test_the_review_queue_loads_more_than_a_page(context, server):
    """Last of its backend: it fills the queue with more records than one page holds."""
    base_url, data, backend = server
    saving = {"baseline_kwh": 120, "actual_kwh": 98.5, "period_days": 30}
    with httpx.Client(base_url=base_url, timeout=30) as c:
        who = _token(c, data.citizen)
        for i in range(51):
            rec = _record(c, who, "energy.electricity_saving", saving, 3 + i / 10)
            assert rec["status"] == "pending_review", rec
        waiting = 0
        boss = _token(c, data.admin)
        cursor = None
        while True:
            q = {"limit": 200, **({"cursor": cursor} if cursor else {})}
            page_ = _ok(c.get("/v1/admin/review", params=q, headers=boss))
            waiting += len(page_["items"])
            cursor = page_["next_cursor"]
            if not cursor:
                break
    assert waiting > 50
    page = context.new_page()
    errors = no_console_errors(page)
    sign_in(page, base_url, data.admin)
    visit(page, base_url, "review")
    rows = page.locator("#review-table tbody tr")
    assert rows.count() == 50
    assert "50" in page.inner_text("#review-count") and "继续加载" in page.inner_text(
        "#review-count"
    )
    page.click("#review-table-more")
    page.wait_for_function(
        "n => document.querySelectorAll('#review-table tbody tr').length === n", arg=waiting
    )
    assert page.locator("#review-table-more").is_hidden()
    assert str(waiting) in page.inner_text("#review-count")
    # Every record is listed once: the cursor carried on where the first page ended.
    ids = page.eval_on_selector_all(
        "#review-table tbody tr", "rows => rows.map(r => r.dataset.record)"
    )
    assert len(set(ids)) == waiting
    shot(page, backend, "admin-review-more")
    assert not errors, errors
