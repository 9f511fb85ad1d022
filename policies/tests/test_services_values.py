import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from policies import codes, services
from policies.models import ParameterValue
from policies.selectors import parameter_value
from policies.tests.factories import ParameterFactory, ParameterValueFactory, PolicyDocumentFactory
from registry.exceptions import PermissionDeniedError
from registry.models import Office

D = datetime.date
pytestmark = pytest.mark.django_db


@pytest.fixture
def doc():
    return PolicyDocumentFactory(effective_from=D(2015, 1, 1))


def create(user, parameter, value, valid_from, document, **kwargs):
    return services.parameter_value_create(
        acting_user=user, parameter=parameter, value=value, valid_from=valid_from, document=document, **kwargs
    )


def errors_of(exc_info) -> dict:
    return exc_info.value.message_dict


def test_overlapping_periods_of_one_scope_are_refused_and_nothing_is_saved(officer, doc):
    param = ParameterFactory(kind="rate")
    create(officer, param, "0.1", D(2020, 1, 1), doc, valid_to=D(2022, 1, 1))
    before = ParameterValue.objects.count()

    with pytest.raises(ValidationError) as exc:
        create(officer, param, "0.2", D(2021, 6, 1), doc)

    assert "期间重叠" in errors_of(exc)["valid_from"][0] and "2020-01-01" in errors_of(exc)["valid_from"][0]
    assert ParameterValue.objects.count() == before


def test_adjacent_periods_and_other_scopes_do_not_overlap(officer, doc):
    param = ParameterFactory(kind="rate")
    create(officer, param, "0.1", D(2020, 1, 1), doc, valid_to=D(2022, 1, 1))
    create(officer, param, "0.2", D(2022, 1, 1), doc)
    district_doc = PolicyDocumentFactory(level="district", district=Office.objects.get(code="331002"))
    create(officer, param, "0.3", D(2020, 1, 1), district_doc, district=Office.objects.get(code="331002"))

    assert ParameterValue.objects.filter(parameter=param).count() == 3


def test_an_open_ended_value_overlaps_everything_after_it(officer, doc):
    param = ParameterFactory(kind="rate")
    create(officer, param, "0.1", D(2020, 1, 1), doc)
    with pytest.raises(ValidationError) as exc:
        create(officer, param, "0.2", D(2030, 1, 1), doc)
    assert "长期" in errors_of(exc)["valid_from"][0]


@pytest.mark.parametrize("raw", ["1.5", "-0.01", "150%"])
def test_a_rate_outside_0_1_is_refused(officer, doc, raw):
    param = ParameterFactory(kind="rate", name="测试费率")
    with pytest.raises(ValidationError) as exc:
        create(officer, param, raw, D(2020, 1, 1), doc)
    message = errors_of(exc)["value"][0]
    assert "测试费率" in message and "0 到 1" in message
    assert not ParameterValue.objects.filter(parameter=param).exists()


def test_a_rate_may_be_typed_as_a_percentage(officer, doc):
    param = ParameterFactory(kind="rate")
    value = create(officer, param, "14%", D(2020, 1, 1), doc)
    assert value.value_decimal == Decimal("0.14")


def test_a_floor_above_the_ceiling_is_refused_and_the_schedule_is_undone(officer):
    doc = PolicyDocumentFactory(effective_from=D(2030, 1, 1))
    current_floor = ParameterValue.objects.get(parameter__code=codes.BASE_FLOOR_RATIO, valid_to__isnull=True)

    with pytest.raises(ValidationError) as exc:
        services.parameter_value_schedule(
            acting_user=officer, parameter=codes.BASE_FLOOR_RATIO, value="3.5", valid_from=D(2030, 1, 1), document=doc
        )

    message = errors_of(exc)["value"][0]
    assert "缴费基数下限" in message and "不能高于" in message and "缴费基数上限" in message
    current_floor.refresh_from_db()
    assert current_floor.valid_to is None  # the ending of the old value was rolled back too
    assert not ParameterValue.objects.filter(parameter__code=codes.BASE_FLOOR_RATIO, valid_from=D(2030, 1, 1)).exists()


