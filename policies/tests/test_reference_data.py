"""The reference data loaded by migration 0003: documents cited, unsure figures flagged, every rule met."""

import datetime
from decimal import Decimal

import pytest

from policies import codes
from policies.models import Parameter, ParameterValue, PolicyDocument
from policies.selectors import parameter_value, parameter_values
from policies.services import parameter_value_prepare

D = datetime.date
pytestmark = pytest.mark.django_db


def test_the_reform_plan_is_a_document_with_its_text():
    reform = PolicyDocument.objects.get(number="台政办发〔2016〕127号")
    assert reform.level == "city" and not reform.is_demo
    assert reform.issued_on == D(2016, 12, 30)
    assert "妥善清理自行出台的三区相关社保政策" in reform.text


def test_every_loaded_value_meets_the_rules_the_services_enforce():
    for value in ParameterValue.objects.select_related("parameter", "document", "district"):
        parameter_value_prepare(value)


def test_every_value_cites_a_document_and_every_demo_value_says_why():
    for value in ParameterValue.objects.select_related("document"):
        assert value.document_id
        assert value.valid_from >= D(2017, 1, 1) or value.district_id, value  # city data from 2017 on
        if value.is_demo:
            assert value.note.strip(), value
    assert PolicyDocument.objects.filter(is_demo=True, note="").count() == 0


def test_unsure_figures_are_demo_and_sure_ones_are_not():
    on = D(2018, 6, 1)
    assert parameter_value(codes.RATE_EMP_PENSION_EMPLOYER, on=on).is_demo
    assert parameter_value(codes.RES_PENSION_GRADES, on=on).is_demo
    late = parameter_value(codes.LATE_FEE_DAILY_RATE, on=on)
    assert (late.value, late.is_demo, late.document_number) == (Decimal("0.0005"), False, "中华人民共和国主席令第35号")
    assert parameter_value(codes.BASE_CEILING_RATIO, on=on).value == 3


def test_every_catalogue_code_resolves_city_wide():
    """Every standing parameter has a city-wide value; the event codes (调待) have none until one is decided."""
    every = list(Parameter.objects.exclude(code__in=codes.EVENT_CODES).values_list("code", flat=True))
    assert set(codes.EVENT_CODES) <= set(Parameter.objects.values_list("code", flat=True))
    assert not ParameterValue.objects.filter(parameter__code__in=codes.EVENT_CODES).exists()
    resolved = parameter_values(every, on=D(2025, 6, 1))
    assert set(resolved) == set(every)
    for insurance in codes.FUND_WARNING_INSURANCES:
        # The medical funds have a fifth band, "high" above 9 months (policies migration 0009, 人社部发〔2009〕67号).
        bands = {"alarm_below", "warn_below", "excess_above"} | (
            {"high_above"} if insurance.endswith("medical") else set()
        )
        assert set(resolved[codes.fund_warning_code(insurance)].value) == bands


def test_the_code_constants_name_loaded_parameters():
    names = {v for k, v in vars(codes).items() if k.isupper() and isinstance(v, str)}
    assert names <= set(Parameter.objects.values_list("code", flat=True))


def test_the_next_years_adjustment_is_loaded_ahead():
    now, ahead = D(2026, 6, 1), D(2027, 1, 1)
    assert parameter_value(codes.RES_MEDICAL_SUBSIDY, on=now).value == 700
    scheduled = parameter_value(codes.RES_MEDICAL_SUBSIDY, on=ahead)
    assert scheduled.value == 730 and scheduled.document_number == "台人社发〔2026〕演示7号"


def test_the_2019_rate_cut_and_base_change_are_dated():
    assert parameter_value(codes.RATE_UNEMPLOYMENT_EMPLOYER, on=D(2019, 4, 30)).value == Decimal("0.015")
    cut = parameter_value(codes.RATE_UNEMPLOYMENT_EMPLOYER, on=D(2019, 5, 1))
    assert (cut.value, cut.document_number) == (Decimal("0.01"), "国办发〔2019〕13号")
    assert parameter_value(codes.BASE_FLOOR_RATIO, on=D(2019, 5, 1)).document_number == "国办发〔2019〕13号"
