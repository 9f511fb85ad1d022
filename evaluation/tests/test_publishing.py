"""Publishing a month (frozen), corrections as new versions with a reason, and the refusals: weights not summing to
1, a month to come or not over, a published month edited, anyone but a city administrator — nothing changed."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest

from evaluation.models import EvaluationLine, EvaluationMonth, EvaluationReport, OfficeMonthMetric
from evaluation.services import evaluation_correct, evaluation_publish
from evaluation.tests.factories import case_row, local
from policies.models import ParameterValue
from policies.selectors import parameter_cache_clear
from registry.exceptions import ApplicationError, ConflictError, PermissionDeniedError

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

OCTOBER = datetime.date(2026, 10, 1)


def test_publishing_stores_the_scores_and_freezes_the_month(city_admin, offices, october):
    report = evaluation_publish(month=OCTOBER, acting_user=city_admin)
    assert (report.version, report.reason, report.pool) == (1, "", Decimal("500000.00"))  # 6,000,000 ÷ 12
    assert report.scheme["weights"] == {"volume": "0.3", "on_time": "0.3", "rating": "0.2", "collection": "0.2"}
    lines = {x.office.code: x for x in report.lines.select_related("office")}
    hy = lines["331003"]
    # Own work of the district office: no district office completed anything (volume and on time do not apply),
    # one rating of 5 (100), collection 0.6 (60): (0.2×100 + 0.2×60) ÷ 0.4.
    assert hy.components == {"volume": None, "on_time": None, "rating": "100.00", "collection": "60.00"}
    assert hy.score == Decimal("80.00")
    # The township: volume 100 (best of its level), on time 2 ÷ (2 + 1 escalation), rating (2 − 1) ÷ 4.
    t = lines[offices["t"].code]
    assert t.components == {"volume": "100.00", "on_time": "66.67", "rating": "25.00", "collection": None}
    assert t.score == Decimal("68.75")  # (0.3×100 + 0.3×66.67 + 0.2×25) ÷ 0.8
    assert sum(x.amount for x in lines.values()) == pytest.approx(report.pool, abs=Decimal("0.05"))
    assert EvaluationMonth.objects.get(month=OCTOBER).is_published
    with pytest.raises(ConflictError):  # editing a published month
        evaluation_publish(month=OCTOBER, acting_user=city_admin)
    assert EvaluationReport.objects.count() == 1


def test_a_correction_is_a_new_version_with_a_reason_and_the_old_one_stays(city_admin, offices, october):
    first = evaluation_publish(month=OCTOBER, acting_user=city_admin)
    old_lines = list(first.lines.values_list("office_id", "score", "figures"))
    case_row(offices["t"], received=local(2026, 10, 28, 9), due=datetime.date(2026, 11, 4))  # entered late
    with pytest.raises(ApplicationError):
        evaluation_correct(month=OCTOBER, acting_user=city_admin, reason="  ")
    assert EvaluationReport.objects.count() == 1
    second = evaluation_correct(month=OCTOBER, acting_user=city_admin, reason="补录 10 月 28 日受理的办件")
    assert (second.version, second.reason) == (2, "补录 10 月 28 日受理的办件")
    assert list(first.lines.values_list("office_id", "score", "figures")) == old_lines
    t = offices["t"].pk
    assert EvaluationLine.objects.get(report=second, office_id=t).figures["taken_in"] == 6
    assert EvaluationLine.objects.get(report=first, office_id=t).figures["taken_in"] == 5
    assert OfficeMonthMetric.objects.get(office_id=t, month=OCTOBER, rollup=False).taken_in == 6


def test_only_a_city_administrator_at_the_city_publishes(district_head, district_city_admin, october):
    for user in (district_head, district_city_admin):
        with pytest.raises(PermissionDeniedError):
            evaluation_publish(month=OCTOBER, acting_user=user)
    assert not EvaluationReport.objects.exists()


@pytest.mark.parametrize("month", [datetime.date(2099, 1, 1), datetime.date.today().replace(day=1)])
def test_a_month_to_come_or_not_over_is_refused(city_admin, month):
    with pytest.raises(ApplicationError) as exc:
        evaluation_publish(month=month, acting_user=city_admin)
    assert "尚未结束" in str(exc.value)
    assert not EvaluationReport.objects.exists() and not EvaluationMonth.objects.filter(published_at__isnull=False)


@pytest.fixture
def fresh_parameters():
    """The parameter snapshot is cached beyond the test's rolled-back transaction: clear it before and after."""
    parameter_cache_clear()
    yield
    parameter_cache_clear()


def test_weights_not_summing_to_one_are_refused_with_a_clear_message(city_admin, october, fresh_parameters):
    # policies refuses such a value when it is entered; one that got into the database anyway is refused here.
    ParameterValue.objects.filter(parameter__code="evaluation.weights").update(
        value_table={"volume": "0.5", "on_time": "0.3", "rating": "0.2", "collection": "0.2"}
    )
    parameter_cache_clear()
    with pytest.raises(ApplicationError) as exc:
        evaluation_publish(month=OCTOBER, acting_user=city_admin)
    assert "合计为 1" in str(exc.value) and "1.2" in str(exc.value)
    assert not EvaluationReport.objects.exists()
    assert not EvaluationMonth.objects.filter(published_at__isnull=False).exists()


def test_policies_refuses_weights_not_summing_to_one_when_entered():
    from django.core.exceptions import ValidationError

    from policies.models import Parameter, PolicyDocument
    from policies.services import parameter_value_create
    from registry.tests.factories import UserFactory

    officer = UserFactory(username="policy_ev", roles=["政策管理"], is_superuser=True)
    before = ParameterValue.objects.count()
    with pytest.raises(ValidationError) as exc:
        parameter_value_create(
            acting_user=officer,
            parameter=Parameter.objects.get(code="evaluation.weights"),
            value={"volume": "0.5", "on_time": "0.3", "rating": "0.2", "collection": "0.2"},
            valid_from=datetime.date(2027, 1, 1),
            document=PolicyDocument.objects.get(number="台人社发〔2017〕演示21号"),
        )
    assert "合计必须为 1" in str(exc.value)
    assert ParameterValue.objects.count() == before
