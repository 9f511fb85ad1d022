"""Reads of the registry, jurisdiction applied. Other apps use these, not the models' managers."""

from __future__ import annotations

import datetime
import functools
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import Permission
from django.core.exceptions import ValidationError
from django.db import connections
from django.db.models import Q, QuerySet
from django.db.models.functions import Coalesce, Left
from django.db.models.lookups import GreaterThanOrEqual, LessThan

from registry.db_functions import ByteOrder
from registry.identifiers import id_number_mask, id_number_normalize
from registry.jurisdiction import scope_to_user
from registry.models import ApiKey, Employer, Enrollment, Office, Person, SystemAccount, User


def office_subtree(office: Office) -> QuerySet[Office]:
    """The office and everything under it: one indexed prefix query on the materialized path."""
    return Office.objects.filter(path__startswith=office.path)


def office_districts() -> QuerySet[Office]:
    return Office.objects.filter(level=2).order_by("code")


def office_choices_for(user: Any) -> QuerySet[Office]:
    return scope_to_user(Office.objects.filter(is_active=True), user).order_by("path")


def person_list(*, user: Any, query: str = "") -> QuerySet[Person]:
    """Persons in the user's jurisdiction matching an ID number, a name or a pinyin/initials prefix.

    Ordered for display: by id (newest first) without a query, by name for a name, by full pinyin and id
    for a pinyin or initials prefix. A prefix search comes back as a ``PrefixSearchQuerySet``: slice,
    count or iterate it, but do not filter it further (use ``person_matching`` for that).
    """
    qs = scope_to_user(Person.objects.select_related("residence_office"), user)
    prefix = _pinyin_prefix(query)
    if prefix:
        return _pinyin_prefix_search(qs, prefix)
    return _person_match(qs, query)


def person_matching(*, user: Any, query: str) -> QuerySet[Person]:
    """The persons ``person_list`` finds for ``query``, as a plain queryset to filter or combine further."""
    qs = scope_to_user(Person.objects.all(), user)
    prefix = _pinyin_prefix(query)
    if prefix:
        return qs.filter(person_pinyin_filter(prefix))
    return _person_match(qs, query)


def person_pinyin_filter(prefix: str) -> Q:
    """Persons whose full pinyin or whose initials start with ``prefix`` (lower-case), as one filter.

    Each half is a range on a byte-ordered index (``person_pinyin_key``, ``person_initials_key``). For
    callers that page in another order (the API pages by id); ``person_list`` orders by pinyin faster.
    """
    upper = _after(prefix)
    return Q(GreaterThanOrEqual(ByteOrder("name_pinyin"), prefix), LessThan(ByteOrder("name_pinyin"), upper)) | Q(
        GreaterThanOrEqual(ByteOrder("name_initials"), prefix), LessThan(ByteOrder("name_initials"), upper)
    )


def _pinyin_prefix(query: str) -> str:
    """The lower-case prefix when ``query`` is a pinyin or initials prefix (ASCII letters, spaces ignored)."""
    compact = (query or "").replace(" ", "")
    return compact.lower() if compact.isascii() and compact.isalpha() else ""


def _person_match(qs: QuerySet[Person], query: str) -> QuerySet[Person]:
    """Everything, an ID number (15 or 18 characters, normalised) or a name prefix: not a pinyin prefix.

    Tombstones (merged persons) are left out; a tombstone's ID number finds its survivor."""
    query = (query or "").strip()
    if not query:
        return qs.filter(merged_into__isnull=True).order_by("-id")
    compact = query.replace(" ", "")
    if compact[:17].isdigit() and len(compact) in (15, 18):
        try:
            number = id_number_normalize(compact)
        except ValidationError:
            return qs.none()
        # The person holding the number, or its survivor when it is a tombstone: one small indexed look-up
        # whose ids then meet the primary key (an OR of the two conditions made PostgreSQL scan the table).
        holder = Person.objects.filter(id_number=number).values(survivor=Coalesce("merged_into", "id"))
        return qs.filter(pk__in=holder)
    return qs.filter(name__startswith=compact, merged_into__isnull=True).order_by("name", "id")


