"""The evaluation and the statistics on the demo data (seed_demo's persons, employers and enrollments, no cases):
``evaluation_refresh`` computes them; the report renders and exports (xlsx, PDF), every statistics page renders."""

import io

import pytest
from django.core.management import call_command
from django.urls import reverse

from evaluation.models import OfficeMonthMetric, StatCell
from registry.models import Office

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


def test_demo_data_report_and_statistics(client, city_admin):
    call_command("seed_demo", persons=300, employers=20, seed=5, verbosity=0)
    out = io.StringIO()
    call_command("evaluation_refresh", months=2, stdout=out)
    assert OfficeMonthMetric.objects.filter(rollup=True).count() == 2 * 2 * Office.objects.count() // 2
    assert StatCell.objects.filter(topic="insured").exists() and StatCell.objects.filter(topic="employers").exists()
    client.force_login(city_admin)
    page = client.get(reverse("evaluation:report"))
    assert page.status_code == 200 and b'data-testid="ranking"' in page.content
    assert client.get(reverse("evaluation:report_export", args=["xlsx"])).content[:2] == b"PK"
    assert client.get(reverse("evaluation:report_export", args=["pdf"])).content[:4] == b"%PDF"
    for topic in ("insured", "employers", "contributions", "benefits", "funds"):
        response = client.get(reverse("evaluation:statistics", args=[topic]))
        assert response.status_code == 200, topic
    insured = client.get(reverse("evaluation:statistics", args=["insured"]), {"group": "district"}).content.decode()
    assert "黄岩区社会保险服务中心" in insured and "路桥区社会保险服务中心" in insured
