"""Resident pension and medical, land-expropriated farmers' security: personal yearly/one-off bills.

The person pays the individual amount; the government subsidy (and the collective's share for
land-expropriated farmers) is recorded beside it on the bill, split city/district by the rule in force.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import BooleanField, F, Q
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.translation import gettext as _

from contributions.models import (
    BaseSource,
    Bill,
    BillKind,
    BillLine,
    BillRunStatus,
    BillTotal,
    ResidentMedicalRun,
    ResidentPensionChoice,
)
from contributions.services.adjustments import _issue
from contributions.services.bill_run import _sql_dialect, bill_due_date
from policies import codes
from policies.selectors import parameter_value, parameter_values, rounding_rule
from registry.audit import recorded_user
from registry.db_functions import office_district_code_sql
from registry.feed.changes import change_events_record
from registry.jurisdiction import office_in_jurisdiction
from registry.models import Enrollment, InsuranceType, Office, OfficeLevel, Person
from registry.task_queue import task_enqueue_on_commit

# Table names for the raw SQL below, from the models (never written by hand).
_BILL = Bill._meta.db_table
_BILL_LINE = BillLine._meta.db_table
_BILL_TOTAL = BillTotal._meta.db_table
_ENROLLMENT = Enrollment._meta.db_table
_OFFICE = Office._meta.db_table
_PERSON = Person._meta.db_table


def _active_enrollment(person: Person, insurance: str, start: datetime.date, end: datetime.date) -> Enrollment | None:
    return (
        Enrollment.objects.filter(person=person, insurance_type=insurance, start_date__lte=end)
        .filter(Q(end_date__isnull=True) | Q(end_date__gte=start))
        .first()
    )


def _personal_bill(
    *,
    person: Person,
    kind: str,
    period: int,
    insurance: str,
    amount: Decimal,
    subsidy_city: Decimal,
    subsidy_district: Decimal,
    subsidy_other: Decimal,
    details: dict,
    acting_user: Any,
) -> Bill:
    bill = Bill(
        kind=kind,
        period=period,
        person=person,
        office=person.residence_office,
        subsidy_city=subsidy_city,
        subsidy_district=subsidy_district,
        subsidy_other=subsidy_other,
        details=details,
        due_date=bill_due_date(period=(period // 100) * 100 + 12, office=person.residence_office),
        issued_by=recorded_user(acting_user),
    )
    line = BillLine(
        person=person,
        insurance_type=insurance,
        period=period,
        base=amount,
        base_source=BaseSource.FIXED,
        employer_rate=Decimal(0),
        individual_rate=Decimal(0),
        employer_amount=Decimal(0),
        individual_amount=amount,
    )
    try:
        with transaction.atomic():
            return _issue(bill, [line])
    except IntegrityError:
        raise ValidationError({"period": _("该人员本期的此类缴费账单已经生成。")}) from None


def _split(subsidy: Decimal, city_share: Decimal, rule) -> tuple[Decimal, Decimal]:
    city = rule.apply(subsidy * city_share)
    return city, subsidy - city


@transaction.atomic
def resident_pension_contribute(*, person: Person, year: int, grade: int, acting_user: Any) -> Bill:
    """A resident chooses a grade for the year: the bill is the grade amount, the grade's subsidy beside it."""
    if not office_in_jurisdiction(acting_user, person.residence_office):
        raise Person.DoesNotExist
    jan1, dec31 = datetime.date(year, 1, 1), datetime.date(year, 12, 31)
    if _active_enrollment(person, InsuranceType.RESIDENT_PENSION, jan1, dec31) is None:
        raise ValidationError(
            {"person": _("%(name)s 在 %(year)s 年未参加城乡居民基本养老保险。") % {"name": person.name, "year": year}}
        )
    values = parameter_values(
        [codes.RES_PENSION_GRADES, codes.RES_PENSION_SUBSIDY_CITY_SHARE], on=jan1, office=person.residence_office
    )
    grades = {int(g["grade"]): g for g in values[codes.RES_PENSION_GRADES].value}
    if grade not in grades:
        raise ValidationError(
            {
                "grade": _("缴费档次 %(grade)s 不存在；%(year)s 年可选 %(grades)s 档。")
                % {"grade": grade, "year": year, "grades": "、".join(str(g) for g in sorted(grades))}
            }
        )
    chosen = grades[grade]
    rule = rounding_rule(on=jan1)
    city, district = _split(Decimal(chosen["subsidy"]), values[codes.RES_PENSION_SUBSIDY_CITY_SHARE].value, rule)
    _choice, _created = ResidentPensionChoice.objects.update_or_create(
        person=person, year=year, defaults={"grade": grade}
    )
    return _personal_bill(
        person=person,
        kind=BillKind.RES_PENSION,
        period=year * 100 + 1,
        insurance=InsuranceType.RESIDENT_PENSION,
        amount=Decimal(chosen["amount"]),
        subsidy_city=city,
        subsidy_district=district,
        subsidy_other=Decimal(0),
        details={"grade": grade, "grades_value_id": values[codes.RES_PENSION_GRADES].value_id},
        acting_user=acting_user,
    )


