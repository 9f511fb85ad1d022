"""Statistics: the nightly aggregates against a count in Python over a small population, idempotent; the pages
(chart data, table, filters, xlsx) and the API within the reader's jurisdiction — another district is a 404."""

from __future__ import annotations

import datetime
import io
from collections import Counter
from decimal import Decimal

import pytest
from django.urls import reverse

from contributions.models import PayerType, Payment, PaymentAllocation
from contributions.tests.factories import issued_bill
from evaluation.models import StatCell
from evaluation.services import statistics_flows_compute, statistics_month_compute
from evaluation.tests.factories import clock, local
from registry.models import Employer
from registry.tests.factories import EmployerFactory, EnrollmentFactory, PersonFactory, township_of

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

D = datetime.date
OCT = D(2026, 10, 1)


def _band(birth: D, on: D) -> str:
    age = on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))
    for limit, label in ((18, "0-17"), (30, "18-29"), (40, "30-39"), (50, "40-49"), (60, "50-59")):
        if age < limit:
            return label
    return "60+"


@pytest.fixture
def population():
    hy, lq = township_of("331003"), township_of("331004")
    hy_employer = EmployerFactory(office=hy, employer_type="enterprise")
    lq_employer = EmployerFactory(office=lq, employer_type="individual")
    Employer.objects.filter(pk__in=[hy_employer.pk, lq_employer.pk]).update(created_at=local(2024, 1, 1))
    rows = []
    for i in range(6):
        person = PersonFactory(residence_office=hy)
        start = D(2026, 10, 15) if i == 0 else D(2025, 1, 1)
        end = D(2026, 10, 20) if i == 1 else None
        rows.append(EnrollmentFactory(person=person, employer=hy_employer, start_date=start, end_date=end))
    EnrollmentFactory(
        person=PersonFactory(residence_office=hy),
        employer=hy_employer,
        insurance_type="emp_medical",
        start_date=D(2025, 1, 1),
    )
    rows.append(
        EnrollmentFactory(person=PersonFactory(residence_office=lq), employer=lq_employer, start_date=D(2025, 1, 1))
    )
    EnrollmentFactory(person=PersonFactory(residence_office=hy), employer=hy_employer, start_date=D(2026, 11, 3))
    return {"hy": hy, "lq": lq, "hy_employer": hy_employer, "pension": rows}


def test_insured_persons_match_a_count_by_hand_and_rerunning_changes_nothing(population):
    statistics_month_compute(month=OCT)
    last = D(2026, 10, 31)
    expected = Counter()
    for e in population["pension"]:
        active = e.start_date <= last and (e.end_date is None or e.end_date >= last)
        expected[(e.office_id, e.person.sex, _band(e.person.birth_date, last))] += active
    got = Counter()
    for c in StatCell.objects.filter(topic="insured", month=OCT, insurance_type="emp_pension").exclude(dim_a="*"):
        got[(c.office_id, c.dim_a, c.dim_b)] += int(c.m1)
    assert +got == +expected
    hy_cells = StatCell.objects.filter(
        topic="insured", month=OCT, insurance_type="emp_pension", office=population["hy"]
    ).exclude(dim_a="*")
    total = StatCell.objects.get(
        topic="insured", month=OCT, insurance_type="emp_pension", office=population["hy"], dim_a="*"
    )
    assert (total.m1, total.m2, total.m3) == (5, 1, 1)  # the totals over sex and age band
    assert sum(c.m1 for c in hy_cells) == 5  # six enrolled, one stopped on 20 October
    assert (sum(c.m2 for c in hy_cells), sum(c.m3 for c in hy_cells)) == (1, 1)  # started 15 Oct, stopped 20 Oct
    before = sorted(StatCell.objects.values_list("topic", "office_id", "insurance_type", "dim_a", "dim_b", "m1", "m2"))
    statistics_month_compute(month=OCT)
    assert (
        sorted(StatCell.objects.values_list("topic", "office_id", "insurance_type", "dim_a", "dim_b", "m1", "m2"))
        == before
    )


