"""Test data of contributions: known parameter values, employees, billed months, payments; and the
``OUT_OF_JURISDICTION`` makers for the route-walking jurisdiction test (records in 路桥)."""

from __future__ import annotations

import contextlib
import csv
import datetime
import io
import itertools
from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.utils import timezone

from contributions import services
from contributions.models import (
    Bill,
    BillExport,
    BillKind,
    BillRun,
    BillRunScope,
    BillRunStatus,
    BillTotal,
    ContributionHistory,
    Declaration,
    DeclarationLine,
    FlexibleBaseChoice,
    PayerType,
    Payment,
    PaymentAllocation,
    PaymentFile,
    PaymentFileLine,
    PaymentOrder,
    ReconciliationItem,
    ReconciliationSummary,
    ResidentMedicalRun,
    ResidentPensionChoice,
    WorkInjuryFloat,
)
from policies import services as policy_services
from policies.selectors import parameter_cache_clear
from registry.models import EMPLOYEE_INSURANCES, Employer, Office, Person
from registry.tests.factories import EmployerFactory, EnrollmentFactory, PersonFactory, UserFactory, township_of

D = datetime.date
Y = Decimal
_seq = itertools.count(1)

# 黄岩's own values for 2025 (set by ``huangyan_parameters_2025``), so the expected amounts below do not
# depend on the city's demo reference data: average wage 6000 → floor 3600.00, ceiling 18000.00.
RATES_2025 = {
    "emp_pension": (Y("0.16"), Y("0.08")),
    "emp_medical": (Y("0.08"), Y("0.02")),
    "unemployment": (Y("0.005"), Y("0.005")),
    "work_injury": (Y("0.004"), Y("0")),  # risk class 2 benchmark, float 1.0
    "maternity": (Y("0.005"), Y("0")),
}
FLOOR_2025 = Y("3600.00")
CEILING_2025 = Y("18000.00")
DUE_DAY = 15


def policy_root():
    return UserFactory(
        username=f"contrib_policy_root{next(_seq)}",
        office=Office.objects.get(level=1),
        is_superuser=True,
        is_staff=True,
        roles=[],
    )


def huangyan_parameters_2025() -> None:
    """Set 黄岩-scoped parameter values for 2025 through the policies services, like an administrator."""
    admin = policy_root()
    huangyan = Office.objects.get(code="331003")
    document = policy_services.policy_document_create(
        acting_user=admin,
        number=f"测试〔2025〕{next(_seq)}号",
        title="缴费征收测试参数",
        issuer="测试",
        level="district",
        district=huangyan,
        effective_from=D(2025, 1, 1),
    )

    def put(code, value):
        policy_services.parameter_value_create(
            acting_user=admin,
            parameter=code,
            value=value,
            valid_from=D(2025, 1, 1),
            valid_to=D(2026, 1, 1),
            document=document,
            district=huangyan,
        )

    for insurance in ("emp_pension", "emp_medical", "unemployment", "maternity"):
        employer_rate, individual_rate = RATES_2025[insurance]
        put(f"rate.{insurance}.employer", str(employer_rate))
        put(f"rate.{insurance}.individual", str(individual_rate))
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
    put("rate.flex.emp_medical", "0.1")
    put("base.floor_ratio", "0.6")
    put("base.ceiling_ratio", "3")
    put("wage.average_monthly", "6000")
    put("late_fee.daily_rate", "0.0005")
    put("collection.due_day", DUE_DAY)
    parameter_cache_clear()


def expected_amounts(base: Decimal) -> dict[str, tuple[Decimal, Decimal]]:
    """(employer, individual) per insurance for one person at ``base`` with RATES_2025 (half-up to the fen)."""
    cent = Y("0.01")
    return {ins: ((base * e).quantize(cent), (base * i).quantize(cent)) for ins, (e, i) in RATES_2025.items()}


def huangyan_employer(**kwargs) -> Employer:
    kwargs.setdefault("office", township_of("331003"))
    kwargs.setdefault("risk_class", 2)
    return EmployerFactory(**kwargs)


def employ(employer: Employer, person: Person | None = None, *, start=D(2024, 1, 1), end=None) -> Person:  # noqa: B008
    """Enrol ``person`` (a new resident of the employer's township by default) in the five employee insurances."""
    person = person or PersonFactory(residence_office=employer.office)
    for insurance in EMPLOYEE_INSURANCES:
        EnrollmentFactory(person=person, employer=employer, insurance_type=insurance, start_date=start, end_date=end)
    return person


