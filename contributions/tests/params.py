"""Known parameter values for hand-computed tests: 黄岩-scoped values for 2025, independent of the
(demo) reference data, set through the policies services like an administrator would."""

from __future__ import annotations

import datetime

from policies import services as policy_services
from registry.models import Office
from registry.tests.factories import UserFactory

D = datetime.date


def policy_admin():
    return UserFactory(
        username="policy_root", office=Office.objects.get(level=1), is_superuser=True, is_staff=True, roles=[]
    )


def set_huangyan_2025(*, pension_employer_from_march: str = "0.16") -> dict:
    admin = policy_admin()
    huangyan = Office.objects.get(code="331003")
    document = policy_services.policy_document_create(
        acting_user=admin,
        number="测试〔2025〕1号",
        title="测试用参数",
        issuer="测试",
        level="district",
        district=huangyan,
        effective_from=D(2025, 1, 1),
    )

    def put(code, value, start=None, end=None):
        start, end = start or D(2025, 1, 1), end or D(2026, 1, 1)
        return policy_services.parameter_value_create(
            acting_user=admin,
            parameter=code,
            value=value,
            valid_from=start,
            valid_to=end,
            document=document,
            district=huangyan,
        )

    put("rate.emp_pension.employer", "0.14", end=D(2025, 3, 1))
    put("rate.emp_pension.employer", pension_employer_from_march, start=D(2025, 3, 1))
    put("rate.emp_pension.individual", "0.08")
    put("rate.emp_medical.employer", "0.065")
    put("rate.emp_medical.individual", "0.02")
    put("rate.unemployment.employer", "0.005")
    put("rate.unemployment.individual", "0.005")
    put("rate.maternity.employer", "0.005")
    put("rate.maternity.individual", "0")
    put(
        "rate.work_injury.benchmark",
        {
            "1": "0.002",
            "2": "0.004",
            "3": "0.007",
            "4": "0.009",
            "5": "0.011",
            "6": "0.013",
            "7": "0.016",
            "8": "0.019",
        },
    )
    put("rate.flex.emp_pension", "0.2")
    put("rate.flex.emp_medical", "0.085")
    put("base.floor_ratio", "0.6")
    put("base.ceiling_ratio", "3")
    put("wage.average_monthly", "6000")
    put(
        "res_pension.grades",
        [{"grade": 1, "amount": "100", "subsidy": "30"}, {"grade": 2, "amount": "300", "subsidy": "45"}],
    )
    put("res_pension.subsidy_city_share", "0.6")
    put("res_medical.individual", "400")
    put("res_medical.subsidy", "670")
    put("res_medical.subsidy_city_share", "0.5")
    put("late_fee.daily_rate", "0.0005")
    return {"admin": admin, "document": document, "put": put}
