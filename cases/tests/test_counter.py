"""The counter (issue 16, part a): registration of persons and employers, 通城通办, five insurances in one case, staff
changes (also by upload), 停保, moves between employers and districts, changes of details, no duplicate work."""

from __future__ import annotations

import datetime
import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, transaction
from django.utils import timezone

from cases import services
from cases.models import Case, CaseState
from cases.tests.factories import clerk, item, reviewer, upload
from registry.exceptions import ConflictError
from registry.models import Employer, Enrollment, Person
from registry.tests.factories import (
    EmployerFactory,
    EnrollmentFactory,
    PersonFactory,
    make_credit_code,
    make_id_number,
    township_of,
)
from registry.tests.helpers import page_client_for

pytestmark = pytest.mark.django_db
FIVE = ["emp_pension", "emp_medical", "unemployment", "work_injury", "maternity"]
FULLWIDTH = str.maketrans("0123456789X", "０１２３４５６７８９Ｘ")


def this_month() -> str:
    return timezone.localdate().strftime("%Y-%m")


@pytest.fixture
def hy_town():
    return township_of("331003")


@pytest.fixture
def lq_town():
    return township_of("331004")


# ---------------------------------------------------------------------------------------------
# Registration.


def test_a_person_typed_with_full_width_digits_and_dashes_is_registered_with_sex_and_birth(hy_town):
    number = make_id_number(birth="19900215")
    typed = f"{number[:6]}-{number[6:14]} {number[14:]}".translate(FULLWIDTH)
    client = page_client_for(clerk(hy_town))
    form = client.get("/counter/persons/new/").content.decode()
    assert 'data-enter-next="1"' in form and "autofocus" in form
    response = client.post(
        "/counter/persons/new/",
        {"id_number": typed, "name": "林小红", "household_type": "urban", "residence_office": hy_town.code},
    )
    person = Person.objects.get(id_number=number)
    assert response.status_code == 302 and response["Location"] == f"/persons/{person.uid}/"
    assert person.birth_date == datetime.date(1990, 2, 15)
    assert person.sex == ("M" if int(number[16]) % 2 else "F")


def test_every_error_of_the_registration_form_is_shown_at_once_next_to_its_field(hy_town, lq_town):
    client = page_client_for(clerk(hy_town))
    good = make_id_number()
    bad = good[:-1] + ("1" if good[-1] == "0" else "0")  # a wrong check character, never the right one by chance
    page = client.post(
        "/counter/persons/new/",
        {"id_number": bad, "name": "", "household_type": "x", "residence_office": lq_town.code},
    ).content.decode()
    assert "校验位错误" in page
    assert page.count('class="errorlist"') >= 3
    assert not Person.objects.filter(name="").exists()


def test_an_unknown_area_code_is_registered_with_a_visible_warning(hy_town):
    number = make_id_number(area="999999")
    response = page_client_for(clerk(hy_town)).post(
        "/counter/persons/new/",
        {"id_number": number, "name": "王五", "household_type": "urban", "residence_office": hy_town.code},
        follow=True,
    )
    assert Person.objects.filter(id_number=number).exists()
    assert "999999 不在行政区划代码表中" in response.content.decode()


def test_a_person_of_another_district_is_not_registered_twice_and_only_the_district_is_said(hy_town, lq_town):
    other = PersonFactory(residence_office=lq_town, name="路桥人甲", phone="13900000000")
    page = (
        page_client_for(clerk(hy_town))
        .post(
            "/counter/persons/new/",
            {"id_number": other.id_number, "name": "别名", "household_type": "urban", "residence_office": hy_town.code},
        )
        .content.decode()
    )
    assert "已在本市登记（路桥区）" in page
    assert "路桥人甲" not in page and "13900000000" not in page and lq_town.name not in page
    assert Person.objects.filter(id_number=other.id_number).count() == 1


def test_the_intake_search_says_only_the_district_for_a_number_registered_elsewhere(hy_town, lq_town):
    other = PersonFactory(residence_office=lq_town, name="路桥人乙")
    page = page_client_for(clerk(hy_town)).post("/cases/new/", {"op": "search", "q": other.id_number}).content.decode()
    assert "已在本市登记（路桥区）" in page
    assert "路桥人乙" not in page and lq_town.name not in page


