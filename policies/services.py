"""Writes of the policies app. Each function is one transaction, validates fully, records who acted.

Every write of a document, parameter or value bumps the parameter cache version (through the
post_save/post_delete receivers in ``policies.signals``), so the next resolution sees it.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from registry import roles
from registry.audit import audited_delete, audited_save
from registry.exceptions import PermissionDeniedError
from registry.jurisdiction import office_in_jurisdiction
from registry.models import InsuranceType, Office

from .codes import BOUND_PAIRS
from .models import (
    DECIMAL_KINDS,
    ENDED_STATUSES,
    INTEGER_KINDS,
    CalendarDay,
    CalendarSource,
    CalendarYear,
    DayKind,
    DecisionKind,
    DecisionStatus,
    DocumentLevel,
    DocumentStatus,
    Parameter,
    ParameterKind,
    ParameterValue,
    PolicyDecision,
    PolicyDocument,
    TableShape,
)
from .selectors import value_overlapping
from .values import coerce_value, to_text

OVERLAP_CONSTRAINT = "paramvalue_no_overlap"


def _require_perm(acting_user: Any, perm: str, message: str) -> None:
    if acting_user is None or not acting_user.has_perm(perm):
        raise PermissionDeniedError(message)


def _today() -> datetime.date:
    return timezone.localdate()


def _fmt(day: datetime.date | None) -> str:
    return day.isoformat() if day else _("长期")


# ---------------------------------------------------------------------------------------------
# Documents.


def policy_document_prepare(document: PolicyDocument) -> None:
    """Normalise and check a document before any save (services, admin form, xlsx import)."""
    errors: dict[str, str] = {}
    document.number = (document.number or "").strip()
    document.title = (document.title or "").strip()
    document.issuer = (document.issuer or "").strip()
    if not document.number:
        errors["number"] = _("请填写文号。")
    if not document.title:
        errors["title"] = _("请填写文件标题。")
    if not document.issuer:
        errors["issuer"] = _("请填写发文机关。")
    if document.level == DocumentLevel.DISTRICT:
        if not document.district_id:
            errors["district"] = _("区级文件须填写发文的区。")
        elif document.district.level != 2:
            errors["district"] = _("发文区必须是区级机构（椒江、黄岩或路桥）。")
    elif document.district_id:
        errors["district"] = _("只有区级文件填写发文区。")
    insurances = document.insurances or []
    if not isinstance(insurances, list):
        errors["insurances"] = _("涉及险种应为险种代码列表。")
    else:
        valid = set(InsuranceType.values)
        unknown = [str(i) for i in insurances if i not in valid]
        if unknown:
            errors["insurances"] = _("未知的险种代码：%(codes)s。") % {"codes": "、".join(unknown)}
        else:
            document.insurances = [i for i in InsuranceType.values if i in set(insurances)]
    if not document.effective_from:
        errors["effective_from"] = _("请填写施行日期。")
    elif document.repealed_on and document.repealed_on <= document.effective_from:
        errors["repealed_on"] = _("失效日期必须晚于施行日期。")
    if document.status in ENDED_STATUSES and not document.repealed_on:
        errors["repealed_on"] = _("已废止或被替代的文件须填写失效日期。")
    if document.status not in ENDED_STATUSES and document.repealed_on:
        errors["status"] = _("填写了失效日期的文件，状态须为已废止或已被替代。")
    if document.status == DocumentStatus.SUPERSEDED and not document.superseded_by_id:
        errors["superseded_by"] = _("请选择替代本文件的文件。")
    if document.superseded_by_id and document.status != DocumentStatus.SUPERSEDED:
        errors["superseded_by"] = _("只有状态为“已被替代”的文件填写替代文件。")
    if document.superseded_by_id and document.pk and document.superseded_by_id == document.pk:
        errors["superseded_by"] = _("文件不能被自身替代。")
    if document.number and PolicyDocument.objects.filter(number=document.number).exclude(pk=document.pk).exists():
        errors["number"] = _("文号“%(number)s”已登记。") % {"number": document.number}
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def policy_document_create(
    *,
    acting_user: Any,
    number: str,
    title: str,
    issuer: str,
    level: str,
    effective_from: datetime.date,
    district: Office | None = None,
    insurances: list[str] | tuple[str, ...] = (),
    issued_on: datetime.date | None = None,
    text: str = "",
    attachment: Any = None,
    is_demo: bool = False,
    note: str = "",
) -> PolicyDocument:
    _require_perm(acting_user, "policies.add_policydocument", _("您的角色无权登记政策文件。"))
    document = PolicyDocument(
        number=number,
        title=title,
        issuer=issuer,
        level=level,
        district=district,
        insurances=list(insurances or []),
        issued_on=issued_on,
        effective_from=effective_from,
        text=text or "",
        is_demo=is_demo,
        note=note or "",
    )
    if attachment:
        document.attachment = attachment
    policy_document_prepare(document)
    audited_save(document, acting_user=acting_user)
    return document


DOCUMENT_EDITABLE = {
    "number",
    "title",
    "issuer",
    "level",
    "district",
    "insurances",
    "issued_on",
    "effective_from",
    "text",
    "attachment",
    "is_demo",
    "note",
}


@transaction.atomic
def policy_document_update(
    *, document: PolicyDocument, acting_user: Any, reason: str = "", **changes: Any
) -> PolicyDocument:
    """Change a document's particulars; its status changes only through repeal or a clean-up decision."""
    _require_perm(acting_user, "policies.change_policydocument", _("您的角色无权修改政策文件。"))
    unknown = set(changes) - DOCUMENT_EDITABLE
    if unknown:
        raise ValidationError({f: _("该字段不能直接修改（状态请通过废止或清理决定变更）。") for f in sorted(unknown)})
    document = PolicyDocument.objects.select_for_update(of=("self",)).get(pk=document.pk)
    for name, value in changes.items():
        setattr(document, name, value)
    policy_document_prepare(document)
    if "effective_from" in changes:
        early = document.values.filter(valid_from__lt=document.effective_from).order_by("valid_from").first()
        if early is not None:
            raise ValidationError(
                {
                    "effective_from": _("已有自 %(day)s 起的参数取值引用本文件，施行日期不能晚于该日。")
                    % {"day": early.valid_from.isoformat()}
                }
            )
    audited_save(document, acting_user=acting_user, reason=reason)
    return document


