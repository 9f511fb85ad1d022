# ruff: noqa: F811 - the test functions take the imported chromium fixture ``browser`` by name
"""The counter in a real browser (Debian's chromium through playwright), as clerks at a township and a district:

1. a new person typed with full-width digits (a card reader's Enter moves to the next field) → enrolled in the five
   employee insurances in one case → approved at the district → the five enrollments exist;
2. an employer registered, three employees added by uploading its list, one of them stopped (减员);
3. a 路桥 clerk adds a 黄岩 employee to a 路桥 employer and the 黄岩 enrollment ends;
4. a 黄岩 clerk searching a 路桥 person sees only "已在本市登记（路桥区）" and takes in a certificate case for him;
5. a double submit of the intake form creates one case.
"""

from __future__ import annotations

import datetime
import re

import pytest
from django.utils import timezone

from cases.models import Case, CaseState
from cases.tests.factories import clerk, reviewer
from cases.tests.test_browser import _login, browser  # noqa: F401 - the chromium fixture
from registry.models import Employer, Enrollment, Office, Person
from registry.tests.factories import (
    EmployerFactory,
    EnrollmentFactory,
    PersonFactory,
    make_credit_code,
    make_id_number,
    township_of,
)

FULLWIDTH = str.maketrans("0123456789X", "０１２３４５６７８９Ｘ")
FIVE = {"emp_pension", "emp_medical", "unemployment", "work_injury", "maternity"}
browser_db = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def this_month() -> str:
    return timezone.localdate().strftime("%Y-%m")


