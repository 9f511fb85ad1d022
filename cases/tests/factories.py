"""Test data of cases: staff at each office level, persons with paid contribution months, cases in each
state; and the ``OUT_OF_JURISDICTION`` makers for tests/test_jurisdiction_routes.py (records in 路桥)."""

from __future__ import annotations

import datetime
import io
import itertools
from decimal import Decimal

from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.utils import timezone

from cases import services
from cases.models import (
    Attachment,
    BenefitAward,
    BenefitPayment,
    CardApplication,
    CardBatch,
    Case,
    CaseEvent,
    CaseMaterial,
    CaseRating,
    Certificate,
    OverdueNotice,
    ServiceItem,
)
from cases.services.cards import card_batch_create
from contributions.models import Bill, BillKind, BillLine, BillTotal, PayerType, Payment, PaymentAllocation
from registry import roles
from registry.models import CardStatus, Office, Person
from registry.tests.factories import PersonFactory, UserFactory, township_of

D = datetime.date
_seq = itertools.count(1)

# ---------------------------------------------------------------------------------------------
# Staff.


def clerk(office: Office, **kwargs):
    return UserFactory(username=f"clerk{next(_seq)}", office=office, roles=[roles.COUNTER_CLERK], **kwargs)


def reviewer(office: Office, **kwargs):
    return UserFactory(username=f"reviewer{next(_seq)}", office=office, roles=[roles.REVIEWER], **kwargs)


def head(office: Office, **kwargs):
    return UserFactory(username=f"head{next(_seq)}", office=office, roles=[roles.OFFICE_HEAD], **kwargs)


def all_roles(office: Office, **kwargs):
    """One person who has every case role (to show that the two-person rule, not the role, refuses him)."""
    return UserFactory(
        username=f"allround{next(_seq)}",
        office=office,
        roles=[roles.COUNTER_CLERK, roles.REVIEWER, roles.OFFICE_HEAD],
        **kwargs,
    )


def item(code: str) -> ServiceItem:
    return ServiceItem.objects.get(code=code)


# ---------------------------------------------------------------------------------------------
# Files.


def pdf_bytes(text: str = "scan") -> bytes:
    return (
        b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n"
        b"% " + text.encode() + b"\ntrailer<</Root 1 0 R>>\n%%EOF\n"
    )


def png_bytes() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (4, 4), "white").save(out, format="PNG")
    return out.getvalue()


def jpeg_bytes() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (4, 4), "white").save(out, format="JPEG")
    return out.getvalue()


def upload(name: str = "身份证复印件.pdf", content: bytes | None = None, content_type: str = "application/pdf"):
    return SimpleUploadedFile(name, pdf_bytes() if content is None else content, content_type=content_type)


# ---------------------------------------------------------------------------------------------
# Contribution months (real bills, totals, lines and allocations, as the contributions app keeps them).


@transaction.atomic
def paid_months(
    person: Person,
    insurance: str,
    months: int,
    *,
    first_period: int = 200801,
    base: Decimal = Decimal("5000.00"),
    individual_rate: Decimal = Decimal("0.08"),
) -> None:
    """``months`` fully paid personal (flexible-style) bills of ``insurance`` for ``person``, one per month."""
    office = person.residence_office
    year, month = divmod(first_period, 100)
    payment = Payment.objects.create(
        agency_reference=f"TEST-{next(_seq):08d}",
        payer_type=PayerType.PERSON,
        person=person,
        office=office,
        amount=Decimal("0.01"),
        paid_on=D(2024, 1, 1),
    )
    kind = {"res_pension": BillKind.RES_PENSION, "land_farmer": BillKind.LAND_FARMER}.get(insurance, BillKind.FLEXIBLE)
    for _i in range(months):
        period = year * 100 + month
        individual = (base * individual_rate).quantize(Decimal("0.01"))
        employer = (base * Decimal("0.12")).quantize(Decimal("0.01"))
        bill = Bill.objects.create(
            kind=kind,
            period=period,
            person=person,
            office=office,
            total_employer=employer,
            total_individual=individual,
            total=employer + individual,
            due_date=D(year, month, 28),
            issued_at=timezone.now(),
        )
        BillTotal.objects.create(
            bill=bill,
            insurance_type=insurance,
            employer_amount=employer,
            individual_amount=individual,
            amount=employer + individual,
        )
        BillLine.objects.create(
            bill=bill,
            person=person,
            insurance_type=insurance,
            period=period,
            base=base,
            employer_rate=Decimal("0.12"),
            individual_rate=individual_rate,
            employer_amount=employer,
            individual_amount=individual,
        )
        PaymentAllocation.objects.create(
            payment=payment, bill=bill, insurance_type=insurance, amount=employer + individual
        )
        month += 1
        if month > 12:
            year, month = year + 1, 1


