"""Counter clerks in a real browser (Debian's chromium through playwright):

1. an enrollment registration taken in at a township office and approved at the district office — the
   person's enrollment then exists;
2. a certificate printed at the counter and checked by anyone through its public verification URL.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from cases.models import Case, CaseState
from cases.tests.factories import clerk, paid_months, pdf_bytes, reviewer
from registry.models import Enrollment, Office
from registry.tests.factories import EmployerFactory, EnrollmentFactory, PersonFactory, township_of

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

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
def browser():
    from django.db import connections
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()
            # playwright runs an event loop in this thread, so the test's ORM calls in here went through a
            # connection of Django's async-context storage, which the test database teardown never sees: it
            # stayed open and made dropping the test database fail ("accessed by other users").
            connections.close_all()


def _login(page, base: str, username: str) -> None:
    from playwright.sync_api import expect

    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", "pass-12345")
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_test_id("staff-office")).to_be_visible()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_enrollment_taken_in_at_a_township_and_approved_at_the_district(live_server, _restore_migration_data, browser):
    from playwright.sync_api import expect

    township = township_of("331003")
    district = Office.objects.get(code="331003")
    desk = clerk(township, first_name="柜员甲")
    boss = reviewer(district, first_name="审核乙")
    person = PersonFactory(residence_office=township, name="陈静")

    page = browser.new_page(locale="zh-CN")
    page.set_default_timeout(15_000)
    base = live_server.url

    # Township counter: find the applicant, pick the item, tick the materials, attach the scan, take it in.
    _login(page, base, desk.username)
    page.get_by_role("link", name="受理", exact=True).click()
    expect(page.locator("h1")).to_have_text("一窗受理")
    page.get_by_role("searchbox", name="查找申请人").fill("陈静")
    page.get_by_role("button", name="查找").click()
    page.get_by_test_id("person-results").get_by_role("link", name="选择").click()
    expect(page.get_by_test_id("applicant")).to_contain_text("陈静")
    with page.expect_navigation():
        page.select_option("#id_item", "CJ-GR-001")
    expect(page.get_by_test_id("item-info")).to_contain_text("10 个工作日")
    page.get_by_label("社会保险参保登记表").check()
    page.select_option("#id_f_insurance_type", "res_medical")
    page.fill("#id_f_start_date", "2025-07-01")
    page.set_input_files(
        "#id_files", files=[{"name": "参保登记表.pdf", "mimeType": "application/pdf", "buffer": pdf_bytes()}]
    )
    page.get_by_role("button", name="受理", exact=True).click()

    expect(page).to_have_url(re.compile(r"/cases/[0-9a-f-]{36}/$"))
    expect(page.get_by_test_id("case-state")).to_have_text("待复核/审批")
    expect(page.get_by_test_id("current-office")).to_have_text(district.name)
    expect(page.get_by_test_id("attachments")).to_contain_text("参保登记表.pdf")
    expect(page.get_by_test_id("actions")).not_to_contain_text("审批通过")
    case = Case.objects.get(person=person)
    assert case.intake_office == township

    # The receipt carries the due date.
    page.goto(f"{base}/cases/{case.uid}/receipt/")
    expect(page.get_by_test_id("receipt-due")).to_contain_text(f"{case.due_date.month}月{case.due_date.day}日")

    # District review: the case is in the district's queue; approve it.
    page.context.clear_cookies()
    _login(page, base, boss.username)
    page.get_by_role("link", name="办件", exact=True).click()
    expect(page.get_by_test_id("queue")).to_contain_text(case.number)
    page.get_by_role("link", name=case.number).click()
    page.get_by_role("textbox", name="意见").fill("材料齐全，同意参保")
    page.get_by_role("button", name="审批通过并办结").click()
    expect(page.get_by_test_id("case-state")).to_have_text("已办结")
    expect(page.get_by_test_id("result")).to_contain_text("已新增参保登记：城乡居民基本医疗保险")
    expect(page.get_by_test_id("events")).to_contain_text("材料齐全，同意参保")

    assert Enrollment.objects.filter(person=person, insurance_type="res_medical").exists()
    case.refresh_from_db()
    assert case.state == CaseState.COMPLETED
    page.close()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_certificate_is_printed_and_verified_through_its_public_url(live_server, _restore_migration_data, browser):
    from playwright.sync_api import expect

    township = township_of("331003")
    desk = clerk(township)
    person = PersonFactory(residence_office=township, name="王芳")
    EnrollmentFactory(person=person, insurance_type="emp_pension", employer=EmployerFactory(office=township))
    paid_months(person, "emp_pension", 36)

    context = browser.new_context(locale="zh-CN", accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    base = live_server.url
    _login(page, base, desk.username)
    page.goto(f"{base}/cases/new/?person={person.uid}&item=ZM-001")
    expect(page.get_by_test_id("item-info")).to_contain_text("即办")
    page.get_by_role("button", name="受理", exact=True).click()
    expect(page.get_by_test_id("case-state")).to_have_text("已办结")
    code = page.get_by_test_id("certificate-code").inner_text().strip()
    assert re.fullmatch(r"[A-Z0-9]{4}(-[A-Z0-9]{4}){3}", code)

    with page.expect_download() as download_info:
        page.get_by_test_id("certificate-pdf").click()
    download = download_info.value
    pdf = Path(download.path()).read_bytes()
    assert pdf.startswith(b"%PDF-") and b"/FontFile2" in pdf
    assert download.suggested_filename.endswith(".pdf")

    # Anyone, not logged in, checks it through the URL printed on it (and in its QR code).
    certificate = Case.objects.get(person=person).certificate
    assert certificate.content["verify_url"] == f"{base}/verify/{certificate.code}/"
    public = browser.new_context(locale="zh-CN").new_page()
    public.goto(certificate.content["verify_url"])
    expect(public.get_by_test_id("verify-result")).to_contain_text("真实有效")
    expect(public.get_by_test_id("verify-result")).to_contain_text("王*")
    expect(public.get_by_test_id("verify-result")).to_contain_text("职工基本养老保险")
    assert person.id_number not in public.content()
    # And compares the downloaded file itself.
    public.set_input_files("input[name=pdf]", download.path())
    public.get_by_role("button", name="比对", exact=True).click()
    expect(public.get_by_test_id("pdf-check")).to_contain_text("完全一致")
    # A made-up code is not found.
    public.goto(f"{base}/verify/")
    public.get_by_role("textbox", name="验证码").fill("ABCD-EFGH-JKLM-NPQR")
    public.get_by_role("button", name="核验").click()
    expect(public.get_by_test_id("verify-result")).to_contain_text("未找到")
    context.close()