def _page(browser):
    context = browser.new_context(locale="zh-CN", bypass_csp=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    return page


@pytest.mark.browser
@browser_db
def test_new_person_full_width_then_five_insurances_in_one_case_approved(live_server, _restore_migration_data, browser):
    from playwright.sync_api import expect

    township = township_of("331003")
    desk = clerk(township, first_name="柜员甲")
    boss = reviewer(township.parent, first_name="审核乙")
    employer = EmployerFactory(office=township, name="黄岩精工模具有限公司")
    number = make_id_number(birth="19920308")
    page, base = _page(browser), live_server.url

    _login(page, base, desk.username)
    page.get_by_role("link", name="人员登记").click()
    expect(page.locator("#id_id_number")).to_be_focused()
    page.keyboard.type(number.translate(FULLWIDTH))  # an IME left in full-width mode
    page.keyboard.press("Enter")  # as a card reader ends the number
    expect(page.locator("#id_name")).to_be_focused()
    page.keyboard.type("林晓")
    page.get_by_role("button", name="登记").click()
    expect(page.locator("h1")).to_contain_text("林晓")
    person = Person.objects.get(id_number=number)
    assert person.birth_date == datetime.date(1992, 3, 8)

    page.get_by_test_id("person-actions").get_by_role("link", name="参保登记").click()
    page.get_by_role("searchbox", name="查找参保单位").fill("精工")
    page.get_by_role("button", name="查找单位").click()
    page.select_option("#id_employer", str(employer.uid))
    for box in page.locator("input[name=f_insurance_types]").all():
        expect(box).to_be_checked()
    page.get_by_label("社会保险参保登记表").check()
    page.get_by_role("button", name="受理", exact=True).click()
    expect(page).to_have_url(re.compile(r"/cases/[0-9a-f-]{36}/$"))
    expect(page.get_by_test_id("case-state")).to_have_text("待复核/审批")
    case = Case.objects.get(person=person)

    page.context.clear_cookies()
    _login(page, base, boss.username)
    page.goto(f"{base}/cases/{case.uid}/")
    page.get_by_role("button", name="审批通过并办结").click()
    expect(page.get_by_test_id("case-state")).to_have_text("已办结")
    expect(page.get_by_test_id("result")).to_contain_text("已新增参保登记 5 项")
    assert (
        set(Enrollment.objects.filter(person=person, employer=employer).values_list("insurance_type", flat=True))
        == FIVE
    )
    page.context.close()


@pytest.mark.browser
@browser_db
def test_employer_registered_three_employees_added_by_upload_and_one_stopped(
    live_server, _restore_migration_data, browser
):
    from playwright.sync_api import expect

    district = Office.objects.get(code="331003")
    desk = clerk(district)
    known = PersonFactory(residence_office=township_of("331003"), name="老员工")
    new1, new2 = make_id_number(birth="19950505"), make_id_number(birth="19960606")
    code = make_credit_code()
    today = timezone.localdate().isoformat()
    csv = f"公民身份号码,姓名,入职日期\r\n{known.id_number},老员工,{today}\r\n{new1},新员工一,{today}\r\n{new2},新员工二,{today}\r\n"
    page, base = _page(browser), live_server.url

    _login(page, base, desk.username)
    page.goto(f"{base}/counter/employers/new/")
    page.fill("#id_credit_code", f"{code[:2]}-{code[2:8]}-{code[8:]}")
    page.fill("#id_name", "台州椒江新材料有限公司")
    page.fill("#id_legal_representative", "周总")
    page.get_by_role("button", name="登记").click()
    expect(page.get_by_test_id("credit-code")).to_have_text(code)
    employer = Employer.objects.get(credit_code=code)

    page.get_by_test_id("employer-actions").get_by_role("link", name="单位增员").click()
    expect(page.get_by_test_id("chosen-employer")).to_contain_text("台州椒江新材料有限公司")
    page.locator("input[name=materials][value=list]").check()
    page.set_input_files(
        "#id_staff_file", files=[{"name": "增员名单.csv", "mimeType": "text/csv", "buffer": csv.encode("gb18030")}]
    )
    page.get_by_role("button", name="受理", exact=True).click()
    expect(page.get_by_test_id("case-state")).to_have_text("已办结")
    expect(page.get_by_test_id("result")).to_contain_text("已增员 3 人")
    assert Enrollment.objects.filter(employer=employer).count() == 15

    page.goto(f"{base}/counter/employers/{employer.uid}/")
    expect(page.get_by_test_id("staff")).to_contain_text("新员工一")
    page.get_by_test_id("employer-actions").get_by_role("link", name="单位减员").click()
    page.locator("input[name=materials][value=list]").check()
    page.fill("#id_f_employees", new1)
    page.fill("#id_f_end_month", this_month())
    page.get_by_role("button", name="受理", exact=True).click()
    expect(page.get_by_test_id("field-f_employees")).to_contain_text("第 1 行：该人员自")  # he started this month
    next_month = (timezone.localdate().replace(day=28) + datetime.timedelta(days=7)).replace(day=1)
    page.fill("#id_f_end_month", next_month.strftime("%Y-%m"))
    page.get_by_role("button", name="受理", exact=True).click()
    expect(page.get_by_test_id("result")).to_contain_text("已减员 1 人")
    last = next_month - datetime.timedelta(days=1)
    assert set(Enrollment.objects.filter(person__id_number=new1).values_list("end_date", flat=True)) == {last}
    assert Enrollment.objects.filter(employer=employer, end_date__isnull=True).count() == 10
    page.context.close()


@pytest.mark.browser
@browser_db
def test_a_luqiao_clerk_adds_a_huangyan_employee_and_the_huangyan_enrollment_ends(
    live_server, _restore_migration_data, browser
):
    from playwright.sync_api import expect

    luqiao = Office.objects.get(code="331004")
    desk = clerk(luqiao)
    person = PersonFactory(residence_office=township_of("331003"), name="跨区员工")
    old = EnrollmentFactory(
        person=person, insurance_type="emp_pension", employer=EmployerFactory(office=township_of("331003"))
    )
    employer = EmployerFactory(office=township_of("331004"), credit_code=make_credit_code(area="331004"))
    page, base = _page(browser), live_server.url

    _login(page, base, desk.username)
    page.goto(f"{base}/counter/employers/{employer.uid}/")
    page.get_by_test_id("employer-actions").get_by_role("link", name="单位增员").click()
    page.locator("input[name=materials][value=list]").check()
    page.fill("#id_f_employees", person.id_number)  # the number he presents; he lives in 黄岩
    page.get_by_role("button", name="受理", exact=True).click()
    expect(page.get_by_test_id("case-state")).to_have_text("已办结")
    old.refresh_from_db()
    start = timezone.localdate().replace(day=1)
    assert old.end_date == start - datetime.timedelta(days=1)
    assert Enrollment.objects.filter(person=person, employer=employer, start_date=start).count() == 5
    page.context.close()


@pytest.mark.browser
@browser_db
def test_a_huangyan_clerk_sees_only_the_district_and_takes_in_a_certificate_case(
    live_server, _restore_migration_data, browser
):
    from playwright.sync_api import expect

    desk = clerk(township_of("331003"))
    luqiao = township_of("331004")
    person = PersonFactory(residence_office=luqiao, name="路桥居民", phone="13912345678")
    EnrollmentFactory(person=person, employer=EmployerFactory(office=luqiao))
    page, base = _page(browser), live_server.url

    _login(page, base, desk.username)
    page.get_by_role("link", name="受理", exact=True).click()
    page.get_by_role("searchbox", name="查找申请人").fill(person.id_number)
    page.get_by_role("button", name="查找").click()
    expect(page.get_by_test_id("registered-elsewhere")).to_contain_text("已在本市登记（路桥区）")
    content = page.content()
    assert "路桥居民" not in content and "13912345678" not in content and luqiao.name not in content
    page.select_option("#id_window_item", "ZM-001")
    page.get_by_role("button", name="通城通办受理").click()
    expect(page.get_by_test_id("window-receipt")).to_be_visible()
    case = Case.objects.get(person=person)
    expect(page.get_by_test_id("case-state")).to_have_text("待受理")
    assert case.window_office == desk.office and case.intake_office.path.startswith(luqiao.parent.path)
    assert page.goto(f"{base}/cases/{case.uid}/").status == 404
    assert page.goto(f"{base}/persons/{person.uid}/").status == 404
    page.context.close()


@pytest.mark.browser
@browser_db
def test_a_double_submit_creates_one_case(live_server, _restore_migration_data, browser):
    from playwright.sync_api import expect

    township = township_of("331003")
    desk = clerk(township)
    person = PersonFactory(residence_office=township)
    employer = EmployerFactory(office=township)
    page, base = _page(browser), live_server.url

    _login(page, base, desk.username)
    page.goto(f"{base}/cases/new/?person={person.uid}&item=CJ-ZG-001&employer={employer.uid}")
    expect(page.get_by_test_id("chosen-employer")).to_contain_text(employer.name)
    page.get_by_label("社会保险参保登记表").check()
    # Two submits of the same form at once (a double click, or a second tab with the same page).
    statuses = page.evaluate(
        """async () => {
            const form = document.querySelector('[data-testid=intake-form]');
            const send = () => fetch(form.action, {method: 'POST', body: new FormData(form), redirect: 'manual'});
            const answers = await Promise.all([send(), send()]);
            return answers.map(a => a.status);
        }"""
    )
    assert len(statuses) == 2
    assert Case.objects.filter(person=person).count() == 1
    case = Case.objects.get(person=person)
    assert case.state == CaseState.APPROVAL
    page.get_by_role("button", name="受理", exact=True).click()  # and a third time, by the button
    expect(page.locator("body")).to_contain_text(case.number)
    assert Case.objects.filter(person=person).count() == 1
    page.context.close()
