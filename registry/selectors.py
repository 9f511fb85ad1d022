"""Reads of the registry, jurisdiction applied. Other apps use these, not the models' managers."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet

from .identifiers import id_number_normalize
from .jurisdiction import scope_to_user
from .models import Employer, Enrollment, Office, Person


def office_subtree(office: Office) -> QuerySet[Office]:
    """The office and everything under it: one indexed prefix query on the materialized path."""
    return Office.objects.filter(path__startswith=office.path)


def office_districts() -> QuerySet[Office]:
    return Office.objects.filter(level=2).order_by("code")


def office_choices_for(user: Any) -> QuerySet[Office]:
    return scope_to_user(Office.objects.filter(is_active=True), user).order_by("path")


def person_list(*, user: Any, query: str = "") -> QuerySet[Person]:
    """Persons in the user's jurisdiction matching an ID number, a name or a pinyin/initials prefix."""
    qs = scope_to_user(Person.objects.select_related("residence_office"), user)
    query = (query or "").strip()
    if not query:
        return qs.order_by("-id")
    compact = query.replace(" ", "")
    if compact[:17].isdigit() and len(compact) in (15, 18):
        try:
            return qs.filter(id_number=id_number_normalize(compact))
        except ValidationError:
            return qs.none()
    if compact.isascii() and compact.isalpha():
        prefix = compact.lower()
        return qs.filter(Q(name_pinyin__startswith=prefix) | Q(name_initials__startswith=prefix)).order_by(
            "name_pinyin", "id"
        )
    return qs.filter(name__startswith=compact).order_by("name", "id")


def person_get(*, user: Any, uid: Any) -> Person:
    """One person by opaque id; Person.DoesNotExist when absent or out of jurisdiction (404 for callers)."""
    return person_list(user=user).get(uid=uid)


def person_find_by_id_number(*, user: Any, id_number: str) -> Person | None:
    number = id_number_normalize(id_number)
    return scope_to_user(Person.objects.select_related("residence_office"), user).filter(id_number=number).first()


def employer_list(*, user: Any, query: str = "") -> QuerySet[Employer]:
    qs = scope_to_user(Employer.objects.select_related("office"), user)
    query = (query or "").strip()
    if query:
        if query.isascii() and query.isalnum() and len(query) == 18:
            return qs.filter(credit_code=query.upper())
        if query.isascii() and query.isalpha():
            return qs.filter(name_pinyin__startswith=query.lower())
        return qs.filter(name__contains=query)
    return qs.order_by("name")


def enrollment_list(*, user: Any) -> QuerySet[Enrollment]:
    return scope_to_user(Enrollment.objects.select_related("person", "employer", "office"), user).order_by(
        "person_id", "insurance_type", "start_date"
    )


def enrollments_for_person(*, user: Any, person: Person) -> QuerySet[Enrollment]:
    return enrollment_list(user=user).filter(person=person)


def enrollment_overlapping(
    *,
    person_id: int,
    insurance_type: str,
    start_date: datetime.date,
    end_date: datetime.date | None,
    exclude_pk: int | None = None,
) -> bool:
    """Whether another enrollment of this person and type overlaps [start_date, end_date] (inclusive)."""
    qs = Enrollment.objects.filter(person_id=person_id, insurance_type=insurance_type)
    if exclude_pk:
        qs = qs.exclude(pk=exclude_pk)
    qs = qs.filter(Q(end_date__isnull=True) | Q(end_date__gte=start_date))
    if end_date is not None:
        qs = qs.filter(start_date__lte=end_date)
    return qs.exists()


def enrollments_active_in(*, start: datetime.date, end: datetime.date) -> QuerySet[Enrollment]:
    """Enrollments covering at least one day of [start, end] (no jurisdiction: for batch jobs)."""
    return Enrollment.objects.filter(start_date__lte=end).filter(Q(end_date__isnull=True) | Q(end_date__gte=start))


@dataclass(frozen=True)
class HistoryChange:
    field: str
    label: str
    old: Any
    new: Any


@dataclass(frozen=True)
class HistoryEntry:
    when: datetime.datetime
    kind: str  # "+", "~", "-"
    kind_label: str
    user: str
    office: str
    reason: str
    changes: list[HistoryChange]


_KIND_LABELS = {"+": "创建", "~": "修改", "-": "删除"}
_HIDDEN_FIELDS = {"updated_at", "created_at", "name_pinyin", "name_initials"}


def _display(field: Any, value: Any) -> Any:
    """A history value as a clerk reads it: the related record's name, the choice's label."""
    if value is None or value == "":
        return value
    if getattr(field, "choices", None):
        return dict(field.flatchoices).get(value, value)
    if field.is_relation:
        return str(value) if not isinstance(value, int) else value
    return value


def object_history(obj: Any, *, limit: int = 100) -> list[HistoryEntry]:
    """Who changed what, when and from which office, newest first, with field-level differences.

    Works for every model carrying ``history = audit_history()``.
    """
    records = list(
        obj.history.select_related("history_user", "history_office").order_by("-history_date", "-history_id")[
            : limit + 1
        ]
    )
    model = type(obj)
    entries: list[HistoryEntry] = []
    for index, record in enumerate(records[:limit]):
        previous = records[index + 1] if index + 1 < len(records) else None
        changes: list[HistoryChange] = []
        if previous is not None and record.history_type == "~":
            delta = record.diff_against(previous, foreign_keys_are_objs=True)
            for change in delta.changes:
                if change.field in _HIDDEN_FIELDS:
                    continue
                field = model._meta.get_field(change.field)
                label = str(field.verbose_name)
                old, new = _display(field, change.old), _display(field, change.new)
                if change.field == "id_number":
                    from .identifiers import id_number_mask

                    old, new = id_number_mask(old or ""), id_number_mask(new or "")
                changes.append(HistoryChange(change.field, label, old, new))
        user = record.history_user
        entries.append(
            HistoryEntry(
                when=record.history_date,
                kind=record.history_type,
                kind_label=_KIND_LABELS.get(record.history_type, record.history_type),
                user=(user.get_full_name() or user.username) if user else "系统",
                office=record.history_office.name if record.history_office_id and record.history_office else "",
                reason=record.history_change_reason or "",
                changes=changes,
            )
        )
    return entries
