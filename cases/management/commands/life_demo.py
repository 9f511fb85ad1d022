"""A year of life in the demo (a DEMO_DATA_HOOKS command of load_demo, issue 16): so that every page shows real
content to someone trying the system.

- the last twelve months: declarations of some employers (the rest billed on the floor), the monthly bill runs,
  and for each month the collecting agency's payment file (most bills paid on time, a few late or part-paid, a
  few left open: arrears with late fees);
- the residents' yearly bills (resident medical run) and a few resident pension grades;
- the ledger (contribution income posted) and the fund indicators and warnings computed;
- cases of the counter in every state (待受理, 待审核, 待复核/审批, 补正中, 已办结, 不予办理, 已撤回), a card
  application in a production batch.

Everything goes through the services and their set-based runs (bill run, payment file, posting, warning run): a
few dozen service calls, not one per person. Does nothing when the months were loaded already (bill runs exist).
"""

from __future__ import annotations

import datetime
import random
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand
from django.db.models import Q
from django.utils import timezone

from cases import services as case_services
from cases.models import ServiceItem
from cases.services import cards
from contributions import services as contribution_services
from contributions.exchange.layout import PAYMENT_HEADER, TOTAL_AMOUNT, TOTAL_COUNT
from contributions.models import Bill, BillKind, BillRun, Channel, PaymentFileMode
from contributions.periods import period_of
from funds import services as fund_services
from registry.exceptions import ApplicationError
from registry.models import Employer, InsuranceType, Office, OfficeLevel, Person, User

MONTHS = 12
DECLARING_EMPLOYERS = 6


def _periods(today: datetime.date) -> list[int]:
    year, month = today.year, today.month
    out = []
    for _i in range(MONTHS):
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
        out.append(year * 100 + month)
    return sorted(out)


