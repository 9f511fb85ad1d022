"""What completing a case does in the other apps: the enrollment, the certificate PDF with its verification,
the card marked lost, benefits from the policy parameters (eligibility first), payments posted to funds."""

from __future__ import annotations

import datetime
import re
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage

from cases import selectors, services
from cases.models import BenefitPayment, Case, CaseState, Certificate, CertificateKind, Effect, ServiceItem
from cases.tests.factories import (
    clerk,
    head,
    item,
    land_farmer_claim,
    paid_months,
    person_with_card,
    reviewer,
)
from contributions.models import Bill, ResidentPensionChoice
from contributions.selectors import contribution_months
from policies.selectors import parameter_value
from registry.models import CardStatus, Enrollment, Office, Person
from registry.tests.factories import EmployerFactory, EnrollmentFactory, PersonFactory, make_id_number, township_of

D = datetime.date
pytestmark = pytest.mark.django_db


@pytest.fixture
def hy_town():
    return township_of("331003")


@pytest.fixture
def hy_district():
    return Office.objects.get(code="331003")


# ---------------------------------------------------------------------------------------------
# Enrollment.


def test_an_employee_registration_with_an_employer_creates_the_enrollment(hy_town, hy_district):
    employer = EmployerFactory(office=hy_town)
    person = PersonFactory(residence_office=hy_town)
    case = services.case_intake(
        acting_user=clerk(hy_town),
        item=item("CJ-GR-001"),
        person=person,
        employer=employer,
        materials_received=["form", "contract"],
        form_data={"insurance_type": "emp_pension", "start_date": "2025-04-01"},
    )
    assert not Enrollment.objects.filter(person=person).exists()  # not before approval
    services.case_pass(case=case, acting_user=reviewer(hy_district))
    enrollment = Enrollment.objects.get(person=person)
    assert (enrollment.employer, enrollment.insurance_type) == (employer, "emp_pension")
    assert enrollment.history.first().history_user is not None


def test_an_overlap_found_at_approval_refuses_the_approval_and_changes_nothing(hy_town, hy_district):
    person = PersonFactory(residence_office=hy_town)
    case = services.case_intake(
        acting_user=clerk(hy_town),
        item=item("CJ-GR-001"),
        person=person,
        materials_received=["form"],
        form_data={"insurance_type": "res_medical", "start_date": "2025-04-01"},
    )
    # Meanwhile another channel registered the same insurance.
    EnrollmentFactory(person=person, insurance_type="res_medical", employer=None, start_date=D(2025, 1, 1))
    with pytest.raises(ValidationError) as exc:
        services.case_pass(case=case, acting_user=reviewer(hy_district))
    assert "不能重叠" in exc.value.message_dict["start_date"][0]
    case.refresh_from_db()
    assert case.state == CaseState.APPROVAL
    assert Enrollment.objects.filter(person=person).count() == 1


def test_resident_pension_enrollment_completes_at_the_township(hy_town):
    person = PersonFactory(residence_office=hy_town)
    case = services.case_intake(
        acting_user=clerk(hy_town),
        item=item("CJ-GR-002"),
        person=person,
        materials_received=["hukou"],
        form_data={"start_date": "2025-01-01", "grade": "3"},
    )
    assert case.current_office == hy_town  # 服务下沉: the township approves
    case = services.case_pass(case=case, acting_user=reviewer(hy_town))
    assert Enrollment.objects.get(person=person).insurance_type == "res_pension"
    # The year's grade is chosen with the enrollment: grade 3 of 2025 is 500 yuan with a 70 yuan subsidy.
    bill = Bill.objects.get(person=person, kind="res_pension", period=202501)
    assert (bill.total, bill.subsidy_city + bill.subsidy_district) == (Decimal("500.00"), Decimal("70.00"))
    assert ResidentPensionChoice.objects.get(person=person, year=2025).grade == 3
    assert "第 3 档缴费 500.00 元" in case.result_summary


def test_resident_pension_enrollment_needs_a_grade_of_the_years_table(hy_town):
    person = PersonFactory(residence_office=hy_town)
    with pytest.raises(ValidationError) as exc:
        services.case_intake(
            acting_user=clerk(hy_town),
            item=item("CJ-GR-002"),
            person=person,
            materials_received=["hukou"],
            form_data={"start_date": "2025-01-01", "grade": "9"},
        )
    assert exc.value.message_dict["grade"] == ["请选择缴费档次。"]


# ---------------------------------------------------------------------------------------------
# Certificates.


def _enrolled_person(office) -> Person:
    person = PersonFactory(residence_office=office, name="王芳")
    EnrollmentFactory(person=person, insurance_type="emp_pension", employer=EmployerFactory(office=office))
    paid_months(person, "emp_pension", 24)
    return person


