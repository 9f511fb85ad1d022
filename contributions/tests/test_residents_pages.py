"""Residents and land-expropriated farmers at the counter: a person's resident pension grade, resident medical and
land-farmer contributions from a page; the yearly resident medical run started from a page, township by township,
with its progress."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from contributions import services
from contributions.models import Bill, BillLine, BillRunStatus, ResidentMedicalRun, ResidentPensionChoice
from contributions.periods import period_of
from policies.selectors import parameter_value
from registry import roles
from registry.models import Office
from registry.tests.factories import EnrollmentFactory, PersonFactory, UserFactory, township_of
from registry.tests.helpers import page_client_for

D = datetime.date
pytestmark = pytest.mark.django_db


def _client(office, *role_names):
    return page_client_for(UserFactory(office=office, roles=list(role_names)))


def _resident(insurance, office=None):
    person = PersonFactory(residence_office=office or township_of("331003"))
    EnrollmentFactory(person=person, employer=None, insurance_type=insurance, start_date=D(2020, 1, 1))
    return person


def test_a_clerk_records_a_resident_pension_grade_and_the_bill_follows_it():
    person = _resident("res_pension")
    client = _client(township_of("331003"), roles.COUNTER_CLERK)
    url = reverse("contributions_person_residents", kwargs={"uid": person.uid})
    page = client.get(url)
    assert page.status_code == 200 and "第 7 档：2000 元（补贴 120 元）" in page.content.decode()
    response = client.post(url, {"op": "pension", "year": "2025", "grade": "5"})
    bill = Bill.objects.get(person=person, kind="res_pension")
    assert response.url == reverse("contributions_bill_detail", kwargs={"uid": bill.uid})
    # Grade 5 of 2025: 1000 yuan, subsidy 90 split city/district.
    assert (bill.total, bill.subsidy_city + bill.subsidy_district) == (Decimal("1000.00"), Decimal("90.00"))
    assert ResidentPensionChoice.objects.get(person=person, year=2025).grade == 5
    again = client.post(url, {"op": "pension", "year": "2025", "grade": "5"})
    assert again.status_code == 400 and "已经生成" in again.content.decode()
    bad = client.post(url, {"op": "pension", "year": "20x5", "grade": "99"})
    assert bad.status_code == 400 and "缴费年度应为四位数字" in bad.content.decode()


def test_resident_medical_and_land_farmer_contributions_from_the_page():
    person = _resident("res_medical")
    farmer = _resident("land_farmer")
    client = _client(township_of("331003"), roles.COUNTER_CLERK)
    medical = client.post(
        reverse("contributions_person_residents", kwargs={"uid": person.uid}), {"op": "medical", "year": "2025"}
    )
    assert medical.status_code == 302 and Bill.objects.filter(person=person, kind="res_medical", period=202501).exists()
    land = client.post(reverse("contributions_person_residents", kwargs={"uid": farmer.uid}), {"op": "land"})
    assert land.status_code == 302
    bill = Bill.objects.get(person=farmer, kind="land_farmer")
    assert bill.subsidy_city + bill.subsidy_district + bill.subsidy_other + bill.total > 0
    refused = client.post(reverse("contributions_person_residents", kwargs={"uid": person.uid}), {"op": "land"})
    assert refused.status_code == 400 and "未登记被征地农民" in refused.content.decode()
    other = _resident("res_medical", township_of("331004"))
    assert client.get(reverse("contributions_person_residents", kwargs={"uid": other.uid})).status_code == 404


def test_the_yearly_resident_medical_run_from_its_page_with_progress(django_capture_on_commit_callbacks):
    huangyan = Office.objects.get(code="331003")
    people = [_resident("res_medical") for _ in range(3)]
    client = _client(huangyan, roles.REVIEWER)
    page = client.get(reverse("contributions_resident_medical_runs"))
    assert page.status_code == 200
    with django_capture_on_commit_callbacks(execute=True):  # the worker's task runs in-process in tests
        response = client.post(reverse("contributions_resident_medical_runs"), {"year": "2025", "office": "331003"})
    run = ResidentMedicalRun.objects.get()
    assert response.url == reverse("contributions_resident_medical_run", kwargs={"uid": run.uid})
    townships = Office.objects.filter(path__startswith=huangyan.path, level=3).count()
    assert (run.status, run.bills_created, run.total, run.done) == (BillRunStatus.DONE, 3, townships + 1, townships + 1)
    assert Bill.objects.filter(kind="res_medical", person__in=people).count() == 3
    detail = client.get(response.url).content.decode()
    assert "已完成" in detail and "100%" in detail
    bad = client.post(reverse("contributions_resident_medical_runs"), {"year": "abc", "office": "331004"})
    assert bad.status_code == 400 and ResidentMedicalRun.objects.count() == 1


def test_a_flexible_worker_chooses_his_base_and_the_bill_run_uses_it():

    person = PersonFactory(residence_office=township_of("331003"))
    EnrollmentFactory(
        person=person, employer=None, is_flexible=True, insurance_type="emp_pension", start_date=D(2020, 1, 1)
    )
    floor_only = PersonFactory(residence_office=township_of("331003"))
    EnrollmentFactory(
        person=floor_only, employer=None, is_flexible=True, insurance_type="emp_pension", start_date=D(2020, 1, 1)
    )
    client = _client(township_of("331003"), roles.COUNTER_CLERK)
    url = reverse("contributions_person_residents", kwargs={"uid": person.uid})
    period = period_of(timezone.localdate())
    bad = client.post(url, {"op": "flexible", "from_period": str(period), "percent": "50"})
    assert bad.status_code == 400 and "60% 至 300%" in bad.content.decode()
    assert client.post(url, {"op": "flexible", "from_period": str(period), "percent": "150"}).status_code == 302

    huangyan = Office.objects.get(code="331003")
    reviewer = UserFactory(office=huangyan, roles=[roles.REVIEWER])
    run = services.bill_run_start(period=period, acting_user=reviewer, scope="district", office=huangyan)
    services.bill_run_execute(bill_run_id=run.pk)
    on = D(period // 100, period % 100, 1)
    average = parameter_value("wage.average_monthly", on=on, office=huangyan).value
    floor = parameter_value("base.floor_ratio", on=on, office=huangyan).value
    chosen = BillLine.objects.get(person=person, period=period)
    assert (chosen.base, chosen.base_source) == ((average * Decimal("1.5")).quantize(Decimal("0.01")), "chosen")
    default = BillLine.objects.get(person=floor_only, period=period)
    assert (default.base, default.base_source) == ((average * floor).quantize(Decimal("0.01")), "floor")
