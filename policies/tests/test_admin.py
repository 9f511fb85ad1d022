import datetime
import io
import json

import openpyxl
import pytest
import tablib
from django.contrib.admin.sites import site
from django.urls import reverse

from policies import services
from policies.models import DecisionStatus, ParameterValue, PolicyDecision, PolicyDocument
from policies.resources import ParameterValueResource
from policies.tests.factories import ParameterFactory, PolicyDocumentFactory

D = datetime.date
pytestmark = pytest.mark.django_db

HEADERS = ["uid", "code", "district", "valid_from", "valid_to", "value", "document", "is_demo", "note"]


def xlsx_file(rows: list[list]) -> io.BytesIO:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(HEADERS)
    for row in rows:
        ws.append(row)
    out = io.BytesIO()
    wb.save(out)
    out.seek(0)
    out.name = "parameters.xlsx"
    return out


def xlsx_format_index() -> str:
    formats = site._registry[ParameterValue].get_import_formats()
    return str(next(i for i, f in enumerate(formats) if f.__name__ == "XLSX"))


@pytest.mark.parametrize("name", ["policydocument", "parameter", "parametervalue", "policydecision"])
def test_policy_officer_sees_the_admin_lists(client, officer, name):
    client.force_login(officer)
    assert client.get(reverse(f"admin:policies_{name}_changelist")).status_code == 200


def test_an_xlsx_import_with_a_bad_row_shows_the_error_and_writes_nothing(client, officer):
    param = ParameterFactory(kind="rate", name="导入测试费率")
    doc = PolicyDocumentFactory()
    before = ParameterValue.objects.count()
    upload = xlsx_file(
        [
            ["", param.code, "", "2020-01-01", "2021-01-01", "0.1", doc.number, "", ""],
            ["", param.code, "", "2021-01-01", "", "1.5", doc.number, "", ""],
            ["", param.code, "331003", "2021-01-01", "", "0.2", "没有这个文号", "", ""],
        ]
    )
    client.force_login(officer)

    response = client.post(
        reverse("admin:policies_parametervalue_import"),
        {"import_file": upload, "format": xlsx_format_index(), "resource": "0"},
    )

    content = response.content.decode()
    assert response.status_code == 200
    assert "费率必须在 0 到 1 之间" in content
    assert "未登记的文号“没有这个文号”" in content
    assert "confirm" not in response.context or not response.context.get("confirm_form")
    assert ParameterValue.objects.count() == before


def test_an_xlsx_import_of_good_rows_is_validated_like_the_services(officer):
    param = ParameterFactory(kind="table", shape="thresholds")
    doc = PolicyDocumentFactory()
    dataset = tablib.Dataset(headers=HEADERS)
    dataset.append(
        [
            "",
            param.code,
            "",
            "2020-01-01",
            "",
            '{"alarm_below": 3, "warn_below": 6, "excess_above": 15}',
            doc.number,
            "1",
            "演示",
        ]
    )
    dataset.append(
        [
            "",
            param.code,
            "331002",
            datetime.datetime(2020, 1, 1),
            "",
            '{"alarm_below": 2, "warn_below": 6, "excess_above": 15}',
            doc.number,
            "",
            "",
        ]
    )

    result = ParameterValueResource(user=officer).import_data(
        dataset, dry_run=False, rollback_on_validation_errors=True
    )

    assert not result.has_errors() and not result.has_validation_errors()
    city = ParameterValue.objects.get(parameter=param, district__isnull=True)
    district = ParameterValue.objects.get(parameter=param, district__isnull=False)
    assert city.value_table == {"alarm_below": "3", "warn_below": "6", "excess_above": "15"} and city.is_demo
    assert district.district.code == "331002"
    assert city.history.get().history_user == officer