def _document_end(
    document: PolicyDocument,
    *,
    on: datetime.date,
    status: str,
    superseded_by: PolicyDocument | None,
    acting_user: Any,
    reason: str,
) -> None:
    """End a document on ``on`` and every value it set that is still in force then (nothing else changes)."""
    if on <= document.effective_from:
        raise ValidationError(
            {
                "effective_on": _("失效日期必须晚于文件施行日期（%(day)s）。")
                % {"day": document.effective_from.isoformat()}
            }
        )
    late = document.values.filter(valid_from__gte=on).select_related("parameter").order_by("valid_from").first()
    if late is not None:
        raise ValidationError(
            {
                "effective_on": _(
                    "本文件设定的“%(name)s”自 %(day)s 起才生效，失效日期须晚于该日；请先撤销或调整该取值。"
                )
                % {"name": late.parameter.name, "day": late.valid_from.isoformat()}
            }
        )
    document.status = status
    document.repealed_on = on
    document.superseded_by = superseded_by
    policy_document_prepare(document)
    audited_save(document, acting_user=acting_user, reason=reason)
    for value in document.values.filter(Q(valid_to__isnull=True) | Q(valid_to__gt=on)).select_related(
        "parameter", "document", "district"
    ):
        value.valid_to = on
        parameter_value_prepare(value)
        _save_value(value, acting_user=acting_user, reason=_("依据文件失效：%(reason)s") % {"reason": reason})


@transaction.atomic
def policy_document_repeal(
    *,
    document: PolicyDocument,
    acting_user: Any,
    repealed_on: datetime.date,
    reason: str,
    superseded_by: PolicyDocument | None = None,
) -> PolicyDocument:
    """Repeal (or mark superseded) a national, provincial or city document; its values end on ``repealed_on``.

    District documents end only through an approved clean-up decision (two people).
    """
    _require_perm(acting_user, "policies.change_policydocument", _("您的角色无权废止政策文件。"))
    document = PolicyDocument.objects.select_for_update(of=("self",)).get(pk=document.pk)
    if document.level == DocumentLevel.DISTRICT:
        raise ValidationError({"document": _("区级文件须通过政策清理决定（提出并经市级管理员审批）废止或并入。")})
    if document.status in ENDED_STATUSES:
        raise ValidationError({"document": _("该文件已于 %(day)s 失效。") % {"day": _fmt(document.repealed_on)}})
    if not (reason or "").strip():
        raise ValidationError({"reason": _("请填写废止理由。")})
    if superseded_by is not None and superseded_by.pk == document.pk:
        raise ValidationError({"superseded_by": _("文件不能被自身替代。")})
    _document_end(
        document,
        on=repealed_on,
        status=DocumentStatus.SUPERSEDED if superseded_by else DocumentStatus.REPEALED,
        superseded_by=superseded_by,
        acting_user=acting_user,
        reason=reason.strip(),
    )
    return document


# ---------------------------------------------------------------------------------------------
# Parameter catalogue.