@transaction.atomic
def resident_medical_contribute(*, person: Person, year: int, acting_user: Any) -> Bill:
    """The yearly individual contribution; the fiscal subsidy per person recorded beside it, split city/district."""
    if not office_in_jurisdiction(acting_user, person.residence_office):
        raise Person.DoesNotExist
    jan1, dec31 = datetime.date(year, 1, 1), datetime.date(year, 12, 31)
    if _active_enrollment(person, InsuranceType.RESIDENT_MEDICAL, jan1, dec31) is None:
        raise ValidationError(
            {"person": _("%(name)s 在 %(year)s 年未参加城乡居民基本医疗保险。") % {"name": person.name, "year": year}}
        )
    values = parameter_values(
        [codes.RES_MEDICAL_INDIVIDUAL, codes.RES_MEDICAL_SUBSIDY, codes.RES_MEDICAL_SUBSIDY_CITY_SHARE],
        on=jan1,
        office=person.residence_office,
    )
    rule = rounding_rule(on=jan1)
    city, district = _split(
        values[codes.RES_MEDICAL_SUBSIDY].value, values[codes.RES_MEDICAL_SUBSIDY_CITY_SHARE].value, rule
    )
    return _personal_bill(
        person=person,
        kind=BillKind.RES_MEDICAL,
        period=year * 100 + 1,
        insurance=InsuranceType.RESIDENT_MEDICAL,
        amount=values[codes.RES_MEDICAL_INDIVIDUAL].value,
        subsidy_city=city,
        subsidy_district=district,
        subsidy_other=Decimal(0),
        details={code: v.value_id for code, v in values.items()},
        acting_user=acting_user,
    )


@transaction.atomic
def land_farmer_contribute(*, person: Person, acting_user: Any) -> Bill:
    """被征地农民: the one-off funding per person split into government, collective and individual shares."""
    if not office_in_jurisdiction(acting_user, person.residence_office):
        raise Person.DoesNotExist
    enrollment = (
        Enrollment.objects.filter(person=person, insurance_type=InsuranceType.LAND_FARMER)
        .order_by("start_date")
        .first()
    )
    if enrollment is None:
        raise ValidationError({"person": _("%(name)s 未登记被征地农民基本生活保障。") % {"name": person.name}})
    on = enrollment.start_date
    values = parameter_values(
        [codes.LAND_FARMER_FUNDING_PER_PERSON, codes.LAND_FARMER_SHARES], on=on, office=person.residence_office
    )
    funding = values[codes.LAND_FARMER_FUNDING_PER_PERSON].value
    shares = {k: Decimal(v) for k, v in values[codes.LAND_FARMER_SHARES].value.items()}
    rule = rounding_rule(on=on)
    government = rule.apply(funding * shares.get("government", Decimal(0)))
    collective = rule.apply(funding * shares.get("collective", Decimal(0)))
    individual = funding - government - collective
    city_share = parameter_value(codes.RES_PENSION_SUBSIDY_CITY_SHARE, on=on, office=person.residence_office).value
    city, district = _split(government, city_share, rule)
    return _personal_bill(
        person=person,
        kind=BillKind.LAND_FARMER,
        period=on.year * 100 + on.month,
        insurance=InsuranceType.LAND_FARMER,
        amount=individual,
        subsidy_city=city,
        subsidy_district=district,
        subsidy_other=collective,
        details={code: v.value_id for code, v in values.items()},
        acting_user=acting_user,
    )