def test_a_double_submit_of_the_registration_form_registers_once(hy_town):
    client = page_client_for(clerk(hy_town))
    data = {
        "id_number": make_id_number(),
        "name": "赵六",
        "household_type": "urban",
        "residence_office": hy_town.code,
        "form_token": "tok-person-1",
    }
    first = client.post("/counter/persons/new/", data)
    second = client.post("/counter/persons/new/", data)
    assert Person.objects.filter(id_number=data["id_number"]).count() == 1
    assert second.status_code == 302 and second["Location"] == first["Location"]


def test_an_employer_is_registered_with_its_credit_code_normalised(hy_town):
    code = make_credit_code()
    response = page_client_for(clerk(hy_town)).post(
        "/counter/employers/new/",
        {
            "credit_code": f" {code[:8]}-{code[8:]} ".lower(),
            "name": "台州新单位有限公司",
            "employer_type": "enterprise",
            "legal_representative": "张三",
            "office": hy_town.code,
            "risk_class": "2",
        },
    )
    employer = Employer.objects.get(credit_code=code)
    assert response["Location"] == f"/counter/employers/{employer.uid}/"
    assert employer.legal_representative == "张三" and employer.risk_class == 2


def test_a_credit_code_of_another_type_and_an_office_outside_my_jurisdiction_are_refused(hy_town, lq_town):
    code = make_credit_code().replace("91", "92", 1)
    from stdnum.cn import uscc

    code = code[:17] + uscc.calc_check_digit(code[:17])
    page = (
        page_client_for(clerk(hy_town))
        .post(
            "/counter/employers/new/",
            {
                "credit_code": code,
                "name": "X",
                "employer_type": "enterprise",
                "office": lq_town.code,
                "risk_class": "1",
            },
        )
        .content.decode()
    )
    assert "选择一个有效的选项" in page or "Select a valid choice" in page
    page = (
        page_client_for(clerk(hy_town))
        .post(
            "/counter/employers/new/",
            {
                "credit_code": code,
                "name": "X",
                "employer_type": "enterprise",
                "office": hy_town.code,
                "risk_class": "1",
            },
        )
        .content.decode()
    )
    assert "与所选单位类型不符" in page
    assert not Employer.objects.filter(credit_code=code).exists()


# ---------------------------------------------------------------------------------------------
# Five insurances in one case.


def _enroll(client, person, employer, **extra):
    data = {
        "op": "intake",
        "person": str(person.uid),
        "item": "CJ-ZG-001",
        "employer": str(employer.uid),
        "materials": ["form"],
        "f_insurance_types": FIVE,
        "f_start_month": this_month(),
    }
    data.update(extra)
    return client.post("/cases/new/", data)


def test_employee_enrollment_in_five_insurances_is_one_case_and_completing_creates_all_five(hy_town):
    person = PersonFactory(residence_office=hy_town)
    employer = EmployerFactory(office=hy_town)
    desk = clerk(hy_town)
    response = _enroll(page_client_for(desk), person, employer)
    case = Case.objects.get(person=person)
    assert response.status_code == 302
    assert case.state == CaseState.APPROVAL and case.form_data["insurance_types"] == FIVE
    services.case_pass(case=case, acting_user=reviewer(hy_town.parent))
    rows = Enrollment.objects.filter(person=person, employer=employer)
    assert sorted(rows.values_list("insurance_type", flat=True)) == sorted(FIVE)
    assert {e.start_date for e in rows} == {timezone.localdate().replace(day=1)}


def test_the_intake_form_ticks_the_five_employee_insurances_by_default(hy_town):
    person = PersonFactory(residence_office=hy_town)
    page = page_client_for(clerk(hy_town)).get(f"/cases/new/?person={person.uid}&item=CJ-ZG-001").content.decode()
    assert page.count('name="f_insurance_types"') == 5
    assert page.count("checked") >= 5


def test_bad_enrollment_input_is_shown_next_to_the_fields_and_nothing_is_saved(hy_town):
    person = PersonFactory(residence_office=hy_town)
    employer = EmployerFactory(office=hy_town)
    client = page_client_for(clerk(hy_town))
    page = _enroll(client, person, employer, f_start_month="2099-01", files=[upload("表.pdf")]).content.decode()
    assert "晚于一个月之后" in page
    assert "表.pdf" in page  # the chosen scan is kept
    assert not Case.objects.exists()
    young = PersonFactory(residence_office=hy_town, id_number=make_id_number(birth="20150101"))
    page = _enroll(client, young, employer).content.decode()
    assert "年满 16 周岁" in page
    assert not Case.objects.exists()


