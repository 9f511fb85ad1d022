"""Counter work in a real browser (Debian's chromium through playwright), issue 16:

1. a resident pension enrollment with the year's grade, taken in and approved at the township — the enrollment and
   the year's bill of that grade exist;
2. a card application taken in at a township and reviewed at the district → the district's production batch (xlsx)
   → the card issuer's confirmation file imported → the card is issued.
"""

from __future__ import annotations

import io
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest

from cases.card_files import CONFIRMATION_HEADER
from cases.models import CardApplication, CardBatch
from cases.tests.factories import clerk, reviewer
from cases.tests.test_browser import _login, browser  # noqa: F401 (the fixture)
from contributions.models import Bill
from registry.models import CardStatus, Enrollment, Office, Person
from registry.tests.factories import PersonFactory, township_of


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_resident_pension_enrollment_with_a_grade(live_server, _restore_migration_data, browser):  # noqa: F811
    from playwright.sync_api import expect

    township = township_of("331003")
    desk, checker = clerk(township), reviewer(township)
    person = PersonFactory(residence_office=township, name="林秀英")
    page = browser.new_page(locale="zh-CN")
    page.set_default_timeout(15_000)
    base = live_server.url

    _login(page, base, desk.username)
    page.goto(f"{base}/cases/new/?person={person.uid}&item=CJ-GR-002")
    expect(page.get_by_test_id("applicant")).to_contain_text("林秀英")
    page.get_by_label("户口簿").check()
    page.get_by_label("参保开始日期").fill("2025-01-01")
    page.get_by_label("本年度缴费档次").select_option("3")
    page.get_by_role("button", name="受理", exact=True).click()
    expect(page.get_by_test_id("case-state")).to_have_text("待复核/审批")

    page.context.clear_cookies()
    _login(page, base, checker.username)
    page.goto(f"{base}/cases/{person.cases.get().uid}/")
    page.get_by_role("button", name="审批通过并办结").click()
    expect(page.get_by_test_id("case-state")).to_have_text("已办结")
    expect(page.get_by_test_id("result")).to_contain_text("第 3 档缴费 500.00 元")

    assert Enrollment.objects.filter(person=person, insurance_type="res_pension").exists()
    assert Bill.objects.get(person=person, kind="res_pension", period=202501).total == Decimal("500.00")
    page.close()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_card_application_batch_confirmation_issued(live_server, _restore_migration_data, browser, tmp_path):  # noqa: F811
    from playwright.sync_api import expect

    township = township_of("331003")
    district = Office.objects.get(code="331003")
    desk, checker, maker = clerk(township), reviewer(district), clerk(district)
    person = PersonFactory(residence_office=township, name="周建国")
    context = browser.new_context(locale="zh-CN", accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    base = live_server.url

    # Township counter: the application.
    _login(page, base, desk.username)
    page.goto(f"{base}/cases/new/?person={person.uid}&item=KA-001")
    page.get_by_label("近期免冠证件照（电子或纸质）").check()
    page.get_by_role("button", name="受理", exact=True).click()
    expect(page.get_by_test_id("case-state")).to_have_text("待审核")

    # District review completes it: the card is applied for.
    page.context.clear_cookies()
    _login(page, base, checker.username)
    page.goto(f"{base}/cases/{person.cases.get().uid}/")
    page.get_by_role("button", name="审核通过并办结").click()
    expect(page.get_by_test_id("result")).to_contain_text("进入待制卡队列")
    assert Person.objects.get(pk=person.pk).card_status == CardStatus.APPLIED

    # District clerk: the production batch and its file for the card issuer.
    page.context.clear_cookies()
    _login(page, base, maker.username)
    page.goto(f"{base}/cases/cards/")
    expect(page.get_by_test_id("card-waiting")).to_contain_text("周建国")
    page.get_by_test_id("card-batch-create").click()
    expect(page.get_by_test_id("card-batch-state")).to_have_text("已送制卡机构")
    with page.expect_download() as download_info:
        page.get_by_test_id("card-batch-download").click()
    sheet = openpyxl.load_workbook(io.BytesIO(Path(download_info.value.path()).read_bytes())).active
    rows = list(sheet.iter_rows(values_only=True))
    batch_number, application_uid, id_number = rows[1][0], rows[1][1], rows[1][2]
    assert id_number == person.id_number

    # The issuer's confirmation file comes back.
    confirmation = tmp_path / "回盘.csv"
    lines = [CONFIRMATION_HEADER, [batch_number, application_uid, id_number, "H00012345", "成功", ""]]
    confirmation.write_text("\n".join(",".join(line) for line in lines) + "\n", encoding="gbk")
    page.get_by_label("回盘文件").set_input_files(str(confirmation))
    page.get_by_role("button", name="导入").click()
    expect(page.get_by_test_id("card-batch-state")).to_have_text("已回盘")
    expect(page.get_by_test_id("card-applications")).to_contain_text("H00012345")

    person.refresh_from_db()
    assert (person.card_status, person.card_number) == (CardStatus.ACTIVE, "H00012345")
    assert CardApplication.objects.get(person=person).batch == CardBatch.objects.get(number=batch_number)
    context.close()
