"""Test data of funds: users by role, funds, a constructed ledger, thresholds set like an administrator
would; and the ``OUT_OF_JURISDICTION`` makers for the route-walking jurisdiction test (records in 路桥)."""

from __future__ import annotations

import datetime
import itertools
from decimal import Decimal

from django.contrib.auth.models import Group

from funds import services
from funds.models import (
    Account,
    ExpenditureImport,
    ExpenditureImportLine,
    Fund,
    LedgerEntry,
    LedgerTransaction,
    Remittance,
    TransactionKind,
)
from policies.models import ParameterValue
from policies.selectors import parameter_cache_clear
from registry import roles
from registry.models import Office, User

D = datetime.date
Y = Decimal
_seq = itertools.count(1)


def make_user(username: str, office_code: str, *role_names: str, **extra) -> User:
    roles.roles_sync()
    user = User(username=username, office=Office.objects.get(code=office_code), **extra)
    user.set_unusable_password()
    user.save()
    user.groups.set(Group.objects.filter(name__in=role_names))
    return User.objects.get(pk=user.pk)


def office(code: str) -> Office:
    return Office.objects.get(code=code)


def fund(insurance: str = "emp_medical") -> Fund:
    return Fund.objects.get(insurance_type=insurance)


def income(
    f: Fund, district: str, day: datetime.date, amount, account: str = Account.CONTRIBUTION_INCOME
) -> LedgerTransaction:
    """A posted income of ``amount`` (bank debit, income credit) in ``district`` on ``day``."""
    value = Y(str(amount))
    return services.ledger_transaction_post(
        fund=f,
        office=office(district),
        kind=TransactionKind.OTHER,
        booked_on=day,
        entries=[(Account.BANK, value), (account, -value)],
        acting_user=None,
        description="测试收入",
    )


def expense(
    f: Fund, district: str, day: datetime.date, amount, account: str = Account.BENEFIT_EXPENDITURE
) -> LedgerTransaction:
    value = Y(str(amount))
    return services.ledger_transaction_post(
        fund=f,
        office=office(district),
        kind=TransactionKind.OTHER,
        booked_on=day,
        entries=[(account, value), (Account.BANK, -value)],
        acting_user=None,
        description="测试支出",
    )


def city_value(code: str) -> ParameterValue:
    return ParameterValue.objects.get(parameter__code=code, district__isnull=True, valid_to__isnull=True)


def set_table(code: str, value: dict) -> None:
    """Give the city-wide value of a table parameter known figures (tests only; a demo value in place)."""
    ParameterValue.objects.filter(pk=city_value(code).pk).update(value_table=value)
    parameter_cache_clear()


def set_thresholds(insurance: str, alarm: str, warn: str, excess: str) -> None:
    set_table(f"fund.warning.months.{insurance}", {"alarm_below": alarm, "warn_below": warn, "excess_above": excess})


def set_scalar(code: str, value) -> None:
    pv = city_value(code)
    column = "value_int" if pv.kind in ("integer", "months") else "value_decimal"
    ParameterValue.objects.filter(pk=pv.pk).update(**{column: value})
    parameter_cache_clear()


def huangyan_parameters(year: int) -> None:
    """黄岩 values for ``year`` (like contributions' 2025 helper, for any year): pension 16 % + 8 %, medical
    8 % + 2 %, unemployment 0.5 % + 0.5 %, maternity 0.5 %, work injury class 2 0.4 %; wage 6000."""
    from policies import services as policy_services

    admin = User.objects.filter(username="funds_policy_root").first() or make_user(
        "funds_policy_root", "331000", is_superuser=True, is_staff=True
    )
    huangyan = office("331003")
    start, end = D(year, 1, 1), D(year + 1, 1, 1)
    document = policy_services.policy_document_create(
        acting_user=admin,
        number=f"基金测试〔{year}〕{next(_seq)}号",
        title="基金测试参数",
        issuer="测试",
        level="district",
        district=huangyan,
        effective_from=start,
    )
    values = {
        "rate.emp_pension.employer": "0.16",
        "rate.emp_pension.individual": "0.08",
        "rate.emp_medical.employer": "0.08",
        "rate.emp_medical.individual": "0.02",
        "rate.unemployment.employer": "0.005",
        "rate.unemployment.individual": "0.005",
        "rate.maternity.employer": "0.005",
        "rate.maternity.individual": "0",
        "rate.work_injury.benchmark": {
            str(k): v
            for k, v in zip(
                range(1, 9), ["0.002", "0.004", "0.007", "0.009", "0.011", "0.013", "0.016", "0.019"], strict=True
            )
        },
        "rate.flex.emp_pension": "0.2",
        "rate.flex.emp_medical": "0.1",
        "base.floor_ratio": "0.6",
        "base.ceiling_ratio": "3",
        "wage.average_monthly": "6000",
        "late_fee.daily_rate": "0.0005",
        "collection.due_day": 15,
    }
    for code, value in values.items():
        policy_services.parameter_value_create(
            acting_user=admin,
            parameter=code,
            value=value,
            valid_from=start,
            valid_to=end,
            document=document,
            district=huangyan,
        )
    parameter_cache_clear()


def drop_parameter(code: str) -> None:
    ParameterValue.objects.filter(parameter__code=code).delete()
    parameter_cache_clear()


# ---------------------------------------------------------------------------------------------
# Records in another district (路桥) for tests/test_jurisdiction_routes.py.


def _out_transaction(township: Office) -> LedgerTransaction:
    return income(fund("emp_pension"), township.parent.code, D(2024, 5, 1), "10.00")


def _out_entry(township: Office) -> LedgerEntry:
    return _out_transaction(township).entries.order_by("id").first()


def _out_remittance(township: Office) -> Remittance:
    return Remittance.objects.create(
        fund=fund("emp_pension"),
        office=township.parent,
        direction="up",
        amount=Y("10.00"),
        booked_on=D(2024, 5, 1),
        document_number=f"测试〔2024〕{next(_seq)}号",
    )


def _out_import(township: Office) -> ExpenditureImport:
    return ExpenditureImport.objects.create(file_name="lq.csv", office=township.parent, rows=0, total=Y(0))


def _out_import_line(township: Office) -> ExpenditureImportLine:
    batch = _out_import(township)
    return ExpenditureImportLine.objects.create(
        batch=batch,
        row=2,
        fund=fund("emp_medical"),
        office=township.parent,
        period=202401,
        account="benefit_expenditure",
        amount=Y("1.00"),
    )


OUT_OF_JURISDICTION = {
    LedgerTransaction: _out_transaction,
    LedgerEntry: _out_entry,
    Remittance: _out_remittance,
    ExpenditureImport: _out_import,
    ExpenditureImportLine: _out_import_line,
}