def test_a_scan_kept_after_an_error_is_attached_when_the_form_is_sent_again(hy_town):
    person = PersonFactory(residence_office=hy_town)
    employer = EmployerFactory(office=hy_town)
    client = page_client_for(clerk(hy_town))
    page = _enroll(client, person, employer, f_start_month="2099-01", files=[upload("表.pdf")]).content.decode()
    kept = [part.split('"')[0] for part in page.split('name="kept_files" value="')[1:]]
    assert len(kept) == 1
    _enroll(client, person, employer, kept_files=kept)
    case = Case.objects.get(person=person)
    assert list(case.attachments.values_list("original_name", flat=True)) == ["表.pdf"]


def test_registration_later_than_30_days_after_hiring_is_flagged(hy_town):
    person = PersonFactory(residence_office=hy_town)
    employer = EmployerFactory(office=hy_town)
    hired = timezone.localdate() - datetime.timedelta(days=45)
    _enroll(page_client_for(clerk(hy_town)), person, employer, f_hire_date=hired.isoformat())
    case = Case.objects.get(person=person)
    assert case.form_data["late_registration"] is True
    page = page_client_for(clerk(hy_town)).get(f"/cases/{case.uid}/").content.decode()
    assert "超过入职后 30 日登记" in page


def test_employee_pension_offers_to_end_the_resident_pension_of_the_same_month(hy_town):
    person = PersonFactory(residence_office=hy_town)
    resident = EnrollmentFactory(person=person, insurance_type="res_pension", employer=None)
    employer = EmployerFactory(office=hy_town)
    client = page_client_for(clerk(hy_town))
    page = _enroll(client, person, employer).content.decode()
    assert "同一月份不能同时参加两种养老保险" in page
    _enroll(client, person, employer, f_end_other_pension="on")
    services.case_pass(case=Case.objects.get(person=person), acting_user=reviewer(hy_town.parent))
    resident.refresh_from_db()
    assert resident.end_date == timezone.localdate().replace(day=1) - datetime.timedelta(days=1)


def test_a_second_open_case_of_the_same_enrollment_is_refused_by_the_service_and_the_database(hy_town):
    person = PersonFactory(residence_office=hy_town)
    employer = EmployerFactory(office=hy_town)
    desk = clerk(hy_town)
    data = {"insurance_types": FIVE, "start_month": this_month()}
    first = services.case_intake(
        acting_user=desk, item=item("CJ-ZG-001"), person=person, employer=employer, form_data=data
    )
    with pytest.raises(ConflictError, match=first.number):
        services.case_intake(acting_user=desk, item=item("CJ-ZG-001"), person=person, employer=employer, form_data=data)
    twin = Case.objects.get(pk=first.pk)
    twin.pk, twin.uid, twin.number = None, uuid.uuid4(), first.number + "X"
    with pytest.raises(IntegrityError, match="case_open_once"), transaction.atomic():
        twin.save()


def test_a_double_submit_of_the_intake_form_creates_one_case(hy_town):
    person = PersonFactory(residence_office=hy_town)
    employer = EmployerFactory(office=hy_town)
    client = page_client_for(clerk(hy_town))
    first = _enroll(client, person, employer, form_token="tok-intake-1")
    second = _enroll(client, person, employer, form_token="tok-intake-1")
    assert Case.objects.filter(person=person).count() == 1
    assert second["Location"] == first["Location"]


# ---------------------------------------------------------------------------------------------
# Staff changes, 停保, moves.


def _staff_csv(rows: list[str]) -> SimpleUploadedFile:
    text = "公民身份号码,姓名,入职日期\r\n" + "\r\n".join(rows)
    return SimpleUploadedFile("名单.csv", text.encode("gb18030"), content_type="text/csv")


def _add_staff(client, employer, upload_file=None, **extra):
    data = {
        "op": "intake",
        "item": "CJ-DW-001",
        "employer": str(employer.uid),
        "materials": ["list"],
        "f_insurance_types": FIVE,
        "f_start_month": this_month(),
    }
    if upload_file is not None:
        data["staff_file"] = upload_file
    data.update(extra)
    return client.post("/cases/new/", data)


