import datetime
import json
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from policies import cache as param_cache
from policies import codes, services
from policies.selectors import (
    ParameterNotFound,
    money_round,
    parameter_table,
    parameter_value,
    parameter_values,
    rounding_rule,
)
from policies.tests.factories import ParameterFactory, ParameterValueFactory, PolicyDocumentFactory
from registry.models import Office

D = datetime.date
pytestmark = pytest.mark.django_db


def township(district_code: str) -> Office:
    return Office.objects.filter(level=3, parent__code=district_code).order_by("code").first()


def test_last_day_of_old_period_and_first_day_of_new():
    param = ParameterFactory(kind="rate")
    old = ParameterValueFactory(
        parameter=param, valid_from=D(2020, 1, 1), valid_to=D(2022, 1, 1), value_decimal=Decimal("0.14")
    )
    new = ParameterValueFactory(parameter=param, valid_from=D(2022, 1, 1), value_decimal=Decimal("0.16"))

    last_old = parameter_value(param.code, on=D(2021, 12, 31))
    first_new = parameter_value(param.code, on=D(2022, 1, 1))

    assert (last_old.value, last_old.value_id, last_old.valid_to) == (Decimal("0.14"), old.pk, D(2022, 1, 1))
    assert (first_new.value, first_new.value_id, first_new.valid_to) == (Decimal("0.16"), new.pk, None)
    with pytest.raises(ParameterNotFound):
        parameter_value(param.code, on=D(2019, 12, 31))


def test_district_transition_value_is_preferred_over_the_city_value():
    param = ParameterFactory(kind="amount", category="resident")
    city = ParameterValueFactory(parameter=param, valid_from=D(2017, 1, 1), value_decimal=Decimal("180"))
    luqiao = ParameterValueFactory(
        parameter=param,
        district=Office.objects.get(code="331004"),
        valid_from=D(2017, 1, 1),
        valid_to=D(2018, 1, 1),
        value_decimal=Decimal("160"),
        document=PolicyDocumentFactory(level="district", district=Office.objects.get(code="331004")),
    )

    in_luqiao = parameter_value(param.code, on=D(2017, 12, 31), office=township("331004"))
    after_transition = parameter_value(param.code, on=D(2018, 1, 1), office=township("331004"))
    in_huangyan = parameter_value(param.code, on=D(2017, 12, 31), office=township("331003"))
    city_wide = parameter_value(param.code, on=D(2017, 12, 31))
    city_office = parameter_value(param.code, on=D(2017, 12, 31), office=Office.objects.get(code="331000"))

    assert (in_luqiao.value, in_luqiao.value_id, in_luqiao.scope_district_code) == (
        Decimal("160.00"),
        luqiao.pk,
        "331004",
    )
    assert in_luqiao.is_district_specific
    assert (after_transition.value, after_transition.value_id, after_transition.scope_district_code) == (
        Decimal("180.00"),
        city.pk,
        None,
    )
    assert in_huangyan.value_id == city.pk
    assert city_wide.value_id == city.pk
    assert city_office.value_id == city.pk
    # The bulk resolver and the district-code form agree with the office form.
    assert parameter_values([param.code], on=D(2017, 12, 31), district_code="331004")[param.code].value_id == luqiao.pk


def test_a_value_scheduled_for_next_year_applies_from_its_first_day(officer):
    today = timezone.localdate()
    next_year = D(today.year + 1, 1, 1)
    doc = PolicyDocumentFactory(effective_from=D(2015, 1, 1))
    param = ParameterFactory(kind="amount", category="resident")
    current = services.parameter_value_create(
        acting_user=officer, parameter=param, value="400", valid_from=D(2020, 1, 1), document=doc
    )
    adjustment = PolicyDocumentFactory(effective_from=next_year, issued_on=today)

    scheduled = services.parameter_value_schedule(
        acting_user=officer, parameter=param, value="420", valid_from=next_year, document=adjustment
    )

    current.refresh_from_db()
    assert current.valid_to == next_year
    assert parameter_value(param.code, on=today).value == Decimal("400.00")
    assert parameter_value(param.code, on=next_year - datetime.timedelta(days=1)).value_id == current.pk
    resolved = parameter_value(param.code, on=next_year)
    assert (resolved.value, resolved.value_id, resolved.document_number) == (
        Decimal("420.00"),
        scheduled.pk,
        adjustment.number,
    )


