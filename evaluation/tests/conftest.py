import datetime
from decimal import Decimal

import pytest

from cases.models import CaseState
from contributions.models import PayerType, Payment, PaymentAllocation
from contributions.tests.factories import huangyan_employer, issued_bill
from evaluation.tests.factories import case_row, clock, correction_event, escalation, local, rating
from registry import roles
from registry.models import Office
from registry.tests.factories import UserFactory, township_of

D = datetime.date
COMPLETED, REJECTED, WITHDRAWN = CaseState.COMPLETED, CaseState.REJECTED, CaseState.WITHDRAWN


@pytest.fixture
def district_head(db):
    """The 黄岩 district's administrator: office head of the district office."""
    return UserFactory(username="hy_head_ev", office=Office.objects.get(code="331003"), roles=[roles.OFFICE_HEAD])


@pytest.fixture
def district_city_admin(db):
    """A city-administrator role held at a district office: may read, may not publish."""
    return UserFactory(
        username="hy_admin_ev", office=Office.objects.get(code="331003"), roles=[roles.CITY_ADMIN], is_staff=True
    )


@pytest.fixture
def offices():
    district = Office.objects.get(code="331003")
    towns = list(Office.objects.filter(parent=district, level=3).order_by("code")[:2])
    return {
        "city": Office.objects.get(level=1),
        "district": district,
        "t": towns[0],
        "t2": towns[1],
        "lq": township_of("331004"),
    }


@pytest.fixture
def october(offices):
    """The cases of the docstring; returns them by letter."""
    t, t2, d = offices["t"], offices["t2"], offices["district"]
    c = {}
    c["A"] = case_row(
        t,
        received=local(2026, 9, 29, 10),
        state=COMPLETED,
        closed=local(2026, 10, 9, 15),
        due=D(2026, 10, 12),
        current=d,
    )
    c["B"] = case_row(
        t,
        received=local(2026, 10, 8, 9),
        state=COMPLETED,
        closed=local(2026, 10, 20, 16),
        due=D(2026, 10, 20),
        paused_days=2,
    )
    correction_event(c["B"])
    c["C"] = case_row(
        t, received=local(2026, 10, 12, 9), state=REJECTED, closed=local(2026, 10, 14, 9), due=D(2026, 10, 19)
    )
    c["D"] = case_row(t, received=local(2026, 10, 13, 9), due=D(2026, 10, 20))
    escalation(c["D"], local(2026, 10, 22, 9))
    c["E"] = case_row(
        t2, received=local(2026, 10, 15, 9), state=COMPLETED, closed=local(2026, 10, 30, 17), due=D(2026, 10, 22)
    )
    c["F"] = case_row(
        t, received=local(2026, 10, 30, 9), state=CaseState.SUSPENDED, due=D(2026, 10, 30), paused_on=D(2026, 10, 30)
    )
    c["G"] = case_row(
        t, received=local(2026, 10, 20, 9), state=WITHDRAWN, closed=local(2026, 10, 21, 9), due=D(2026, 10, 27)
    )
    c["H"] = case_row(
        offices["lq"],
        received=local(2026, 10, 10, 9),
        state=COMPLETED,
        closed=local(2026, 10, 12, 9),
        due=D(2026, 10, 17),
    )
    c["I"] = case_row(
        t, received=local(2026, 9, 1, 9), state=COMPLETED, closed=local(2026, 9, 10, 9), due=D(2026, 9, 8)
    )
    c["J"] = case_row(t, received=local(2026, 11, 2, 9), due=D(2026, 11, 9))
    rating(c["A"], 5, local(2026, 10, 12, 9))  # office: A's current office, the district
    rating(c["B"], 2, local(2026, 10, 21, 9))  # 差评
    rating(c["E"], 1, local(2026, 11, 1, 9))  # November: not October's
    _bills(t)
    return c


def _bills(township):
    employer = huangyan_employer(office=township)
    bill = issued_bill(employer, 202610, totals={"emp_pension": (Decimal("800.00"), Decimal("200.00"))})
    payment = Payment.objects.create(
        agency_reference="EV-1",
        payer_type=PayerType.EMPLOYER,
        employer=employer,
        office=township,
        amount=Decimal("700.00"),
        paid_on=D(2026, 11, 5),
    )
    with clock(local(2026, 11, 5, 10)):
        PaymentAllocation.objects.create(
            payment=payment, bill=bill, insurance_type="emp_pension", amount=Decimal("600.00")
        )
    with clock(local(2026, 12, 3, 10)):  # after the end of the following month: not counted
        PaymentAllocation.objects.create(
            payment=payment, bill=bill, insurance_type="emp_pension", amount=Decimal("100.00")
        )