@transaction.atomic
def resident_medical_bill_run(*, year: int, office: Any, acting_user: Any) -> int:
    """Yearly resident medical bills for every person under ``office`` enrolled at some time in ``year``,
    in set-based SQL (one INSERT … SELECT per table). Persons already billed for the year are skipped.
    Returns the number of bills issued."""

    if not office_in_jurisdiction(acting_user, office):
        raise ValidationError({"office": _("范围不在您的辖区内。")})
    jan1, dec31 = datetime.date(year, 1, 1), datetime.date(year, 12, 31)
    period = year * 100 + 1
    cte, params = _resident_medical_standards_cte(jan1)
    d = _sql_dialect()
    due = bill_due_date(period=year * 100 + 12, office=office)
    now = timezone.now()
    with connection.cursor() as cur:
        cur.execute(
            f"""
            INSERT INTO {_BILL} (uid, kind, period, employer_id, person_id, office_id, bill_run_id,
                corrects_id, reason, total_employer, total_individual, total, subsidy_city, subsidy_district,
                subsidy_other, details, due_date, issued_at, issued_by_id)
            WITH {cte}
            SELECT {d["uuid"]}, %s, %s, NULL, p.id, p.residence_office_id, NULL, NULL, '', 0, s.amount, s.amount,
                   s.city, s.dist, 0, {d["json"]}, %s, %s, %s
            FROM {_PERSON} p
            JOIN {_OFFICE} o ON o.id = p.residence_office_id
            JOIN std s ON s.district = {office_district_code_sql("o.path")}
            WHERE o.path LIKE %s
              AND EXISTS (SELECT 1 FROM {_ENROLLMENT} e WHERE e.person_id = p.id AND e.insurance_type = %s
                          AND e.start_date <= %s AND (e.end_date IS NULL OR e.end_date >= %s))
              AND NOT EXISTS (SELECT 1 FROM {_BILL} b WHERE b.person_id = p.id AND b.period = %s
                              AND b.kind = %s)
            """,
            [
                *params,
                BillKind.RES_MEDICAL,
                period,
                due,
                now,
                getattr(acting_user, "pk", None),
                office.path + "%",
                InsuranceType.RESIDENT_MEDICAL,
                dec31,
                jan1,
                period,
                BillKind.RES_MEDICAL,
            ],
        )
        issued = cur.rowcount
        _resident_medical_lines_insert(cur, period=period, issued_at=now)
    # One change-feed event per bill issued here, in this transaction (raw inserts send no signals).
    # issued_at compared in raw SQL, with the parameter bound exactly as in the INSERT above (SQLite stores the
    # raw-bound datetime differently from an ORM-bound one).
    issued_here = RawSQL(f"{_BILL}.issued_at = %s", [now], output_field=BooleanField())  # noqa: S611 (a model's table)
    change_events_record(
        change_type="bill", queryset=Bill.objects.filter(issued_here, kind=BillKind.RES_MEDICAL, period=period)
    )
    return issued


def _resident_medical_standards_cte(jan1: datetime.date) -> tuple[str, list[str]]:
    """``std(district, amount, city, dist)``: the individual contribution and the subsidy's city and district
    parts in force on ``jan1``, per district ('' for the city-wide value), as a VALUES list with its params."""
    districts = [""] + list(Office.objects.filter(level=OfficeLevel.DISTRICT).values_list("code", flat=True))
    rule = rounding_rule(on=jan1)
    rows = []
    for code in districts:
        values = parameter_values(
            [codes.RES_MEDICAL_INDIVIDUAL, codes.RES_MEDICAL_SUBSIDY, codes.RES_MEDICAL_SUBSIDY_CITY_SHARE],
            on=jan1,
            district_code=code or None,
        )
        city, district = _split(
            values[codes.RES_MEDICAL_SUBSIDY].value, values[codes.RES_MEDICAL_SUBSIDY_CITY_SHARE].value, rule
        )
        rows.append((code, str(values[codes.RES_MEDICAL_INDIVIDUAL].value), str(city), str(district)))
    cte = (
        "std(district, amount, city, dist) AS (VALUES "
        + ", ".join(["(%s, CAST(%s AS NUMERIC), CAST(%s AS NUMERIC), CAST(%s AS NUMERIC))"] * len(rows))
        + ")"
    )
    return cte, [v for row in rows for v in row]


