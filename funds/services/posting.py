"""Income from contributions into the ledger, set-based.

**Contribution income.** Every payment allocation to a bill insurance is contribution income of that
insurance's fund in the district of the bill's office (an office under a district resolves to the district;
the city office stays the city office). One transaction per allocation — ``source_type =
"contributions.paymentallocation"``, ``source_id`` = the allocation — with two entries: the bank balance
debited by the allocation's amount and contribution income credited (a reversing allocation has a negative
amount, so it reverses both). Allocations to the payer's credit (no bill) are not income: they become
income when the credit is used for a bill, which is a new allocation. The booking date is the day the
allocation was made (local time): for a payment the day it was recorded, for credit used or a reversal
that day.

**Fiscal subsidy income.** Resident pension, resident medical and land-farmer bills carry the government
subsidy beside the individual amount (``subsidy_city``, ``subsidy_district``, and the collective's share in
``subsidy_other``). The subsidy is posted **when the bill is paid in full** — the individual's payment is
what makes the subsidy due — dated the day of the allocation that completed it (a bill with nothing to pay
is posted on its issue day). One transaction per bill (``source_type = "contributions.bill"``): the bank
debited by the whole subsidy, city subsidy, district subsidy and collective income credited. A paid bill
whose payment is later reversed keeps its subsidy posting: the correction is a reversal by a fund officer.

**Nothing twice, nothing missed.** Both are ``INSERT … SELECT`` of every source without a transaction yet
(the partial unique index on ``(source_type, source_id)`` makes a second posting impossible even under
concurrency; on PostgreSQL an advisory lock serialises runs). Each run takes everything created before
``up_to`` that is not posted, so a row committed late by a slow transaction is taken by the next run.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Count, Exists, OuterRef, Sum
from django.db.models.functions import ExtractYear
from django.utils import timezone
from django.utils.translation import gettext as _

from contributions.models import Bill, BillKind, PaymentAllocation
from registry.audit import recorded_user
from registry.db_functions import office_district_code_sql
from registry.exceptions import PermissionDeniedError
from registry.jurisdiction import user_office, user_sees_everything
from registry.locks import AdvisoryLock, advisory_xact_lock
from registry.models import Office

from ..models import (
    Account,
    Fund,
    FundYear,
    FundYearStatus,
    LedgerEntry,
    LedgerTransaction,
    PostingRun,
    TransactionKind,
)
from .common import city_office

# Table names for the raw SQL below, from the models (never written by hand).
_BILL = Bill._meta.db_table
_FUND = Fund._meta.db_table
_LEDGER_ENTRY = LedgerEntry._meta.db_table
_LEDGER_TRANSACTION = LedgerTransaction._meta.db_table
_OFFICE = Office._meta.db_table
_PAYMENT_ALLOCATION = PaymentAllocation._meta.db_table

SOURCE_ALLOCATION = PaymentAllocation._meta.label_lower  # "contributions.paymentallocation"
SOURCE_BILL = Bill._meta.label_lower  # "contributions.bill"
SUBSIDY_BILL_KINDS = (BillKind.RES_PENSION, BillKind.RES_MEDICAL, BillKind.LAND_FARMER)


@dataclass(frozen=True)
class PostingResult:
    run_id: int
    contribution_transactions: int
    contribution_amount: Decimal
    subsidy_transactions: int
    subsidy_amount: Decimal

    @property
    def transactions(self) -> int:
        return self.contribution_transactions + self.subsidy_transactions


def _dialect() -> dict[str, Any]:
    if connection.vendor == "postgresql":
        return {
            "uuid": "gen_random_uuid()",
            "local_date": "CAST(({col} AT TIME ZONE %s) AS date)",
            "tz": [settings.TIME_ZONE],
        }
    # SQLite keeps datetimes as UTC text; the project's zone (Asia/Shanghai) has no daylight saving.
    offset = ZoneInfo(settings.TIME_ZONE).utcoffset(datetime.datetime(2000, 1, 1))
    hours = int(offset.total_seconds() // 3600) if offset else 0
    return {"uuid": "lower(hex(randomblob(16)))", "local_date": "date({col}, %s)", "tz": [f"{hours:+d} hours"]}


def _dt(value: datetime.datetime) -> Any:
    """A datetime parameter for raw SQL as the backend stores it (UTC text on SQLite)."""
    return connection.ops.adapt_datetimefield_value(value)


def _district_join(office_alias: str) -> str:
    # A city-office bill has no district: the join finds nothing and the city office books it.
    district = office_district_code_sql(f"{office_alias}.path")
    return f"LEFT JOIN {_OFFICE} d ON d.code = {district} AND d.level = 2"


def _insert_contribution(
    run: PostingRun, *, up_to: datetime.datetime, city_id: int, user_id: int | None, scope: str
) -> None:
    d = _dialect()
    local = d["local_date"].format(col="a.created_at")
    with connection.cursor() as cur:
        cur.execute(
            f"""
            INSERT INTO {_LEDGER_TRANSACTION} (uid, fund_id, office_id, kind, booked_on, amount, description,
                document_number, source_type, source_id, reverses_id, posting_run_id, created_at, created_by_id)
            SELECT {d["uuid"]}, f.id, COALESCE(d.id, %s), %s, {local}, ABS(a.amount), %s, '', %s, a.id, NULL, %s, %s, %s
            FROM {_PAYMENT_ALLOCATION} a
            JOIN {_BILL} b ON b.id = a.bill_id
            JOIN {_OFFICE} o ON o.id = b.office_id
            JOIN {_FUND} f ON f.insurance_type = a.insurance_type
            {_district_join("o")}
            WHERE a.bill_id IS NOT NULL AND a.created_at < %s AND o.path LIKE %s
              AND NOT EXISTS (SELECT 1 FROM {_LEDGER_TRANSACTION} t
                              WHERE t.source_type = %s AND t.source_id = a.id)
            """,
            [
                city_id,
                TransactionKind.CONTRIBUTION,
                *d["tz"],
                _("缴费收入（到账分配）"),
                SOURCE_ALLOCATION,
                run.pk,
                _dt(timezone.now()),
                user_id,
                _dt(up_to),
                scope + "%",
                SOURCE_ALLOCATION,
            ],
        )
        cur.execute(
            f"""
            INSERT INTO {_LEDGER_ENTRY} (transaction_id, fund_id, office_id, account, amount, booked_on)
            SELECT t.id, t.fund_id, t.office_id, s.account, s.sign * a.amount, t.booked_on
            FROM {_LEDGER_TRANSACTION} t
            JOIN {_PAYMENT_ALLOCATION} a ON a.id = t.source_id
            CROSS JOIN (SELECT %s AS account, 1 AS sign UNION ALL SELECT %s, -1) s
            WHERE t.posting_run_id = %s AND t.source_type = %s
            """,
            [Account.BANK, Account.CONTRIBUTION_INCOME, run.pk, SOURCE_ALLOCATION],
        )


def _insert_subsidy(
    run: PostingRun, *, up_to: datetime.datetime, city_id: int, user_id: int | None, scope: str
) -> None:
    d = _dialect()
    kinds = ", ".join(["%s"] * len(SUBSIDY_BILL_KINDS))
    paid = f"(SELECT SUM(a.amount) FROM {_PAYMENT_ALLOCATION} a WHERE a.bill_id = b.id AND a.created_at < %s)"
    last = f"(SELECT MAX(a.created_at) FROM {_PAYMENT_ALLOCATION} a WHERE a.bill_id = b.id AND a.created_at < %s)"
    booked = f"COALESCE({d['local_date'].format(col=last)}, {d['local_date'].format(col='b.issued_at')})"
    with connection.cursor() as cur:
        cur.execute(
            f"""
            INSERT INTO {_LEDGER_TRANSACTION} (uid, fund_id, office_id, kind, booked_on, amount, description,
                document_number, source_type, source_id, reverses_id, posting_run_id, created_at, created_by_id)
            SELECT {d["uuid"]}, f.id, COALESCE(d.id, %s), %s, {booked},
                   b.subsidy_city + b.subsidy_district + b.subsidy_other, %s, '', %s, b.id, NULL, %s, %s, %s
            FROM {_BILL} b
            JOIN {_FUND} f ON f.insurance_type = b.kind
            JOIN {_OFFICE} o ON o.id = b.office_id
            {_district_join("o")}
            WHERE b.kind IN ({kinds}) AND b.issued_at IS NOT NULL AND b.issued_at < %s AND o.path LIKE %s
              AND b.subsidy_city + b.subsidy_district + b.subsidy_other > 0
              AND COALESCE({paid}, 0) >= b.total
              AND NOT EXISTS (SELECT 1 FROM {_LEDGER_TRANSACTION} t WHERE t.source_type = %s AND t.source_id = b.id)
            """,
            [
                city_id,
                TransactionKind.SUBSIDY,
                _dt(up_to),
                *d["tz"],
                *d["tz"],
                _("财政补贴收入（居民缴费账单已缴清）"),
                SOURCE_BILL,
                run.pk,
                _dt(timezone.now()),
                user_id,
                *SUBSIDY_BILL_KINDS,
                _dt(up_to),
                scope + "%",
                _dt(up_to),
                SOURCE_BILL,
            ],
        )
        part = f"""
            SELECT t.id, t.fund_id, t.office_id, %s, -b.{{col}}, t.booked_on
            FROM {_LEDGER_TRANSACTION} t JOIN {_BILL} b ON b.id = t.source_id
            WHERE t.posting_run_id = %s AND t.source_type = %s AND b.{{col}} <> 0
        """
        cur.execute(
            f"""
            INSERT INTO {_LEDGER_ENTRY} (transaction_id, fund_id, office_id, account, amount, booked_on)
            SELECT t.id, t.fund_id, t.office_id, %s, t.amount, t.booked_on
            FROM {_LEDGER_TRANSACTION} t WHERE t.posting_run_id = %s AND t.source_type = %s
            UNION ALL {part.format(col="subsidy_city")}
            UNION ALL {part.format(col="subsidy_district")}
            UNION ALL {part.format(col="subsidy_other")}
            """,
            [
                Account.BANK,
                run.pk,
                SOURCE_BILL,
                Account.SUBSIDY_CITY,
                run.pk,
                SOURCE_BILL,
                Account.SUBSIDY_DISTRICT,
                run.pk,
                SOURCE_BILL,
                Account.COLLECTIVE_INCOME,
                run.pk,
                SOURCE_BILL,
            ],
        )


def _refuse_closed_years(run: PostingRun) -> None:
    closed = FundYear.objects.filter(fund_id=OuterRef("fund_id"), year=OuterRef("year"), status=FundYearStatus.CLOSED)
    late = (
        LedgerTransaction.objects.filter(posting_run=run)
        .annotate(year=ExtractYear("booked_on"))
        .filter(Exists(closed))
        .select_related("fund")
        .first()
    )
    if late is not None:
        raise ValidationError(
            {
                "up_to": _(
                    "有缴费分配的入账日期（%(day)s）落在“%(fund)s”已结账的 %(year)s 年度，未入账任何记录；请核查该分配（%(src)s）。"
                )
                % {"day": late.booked_on, "fund": late.fund.name, "year": late.booked_on.year, "src": late.source_label}
            }
        )


def _posting_scope(user: Any) -> str:
    """The office path prefix of the bills whose income this run posts ("/" for everything)."""
    if user is None or user_sees_everything(user):
        return "/"
    office = user_office(user)
    if office is None:
        raise PermissionDeniedError(_("您没有所属经办机构，不能入账。"))
    return office.path


@transaction.atomic
def contribution_income_post(
    *, up_to: datetime.datetime, acting_user: Any = None, city_wide: bool = False
) -> PostingResult:
    """Post every unposted allocation (contribution income) and every fully paid resident bill's subsidy
    (fiscal subsidy income) created before ``up_to``. Running it again posts nothing new.

    A staff member posts only the income of bills in his jurisdiction (a district fund officer his district's;
    city-level staff the whole city); the nightly run (no acting user) and a year's closing (``city_wide``: the
    year is closed for the whole pooled fund) post everything."""
    if not isinstance(up_to, datetime.datetime) or timezone.is_naive(up_to):
        raise ValidationError({"up_to": _("截至时间须为带时区的日期时间。")})
    with connection.cursor() as cur:
        advisory_xact_lock(cur, AdvisoryLock.INCOME_POSTING)
    user = recorded_user(acting_user)
    run = PostingRun.objects.create(up_to=up_to, started_by=user)
    city_id = city_office().pk
    user_id = getattr(user, "pk", None)
    scope = "/" if city_wide else _posting_scope(user)
    _insert_contribution(run, up_to=up_to, city_id=city_id, user_id=user_id, scope=scope)
    _insert_subsidy(run, up_to=up_to, city_id=city_id, user_id=user_id, scope=scope)
    _refuse_closed_years(run)
    figures = {
        row["transaction__source_type"]: row
        for row in LedgerEntry.objects.filter(transaction__posting_run=run, account=Account.BANK)
        .values("transaction__source_type")
        .annotate(n=Count("id"), total=Sum("amount"))
    }
    contribution = figures.get(SOURCE_ALLOCATION, {})
    subsidy = figures.get(SOURCE_BILL, {})
    run.contribution_transactions = contribution.get("n", 0)
    run.contribution_amount = contribution.get("total") or Decimal(0)
    run.subsidy_transactions = subsidy.get("n", 0)
    run.subsidy_amount = subsidy.get("total") or Decimal(0)
    run.finished_at = timezone.now()
    run.save()
    return PostingResult(
        run_id=run.pk,
        contribution_transactions=run.contribution_transactions,
        contribution_amount=run.contribution_amount,
        subsidy_transactions=run.subsidy_transactions,
        subsidy_amount=run.subsidy_amount,
    )