def test_overlapping_rows_in_one_import_are_refused(officer):
    param = ParameterFactory(kind="rate")
    doc = PolicyDocumentFactory()
    dataset = tablib.Dataset(headers=HEADERS)
    dataset.append(["", param.code, "", "2020-01-01", "", "0.1", doc.number, "", ""])
    dataset.append(["", param.code, "", "2022-01-01", "", "0.2", doc.number, "", ""])

    result = ParameterValueResource(user=officer).import_data(
        dataset, dry_run=False, rollback_on_validation_errors=True
    )

    assert result.has_validation_errors()
    assert "期间重叠" in json.dumps(
        [str(e) for row in result.invalid_rows for e in row.error.messages], ensure_ascii=False
    )
    assert not ParameterValue.objects.filter(parameter=param).exists()


def test_the_parameter_table_exports_and_imports_back_unchanged(officer):
    exported = ParameterValueResource(user=officer).export()
    workbook = openpyxl.load_workbook(io.BytesIO(exported.export("xlsx")))
    rows = list(workbook.active.iter_rows(values_only=True))
    header = rows[0]
    assert header[:3] == ("编号", "参数代码", "适用区")  # Chinese headings for the administrators
    benchmark = next(r for r in rows if r[header.index("参数代码")] == "rate.work_injury.benchmark")
    assert json.loads(benchmark[header.index("取值")])["8"] == "0.019"
    assert benchmark[header.index("依据文件")] == "人社部发〔2015〕71号"

    count = ParameterValue.objects.count()
    result = ParameterValueResource(user=officer).import_data(exported, dry_run=True)
    assert not result.has_errors() and not result.has_validation_errors()
    assert ParameterValue.objects.count() == count


def test_the_admin_form_refuses_a_bad_value_with_its_message(client, officer):
    param = ParameterFactory(kind="rate")
    doc = PolicyDocumentFactory()
    client.force_login(officer)
    response = client.post(
        reverse("admin:policies_parametervalue_add"),
        {
            "parameter": param.pk,
            "district": "",
            "valid_from": "2020-01-01",
            "valid_to": "2019-01-01",
            "document": doc.pk,
            "value": "0.1",
            "note": "",
        },
    )
    assert response.status_code == 200
    assert "必须晚于起始日期" in response.content.decode()
    assert not ParameterValue.objects.filter(parameter=param).exists()


def test_the_admin_form_saves_a_good_value(client, officer):
    param = ParameterFactory(kind="amount")
    doc = PolicyDocumentFactory()
    client.force_login(officer)
    response = client.post(
        reverse("admin:policies_parametervalue_add"),
        {"parameter": param.pk, "valid_from": "2020-01-01", "document": doc.pk, "value": "1,234.5", "note": ""},
    )
    assert response.status_code == 302
    assert str(ParameterValue.objects.get(parameter=param).value_decimal.normalize()) == "1234.5"


def test_a_city_administrator_approves_from_the_admin_list(client, officer, admin_b):
    document = PolicyDocument.objects.get(number="黄人社发〔2016〕演示2号")
    decision = services.policy_decision_propose(
        acting_user=officer, document=document, decision="repeal", effective_on=D(2017, 7, 1), reason="已统一"
    )
    client.force_login(admin_b)
    response = client.post(
        reverse("admin:policies_policydecision_changelist"),
        {"action": "approve", "_selected_action": [decision.pk]},
        follow=True,
    )
    assert response.status_code == 200
    decision.refresh_from_db()
    document.refresh_from_db()
    assert decision.status == DecisionStatus.APPROVED and document.status == "repealed"


def test_the_proposer_cannot_approve_from_the_admin_list_either(client, officer):
    from policies.tests.conftest import make_user
    from registry import roles

    both = make_user("both", "331000", roles.POLICY_OFFICER, roles.CITY_ADMIN, is_staff=True)
    document = PolicyDocument.objects.get(number="黄人社发〔2016〕演示2号")
    decision = services.policy_decision_propose(
        acting_user=both, document=document, decision="repeal", effective_on=D(2017, 7, 1), reason="已统一"
    )
    client.force_login(both)
    response = client.post(
        reverse("admin:policies_policydecision_changelist"),
        {"action": "approve", "_selected_action": [decision.pk]},
        follow=True,
    )
    assert "提出人不能审批" in response.content.decode()
    assert PolicyDecision.objects.get(pk=decision.pk).status == DecisionStatus.PROPOSED