def test_a_resolved_value_records_the_version_it_came_from(officer):
    doc = PolicyDocumentFactory()
    param = ParameterFactory(kind="rate")
    demo = services.parameter_value_create(
        acting_user=officer, parameter=param, value="0.08", valid_from=D(2020, 1, 1), document=doc, is_demo=True
    )
    first = parameter_value(param.code, on=D(2024, 1, 1))
    record = first.as_record()

    services.parameter_value_update(
        parameter_value=demo, acting_user=officer, reason="按正式文件更正演示值", value="0.085", is_demo=False
    )
    corrected = parameter_value(param.code, on=D(2024, 1, 1))

    assert (first.value_id, first.revision, first.is_demo) == (demo.pk, 1, True)
    assert json.loads(json.dumps(record)) == record  # storable as JSON on a bill
    assert record["value"] == "0.08" and record["value_id"] == demo.pk and record["document_number"] == doc.number
    # What was resolved before stays what it was; the correction is a new revision of the same version.
    assert first.value == Decimal("0.08")
    assert (corrected.value, corrected.value_id, corrected.revision, corrected.is_demo) == (
        Decimal("0.085"),
        demo.pk,
        2,
        False,
    )


def test_nothing_in_force_raises_a_specific_validation_error():
    param = ParameterFactory(kind="rate")
    ParameterValueFactory(parameter=param, valid_from=D(2020, 1, 1), valid_to=D(2021, 1, 1))

    with pytest.raises(ParameterNotFound) as after:
        parameter_value(param.code, on=D(2021, 1, 1))
    with pytest.raises(ValidationError) as unknown:
        parameter_value("no.such.code", on=D(2021, 1, 1))

    assert param.code in after.value.messages[0] and "2021-01-01" in after.value.messages[0]
    assert after.value.parameter_code == param.code
    assert "未知的参数代码" in unknown.value.messages[0]


def test_parameter_values_names_every_missing_code():
    with pytest.raises(ParameterNotFound) as exc:
        parameter_values([codes.LATE_FEE_DAILY_RATE, "no.such.a", "no.such.b"], on=D(2024, 1, 1))
    assert "no.such.a" in exc.value.messages[0] and "no.such.b" in exc.value.messages[0]


def test_values_have_their_python_types_and_tables_are_fresh_copies():
    on = D(2024, 6, 1)
    late = parameter_value(codes.LATE_FEE_DAILY_RATE, on=on)
    months = parameter_value(codes.BENEFIT_UNEMPLOYMENT_MAX_MONTHS, on=on)
    benchmark = parameter_value(codes.RATE_WORK_INJURY_BENCHMARK, on=on)
    benchmark.value["1"] = Decimal("9")

    assert late.value == Decimal("0.0005") and str(late.value) == "0.0005"
    assert months.value == 24 and isinstance(months.value, int)
    assert parameter_value(codes.RATE_WORK_INJURY_BENCHMARK, on=on).value["1"] == Decimal("0.002")
    assert parameter_value(codes.WAGE_AVERAGE_MONTHLY, on=on).value == Decimal("7100.00")


def test_key_picks_an_entry_of_a_table():
    on = D(2024, 6, 1)
    class3 = parameter_value(codes.RATE_WORK_INJURY_BENCHMARK, on=on, key="3")
    grade2 = parameter_value(codes.RES_PENSION_GRADES, on=on, key=2)
    floats = parameter_value(codes.RATE_WORK_INJURY_FLOAT_GRADES, on=on, key="1")

    assert (class3.value, class3.key) == (Decimal("0.007"), "3")
    assert grade2.value == {"grade": 2, "amount": Decimal("300"), "subsidy": Decimal("50")}
    assert floats.value == [Decimal("1"), Decimal("1.2"), Decimal("1.5")]
    with pytest.raises(ParameterNotFound, match="没有键"):
        parameter_value(codes.RATE_WORK_INJURY_BENCHMARK, on=on, key="9")
    with pytest.raises(ParameterNotFound, match="不是表格"):
        parameter_value(codes.LATE_FEE_DAILY_RATE, on=on, key="1")


def test_a_datetime_is_taken_as_its_local_date():
    when = timezone.make_aware(datetime.datetime(2021, 12, 31, 23, 30))
    assert parameter_value(codes.RATE_EMP_PENSION_EMPLOYER, on=when).value == Decimal("0.14")


