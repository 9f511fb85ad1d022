import datetime
import io

import openpyxl
import pytest
from django.urls import reverse

from policies.models import DecisionStatus, DocumentStatus, PolicyDecision, PolicyDocument

D = datetime.date
pytestmark = pytest.mark.django_db


def test_pages_need_a_login(client):
    response = client.get(reverse("policies:parameters"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_pages_need_a_role(client, nobody):
    client.force_login(nobody)
    assert client.get(reverse("policies:parameters")).status_code == 403
    assert client.get(reverse("policies:unification")).status_code == 403


def test_parameters_in_force_on_a_date_for_a_district(client, clerk):
    client.force_login(clerk)
    response = client.get(reverse("policies:parameters"), {"on": "2017-12-31", "district": "331004"})

    content = response.content.decode()
    assert response.status_code == 200
    rows = {row.code: row for row in response.context["rows"]}
    assert rows["res_medical.individual"].resolved.value == 160
    assert "区自定（过渡）" in content and "路政办发〔2015〕演示1号" in content
    assert "台政办发〔2016〕127号" not in content  # documents shown are the ones that set the values
    assert "演示" in content


def test_the_first_visit_shows_today_for_the_clerks_district(client, clerk):
    client.force_login(clerk)
    response = client.get(reverse("policies:parameters"))
    assert response.status_code == 200
    assert response.context["district"] == "331003"


@pytest.mark.parametrize(
    ("params", "expected"),
    [({"on": "2024-02-30"}, "日期格式应为 YYYY-MM-DD"), ({"district": "999999"}, "未知的区代码")],
)
def test_bad_query_input_is_a_400_with_the_field_message(client, clerk, params, expected):
    client.force_login(clerk)
    response = client.get(reverse("policies:parameters"), params)
    assert response.status_code == 400
    assert expected in response.content.decode()


def test_the_unification_report_renders_for_the_demo_data(client, clerk):
    client.force_login(clerk)
    response = client.get(reverse("policies:unification"))

    assert response.status_code == 200
    report = response.context["report"]
    rows = {row.code: row for row in report.rows}
    jiaojiang = rows["res_medical.individual"].cells[0]
    assert (jiaojiang.district_code, jiaojiang.before.value, jiaojiang.difference) == ("331002", 150, 30)
    assert rows["land_farmer.shares"].cells[1].differs
    samples = {s.key: s for s in report.samples}
    huangyan_benefit = samples["land_farmer_benefit"].cells[1]
    assert (huangyan_benefit.before, huangyan_benefit.after, huangyan_benefit.difference) == (480, 620, 140)
    content = response.content.decode()
    assert "椒政办发〔2015〕演示1号" in content and "尚未提出" in content


def test_the_unification_report_exports_to_xlsx(client, clerk):
    client.force_login(clerk)
    response = client.get(
        reverse("policies:unification"), {"before": "2017-06-30", "after": "2017-07-01", "format": "xlsx"}
    )

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    workbook = openpyxl.load_workbook(io.BytesIO(response.content))
    assert workbook.sheetnames == ["参数对比", "示例测算", "区级文件清理"]
    codes = [row[0] for row in workbook["参数对比"].iter_rows(min_row=4, values_only=True)]
    assert "res_medical.individual" in codes
    labels = [row[0] for row in workbook["示例测算"].iter_rows(min_row=2, values_only=True)]
    assert any("被征地农民" in label for label in labels)


def test_the_report_refuses_dates_in_the_wrong_order(client, clerk):
    client.force_login(clerk)
    response = client.get(reverse("policies:unification"), {"before": "2018-01-01", "after": "2017-01-01"})
    assert response.status_code == 400 and "统一后日期不能早于统一前日期" in response.content.decode()


def test_documents_are_searched_and_shown_with_their_values(client, clerk):
    client.force_login(clerk)
    listing = client.get(reverse("policies:document_list"), {"q": "被征地"})
    assert "黄政办发〔2014〕演示1号" in listing.content.decode()
    document = PolicyDocument.objects.get(number="黄政办发〔2014〕演示1号")
    detail = client.get(reverse("policies:document_detail", args=[document.uid]))
    assert detail.status_code == 200
    assert "land_farmer.benefit_monthly" in detail.content.decode()
    assert not detail.context["can_propose"]  # a clerk only reads


def test_the_clean_up_workflow_through_the_pages(client, officer, admin_a):
    document = PolicyDocument.objects.get(number="椒政办发〔2015〕演示1号")
    url = reverse("policies:document_detail", args=[document.uid])

    client.force_login(officer)
    bad = client.post(
        reverse("policies:decision_propose", args=[document.uid]), {"decision": "repeal", "reason": "重复"}
    )
    assert bad.status_code == 400 and "请填写废止或并入的生效日期" in bad.content.decode()
    client.post(
        reverse("policies:decision_propose", args=[document.uid]),
        {"decision": "repeal", "effective_on": "2017-07-01", "reason": "已由市区统一政策替代"},
    )
    decision = PolicyDecision.objects.get(document=document)
    own = client.post(reverse("policies:decision_decide", args=[decision.uid, "approve"]), {"note": ""})
    assert own.status_code == 400 and "提出人不能审批" in own.content.decode()
    assert PolicyDecision.objects.get(pk=decision.pk).status == DecisionStatus.PROPOSED

    client.force_login(admin_a)
    page = client.get(url)
    assert page.context["can_decide"]
    done = client.post(reverse("policies:decision_decide", args=[decision.uid, "approve"]), {"note": "同意"})
    assert done.status_code == 302
    document.refresh_from_db()
    assert (document.status, document.repealed_on) == (DocumentStatus.REPEALED, D(2017, 7, 1))
    history = client.get(url)
    assert "清理决定" in history.content.decode() and "admin_a" in history.content.decode()


def test_a_city_document_is_repealed_from_its_page(client, officer):
    document = PolicyDocument.objects.get(number="台财社〔2017〕演示2号")
    client.force_login(officer)
    response = client.post(
        reverse("policies:document_repeal", args=[document.uid]),
        {"repealed_on": "2030-01-01", "reason": "新办法替代"},
    )
    assert response.status_code == 302
    document.refresh_from_db()
    assert document.status == DocumentStatus.REPEALED
    assert not document.values.filter(valid_to__isnull=True).exists()
