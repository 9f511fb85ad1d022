"""A person's pages and applications: own records, the self-issued certificate with its public check, an
application that becomes a case at the chosen office, 补正 by upload, withdrawal, rating, the pension grade —
and the bad input: an upload that is not what it says, an item not offered online (message, nothing written)."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse

from cases import services as case_services
from cases.models import Attachment, Case, CaseRating, CaseState, Certificate, Channel
from cases.tests.factories import clerk, paid_months, reviewer, upload
from cases.tests.factories import item as catalogue_item
from contributions.models import ResidentPensionChoice
from hall.models import HallApplication
from hall.tests.factories import hall_client, person_account
from registry.models import Enrollment, InsuranceType, Office
from registry.tests.factories import EnrollmentFactory, PersonFactory, township_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def township():
    return township_of("331003")


@pytest.fixture
def person(township):
    return PersonFactory(residence_office=township, name="陈静")


def test_own_records_with_the_id_number_masked_even_to_its_owner(person):
    EnrollmentFactory(person=person)
    paid_months(person, InsuranceType.EMPLOYEE_PENSION, 3, first_period=202401)
    client = hall_client(person_account(person))
    for name in ("me", "enrollments", "record"):
        page = client.get(reverse(f"hall:{name}")).content.decode()
        assert person.id_number not in page, name
    assert person.id_number[:6] + "********" in client.get(reverse("hall:me")).content.decode()
    record = client.get(reverse("hall:record"), {"year": 2024}).content.decode()
    assert "2024年01月" in record and "2024年03月" in record and "累计 3 个月" in record
    pdf = client.get(reverse("hall:record_pdf"))
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")


def test_certificate_issued_at_once_and_checked_on_the_public_page(person):
    EnrollmentFactory(person=person)
    client = hall_client(person_account(person))
    page = client.get(reverse("hall:certificates")).content.decode()
    assert "立即出具：社会保险参保证明" in page
    item = catalogue_item("ZM-001")
    response = client.post(reverse("hall:certificates"), {"item": item.pk}, follow=True)
    certificate = Certificate.objects.get(person=person)
    assert certificate.case.channel == Channel.ONLINE and certificate.case.state == CaseState.COMPLETED
    assert certificate.content["person"]["id_number_masked"] != person.id_number
    assert certificate.code in response.content.decode()
    pdf = client.get(reverse("hall:certificate_pdf", args=[certificate.uid]))
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    check = hall_client(person_account()).get(f"/verify/{certificate.code}/")
    assert check.status_code == 200 and "社会保险参保证明" in check.content.decode()


def _apply(client, code: str = "CJ-GR-002", **data):
    return client.post(reverse("hall:application_new", args=[code]), data)


def test_application_becomes_a_case_waiting_at_the_residence_office_then_补正_and_completion(person, township):
    account = person_account(person)
    client = hall_client(account)
    response = _apply(client, f_start_date="2026-01-01", f_grade="1", m_hukou=upload("户口簿.pdf"))
    case = Case.objects.get(person=person)
    assert response.status_code == 302 and response["Location"] == reverse("hall:application", args=[case.uid])
    assert case.channel == Channel.ONLINE and case.state == CaseState.SUBMITTED and case.intake_office == township
    assert HallApplication.objects.get(case=case).account == account
    assert case.attachments.get().material.code == "hukou"
    desk = clerk(township)
    case_services.case_accept(case=case, acting_user=desk, materials_received=["hukou"])
    case_services.case_request_correction(
        case=case, acting_user=reviewer(township), missing=["hukou"], note="户口簿不清晰"
    )
    page = client.get(reverse("hall:application", args=[case.uid])).content.decode()
    assert "补正材料" in page and "户口簿不清晰" in page
    client.post(
        reverse("hall:application_action", args=[case.uid, "supplement"]), {"m_hukou": upload("户口簿-清晰.pdf")}
    )
    case.refresh_from_db()
    assert case.state == CaseState.APPROVAL and case.attachments.count() == 2
    case_services.case_pass(case=case, acting_user=reviewer(township.parent))
    assert Enrollment.objects.filter(person=person, insurance_type="res_pension").exists()
    client.post(reverse("hall:application_action", args=[case.uid, "rate"]), {"score": "5", "comment": "很快"})
    rating = CaseRating.objects.get(case=case)
    assert rating.score == 5 and rating.channel == "online" and rating.office == case.current_office
    again = client.post(reverse("hall:application_action", args=[case.uid, "rate"]), {"score": "1"}, follow=True)
    assert "每件只能评价一次" in again.content.decode() and CaseRating.objects.count() == 1


def test_application_at_a_chosen_office_and_withdrawal(person, township):
    client = hall_client(person_account(person))
    district = Office.objects.get(code="331003")
    _apply(client, f_start_date="2026-01-01", f_grade="1", intake_office=district.pk, m_hukou=upload())
    case = Case.objects.get(person=person)
    assert case.intake_office == district
    client.post(reverse("hall:application_action", args=[case.uid, "withdraw"]), {"reason": "不需要了"})
    case.refresh_from_db()
    assert case.state == CaseState.WITHDRAWN


def test_an_upload_that_is_not_what_it_says_writes_nothing(person):
    client = hall_client(person_account(person))
    fake = upload("户口簿.pdf", content=b"MZ\x90\x00 this is an exe", content_type="application/pdf")
    response = _apply(client, f_start_date="2026-01-01", f_grade="1", m_hukou=fake)
    assert response.status_code == 400 and "Windows 可执行程序" in response.content.decode()
    assert not Case.objects.exists() and not Attachment.objects.exists() and not HallApplication.objects.exists()


def test_an_item_not_offered_online_writes_nothing(person):
    client = hall_client(person_account(person))
    response = _apply(client, "DY-006", f_start_month="2026-01")
    assert response.status_code == 400 and "暂不支持网上申请" in response.content.decode()
    assert "暂不支持网上申请" in client.get(reverse("hall:application_new", args=["DY-006"])).content.decode()
    assert not Case.objects.exists()


def test_a_case_taken_in_at_the_counter_is_shown_but_not_acted_on(person, township):
    case = case_services.case_intake(
        acting_user=clerk(township),
        item=catalogue_item("CJ-GR-002"),
        person=person,
        materials_received=["hukou"],
        form_data={"start_date": "2026-01-01", "grade": "1"},
    )
    client = hall_client(person_account(person))
    page = client.get(reverse("hall:application", args=[case.uid]))
    assert page.status_code == 200 and "撤回申请" not in page.content.decode()
    response = client.post(reverse("hall:application_action", args=[case.uid, "withdraw"]), {"reason": "x"})
    assert response.status_code == 404
    case.refresh_from_db()
    assert case.state != CaseState.WITHDRAWN


def test_resident_pension_grade_for_next_year(person):
    EnrollmentFactory(person=person, insurance_type="res_pension", employer=None, start_date=datetime.date(2020, 1, 1))
    client = hall_client(person_account(person))
    page = client.get(reverse("hall:pension_grade"))
    assert page.status_code == 200
    grades = page.context["form"].fields["grade"].choices
    assert grades, "the reference data has resident pension grades in force next year"
    response = client.post(reverse("hall:pension_grade"), {"grade": grades[0][0]})
    assert response.status_code == 302
    next_year = datetime.date.today().year + 1
    assert ResidentPensionChoice.objects.filter(person=person, year=next_year).exists()


@pytest.mark.postgres  # payroll's running awards are PostgreSQL SQL; tests/test_make_run_sqlite.py checks SQLite's refusal
def test_yearly_certification_online(person):
    from payroll.models import Certification
    from payroll.tests.factories import award as payroll_award

    client = hall_client(person_account(person))
    refused = client.post(reverse("hall:certification"), {"confirm": "on"})
    assert refused.status_code == 400 and "没有正在领取" in refused.content.decode()
    assert not Certification.objects.exists()
    a = payroll_award()
    client = hall_client(person_account(a.person))
    assert client.get(reverse("hall:certification")).status_code == 200
    assert client.post(reverse("hall:certification"), {"confirm": "on"}).status_code == 302
    assert Certification.objects.get(person=a.person).channel == "online"