def declare(employer: Employer, period: int, bases: dict[Person, object], user) -> Declaration:
    return services.declaration_submit(
        employer=employer,
        period=period,
        # Confirmed line by line (a base below the floor is refused otherwise): these tests are about the bill.
        lines=[
            services.DeclarationInputLine(person=p, base=b, row=i, confirm_below_floor=True)
            for i, (p, b) in enumerate(bases.items(), 1)
        ],
        acting_user=user,
    )


def bill_employer(employer: Employer, period: int, user) -> Bill:
    """Run the assessment of one employer for one month (executed at once, as the worker would) and return the bill."""
    run = services.bill_run_start(period=period, scope=BillRunScope.EMPLOYER, employer=employer, acting_user=user)
    run = services.bill_run_execute(bill_run_id=run.pk)
    assert run.status == BillRunStatus.DONE, run.error
    return Bill.objects.get(employer=employer, period=period, kind=BillKind.REGULAR)


def pay(bill_or_employer, amount, paid_on, user, reference: str | None = None) -> Payment:
    employer = bill_or_employer.employer if isinstance(bill_or_employer, Bill) else bill_or_employer
    payment, _created = services.payment_record(
        agency_reference=reference or f"TAX-{next(_seq):08d}",
        amount=amount,
        paid_on=paid_on,
        acting_user=user,
        employer=employer,
    )
    return payment


# ---------------------------------------------------------------------------------------------
# Records in another district (路桥) for tests/test_jurisdiction_routes.py.


@transaction.atomic
def _issued_bill(township: Office, **kwargs) -> Bill:
    employer = kwargs.pop("employer", None) or EmployerFactory(office=township)
    bill = Bill.objects.create(
        kind=BillKind.REGULAR,
        period=202401 + next(_seq) % 11,
        employer=employer,
        office=employer.office,
        total_employer=Y("100.00"),
        total_individual=Y("50.00"),
        total=Y("150.00"),
        due_date=D(2024, 2, 15),
        issued_at=timezone.now(),
        **kwargs,
    )
    BillTotal.objects.create(
        bill=bill,
        insurance_type="emp_pension",
        employer_amount=Y("100.00"),
        individual_amount=Y("50.00"),
        amount=Y("150.00"),
    )
    return bill


def _out_payment(township: Office) -> Payment:
    employer = EmployerFactory(office=township)
    return Payment.objects.create(
        agency_reference=f"LQ-{next(_seq):08d}",
        payer_type=PayerType.EMPLOYER,
        employer=employer,
        office=township,
        amount=Y("10.00"),
        paid_on=D(2024, 3, 1),
    )


def _out_allocation(township: Office) -> PaymentAllocation:
    payment = _out_payment(township)
    return PaymentAllocation.objects.create(payment=payment, bill=None, insurance_type="", amount=Y("10.00"))


def _out_declaration(township: Office) -> Declaration:
    return Declaration.objects.create(employer=EmployerFactory(office=township), period=202401 + next(_seq) % 11)


def _out_declaration_line(township: Office) -> DeclarationLine:
    declaration = _out_declaration(township)
    return DeclarationLine.objects.create(
        declaration=declaration,
        person=PersonFactory(residence_office=township),
        declared_base=Y("5000.00"),
        base=Y("5000.00"),
    )


def _out_bill_run(township: Office) -> BillRun:
    return BillRun.objects.create(
        period=202401 + next(_seq) % 11,
        scope=BillRunScope.DISTRICT,
        office=township.parent,
        status=BillRunStatus.DONE,
    )


MONTH = {  # one employee at base 5000 (factories.RATES_2025): employer + individual per insurance
    "emp_pension": (Y("800.00"), Y("400.00")),
    "emp_medical": (Y("400.00"), Y("100.00")),
    "unemployment": (Y("25.00"), Y("25.00")),
    "work_injury": (Y("20.00"), Y("0.00")),
    "maternity": (Y("25.00"), Y("0.00")),
}


