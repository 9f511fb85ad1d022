"""The payroll's counter pages: start a run, see totals, download a bank file, upload its return; the
certification due list and recording a certification; suspensions and resumptions; permissions and jurisdiction."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from payroll.models import BankFile, Certification, PayrollRun, Suspension

from .factories import D, award, city_officer, district_clerk, return_file, run_month

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


def test_start_a_run_from_the_page(client, django_capture_on_commit_callbacks):
    award()
    client.force_login(city_officer())
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("payroll_run_list"), {"period": "2026-03", "pay_date": "2026-03-15"})
    assert response.status_code == 302
    run = PayrollRun.objects.get(period=202603)
    assert run.status == "done" and run.lines == 1
    page = client.get(reverse("payroll_run_detail", args=[run.uid]))
    assert page.status_code == 200
    assert "3000.00" in page.content.decode()


def test_bad_start_shows_the_message_next_to_the_field(client):
    client.force_login(city_officer())
    response = client.post(reverse("payroll_run_list"), {"period": "2026-13", "pay_date": "x"})
    assert response.status_code == 400
    assert 'data-testid="errors-period"' in response.content.decode()


def test_download_bank_file_and_upload_its_return(client, django_capture_on_commit_callbacks):
    user = city_officer()
    award()
    run = run_month(202603, user)
    bank_file = BankFile.objects.get(run=run)
    client.force_login(user)
    download = client.get(reverse("payroll_bank_file_download", args=[bank_file.pk]))
    assert download.status_code == 200
    assert download.content.decode().startswith(f"H,{bank_file.number},202603,102,1,3000.00")
    bad = SimpleUploadedFile("r.csv", return_file(bank_file, amount_of=lambda line: line.amount + 1))
    with django_capture_on_commit_callbacks(execute=True):  # the task runs (eagerly) after the upload commits
        response = client.post(reverse("payroll_bank_file_return", args=[bank_file.pk]), {"file": bad})
    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()
    assert "被拒绝" in page and "不一致" in page  # the job's recorded error, shown to the clerk
    good = SimpleUploadedFile("r.csv", return_file(bank_file))
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("payroll_bank_file_return", args=[bank_file.pk]), {"file": good})
    page = client.get(response["Location"]).content.decode()
    assert "已导入" in page and 'data-testid="paid">1 / 3000.00' in page
    page = client.get(reverse("payroll_run_detail", args=[run.uid])).content.decode()
    assert 'data-testid="posted">3000.00' in page


def test_certification_page_lists_who_is_due_and_records_a_certification(client):
    a = award(start=D(2025, 12, 1))
    clerk = district_clerk()
    client.force_login(clerk)
    page = client.get(reverse("payroll_certification_due"))
    assert page.status_code == 200 and a.person.name in page.content.decode()
    response = client.post(
        reverse("payroll_certification_due"), {"id_number": a.person.id_number, "certified_on": "2026-11-20"}
    )
    assert response.status_code == 302
    assert Certification.objects.filter(person=a.person, channel="counter").exists()


def test_certification_page_refuses_a_person_without_benefit(client):
    from registry.tests.factories import PersonFactory, township_of

    person = PersonFactory(residence_office=township_of("331003"))
    client.force_login(district_clerk())
    response = client.post(
        reverse("payroll_certification_due"), {"id_number": person.id_number, "certified_on": "2026-11-20"}
    )
    assert response.status_code == 400 and "没有正在领取" in response.content.decode()
    assert not Certification.objects.exists()


def test_suspend_and_resume_from_the_page(client):
    a = award()
    client.force_login(district_clerk())
    response = client.post(
        reverse("payroll_suspensions"),
        {"id_number": a.person.id_number, "reason": "disqualified", "from_month": "2026-04", "note": "服刑"},
    )
    assert response.status_code == 302
    suspension = Suspension.objects.get(award=a)
    response = client.post(reverse("payroll_suspension_resume", args=[suspension.pk]), {"resumed_month": "2026-06"})
    assert response.status_code == 302
    suspension.refresh_from_db()
    assert suspension.resumed_month == D(2026, 6, 1)


def test_district_clerk_cannot_see_runs_and_other_district_records_are_not_found(client):
    user = city_officer()
    other = award(district="331004")
    run_month(202603, user)
    client.force_login(district_clerk("331003"))
    assert client.get(reverse("payroll_run_list")).status_code == 403
    assert client.get(reverse("payroll_person_history", args=[other.person.uid])).status_code == 404
    client.force_login(district_clerk("331004"))
    page = client.get(reverse("payroll_person_history", args=[other.person.uid]))
    assert page.status_code == 200 and "3000.00" in page.content.decode()


def test_person_history_queries_do_not_grow_with_lines(client, django_assert_max_num_queries):
    user = city_officer()
    a = award(start=D(2026, 1, 1))
    for period in (202601, 202602, 202603, 202604):
        run_month(period, user)
    client.force_login(user)
    with django_assert_max_num_queries(16):
        assert client.get(reverse("payroll_person_history", args=[a.person.uid])).status_code == 200
    assert Decimal("3000.00") == a.monthly_amount
