"""Bills written in bulk (the monthly bill run, the yearly resident medical run) are in the change feed:
one event per bill, in the transaction that issues it, never twice. (Bills saved one by one are covered by
the feed's signals; see registry/tests/test_changes.py.)"""

import datetime

import pytest

from contributions import services
from contributions.models import Bill
from contributions.tests.params import set_huangyan_2025
from registry.models import EMPLOYEE_INSURANCES, ChangeEvent, Office
from registry.tests.factories import EmployerFactory, EnrollmentFactory, PersonFactory, UserFactory, township_of

pytestmark = pytest.mark.django_db
D = datetime.date


@pytest.fixture
def clerk():
    set_huangyan_2025()
    return UserFactory(username="hy_feed_biller", office=Office.objects.get(code="331003"))


def bill_events() -> list[tuple[str, str, str, str]]:
    return list(
        ChangeEvent.objects.filter(change_type="bill")
        .order_by("id")
        .values_list("object_id", "op", "office_path", "payload__url")
    )


def expected(bills) -> list[tuple[str, str, str, str]]:
    return [(str(b.uid), "created", b.office.path, f"/api/v1/bills/{b.uid}/") for b in bills]


def test_the_bill_run_writes_one_event_per_bill_it_issues(clerk):
    township = township_of("331003")
    for _ in range(2):
        employer = EmployerFactory(office=township)
        person = PersonFactory(residence_office=township)
        for insurance in EMPLOYEE_INSURANCES:
            EnrollmentFactory(person=person, employer=employer, insurance_type=insurance, start_date=D(2024, 1, 1))
    flexible = PersonFactory(residence_office=township)
    EnrollmentFactory(
        person=flexible, employer=None, is_flexible=True, insurance_type="emp_pension", start_date=D(2024, 1, 1)
    )
    huangyan = Office.objects.get(code="331003")

    run = services.bill_run_start(period=202502, acting_user=clerk, scope="district", office=huangyan)
    services.bill_run_execute(bill_run_id=run.pk)
    bills = list(Bill.objects.filter(period=202502).order_by("id"))
    assert len(bills) == 3 and all(b.issued_at for b in bills)
    assert bill_events() == expected(bills)

    again = services.bill_run_start(period=202502, acting_user=clerk, scope="district", office=huangyan)
    services.bill_run_execute(bill_run_id=again.pk)
    assert bill_events() == expected(bills)  # nothing new billed, nothing new in the feed


def test_the_resident_medical_run_writes_one_event_per_bill(clerk):
    people = [PersonFactory(residence_office=township_of("331003")) for _ in range(3)]
    for person in people:
        EnrollmentFactory(person=person, employer=None, insurance_type="res_medical", start_date=D(2020, 1, 1))
    huangyan = Office.objects.get(code="331003")

    assert services.resident_medical_bill_run(year=2025, office=huangyan, acting_user=clerk) == 3
    assert services.resident_medical_bill_run(year=2025, office=huangyan, acting_user=clerk) == 0
    assert bill_events() == expected(Bill.objects.filter(kind="res_medical").order_by("id"))
