import datetime

import pytest
from django.core.exceptions import ValidationError

from policies import services
from policies.models import DocumentStatus, PolicyDocument
from policies.selectors import ParameterNotFound, document_search, parameter_value
from policies.tests.factories import ParameterFactory, PolicyDocumentFactory
from registry.exceptions import PermissionDeniedError
from registry.models import Office

D = datetime.date
pytestmark = pytest.mark.django_db


def new_document(user, **overrides):
    data = {
        "acting_user": user,
        "number": "台人社发〔2025〕9号",
        "title": "关于调整市区缴费基数的通知",
        "issuer": "台州市人力资源和社会保障局",
        "level": "city",
        "effective_from": D(2025, 1, 1),
        "insurances": ["res_medical", "emp_pension"],
    }
    data.update(overrides)
    return services.policy_document_create(**data)


def test_a_document_is_created_with_who_created_it(officer):
    document = new_document(officer, number="  台人社发〔2025〕9号 ")

    assert document.number == "台人社发〔2025〕9号"
    assert document.insurances == ["emp_pension", "res_medical"]  # catalogue order
    assert document.status == DocumentStatus.IN_FORCE
    assert document.history.get().history_user == officer


@pytest.mark.parametrize(
    ("overrides", "field", "expected"),
    [
        ({"level": "district"}, "district", "区级文件须填写发文的区"),
        ({"district_code": "331003"}, "district", "只有区级文件填写发文区"),
        ({"insurances": ["pension"]}, "insurances", "未知的险种代码：pension"),
        ({"number": "台政办发〔2016〕127号"}, "number", "已登记"),
        ({"title": " "}, "title", "请填写文件标题"),
    ],
)
def test_bad_document_particulars_are_refused(officer, overrides, field, expected):
    if "district_code" in overrides:
        overrides["district"] = Office.objects.get(code=overrides.pop("district_code"))
    count = PolicyDocument.objects.count()
    with pytest.raises(ValidationError) as exc:
        new_document(officer, **overrides)
    assert expected in exc.value.message_dict[field][0]
    assert PolicyDocument.objects.count() == count


def test_repealing_a_document_ends_its_values_on_the_repeal_date(officer):
    document = PolicyDocumentFactory(effective_from=D(2018, 1, 1))
    param = ParameterFactory()
    value = services.parameter_value_create(
        acting_user=officer, parameter=param, value="0.1", valid_from=D(2018, 1, 1), document=document
    )

    services.policy_document_repeal(document=document, acting_user=officer, repealed_on=D(2024, 7, 1), reason="已到期")

    document.refresh_from_db()
    value.refresh_from_db()
    assert (document.status, document.repealed_on) == (DocumentStatus.REPEALED, D(2024, 7, 1))
    assert value.valid_to == D(2024, 7, 1)
    assert parameter_value(param.code, on=D(2024, 6, 30)).value_id == value.pk
    with pytest.raises(ParameterNotFound):
        parameter_value(param.code, on=D(2024, 7, 1))
    assert "已到期" in value.history.order_by("-history_id").first().history_change_reason


def test_a_document_cannot_be_repealed_before_a_value_it_sets_starts(officer):
    document = PolicyDocumentFactory(effective_from=D(2018, 1, 1))
    value = services.parameter_value_create(
        acting_user=officer, parameter=ParameterFactory(), value="0.1", valid_from=D(2023, 1, 1), document=document
    )
    with pytest.raises(ValidationError) as exc:
        services.policy_document_repeal(document=document, acting_user=officer, repealed_on=D(2022, 1, 1), reason="x")
    assert "2023-01-01" in exc.value.message_dict["effective_on"][0]
    document.refresh_from_db()
    value.refresh_from_db()
    assert document.status == DocumentStatus.IN_FORCE and value.valid_to is None


def test_a_superseded_document_names_its_successor(officer):
    old = PolicyDocumentFactory(effective_from=D(2018, 1, 1))
    successor = PolicyDocumentFactory(effective_from=D(2024, 1, 1))
    services.policy_document_repeal(
        document=old, acting_user=officer, repealed_on=D(2024, 1, 1), reason="新文件替代", superseded_by=successor
    )
    old.refresh_from_db()
    assert (old.status, old.superseded_by) == (DocumentStatus.SUPERSEDED, successor)


def test_a_district_document_is_not_repealed_directly(officer):
    document = PolicyDocument.objects.get(number="椒政办发〔2015〕演示1号")
    with pytest.raises(ValidationError, match="清理决定"):
        services.policy_document_repeal(document=document, acting_user=officer, repealed_on=D(2018, 1, 1), reason="x")


def test_a_clerk_cannot_register_or_repeal_documents(clerk):
    with pytest.raises(PermissionDeniedError):
        new_document(clerk)
    with pytest.raises(PermissionDeniedError):
        services.policy_document_repeal(
            document=PolicyDocumentFactory(), acting_user=clerk, repealed_on=D(2024, 1, 1), reason="x"
        )


def test_the_effective_date_cannot_move_past_a_value_citing_the_document(officer):
    document = PolicyDocumentFactory(effective_from=D(2018, 1, 1))
    services.parameter_value_create(
        acting_user=officer, parameter=ParameterFactory(), value="0.1", valid_from=D(2019, 1, 1), document=document
    )
    with pytest.raises(ValidationError, match="2019-01-01"):
        services.policy_document_update(document=document, acting_user=officer, effective_from=D(2020, 1, 1))


def test_documents_are_searchable_by_number_title_issuer_and_text():
    assert [d.number for d in document_search(query="127号")] == ["台政办发〔2016〕127号"]
    assert "台政办发〔2016〕127号" in [d.number for d in document_search(query="政策统一化")]  # in the text
    assert {d.district.code for d in document_search(level="district")} == {"331002", "331003", "331004"}
    in_force_2010 = {d.number for d in document_search(in_force_on=D(2010, 1, 1))}
    assert "国发〔2005〕38号" in in_force_2010 and "台政办发〔2016〕127号" not in in_force_2010
    assert "医保发〔2024〕19号" in {d.number for d in document_search(insurance="res_medical")}
