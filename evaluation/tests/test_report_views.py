"""The evaluation report page: renders, exports (xlsx with formulas neutralised, PDF), publishes and corrects through
forms; a district administrator sees only his district and gets a 404 for another; bad input is a message."""

from __future__ import annotations

import io

import pytest
from django.urls import reverse

from evaluation.models import EvaluationReport
from evaluation.services import office_metrics_compute
from registry.models import Office

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

URL = reverse("evaluation:report")


@pytest.fixture
def computed(october):
    import datetime

    office_metrics_compute(month=datetime.date(2026, 10, 1))
    return october


def test_the_city_administrator_sees_every_level_and_publishes(client, city_admin, computed):
    client.force_login(city_admin)
    page = client.get(URL, {"month": "2026-10"})
    text = page.content.decode()
    assert page.status_code == 200
    assert "草稿" in text and "黄岩区社会保险服务中心" in text and "路桥" in text
    response = client.post(reverse("evaluation:publish"), {"month": "2026-10"})
    assert response.status_code == 302
    assert EvaluationReport.objects.filter(version=1).exists()
    again = client.post(reverse("evaluation:publish"), {"month": "2026-10"}, follow=True)
    assert "已发布" in again.content.decode() and EvaluationReport.objects.count() == 1
    client.post(reverse("evaluation:correct"), {"month": "2026-10", "reason": ""})
    assert EvaluationReport.objects.count() == 1
    client.post(reverse("evaluation:correct"), {"month": "2026-10", "reason": "更正评分"})
    assert EvaluationReport.objects.filter(version=2, reason="更正评分").exists()


def test_exports_neutralise_formulas(client, city_admin, computed):
    Office.objects.filter(code="331004").update(name='=HYPERLINK("http://x")')
    client.force_login(city_admin)
    xlsx = client.get(reverse("evaluation:report_export", args=["xlsx"]), {"month": "2026-10"})
    assert xlsx.status_code == 200
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    names = [c.value for row in sheet.iter_rows() for c in row if isinstance(c.value, str) and "HYPERLINK" in c.value]
    assert names and all(n.startswith("'") for n in names)
    pdf = client.get(reverse("evaluation:report_export", args=["pdf"]), {"month": "2026-10"})
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")


def test_a_district_administrator_sees_only_his_district(client, district_head, computed):
    client.force_login(district_head)
    page = client.get(URL, {"month": "2026-10"})
    text = page.content.decode()
    assert page.status_code == 200 and "黄岩区社会保险服务中心" in text
    assert "路桥" not in text and "椒江" not in text and "台州市社会保险事业管理服务中心</td>" not in text
    assert client.get(URL, {"month": "2026-10", "office": "331004"}).status_code == 404
    assert client.get(URL, {"month": "2026-10", "office": "331003"}).status_code == 200
    assert client.post(reverse("evaluation:publish"), {"month": "2026-10"}).status_code == 403
    assert not EvaluationReport.objects.exists()


@pytest.mark.parametrize("query", [{"month": "2099-01"}, {"month": "13/2026"}, {"year": "2099"}, {"month": "x\u00a0"}])
def test_bad_periods_get_a_message(client, city_admin, query):
    client.force_login(city_admin)
    page = client.get(URL, query)
    assert page.status_code == 200
    assert 'data-testid="form-error"' in page.content.decode()


def test_the_year_report_sums_the_months(client, city_admin, computed):
    client.force_login(city_admin)
    page = client.get(URL, {"year": "2026"})
    assert page.status_code == 200 and "年度汇总" in page.content.decode()