def parameter_prepare(parameter: Parameter) -> None:
    errors: dict[str, str] = {}
    parameter.code = (parameter.code or "").strip()
    parameter.name = (parameter.name or "").strip()
    if not parameter.name:
        errors["name"] = _("请填写参数名称。")
    if parameter.kind == ParameterKind.TABLE and not parameter.shape:
        errors["shape"] = _("表格类型的参数须选择表格结构。")
    if parameter.kind != ParameterKind.TABLE and parameter.shape:
        errors["shape"] = _("只有表格类型的参数填写表格结构。")
    keys = parameter.table_keys or []
    if not isinstance(keys, list) or not all(isinstance(k, str) and k.strip() for k in keys):
        errors["table_keys"] = _("表格键应为非空文字的列表。")
    elif keys and parameter.shape != TableShape.SHARES:
        errors["table_keys"] = _("只有分担比例表填写表格键。")
    if parameter.kind == ParameterKind.TABLE and (parameter.min_value is not None or parameter.max_value is not None):
        errors["min_value"] = _("表格类型的参数不设上下限。")
    if (
        parameter.min_value is not None
        and parameter.max_value is not None
        and parameter.min_value > parameter.max_value
    ):
        errors["max_value"] = _("上限不能低于下限。")
    if parameter.pk:
        original = Parameter.objects.filter(pk=parameter.pk).values("code", "kind", "shape").first()
        if original and parameter.values.exists():
            if original["code"] != parameter.code:
                errors["code"] = _("已有取值的参数不能更改代码（其他模块按代码取值）。")
            if original["kind"] != parameter.kind or original["shape"] != parameter.shape:
                errors["kind"] = _("已有取值的参数不能更改类型或表格结构；请新建参数。")
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def parameter_create(
    *,
    acting_user: Any,
    code: str,
    name: str,
    kind: str,
    category: str,
    shape: str = "",
    unit: str = "",
    insurance: str = "",
    table_keys: list[str] | None = None,
    min_value: Any = None,
    max_value: Any = None,
    description: str = "",
) -> Parameter:
    _require_perm(acting_user, "policies.add_parameter", _("您的角色无权新增参数。"))
    parameter = Parameter(
        code=code,
        name=name,
        kind=kind,
        category=category,
        shape=shape or "",
        unit=unit or "",
        insurance=insurance or "",
        table_keys=list(table_keys or []),
        min_value=min_value,
        max_value=max_value,
        description=description or "",
    )
    parameter_prepare(parameter)
    audited_save(parameter, acting_user=acting_user)
    return parameter


PARAMETER_EDITABLE = {"name", "unit", "description", "min_value", "max_value", "insurance", "category"}


@transaction.atomic
def parameter_update(*, parameter: Parameter, acting_user: Any, reason: str = "", **changes: Any) -> Parameter:
    _require_perm(acting_user, "policies.change_parameter", _("您的角色无权修改参数。"))
    unknown = set(changes) - PARAMETER_EDITABLE
    if unknown:
        raise ValidationError({f: _("该字段不可修改。") for f in sorted(unknown)})
    parameter = Parameter.objects.select_for_update(of=("self",)).get(pk=parameter.pk)
    for name, value in changes.items():
        setattr(parameter, name, value)
    parameter_prepare(parameter)
    audited_save(parameter, acting_user=acting_user, reason=reason)
    return parameter


def _parameter_by_code(parameter: Parameter | str) -> Parameter:
    if isinstance(parameter, Parameter):
        return parameter
    found = Parameter.objects.filter(code=str(parameter).strip()).first()
    if found is None:
        raise ValidationError({"parameter": _("未知的参数代码“%(code)s”。") % {"code": parameter}})
    return found


# ---------------------------------------------------------------------------------------------
# Parameter values.


def parameter_value_assign(value: ParameterValue, raw: Any) -> None:
    """Parse ``raw`` for the value's parameter into the typed column (ValidationError on ``value``)."""
    parameter = value.parameter
    stored = coerce_value(parameter, raw)
    value.kind = parameter.kind
    value.value_decimal = stored if parameter.kind in DECIMAL_KINDS else None
    value.value_int = stored if parameter.kind in INTEGER_KINDS else None
    value.value_table = stored if parameter.kind == ParameterKind.TABLE else None


def _stored_text(value: ParameterValue) -> str:
    return to_text(value.kind, value.stored_value)