def test_three_employees_added_by_uploading_the_employers_list(hy_town):
    employer = EmployerFactory(office=hy_town)
    known = PersonFactory(residence_office=hy_town)
    new1, new2 = make_id_number(birth="19950101"), make_id_number(birth="19960101")
    today = timezone.localdate().isoformat()
    rows = [f"{known.id_number},{known.name},{today}", f"{new1},新员工一,{today}", f"{new2},新员工二,"]
    response = _add_staff(page_client_for(clerk(hy_town)), employer, _staff_csv(rows))
    case = Case.objects.get(employer=employer)
    assert response.status_code == 302 and case.state == CaseState.COMPLETED, case.result_summary
    assert Enrollment.objects.filter(employer=employer).count() == 15
    assert Person.objects.get(id_number=new1).residence_office == hy_town


def test_bad_rows_of_an_uploaded_list_are_reported_by_line_and_nothing_is_saved(hy_town):
    employer = EmployerFactory(office=hy_town)
    good = make_id_number()
    rows = [f"{good},好人,", "123,坏号码,", f"{make_id_number()},,2025-02-30"]
    page = _add_staff(page_client_for(clerk(hy_town)), employer, _staff_csv(rows)).content.decode()
    assert "第 3 行" in page and "第 4 行" in page
    assert "第 2 行" not in page
    assert not Case.objects.exists() and not Person.objects.filter(id_number=good).exists()
    empty = SimpleUploadedFile("empty.csv", b"", content_type="text/csv")
    page = _add_staff(page_client_for(clerk(hy_town)), employer, empty).content.decode()
    assert "请填写或上传人员名单" in page or "名单文件是空的" in page


def test_an_oversized_list_is_refused(hy_town):
    employer = EmployerFactory(office=hy_town)
    big = SimpleUploadedFile("big.csv", b"x" * (1024 * 1024 + 10), content_type="text/csv")
    page = _add_staff(page_client_for(clerk(hy_town)), employer, big).content.decode()
    assert "名单文件超过 1 MB" in page
    assert not Case.objects.exists()


def test_a_luqiao_clerk_adds_a_huangyan_employee_and_the_huangyan_enrollment_ends(hy_town, lq_town):
    person = PersonFactory(residence_office=hy_town)
    old = EnrollmentFactory(person=person, employer=EmployerFactory(office=hy_town), insurance_type="emp_pension")
    new_employer = EmployerFactory(office=lq_town, credit_code=make_credit_code(area="331004"))
    response = _add_staff(
        page_client_for(clerk(lq_town.parent)),
        new_employer,
        f_employees=f"{person.id_number.translate(FULLWIDTH)}",
        f_insurance_types=["emp_pension", "emp_medical"],
    )
    assert response.status_code == 302
    old.refresh_from_db()
    start = timezone.localdate().replace(day=1)
    assert old.end_date == start - datetime.timedelta(days=1)
    assert Enrollment.objects.filter(person=person, employer=new_employer, start_date=start).count() == 2


def test_staff_removal_and_stopping_an_enrollment(hy_town):
    employer = EmployerFactory(office=hy_town)
    a, b = PersonFactory(residence_office=hy_town), PersonFactory(residence_office=hy_town)
    for person in (a, b):
        for itype in ("emp_pension", "emp_medical"):
            EnrollmentFactory(person=person, employer=employer, insurance_type=itype)
    client = page_client_for(clerk(hy_town))
    client.post(
        "/cases/new/",
        {
            "op": "intake",
            "item": "CJ-DW-002",
            "employer": str(employer.uid),
            "materials": ["list"],
            "f_employees": a.id_number,
            "f_end_month": this_month(),
        },
    )
    last = timezone.localdate().replace(day=1) - datetime.timedelta(days=1)
    assert set(Enrollment.objects.filter(person=a).values_list("end_date", flat=True)) == {last}
    client.post(
        "/cases/new/",
        {
            "op": "intake",
            "person": str(b.uid),
            "item": "CJ-GR-003",
            "f_insurance_types": ["emp_medical"],
            "f_end_month": this_month(),
        },
    )
    assert Enrollment.objects.get(person=b, insurance_type="emp_medical").end_date == last
    assert Enrollment.objects.get(person=b, insurance_type="emp_pension").end_date is None


# ---------------------------------------------------------------------------------------------
# Changes of details, 通城通办, pages.


def test_a_change_of_details_keeps_old_and_new_values_in_the_case_and_the_history(hy_town):
    person = PersonFactory(residence_office=hy_town, phone="111")
    client = page_client_for(clerk(hy_town))
    client.post(
        "/cases/new/",
        {"op": "intake", "person": str(person.uid), "item": "BG-GR-001", "f_phone": "13800000000"},
    )
    case = Case.objects.get(person=person)
    assert case.form_data["changes"]["phone"] == {"old": "111", "new": "13800000000", "label": "联系电话"}
    person.refresh_from_db()
    assert person.phone == "13800000000"
    page = client.get(f"/persons/{person.uid}/").content.decode()
    assert "111 → 13800000000" in page


