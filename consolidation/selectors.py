"""Reads of the data consolidation, jurisdiction applied: batches by their district, conflicts by their office
(a district's own, or the city's for those reaching another district), merges by their conflict."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Count, Prefetch, Q, QuerySet, Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from consolidation.models import (
    FILE_ORDER,
    BatchStatus,
    Conflict,
    ConflictCandidate,
    ConflictKind,
    ConflictStatus,
    EmployerConflict,
    EmployerConflictStatus,
    FileKind,
    ImportBatch,
    Merge,
    Outcome,
    RejectedLine,
    StagedHistory,
    StagedPerson,
)
from consolidation.problems import problem_text
from registry.identifiers import id_number_mask
from registry.jurisdiction import scope_to_user
from registry.models import HouseholdType, Office, OfficeLevel, Person
from registry.selectors import object_history

# ---------------------------------------------------------------------------------------------
# Batches.


def batch_list(*, user: Any, status: str = "", district: Office | None = None) -> QuerySet[ImportBatch]:
    qs = scope_to_user(ImportBatch.objects.select_related("district", "created_by", "applied_by"), user)
    if status:
        qs = qs.filter(status=status)
    if district is not None:
        qs = qs.filter(district=district)
    return qs.annotate(
        open_conflicts=Count(
            "conflicts", filter=Q(conflicts__status__in=[ConflictStatus.OPEN, ConflictStatus.PROPOSED])
        )
    ).order_by("-id")


def batch_get(*, user: Any, uid: Any) -> ImportBatch:
    return batch_list(user=user).prefetch_related("files").get(uid=uid)


def batch_files(batch: ImportBatch) -> list[Any]:
    order = {kind: i for i, kind in enumerate(FILE_ORDER)}
    return sorted(batch.files.all(), key=lambda f: order.get(f.kind, 9))


@dataclass
class ProblemRow:
    kind: str
    kind_label: str
    code: str
    count: int
    amount: Decimal | None
    samples: list[str]


def batch_problems(batch: ImportBatch) -> list[ProblemRow]:
    """The bad lines by file and reason, with the first few as examples, from the stored report (the check) and
    the lines decided later (the apply, the clerks' decisions): one query."""
    rows = (
        RejectedLine.objects.filter(batch=batch)
        .values("kind", "code")
        .annotate(count=Count("id"), amount=Sum("amount"))
        .order_by("kind", "-count", "code")
    )
    labels = dict(FileKind.choices)
    samples = {(p["kind"], p["code"]): p["samples"] for p in (batch.report or {}).get("problems", [])}
    out = []
    for row in rows:
        shown = [
            _("第 %(line)s 行：%(problem)s") % {"line": line, "problem": problem_text(row["code"], detail)}
            for line, detail in samples.get((row["kind"], row["code"]), [])
        ]
        out.append(
            ProblemRow(
                row["kind"], str(labels.get(row["kind"], row["kind"])), row["code"], row["count"], row["amount"], shown
            )
        )
    return out


def district_reconciliation(*, user: Any) -> list[dict[str, Any]]:
    """Per district in the user's jurisdiction: the reconciliation of its applied batches added up."""
    districts = scope_to_user(Office.objects.filter(level=OfficeLevel.DISTRICT), user).order_by("code")
    batches = scope_to_user(ImportBatch.objects.filter(status=BatchStatus.APPLIED), user).values_list(
        "district_id", "reconciliation"
    )
    by_district: dict[int, list[dict[str, Any]]] = {}
    for district_id, reconciliation in batches:
        by_district.setdefault(district_id, []).append(reconciliation or {})
    return [{"district": d, **reconciliation_add(by_district.get(d.pk, []))} for d in districts]


def _add(target: dict[str, Any], source: dict[str, Any]) -> None:
    for key, value in source.items():
        if isinstance(value, dict):
            _add(target.setdefault(key, {}), value)
        else:
            try:
                amount = Decimal(str(value))
            except ArithmeticError:
                continue
            target[key] = target.get(key, Decimal(0)) + amount


def reconciliation_add(items: list[dict[str, Any]]) -> dict[str, Any]:
    total: dict[str, Any] = {"batches": len(items), "agrees": all(i.get("agrees") for i in items) if items else None}
    for item in items:
        for section in ("persons", "employers", "enrollments", "enrollment_months", "history"):
            _add(total.setdefault(section, {}), item.get(section, {}))
    return total


# ---------------------------------------------------------------------------------------------
# Conflicts.


def conflict_list(
    *, user: Any, status: str = "", kind: str = "", batch: ImportBatch | None = None
) -> QuerySet[Conflict]:
    qs = scope_to_user(
        Conflict.objects.select_related("office", "batch__district", "staged_person", "proposed_by"), user
    ).annotate(candidate_count=Count("candidates"))
    if status == "decided":
        qs = qs.filter(status__in=[ConflictStatus.MERGED, ConflictStatus.SEPARATE])
    elif status:
        qs = qs.filter(status=status)
    if kind:
        qs = qs.filter(kind=kind)
    if batch is not None:
        qs = qs.filter(batch=batch)
    return qs.order_by("-score", "id")


def employer_conflict_list(*, user: Any, limit: int = 50) -> list[EmployerConflict]:
    """The pairs of employers waiting for a decision (open or proposed) in the user's jurisdiction (one query)."""
    qs = scope_to_user(
        EmployerConflict.objects.select_related(
            "incoming", "incoming__office", "candidate", "candidate__office", "office", "batch__district", "proposed_by"
        ),
        user,
    ).filter(status__in=[EmployerConflictStatus.OPEN, EmployerConflictStatus.PROPOSED])
    return list(qs.order_by("-score", "id")[:limit])


def employer_conflict_get(*, user: Any, uid: Any) -> EmployerConflict:
    return scope_to_user(EmployerConflict.objects.all(), user).get(uid=uid)


def conflict_counts(*, user: Any) -> dict[str, int]:
    rows = scope_to_user(Conflict.objects.all(), user).values("status").annotate(n=Count("id"))
    return {row["status"]: row["n"] for row in rows}


def conflict_get(*, user: Any, uid: Any) -> Conflict:
    candidates = ConflictCandidate.objects.select_related("person", "person__residence_office").order_by("rank")
    return (
        scope_to_user(Conflict.objects.all(), user)
        .select_related(
            "office",
            "batch__district",
            "staged_person",
            "staged_person__office",
            "incoming_person",
            "incoming_person__residence_office",
            "proposed_by",
            "decided_by",
            "candidate",
        )
        .prefetch_related(Prefetch("candidates", queryset=candidates))
        .get(uid=uid)
    )


@dataclass
class Value:
    text: str
    raw: Any
    source: str
    date: datetime.date | None


@dataclass
class FieldRow:
    field: str
    label: str
    incoming: Value
    candidates: list[Value]
    differs: bool
    choosable: bool


@dataclass
class Side:
    """One column of the side-by-side view: what it is and where its values come from."""

    title: str
    person: Person | None
    source: str
    date: datetime.date | None
    score: int | None = None
    reasons: list[str] | None = None
    candidate: ConflictCandidate | None = None


REASONS = {
    "birth_sex": gettext_noop("出生日期、性别相同"),
    "name_same": gettext_noop("姓名相同"),
    "name_pinyin": gettext_noop("姓名同音（拼音相同）"),
    "name_similar": gettext_noop("姓名拼音相近"),
    "id_same": gettext_noop("身份证号码前 17 位相同，仅校验位不同"),
    "id_digit": gettext_noop("身份证号码仅一位数字不同"),
    "id_swap": gettext_noop("身份证号码两位相邻数字颠倒"),
    "id_missing": gettext_noop("导入记录没有身份证号码"),
    "birth_in_number": gettext_noop("出生日期不同，但差异在身份证号码的出生日期位上（可能是录入错误）"),
    "id_15": gettext_noop("其中一个号码由 15 位旧号码升位而来（无校验位，录入错误无法自行发现）"),
    "id_equal": gettext_noop("身份证号码相同"),
    "name_differs": gettext_noop("姓名不同（拼音也不同）"),
}


def _reason_labels(codes: list[str]) -> list[str]:
    return [_(REASONS.get(code, code)) for code in codes]


def _provenance(person: Person) -> tuple[str, datetime.date | None]:
    """Where a registry person's values come from: the latest batch line that created or matched it, else the
    registry itself."""
    line = (
        StagedPerson.objects.filter(person=person, outcome__in=[Outcome.CREATED, Outcome.MATCHED])
        .select_related("batch__district")
        .order_by("-batch_id")
        .first()
    )
    if line is None:
        return _("市级参保登记"), timezone.localtime(person.updated_at).date()
    batch = line.batch
    return (
        _("%(district)s · %(system)s（批次 %(batch)s）")
        % {"district": batch.district.name, "system": batch.source_system, "batch": batch.pk},
        line.value_date or timezone.localtime(batch.created_at).date(),
    )


def _id_difference(a: str, b: str) -> str:
    """Which positions of two ID numbers differ (for clerks who see masked numbers)."""
    if not a or not b or len(a) != len(b):
        return ""
    positions = [str(i + 1) for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
    if not positions:
        return _("相同")
    return _("第 %(positions)s 位不同") % {"positions": "、".join(positions)}


def _person_value(person: Person, field: str, source: str, date: datetime.date | None) -> Value:
    if field == "id_number":
        return Value(id_number_mask(person.id_number), person.id_number, source, date)
    if field == "residence_office":
        return Value(person.residence_office.name, person.residence_office_id, source, date)
    if field == "household_type":
        return Value(person.get_household_type_display(), person.household_type, source, date)
    if field == "sex":
        return Value(person.get_sex_display(), person.sex, source, date)
    raw = getattr(person, field)
    return Value(str(raw or "") if not isinstance(raw, datetime.date) else raw.isoformat(), raw, source, date)


def _staged_value(staged: StagedPerson, field: str, source: str, date: datetime.date | None) -> Value:
    if field == "id_number":
        shown = id_number_mask(staged.raw_id) if len(staged.raw_id) >= 15 else staged.raw_id
        return Value(
            shown + (" " + _("（无效）") if staged.id_kind in ("invalid", "missing") else ""),
            staged.raw_id,
            source,
            date,
        )
    if field == "residence_office":
        return Value(staged.office.name if staged.office_id else "", staged.office_id, source, date)
    if field == "household_type":
        return Value(
            str(dict(HouseholdType.choices).get(staged.household_type, "")), staged.household_type, source, date
        )
    if field == "sex":
        return Value({"M": _("男"), "F": _("女")}.get(staged.sex, ""), staged.sex, source, date)
    if field == "birth_date":
        return Value(staged.birth_date.isoformat() if staged.birth_date else "", staged.birth_date, source, date)
    raw = getattr(staged, field)
    return Value(str(raw or ""), raw, source, date)


ROWS = (
    ("id_number", gettext_noop("公民身份号码")),
    ("name", gettext_noop("姓名")),
    ("sex", gettext_noop("性别")),
    ("birth_date", gettext_noop("出生日期")),
    ("household_type", gettext_noop("户籍类型")),
    ("phone", gettext_noop("联系电话")),
    ("address", gettext_noop("地址")),
    ("residence_office", gettext_noop("所属机构")),
)


@dataclass
class ConflictView:
    conflict: Conflict
    incoming: Side
    candidates: list[Side]
    rows: list[FieldRow]
    held_months: int
    held_amount: Decimal


def conflict_view(conflict: Conflict) -> ConflictView:
    """Side by side, field by field: the incoming record (the batch's line, or the person created from it) and
    each candidate, with the source and date of every value and whether they differ."""
    staged = conflict.staged_person
    batch = conflict.batch
    in_source = _("%(district)s · %(system)s（批次 %(batch)s，第 %(line)s 行）") % {
        "district": batch.district.name,
        "system": batch.source_system,
        "batch": batch.pk,
        "line": staged.line_no,
    }
    in_date = staged.value_date or timezone.localtime(batch.created_at).date()
    incoming = Side(_("导入记录"), conflict.incoming_person, in_source, in_date)
    sides = []
    for candidate in conflict.candidates.all():
        source, date = _provenance(candidate.person)
        sides.append(
            Side(
                candidate.person.name,
                candidate.person,
                source,
                date,
                candidate.score,
                _reason_labels(candidate.reasons),
                candidate,
            )
        )
    rows = []
    for field, label in ROWS:
        if conflict.kind == ConflictKind.PAIR and conflict.incoming_person is not None:
            value = _person_value(conflict.incoming_person, field, in_source, in_date)
        else:
            value = _staged_value(staged, field, in_source, in_date)
        others = [_person_value(s.person, field, s.source, s.date) for s in sides]
        if field == "id_number":
            for other in others:
                other.text += " " + _id_difference(str(value.raw or ""), str(other.raw or ""))
        differs = any(str(o.raw or "") != str(value.raw or "") for o in others)
        choosable = field in ("name", "household_type", "phone", "address", "residence_office") or (
            field == "id_number" and conflict.kind == ConflictKind.PAIR
        )
        rows.append(FieldRow(field, _(label), value, others, differs, choosable))
    held = StagedHistory.objects.filter(staged_person=staged).aggregate(n=Count("id"), amount=Sum("amount"))
    return ConflictView(conflict, incoming, sides, rows, held["n"] or 0, held["amount"] or Decimal(0))


def conflict_merges(conflict: Conflict) -> QuerySet[Merge]:
    return (
        Merge.objects.filter(conflict=conflict)
        .select_related("proposed_by", "approved_by", "undone_by")
        .order_by("-merged_at")
    )


def conflict_history(conflict: Conflict) -> list[Any]:
    return object_history(conflict, limit=30)