@transaction.atomic
def issued_bill(employer, period, totals=MONTH, kind="regular"):
    """An issued bill with its per-insurance totals, as the bill run leaves it (issued bills never change; its
    totals are written in the transaction that issues it: PostgreSQL refuses them later)."""
    te = sum(e for e, _i in totals.values())
    ti = sum(i for _e, i in totals.values())
    bill = Bill.objects.create(
        kind=kind,
        period=period,
        employer=employer,
        office=employer.office,
        total_employer=te,
        total_individual=ti,
        total=te + ti,
        due_date=D(period // 100, period % 100, 28),
        issued_at=timezone.now(),
    )
    for insurance, (e, i) in totals.items():
        BillTotal.objects.create(
            bill=bill, insurance_type=insurance, employer_amount=e, individual_amount=i, amount=e + i
        )
    return bill


PAYMENT_HEADER = "流水号,缴费方类型,缴费方代码,缴费方名称,所属期,金额,到账日期"


def payment_totals(lines: list[tuple]) -> tuple[int, Decimal]:
    """What the file's totals lines declare: the number of lines and the sum of the amounts that are numbers."""
    total = Decimal("0.00")
    for line in lines:
        with contextlib.suppress(InvalidOperation, IndexError):
            total += Decimal(str(line[5]).replace(",", ""))
    return len(lines), total


def payment_csv(
    lines: list[tuple], encoding: str = "utf-8", header: str = PAYMENT_HEADER, totals: tuple | None = None
) -> bytes:
    """A payment file: (reference, payer type, code, name, period, amount, paid on) per line; header is line 1,
    the totals lines (``#合计笔数``, ``#合计金额``: ``totals`` or the true ones) follow the last line, so line
    numbers stay those of the header-first layout."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header.split(","))
    writer.writerows(lines)
    count, amount = totals or payment_totals(lines)
    writer.writerow(["#合计笔数", count])
    writer.writerow(["#合计金额", f"{Decimal(amount):.2f}"])
    return out.getvalue().encode(encoding)


def _out_bill_export(township: Office) -> BillExport:
    return BillExport.objects.create(period=202401, office=township.parent, format="csv", encoding="utf-8")


def _out_payment_file(township: Office) -> PaymentFile:
    return PaymentFile.objects.create(
        name="lq.csv", sha256=f"{next(_seq):064d}", office=township.parent, status="imported", line_count=1
    )


def _out_payment_file_line(township: Office) -> PaymentFileLine:
    return PaymentFileLine.objects.create(
        payment_file=_out_payment_file(township),
        line_no=2,
        reference=f"LQ-{next(_seq):08d}",
        status="bad",
        problem_code="unknown_payer",
        problem_detail="employer|91331004000000000X",
    )


def _out_reconciliation_item(township: Office) -> ReconciliationItem:
    return ReconciliationItem.objects.create(
        payment_file=_out_payment_file(township), office=township, category="matched", period=202401
    )


def _out_reconciliation_summary(township: Office) -> ReconciliationSummary:
    return ReconciliationSummary.objects.create(
        payment_file=_out_payment_file(township), office=township, category="matched", item_count=1
    )


def _out_payment_order(township: Office) -> PaymentOrder:
    bill = _issued_bill(township)
    order = PaymentOrder.objects.create(
        number=f"台社责缴〔2024〕OUT-{next(_seq)}",
        employer=bill.employer,
        office=bill.office,
        amount=bill.total,
        issued_on=D(2024, 4, 1),
        pay_by=D(2024, 4, 11),
        issued_by=UserFactory(office=township.parent, roles=[]),
    )
    order.bills.add(bill)
    return order


OUT_OF_JURISDICTION = {
    Bill: _issued_bill,
    PaymentOrder: _out_payment_order,
    Payment: _out_payment,
    PaymentAllocation: _out_allocation,
    Declaration: _out_declaration,
    DeclarationLine: _out_declaration_line,
    BillRun: _out_bill_run,
    WorkInjuryFloat: lambda township: WorkInjuryFloat.objects.create(
        employer=EmployerFactory(office=township), ratio=Y("1.20"), valid_from=D(2024, 1, 1)
    ),
    ResidentPensionChoice: lambda township: ResidentPensionChoice.objects.create(
        person=PersonFactory(residence_office=township), year=2024, grade=1
    ),
    BillExport: _out_bill_export,
    PaymentFile: _out_payment_file,
    PaymentFileLine: _out_payment_file_line,
    ReconciliationItem: _out_reconciliation_item,
    ReconciliationSummary: _out_reconciliation_summary,
    "contributions.ContributionHistory": lambda township: ContributionHistory.objects.create(
        person=PersonFactory(residence_office=township),
        period=201901,
        emp_pension_base=Y("4000.00"),
        emp_pension_employer=Y("560.00"),
        emp_pension_individual=Y("320.00"),
        office=township.parent,
        source_batch_id=1,
        source_line=2,
    ),
    "contributions.ResidentMedicalRun": lambda township: ResidentMedicalRun.objects.create(
        year=2025, office=township.parent, status="done"
    ),
    "contributions.FlexibleBaseChoice": lambda township: FlexibleBaseChoice.objects.create(
        person=PersonFactory(residence_office=township), valid_from=202501, percent=100
    ),
}
