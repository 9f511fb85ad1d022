"""Test data of the payroll: city staff, running awards, payee accounts, parameter values of adjustments, return
files; and the ``OUT_OF_JURISDICTION`` makers for tests/test_jurisdiction_routes.py (records in 路桥)."""

from __future__ import annotations

import datetime
import itertools
from decimal import Decimal

from cases.models import BenefitAward, Effect
from cases.tests.factories import enrollment_case
from payroll import services
from payroll.models import (
    BankFile,
    BankReturnJob,
    Certification,
    PayeeAccount,
    PayrollLine,
    PayrollRun,
    Suspension,
)
from policies.models import Parameter, ParameterValue
from policies.selectors import parameter_cache_clear
from policies.tests.factories import PolicyDocumentFactory
from registry import roles
from registry.models import InsuranceType, Office
from registry.tests.factories import UserFactory, township_of

D = datetime.date
_seq = itertools.count(1)

EFFECT_INSURANCE = {
    Effect.BENEFIT_EMP_PENSION: InsuranceType.EMPLOYEE_PENSION,
    Effect.BENEFIT_RES_PENSION: InsuranceType.RESIDENT_PENSION,
    Effect.BENEFIT_UNEMPLOYMENT: InsuranceType.UNEMPLOYMENT,
    Effect.BENEFIT_LAND_FARMER: InsuranceType.LAND_FARMER,
}


def city_officer():
    return UserFactory(
        username=f"payroll{next(_seq)}",
        office=Office.objects.get(code="331000"),
        roles=[roles.FUND_OFFICER, roles.CITY_ADMIN],
    )


def district_clerk(district: str = "331003"):
    return UserFactory(
        username=f"pclerk{next(_seq)}", office=Office.objects.get(code=district), roles=[roles.COUNTER_CLERK]
    )


def award(
    *,
    effect: str = Effect.BENEFIT_EMP_PENSION,
    amount: str = "3000.00",
    start: datetime.date | None = None,
    district: str = "331003",
    months: int | None = None,
    account: bool = True,
) -> BenefitAward:
    """A running award (of a case of its own) of a person of ``district``, with a payee account unless told."""
    start = start or D(2026, 3, 1)
    case = enrollment_case(township=township_of(district))
    made = BenefitAward.objects.create(
        case=case,
        person=case.person,
        insurance_type=EFFECT_INSURANCE[effect],
        effect=effect,
        monthly_amount=Decimal(amount),
        start_month=start,
        months=months,
        office=Office.objects.get(code=district),
    )
    if account:
        PayeeAccount.objects.create(person=case.person, bank="102", account_number=f"62220{next(_seq):011d}")
    return made


def adjustment(amount: str, valid_from: datetime.date, code: str = "benefit.emp_pension.adjustment_monthly"):
    """A policy officer enters one yearly pension adjustment (调待)."""
    parameter = Parameter.objects.get(code=code)
    value = ParameterValue.objects.create(
        parameter=parameter,
        kind=parameter.kind,
        valid_from=valid_from,
        value_decimal=Decimal(amount),
        document=PolicyDocumentFactory(),
    )
    parameter_cache_clear()
    return value


def run_month(period: int, user, pay_day: int = 15) -> PayrollRun:
    run = services.payroll_run_start(period=period, pay_date=D(period // 100, period % 100, pay_day), acting_user=user)
    return services.payroll_run_execute(run_id=run.pk)


def return_file(bank_file: BankFile, *, failed: dict[int, str] | None = None, amount_of=None, number=None) -> bytes:
    """The bank's return file for ``bank_file``: every line paid but those in ``failed`` (line id → reason)."""
    failed = failed or {}
    lines = list(PayrollLine.objects.filter(bank_file=bank_file).order_by("pk"))
    rows = [f"H,{number or bank_file.number},{len(lines)},{sum(line.amount for line in lines):.2f}"]
    for line in lines:
        amount = amount_of(line) if amount_of else line.amount
        result = f"F,{failed[line.pk]}" if line.pk in failed else "S,"
        rows.append(f"D,{line.pk},{line.account_number},{amount:.2f},{result}")
    return ("\n".join(rows) + "\n").encode()


def pay_all(run: PayrollRun, user) -> None:
    for bank_file in BankFile.objects.filter(run=run, status="issued"):
        services.bank_return_record(bank_file=bank_file, data=return_file(bank_file), acting_user=user)


def _out_run(township: Office) -> PayrollRun:
    """A run (city-wide: outside every district's jurisdiction)."""
    run, _created = PayrollRun.objects.get_or_create(
        period=202001, defaults={"pay_date": D(2020, 1, 15), "office": Office.objects.get(code="331000")}
    )
    return run


def _out_suspension(township: Office) -> Suspension:
    a = award(district=township.parent.code)
    return Suspension.objects.create(award=a, reason="disqualified", from_month=D(2026, 1, 1), office=township)


def _out_certification(township: Office) -> Certification:
    a = award(district=township.parent.code)
    return Certification.objects.create(person=a.person, certified_on=D(2026, 1, 1), channel="counter", office=township)


def _out_line(township: Office) -> PayrollLine:
    a = award(district=township.parent.code)
    return PayrollLine.objects.create(
        run=_out_run(township),
        award=a,
        person=a.person,
        office=a.office,
        insurance_type=a.insurance_type,
        period=202001,
        regular_amount=a.monthly_amount,
        amount=a.monthly_amount,
        status="held",
    )


def _out_return_job(township: Office) -> BankReturnJob:
    """A return-file job of a bank file of a (city-wide) run."""
    run = _out_run(township)
    bank_file, _created = BankFile.objects.get_or_create(
        run=run, bank="102", sequence=1, defaults={"number": f"DF{run.period}-102-1"}
    )
    return BankReturnJob.objects.create(bank_file=bank_file, name="r.csv", data=b"H\n", sha256="0" * 64, size=2)


OUT_OF_JURISDICTION = {
    BankReturnJob: _out_return_job,
    PayrollRun: _out_run,
    PayrollLine: _out_line,
    Suspension: _out_suspension,
    Certification: _out_certification,
    PayeeAccount: lambda township: PayeeAccount.objects.get(person=award(district=township.parent.code).person),
}