def _after(prefix: str) -> str:
    """The smallest string above every string starting with ``prefix``, in byte order."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


class PrefixSearchQuerySet(QuerySet):
    """A UNION ALL of ordered parts (see ``_pinyin_prefix_search``) that hands a slice down to every part.

    ``qs[a:b]`` runs every part as ``ORDER BY pinyin, id LIMIT b``: with its own ORDER BY and LIMIT each
    part is an ordered index scan that stops early, and the outer ORDER BY merges them. (PostgreSQL plans
    the parts of a UNION under an outer ORDER BY for full retrieval: without this it fetches and sorts
    every match.) Unsliced — iteration, ``count()`` — the parts run unordered and whole.
    """

    part_ordering: tuple[str, ...] = ()

    def _clone(self):
        clone = super()._clone()
        clone.part_ordering = self.part_ordering
        return clone

    def __getitem__(self, k):
        if isinstance(k, int) and self._result_cache is None and k >= 0:
            rows = list(self[k : k + 1])
            if not rows:
                raise IndexError("list index out of range")  # as for any queryset
            return rows[0]
        result = super().__getitem__(k)
        if (
            isinstance(result, QuerySet)
            and result.query.high_mark is not None
            and connections[result.db].features.supports_slicing_ordering_in_compound  # not SQLite
        ):
            for part in result.query.combined_queries:  # clones, made by the slicing above
                part.clear_ordering(force=True)
                part.add_ordering(*self.part_ordering)
                part.set_limits(high=result.query.high_mark)
        return result


_PREFIX_ORDER = ("pinyin_key", "id")


def _pinyin_prefix_search(qs: QuerySet[Person], prefix: str) -> QuerySet[Person]:
    """Full pinyin or initials starting with ``prefix``, ordered by full pinyin and id.

    One ``WHERE pinyin LIKE … OR initials LIKE …`` makes PostgreSQL fetch and sort every match (thousands
    for ``wangj``) before it returns the first page. Instead the matches are split into disjoint parts that
    each come out of an index already in (pinyin, id) order, merged by a UNION ALL that stops after the
    page (``PrefixSearchQuerySet``):

    - full pinyin starts with the prefix and the initials do not: index ``person_pinyin_key``;
    - initials start with a two-letter prefix: index ``person_initials2_key`` (first two initials, pinyin);
    - initials equal a longer prefix: index ``person_initials_key`` (initials, pinyin); initials only
      starting with it (names of more characters than letters typed: few) are sorted.

    A one-letter prefix needs no initials part (the first initial is the first letter of the pinyin, both
    being derived together by registry.names.name_pinyin): one plain ordered query.
    """
    upper = _after(prefix)
    keyed = (
        qs.filter(merged_into__isnull=True)
        .annotate(pinyin_key=ByteOrder("name_pinyin"))
        .alias(initials_key=ByteOrder("name_initials"))
    )
    by_pinyin = keyed.filter(pinyin_key__gte=prefix, pinyin_key__lt=upper)
    if len(prefix) == 1:
        return by_pinyin.order_by(*_PREFIX_ORDER)
    by_pinyin = by_pinyin.filter(Q(initials_key__lt=prefix) | Q(initials_key__gte=upper))
    if len(prefix) == 2:
        by_initials = [keyed.alias(initials_2=Left("name_initials", 2)).filter(initials_2=prefix)]
    else:
        by_initials = [
            keyed.filter(initials_key=prefix),
            keyed.filter(initials_key__gt=prefix, initials_key__lt=upper),
        ]
    merged = by_pinyin.union(*by_initials, all=True).order_by(*_PREFIX_ORDER)
    search = PrefixSearchQuerySet(model=Person, query=merged.query, using=merged._db, hints=merged._hints)
    search.part_ordering = _PREFIX_ORDER
    return search


def person_get(*, user: Any, uid: Any) -> Person:
    """One person by opaque id; Person.DoesNotExist when absent or out of jurisdiction (404 for callers).

    A tombstone's id gives its survivor (the record to show, with the tombstone's history: see
    ``person_identity_ids``) when the survivor is in the user's jurisdiction too."""
    person = scope_to_user(Person.objects.select_related("residence_office"), user).get(uid=uid)
    if person.merged_into_id is None:
        return person
    return scope_to_user(Person.objects.select_related("residence_office"), user).get(pk=person.merged_into_id)


def person_identity_ids(person: Person | int) -> list[int]:
    """The person's id and the ids of the tombstones merged into it (one query; a tombstone's own id alone).

    Everything recorded under a tombstone (bills, payments, cases, migrated history) belongs to the survivor's
    record: readers of a person's history filter by these ids."""
    pk = person if isinstance(person, int) else person.pk
    return [pk, *Person.objects.filter(merged_into_id=pk).order_by("id").values_list("id", flat=True)]


def person_identity(person: Person | int) -> QuerySet[Person]:
    """``person_identity_ids`` as a subquery (``values("pk")``), for readers that stay one statement:
    ``filter(person_id__in=person_identity(p))``."""
    pk = person if isinstance(person, int) else person.pk
    return Person.objects.filter(Q(pk=pk) | Q(merged_into_id=pk)).values("pk")


def person_tombstones(person: Person) -> QuerySet[Person]:
    """The persons merged into ``person``, oldest merge first."""
    return Person.objects.filter(merged_into=person).select_related("residence_office").order_by("merged_at", "id")