def test_a_ceiling_below_the_floor_is_refused(officer):
    doc = PolicyDocumentFactory(effective_from=D(2030, 1, 1))
    with pytest.raises(ValidationError, match="不能高于"):
        services.parameter_value_schedule(
            acting_user=officer, parameter=codes.BASE_CEILING_RATIO, value="0.5", valid_from=D(2030, 1, 1), document=doc
        )


def test_an_end_before_the_start_is_refused(officer, doc):
    param = ParameterFactory(kind="rate")
    with pytest.raises(ValidationError) as exc:
        create(officer, param, "0.1", D(2020, 1, 1), doc, valid_to=D(2020, 1, 1))
    assert "必须晚于起始日期" in errors_of(exc)["valid_to"][0]


def test_a_value_without_a_source_document_is_refused(officer):
    param = ParameterFactory(kind="rate")
    with pytest.raises(ValidationError) as exc:
        create(officer, param, "0.1", D(2020, 1, 1), None)
    assert "依据文件" in errors_of(exc)["document"][0]
    assert not ParameterValue.objects.filter(parameter=param).exists()


@pytest.mark.parametrize(
    ("kind", "shape", "raw", "expected"),
    [
        ("months", "", "1.5", "请填写整数"),
        ("months", "", "abc", "请填写整数"),
        ("amount", "", "十元", "请填写数字"),
        ("amount", "", "12.345", "最多保留 2 位小数"),
        ("rate", "", {"1": "0.1"}, "不能填写表格"),
        ("table", "by_risk_class", "0.1", "不能填写单个数值"),
        ("table", "by_risk_class", "not json", "请填写 JSON"),
    ],
)
def test_a_value_of_the_wrong_type_is_refused(officer, doc, kind, shape, raw, expected):
    param = ParameterFactory(kind=kind, shape=shape)
    with pytest.raises(ValidationError) as exc:
        create(officer, param, raw, D(2020, 1, 1), doc)
    assert expected in errors_of(exc)["value"][0]


@pytest.mark.parametrize(
    ("shape", "raw", "expected"),
    [
        ("by_risk_class", {str(n): "0.01" for n in range(1, 8)}, "恰好包含风险类别 1 至 8"),
        ("by_risk_class", {**{str(n): "0.01" for n in range(1, 8)}, "8": "2"}, "类别 8：费率必须在 0 到 1 之间"),
        ("float_grades", {str(n): ["0.5", "1.5"] for n in range(1, 9)}, "必须包含基准档 1"),
        (
            "grades",
            [{"grade": 1, "amount": "300", "subsidy": "30"}, {"grade": 2, "amount": "200", "subsidy": "40"}],
            "递增",
        ),
        ("grades", [{"grade": 1, "amount": "300"}], "恰好包含 grade、amount、subsidy"),
        ("shares", {"government": "0.5", "collective": "0.4", "individual": "0.3"}, "合计必须为 1"),
        ("shares", {"government": "0.5", "individual": "0.5"}, "必须恰好包含"),
        ("thresholds", {"alarm_below": "6", "warn_below": "3", "excess_above": "15"}, "alarm_below ≤ warn_below"),
        ("rounding", {"places": 2, "mode": "ROUND_BANKERS"}, "舍入方式必须是"),
    ],
)
def test_a_table_of_the_wrong_shape_is_refused(officer, doc, shape, raw, expected):
    keys = ["government", "collective", "individual"] if shape == "shares" else []
    param = ParameterFactory(kind="table", shape=shape, table_keys=keys)
    with pytest.raises(ValidationError) as exc:
        create(officer, param, raw, D(2020, 1, 1), doc)
    assert expected in errors_of(exc)["value"][0]


def test_tables_are_stored_in_canonical_form(officer, doc):
    param = ParameterFactory(kind="table", shape="grades")
    value = create(
        officer,
        param,
        '[{"grade": 2, "amount": "300.00", "subsidy": 40}, {"grade": 1, "amount": 100, "subsidy": "30.0"}]',
        D(2020, 1, 1),
        doc,
    )
    assert value.value_table == [
        {"grade": 1, "amount": "100", "subsidy": "30"},
        {"grade": 2, "amount": "300", "subsidy": "40"},
    ]


def test_a_value_may_not_start_before_its_document(officer):
    doc = PolicyDocumentFactory(effective_from=D(2021, 1, 1))
    with pytest.raises(ValidationError) as exc:
        create(officer, ParameterFactory(), "0.1", D(2020, 1, 1), doc)
    assert doc.number in errors_of(exc)["valid_from"][0]