def _check_bound_pairs(value: ParameterValue) -> None:
    """A floor may not be above its ceiling in any shared period (same scope, or the city value behind a district)."""
    code = value.parameter.code
    for lower, upper in BOUND_PAIRS:
        if code not in (lower, upper):
            continue
        other_code = upper if code == lower else lower
        scopes = Q(district_id=value.district_id) | Q(district__isnull=True) if value.district_id else Q()
        others = ParameterValue.objects.filter(parameter__code=other_code).filter(scopes).select_related("parameter")
        others = others.filter(Q(valid_to__isnull=True) | Q(valid_to__gt=value.valid_from))
        if value.valid_to is not None:
            others = others.filter(valid_from__lt=value.valid_to)
        for other in others:
            low, high = (value, other) if code == lower else (other, value)
            if (
                low.value_decimal is not None
                and high.value_decimal is not None
                and low.value_decimal > high.value_decimal
            ):
                raise ValidationError(
                    {
                        "value": _("“%(low)s”（%(lv)s）不能高于同期的“%(high)s”（%(hv)s，%(from)s 起）。")
                        % {
                            "low": low.parameter.name,
                            "lv": _stored_text(low),
                            "high": high.parameter.name,
                            "hv": _stored_text(high),
                            "from": other.valid_from.isoformat(),
                        }
                    }
                )


_IMMUTABLE_ONCE_STARTED = ("district_id", "valid_from", "value_decimal", "value_int", "value_table")


def parameter_value_prepare(value: ParameterValue, *, today: datetime.date | None = None) -> None:
    """Every rule a value must meet before it is saved (services, admin form, xlsx import)."""
    errors: dict[str, str] = {}
    if not value.parameter_id:
        raise ValidationError({"parameter": _("请选择参数。")})
    parameter = value.parameter
    value.kind = parameter.kind
    if not value.document_id:
        errors["document"] = _("请填写依据文件：每个参数取值都必须注明设定它的政策文件（文号）。")
    if not value.valid_from:
        errors["valid_from"] = _("请填写起始日期。")
    elif value.valid_to is not None and value.valid_to <= value.valid_from:
        errors["valid_to"] = _("截止日期（%(to)s）必须晚于起始日期（%(from)s）。") % {
            "to": value.valid_to.isoformat(),
            "from": value.valid_from.isoformat(),
        }
    if value.district_id and value.district.level != 2:
        errors["district"] = _("适用范围只能是市区统一或某一个区（椒江、黄岩、路桥）。")
    if value.stored_value is None:
        errors["value"] = _("请填写取值。")
    if errors:
        raise ValidationError(errors)
    # Re-check the stored form: admin forms and imports fill the typed columns themselves.
    parameter_value_assign(value, value.stored_value)
    _check_document_rules(value)
    if value.pk:
        original = ParameterValue.objects.filter(pk=value.pk).first()
        if original is not None:
            _check_version_rules(value, original, today=today or _today())
    _check_no_overlap(value)
    _check_bound_pairs(value)


def _check_document_rules(value: ParameterValue) -> None:
    """The value lies within its document's force, and a district document sets its own district's values only."""
    errors: dict[str, str] = {}
    document = value.document
    if value.valid_from < document.effective_from:
        errors["valid_from"] = _("起始日期早于依据文件 %(number)s 的施行日期 %(day)s。") % {
            "number": document.number,
            "day": document.effective_from.isoformat(),
        }
    if document.repealed_on and (value.valid_to is None or value.valid_to > document.repealed_on):
        errors["valid_to"] = _("依据文件 %(number)s 已于 %(day)s 失效，取值的截止日期不能晚于该日。") % {
            "number": document.number,
            "day": document.repealed_on.isoformat(),
        }
    if document.level == DocumentLevel.DISTRICT and value.district_id != document.district_id:
        errors["district"] = _("区级文件 %(number)s 只能设定%(district)s的取值。") % {
            "number": document.number,
            "district": document.district.short_name or document.district.name,
        }
    if errors:
        raise ValidationError(errors)


def _check_no_overlap(value: ParameterValue) -> None:
    """One value per parameter, scope and day: a period overlapping another value's is refused."""
    clash = (
        value_overlapping(
            parameter_id=value.parameter_id,
            district_id=value.district_id,
            valid_from=value.valid_from,
            valid_to=value.valid_to,
            exclude_pk=value.pk,
        )
        .select_related("document")
        .order_by("valid_from")
        .first()
    )
    if clash is not None:
        raise ValidationError(
            {
                "valid_from": _(
                    "与已有取值（%(from)s 至 %(to)s，依据 %(number)s）的期间重叠：同一参数在同一适用范围内的取值期间不能重叠，"
                    "请先为旧取值设定截止日期。"
                )
                % {"from": clash.valid_from.isoformat(), "to": _fmt(clash.valid_to), "number": clash.document.number}
            }
        )