# ---------------------------------------------------------------------------------------------
# Cases.


def person_with_card(office: Office, **kwargs) -> Person:
    return PersonFactory(
        residence_office=office,
        card_number=f"C{next(_seq):09d}",
        card_status=CardStatus.ACTIVE,
        **kwargs,
    )


def enrollment_case(*, township: Office | None = None, materials=("form",), user=None, **form) -> Case:
    """An individual registration taken in at a township (waiting for the district's approval)."""
    township = township or township_of("331003")
    user = user or clerk(township)
    person = form.pop("person", None) or PersonFactory(residence_office=township)
    data = {"insurance_type": "res_medical", "start_date": "2025-01-01"}
    data.update(form)
    return services.case_intake(
        acting_user=user, item=item("CJ-GR-001"), person=person, materials_received=list(materials), form_data=data
    )


# ---------------------------------------------------------------------------------------------
# Records in another district (路桥) for tests/test_jurisdiction_routes.py.


def _out_case(township: Office) -> Case:
    return enrollment_case(township=township)


def _out_certificate(township: Office) -> Certificate:
    from registry.tests.factories import EnrollmentFactory

    person = PersonFactory(residence_office=township)
    EnrollmentFactory(person=person, insurance_type="res_medical", employer=None, start_date=D(2020, 1, 1))
    case = services.case_intake(acting_user=clerk(township), item=item("ZM-001"), person=person)
    return case.certificate


def _out_attachment(township: Office) -> Attachment:
    case = _out_case(township)
    return services.attachment_add(case=case, acting_user=clerk(township), file=upload())


def land_farmer_claim(township: Office, *, birth: str = "19500101", area: str | None = None) -> Case:
    """A land-expropriated farmer's benefit claim taken in at ``township`` (eligible: enrolled, over age)."""
    from registry.tests.factories import EnrollmentFactory, make_id_number

    person = PersonFactory(
        residence_office=township, id_number=make_id_number(area=area or township.code[:6], birth=birth)
    )
    EnrollmentFactory(person=person, insurance_type="land_farmer", employer=None, start_date=D(2010, 1, 1))
    return services.case_intake(
        acting_user=clerk(township),
        item=item("DY-006"),
        person=person,
        materials_received=["resettlement"],
        form_data={"start_month": "2025-01"},
    )


def _out_award(township: Office) -> BenefitAward:
    case = land_farmer_claim(township)
    district = township.parent
    case = services.case_pass(case=case, acting_user=reviewer(district))
    case = services.case_pass(case=case, acting_user=head(district))
    return case.award


def _out_payment(township: Office) -> BenefitPayment:
    award = _out_award(township)
    return BenefitPayment.objects.create(
        award=award, period=202501, amount=award.monthly_amount, paid_on=D(2025, 1, 20)
    )


def card_application(township: Office, *, person: Person | None = None) -> CardApplication:
    """A completed first-card application (KA-001) of a person of ``township``, waiting for a batch."""
    person = person or PersonFactory(residence_office=township)
    case = services.case_intake(
        acting_user=clerk(township), item=item("KA-001"), person=person, materials_received=["photo"]
    )
    case = services.case_pass(case=case, acting_user=reviewer(township.parent))
    return case.card_application


def card_batch(township: Office) -> CardBatch:
    """A production batch of ``township``'s district holding one application."""
    card_application(township)
    return card_batch_create(acting_user=clerk(township.parent))


def _out_rating(township: Office) -> CaseRating:
    case = services.case_reject(case=_out_case(township), acting_user=reviewer(township.parent), reason="不符合条件")
    return services.case_rating_create(case=case, score=4, channel="online")


OUT_OF_JURISDICTION = {
    Case: _out_case,
    CardApplication: card_application,
    CardBatch: card_batch,
    CaseMaterial: lambda township: _out_case(township).materials.first(),
    CaseEvent: lambda township: _out_case(township).events.first(),
    Attachment: _out_attachment,
    Certificate: _out_certificate,
    BenefitAward: _out_award,
    BenefitPayment: _out_payment,
    OverdueNotice: lambda township: OverdueNotice.objects.create(office=township.parent, on=D(2025, 1, 2)),
    CaseRating: _out_rating,
}
