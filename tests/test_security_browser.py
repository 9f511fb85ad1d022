"""An administrator in a real browser (Debian's chromium through playwright): password, then the code his
authenticator shows (computed here from the device's key), then the pages — the Swagger UI included — without a
single Content-Security-Policy violation, and the language switch (a script of static/js/app.js) working."""

from __future__ import annotations

import os
import re

import pytest

from registry import roles
from registry.security import twofactor
from registry.tests.factories import UserFactory, office

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def browser(monkeypatch):
    # playwright's sync API runs an event loop in this thread; the ORM calls of the test are not async code.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from django.db import connections
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()
            connections.close_all()  # see cases/tests/test_browser.py


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_an_administrator_logs_in_with_a_totp_code_and_no_page_breaks_the_csp(
    live_server, _restore_migration_data, browser
):
    from playwright.sync_api import expect

    admin = UserFactory(
        username="browser_admin", first_name="王", office=office("331000"), roles=[roles.CITY_ADMIN], is_staff=True
    )
    device = twofactor.two_factor_enrolment_start(user=admin)
    device.confirmed = True
    device.save()

    page = browser.new_page(locale="zh-CN")
    page.set_default_timeout(20_000)
    violations: list[str] = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text)
            if "Content Security Policy" in message.text or "Refused to" in message.text
            else None
        ),
    )

    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", "browser_admin")
    page.fill("#id_password", "pass-12345")
    page.get_by_role("button", name="登录").click()
    expect(page).to_have_url(re.compile(r"/accounts/2fa/"))
    expect(page.locator("h1")).to_have_text("双因素认证")
    page.fill("#id_token", twofactor.totp_code(device))
    page.get_by_role("button", name="验证").click()
    expect(page.get_by_test_id("staff-office")).to_have_text("台州市社会保险事业管理服务中心")

    page.goto(f"{live_server.url}/admin/")
    expect(page.locator("#site-name")).to_contain_text("管理后台")

    page.goto(f"{live_server.url}/api/docs/")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("台州市区社保一体化 API")

    page.goto(f"{live_server.url}/")
    page.select_option("select[name=language]", "en")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    assert not violations, violations