def test_a_window_of_huangyan_takes_in_a_certificate_for_a_luqiao_person(hy_town, lq_town):
    person = PersonFactory(residence_office=lq_town)
    EnrollmentFactory(person=person, employer=EmployerFactory(office=lq_town))
    desk = clerk(hy_town)
    client = page_client_for(desk)
    response = client.post("/counter/window/", {"id_number": person.id_number, "item": "ZM-001"})
    case = Case.objects.get(person=person)
    assert response["Location"] == f"/counter/window/{case.uid}/"
    assert case.window_office == hy_town and case.intake_office.path.startswith(lq_town.parent.path)
    assert case.state == CaseState.SUBMITTED
    page = client.get(response["Location"]).content.decode()
    assert case.number in page and "路桥区" in page
    assert client.get(f"/cases/{case.uid}/").status_code == 404
    assert client.get(f"/persons/{person.uid}/").status_code == 404
    assert page_client_for(clerk(township_of("331002"))).get(f"/counter/window/{case.uid}/").status_code == 404
    services.case_accept(case=case, acting_user=clerk(case.intake_office))
    case.refresh_from_db()
    assert case.state == CaseState.COMPLETED


def test_the_home_page_shows_my_offices_counts_and_my_recent_cases(hy_town):
    desk = clerk(hy_town)
    person = PersonFactory(residence_office=hy_town)
    case = services.case_intake(
        acting_user=desk,
        item=item("CJ-GR-001"),
        person=person,
        materials_received=["form"],
        form_data={"insurance_type": "res_medical", "start_date": timezone.localdate().isoformat()},
    )
    page = page_client_for(desk).get("/").content.decode()
    assert 'data-testid="count-pending"' in page and 'data-testid="count-overdue"' in page
    assert case.number in page


def test_the_employer_page_shows_staff_and_buttons_for_its_items(hy_town, lq_town):
    employer = EmployerFactory(office=hy_town)
    EnrollmentFactory(employer=employer, person=PersonFactory(residence_office=hy_town, name="员工丙"))
    client = page_client_for(clerk(hy_town))
    page = client.get(f"/counter/employers/{employer.uid}/").content.decode()
    assert "员工丙" in page and "单位增员" in page and "单位减员" in page
    other = EmployerFactory(office=lq_town, credit_code=make_credit_code(area="331004"))
    assert client.get(f"/counter/employers/{other.uid}/").status_code == 404


def test_resident_pension_enrollment_ends_the_employee_pension_of_the_same_month(hy_town):
    person = PersonFactory(residence_office=hy_town, household_type="rural")
    employee = EnrollmentFactory(person=person, insurance_type="emp_pension")
    start = timezone.localdate().replace(day=1)
    case = services.case_intake(
        acting_user=clerk(hy_town),
        item=item("CJ-GR-002"),
        person=person,
        materials_received=["hukou"],
        form_data={"start_date": start.isoformat()},
    )
    assert case.form_data["end_other_pension"] is True
    assert "同一月份只能参加一种养老保险" in page_client_for(clerk(hy_town)).get(f"/cases/{case.uid}/").content.decode()
    services.case_pass(case=case, acting_user=reviewer(hy_town))
    employee.refresh_from_db()
    assert employee.end_date == start - datetime.timedelta(days=1)
    assert Enrollment.objects.get(person=person, insurance_type="res_pension").start_date == start


def test_start_dates_before_birth_or_16_or_far_ahead_are_refused(hy_town):
    baby = PersonFactory(residence_office=hy_town, id_number=make_id_number(birth="20240601"))
    with pytest.raises(Exception, match="出生日期"):
        services.case_intake(
            acting_user=clerk(hy_town),
            item=item("CJ-GR-001"),
            person=baby,
            materials_received=["form"],
            form_data={"insurance_type": "res_medical", "start_date": "2024-01-01"},
        )
    with pytest.raises(Exception, match="16 周岁"):
        services.case_intake(
            acting_user=clerk(hy_town),
            item=item("CJ-GR-002"),
            person=baby,
            materials_received=["hukou"],
            form_data={"start_date": "2025-01-01"},
        )
    assert not Case.objects.exists()
