"""The hall in a real browser on a phone-sized screen (375 × 740; Debian's chromium through playwright):

1. a person registers with SMS verification (the code read from the test SMS backend), issues his own
   参保证明 and checks it on the public page;
2. he applies for resident pension enrollment with an attachment; a township clerk accepts it and asks for
   补正; he uploads the material; the district completes it; he sees it done and rates it;
3. an employer's administrator declares a month's bases online and sees the bill after the bill run;
4. every hall page is at most 375 px wide (no horizontal scrolling).
"""

from __future__ import annotations

import os
import re

import pytest
from django.urls import get_resolver, reverse

from cases.models import Case, CaseRating, CaseState
from cases.tests.factories import pdf_bytes
from cases.tests.test_browser import CHROMIUM, CHROMIUM_ARGS, _login
from contributions import services as contribution_services
from contributions.models import BillRunScope
from contributions.tests.factories import employ, huangyan_employer
from hall import sms
from hall.models import HallAccount
from hall.tests.factories import PASSWORD, employer_account, person_account
from registry import roles
from registry.models import Enrollment, Office
from registry.tests.factories import EnrollmentFactory, PersonFactory, UserFactory, township_of
from tests.test_jurisdiction_routes import _walk

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
PHONE = {"viewport": {"width": 375, "height": 740}, "locale": "zh-CN", "device_scale_factor": 2, "is_mobile": True}


@pytest.fixture
def browser():
    from django.db import connections
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()
            connections.close_all()


def _code() -> str:
    return re.search(r"验证码 (\d{6})", sms.outbox[-1].text).group(1)


def _phone_page(browser):
    page = browser.new_context(**PHONE).new_page()
    page.set_default_timeout(15_000)
    return page


def _hall_login(page, base: str, account: HallAccount, credit_code: str = "") -> None:
    from playwright.sync_api import expect

    page.goto(f"{base}/hall/login/")
    if credit_code:
        page.get_by_label("统一社会信用代码").fill(credit_code)
    page.get_by_label("手机号码").fill(account.phone)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="下一步：短信验证").click()
    expect(page.locator("h1")).to_have_text("短信验证")
    page.get_by_label("验证码").fill(_code())
    page.get_by_role("button", name="登录").click()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_register_with_sms_issue_own_certificate_and_verify_it(live_server, _restore_migration_data, browser):
    from playwright.sync_api import expect

    person = PersonFactory(residence_office=township_of("331003"), name="李娜", phone="13912345678")
    EnrollmentFactory(person=person)
    page = _phone_page(browser)
    base = live_server.url
    page.goto(f"{base}/hall/register/")
    page.get_by_label("公民身份号码").fill(person.id_number)
    page.get_by_label("姓名").fill("李娜")
    page.get_by_label("手机号码").fill("13912345678")
    page.get_by_role("button", name="获取验证码").click()
    expect(page.locator(".hall-messages")).to_contain_text("验证码已发送")
    assert sms.outbox[-1].phone == "13912345678"
    page.get_by_label("短信验证码").fill(_code())
    page.get_by_label("设置密码").fill(PASSWORD)
    page.get_by_role("button", name="注册", exact=True).click()
    expect(page.get_by_test_id("masked-id")).to_have_text(person.id_number[:6] + "********" + person.id_number[-4:])
    assert person.id_number not in page.content()

    page.get_by_role("link", name="证明", exact=True).click()
    page.get_by_role("button", name="立即出具：社会保险参保证明").click()
    expect(page.locator(".hall-messages")).to_contain_text("证明已出具")
    code = page.get_by_test_id("certificate-code").first.inner_text().strip()
    public = browser.new_context(**PHONE).new_page()
    public.goto(f"{base}/verify/{code}/")
    expect(public.get_by_test_id("verify-result")).to_contain_text("真实有效")
    expect(public.get_by_test_id("verify-result")).to_contain_text("李*")


