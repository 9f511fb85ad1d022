"""Reads of the policies app. The resolver here is the one way every app gets a rate, base, subsidy,
benefit level, threshold or time limit.

    from policies import codes
    from policies.selectors import parameter_value, parameter_values, money_round

    rate = parameter_value(codes.RATE_EMP_PENSION_EMPLOYER, on=month_start, office=employer.office)
    rate.value        # Decimal("0.14")
    rate.value_id     # the ParameterValue version to record on the bill

    # A bill run: resolve once per (month, district), never once per person.
    bundle = parameter_values(CODES, on=month_start, office=district_office)

Resolution: the value in force on ``on`` (``valid_from <= on < valid_to``) scoped to the office's
district wins over the city-wide value; an office anywhere under a district (township, community)
resolves to that district through ``Office.district_code``.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from registry.models import Office

from . import cache as param_cache
from .codes import MONEY_ROUNDING
from .models import (
    DecisionStatus,
    Parameter,
    ParameterCategory,
    ParameterKind,
    ParameterValue,
    PolicyDecision,
    PolicyDocument,
    TableShape,
)
from .values import canonical_decimal, to_jsonable, to_python, to_text

_CENT = Decimal("0.01")


class ParameterNotFound(ValidationError):
    """No value of the parameter is in force on that date for that office (or the code/key is unknown)."""

    def __init__(
        self,
        message: str,
        *,
        parameter_code: str,
        on: datetime.date | None = None,
        district_code: str | None = None,
        key: str | None = None,
    ) -> None:
        super().__init__(message, code="parameter_not_found")
        self.parameter_code = parameter_code
        self.on = on
        self.district_code = district_code
        self.key = key


@dataclass(frozen=True)
class ResolvedParameter:
    """One parameter value as resolved for a date and an office, with where it came from."""

    code: str
    name: str
    kind: str
    value: Any
    value_id: int
    revision: int
    valid_from: datetime.date
    valid_to: datetime.date | None
    scope_district_code: str | None
    document_id: int
    document_number: str
    is_demo: bool
    unit: str = ""
    key: str | None = None

    @property
    def is_district_specific(self) -> bool:
        return self.scope_district_code is not None

    def as_record(self) -> dict[str, Any]:
        """A JSON-able record of the value and its version, for a bill or a case to keep."""
        return {
            "code": self.code,
            "key": self.key,
            "value": to_jsonable(self.value),
            "value_id": self.value_id,
            "revision": self.revision,
            "valid_from": self.valid_from.isoformat(),
            "valid_to": self.valid_to.isoformat() if self.valid_to else None,
            "scope_district_code": self.scope_district_code,
            "document_id": self.document_id,
            "document_number": self.document_number,
            "is_demo": self.is_demo,
        }


# ---------------------------------------------------------------------------------------------
# Snapshot of the whole parameter table, cached under the current version (see policies.cache).


@dataclass(frozen=True, slots=True)
class _Meta:
    code: str
    name: str
    kind: str
    shape: str
    unit: str
    category: str
    insurance: str


@dataclass(frozen=True, slots=True)
class _Entry:
    value_id: int
    revision: int
    district_code: str | None
    valid_from: datetime.date
    valid_to: datetime.date | None
    stored: Any
    document_id: int
    document_number: str
    is_demo: bool


@dataclass(frozen=True)
class _Snapshot:
    params: dict[str, _Meta]
    values: dict[str, tuple[_Entry, ...]] = field(default_factory=dict)
    # Resolved scalars are immutable, so one object per value version is shared by every caller.
    resolved: dict[int, ResolvedParameter] = field(default_factory=dict, compare=False)


def _build_snapshot() -> _Snapshot:
    params = {
        code: _Meta(code, name, kind, shape, unit, category, insurance)
        for code, name, kind, shape, unit, category, insurance in Parameter.objects.values_list(
            "code", "name", "kind", "shape", "unit", "category", "insurance"
        )
    }
    values: dict[str, list[_Entry]] = {}
    rows = ParameterValue.objects.order_by("parameter__code", "valid_from", "id").values_list(
        "id",
        "revision",
        "parameter__code",
        "district__code",
        "valid_from",
        "valid_to",
        "kind",
        "value_decimal",
        "value_int",
        "value_table",
        "document_id",
        "document__number",
        "is_demo",
    )
    for pk, revision, code, district, vfrom, vto, kind, vdec, vint, vtable, doc_id, doc_number, is_demo in rows:
        if kind == ParameterKind.AMOUNT:
            stored = vdec.quantize(_CENT)
        elif kind in (ParameterKind.RATE, ParameterKind.RATIO):
            # The column keeps 6 places; callers and records get the plain figure (0.16, not 0.160000).
            stored = Decimal(canonical_decimal(vdec))
        elif kind in (ParameterKind.MONTHS, ParameterKind.INTEGER):
            stored = vint
        else:
            stored = vtable
        values.setdefault(code, []).append(
            _Entry(pk, revision, district, vfrom, vto, stored, doc_id, doc_number, is_demo)
        )
    return _Snapshot(params=params, values={code: tuple(entries) for code, entries in values.items()})


_local: tuple[int, float, _Snapshot] | None = None


def _snapshot() -> _Snapshot:
    global _local
    if not param_cache.snapshot_publishable():
        return _build_snapshot()
    version = param_cache.current_version()
    local = _local
    now = time.monotonic()
    if local is not None and local[0] == version and now - local[1] < param_cache.SNAPSHOT_TTL:
        return local[2]
    key = param_cache.SNAPSHOT_KEY.format(version=version)
    snapshot = cache.get(key)
    if snapshot is None:
        snapshot = _build_snapshot()
        cache.set(key, snapshot, param_cache.SNAPSHOT_TTL)
    _local = (version, now, snapshot)
    return snapshot


def parameter_cache_clear() -> None:
    """Forget every cached snapshot (tests; after loading data outside the services)."""
    global _local
    _local = None
    param_cache.reset()


# ---------------------------------------------------------------------------------------------
# The resolver.


def _as_date(on: datetime.date | datetime.datetime) -> datetime.date:
    if isinstance(on, datetime.datetime):
        return timezone.localdate(on) if timezone.is_aware(on) else on.date()
    if not isinstance(on, datetime.date):
        raise TypeError("on must be a date")
    return on


def _district_code(office: Office | None, district_code: str | None) -> str | None:
    if office is not None:
        return office.district_code
    return district_code or None


def _in_force(snapshot: _Snapshot, code: str, on: datetime.date, district: str | None) -> _Entry | None:
    city = own = None
    for entry in snapshot.values.get(code, ()):
        if entry.valid_from <= on and (entry.valid_to is None or on < entry.valid_to):
            if entry.district_code is None:
                city = entry
            elif entry.district_code == district:
                own = entry
    return own or city


def _not_found(code: str, on: datetime.date, district: str | None, *, known: bool) -> ParameterNotFound:
    if not known:
        message = _("未知的参数代码“%(code)s”。") % {"code": code}
    elif district:
        message = _("参数“%(code)s”在 %(on)s 对 %(district)s 没有生效的取值（也没有市区统一取值）。") % {
            "code": code,
            "on": on.isoformat(),
            "district": district,
        }
    else:
        message = _("参数“%(code)s”在 %(on)s 没有生效的市区统一取值。") % {"code": code, "on": on.isoformat()}
    return ParameterNotFound(message, parameter_code=code, on=on, district_code=district)


def _resolved(meta: _Meta, entry: _Entry, snapshot: _Snapshot | None = None) -> ResolvedParameter:
    if snapshot is not None and meta.kind != ParameterKind.TABLE:
        shared = snapshot.resolved.get(entry.value_id)
        if shared is None:
            shared = snapshot.resolved[entry.value_id] = _resolved(meta, entry)
        return shared
    # Tables are dicts and lists: every caller gets a fresh copy it may change.
    return ResolvedParameter(
        code=meta.code,
        name=meta.name,
        kind=meta.kind,
        value=to_python(meta.kind, meta.shape, entry.stored),
        value_id=entry.value_id,
        revision=entry.revision,
        valid_from=entry.valid_from,
        valid_to=entry.valid_to,
        scope_district_code=entry.district_code,
        document_id=entry.document_id,
        document_number=entry.document_number,
        is_demo=entry.is_demo,
        unit=meta.unit,
    )


def _pick_key(resolved: ResolvedParameter, key: str, shape: str) -> ResolvedParameter:
    value = resolved.value
    picked: Any = None
    if isinstance(value, dict):
        picked = value.get(str(key))
    elif shape == TableShape.GRADES:
        picked = next((row for row in value if str(row["grade"]) == str(key)), None)
    if picked is None:
        raise ParameterNotFound(
            _("参数“%(code)s”没有键“%(key)s”。") % {"code": resolved.code, "key": key},
            parameter_code=resolved.code,
            key=str(key),
        )
    return replace(resolved, value=picked, key=str(key))


def parameter_value(
    code: str,
    *,
    on: datetime.date,
    office: Office | None = None,
    key: str | None = None,
    district_code: str | None = None,
) -> ResolvedParameter:
    """The value of ``code`` in force on ``on`` for ``office`` (its district's own value first, else the city's).

    ``key`` picks one entry of a table (a risk class, a grade number). Raises ParameterNotFound.
    """
    on = _as_date(on)
    district = _district_code(office, district_code)
    snapshot = _snapshot()
    meta = snapshot.params.get(code)
    entry = _in_force(snapshot, code, on, district) if meta else None
    if entry is None:
        raise _not_found(code, on, district, known=meta is not None)
    resolved = _resolved(meta, entry, snapshot)
    if key is not None:
        if meta.kind != ParameterKind.TABLE:
            raise ParameterNotFound(
                _("参数“%(code)s”不是表格，不能按键取值。") % {"code": code}, parameter_code=code, key=str(key)
            )
        resolved = _pick_key(resolved, key, meta.shape)
    return resolved


def parameter_values(
    codes: Iterable[str],
    *,
    on: datetime.date,
    office: Office | None = None,
    district_code: str | None = None,
) -> dict[str, ResolvedParameter]:
    """Several codes at once, from one cached snapshot (at most one query per cache version).

    Raises ParameterNotFound naming every code without a value in force.
    """
    on = _as_date(on)
    district = _district_code(office, district_code)
    snapshot = _snapshot()
    out: dict[str, ResolvedParameter] = {}
    missing: list[ParameterNotFound] = []
    for code in dict.fromkeys(codes):
        meta = snapshot.params.get(code)
        entry = _in_force(snapshot, code, on, district) if meta else None
        if entry is None:
            missing.append(_not_found(code, on, district, known=meta is not None))
        else:
            out[code] = _resolved(meta, entry, snapshot)
    if missing:
        if len(missing) == 1:
            raise missing[0]
        raise ParameterNotFound(
            " ".join(m.messages[0] for m in missing),
            parameter_code=",".join(m.parameter_code for m in missing),
            on=on,
            district_code=district,
        )
    return out


@dataclass(frozen=True)
class ParameterRow:
    """One line of "parameters in force on date X for district Y"."""

    code: str
    name: str
    kind: str
    kind_label: str
    unit: str
    category: str
    category_label: str
    resolved: ResolvedParameter | None
    city: ResolvedParameter | None

    @property
    def text(self) -> str:
        return display_value(self.resolved) if self.resolved else ""

    @property
    def city_text(self) -> str:
        return display_value(self.city) if self.city else ""


def parameter_table(
    on: datetime.date, district_code: str | None = None, *, category: str | None = None
) -> list[ParameterRow]:
    """Every catalogue parameter with its value in force on ``on`` for the district (None = city-wide)."""
    on = _as_date(on)
    snapshot = _snapshot()
    kinds = dict(ParameterKind.choices)
    categories = dict(ParameterCategory.choices)
    order = {c: i for i, c in enumerate(categories)}
    rows = []
    for meta in sorted(snapshot.params.values(), key=lambda m: (order.get(m.category, 99), m.code)):
        if category and meta.category != category:
            continue
        own = _in_force(snapshot, meta.code, on, district_code or None)
        city = _in_force(snapshot, meta.code, on, None)
        rows.append(
            ParameterRow(
                code=meta.code,
                name=meta.name,
                kind=meta.kind,
                kind_label=str(kinds.get(meta.kind, meta.kind)),
                unit=meta.unit,
                category=meta.category,
                category_label=str(categories.get(meta.category, meta.category)),
                resolved=_resolved(meta, own, snapshot) if own else None,
                city=_resolved(meta, city, snapshot) if city else None,
            )
        )
    return rows


def parameter_shape(code: str) -> str:
    """The table shape of a catalogue parameter ("" for a single value or an unknown code)."""
    meta = _snapshot().params.get(code)
    return meta.shape if meta else ""


def display_value(resolved: ResolvedParameter) -> str:
    """A short human text of a resolved value (tables as compact JSON)."""
    return to_text(resolved.kind, to_jsonable(resolved.value)) if resolved.kind == "table" else _scalar(resolved)


def _scalar(resolved: ResolvedParameter) -> str:
    value = resolved.value
    if isinstance(value, Decimal):
        text = to_text(resolved.kind, value)
        if resolved.kind == ParameterKind.RATE:
            percent = to_text(resolved.kind, value * 100)
            return f"{text}（{percent}%）"
        return text
    return str(value)


# ---------------------------------------------------------------------------------------------
# Money.


@dataclass(frozen=True)
class RoundingRule:
    places: int
    mode: str
    value_id: int | None = None

    @property
    def quantum(self) -> Decimal:
        return Decimal(1).scaleb(-self.places)

    def apply(self, amount: Decimal) -> Decimal:
        return Decimal(amount).quantize(self.quantum, rounding=self.mode)


def rounding_rule(*, on: datetime.date, office: Office | None = None) -> RoundingRule:
    """The money rounding rule in force (fetch once per run, then ``rule.apply(amount)`` per amount)."""
    resolved = parameter_value(MONEY_ROUNDING, on=on, office=office)
    return RoundingRule(places=resolved.value["places"], mode=resolved.value["mode"], value_id=resolved.value_id)


def money_round(amount: Decimal, *, on: datetime.date, office: Office | None = None) -> Decimal:
    """``amount`` rounded to the money rule in force (``money.rounding``, e.g. 2 places, ROUND_HALF_UP)."""
    return rounding_rule(on=on, office=office).apply(amount)


# ---------------------------------------------------------------------------------------------
# Documents, values, decisions (pages, API, admin).


def parameter_catalogue() -> QuerySet[Parameter]:
    return Parameter.objects.all().order_by("category", "code")


def parameter_value_list(
    *,
    code: str | None = None,
    on: datetime.date | None = None,
    district_code: str | None = None,
) -> QuerySet[ParameterValue]:
    """Stored value versions; ``district_code`` keeps the ones applying there (city-wide and its own)."""
    qs = ParameterValue.objects.select_related("parameter", "district", "document")
    if code:
        qs = qs.filter(parameter__code=code)
    if on:
        qs = qs.filter(valid_from__lte=on).filter(Q(valid_to__isnull=True) | Q(valid_to__gt=on))
    if district_code:
        qs = qs.filter(Q(district__isnull=True) | Q(district__code=district_code))
    return qs.order_by("parameter__code", "district__code", "valid_from")


def value_overlapping(
    *,
    parameter_id: int,
    district_id: int | None,
    valid_from: datetime.date,
    valid_to: datetime.date | None,
    exclude_pk: int | None = None,
) -> QuerySet[ParameterValue]:
    """Values of one parameter and one scope whose [from, to) period meets [valid_from, valid_to)."""
    qs = ParameterValue.objects.filter(parameter_id=parameter_id, district_id=district_id)
    if exclude_pk:
        qs = qs.exclude(pk=exclude_pk)
    qs = qs.filter(Q(valid_to__isnull=True) | Q(valid_to__gt=valid_from))
    if valid_to is not None:
        qs = qs.filter(valid_from__lt=valid_to)
    return qs


def document_search(
    *,
    query: str = "",
    level: str = "",
    status: str = "",
    district_code: str = "",
    insurance: str = "",
    in_force_on: datetime.date | None = None,
) -> QuerySet[PolicyDocument]:
    """Documents by 文号, title, issuer or text, with filters."""
    qs = PolicyDocument.objects.select_related("district", "superseded_by")
    query = (query or "").strip()
    if query:
        qs = qs.filter(
            Q(number__icontains=query)
            | Q(title__icontains=query)
            | Q(issuer__icontains=query)
            | Q(text__icontains=query)
        )
    if level:
        qs = qs.filter(level=level)
    if status:
        qs = qs.filter(status=status)
    if district_code:
        qs = qs.filter(district__code=district_code)
    if insurance:
        # JSON lists are matched as text: works the same on PostgreSQL and SQLite.
        qs = qs.filter(insurances__icontains=f'"{insurance}"')
    if in_force_on:
        qs = qs.filter(effective_from__lte=in_force_on).filter(
            Q(repealed_on__isnull=True) | Q(repealed_on__gt=in_force_on)
        )
    return qs.order_by("-effective_from", "number")


def document_get(*, uid: Any) -> PolicyDocument:
    return PolicyDocument.objects.select_related("district", "superseded_by").get(uid=uid)


def document_values(document: PolicyDocument) -> QuerySet[ParameterValue]:
    return document.values.select_related("parameter", "district").order_by("parameter__code", "valid_from")


def decision_open_for(document: PolicyDocument) -> PolicyDecision | None:
    return document.decisions.filter(status=DecisionStatus.PROPOSED).select_related("proposed_by").first()


def decision_list(*, document: PolicyDocument | None = None) -> QuerySet[PolicyDecision]:
    qs = PolicyDecision.objects.select_related("document", "merge_into", "proposed_by", "decided_by")
    if document is not None:
        qs = qs.filter(document=document)
    return qs.order_by("-proposed_at", "-id")


def district_documents() -> QuerySet[PolicyDocument]:
    """The districts' own documents, the inventory the clean-up works through."""
    return (
        PolicyDocument.objects.filter(level="district").select_related("district").order_by("district__code", "number")
    )
