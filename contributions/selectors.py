"""Reads of contributions, jurisdiction applied. Pages, the API, admin and later apps use these.

Amounts paid are never stored on a bill: they are the sums of its allocations (append-only, a
reversal is a negative row). The list readers annotate those sums in SQL, so a page of bills is a
constant number of queries whatever its length.
"""

from __future__ import annotations

import datetime
import functools
import operator
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from functools import reduce
from typing import Any, NamedTuple

from django.core.exceptions import ValidationError
from django.db import connection, connections
from django.db.models import (
    Count,
    DecimalField,
    Exists,
    F,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from contributions.models import (
    ADJUSTMENT_KINDS,
    INSURANCE_ORDER,
    Bill,
    BillExport,
    BillKind,
    BillLine,
    BillRun,
    BillSettlement,
    BillTotal,
    ContributionHistory,
    DecisionStatus,
    Declaration,
    DeclarationLine,
    LateFeeWaiver,
    LineStatus,
    Payment,
    PaymentAllocation,
    PaymentFile,
    PaymentFileLine,
    PaymentOrder,
    PenaltyDecision,
    ReconciliationCategory,
    ReconciliationItem,
    ReconciliationSummary,
    history_columns,
)
from contributions.periods import period_first_day, period_last_day, period_parse
from policies import codes
from policies.selectors import parameter_value, parameter_values, rounding_rule
from registry.jurisdiction import office_in_jurisdiction, scope_to_user, user_sees_everything
from registry.models import EMPLOYEE_INSURANCES, Employer, Enrollment, InsuranceType, Office, Person
from registry.selectors import person_identity

ZERO = Decimal("0.00")
_MONEY = DecimalField(max_digits=16, decimal_places=2)
YEARLY_KINDS = (BillKind.RES_PENSION, BillKind.RES_MEDICAL)
ONE_OFF_KINDS = (BillKind.LAND_FARMER,)
_INSURANCE_LABELS = dict(InsuranceType.choices)
_INSURANCE_RANK = {ins.value: i for i, ins in enumerate(INSURANCE_ORDER)}


# ---------------------------------------------------------------------------------------------
# Paid and open amounts.


def _paid_of_bill() -> Coalesce:
    """SQL: what has been allocated to the bill (all insurances, reversals included)."""
    paid = (
        PaymentAllocation.objects.filter(bill_id=OuterRef("pk"))
        .order_by()
        .values("bill_id")
        .annotate(s=Sum("amount"))
        .values("s")[:1]
    )
    return Coalesce(Subquery(paid, output_field=_MONEY), Value(ZERO), output_field=_MONEY)


def _paid_of_bill_insurance(bill_ref: str = "bill_id", insurance_ref: str = "insurance_type") -> Coalesce:
    """SQL: what has been allocated to one insurance of one bill."""
    paid = (
        PaymentAllocation.objects.filter(bill_id=OuterRef(bill_ref), insurance_type=OuterRef(insurance_ref))
        .order_by()
        .values("bill_id")
        .annotate(s=Sum("amount"))
        .values("s")[:1]
    )
    return Coalesce(Subquery(paid, output_field=_MONEY), Value(ZERO), output_field=_MONEY)


def _total_of_bill_insurance(bill_ref: str = "bill_id", insurance_ref: str = "insurance_type") -> Coalesce:
    total = BillTotal.objects.filter(bill_id=OuterRef(bill_ref), insurance_type=OuterRef(insurance_ref)).values(
        "amount"
    )[:1]
    return Coalesce(Subquery(total, output_field=_MONEY), Value(ZERO), output_field=_MONEY)


def with_amounts(qs: QuerySet[Bill]) -> QuerySet[Bill]:
    """Annotate ``paid_amount`` and ``open_amount`` (total − paid) on a bill queryset, in SQL."""
    return qs.annotate(paid_amount=_paid_of_bill()).annotate(open_amount=F("total") - F("paid_amount"))


@dataclass(frozen=True)
class BillAmounts:
    total: Decimal
    paid: Decimal

    @property
    def open(self) -> Decimal:
        return self.total - self.paid


def bill_open_amounts(bill_ids: Iterable[int]) -> dict[int, BillAmounts]:
    """Total, paid and open amount of each bill, from its allocations: one query."""
    ids = list(bill_ids)
    if not ids:
        return {}
    rows = with_amounts(Bill.objects.filter(pk__in=ids)).values_list("pk", "total", "paid_amount")
    return {pk: BillAmounts(total=total, paid=paid or ZERO) for pk, total, paid in rows}


# ---------------------------------------------------------------------------------------------
# Bills.


def _issued_bills(user: Any) -> QuerySet[Bill]:
    return scope_to_user(Bill.objects.filter(issued_at__isnull=False), user)


def bill_list(
    *,
    user: Any,
    period: int | None = None,
    employer: Employer | None = None,
    person: Person | None = None,
    kind: str | None = None,
) -> QuerySet[Bill]:
    """Issued bills in the user's jurisdiction, newest first, with ``paid_amount`` and ``open_amount``.

    ``person`` matches the bills the person pays himself (flexible, resident); an employee's months on
    his employer's bills are in ``person_contribution_record``.
    """
    qs = _issued_bills(user).select_related("employer", "person", "office", "corrects", "bill_run", "fee_for")
    if period is not None:
        qs = qs.filter(period=period)
    if employer is not None:
        qs = qs.filter(employer=employer)
    if person is not None:
        qs = qs.filter(person=person)
    if kind:
        qs = qs.filter(kind=kind)
    return with_amounts(qs).order_by("-id")


def bill_get(*, user: Any, uid: Any) -> Bill:
    """One bill with its per-insurance totals prefetched; Bill.DoesNotExist when absent or out of jurisdiction."""
    return (
        bill_list(user=user)
        .prefetch_related(Prefetch("totals", queryset=BillTotal.objects.order_by("id")))
        .get(uid=uid)
    )


@dataclass(frozen=True)
class InsuranceAmounts:
    insurance_type: str
    label: str
    employer_amount: Decimal
    individual_amount: Decimal
    amount: Decimal
    paid: Decimal

    @property
    def open(self) -> Decimal:
        return self.amount - self.paid


def bill_insurance_amounts(bill: Bill) -> list[InsuranceAmounts]:
    """The bill's totals per insurance with what was allocated to each, in allocation order (two queries
    at most; the totals come from the prefetch of ``bill_get``)."""
    paid = dict(
        PaymentAllocation.objects.filter(bill=bill)
        .order_by()
        .values("insurance_type")
        .annotate(s=Sum("amount"))
        .values_list("insurance_type", "s")
    )
    rows = [
        InsuranceAmounts(
            insurance_type=t.insurance_type,
            label=str(_INSURANCE_LABELS.get(t.insurance_type, t.insurance_type)),
            employer_amount=t.employer_amount,
            individual_amount=t.individual_amount,
            amount=t.amount,
            paid=paid.get(t.insurance_type) or ZERO,
        )
        for t in bill.totals.all()
    ]
    return sorted(rows, key=lambda r: _INSURANCE_RANK.get(r.insurance_type, 99))


def bill_lines(bill: Bill) -> QuerySet[BillLine]:
    return BillLine.objects.filter(bill=bill).select_related("person").order_by("person_id", "id")


def bill_allocations(bill: Bill) -> QuerySet[PaymentAllocation]:
    return (
        PaymentAllocation.objects.filter(bill=bill).select_related("payment", "reverses").order_by("created_at", "id")
    )


def bill_adjustments(bill: Bill) -> QuerySet[Bill]:
    return Bill.objects.filter(corrects=bill, issued_at__isnull=False).order_by("id")


# ---------------------------------------------------------------------------------------------
# Arrears and late fees.


def arrears_list(*, user: Any, on: datetime.date, kind: str | None = None) -> QuerySet[Bill]:
    """欠费: issued bills (refunds excepted) still open on ``on`` whose due date has passed, oldest due first.

    Open amount is in SQL; the late fee of the rows actually shown is ``late_fees_for(page, on=on)``.
    """
    issued = _issued_bills(user)
    if connection.vendor == "postgresql":
        # Only the bills not yet settled (BillSettlement, kept by triggers; partial index bill_settlement_open),
        # so the cost follows the open bills, not every bill ever issued. The open amount below stays exact.
        issued = issued.filter(pk__in=BillSettlement.objects.filter(settled_at__isnull=True).values("bill_id"))
    qs = (
        with_amounts(
            issued.exclude(kind=BillKind.REFUND)
            .filter(due_date__lt=on)
            .select_related("employer", "person", "office", "corrects", "bill_run")
        )
        .filter(open_amount__gt=0)
        .order_by("due_date", "id")
    )
    if kind:
        qs = qs.filter(kind=kind)
    return qs


@dataclass(frozen=True)
class LateFeeRow:
    bill_id: int
    days: int
    daily_rate: Decimal
    amount: Decimal
    outstanding: Decimal


def late_fees_for(bills: Iterable[Bill], *, on: datetime.date) -> dict[int, LateFeeRow]:
    """滞纳金 of several bills as of ``on`` with one query for all their payments (and one for their
    offices unless the bills were read with ``select_related("office")``, as ``bill_list`` does).

    The same rule as ``services.late_fee`` (a test holds them equal): the daily rate in force on the
    due date, charged each day from the day after the due date through ``on`` on what was still
    unpaid at the start of that day; a payment counts from the day after its payment date; the sum
    is rounded once by the money rule in force on ``on`` (社会保险法第八十六条: 万分之五 a day from the day the
    arrears began). "Due date" is ``Bill.late_fee_start``: a 补缴 bill for the payer's corrected declaration
    runs from the original month's due date. A late-fee bill bears no late fee itself.
    """
    bills = list(bills)
    if not bills:
        return {}
    paid_by_day: dict[int, list[tuple[datetime.date, Decimal]]] = defaultdict(list)
    for bill_id, paid_on, amount in (
        PaymentAllocation.objects.filter(bill_id__in=[b.pk for b in bills])
        .order_by()
        .values_list("bill_id", "payment__paid_on")
        .annotate(s=Sum("amount"))
        .values_list("bill_id", "payment__paid_on", "s")
    ):
        paid_by_day[bill_id].append((paid_on, amount))
    office_field = Bill._meta.get_field("office")
    missing = {b.office_id for b in bills if not office_field.is_cached(b)}
    offices = Office.objects.in_bulk(missing) if missing else {}
    out: dict[int, LateFeeRow] = {}
    for bill in bills:
        office = bill.office if office_field.is_cached(bill) else offices[bill.office_id]
        rate = parameter_value(codes.LATE_FEE_DAILY_RATE, on=bill.late_fee_start, office=office).value
        fee, days, outstanding = _late_fee_days(bill, sorted(paid_by_day.get(bill.pk, [])), rate, on)
        out[bill.pk] = LateFeeRow(
            bill_id=bill.pk,
            days=days,
            daily_rate=rate,
            amount=rounding_rule(on=on, office=office).apply(fee),
            outstanding=max(outstanding, Decimal(0)),
        )
    return out


def _late_fee_days(
    bill: Bill, payments: list[tuple[datetime.date, Decimal]], rate: Decimal, on: datetime.date
) -> tuple[Decimal, int, Decimal]:
    """(unrounded fee, days charged, still unpaid) of one bill through ``on``, its payments by day in order."""
    since = bill.late_fee_start
    outstanding = bill.total
    fee = Decimal(0)
    days = 0
    index = 0
    while index < len(payments) and payments[index][0] <= since:
        outstanding -= payments[index][1]
        index += 1
    # A late-fee bill bears no late fee (no fee on a fee): start after ``on``.
    start = on + datetime.timedelta(days=1) if bill.kind == BillKind.LATE_FEE else since + datetime.timedelta(days=1)
    while start <= on:
        if index < len(payments) and payments[index][0] < on:
            end = payments[index][0]  # the payment day is still charged on the amount before it
        else:
            end = on
        charged = (end - start).days + 1
        if outstanding > 0 and charged > 0:
            fee += outstanding * rate * charged
            days += charged
        start = end + datetime.timedelta(days=1)
        while index < len(payments) and payments[index][0] <= end:
            outstanding -= payments[index][1]
            index += 1
    return fee, days, outstanding


# ---------------------------------------------------------------------------------------------
# Bill runs.


def bill_run_list(*, user: Any) -> QuerySet[BillRun]:
    return scope_to_user(BillRun.objects.select_related("office", "employer", "started_by"), user).order_by("-id")


def bill_run_get(*, user: Any, uid: Any) -> BillRun:
    return bill_run_list(user=user).get(uid=uid)


def bill_runs_active(*, user: Any) -> bool:
    return bill_run_list(user=user).filter(status__in=["queued", "running"]).exists()


# ---------------------------------------------------------------------------------------------
# Declarations.


def declaration_list(
    *,
    user: Any,
    employer: Employer | None = None,
    period: int | None = None,
    status: str | None = None,
) -> QuerySet[Declaration]:
    """Declarations in the user's jurisdiction with ``line_count``, ``clamped_count`` and ``declared_total``."""
    qs = scope_to_user(Declaration.objects.select_related("employer", "employer__office"), user)
    if employer is not None:
        qs = qs.filter(employer=employer)
    if period is not None:
        qs = qs.filter(period=period)
    if status:
        qs = qs.filter(status=status)
    return qs.annotate(
        line_count=Count("lines"),
        clamped_count=Count("lines", filter=~Q(lines__clamp="")),
        base_total=Coalesce(Sum("lines__base"), Value(ZERO), output_field=_MONEY),
    ).order_by("-id")


def declaration_get(*, user: Any, uid: Any) -> Declaration:
    return declaration_list(user=user).get(uid=uid)


def declaration_lines(declaration: Declaration) -> QuerySet[DeclarationLine]:
    return DeclarationLine.objects.filter(declaration=declaration).select_related("person").order_by("id")


def declaration_find(*, employer: Employer, period: Any) -> Declaration | None:
    """The declaration of ``employer`` for ``period`` if there is one (None for an unreadable period too)."""
    try:
        value = period_parse(period, allow_future=True)
    except ValidationError:
        return None
    return Declaration.objects.filter(employer=employer, period=value).first()


def declaration_persons(
    *, user: Any, employer: Employer, uids: Iterable[Any] = (), id_numbers: Iterable[str] = ()
) -> QuerySet[Person]:
    """Persons a declaration of ``employer`` may name: those in the user's jurisdiction and those ever
    enrolled with the employer (an employee may live in another district). One query."""
    uids, id_numbers = list(uids), list(id_numbers)
    keys = [Q(uid__in=uids)] if uids else []
    if id_numbers:
        keys.append(Q(id_number__in=id_numbers))
    if not keys:
        return Person.objects.none()
    by_key = keys[0] if len(keys) == 1 else keys[0] | keys[1]
    visible = scope_to_user(Person.objects.all(), user).values("pk")
    employed = Enrollment.objects.filter(employer=employer).values("person_id")
    return Person.objects.filter(by_key).filter(Q(pk__in=visible) | Q(pk__in=employed))


@dataclass
class DeclarationCandidate:
    row: int
    person: Person
    declared_base: Decimal | None
    base: Decimal | None
    clamp: str


def declaration_candidates(*, employer: Employer, period: int) -> list[DeclarationCandidate]:
    """The employer's employees enrolled in an employee insurance during ``period``, with the bases
    already declared for them (two queries), numbered as the rows of the entry form."""
    first, last = period_first_day(period), period_last_day(period)
    active = Enrollment.objects.filter(
        employer=employer,
        person_id=OuterRef("pk"),
        insurance_type__in=[t.value for t in EMPLOYEE_INSURANCES],
        start_date__lte=last,
    ).filter(Q(end_date__isnull=True) | Q(end_date__gte=first))
    persons = list(Person.objects.filter(Exists(active)).order_by("name_pinyin", "id"))
    existing = {
        line.person_id: line
        for line in DeclarationLine.objects.filter(declaration__employer=employer, declaration__period=period)
    }
    out = []
    for index, person in enumerate(persons, start=1):
        line = existing.get(person.pk)
        out.append(
            DeclarationCandidate(
                row=index,
                person=person,
                declared_base=line.declared_base if line else None,
                base=line.base if line else None,
                clamp=line.clamp if line else "",
            )
        )
    return out


# ---------------------------------------------------------------------------------------------
# Payments.


def payment_list(*, user: Any, employer: Employer | None = None, person: Person | None = None) -> QuerySet[Payment]:
    qs = scope_to_user(Payment.objects.select_related("employer", "person", "office"), user).prefetch_related(
        Prefetch("allocations", queryset=PaymentAllocation.objects.select_related("bill").order_by("id"))
    )
    if employer is not None:
        qs = qs.filter(employer=employer)
    if person is not None:
        qs = qs.filter(person=person)
    return qs.order_by("-id")


def payment_get(*, user: Any, uid: Any) -> Payment:
    return payment_list(user=user).get(uid=uid)


# ---------------------------------------------------------------------------------------------
# 个人权益记录: a person's contributions month by month.


@dataclass
class RecordRow:
    """One month (or one year, for the yearly resident insurances) of one insurance."""

    period: int
    insurance_type: str
    kind: str
    base: Decimal
    employer_amount: Decimal
    individual_amount: Decimal
    employer_name: str
    employer_uid: Any
    counted: bool  # the original bill's insurance total is fully allocated: the month counts
    settled: bool  # every bill of the month (adjustments included) is fully allocated
    paid_employer: Decimal = ZERO  # the amounts of the lines whose bill insurance total is fully allocated
    paid_individual: Decimal = ZERO
    bill_uids: list[Any] = field(default_factory=list)
    # Migrated history (ContributionHistory): the districts whose legacy systems recorded this month, and
    # whether more than one source (two districts, or a district and a bill of this system) recorded it:
    # such a month is shown with both, counted once.
    sources: list[str] = field(default_factory=list)
    overlap: bool = False

    @property
    def insurance_label(self) -> str:
        return str(_INSURANCE_LABELS.get(self.insurance_type, self.insurance_type))

    @property
    def yearly(self) -> bool:
        return self.kind in YEARLY_KINDS or self.kind in ONE_OFF_KINDS

    @property
    def period_label(self) -> str:
        year, month = divmod(self.period, 100)
        return f"{year}年度" if self.yearly else f"{year}年{month:02d}月"

    @property
    def migrated(self) -> bool:
        return bool(self.sources)

    @property
    def months(self) -> int:
        return _months_of(self.kind) if self.counted else 0

    @property
    def status(self) -> str:
        if self.settled:
            return "paid"
        return "partial" if self.counted else "unpaid"

    @property
    def status_label(self) -> str:
        return {"paid": "已缴清", "partial": "已缴（补缴未清）", "unpaid": "未缴清"}[self.status]


@dataclass(frozen=True)
class RecordSummary:
    insurance_type: str
    label: str
    months: int
    employer_paid: Decimal
    individual_paid: Decimal
    first_period: int | None
    last_period: int | None


@dataclass
class ContributionRecord:
    person: Person
    rows: list[RecordRow]
    summary: list[RecordSummary]
    generated_on: datetime.date

    def months(self, insurance_type: str) -> int:
        return next((s.months for s in self.summary if s.insurance_type == insurance_type), 0)


def _months_of(kind: str) -> int:
    """Months one counted record contributes: monthly bills 1, a yearly resident bill 12, a one-off 0."""
    if kind in YEARLY_KINDS:
        return 12
    if kind in ONE_OFF_KINDS:
        return 0
    return 1


MIGRATED = "migrated"  # the kind of a record row that only migrated history supplies


def _person_lines(person: Person | int) -> QuerySet[BillLine]:
    """The bill lines of the person and of the tombstones merged into it."""
    return (
        BillLine.objects.filter(person_id__in=person_identity(person), bill__issued_at__isnull=False)
        .annotate(total_amount=_total_of_bill_insurance(), paid_amount=_paid_of_bill_insurance())
        .order_by("period", "insurance_type", "bill__issued_at", "bill_id", "id")
    )


def person_contribution_record(*, user: Any, person: Person, on: datetime.date | None = None) -> ContributionRecord:
    """个人权益记录: month by month and per insurance the base, the employer's and the person's amounts,
    whether paid and by which employer; and per insurance the months counted (one query).

    A month counts when the insurance total of its original bill (regular, flexible or resident) is
    fully allocated; an arrears adjustment still open does not uncount it (the row says so). Months of the
    districts' legacy systems (migrated history) count when something was paid; a month recorded by two
    sources is one row, counted once, with both named (``sources``, ``overlap``). The tombstones merged into
    the person are part of the record. Access follows the person's jurisdiction: the record is the person's,
    so months billed to an employer in another district are included. Person.DoesNotExist when the person is
    out of jurisdiction. Two queries.
    """
    # The residence office is read only when the user's jurisdiction needs it (a caller may not have loaded it).
    if not user_sees_everything(user) and not office_in_jurisdiction(user, person.residence_office):
        raise Person.DoesNotExist
    grouped: dict[tuple[int, str], RecordRow] = {}
    for line in _record_lines(person):
        _record_row_add(grouped, line)
    for row in grouped.values():
        row.settled = row.settled and row.counted
    _add_history_rows(grouped, person)
    rows = sorted(grouped.values(), key=lambda r: (r.period, _INSURANCE_RANK.get(r.insurance_type, 99)))
    by_insurance: dict[str, list[RecordRow]] = defaultdict(list)  # one pass over the rows, not one per insurance
    for row in rows:
        by_insurance[row.insurance_type].append(row)
    summary = []
    for insurance in INSURANCE_ORDER:
        mine = by_insurance.get(insurance.value)
        if not mine:
            continue
        counted = [r for r in mine if r.counted]
        summary.append(
            RecordSummary(
                insurance_type=insurance.value,
                label=str(insurance.label),
                months=sum(r.months for r in counted),
                employer_paid=sum((r.paid_employer for r in mine), ZERO),
                individual_paid=sum((r.paid_individual for r in mine), ZERO),
                first_period=min((r.period for r in counted), default=None),
                last_period=max((r.period for r in counted), default=None),
            )
        )
    return ContributionRecord(person=person, rows=rows, summary=summary, generated_on=on or timezone.localdate())


class _RecordLine(NamedTuple):
    """What the personal record reads of one bill line (``values_list`` fields, in this order)."""

    period: int
    insurance_type: str
    base: Decimal
    employer_amount: Decimal
    individual_amount: Decimal
    total_amount: Decimal
    paid_amount: Decimal
    bill__kind: str
    bill__uid: Any
    bill__employer_id: int | None
    bill__employer__name: str | None
    bill__employer__uid: Any


def _record_lines(person: Person) -> list[_RecordLine]:
    """The bill lines of the personal record (the person's and its tombstones'), in the record's order: one
    statement.

    On PostgreSQL one SQL statement written once per process (``_record_lines_sql``): compiling the ORM query cost
    about as much as running it, and it computed each line's bill insurance total and paid amount in two correlated
    subqueries (docs/benchmarks.md, partitions). On SQLite (the embedded database for trying the system) the ORM
    query does it, with the same columns in the same order (``_person_lines``; a test compares both on
    PostgreSQL)."""
    db = connections[BillLine.objects.db]  # where the ORM would read (registry.replica)
    if db.vendor != "postgresql":
        return [_RecordLine(*values) for values in _person_lines(person).values_list(*_RecordLine._fields)]
    with db.cursor() as cursor:
        cursor.execute(_record_lines_sql(), {"person": person.pk})
        rows = cursor.fetchall()
    # The uids come as text, each made a UUID once: a line's bill and employer repeat on every insurance and month,
    # and parsing them per line was the record's largest Python cost.
    uids: dict[str | None, uuid.UUID | None] = {None: None}
    lines = []
    for row in rows:
        bill_uid, employer_uid = row[8], row[11]
        if bill_uid not in uids:
            uids[bill_uid] = uuid.UUID(bill_uid)
        if employer_uid not in uids:
            uids[employer_uid] = uuid.UUID(employer_uid)
        lines.append(_RecordLine(*row[:8], uids[bill_uid], row[9], row[10], uids[employer_uid]))
    return lines


@functools.cache
def _record_lines_sql() -> str:
    """The statement of ``_record_lines`` (PostgreSQL): ``_RecordLine``'s columns, ordered as ``_person_lines``.

    The person's lines (its own and its tombstones', by the index on person and period of every partition) are
    read once (a CTE); the totals (BillTotal) and the allocations of their bills are read bill by bill (an index
    scan per bill, each giving the bill's five insurances), the allocations summed by bill and insurance, and both
    joined to the lines: no correlated subquery per line. ``OFFSET 0`` keeps each per-bill read a lateral index
    scan: merged into the join, the planner hashed the whole table when it was small (at 2,000 employees the
    statement took 1.4 times as long)."""
    return f"""
        WITH lines AS (
            SELECT l.id, l.bill_id, l.period, l.insurance_type, l.base, l.employer_amount, l.individual_amount
            FROM {BillLine._meta.db_table} l
            WHERE l.person_id IN (
                SELECT p.id FROM {Person._meta.db_table} p WHERE p.id = %(person)s OR p.merged_into_id = %(person)s
            )
        ),
        bills AS (SELECT DISTINCT lines.bill_id FROM lines),
        totals AS (
            SELECT t.bill_id, t.insurance_type, t.amount
            FROM bills CROSS JOIN LATERAL (
                SELECT t.bill_id, t.insurance_type, t.amount FROM {BillTotal._meta.db_table} t
                WHERE t.bill_id = bills.bill_id OFFSET 0
            ) t
        ),
        paid AS (
            SELECT a.bill_id, a.insurance_type, SUM(a.amount) AS amount
            FROM bills CROSS JOIN LATERAL (
                SELECT a.bill_id, a.insurance_type, a.amount FROM {PaymentAllocation._meta.db_table} a
                WHERE a.bill_id = bills.bill_id OFFSET 0
            ) a
            GROUP BY a.bill_id, a.insurance_type
        )
        SELECT lines.period, lines.insurance_type, lines.base, lines.employer_amount, lines.individual_amount,
            COALESCE(totals.amount, 0.00), COALESCE(paid.amount, 0.00), b.kind, b.uid::text, b.employer_id, e.name,
            e.uid::text
        FROM lines
        JOIN {Bill._meta.db_table} b ON b.id = lines.bill_id
        LEFT JOIN {Employer._meta.db_table} e ON e.id = b.employer_id
        LEFT JOIN totals ON totals.bill_id = lines.bill_id AND totals.insurance_type = lines.insurance_type
        LEFT JOIN paid ON paid.bill_id = lines.bill_id AND paid.insurance_type = lines.insurance_type
        WHERE b.issued_at IS NOT NULL
        ORDER BY lines.period, lines.insurance_type, b.issued_at, lines.bill_id, lines.id
    """


def _record_row_add(grouped: dict[tuple[int, str], RecordRow], line: _RecordLine) -> None:
    """Add one bill line to the row of its month and insurance (the original bill's kind and employer win; an
    adjustment carries the corrected base; a month is counted when an original bill's total is fully paid)."""
    kind, employer_id = line.bill__kind, line.bill__employer_id
    employer_name, employer_uid = (line.bill__employer__name, line.bill__employer__uid) if employer_id else ("", None)
    key = (line.period, line.insurance_type)
    fully = line.paid_amount >= line.total_amount
    row = grouped.get(key)
    if row is None:
        row = grouped[key] = RecordRow(
            period=line.period,
            insurance_type=line.insurance_type,
            kind=kind,
            base=line.base,
            employer_amount=ZERO,
            individual_amount=ZERO,
            employer_name=employer_name,
            employer_uid=employer_uid,
            counted=False,
            settled=True,
        )
    row.employer_amount += line.employer_amount
    row.individual_amount += line.individual_amount
    if fully:
        row.paid_employer += line.employer_amount
        row.paid_individual += line.individual_amount
    if kind not in ADJUSTMENT_KINDS:
        row.kind = kind
        row.counted = row.counted or fully
        if employer_id:
            row.employer_name, row.employer_uid = employer_name, employer_uid
    if kind != BillKind.REFUND:
        row.base = line.base  # an adjustment carries the corrected base
        if not fully and line.total_amount > 0:
            row.settled = False
    if line.bill__uid not in row.bill_uids:
        row.bill_uids.append(line.bill__uid)


def history_paid(insurance_type: str) -> Q:
    """History rows recording something paid in ``insurance_type``."""
    _base, employer, individual = history_columns(insurance_type)
    return Q(**{f"{employer}__gt": 0}) | Q(**{f"{individual}__gt": 0})


def history_carries(insurance_type: str) -> Q:
    """History rows that carry ``insurance_type`` (any of its three columns filled)."""
    return reduce(operator.or_, (Q(**{f"{c}__isnull": False}) for c in history_columns(insurance_type)))


def _add_history_rows(grouped: dict[tuple[int, str], RecordRow], person: Person) -> None:
    """Merge the person's migrated history (and its tombstones') into the record rows (one query)."""
    paid_sources = {key: 1 for key, row in grouped.items() if row.counted}
    for h in _person_history(person):
        for insurance, base, employer_amount, individual_amount in h.insurances():
            _history_row_add(grouped, paid_sources, h, (insurance, base, employer_amount, individual_amount))


def _person_history(person: Person) -> list[ContributionHistory]:
    """The migrated history of the person and its tombstones, each row with its employer (name, uid) and office
    (names) loaded, by period and office: one statement.

    On PostgreSQL written once per process (``_person_history_sql``), as ``_record_lines`` and for the same reason
    (compiling the ORM query cost more than running it); on SQLite the ORM query."""
    db = connections[ContributionHistory.objects.db]  # where the ORM would read (registry.replica)
    if db.vendor != "postgresql":
        return list(
            ContributionHistory.objects.filter(person_id__in=person_identity(person))
            .select_related("employer", "office")
            .order_by("period", "office__code", "id")
        )
    sql, parts = _person_history_sql()
    history = []
    with db.cursor() as cursor:
        cursor.execute(sql, {"person": person.pk})
        for row in cursor.fetchall():
            built = []
            for model, attnames, start in parts:
                values = row[start : start + len(attnames)]
                built.append(None if values[0] is None else model.from_db(db.alias, attnames, values))
            h, employer, office = built
            h.employer, h.office = employer, office
            history.append(h)
    return history


_HISTORY_EMPLOYER_FIELDS = ("id", "name", "uid")  # what a record row shows of the employer and the office
_HISTORY_OFFICE_FIELDS = ("id", "code", "name", "short_name")


@functools.cache
def _person_history_sql() -> tuple[str, list[tuple[type, list[str], int]]]:
    """The statement of ``_person_history`` and, per model (history, employer, office), its attnames in select
    order and the index of its first column (``Model.from_db`` wants the concrete fields' order)."""
    select: list[str] = []
    parts: list[tuple[type, list[str], int]] = []
    for model, alias, wanted in (
        (ContributionHistory, "h", None),
        (Employer, "e", _HISTORY_EMPLOYER_FIELDS),
        (Office, "o", _HISTORY_OFFICE_FIELDS),
    ):
        fields = [f for f in model._meta.concrete_fields if wanted is None or f.attname in wanted]
        parts.append((model, [f.attname for f in fields], len(select)))
        select += [f'{alias}."{f.column}"' for f in fields]
    sql = f"""
        SELECT {", ".join(select)}
        FROM {ContributionHistory._meta.db_table} h
        LEFT JOIN {Employer._meta.db_table} e ON e.id = h.employer_id
        JOIN {Office._meta.db_table} o ON o.id = h.office_id
        WHERE h.person_id IN (
            SELECT p.id FROM {Person._meta.db_table} p WHERE p.id = %(person)s OR p.merged_into_id = %(person)s
        )
        ORDER BY h.period, o.code, h.id
    """
    return sql, parts


def _history_row_add(grouped: dict, paid_sources: dict, h: ContributionHistory, values: tuple) -> None:
    """Add one insurance of a history month to the record row of that month and insurance."""
    insurance, base, employer_amount, individual_amount = values
    paid = employer_amount > 0 or individual_amount > 0
    key = (h.period, insurance)
    row = grouped.get(key)
    if row is None:
        row = grouped[key] = RecordRow(
            period=h.period,
            insurance_type=insurance,
            kind=MIGRATED,
            base=base,
            employer_amount=ZERO,
            individual_amount=ZERO,
            employer_name=h.employer.name if h.employer_id else "",
            employer_uid=h.employer.uid if h.employer_id else None,
            counted=False,
            settled=False,
        )
    # A month transferred in names the city that paid it; a migrated month the district that recorded it.
    row.sources.append(
        _("转入（%(city)s）") % {"city": h.source_city} if h.source_city else h.office.short_name or h.office.name
    )
    row.employer_amount += employer_amount
    row.individual_amount += individual_amount
    if paid:
        row.paid_employer += employer_amount
        row.paid_individual += individual_amount
        row.counted = True
        row.settled = row.settled if row.bill_uids else True  # an open bill of the month stays open
        paid_sources[key] = paid_sources.get(key, 0) + 1
        # Two sources paid the same month (two districts, or a district and a bill here): counted once.
        row.overlap = paid_sources[key] > 1


def contribution_months(person: Person | int, insurance_type: str) -> int:
    """Cumulative paid contribution months of ``person`` in ``insurance_type`` (one query).

    For the employee pension this is the figure of the 15-year rule (``benefit.emp_pension.min_contribution_months``).
    A month counts once, when the insurance total of its original (non-adjustment) bill is fully
    allocated or when a district's migrated history records a payment for it (two districts recording one
    month count it once); a yearly resident contribution counts 12 months; the one-off land-farmer funding
    counts none. The tombstones merged into the person count with it.
    """
    paid = (
        _person_lines(person)
        .filter(insurance_type=insurance_type)
        .exclude(bill__kind__in=ADJUSTMENT_KINDS)
        .filter(paid_amount__gte=F("total_amount"))
        .order_by()
        .values_list("period", "bill__kind")
        .distinct()
    )
    migrated = (
        ContributionHistory.objects.filter(person_id__in=person_identity(person))
        .filter(history_paid(insurance_type))
        .order_by()
        .annotate(kind=Value(MIGRATED))
        .values_list("period", "kind")
        .distinct()
    )
    months_by_period: dict[int, int] = {}
    for period, kind in paid.union(migrated):
        months_by_period[period] = max(months_by_period.get(period, 0), _months_of(kind))
    return sum(months_by_period.values())


# ---------------------------------------------------------------------------------------------
# Exchange files with the collecting agency: bill files, payment files, reconciliation.


def bill_export_list(*, user: Any) -> QuerySet[BillExport]:
    return scope_to_user(BillExport.objects.select_related("office", "created_by"), user).order_by("-id")


def bill_export_person_ids(export: BillExport) -> QuerySet:
    """The persons whose whole ID numbers are in a bill file (its person bills), for the sensitive-access log."""
    return Bill.objects.filter(
        period=export.period,
        issued_at__isnull=False,
        office__path__startswith=export.office.path,
        id__lte=export.last_bill_id or 0,
        person__isnull=False,
    ).values_list("person_id", flat=True)


def reconciliation_person_ids(items: QuerySet[ReconciliationItem]) -> QuerySet:
    """The registered persons among reconciliation items (their payer code is the whole ID number)."""
    return items.filter(payer_type="person", person__isnull=False).order_by().values_list("person_id", flat=True)


def payment_file_list(*, user: Any) -> QuerySet[PaymentFile]:
    """Payment files the user may see: those imported in his jurisdiction, and those with reconciliation rows of
    his offices (a district clerk sees his district's part of the agency's city-wide file)."""
    own = scope_to_user(PaymentFile.objects.all(), user).values("pk")
    reconciled = scope_to_user(ReconciliationSummary.objects.all(), user).values("payment_file_id")
    return (
        PaymentFile.objects.filter(Q(pk__in=own) | Q(pk__in=reconciled))
        .select_related("office", "uploaded_by")
        .order_by("-id")
    )


def payment_file_get(*, user: Any, uid: Any) -> PaymentFile:
    return payment_file_list(user=user).get(uid=uid)


def payment_file_managed(*, user: Any, payment_file: PaymentFile) -> bool:
    """Whether the file was imported in the user's jurisdiction (its report and kept lines are his to handle)."""
    return office_in_jurisdiction(user, payment_file.office)


@dataclass(frozen=True)
class JurisdictionFigures:
    """A payment file's figures within one user's offices: payment lines reported and their amount."""

    lines: int
    paid: Decimal


def payment_file_jurisdiction_figures(*, user: Any, file_ids: Iterable[int]) -> dict[int, JurisdictionFigures]:
    """Per payment file, the lines and amount of the user's offices only (one query over the summary rows): what a
    district or township clerk is shown of a file imported elsewhere, instead of the file's city-wide counts."""
    rows = (
        scope_to_user(ReconciliationSummary.objects.filter(payment_file_id__in=list(file_ids)), user)
        .order_by()
        .values("payment_file_id")
        .annotate(lines=Sum("line_count"), paid=Sum("paid"))
    )
    return {r["payment_file_id"]: JurisdictionFigures(r["lines"] or 0, r["paid"] or ZERO) for r in rows}


def payment_file_bad_lines(*, user: Any, payment_file: PaymentFile) -> QuerySet[PaymentFileLine]:
    return scope_to_user(
        PaymentFileLine.objects.filter(payment_file=payment_file, status__in=[LineStatus.BAD, LineStatus.CORRECTED]),
        user,
    ).order_by("line_no")


def payment_file_line_get(*, user: Any, payment_file: PaymentFile, line_no: int) -> PaymentFileLine:
    return scope_to_user(PaymentFileLine.objects.select_related("payment_file__office"), user).get(
        payment_file=payment_file, line_no=line_no
    )


@dataclass
class ReconciliationRow:
    office: Office
    counts: dict[str, int]
    lines: dict[str, int]
    due: dict[str, Decimal]
    paid: dict[str, Decimal]


def reconciliation_summary(
    *, user: Any, payment_file: PaymentFile
) -> tuple[list[ReconciliationRow], ReconciliationRow]:
    """Per office of the user's jurisdiction and category: items, payment lines, amounts due and paid; and the
    total row. One query over the summary rows."""
    rows: dict[int, ReconciliationRow] = {}
    categories = ReconciliationCategory.values

    def empty(office) -> ReconciliationRow:
        return ReconciliationRow(
            office=office,
            counts=dict.fromkeys(categories, 0),
            lines=dict.fromkeys(categories, 0),
            due=dict.fromkeys(categories, ZERO),
            paid=dict.fromkeys(categories, ZERO),
        )

    total = empty(None)
    summaries = scope_to_user(
        ReconciliationSummary.objects.filter(payment_file=payment_file).select_related("office"), user
    ).order_by("office__path", "category")
    for summary in summaries:
        row = rows.setdefault(summary.office_id, empty(summary.office))
        for target in (row, total):
            target.counts[summary.category] += summary.item_count
            target.lines[summary.category] += summary.line_count
            target.due[summary.category] += summary.due
            target.paid[summary.category] += summary.paid
    return list(rows.values()), total


def reconciliation_items(
    *, user: Any, payment_file: PaymentFile, category: str | None = None, office: Office | None = None
) -> QuerySet[ReconciliationItem]:
    qs = scope_to_user(
        ReconciliationItem.objects.filter(payment_file=payment_file).select_related("office", "employer", "person"),
        user,
    )
    if category:
        qs = qs.filter(category=category)
    if office is not None:
        qs = qs.filter(office__path__startswith=office.path)
    return qs.order_by("office__path", "category", "period", "payer_code", "id")


# ---------------------------------------------------------------------------------------------
# Figures benefits are computed from.


@dataclass(frozen=True)
class EmployerWage:
    """An employer's average monthly wage of a year from its declarations: the declared wages (before the floor
    and ceiling clamp) of every employee-month declared, summed and divided by their number."""

    year: int
    total: Decimal
    employee_months: int

    @property
    def average(self) -> Decimal | None:
        return self.total / self.employee_months if self.employee_months else None


def employer_average_monthly_wage(*, employer: Any, year: int) -> EmployerWage:
    """用人单位上年度职工月平均工资 (the maternity allowance's base, 社会保险法 art. 56) as the system knows it: the
    employer's declared wages of ``year`` (one query)."""
    figures = DeclarationLine.objects.filter(
        declaration__employer=employer,
        declaration__period__gte=year * 100 + 1,
        declaration__period__lte=year * 100 + 12,
    ).aggregate(total=Sum("declared_base"), months=Count("id"))
    return EmployerWage(year=year, total=figures["total"] or ZERO, employee_months=figures["months"] or 0)


def person_recorded_periods(*, person: Person, insurance_type: str, periods: Iterable[int]) -> list[int]:
    """Of ``periods`` (YYYYMM), those the city already records for the person and insurance: billed here, or in a
    district's or another city's history (two queries)."""
    periods = list(periods)
    ids = person_identity(person)
    billed = BillLine.objects.filter(person_id__in=ids, insurance_type=insurance_type, period__in=periods)
    history = ContributionHistory.objects.filter(person_id__in=ids, period__in=periods).filter(
        history_carries(insurance_type)
    )
    found = set(billed.values_list("period", flat=True)) | set(history.values_list("period", flat=True))
    return sorted(found)


# ---------------------------------------------------------------------------------------------
# Enforcement (社会保险法第八十六条): orders to pay, penalties, late-fee waivers.


def late_fee_bill_of(bill: Bill) -> Bill | None:
    """The late-fee bill charging ``bill``'s late fee, if issued."""
    return Bill.objects.filter(fee_for=bill).first()


def employer_penalties(employer: Employer) -> QuerySet[PenaltyDecision]:
    """The employer's penalty decisions (proposed or approved, not rejected), newest first, for its statement."""
    return (
        PenaltyDecision.objects.filter(employer=employer)
        .exclude(status=DecisionStatus.REJECTED)
        .select_related("order")
        .order_by("-proposed_at", "-id")
    )


def payment_order_list(*, user: Any, employer: Employer | None = None) -> QuerySet[PaymentOrder]:
    qs = scope_to_user(PaymentOrder.objects.select_related("employer", "office", "issued_by"), user)
    if employer is not None:
        qs = qs.filter(employer=employer)
    return qs.order_by("-issued_on", "-id")


def penalty_list(*, user: Any) -> QuerySet[PenaltyDecision]:
    return scope_to_user(
        PenaltyDecision.objects.select_related("employer", "order", "proposed_by", "decided_by"), user
    ).order_by("-proposed_at", "-id")


def late_fee_waiver_list(*, user: Any, bill: Bill | None = None) -> QuerySet[LateFeeWaiver]:
    qs = scope_to_user(
        LateFeeWaiver.objects.select_related("bill", "bill__employer", "bill__person", "proposed_by", "decided_by"),
        user,
    )
    if bill is not None:
        qs = qs.filter(bill=bill)
    return qs.order_by("-proposed_at", "-id")


# ---------------------------------------------------------------------------------------------
# Resident medical waiting period.


@dataclass(frozen=True)
class WaitingPeriod:
    enrollment: Enrollment
    months: int  # 0: no waiting period
    gap_years: int
    benefits_from: datetime.date
    reason: str


def _add_months(day: datetime.date, months: int) -> datetime.date:
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = period_last_day(year * 100 + month + 1).day
    return datetime.date(year, month + 1, min(day.day, last))


def resident_medical_waiting(enrollment: Enrollment) -> WaitingPeriod:
    """The date from which a resident medical enrollment's benefits are due (国办发〔2024〕38号).

    Whoever enrolls outside the yearly concentrated enrollment (cover not starting on 1 January) or after a break in
    medical cover waits ``res_medical.waiting_months`` (3) months, plus ``res_medical.waiting_months_per_gap_year``
    (1) month for each full year without medical cover (resident or employee) between the end of the last cover and
    the start. Before the parameters are in force (2025) there is no waiting period. Two queries."""
    start = enrollment.start_date
    try:
        values = parameter_values(
            [codes.RES_MEDICAL_WAITING_MONTHS, codes.RES_MEDICAL_WAITING_MONTHS_PER_GAP_YEAR],
            on=start,
            office=enrollment.office,
        )
    except ValidationError:
        return WaitingPeriod(enrollment, 0, 0, start, _("等待期规定尚未施行。"))
    last_end = (
        Enrollment.objects.filter(
            person_id=enrollment.person_id,
            insurance_type__in=[InsuranceType.RESIDENT_MEDICAL, InsuranceType.EMPLOYEE_MEDICAL],
            end_date__lt=start,
        )
        .exclude(pk=enrollment.pk)
        .order_by("-end_date")
        .values_list("end_date", flat=True)
        .first()
    )
    gap_days = (start - last_end).days - 1 if last_end else 0
    gap_years = gap_days // 365
    outside = (start.month, start.day) != (1, 1)
    if not outside and gap_days <= 0:
        return WaitingPeriod(enrollment, 0, 0, start, _("集中参保期内连续参保，无等待期。"))
    months = int(values[codes.RES_MEDICAL_WAITING_MONTHS].value) + gap_years * int(
        values[codes.RES_MEDICAL_WAITING_MONTHS_PER_GAP_YEAR].value
    )
    reason = _("集中参保期外参保或断保后参保：固定等待期 %(base)s 个月，断保 %(gap)s 年另加 %(extra)s 个月。") % {
        "base": values[codes.RES_MEDICAL_WAITING_MONTHS].value,
        "gap": gap_years,
        "extra": months - int(values[codes.RES_MEDICAL_WAITING_MONTHS].value),
    }
    return WaitingPeriod(enrollment, months, gap_years, _add_months(start, months), reason)


def resident_medical_waiting_of_person(person: Person, *, limit: int = 5) -> list[WaitingPeriod]:
    """The waiting period of the person's latest resident medical enrollments (for his page)."""
    enrollments = Enrollment.objects.filter(person=person, insurance_type=InsuranceType.RESIDENT_MEDICAL).order_by(
        "-start_date"
    )[:limit]
    return [resident_medical_waiting(e) for e in enrollments]