def test_a_certificate_is_issued_on_the_spot_with_an_embedded_font_a_code_and_a_qr(hy_town):
    person = _enrolled_person(hy_town)
    case = services.case_intake(
        acting_user=clerk(hy_town), item=item("ZM-001"), person=person, public_base_url="https://shebao.example"
    )
    assert case.state == CaseState.COMPLETED
    certificate = case.certificate
    assert certificate.kind == CertificateKind.ENROLLMENT
    assert re.fullmatch(r"[A-HJ-NP-Z2-9]{16}", certificate.code)
    pdf = default_storage.open(certificate.attachment.file.name).read()
    assert pdf.startswith(b"%PDF-")
    assert b"/FontFile2" in pdf  # TrueType Chinese font embedded (subset)
    assert certificate.font_embedded
    assert b"/Subtype /Image" in pdf  # the QR code
    assert certificate.content["rows"][0][0] == "职工基本养老保险"
    assert certificate.content["rows"][0][-1] == "24"
    assert certificate.content["person"]["id_number_masked"] != person.id_number
    assert certificate.content["verify_url"] == f"https://shebao.example/verify/{certificate.code}/"
    verification = selectors.certificate_verify(code=certificate.code.lower())
    assert verification.genuine and verification.certificate == certificate
    assert selectors.certificate_verify(code="ABCD-EFGH-JKLM-NPQR") is None


def test_an_altered_certificate_record_no_longer_verifies(hy_town):
    case = services.case_intake(acting_user=clerk(hy_town), item=item("ZM-001"), person=_enrolled_person(hy_town))
    certificate = case.certificate
    content = dict(certificate.content)
    content["issued_on"] = "2001-01-01"
    Certificate.objects.filter(pk=certificate.pk).update(content=content)
    assert selectors.certificate_verify(code=certificate.code).genuine is False


def test_no_certificate_for_a_person_without_enrollment(hy_town):
    with pytest.raises(ValidationError) as exc:
        services.case_intake(
            acting_user=clerk(hy_town), item=item("ZM-001"), person=PersonFactory(residence_office=hy_town)
        )
    assert "没有参保登记" in exc.value.message_dict["person"][0]
    assert not Case.objects.exists()


def test_the_personal_record_print(hy_town):
    person = _enrolled_person(hy_town)
    case = services.case_intake(acting_user=clerk(hy_town), item=item("ZM-002"), person=person)
    assert case.certificate.kind == CertificateKind.RECORD
    assert case.certificate.content["rows"] == [["职工基本养老保险", "24"]]


# ---------------------------------------------------------------------------------------------
# Card loss.


def test_card_loss_marks_the_card_lost_at_once(hy_town):
    person = person_with_card(hy_town)
    case = services.case_intake(acting_user=clerk(hy_town), item=item("KA-002"), person=person)
    assert case.state == CaseState.COMPLETED
    person.refresh_from_db()
    assert person.card_status == CardStatus.LOST
    assert "挂失" in person.history.first().history_change_reason


def test_a_card_that_is_not_active_cannot_be_reported_lost(hy_town):
    person = PersonFactory(residence_office=hy_town)
    with pytest.raises(ValidationError) as exc:
        services.case_intake(acting_user=clerk(hy_town), item=item("KA-002"), person=person)
    assert "未制卡" in exc.value.message_dict["person"][0]
    assert not Case.objects.exists()


# ---------------------------------------------------------------------------------------------
# Benefits.


def test_a_pension_claim_with_under_15_years_is_refused_at_intake(hy_town):
    person = PersonFactory(residence_office=hy_town)
    paid_months(person, "emp_pension", 179)
    assert contribution_months(person, "emp_pension") == 179
    with pytest.raises(ValidationError) as exc:
        services.case_intake(
            acting_user=clerk(hy_town),
            item=item("DY-001"),
            person=person,
            materials_received=["retirement", "bank"],
            form_data={"start_month": "2025-03"},
        )
    message = exc.value.message_dict["person"][0]
    assert "14 年 11 个月" in message and "180" in message
    assert not Case.objects.exists()


def test_a_pension_with_15_years_is_computed_from_the_parameters(hy_town, hy_district):
    person = PersonFactory(residence_office=hy_town)
    paid_months(person, "emp_pension", 180, base=Decimal("5000.00"))
    case = services.case_intake(
        acting_user=clerk(hy_town),
        item=item("DY-001"),
        person=person,
        materials_received=["retirement", "bank"],
        form_data={"start_month": "2025-03"},
    )
    case = services.case_pass(case=case, acting_user=reviewer(hy_district))
    case = services.case_pass(case=case, acting_user=head(Office.objects.get(level=1)))
    award = case.award
    on = D(2025, 3, 1)
    wage = parameter_value("wage.average_monthly", on=on, office=hy_town).value
    assert award.basis["contribution_months"] == 180
    index = Decimal(award.basis["average_index"])
    basic = wage * (1 + index) / 2 * 15 * Decimal("0.01")
    account = Decimal("400.00") * 180 / 139
    assert abs(award.monthly_amount - (basic + account)) < Decimal("0.02")
    assert award.months is None
    assert award.office == hy_district