def test_employers_by_type_and_size(population):
    statistics_month_compute(month=OCT)
    cell = StatCell.objects.get(topic="employers", month=OCT, office=population["hy"], dim_a="enterprise")
    assert (cell.dim_b, cell.m1, cell.m2) == ("1-9", 1, 5)


def test_contributions_billed_collected_and_in_arrears(population):
    bill = issued_bill(
        population["hy_employer"],
        202609,
        totals={
            "emp_pension": (Decimal("800.00"), Decimal("200.00")),
            "emp_medical": (Decimal("300.00"), Decimal("100.00")),
        },
    )
    payment = Payment.objects.create(
        agency_reference="ST-1",
        payer_type=PayerType.EMPLOYER,
        employer=population["hy_employer"],
        office=population["hy"],
        amount=Decimal("1000.00"),
        paid_on=D(2026, 10, 10),
    )
    with clock(local(2026, 10, 10, 9)):
        PaymentAllocation.objects.create(
            payment=payment, bill=bill, insurance_type="emp_pension", amount=Decimal("1000.00")
        )
    statistics_flows_compute(first=D(2026, 9, 1), last=OCT)
    cells = {c.insurance_type: c for c in StatCell.objects.filter(topic="contributions", month=D(2026, 9, 1))}
    assert (cells["emp_pension"].m1, cells["emp_pension"].m2, cells["emp_pension"].m3) == (1000, 1000, 0)
    # The medical part is unpaid and its due date (28 September) has passed: in arrears.
    assert (cells["emp_medical"].m1, cells["emp_medical"].m2, cells["emp_medical"].m3) == (400, 0, 400)


def test_pages_chart_table_filters_and_jurisdiction(client, city_admin, district_head, population):
    statistics_month_compute(month=OCT)
    url = reverse("evaluation:statistics", args=["insured"])
    client.force_login(city_admin)
    page = client.get(url, {"start": "2026-10", "end": "2026-10", "group": "district"})
    text = page.content.decode()
    assert page.status_code == 200 and "黄岩" in text and "路桥" in text and "evaluation-statistics-data" in text
    table = text[text.index('data-testid="statistics"') :]
    assert '<td>2026-10</td><td>黄岩区社会保险服务中心</td><td class="num">6</td>' in table  # 5 pension + 1 medical
    client.force_login(district_head)
    page = client.get(url, {"start": "2026-10", "end": "2026-10", "group": "district"})
    text = page.content.decode()
    assert "黄岩" in text and "路桥区" not in text
    assert client.get(url, {"district": "331004"}).status_code == 404
    assert client.get(url, {"township": population["lq"].code}).status_code == 404
    assert client.get(reverse("evaluation:statistics", args=["nonsense"])).status_code == 404
    bad = client.get(url, {"start": "2026-11", "end": "2026-10"})
    assert 'data-testid="form-error"' in bad.content.decode()
    for topic in ("employers", "contributions", "benefits", "funds"):
        assert client.get(reverse("evaluation:statistics", args=[topic])).status_code == 200
    xlsx = client.get(
        reverse("evaluation:statistics_export", args=["insured"]),
        {"start": "2026-10", "end": "2026-10", "group": "township"},
    )
    from openpyxl import load_workbook

    values = [c.value for row in load_workbook(io.BytesIO(xlsx.content)).active.iter_rows() for c in row]
    assert population["hy"].name in values and population["lq"].name not in values


def test_the_api_serves_the_statistics_within_the_jurisdiction(client, city_admin, district_head, population):
    statistics_month_compute(month=OCT)
    client.force_login(city_admin)
    body = client.get("/api/v1/statistics/", {"topic": "insured", "month_after": "2026-10-01"}).json()
    offices = {row["office"] for row in body["results"]}
    assert population["lq"].code in offices and population["hy"].code in offices
    client.force_login(district_head)
    body = client.get("/api/v1/statistics/", {"topic": "insured"}).json()
    assert {row["office"] for row in body["results"]} == {population["hy"].code}
    assert client.get("/api/v1/office-metrics/").status_code == 200
