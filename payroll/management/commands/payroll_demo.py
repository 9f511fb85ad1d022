"""Demo data of the benefit payroll (a DEMO_DATA_HOOKS command of load_demo): running pensions in each district with
payee accounts and a year's certifications, three months paid (September and October 2026 returned in full and
posted to the funds), a pension adjustment entered in November from October (paid in arrears), one failed bank
payment, a late-reported death with its recovery (partly returned by the heirs), a suspension, and recipients due
for certification. Does nothing when a payroll run exists."""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.core.management.base import BaseCommand
from django.db import connection, transaction
from django.utils import timezone

from cases.models import BenefitAward, Case, CaseState, Channel, Effect, ServiceItem
from payroll import services
from payroll.models import BankFile, Certification, PayeeAccount, PayrollLine, PayrollRun, Recovery
from policies.models import Parameter, ParameterValue, PolicyDocument
from policies.selectors import parameter_cache_clear
from registry.models import InsuranceType, Office, OfficeLevel, Person, User

D = datetime.date
BANKS = ["102", "103", "104", "105", "313", "402"]


def _award(person: Person, item: ServiceItem, n: int) -> BenefitAward:
    office = person.residence_office
    district = Office.objects.get(code=office.district_code)
    case = Case.objects.create(
        number=f"DEMO-DY-{person.pk}",
        channel=Channel.COUNTER,
        state=CaseState.COMPLETED,
        item=item,
        person=person,
        intake_office=office,
        current_office=office,
        submitted_at=timezone.now(),
        completed_at=timezone.now(),
    )
    pension = item.effect == Effect.BENEFIT_EMP_PENSION
    return BenefitAward.objects.create(
        case=case,
        person=person,
        insurance_type=InsuranceType.EMPLOYEE_PENSION if pension else InsuranceType.RESIDENT_PENSION,
        effect=item.effect,
        monthly_amount=Decimal(2800 + n * 37 % 1700) if pension else Decimal(260 + n % 5 * 20),
        start_month=D(2025, 1 + n % 12, 1) if n % 7 else D(2025, 12, 1),
        office=district,
        basis={"demo": True},
    )


def _pay(run: PayrollRun, user: User, failed: int | None = None) -> None:
    for bank_file in BankFile.objects.filter(run=run, status="issued"):
        lines = list(PayrollLine.objects.filter(bank_file=bank_file).order_by("pk"))
        rows = [f"H,{bank_file.number},{len(lines)},{sum(x.amount for x in lines):.2f}"]
        for x in lines:
            result = "F,账户已冻结" if x.pk == failed else "S,"
            rows.append(f"D,{x.pk},{x.account_number},{x.amount:.2f},{result}")
        services.bank_return_record(bank_file=bank_file, data=("\n".join(rows) + "\n").encode(), acting_user=user)


def _run(period: int, user: User) -> PayrollRun:
    run = PayrollRun.objects.create(
        period=period, pay_date=D(period // 100, period % 100, 15), office=Office.objects.get(level=1), started_by=user
    )
    return services.payroll_run_execute(run_id=run.pk)


class Command(BaseCommand):
    help = "Demo payroll: running pensions, three paid months, an adjustment with arrears, a failure, a death."

    def handle(self, *args, **options) -> None:
        if connection.vendor != "postgresql":
            self.stdout.write("payroll_demo: the benefit payroll needs PostgreSQL; no demo payroll on SQLite.")
            return
        if PayrollRun.objects.exists():
            self.stdout.write("payroll_demo: payroll runs exist already; nothing done.")
            return
        user = (
            User.objects.filter(office__level=OfficeLevel.CITY, is_active=True, is_system=False).order_by("pk").first()
        )
        items = {
            i.effect: i
            for i in ServiceItem.objects.filter(effect__in=[Effect.BENEFIT_EMP_PENSION, Effect.BENEFIT_RES_PENSION])
        }
        persons = list(
            Person.objects.filter(
                birth_date__lte=D(1965, 12, 31), merged_into__isnull=True, residence_office__level__gte=3
            )
            .exclude(pk__in=BenefitAward.objects.values("person_id"))
            .order_by("pk")[:90]
        )
        if user is None or len(items) < 2 or not persons:
            self.stdout.write("payroll_demo: no city user, benefit items or older persons (run load_demo first).")
            return
        with transaction.atomic():
            awards = [
                _award(p, items[Effect.BENEFIT_EMP_PENSION if n % 5 else Effect.BENEFIT_RES_PENSION], n)
                for n, p in enumerate(persons)
            ]
            for n, a in enumerate(awards):
                if n % 30 != 29:  # a few without an account: held
                    PayeeAccount.objects.create(
                        person=a.person, bank=BANKS[n % 6], account_number=f"6222{a.person.pk:015d}"
                    )
                if n % 10:  # most certified this year; the others appear on the due list
                    Certification.objects.create(
                        person=a.person,
                        certified_on=D(2026, 2, 10),
                        channel="counter",
                        office=a.person.residence_office,
                        created_by=user,
                    )
        _pay(_run(202609, user), user)
        _pay(_run(202610, user), user)
        self._adjustment()
        november = _run(202611, user)
        first = PayrollLine.objects.filter(run=november, status="issued").order_by("pk").first()
        _pay(november, user, failed=first.pk if first else None)
        services.person_death_record(person=awards[1].person, died_on=D(2026, 9, 20), acting_user=user)
        _heirs_return_a_part(awards[1], user)
        services.suspension_record(
            award=awards[2], reason="disqualified", from_month=D(2026, 12, 1), acting_user=user, note="服刑（演示）"
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"payroll_demo: {len(awards)} benefits, runs 202609–202611 ({november.lines} lines in November)."
            )
        )

    def _adjustment(self) -> None:
        document, _created = PolicyDocument.objects.get_or_create(
            number="（演示）台人社发〔2026〕调待",
            defaults={
                "title": "关于2026年调整退休人员基本养老金的通知（演示）",
                "issuer": "台州市人力资源和社会保障局",
                "level": "city",
                "insurances": ["emp_pension"],
                "issued_on": D(2026, 11, 1),
                "effective_from": D(2026, 10, 1),
                "status": "in_force",
                "is_demo": True,
                "note": "演示：自 2026 年 10 月起每人每月增加 60 元，11 月补发 10 月差额。",
            },
        )
        parameter = Parameter.objects.get(code="benefit.emp_pension.adjustment_monthly")
        ParameterValue.objects.create(
            parameter=parameter,
            kind=parameter.kind,
            valid_from=D(2026, 10, 1),
            value_decimal=Decimal("60"),
            document=document,
            is_demo=True,
        )
        parameter_cache_clear()


def _heirs_return_a_part(award: BenefitAward, user: User) -> None:
    """The heirs of the late-reported death returned the first overpaid month so far (the recovery stays open)."""
    recovery = Recovery.objects.filter(award=award).first()
    if recovery is not None:
        services.recovery_repayment_record(
            recovery=recovery,
            amount=recovery.months[0]["amount"],
            received_on=timezone.localdate(),
            way="transfer",
            document_number="（演示）HD20261201",
            acting_user=user,
        )