def _check_version_rules(value: ParameterValue, original: ParameterValue, *, today: datetime.date) -> None:
    if original.parameter_id != value.parameter_id:
        raise ValidationError({"parameter": _("不能更换取值所属的参数；请新增一条取值。")})
    if original.valid_from > today:
        return  # scheduled ahead and not yet in force: freely editable
    changed = [f for f in _IMMUTABLE_ONCE_STARTED if getattr(original, f) != getattr(value, f)]
    if not changed:
        return
    only_value = set(changed) <= {"value_decimal", "value_int", "value_table"}
    if only_value and original.is_demo:
        # Replacing a demo figure with the confirmed one: a new revision of the same version.
        value.revision = original.revision + 1
        return
    raise ValidationError(
        {
            "value" if only_value else changed[0].removesuffix("_id"): _(
                "该取值自 %(day)s 起已经生效，不能修改数值、起始日期或适用范围（已开具的账单引用它）；"
                "请为它设定截止日期并新增一条取值。"
            )
            % {"day": original.valid_from.isoformat()}
        }
    )


def _save_value(value: ParameterValue, *, acting_user: Any, reason: str = "") -> None:
    try:
        with transaction.atomic():
            audited_save(value, acting_user=acting_user, reason=reason)
    except IntegrityError as exc:
        # The PostgreSQL exclusion constraint catches a concurrent overlapping insert.
        if OVERLAP_CONSTRAINT in str(exc):
            raise ValidationError(
                {"valid_from": _("与已有取值的期间重叠：同一参数在同一适用范围内的取值期间不能重叠。")}
            ) from None
        raise


def _value_perm(acting_user: Any, action: str) -> None:
    _require_perm(acting_user, f"policies.{action}_parametervalue", _("您的角色无权维护参数取值。"))


@transaction.atomic
def parameter_value_create(
    *,
    acting_user: Any,
    parameter: Parameter | str,
    value: Any,
    valid_from: datetime.date,
    document: PolicyDocument | None,
    valid_to: datetime.date | None = None,
    district: Office | None = None,
    is_demo: bool = False,
    note: str = "",
) -> ParameterValue:
    """A new dated value. It may start in the future: that is how yearly adjustments are entered ahead."""
    _value_perm(acting_user, "add")
    parameter = _parameter_by_code(parameter)
    new = ParameterValue(
        parameter=parameter,
        district=district,
        valid_from=valid_from,
        valid_to=valid_to,
        document=document,
        is_demo=is_demo,
        note=note or "",
    )
    parameter_value_assign(new, value)
    parameter_value_prepare(new)
    _save_value(new, acting_user=acting_user)
    return new


@transaction.atomic
def parameter_value_schedule(
    *,
    acting_user: Any,
    parameter: Parameter | str,
    value: Any,
    valid_from: datetime.date,
    document: PolicyDocument | None,
    district: Office | None = None,
    is_demo: bool = False,
    note: str = "",
) -> ParameterValue:
    """A new value from ``valid_from`` that takes over from the value in force then (yearly adjustment, 二(一)4).

    The current value of the same scope is ended on ``valid_from``; the new one runs until the next
    scheduled value, if any, else open-ended.
    """
    _value_perm(acting_user, "add")
    _value_perm(acting_user, "change")
    parameter = _parameter_by_code(parameter)
    scope = Q(district=district) if district is not None else Q(district__isnull=True)
    current = (
        ParameterValue.objects.select_for_update(of=("self",))
        .filter(scope, parameter=parameter, valid_from__lt=valid_from)
        .filter(Q(valid_to__isnull=True) | Q(valid_to__gt=valid_from))
        .first()
    )
    later = (
        ParameterValue.objects.filter(scope, parameter=parameter, valid_from__gt=valid_from)
        .order_by("valid_from")
        .first()
    )
    if current is not None:
        current.valid_to = valid_from
        parameter_value_prepare(current)
        _save_value(
            current,
            acting_user=acting_user,
            reason=_("由 %(day)s 起的新取值接替") % {"day": valid_from.isoformat()},
        )
    new = ParameterValue(
        parameter=parameter,
        district=district,
        valid_from=valid_from,
        valid_to=later.valid_from if later else None,
        document=document,
        is_demo=is_demo,
        note=note or "",
    )
    parameter_value_assign(new, value)
    parameter_value_prepare(new)
    _save_value(new, acting_user=acting_user)
    return new


VALUE_EDITABLE = {"value", "valid_from", "valid_to", "district", "document", "is_demo", "note"}


