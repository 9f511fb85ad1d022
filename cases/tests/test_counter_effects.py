"""The catalogue items that used to change nothing (issue 16): pension transfer out and in, maternity allowance,
work-injury disability subsidy. Amounts are computed by hand here, from the figures the test sets up."""

from __future__ import annotations

import datetime
import io
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from pypdf import PdfReader

from cases import services
from cases.models import BenefitAward, CaseState, CertificateKind, Effect
from cases.tests.factories import clerk, head, item, paid_months, reviewer
from contributions.models import ContributionHistory, Declaration, DeclarationLine
from contributions.selectors import contribution_months, person_contribution_record
from policies.selectors import parameter_value
from registry.models import Enrollment, Office, Person
from registry.tests.factories import EmployerFactory, EnrollmentFactory, PersonFactory, make_id_number, township_of

D = datetime.date
pytestmark = pytest.mark.django_db


@pytest.fixture
def hy_town():
    return township_of("331003")


@pytest.fixture
def hy_district():
    return Office.objects.get(code="331003")


def _complete(case, district, *, approval=True):
    case = services.case_pass(case=case, acting_user=reviewer(district))
    if approval:
        case = services.case_pass(case=case, acting_user=head(district))
    assert case.state == CaseState.COMPLETED, case.state
    return case


# ---------------------------------------------------------------------------------------------
# ZY-001 transfer out, ZY-002 transfer in.


def test_transfer_out_ends_the_pension_enrollment_and_issues_the_certificate(hy_town, hy_district):
    person = PersonFactory(residence_office=hy_town)
    enrollment = EnrollmentFactory(
        person=person, insurance_type="emp_pension", employer=EmployerFactory(office=hy_town), start_date=D(2008, 1, 1)
    )
    paid_months(person, "emp_pension", 24, first_period=200801)  # base 5000: employer 600, own 400 a month
    case = services.case_intake(
        acting_user=clerk(hy_town),
        item=item("ZY-001"),
        person=person,
        materials_received=["application"],
        form_data={"destination": "杭州市", "last_month": "2009-12"},
    )
    case = _complete(case, hy_district)
    enrollment.refresh_from_db()
    assert enrollment.end_date == D(2009, 12, 31)
    certificate = case.certificate
    assert certificate.kind == CertificateKind.TRANSFER
    # Per year: 12 months, bases 12 × 5000, employer 12 × 600, own 12 × 400.
    assert certificate.content["rows"] == [
        ["2008", "12", "60000.00", "7200.00", "4800.00"],
        ["2009", "12", "60000.00", "7200.00", "4800.00"],
    ]
    transfer = certificate.content["transfer"]
    assert transfer["months"] == 24
    assert transfer["account"] == "9600.00"  # 24 × 400, moved in full
    assert transfer["pooled_amount"] == "14400.00"  # 12 % of 24 × 5000
    pdf = default_storage.open(certificate.attachment.file.name).read()
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert "参保缴费凭证" in text and "杭州市" in text


def test_transfer_out_without_a_pension_enrollment_is_refused_at_intake(hy_town):
    person = PersonFactory(residence_office=hy_town)
    with pytest.raises(ValidationError) as exc:
        services.case_intake(
            acting_user=clerk(hy_town),
            item=item("ZY-001"),
            person=person,
            materials_received=["application"],
            form_data={"destination": "杭州市", "last_month": "2009-12"},
        )
    assert "没有职工基本养老保险" in exc.value.message_dict["person"][0]


