"""An employer's pages: staff, the declaration online (form and payroll upload, the counter's rules and messages),
bills with arrears and late fees, the statement as PDF and xlsx (formulas neutralised), staff changes as
applications, the employer's certificate."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from openpyxl import load_workbook

from cases.models import Case, CaseState
from cases.tests.factories import upload
from contributions.models import Channel, Declaration
from contributions.tests.factories import employ, huangyan_employer, issued_bill
from hall.models import HallApplication
from hall.tests.factories import employer_account, hall_client
from registry.tests.factories import PersonFactory

pytestmark = pytest.mark.django_db

PERIOD = 202611


@pytest.fixture
def employer():
    return huangyan_employer(name='=HYPERLINK("x")台州测试厂')


def test_staff_list_masked(employer):
    worker = employ(employer)
    page = hall_client(employer_account(employer)).get(reverse("hall:staff")).content.decode()
    assert worker.name in page and worker.id_number not in page and worker.id_number[:6] + "********" in page


def test_declaration_online_by_form_with_the_counter_rules(employer):
    worker = employ(employer)
    client = hall_client(employer_account(employer))
    url = f"{reverse('hall:declaration')}?period={PERIOD}"
    page = client.get(url)
    assert page.status_code == 200 and worker.name in page.content.decode()
    bad = client.post(url, {"period": PERIOD, f"base_{worker.uid}": "abc"})
    assert bad.status_code == 400 and "缴费基数“abc”不是数字" in bad.content.decode()
    assert not Declaration.objects.exists()
    good = client.post(url, {"period": PERIOD, f"base_{worker.uid}": "6000"})
    assert good.status_code == 302
    declaration = Declaration.objects.get(employer=employer, period=PERIOD)
    assert declaration.channel == Channel.ONLINE and declaration.lines.get().person == worker


def test_declaration_online_by_payroll_upload_names_only_own_employees(employer):
    worker = employ(employer)
    stranger = PersonFactory()
    client = hall_client(employer_account(employer))
    # The payroll's totals lines (docs/exchange-files.md), here after the last line.
    csv = f"公民身份号码,缴费基数\r\n{worker.id_number},5000\r\n{stranger.id_number},5000\r\n#合计人数,2\r\n#合计基数,10000\r\n".encode()
    url = f"{reverse('hall:declaration')}?period={PERIOD}"
    response = client.post(url, {"period": PERIOD, "payroll": SimpleUploadedFile("工资表.csv", csv)})
    assert response.status_code == 400 and "第 3 行" in response.content.decode()
    assert not Declaration.objects.exists()
    csv = f"公民身份号码,缴费基数\r\n{worker.id_number},5000\r\n#合计人数,1\r\n#合计基数,5000\r\n".encode()
    response = client.post(url, {"period": PERIOD, "payroll": SimpleUploadedFile("工资表.csv", csv)})
    assert response.status_code == 302 and Declaration.objects.get().lines.count() == 1


def test_bills_arrears_late_fees_and_statement(employer):
    employ(employer)
    issued_bill(employer, 202601)
    client = hall_client(employer_account(employer))
    page = client.get(reverse("hall:bills")).content.decode()
    assert "欠费与滞纳金" in page and "202601" in page
    pdf = client.get(reverse("hall:statement", args=["pdf"]), {"year": 2026})
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    xlsx = client.get(reverse("hall:statement", args=["xlsx"]), {"year": 2026})
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    rows = [[c.value for c in row] for row in sheet.iter_rows()]
    assert rows[0][0].startswith("'=") and rows[2][0] == 202601
    certificate = client.get(reverse("hall:employer_certificate"))
    assert certificate.status_code == 200 and certificate.content.startswith(b"%PDF")


def test_staff_change_as_an_application(employer):
    newcomer = PersonFactory(residence_office=employer.office)
    account = employer_account(employer)
    client = hall_client(account)
    url = reverse("hall:employer_application_new", args=["CJ-GR-001"])
    wrong = client.post(url, {"employee_id_number": newcomer.id_number, "employee_name": "别人", "f_insurance_type": "emp_pension", "f_start_date": "2026-12-01"})  # fmt: skip
    assert wrong.status_code == 400 and "职工姓名与登记信息不一致" in wrong.content.decode()
    response = client.post(url, {"employee_id_number": newcomer.id_number, "employee_name": newcomer.name, "f_insurance_type": "emp_pension", "f_start_date": "2026-12-01"})  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:2000]
    case = Case.objects.get()
    assert case.employer == employer and case.person == newcomer and case.state == CaseState.SUBMITTED
    assert HallApplication.objects.get(case=case).employer == employer
    assert client.get(reverse("hall:employer_application", args=[case.uid])).status_code == 200
    offered = client.get(reverse("hall:employer_applications")).content.decode()
    assert "单位增员" in offered and "单位减员" in offered and "参保人员减员（停保）" not in offered


def test_staff_leave_as_an_application_through_the_counters_item(employer):
    leaver = employ(employer)
    client = hall_client(employer_account(employer))
    url = reverse("hall:employer_application_new", args=["CJ-DW-002"])
    bad = client.post(url, {"f_employees": PersonFactory().id_number, "f_end_month": "2026-12"})
    assert bad.status_code == 400 and "没有" in bad.content.decode() and not Case.objects.exists()
    response = client.post(url, {"f_employees": leaver.id_number, "f_end_month": "2026-12", "m_list": upload()})
    assert response.status_code == 302, response.content.decode()[:3000]
    case = Case.objects.get()
    assert case.employer == employer and case.item.code == "CJ-DW-002" and case.attachments.count() == 1


def test_an_agent_without_the_right_sees_nothing_of_it(employer):
    agent = employer_account(employer, kind="employer_agent", rights=["declare"])
    client = hall_client(agent)
    assert client.get(reverse("hall:bills")).status_code == 404
    assert client.get(reverse("hall:statement", args=["pdf"])).status_code == 404
    assert client.get(reverse("hall:employer_applications")).status_code == 404
    assert client.get(reverse("hall:declaration")).status_code == 200