@transaction.atomic
def parameter_value_update(
    *, parameter_value: ParameterValue, acting_user: Any, reason: str, **changes: Any
) -> ParameterValue:
    """Change a value. Once in force only its end date, source, note and demo mark change; a demo figure may be
    corrected (new revision). ``reason`` is kept in the history."""
    _value_perm(acting_user, "change")
    unknown = set(changes) - VALUE_EDITABLE
    if unknown:
        raise ValidationError({f: _("该字段不可修改。") for f in sorted(unknown)})
    if not (reason or "").strip():
        raise ValidationError({"reason": _("请填写修改原因。")})
    target = (
        ParameterValue.objects.select_for_update(of=("self",)).select_related("parameter").get(pk=parameter_value.pk)
    )
    raw = changes.pop("value", None)
    for name, new in changes.items():
        setattr(target, name, new)
    if raw is not None:
        parameter_value_assign(target, raw)
    parameter_value_prepare(target)
    _save_value(target, acting_user=acting_user, reason=reason.strip())
    return target


@transaction.atomic
def parameter_value_end(
    *, parameter_value: ParameterValue, acting_user: Any, valid_to: datetime.date, reason: str
) -> ParameterValue:
    """Set the end (exclusive) of a value's period."""
    return parameter_value_update(
        parameter_value=parameter_value, acting_user=acting_user, reason=reason, valid_to=valid_to
    )


@transaction.atomic
def parameter_value_cancel(*, parameter_value: ParameterValue, acting_user: Any, reason: str) -> None:
    """Withdraw a value scheduled ahead that has not started; a value that was ever in force is never deleted."""
    _require_perm(acting_user, "policies.change_parametervalue", _("您的角色无权维护参数取值。"))
    target = ParameterValue.objects.select_for_update(of=("self",)).get(pk=parameter_value.pk)
    if target.valid_from <= _today():
        raise ValidationError({"valid_from": _("该取值已经生效，不能撤销；请为它设定截止日期。")})
    if not (reason or "").strip():
        raise ValidationError({"reason": _("请填写撤销原因。")})
    audited_delete(target, acting_user=acting_user, reason=reason.strip())


# ---------------------------------------------------------------------------------------------
# Clean-up of the districts' own policies (二(一)3): propose, then another person approves.


def _is_city_admin(user: Any) -> bool:
    return bool(user is not None and user.is_authenticated and user.groups.filter(name=roles.CITY_ADMIN).exists())


def _check_decision_effect(document: PolicyDocument, decision: str, effective_on: datetime.date | None) -> None:
    if decision == DecisionKind.KEEP:
        return
    if effective_on <= document.effective_from:
        raise ValidationError(
            {
                "effective_on": _("生效日期必须晚于该文件的施行日期（%(day)s）。")
                % {"day": document.effective_from.isoformat()}
            }
        )
    late = (
        document.values.filter(valid_from__gte=effective_on).select_related("parameter").order_by("valid_from").first()
    )
    if late is not None:
        raise ValidationError(
            {
                "effective_on": _("该文件设定的“%(name)s”自 %(day)s 起才生效，废止或并入日期须晚于该日。")
                % {"name": late.parameter.name, "day": late.valid_from.isoformat()}
            }
        )


@transaction.atomic
def policy_decision_propose(
    *,
    acting_user: Any,
    document: PolicyDocument,
    decision: str,
    reason: str,
    effective_on: datetime.date | None = None,
    merge_into: PolicyDocument | None = None,
) -> PolicyDecision:
    """A policy officer proposes to keep, repeal or merge a district document; the document goes under review."""
    _require_perm(acting_user, "policies.add_policydecision", _("您的角色无权提出政策清理决定。"))
    document = PolicyDocument.objects.select_for_update(of=("self",)).select_related("district").get(pk=document.pk)
    errors: dict[str, str] = {}
    if document.level != DocumentLevel.DISTRICT:
        raise ValidationError({"document": _("只有各区自行出台的文件需要清理决定。")})
    if not office_in_jurisdiction(acting_user, document.district):
        raise ValidationError({"document": _("该文件的发文区不在您的辖区内。")})
    if document.status in ENDED_STATUSES:
        raise ValidationError({"document": _("该文件已废止或被替代，无需再作清理决定。")})
    open_decision = document.decisions.filter(status=DecisionStatus.PROPOSED).first()
    if open_decision is not None:
        raise ValidationError({"document": _("该文件已有待审批的清理决定，请先审批或撤回。")})
    if decision not in DecisionKind.values:
        errors["decision"] = _("处理意见须为保留、废止或并入市级文件。")
    reason = (reason or "").strip()
    if not reason:
        errors["reason"] = _("请填写理由。")
    if decision == DecisionKind.KEEP:
        if effective_on is not None or merge_into is not None:
            errors["effective_on"] = _("保留的文件不填写生效日期和并入文件。")
    elif decision in (DecisionKind.REPEAL, DecisionKind.MERGE) and effective_on is None:
        errors["effective_on"] = _("请填写废止或并入的生效日期。")
    if decision == DecisionKind.MERGE:
        if merge_into is None:
            errors["merge_into"] = _("请选择并入的市级文件。")
        elif merge_into.level != DocumentLevel.CITY or merge_into.status in ENDED_STATUSES:
            errors["merge_into"] = _("只能并入现行有效的市级文件。")
    elif merge_into is not None:
        errors["merge_into"] = _("只有“并入市级文件”填写并入文件。")
    if errors:
        raise ValidationError(errors)
    _check_decision_effect(document, decision, effective_on)
    proposal = PolicyDecision(
        document=document,
        decision=decision,
        merge_into=merge_into,
        effective_on=effective_on,
        reason=reason,
        status=DecisionStatus.PROPOSED,
        proposed_by=acting_user,
    )
    audited_save(proposal, acting_user=acting_user)
    if document.status != DocumentStatus.UNDER_REVIEW:
        document.status = DocumentStatus.UNDER_REVIEW
        audited_save(
            document, acting_user=acting_user, reason=_("提出清理决定：%(d)s") % {"d": proposal.get_decision_display()}
        )
    return proposal