def test_transfer_in_records_the_months_with_their_city_and_counts_them(hy_town, hy_district):
    person = PersonFactory(residence_office=hy_town)
    paid_months(person, "emp_pension", 12, first_period=201601)
    case = services.case_intake(
        acting_user=clerk(hy_town),
        item=item("ZY-002"),
        person=person,
        materials_received=["application", "certificate"],
        form_data={
            "source_city": "杭州市",
            # Full-width digits as an IME types them; 60 + 6 months.
            "transfer_months": "2010-01 2014-12 4000 560 320\n２０１５-０１，2015-06，4500，630，360",
        },
    )
    case = _complete(case, hy_district)
    rows = ContributionHistory.objects.filter(person=person).order_by("period")
    assert rows.count() == 66
    assert {r.source_city for r in rows} == {"杭州市"} and {r.source_case_id for r in rows} == {case.pk}
    first, last = rows.first(), rows.last()
    assert (first.period, first.emp_pension_base, first.emp_pension_individual) == (201001, 4000, 320)
    assert (last.period, last.emp_pension_employer, last.emp_pension_base) == (201506, 630, Decimal("4500.00"))
    assert first.insurances() == [("emp_pension", 4000, 560, 320)] and first.amount == 880
    assert rows.first().office == hy_district
    assert contribution_months(person, "emp_pension") == 12 + 66  # toward the 15 years
    record = person_contribution_record(user=clerk(hy_town), person=person)
    assert [r.sources for r in record.rows if r.period == 201001] == [["转入（杭州市）"]]


def test_transfer_in_of_months_already_paid_here_is_refused(hy_town):
    person = PersonFactory(residence_office=hy_town)
    paid_months(person, "emp_pension", 3, first_period=201001)
    with pytest.raises(ValidationError) as exc:
        services.case_intake(
            acting_user=clerk(hy_town),
            item=item("ZY-002"),
            person=person,
            materials_received=["application", "certificate"],
            form_data={"source_city": "杭州市", "transfer_months": "2009-07 2010-02 4000 560 320"},
        )
    assert "201001、201002" in exc.value.message_dict["transfer_months"][0]
    with pytest.raises(ValidationError) as exc:
        services.case_intake(
            acting_user=clerk(hy_town),
            item=item("ZY-002"),
            person=person,
            materials_received=["application", "certificate"],
            form_data={"source_city": "杭州市", "transfer_months": "2009-07 4000 560 320"},
        )
    assert exc.value.message_dict["transfer_months"][0].startswith("第 1 行：应有 5 项")
    assert not ContributionHistory.objects.filter(person=person).exists()


# ---------------------------------------------------------------------------------------------
# DY-003 maternity allowance.


def _declared_wages(employer, year, wages):
    """Declarations of every month of ``year`` with these declared wages."""
    for month in range(1, 13):
        declaration = Declaration.objects.create(employer=employer, period=year * 100 + month)
        for person, wage in wages.items():
            DeclarationLine.objects.create(declaration=declaration, person=person, declared_base=wage, base=wage)


def _mother(office, employer):
    person = PersonFactory(residence_office=office, id_number=make_id_number(area="331003", birth="19920304", seq=2))
    EnrollmentFactory(person=person, insurance_type="maternity", employer=employer, start_date=D(2023, 1, 1))
    return person


def test_maternity_allowance_is_last_years_average_wage_over_30_times_the_leave_days(hy_town, hy_district):
    employer = EmployerFactory(office=hy_town)
    mother = _mother(hy_town, employer)
    colleague = PersonFactory(residence_office=hy_town)
    _declared_wages(employer, 2024, {mother: Decimal("6000"), colleague: Decimal("9000")})
    case = services.case_intake(
        acting_user=clerk(hy_town),
        item=item("DY-003"),
        person=mother,
        employer=employer,
        materials_received=["birth"],
        form_data={"birth_date": "2025-03-10", "birth_order": "1"},
    )
    assert case.form_data["preview_amount"] == "39500.00"
    case = _complete(case, hy_district, approval=False)
    award = BenefitAward.objects.get(case=case)
    # (6000 + 9000) / 2 = 7500 a month; 7500 / 30 = 250 a day; first child 158 days: 250 × 158 = 39,500.00.
    assert award.monthly_amount == Decimal("39500.00")
    assert (award.months, award.insurance_type, award.effect) == (1, "maternity", Effect.BENEFIT_MATERNITY)
    assert award.start_month == D(2025, 3, 1)
    assert award.basis["leave_days"] == 158 and award.basis["average_monthly_wage"] == "7500.00"
    payment = services.benefit_payment_record(
        award=award, period=202503, paid_on=D(2025, 4, 2), acting_user=head(hy_district)
    )
    assert payment.amount == Decimal("39500.00") and payment.posted_to_funds


