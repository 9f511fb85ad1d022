"""Reads of the payroll, narrowed to the user's jurisdiction (registry.jurisdiction)."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Prefetch, QuerySet

from cases.models import BenefitAward
from registry.jurisdiction import scope_to_user, user_office, user_sees_everything
from registry.models import Office, Person

from .models import (
    BankFile,
    BankReturnJob,
    Certification,
    CertificationReminder,
    PayrollLine,
    PayrollPosting,
    PayrollRun,
    Recovery,
    RecoveryRepayment,
    Suspension,
)
from .services.certification import certification_due_sql


def run_list(*, user: Any) -> QuerySet[PayrollRun]:
    return scope_to_user(PayrollRun.objects.select_related("started_by"), user).order_by("-period", "-pk")


def run_get(*, user: Any, uid: Any) -> PayrollRun:
    return run_list(user=user).get(uid=uid)


def run_bank_files(run: PayrollRun) -> QuerySet[BankFile]:
    return BankFile.objects.filter(run=run).order_by("sequence", "bank")


def run_postings(run: PayrollRun) -> QuerySet[PayrollPosting]:
    return PayrollPosting.objects.filter(bank_file__run=run).select_related("office", "bank_file").order_by("pk")


def bank_file_get(*, user: Any, pk: int) -> BankFile:
    return scope_to_user(BankFile.objects.select_related("run"), user).get(pk=pk)


def return_job_get(*, user: Any, uid: Any) -> BankReturnJob:
    """A return-file job for its page (without the file's bytes)."""
    return scope_to_user(BankReturnJob.objects.select_related("bank_file__run").defer("data"), user).get(uid=uid)


def run_problem_lines(*, user: Any, run: PayrollRun) -> QuerySet[PayrollLine]:
    """Lines of the run that did not reach the person: failed at the bank, or held for want of an account."""
    return (
        scope_to_user(PayrollLine.objects.filter(run=run, status__in=["failed", "held"]), user)
        .select_related("person")
        .order_by("pk")
    )


def person_payments(*, user: Any, person: Person) -> QuerySet[PayrollLine]:
    """A person's payment history (every run's line, re-issues included)."""
    return (
        scope_to_user(PayrollLine.objects.filter(person=person), user)
        .select_related("run", "award", "bank_file")
        .prefetch_related("arrears")
        .order_by("-period", "-pk")
    )


def person_get(*, user: Any, uid: Any) -> Person:
    return scope_to_user(Person.objects.select_related("residence_office"), user).get(uid=uid)


def person_by_id_number(*, user: Any, id_number: str) -> Person:
    return scope_to_user(Person.objects.all(), user).get(id_number=id_number)


def person_awards(*, person: Person) -> QuerySet[BenefitAward]:
    return BenefitAward.objects.filter(person=person).order_by("start_month")


def suspension_list(*, user: Any, open_only: bool = False) -> QuerySet[Suspension]:
    qs = scope_to_user(Suspension.objects.select_related("award__person", "office"), user)
    if open_only:
        qs = qs.filter(resumed_month__isnull=True)
    return qs.order_by("-created_at", "-pk")


def suspension_get(*, user: Any, pk: int) -> Suspension:
    return suspension_list(user=user).select_related("award__case__intake_office").get(pk=pk)


def recovery_list(*, user: Any) -> QuerySet[Recovery]:
    return scope_to_user(Recovery.objects.select_related("award__person"), user).order_by("-created_at")


def recovery_get(*, user: Any, pk: int) -> Recovery:
    """One recovery in the user's jurisdiction (else ``Recovery.DoesNotExist``), with its repayments."""
    return (
        recovery_list(user=user)
        .select_related("award__person", "office")
        .prefetch_related(
            Prefetch("repayments", queryset=RecoveryRepayment.objects.select_related("recorded_by").order_by("pk"))
        )
        .get(pk=pk)
    )


def certification_list(*, user: Any) -> QuerySet[Certification]:
    return scope_to_user(Certification.objects.select_related("person", "office"), user).order_by(
        "-certified_on", "-pk"
    )


@dataclass(frozen=True)
class DueRow:
    person_id: int
    person_uid: Any
    name: str
    id_number: str
    office: str
    due_on: datetime.date
    reminded_on: datetime.date | None
    suspended: bool


def _scope_path(user: Any, office: Office | None) -> str:
    if office is not None:
        return office.path
    if user_sees_everything(user):
        return "/"
    own = user_office(user)
    return own.path if own is not None else "/nowhere/"


def certification_due_available() -> bool:
    """Whether the due list can be computed here: it is set-based PostgreSQL SQL (``make run``'s SQLite shows none)."""
    return connection.vendor == "postgresql"


def certification_due(*, user: Any, on: datetime.date, office: Office | None = None, limit: int = 500) -> list[DueRow]:
    """Recipients of ``office`` (else the user's jurisdiction) whose certification is due by ``on`` plus the
    reminder lead, earliest first: who is due, whether reminded, whether payment is suspended for it."""
    params = {
        "month": on.replace(day=1),
        "interval": settings.PAYROLL_CERTIFICATION_MONTHS,
        "until": on + datetime.timedelta(days=settings.PAYROLL_CERTIFICATION_REMIND_DAYS),
        "path": _scope_path(user, office) + "%",
        "limit": limit,
    }
    if not certification_due_available():
        return []
    with connection.cursor() as cur:
        cur.execute(
            f"""
            WITH due AS ({certification_due_sql()})
            SELECT p.id, p.uid, p.name, p.id_number, o.name, d.due_on,
                   (SELECT MAX(r.reminded_on) FROM {CertificationReminder._meta.db_table} r
                    WHERE r.person_id = p.id AND r.due_on = d.due_on),
                   EXISTS (SELECT 1 FROM {Suspension._meta.db_table} s JOIN {BenefitAward._meta.db_table} a
                           ON a.id = s.award_id WHERE a.person_id = p.id AND s.resumed_month IS NULL
                           AND s.reason = 'certification')
            FROM due d JOIN {Person._meta.db_table} p ON p.id = d.person_id
            JOIN {Office._meta.db_table} o ON o.id = p.residence_office_id
            WHERE d.due_on <= %(until)s AND o.path LIKE %(path)s
            ORDER BY d.due_on, p.id LIMIT %(limit)s
            """,
            params,
        )
        return [DueRow(*row) for row in cur.fetchall()]
