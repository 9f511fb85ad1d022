"""A 黄岩 clerk in a real browser (Debian's chromium through playwright): log in, search by pinyin, open
the person page and see the masked ID number."""

from __future__ import annotations

import os
import re

import pytest

from registry.tests.factories import PersonFactory, UserFactory, make_id_number, office, township_of

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_clerk_logs_in_searches_by_pinyin_and_sees_the_masked_number(live_server, _restore_migration_data, monkeypatch):
    # playwright's sync API runs an event loop in this thread; the ORM calls below are not async code.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import expect, sync_playwright

    UserFactory(username="hy_browser", first_name="李", last_name="", office=office("331003"))
    number = make_id_number(area="331003", birth="19850707", seq=321)
    mine = PersonFactory(name="张伟", id_number=number, residence_office=township_of("331003"))
    PersonFactory(name="张伟", residence_office=township_of("331004"))
    PersonFactory(name="王芳", residence_office=township_of("331003"))
    masked = f"{number[:6]}********{number[-4:]}"

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(locale="zh-CN")
            page.set_default_timeout(15_000)

            page.goto(f"{live_server.url}/")
            expect(page).to_have_url(re.compile(r"/accounts/login/"))
            expect(page.locator("h1")).to_have_text("工作人员登录")
            page.fill("#id_username", "hy_browser")
            page.fill("#id_password", "pass-12345")
            page.get_by_role("button", name="登录").click()

            expect(page.locator("h1")).to_contain_text("黄岩区社会保险服务中心 · 工作台")
            expect(page.get_by_test_id("staff-office")).to_have_text("黄岩区社会保险服务中心")

            page.get_by_role("searchbox", name="查询参保人员").fill("zw")
            page.get_by_role("button", name="查询参保人员").click()
            expect(page).to_have_url(re.compile(r"/persons/\?q=zw$"))
            rows = page.locator("main table tbody tr")
            expect(rows).to_have_count(1)
            expect(rows.first).to_contain_text(masked)
            expect(rows.first).to_contain_text("东城街道劳动保障所")

            rows.first.get_by_role("link", name="张伟").click()
            expect(page).to_have_url(re.compile(rf"/persons/{mine.uid}/$"))
            expect(page.get_by_test_id("id-number")).to_have_text(masked)
            expect(page.get_by_role("button", name="查看完整号码")).to_have_count(0)
            assert number not in page.content()
        finally:
            browser.close()