def test_money_round_uses_the_rounding_parameter():
    on = D(2024, 1, 1)
    assert money_round(Decimal("1.005"), on=on) == Decimal("1.01")
    assert money_round(Decimal("2.344"), on=on) == Decimal("2.34")
    rule = rounding_rule(on=on)
    assert (rule.places, rule.mode, rule.apply(Decimal("10"))) == (2, "ROUND_HALF_UP", Decimal("10.00"))


def test_resolution_is_cached_until_the_version_changes(django_assert_num_queries):
    wanted = [codes.RATE_EMP_PENSION_EMPLOYER, codes.LATE_FEE_DAILY_RATE, codes.WAGE_AVERAGE_MONTHLY]
    on = D(2030, 6, 1)
    with django_assert_num_queries(2):  # the catalogue and every value, once
        first = parameter_values(wanted, on=on)
    with django_assert_num_queries(0):
        for _ in range(100):
            assert parameter_values(wanted, on=on) == first
            parameter_value(codes.RATE_EMP_PENSION_EMPLOYER, on=on, office=None)

    param_cache.bump_version()  # what a commit of a change, in any process, does

    with django_assert_num_queries(2):
        parameter_values(wanted, on=on)
    with django_assert_num_queries(0):
        parameter_values(wanted, on=on)


def test_a_change_is_seen_by_the_next_resolution(officer, django_capture_on_commit_callbacks):
    on = D(2030, 6, 1)
    before = parameter_value(codes.RATE_EMP_PENSION_EMPLOYER, on=on)
    doc = PolicyDocumentFactory(effective_from=D(2030, 1, 1))
    with django_capture_on_commit_callbacks(execute=True):
        services.parameter_value_schedule(
            acting_user=officer,
            parameter=codes.RATE_EMP_PENSION_EMPLOYER,
            value="0.15",
            valid_from=D(2030, 1, 1),
            document=doc,
        )

    changed = parameter_value(codes.RATE_EMP_PENSION_EMPLOYER, on=on)
    assert (before.value, changed.value) == (Decimal("0.16"), Decimal("0.15"))
    assert changed.value_id != before.value_id
    # The test's transaction will be rolled back: nothing it wrote may reach the shared cache.
    shared = cache.get(param_cache.SNAPSHOT_KEY.format(version=param_cache.current_version()))
    assert shared is None


def test_the_writer_mark_is_dropped_once_its_transaction_is_over():
    from django.db import connection

    ParameterFactory()  # this test's transaction has written policy data
    assert not param_cache.snapshot_publishable()
    # As seen from a later transaction on the same connection (a different outermost block wrote):
    connection._policies_parameters_dirty = object()
    assert param_cache.snapshot_publishable()
    assert connection._policies_parameters_dirty is None


def test_uncommitted_writes_are_seen_by_their_transaction_but_never_published():
    parameter_value(codes.LATE_FEE_DAILY_RATE, on=D(2024, 1, 1))  # a published snapshot exists
    param = ParameterFactory(kind="rate")

    class Rollback(Exception):
        pass

    with pytest.raises(Rollback), transaction.atomic():
        ParameterValueFactory(parameter=param, valid_from=D(2020, 1, 1), value_decimal=Decimal("0.3"))
        assert parameter_value(param.code, on=D(2024, 1, 1)).value == Decimal("0.3")
        shared = cache.get(param_cache.SNAPSHOT_KEY.format(version=param_cache.current_version()))
        assert shared is None or param.code not in shared.params
        raise Rollback

    with pytest.raises(ParameterNotFound):
        parameter_value(param.code, on=D(2024, 1, 1))


def test_parameter_table_lists_the_catalogue_with_the_district_value_beside_the_city_value():
    rows = {row.code: row for row in parameter_table(D(2017, 12, 31), "331004")}

    medical = rows[codes.RES_MEDICAL_INDIVIDUAL]
    assert medical.resolved.value == Decimal("160.00") and medical.resolved.is_district_specific
    assert medical.city.value == Decimal("180.00")
    assert rows[codes.LATE_FEE_DAILY_RATE].text == "0.0005（0.05%）"
    assert rows[codes.RES_MEDICAL_WAITING_MONTHS].resolved is None  # only from 2025
    assert len(rows) >= 40