def _open_decision_for_update(decision: PolicyDecision) -> PolicyDecision:
    decision = (
        PolicyDecision.objects.select_for_update(of=("self",))
        .select_related("document", "document__district", "merge_into", "proposed_by")
        .get(pk=decision.pk)
    )
    if decision.status != DecisionStatus.PROPOSED:
        raise ValidationError(
            {"status": _("该决定已处理（%(s)s），不能重复处理。") % {"s": decision.get_status_display()}}
        )
    return decision


def _check_decider(decision: PolicyDecision, acting_user: Any) -> None:
    if acting_user is not None and acting_user.pk == decision.proposed_by_id:
        raise ValidationError({"decided_by": _("提出人不能审批自己提出的清理决定，须由另一位市级管理员审批。")})
    if not _is_city_admin(acting_user):
        raise PermissionDeniedError(_("只有市级管理员可以审批政策清理决定。"))


@transaction.atomic
def policy_decision_approve(*, decision: PolicyDecision, acting_user: Any, note: str = "") -> PolicyDecision:
    """A city administrator other than the proposer approves; repeal and merge end the document and its values."""
    decision = _open_decision_for_update(decision)
    _check_decider(decision, acting_user)
    document = PolicyDocument.objects.select_for_update(of=("self",)).get(pk=decision.document_id)
    _check_decision_effect(document, decision.decision, decision.effective_on)
    decision.status = DecisionStatus.APPROVED
    decision.decided_by = acting_user
    decision.decided_at = timezone.now()
    decision.decision_note = (note or "").strip()
    audited_save(decision, acting_user=acting_user)
    reason = _("清理决定（%(d)s）经批准：%(r)s") % {"d": decision.get_decision_display(), "r": decision.reason}
    if decision.decision == DecisionKind.KEEP:
        document.status = DocumentStatus.IN_FORCE
        audited_save(document, acting_user=acting_user, reason=reason)
    elif decision.decision == DecisionKind.REPEAL:
        _document_end(
            document,
            on=decision.effective_on,
            status=DocumentStatus.REPEALED,
            superseded_by=None,
            acting_user=acting_user,
            reason=reason,
        )
    else:
        _document_end(
            document,
            on=decision.effective_on,
            status=DocumentStatus.SUPERSEDED,
            superseded_by=decision.merge_into,
            acting_user=acting_user,
            reason=reason,
        )
    return decision


def _back_in_force(document_id: int, *, acting_user: Any, reason: str) -> None:
    document = PolicyDocument.objects.select_for_update(of=("self",)).get(pk=document_id)
    if document.status == DocumentStatus.UNDER_REVIEW:
        document.status = DocumentStatus.IN_FORCE
        audited_save(document, acting_user=acting_user, reason=reason)


@transaction.atomic
def policy_decision_reject(*, decision: PolicyDecision, acting_user: Any, note: str) -> PolicyDecision:
    """A city administrator other than the proposer sends the proposal back; the document stays in force."""
    decision = _open_decision_for_update(decision)
    _check_decider(decision, acting_user)
    note = (note or "").strip()
    if not note:
        raise ValidationError({"decision_note": _("退回时请填写审批意见。")})
    decision.status = DecisionStatus.REJECTED
    decision.decided_by = acting_user
    decision.decided_at = timezone.now()
    decision.decision_note = note
    audited_save(decision, acting_user=acting_user)
    _back_in_force(decision.document_id, acting_user=acting_user, reason=_("清理决定被退回：%(n)s") % {"n": note})
    return decision