def test_a_district_document_sets_only_its_own_district_values(officer):
    doc = PolicyDocumentFactory(level="district", district=Office.objects.get(code="331003"))
    with pytest.raises(ValidationError) as exc:
        create(officer, ParameterFactory(), "0.1", D(2020, 1, 1), doc)
    assert "只能设定" in errors_of(exc)["district"][0]


def test_a_value_in_force_keeps_its_figure_but_may_be_ended(officer, doc):
    value = create(officer, ParameterFactory(), "0.1", D(2020, 1, 1), doc)

    with pytest.raises(ValidationError) as exc:
        services.parameter_value_update(parameter_value=value, acting_user=officer, reason="改费率", value="0.2")
    ended = services.parameter_value_end(
        parameter_value=value, acting_user=officer, valid_to=D(2025, 1, 1), reason="新文件接替"
    )

    assert "已经生效" in errors_of(exc)["value"][0]
    value.refresh_from_db()
    assert value.value_decimal == Decimal("0.1") and ended.valid_to == D(2025, 1, 1)
    latest = value.history.order_by("-history_id").first()
    assert (latest.history_user, latest.history_change_reason, latest.history_office_id) == (
        officer,
        "新文件接替",
        officer.office_id,
    )


def test_a_value_scheduled_ahead_can_still_be_changed_or_withdrawn(officer):
    start = D(timezone.localdate().year + 1, 1, 1)
    doc = PolicyDocumentFactory(effective_from=start)
    value = create(officer, ParameterFactory(), "0.1", start, doc)

    services.parameter_value_update(parameter_value=value, acting_user=officer, reason="测算后调整", value="0.12")
    value.refresh_from_db()
    assert value.value_decimal == Decimal("0.12") and value.revision == 1

    services.parameter_value_cancel(parameter_value=value, acting_user=officer, reason="方案取消")
    assert not ParameterValue.objects.filter(pk=value.pk).exists()


def test_a_value_that_was_in_force_cannot_be_withdrawn(officer, doc):
    value = create(officer, ParameterFactory(), "0.1", D(2020, 1, 1), doc)
    with pytest.raises(ValidationError, match="已经生效"):
        services.parameter_value_cancel(parameter_value=value, acting_user=officer, reason="误录")


def test_a_role_without_the_permission_cannot_write_values(clerk, doc):
    with pytest.raises(PermissionDeniedError, match="无权"):
        create(clerk, ParameterFactory(), "0.1", D(2020, 1, 1), doc)


def test_the_database_refuses_a_rate_outside_0_1_even_without_the_services():
    value = ParameterValueFactory.build(parameter=ParameterFactory(), value_decimal=Decimal("1.5"))
    value.document.save()
    value.document_id = value.document.pk
    with pytest.raises(IntegrityError), transaction.atomic():
        value.save()


def test_the_database_refuses_a_value_in_the_wrong_column():
    param = ParameterFactory(kind="months")
    with pytest.raises(IntegrityError), transaction.atomic():
        ParameterValueFactory(parameter=param, value_decimal=Decimal("3"))


@pytest.mark.postgres
def test_postgresql_refuses_overlapping_periods_written_past_the_services():
    param = ParameterFactory()
    ParameterValueFactory(parameter=param, valid_from=D(2020, 1, 1), valid_to=D(2022, 1, 1))
    ParameterValueFactory(parameter=param, valid_from=D(2022, 1, 1))  # adjacent: fine
    with pytest.raises(IntegrityError, match="paramvalue_no_overlap"), transaction.atomic():
        ParameterValueFactory(parameter=param, valid_from=D(2021, 1, 1), valid_to=D(2021, 2, 1))
    with pytest.raises(IntegrityError, match="paramvalue_no_overlap"), transaction.atomic():
        ParameterValueFactory(parameter=param, valid_from=D(2030, 1, 1))


def test_resolution_follows_the_service_writes(officer, doc):
    param = ParameterFactory()
    create(officer, param, "0.1", D(2020, 1, 1), doc)
    assert parameter_value(param.code, on=D(2024, 1, 1)).value == Decimal("0.1")