def test_maternity_allowance_of_a_second_child_and_its_refusals(hy_town):
    employer = EmployerFactory(office=hy_town)
    mother = _mother(hy_town, employer)
    _declared_wages(employer, 2024, {mother: Decimal("6100")})
    intake = {"acting_user": clerk(hy_town), "item": item("DY-003"), "person": mother, "materials_received": ["birth"]}
    case = services.case_intake(employer=employer, form_data={"birth_date": "2025-03-10", "birth_order": "2"}, **intake)
    assert case.form_data["preview_amount"] == "38226.67"  # 6100 / 30 × 188 = 38,226.666… → 38,226.67
    with pytest.raises(ValidationError) as exc:
        services.case_intake(employer=None, form_data={"birth_date": "2025-03-10", "birth_order": "2"}, **intake)
    assert "请选择参保单位" in exc.value.message_dict["employer"][0]
    with pytest.raises(ValidationError) as exc:
        services.case_intake(employer=employer, form_data={"birth_date": "2024-03-10", "birth_order": "2"}, **intake)
    assert "2023 年没有工资申报" in exc.value.message_dict["employer"][0]
    with pytest.raises(ValidationError) as exc:
        services.case_intake(employer=employer, form_data={"birth_date": "2022-03-10", "birth_order": "1"}, **intake)
    assert "没有参加生育保险" in exc.value.message_dict["birth_date"][0]
    with pytest.raises(ValidationError) as exc:
        services.case_intake(employer=employer, form_data={"birth_date": "2099-01-01", "birth_order": "9"}, **intake)
    assert "不能晚于今天" in exc.value.message_dict["birth_date"][0]


# ---------------------------------------------------------------------------------------------
# DY-004 work-injury one-off disability subsidy.


def _injured(office):
    person = PersonFactory(residence_office=office)
    EnrollmentFactory(
        person=person, insurance_type="work_injury", employer=EmployerFactory(office=office), start_date=D(2024, 1, 1)
    )
    return person


def test_disability_subsidy_is_the_grades_months_of_the_workers_wage(hy_town, hy_district):
    person = _injured(hy_town)
    case = services.case_intake(
        acting_user=clerk(hy_town),
        item=item("DY-004"),
        person=person,
        materials_received=["decision", "bills"],
        form_data={"injury_date": "2025-05-01", "grade": "7", "monthly_wage": "8,000"},
    )
    case = _complete(case, hy_district)
    award = case.award
    assert award.monthly_amount == Decimal("104000.00")  # grade 7: 13 months × 8,000
    assert (award.months, award.insurance_type, award.basis["months"]) == (1, "work_injury", 13)


def test_disability_subsidy_counts_a_wage_above_300_percent_as_300_percent(hy_town):
    person = _injured(hy_town)
    average = parameter_value("wage.average_monthly", on=D(2025, 5, 1), office=hy_town).value
    case = services.case_intake(
        acting_user=clerk(hy_town),
        item=item("DY-004"),
        person=person,
        materials_received=["decision", "bills"],
        form_data={"injury_date": "2025-05-01", "grade": "2", "monthly_wage": "999999"},
    )
    ceiling = (average * 3).quantize(Decimal("0.01"))
    assert Decimal(case.form_data["preview_amount"]) == ceiling * 25  # grade 2: 25 months
    for bad, field, words in [
        ({"grade": "11"}, "grade", "请选择伤残等级"),
        ({"monthly_wage": "abc"}, "monthly_wage", "应为金额"),
        ({"injury_date": "2023-05-01"}, "injury_date", "没有参加工伤保险"),
    ]:
        data = {"injury_date": "2025-05-01", "grade": "2", "monthly_wage": "8000", **bad}
        with pytest.raises(ValidationError) as exc:
            services.case_intake(
                acting_user=clerk(hy_town),
                item=item("DY-004"),
                person=Person.objects.get(pk=person.pk),
                materials_received=["decision", "bills"],
                form_data=data,
            )
        assert words in exc.value.message_dict[field][0]
    assert not Enrollment.objects.filter(person=person, end_date__isnull=False).exists()
