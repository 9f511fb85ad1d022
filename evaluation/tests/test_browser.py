"""The evaluation in a real browser (Debian's chromium through playwright):

1. the city administrator opens October's evaluation report, sees every level ranked, publishes it and exports it;
2. a district administrator (the 黄岩 district office's head) opens the insured-persons statistics: he sees only his
   district — in the table, the area filter and the chart — and another district's page is a 404.

Sessions come from Django's test client (``force_login`` counts as having passed the second factor, conftest); the
login form and its second factor are tested in tests/test_security_browser.py.
"""

from __future__ import annotations

import datetime
import os

import pytest
from django.test import Client

from cases.tests.test_browser import CHROMIUM, CHROMIUM_ARGS
from evaluation.models import EvaluationReport
from evaluation.services import office_metrics_compute, statistics_month_compute
from registry.models import Employer
from registry.tests.factories import EmployerFactory, EnrollmentFactory, PersonFactory, township_of

from .factories import local

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
OCT = datetime.date(2026, 10, 1)


@pytest.fixture
def browser():
    from django.db import connections
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()
            connections.close_all()


def _page_as(browser, base: str, user):
    client = Client()
    client.force_login(user)
    context = browser.new_context(locale="zh-CN", accept_downloads=True)
    context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": base}])
    page = context.new_page()
    page.set_default_timeout(20_000)
    return page


def _enrolled(township, n: int) -> None:
    employer = EmployerFactory(office=township)
    Employer.objects.filter(pk=employer.pk).update(created_at=local(2024, 1, 1))
    for _i in range(n):
        EnrollmentFactory(
            person=PersonFactory(residence_office=township), employer=employer, start_date=datetime.date(2025, 1, 1)
        )


@pytest.mark.browser
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_city_admin_report_and_district_admin_statistics(
    live_server, _restore_migration_data, browser, city_admin, district_head, october, tmp_path
):
    from playwright.sync_api import expect

    office_metrics_compute(month=OCT)
    _enrolled(township_of("331003"), 3)
    _enrolled(township_of("331004"), 2)
    statistics_month_compute(month=OCT)
    base = live_server.url

    page = _page_as(browser, base, city_admin)
    page.goto(f"{base}/evaluation/?month=2026-10")
    expect(page.locator("h1")).to_contain_text("2026-10")
    expect(page.get_by_test_id("status")).to_have_text("草稿（未发布）")
    expect(page.get_by_test_id("ranking")).to_have_count(3)  # city, district, township levels with figures
    expect(page.get_by_role("cell", name="黄岩区社会保险服务中心")).to_be_visible()
    expect(page.get_by_role("cell", name="路桥区社会保险服务中心")).to_be_visible()
    page.get_by_role("button", name="发布本月考核（发布后指标冻结）").click()
    expect(page.get_by_test_id("status")).to_have_text("已发布 第 1 版")
    assert EvaluationReport.objects.filter(month=OCT, version=1).exists()
    with page.expect_download() as download:
        page.get_by_test_id("export-xlsx").click()
    path = tmp_path / download.value.suggested_filename
    download.value.save_as(path)
    assert path.suffix == ".xlsx" and path.read_bytes()[:2] == b"PK"

    page = _page_as(browser, base, district_head)
    page.goto(f"{base}/evaluation/statistics/insured/?start=2026-10&end=2026-10&group=district")
    expect(page.get_by_test_id("scope")).to_have_text("黄岩区社会保险服务中心")
    table = page.get_by_test_id("statistics")
    expect(table).to_contain_text("黄岩区")
    expect(table).not_to_contain_text("路桥")
    expect(page.locator("select[name=district] option")).to_have_count(2)  # "本辖区全部" and 黄岩
    expect(page.locator("#chart-statistics")).to_be_visible()
    labels = page.evaluate(
        "JSON.parse(document.getElementById('evaluation-statistics-data').textContent).series.map(s => s.label)"
    )
    assert labels == ["黄岩区社会保险服务中心"]
    response = page.goto(f"{base}/evaluation/statistics/insured/?district=331004")
    assert response.status == 404