def person_find_by_id_number(*, user: Any, id_number: str, columns: tuple[str, ...] = ()) -> Person | None:
    """The person with this number in the user's jurisdiction, or None. ``columns``: load only these (the
    residence office then is not joined)."""
    number = id_number_normalize(id_number)
    persons = Person.objects.only(*columns) if columns else Person.objects.select_related("residence_office")
    # The number is unique: no ORDER BY (``first()`` would add one).
    return next(iter(scope_to_user(persons, user).filter(id_number=number)[:1]), None)


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
    """The person's enrollments and those left with the tombstones merged into it (closed ones stay there)."""
    return enrollment_list(user=user).filter(person_id__in=person_identity_ids(person))


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


def enrollment_status_by_id_number(
    *, user: Any, id_number: str, on: datetime.date
) -> tuple[Person, list[Enrollment]] | None:
    """A person (by 公民身份号码, within the user's jurisdiction) and the enrollments within it active on ``on``.

    Two indexed queries: the person by the unique number, then the person's enrollments.
    """
    # Only the columns the status body shows: this is the busiest call of the exchange API, and building and
    # filling whole rows (the person's office included) was about a tenth of its time in process.
    person = person_find_by_id_number(user=user, id_number=id_number, columns=("id", "uid", "name", "id_number"))
    if person is None:
        return None
    active = (
        scope_to_user(Enrollment.objects.all(), user)
        .filter(person=person, start_date__lte=on)
        .filter(Q(end_date__isnull=True) | Q(end_date__gte=on))
        .select_related("employer")
        .only(*_STATUS_ENROLLMENT_FIELDS)
        .order_by("insurance_type", "start_date")
    )
    return person, list(active)


_STATUS_ENROLLMENT_FIELDS = (
    "uid",
    "person_id",
    "insurance_type",
    "is_flexible",
    "start_date",
    "end_date",
    "employer__uid",
    "employer__name",
)


def _columns(model: type, alias: str) -> tuple[list[str], list[str]]:
    fields = model._meta.concrete_fields
    return [f'{alias}."{f.column}"' for f in fields], [f.attname for f in fields]


@functools.cache
def _api_key_sql() -> tuple[str, list[list[str]]]:
    """The statement of ``api_key_with_caller`` and the attnames of each model's columns, in select order.

    Built from the models' metadata (not written out), so a new column cannot be forgotten."""

    parts = [(ApiKey, "k"), (SystemAccount, "a"), (User, "u"), (Office, "o")]
    select: list[str] = []
    names: list[list[str]] = []
    for model, alias in parts:
        columns, attnames = _columns(model, alias)
        select += columns
        names.append(attnames)
    user_perms = User.user_permissions.through._meta
    user_groups = User.groups.through._meta
    group_perms = Permission.group_set.through._meta
    perms = (
        f"ARRAY(SELECT ct.app_label || '.' || p.codename FROM {Permission._meta.db_table} p "
        "JOIN django_content_type ct ON ct.id = p.content_type_id "
        f"WHERE p.id IN (SELECT up.permission_id FROM {user_perms.db_table} up WHERE up.user_id = u.id "
        f"UNION ALL SELECT gp.permission_id FROM {group_perms.db_table} gp "
        f"JOIN {user_groups.db_table} ug ON ug.group_id = gp.group_id WHERE ug.user_id = u.id))"
    )
    sql = (
        f"SELECT {', '.join(select)}, {perms} "
        f"FROM {ApiKey._meta.db_table} k "
        f"JOIN {SystemAccount._meta.db_table} a ON a.id = k.account_id "
        f"JOIN {User._meta.db_table} u ON u.id = a.user_id "
        f"LEFT JOIN {Office._meta.db_table} o ON o.id = u.office_id "
        "WHERE k.prefix = %s"
    )
    return sql, names


def api_key_with_caller(*, prefix: str) -> Any:
    """The ApiKey with this prefix, its account, the account's user (permissions loaded) and office: one query.

    Every API-key call starts here, so it is one statement written once per process instead of an ORM
    query with ``select_related`` plus two permission queries per call. The user's ``_perm_cache`` is
    filled the way ``ModelBackend`` fills it (user and group permissions; not for superusers, for whom
    Django answers every permission itself). None when no key has this prefix. On SQLite (the embedded
    database for trying the system) the ORM does it the ordinary way.
    """

    connection = connections[ApiKey.objects.db]
    if connection.vendor != "postgresql":
        return ApiKey.objects.select_related("account__user__office").filter(prefix=prefix).first()
    sql, names = _api_key_sql()
    with connection.cursor() as cursor:
        cursor.execute(sql, [prefix])
        row = cursor.fetchone()
    if row is None:
        return None
    values = list(row)
    built = []
    for model, attnames in zip((ApiKey, SystemAccount, User, Office), names, strict=True):
        chunk, values = values[: len(attnames)], values[len(attnames) :]
        built.append(None if chunk[0] is None else model.from_db(connection.alias, attnames, chunk))
    key, account, user, office = built
    (permissions,) = values
    user.office = office
    if not user.is_superuser:
        user._perm_cache = set(permissions)
    account.user = user
    key.account = account
    return key