def test_unemployment_benefit_amount_and_duration_from_parameters_and_law(hy_town, hy_district):
    person = PersonFactory(residence_office=hy_town)
    paid_months(person, "unemployment", 72)  # 6 years → up to 18 months
    case = services.case_intake(
        acting_user=clerk(hy_town),
        item=item("DY-002"),
        person=person,
        materials_received=["separation", "registration", "bank"],
        form_data={"start_month": "2025-06"},
    )
    case = services.case_pass(case=case, acting_user=reviewer(hy_district))
    award = case.award
    on = D(2025, 6, 1)
    minimum = parameter_value("wage.minimum_monthly", on=on, office=hy_town).value
    ratio = parameter_value("benefit.unemployment.ratio_of_min_wage", on=on, office=hy_town).value
    assert award.monthly_amount == (minimum * ratio).quantize(Decimal("0.01"))
    assert award.months == 18
    assert "每月" in case.result_summary


def test_unemployment_needs_a_year_of_contributions_and_an_ended_enrollment(hy_town):
    person = PersonFactory(residence_office=hy_town)
    paid_months(person, "unemployment", 11)
    with pytest.raises(ValidationError) as exc:
        services.case_intake(
            acting_user=clerk(hy_town),
            item=item("DY-002"),
            person=person,
            materials_received=["separation", "registration", "bank"],
            form_data={"start_month": "2025-06"},
        )
    assert "11 个月，不足 12 个月" in exc.value.message_dict["person"][0]
    employed = PersonFactory(residence_office=hy_town)
    paid_months(employed, "unemployment", 24)
    EnrollmentFactory(person=employed, insurance_type="unemployment", employer=EmployerFactory(office=hy_town))
    with pytest.raises(ValidationError) as exc:
        services.case_intake(
            acting_user=clerk(hy_town),
            item=item("DY-002"),
            person=employed,
            materials_received=["separation", "registration", "bank"],
            form_data={"start_month": "2025-06"},
        )
    assert "尚未终止" in exc.value.message_dict["person"][0]


def test_resident_pension_benefit_needs_age_60(hy_town):
    young = PersonFactory(residence_office=hy_town, id_number=make_id_number(area="331003", birth="19700101"))
    with pytest.raises(ValidationError) as exc:
        services.case_intake(
            acting_user=clerk(hy_town),
            item=item("DY-005"),
            person=young,
            materials_received=["hukou", "bank"],
            form_data={"start_month": "2025-01"},
        )
    assert "未满 60 周岁" in exc.value.message_dict["person"][0]


def test_land_farmer_benefit_and_its_payment_posted_to_the_fund(hy_town, hy_district):
    from funds.models import LedgerTransaction

    case = land_farmer_claim(hy_town)
    case = services.case_pass(case=case, acting_user=reviewer(hy_district))
    case = services.case_pass(case=case, acting_user=head(hy_district))
    award = case.award
    assert (
        award.monthly_amount == parameter_value("land_farmer.benefit_monthly", on=D(2025, 1, 1), office=hy_town).value
    )
    officer = head(hy_district)
    payment = services.benefit_payment_record(award=award, period=202501, paid_on=D(2025, 1, 20), acting_user=officer)
    assert payment.posted_to_funds
    txn = LedgerTransaction.objects.get(source_type="cases.benefitpayment", source_id=payment.pk)
    assert txn.amount == award.monthly_amount
    assert txn.office == hy_district
    assert str(txn.uid) == payment.funds_reference
    assert not selectors.benefit_payments_unposted().exists()
    with pytest.raises(ValidationError) as exc:
        services.benefit_payment_record(award=award, period=202501, paid_on=D(2025, 1, 21), acting_user=officer)
    assert "已登记发放" in exc.value.message_dict["period"][0]
    with pytest.raises(ValidationError) as exc:
        services.benefit_payment_record(award=award, period=202412, paid_on=D(2025, 1, 21), acting_user=officer)
    assert "早于待遇起始月" in exc.value.message_dict["period"][0]
    assert BenefitPayment.objects.count() == 1


def test_a_land_farmer_without_the_scheme_is_refused(hy_town):
    person = PersonFactory(residence_office=hy_town, id_number=make_id_number(area="331003", birth="19500101"))
    with pytest.raises(ValidationError) as exc:
        services.case_intake(
            acting_user=clerk(hy_town),
            item=item("DY-006"),
            person=person,
            materials_received=["resettlement"],
            form_data={"start_month": "2025-01"},
        )
    assert "被征地农民" in exc.value.message_dict["person"][0]


def test_a_generic_item_completes_without_an_effect(hy_town, hy_district):
    ServiceItem.objects.filter(code="DY-003").update(effect=Effect.NONE)  # an administrator's generic item
    person = PersonFactory(residence_office=hy_town)
    case = services.case_intake(
        acting_user=clerk(hy_town),
        item=item("DY-003"),
        person=person,
        materials_received=["birth"],
    )
    case = services.case_pass(case=case, acting_user=reviewer(hy_district))
    assert case.state == CaseState.COMPLETED
    assert case.result_summary == "已办结。"


def test_a_certificate_survives_markup_in_names(hy_town):
    person = _enrolled_person(hy_town)
    Person.objects.filter(pk=person.pk).update(name="李<b>&某")
    person.refresh_from_db()
    case = services.case_intake(acting_user=clerk(hy_town), item=item("ZM-001"), person=person)
    assert case.certificate.content["person"]["name"] == "李<b>&某"