@transaction.atomic
def policy_decision_withdraw(*, decision: PolicyDecision, acting_user: Any, reason: str = "") -> PolicyDecision:
    """The proposer withdraws his own open proposal."""
    decision = _open_decision_for_update(decision)
    if acting_user is None or acting_user.pk != decision.proposed_by_id:
        raise PermissionDeniedError(_("只有提出人可以撤回清理决定。"))
    decision.status = DecisionStatus.WITHDRAWN
    audited_save(decision, acting_user=acting_user, reason=(reason or "").strip())
    _back_in_force(decision.document_id, acting_user=acting_user, reason=_("清理决定已撤回"))
    return decision


# ---------------------------------------------------------------------------------------------
# The statutory working-day calendar: a year's holidays and make-up working days (调休上班), as the State
# Council's notice (国务院办公厅关于部分节假日安排的通知) announces them around November. 2016–2026 are frozen in
# migration 0006; a new year is entered in admin, or loaded with ``manage.py load_calendar_year``.


@transaction.atomic
def calendar_year_enter(
    *,
    year: int,
    days: Iterable[tuple[datetime.date, str, str]],
    acting_user: Any,
    source: str = CalendarSource.NOTICE,
    document: str | None = None,
    note: str = "",
) -> CalendarYear:
    """Write ``year``'s schedule — (date, kind, name) per holiday or make-up working day — replacing the days
    the year had (``document`` None keeps the notice number it had). Refused as a whole when a date lies
    outside the year, comes twice or has an unknown kind."""
    rows, seen, errors = [], set(), []
    for day, kind, name in days:
        if not isinstance(day, datetime.date) or day.year != year:
            errors.append(_("%(day)s 不在 %(year)d 年内。") % {"day": day, "year": year})
        elif day in seen:
            errors.append(_("%(day)s 重复。") % {"day": day.isoformat()})
        elif kind not in DayKind.values:
            errors.append(
                _("%(day)s 的类型“%(kind)s”无效：应为 holiday（放假）或 workday（调休上班）。")
                % {"day": day, "kind": kind}
            )
        else:
            seen.add(day)
            rows.append((day, kind, (name or (_("调休上班") if kind == DayKind.WORKDAY else ""))[:60]))
    if errors:
        raise ValidationError({"days": errors})
    calendar = CalendarYear.objects.select_for_update().filter(year=year).first() or CalendarYear(year=year)
    calendar.source, calendar.note = source, note
    if document is not None:
        calendar.document = document
    audited_save(calendar, acting_user=acting_user)
    calendar.days.all().delete()
    CalendarDay.objects.bulk_create(
        CalendarDay(calendar=calendar, date=day, kind=kind, name=name) for day, kind, name in sorted(rows)
    )
    return calendar


def package_schedule(year: int) -> tuple[dict, set] | None:
    """(holidays {date: name}, make-up working days) of ``year`` from the holidays package, or None when the
    package has no State Council schedule for it (its rules alone know no 调休)."""
    import holidays  # noqa: PLC0415 -- only here: loading a year is rare, and the package is large

    china = holidays.China(years=[year], language="zh_CN")
    workdays = {d for d in getattr(china, "weekend_workdays", set()) if d.year == year}
    days = {d: str(name) for d, name in china.items() if d.year == year}
    if not workdays:
        return None
    return days, workdays


@transaction.atomic
def calendar_year_load(*, year: int, acting_user: Any, replace: bool = False) -> CalendarYear:
    """Load ``year`` from the holidays package (refused when the package does not know the year's schedule,
    or when the year is already there and ``replace`` is not set)."""
    import holidays  # noqa: PLC0415 -- see package_schedule

    if CalendarYear.objects.filter(year=year).exists() and not replace:
        raise ValidationError(
            {"year": [_("%(year)d 年的节假日安排已录入；如需用软件包数据覆盖，请选择覆盖。") % {"year": year}]}
        )
    schedule = package_schedule(year)
    if schedule is None:
        raise ValidationError(
            {
                "year": [
                    _(
                        "holidays 软件包（%(version)s）没有 %(year)d 年的国务院放假调休安排，请按国务院办公厅通知手工录入。"
                    )
                    % {"version": holidays.__version__, "year": year}
                ]
            }
        )
    days, workdays = schedule
    return calendar_year_enter(
        year=year,
        days=[(d, DayKind.HOLIDAY, name) for d, name in days.items()] + [(d, DayKind.WORKDAY, "") for d in workdays],
        acting_user=acting_user,
        source=CalendarSource.PACKAGE,
        note=_("由 holidays %(version)s 载入") % {"version": holidays.__version__},
    )