class Command(BaseCommand):
    help = "Load a year of demo life: declarations, bill runs, payments, arrears, ledger, warnings, cases."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--seed", type=int, default=16)

    def handle(self, *args: Any, seed: int, **options: Any) -> None:
        admin = User.objects.filter(is_superuser=True).order_by("id").first()
        if admin is None:
            self.stdout.write("life_demo: no administrator (run load_demo).")
            return
        today = timezone.localdate()
        periods = _periods(today)
        if BillRun.objects.filter(period=periods[0]).exists():
            self.stdout.write("life_demo: the demo year is loaded already; nothing done.")
            return
        rng = random.Random(seed)
        for period in periods:
            self._declare(period, admin, rng)
            run = contribution_services.bill_run_start(period=period, acting_user=admin, scope="city")
            contribution_services.bill_run_execute(bill_run_id=run.pk)
            self._pay(period, admin, rng, today)
        self._residents(today, admin)
        fund_services.contribution_income_post(up_to=timezone.now(), acting_user=admin, city_wide=True)
        fund_services.fund_warning_run(on=today, acting_user=admin)
        made = self._cases()
        self.stdout.write(
            f"life_demo: {len(periods)} months ({periods[0]}–{periods[-1]}), "
            f"{Bill.objects.filter(period__in=periods).count()} bills, {made} cases."
        )

    def _declare(self, period: int, admin: User, rng: random.Random) -> None:
        """A few employers declare their employees' wages (the others are billed on the floor)."""
        employers = Employer.objects.filter(status="active").order_by("id")[:DECLARING_EMPLOYERS]
        first = datetime.date(period // 100, period % 100, 1)
        for employer in employers:
            persons = Person.objects.filter(
                Q(enrollments__end_date__isnull=True) | Q(enrollments__end_date__gte=first),
                enrollments__employer=employer,
                enrollments__insurance_type=InsuranceType.EMPLOYEE_PENSION,
                enrollments__start_date__lte=first,
            ).distinct()[:50]
            lines = [
                contribution_services.DeclarationInputLine(
                    person=p, base=str(Decimal(rng.randrange(6000, 16000, 100))), row=row, confirm_below_floor=True
                )
                for row, p in enumerate(persons, start=1)
            ]
            if lines:
                contribution_services.declaration_submit(
                    employer=employer, period=period, lines=lines, acting_user=admin, channel=Channel.FILE
                )

    def _pay(self, period: int, admin: User, rng: random.Random, today: datetime.date) -> None:
        """The agency's payment file of the month: most bills paid by their due date, some late or in part, some
        not at all (arrears). One file, imported set-based."""
        bills = Bill.objects.filter(period=period, issued_at__isnull=False, total__gt=0).select_related(
            "employer", "person"
        )
        rows = []
        for number, bill in enumerate(bills.order_by("id"), start=1):
            luck = rng.random()
            # Left open: arrears, late fees running. Besides bills left open by chance, every eleventh payer pays
            # nothing for the last months: its later payments would otherwise settle the oldest open bill first.
            defaulter = (bill.employer_id or bill.person_id) % 11 == 0
            if (luck < 0.08 or defaulter) and period >= period_of(today) - 3:
                continue
            amount = bill.total if luck >= 0.11 else (bill.total / 2).quantize(Decimal("0.01"))
            paid_on = min(bill.due_date - datetime.timedelta(days=rng.randrange(0, 10)), today)
            if 0.92 < luck < 0.96:
                paid_on = min(bill.due_date + datetime.timedelta(days=rng.randrange(5, 40)), today)
            payer = (
                ("单位", bill.employer.credit_code, bill.employer.name)
                if bill.employer_id
                else ("个人", bill.person.id_number, bill.person.name)
            )
            rows.append([f"DEMO-{period}-{number:06d}", *payer, str(period), f"{amount:.2f}", paid_on.isoformat()])
        if not rows:
            return
        total = sum((Decimal(r[5]) for r in rows), Decimal(0))
        totals = [[TOTAL_COUNT, str(len(rows))], [TOTAL_AMOUNT, f"{total:.2f}"]]
        text = "\r\n".join(",".join(r) for r in [*totals, PAYMENT_HEADER, *rows]) + "\r\n"
        payment_file, _created = contribution_services.payment_file_upload(
            name=f"到账-{period}.csv", data=text.encode("utf-8"), mode=PaymentFileMode.STRICT, acting_user=admin
        )
        # Imported here, not by a worker: the ledger posting below needs the payments (idempotent: a worker that
        # gets the queued task finds the file imported).
        contribution_services.payment_file_process(payment_file_id=payment_file.pk)

    def _residents(self, today: datetime.date, admin: User) -> None:
        city = Office.objects.get(level=OfficeLevel.CITY)
        contribution_services.resident_medical_bill_run(year=today.year, office=city, acting_user=admin)
        billed = Bill.objects.filter(kind=BillKind.RES_PENSION, period=today.year * 100 + 1).values("person_id")
        pensioners = (
            Person.objects.filter(
                enrollments__insurance_type=InsuranceType.RESIDENT_PENSION,
                enrollments__end_date__isnull=True,
                enrollments__start_date__lte=today,
            )
            .exclude(pk__in=billed)
            .distinct()[:10]
        )
        for grade, person in enumerate(pensioners, start=1):
            contribution_services.resident_pension_contribute(
                person=person, year=today.year, grade=(grade % 5) + 1, acting_user=admin
            )

    def _case_people(self, district: Office) -> tuple[list[Person], Person | None]:
        """Ten persons of the district for the demo cases, and one more without resident medical insurance."""
        people = list(
            Person.objects.filter(
                residence_office__path__startswith=district.path, card_status__in=["none", "active"], merged_into=None
            ).order_by("id")[:10]
        )
        uninsured = (
            Person.objects.filter(residence_office__path__startswith=district.path, merged_into__isnull=True)
            .exclude(enrollments__insurance_type=InsuranceType.RESIDENT_MEDICAL)
            .exclude(pk__in=[p.pk for p in people])
            .order_by("id")
            .first()
        )
        if len(people) < 10:
            self.stdout.write(f"life_demo: {len(people)} persons in 黄岩, too few for the demo cases.")
        return people, uninsured

    def _cases(self) -> int:
        """Cases of the 黄岩 district counter in every state (a step the demo data does not allow is skipped)."""
        district = Office.objects.filter(code="331003").first()
        staff = {u.username: u for u in User.objects.filter(username__in=["hy_clerk", "hy_reviewer"])}
        desk, checker = staff.get("hy_clerk"), staff.get("hy_reviewer")
        if district is None or desk is None or checker is None:
            self.stdout.write("life_demo: no 黄岩 clerk and reviewer (run load_demo); no demo cases.")
            return 0
        people, uninsured = self._case_people(district)
        if len(people) < 10:
            return 0
        items = {i.code: i for i in ServiceItem.objects.filter(code__in=["CJ-GR-001", "KA-001", "KA-003", "ZM-002"])}
        made = 0

        def attempt(call) -> Any:
            nonlocal made
            try:
                result = call()
            except (ValidationError, ApplicationError) as exc:
                self.stdout.write(f"life_demo: a demo case skipped: {exc}")
                return None
            made += 1
            return result

        def intake(code, person, materials, data=None):
            if code == "KA-001" and person.card_status != "none":
                code = "KA-003"  # a cardholder replaces his card
            return case_services.case_intake(
                acting_user=desk, item=items[code], person=person, materials_received=materials, form_data=data or {}
            )

        medical = {"insurance_type": InsuranceType.RESIDENT_MEDICAL, "start_date": timezone.localdate().isoformat()}
        if uninsured is not None:
            attempt(lambda: intake("CJ-GR-001", uninsured, ["form"], medical))  # 待复核/审批
        attempt(lambda: intake("KA-001", people[1], ["photo"]))  # 待审核
        for person, close in [
            (
                people[2],
                lambda c: case_services.case_request_correction(
                    case=c, acting_user=checker, missing=["photo"], note="照片不清晰"
                ),
            ),
            (people[3], lambda c: case_services.case_reject(case=c, acting_user=checker, reason="已在外地办理社保卡")),
            (people[4], lambda c: case_services.case_withdraw(case=c, acting_user=desk, reason="申请人要求撤回")),
            (people[5], lambda c: case_services.case_pass(case=c, acting_user=checker)),
            (people[6], lambda c: case_services.case_pass(case=c, acting_user=checker)),
        ]:
            case = attempt(lambda person=person: intake("KA-001", person, ["photo"]))
            if case is not None:
                attempt(lambda case=case, close=close: close(case))
        attempt(lambda: intake("ZM-002", people[7], []))  # 即办：已办结
        attempt(lambda: cards.card_batch_create(acting_user=checker))
        attempt(lambda: case_services.case_submit(acting_user=desk, item=items["ZM-002"], person=people[8]))  # 待受理
        return made