def _resident_medical_lines_insert(cur, *, period: int, issued_at: datetime.datetime) -> None:
    """The one line and the one total of each resident medical bill issued at ``issued_at``."""
    cur.execute(
        f"""
        INSERT INTO {_BILL_LINE} (bill_id, person_id, insurance_type, period, base, base_source,
            employer_rate, individual_rate, employer_amount, individual_amount)
        SELECT b.id, b.person_id, %s, b.period, b.total, %s, 0, 0, 0, b.total
        FROM {_BILL} b
        WHERE b.kind = %s AND b.period = %s AND b.issued_at = %s
        """,
        [InsuranceType.RESIDENT_MEDICAL, BaseSource.FIXED, BillKind.RES_MEDICAL, period, issued_at],
    )
    cur.execute(
        f"""
        INSERT INTO {_BILL_TOTAL} (bill_id, insurance_type, employer_amount, individual_amount, amount)
        SELECT b.id, %s, 0, b.total, b.total FROM {_BILL} b
        WHERE b.kind = %s AND b.period = %s AND b.issued_at = %s
        """,
        [InsuranceType.RESIDENT_MEDICAL, BillKind.RES_MEDICAL, period, issued_at],
    )


# ---------------------------------------------------------------------------------------------
# The yearly resident medical run started from a page.


def resident_medical_run_start(*, year: Any, office: Office, acting_user: Any) -> ResidentMedicalRun:
    """Queue the year's resident medical bills for ``office``'s area (a worker runs it after the commit). Refused
    outside the user's jurisdiction, for a year without the parameters, and while a run of the year is active."""
    try:
        year = int(str(year).strip())
    except ValueError:
        raise ValidationError({"year": _("缴费年度应为四位数字，如 2026。")}) from None
    if not 2000 <= year <= timezone.localdate().year + 1:
        raise ValidationError({"year": _("缴费年度应在 2000 年至明年之间。")})
    if not office_in_jurisdiction(acting_user, office):
        raise ValidationError({"office": _("范围不在您的辖区内。")})
    # Resolve now so a missing parameter is told to the clerk, not found later in a worker.
    parameter_values(
        [codes.RES_MEDICAL_INDIVIDUAL, codes.RES_MEDICAL_SUBSIDY, codes.RES_MEDICAL_SUBSIDY_CITY_SHARE],
        on=datetime.date(year, 1, 1),
        office=office,
    )
    run = ResidentMedicalRun(year=year, office=office, started_by=recorded_user(acting_user))
    run.full_clean(validate_constraints=False)
    try:
        with transaction.atomic():
            run.save()
    except IntegrityError:
        raise ValidationError(
            {"year": _("%(year)s 年度的居民医保核定正在进行，请等待其完成。") % {"year": year}}
        ) from None
    task_enqueue_on_commit("contributions.resident_medical_run_execute", run.pk)
    return run


def _run_parts(office: Office) -> list[Office]:
    """The townships under ``office`` (each one transaction), then the office itself for persons attached to it."""
    parts = list(Office.objects.filter(path__startswith=office.path, level=OfficeLevel.TOWNSHIP).order_by("path"))
    return [p for p in parts if p.pk != office.pk] + [office]


def resident_medical_run_execute(*, run_id: int) -> ResidentMedicalRun:
    """Bill the run's area township by township, each in its own transaction, counting progress. Idempotent: a
    person already billed for the year is skipped, so a retried or resumed run bills nobody twice."""
    with transaction.atomic():
        run = (
            ResidentMedicalRun.objects.select_for_update(of=("self",))
            .select_related("office", "started_by")
            .get(pk=run_id)
        )
        if run.status in (BillRunStatus.DONE, BillRunStatus.FAILED):
            return run
        parts = _run_parts(run.office)
        run.status, run.total, run.done = BillRunStatus.RUNNING, len(parts), 0
        run.started_at = run.started_at or timezone.now()
        run.save(update_fields=["status", "total", "done", "started_at"])
    for part in parts:
        try:
            issued = resident_medical_bill_run(year=run.year, office=part, acting_user=run.started_by)
        except Exception as exc:
            ResidentMedicalRun.objects.filter(pk=run.pk).update(
                status=BillRunStatus.FAILED, error=str(exc)[:2000], finished_at=timezone.now()
            )
            raise
        ResidentMedicalRun.objects.filter(pk=run.pk).update(
            done=F("done") + 1, bills_created=F("bills_created") + issued
        )
    ResidentMedicalRun.objects.filter(pk=run.pk).update(status=BillRunStatus.DONE, finished_at=timezone.now())
    run.refresh_from_db()
    return run