def _staff_page(browser):
    page = browser.new_context(locale="zh-CN").new_page()
    page.set_default_timeout(15_000)
    return page


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_apply_accept_correct_upload_complete_and_rate(live_server, _restore_migration_data, browser):
    from playwright.sync_api import expect

    township = township_of("331003")
    person = PersonFactory(residence_office=township, name="陈静")
    account = person_account(person)
    town_clerk = UserFactory(username="town_desk", office=township, roles=[roles.COUNTER_CLERK, roles.REVIEWER])
    district_reviewer = UserFactory(username="district_rev", office=township.parent, roles=[roles.REVIEWER])
    base = live_server.url
    page = _phone_page(browser)
    _hall_login(page, base, account)
    page.get_by_role("link", name="办事", exact=True).click()
    page.get_by_role("link", name="城乡居民基本养老保险参保登记").click()
    page.get_by_label("参保开始日期").fill("2026-12-01")
    page.set_input_files(
        "#id_m_hukou", files=[{"name": "户口簿.pdf", "mimeType": "application/pdf", "buffer": pdf_bytes()}]
    )
    page.get_by_role("button", name="提交申请").click()
    expect(page.get_by_test_id("case-state")).to_have_text("待受理")
    case = Case.objects.get(person=person)

    clerk_page = _staff_page(browser)
    _login(clerk_page, base, town_clerk.username)
    clerk_page.goto(f"{base}/cases/{case.uid}/")
    clerk_page.get_by_role("button", name="受理", exact=True).click()
    expect(clerk_page.get_by_test_id("case-state")).to_have_text("待复核/审批")
    clerk_page.get_by_text("一次性告知补正", exact=True).click()
    clerk_page.locator("input[name=missing][value=hukou]").check()
    clerk_page.get_by_role("textbox", name="补正要求说明").fill("户口簿首页不清晰，请重新上传")
    clerk_page.get_by_role("button", name="告知补正（暂停计时）").click()
    expect(clerk_page.get_by_test_id("case-state")).to_have_text("补正中")

    page.reload()
    expect(page.get_by_test_id("case-state")).to_have_text("补正中")
    expect(page.locator("body")).to_contain_text("户口簿首页不清晰")
    page.set_input_files(
        "#id_m_hukou", files=[{"name": "户口簿2.pdf", "mimeType": "application/pdf", "buffer": pdf_bytes("2")}]
    )
    page.get_by_role("button", name="提交补正材料").click()
    expect(page.get_by_test_id("case-state")).to_have_text("待复核/审批")

    reviewer_page = _staff_page(browser)
    _login(reviewer_page, base, district_reviewer.username)
    reviewer_page.goto(f"{base}/cases/{case.uid}/")
    reviewer_page.get_by_role("button", name=re.compile("通过")).click()
    expect(reviewer_page.get_by_test_id("case-state")).to_have_text("已办结")

    page.reload()
    expect(page.get_by_test_id("case-state")).to_have_text("已办结")
    page.get_by_label("5 非常满意").check()
    page.get_by_label("评价内容（选填）").fill("网上办理很方便")
    page.get_by_role("button", name="提交评价").click()
    expect(page.get_by_test_id("rated")).to_contain_text("5 分")
    assert Enrollment.objects.filter(person=person, insurance_type="res_pension").exists()
    assert CaseRating.objects.get(case=case).comment == "网上办理很方便"
    assert Case.objects.get(pk=case.pk).state == CaseState.COMPLETED


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_employer_declares_online_and_sees_the_bill_after_the_bill_run(live_server, _restore_migration_data, browser):
    from playwright.sync_api import expect

    employer = huangyan_employer(name="台州网厅测试有限公司")
    worker = employ(employer, PersonFactory(name="赵强", residence_office=employer.office))
    admin = employer_account(employer)
    page = _phone_page(browser)
    base = live_server.url
    _hall_login(page, base, admin, credit_code=employer.credit_code)
    page.goto(f"{base}/hall/employer/declaration/?period=202611")
    page.get_by_label(re.compile("赵强")).fill("6000")
    page.get_by_role("button", name="提交申报").click()
    expect(page.locator(".hall-messages")).to_contain_text("申报已保存")

    district = Office.objects.get(code="331003")
    desk = UserFactory(username="hy_billing", office=district, roles=[roles.COUNTER_CLERK])
    run = contribution_services.bill_run_start(
        period=202611, scope=BillRunScope.EMPLOYER, employer=employer, acting_user=desk
    )
    contribution_services.bill_run_execute(bill_run_id=run.pk)
    page.get_by_role("link", name="账单", exact=True).click()
    expect(page.get_by_test_id("bills")).to_contain_text("202611")
    assert worker.name not in page.get_by_test_id("bills").inner_text()


# What sticks out, for the failure message: the outermost elements reaching past the right edge.
_WIDEST = """[...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > 376)
  .slice(0, 5).map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right)).join('; ')"""


def _pages(kind: str, account: HallAccount, case: Case | None) -> list[str]:
    urls = []
    for route, pattern in _walk(get_resolver().url_patterns):
        if not route.startswith("hall/") or not pattern.qualified_name or route.endswith((".pdf", ".<slug:fmt>")):
            continue
        groups = pattern.pattern.regex.groupindex
        if "action" in groups or "agents/<uuid" in route or route.endswith("logout/"):
            continue  # POST only
        if "uid" in groups:
            mine = "employer/" in route if kind == "employer" else "me/" in route
            if case is None or not mine or "applications" not in route:
                continue
            urls.append(reverse(pattern.qualified_name, kwargs={"uid": case.uid}))
        elif "new/<slug:code>" in route:
            urls.append(
                reverse(pattern.qualified_name, kwargs={"code": "CJ-GR-002" if kind == "person" else "CJ-GR-001"})
            )
        else:
            urls.append(reverse(pattern.qualified_name))
    return urls


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_every_hall_page_fits_a_375_px_screen(live_server, _restore_migration_data, browser):
    from cases.models import ServiceItem
    from hall.services import applications

    person = PersonFactory(residence_office=township_of("331003"), name="欧阳娜娜")
    EnrollmentFactory(person=person)
    account = person_account(person)
    case = applications.application_submit(
        account=account, item=ServiceItem.objects.get(code="KA-001"), form_data={}, files={}, note="x" * 200
    )
    employer = huangyan_employer(name="台州市黄岩区某某精密机械制造股份有限公司第二分公司")
    employ(employer)
    admin = employer_account(employer)
    base = live_server.url
    checked = 0
    for kind, who, own_case, credit in (("person", account, case, ""), ("employer", admin, None, employer.credit_code)):
        page = _phone_page(browser)
        _hall_login(page, base, who, credit_code=credit)
        for url in _pages(kind, who, own_case):
            page.goto(f"{base}{url}")
            width = page.evaluate("document.documentElement.scrollWidth")
            wide = page.evaluate(_WIDEST) if width > 375 else ""
            assert width <= 375, f"{url} is {width} px wide at 375: {wide}"
            checked += 1
    public = _phone_page(browser)
    for name in ("home", "login", "register", "register_employer", "password_reset"):
        public.goto(f"{base}{reverse('hall:' + name)}")
        assert public.evaluate("document.documentElement.scrollWidth") <= 375, name
        checked += 1
    assert checked >= 25
