"""申报: an employer declares each employee's contribution base for a month."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from contributions.models import BaseClamp, Bill, BillKind, Channel, Declaration, DeclarationLine, DeclarationStatus
from contributions.periods import period_first_day, period_last_day, period_parse
from contributions.rates import district_rates, fen
from registry.audit import audit_mark, audited_save
from registry.jurisdiction import office_in_jurisdiction
from registry.models import EMPLOYEE_INSURANCES, Employer, Enrollment, Person

# The largest amount a money column (14 digits, 2 places) holds.
MAX_AMOUNT = Decimal("999999999999.99")


@dataclass(frozen=True)
class DeclarationInputLine:
    person: Person | None
    base: Any
    row: int  # line number in the upload or the request, for messages
    # The clerk confirmed, for this line, that a base below the floor is what the employer declared (it is then
    # raised to the floor as before); without it such a line is refused — it is more often a typing error or a
    # file cut short ("8000" → "80") than a true wage.
    confirm_below_floor: bool = False


def _parse_base(raw: Any) -> Decimal:
    if isinstance(raw, bool):
        raise ValueError
    text = str(raw).strip().replace(",", "") if raw is not None else ""
    value = Decimal(text)
    if not value.is_finite():
        raise ValueError
    return value


@transaction.atomic
def declaration_submit(
    *,
    employer: Employer,
    period: Any,
    lines: list[DeclarationInputLine],
    acting_user: Any,
    channel: str = Channel.COUNTER,
) -> Declaration:
    """Create or correct the declaration of ``employer`` for ``period`` (lines are upserted by person).

    Every line is checked; if any is wrong, nothing is written and each bad line is named with its reason.
    A base below the floor in force is refused unless the line confirms it (``confirm_below_floor``, the clerk's
    tick for that line); confirmed, it is raised to the floor, and a base above the ceiling lowered to it, and the
    line records it.
    """
    if not office_in_jurisdiction(acting_user, employer.office):
        raise Employer.DoesNotExist
    period = period_parse(period)
    if not lines:
        raise ValidationError({"lines": _("申报至少要有一行。")})
    declaration = Declaration.objects.select_for_update().filter(employer=employer, period=period).first()

    billed = Bill.objects.filter(employer=employer, period=period, kind=BillKind.REGULAR).exists()
    if billed or (declaration is not None and declaration.status == DeclarationStatus.LOCKED):
        raise ValidationError(
            {"period": _("%(period)s 已核定出账，申报不能再更正；请办理补缴或退费调整。") % {"period": period}}
        )
    prepared = _declaration_lines_check(employer, period, lines)
    if declaration is None:
        declaration = Declaration(employer=employer, period=period, channel=channel)
        audited_save(declaration, acting_user=acting_user)
    existing = {dl.person_id: dl for dl in declaration.lines.all()}
    new, changed = [], []
    for person, declared, base, clamp in prepared:
        current = existing.get(person.pk)
        if current is None:
            new.append(
                DeclarationLine(declaration=declaration, person=person, declared_base=declared, base=base, clamp=clamp)
            )
        elif (current.declared_base, current.base, current.clamp) != (declared, base, clamp):
            current.declared_base, current.base, current.clamp = declared, base, clamp
            changed.append(current)
    DeclarationLine.objects.bulk_create(new, batch_size=2000)
    DeclarationLine.objects.bulk_update(changed, ["declared_base", "base", "clamp"], batch_size=2000)
    declaration.channel = channel
    # Lines were checked above and channel is a choice set by the service: no full_clean (it would re-query).
    audit_mark(
        declaration,
        acting_user=acting_user,
        reason=_("申报 %(new)s 行，更正 %(changed)s 行") % {"new": len(new), "changed": len(changed)},
    )
    declaration.save()
    return declaration


def _declaration_lines_check(
    employer: Employer, period: int, lines: list[DeclarationInputLine]
) -> list[tuple[Person, Decimal, Decimal, str]]:
    """(person, declared base, base after floor/ceiling, clamp) per line, or ValidationError naming every bad line."""
    first, last = period_first_day(period), period_last_day(period)
    rates = district_rates(on=first, district_code=employer.office.district_code)
    person_ids = [line.person.pk for line in lines if line.person is not None]
    enrolled = set(
        Enrollment.objects.filter(
            employer=employer,
            person_id__in=person_ids,
            insurance_type__in=[t.value for t in EMPLOYEE_INSURANCES],
            start_date__lte=last,
        )
        .filter(Q(end_date__isnull=True) | Q(end_date__gte=first))
        .values_list("person_id", flat=True)
    )
    errors: list[str] = []
    seen: set[int] = set()
    prepared: list[tuple[Person, Decimal, Decimal, str]] = []
    for line in lines:
        declared, problem = _declaration_line_problem(line, period, enrolled, seen)
        if problem:
            errors.append(problem)
            continue
        seen.add(line.person.pk)
        if fen(declared) < rates.floor_fen and not line.confirm_below_floor:
            errors.append(
                _(
                    "%(where)s：%(name)s 的缴费基数 %(base)s 低于本期下限 %(floor)s，可能是录入错误或文件被截断"
                    "（如 8000 成了 80）。如确属实，请逐行确认“低于下限”后再保存（将按下限核定）。"
                )
                % {
                    "where": _("第 %(row)s 行") % {"row": line.row},
                    "name": line.person.name,
                    "base": declared,
                    "floor": Decimal(rates.floor_fen) / 100,
                }
            )
            continue
        base, clamp = rates.clamp(declared)
        prepared.append((line.person, declared, base, clamp))
    if errors:
        raise ValidationError({"lines": errors})
    return prepared


def _declaration_line_problem(
    line: DeclarationInputLine, period: int, enrolled: set[int], seen: set[int]
) -> tuple[Decimal | None, str]:
    """(declared base, "") of a good line, or (…, the message naming the line and its first problem)."""
    where = _("第 %(row)s 行") % {"row": line.row}
    if line.person is None:
        return None, _("%(where)s：参保人员不存在或不在您的辖区内。") % {"where": where}
    try:
        declared = _parse_base(line.base)
    except (InvalidOperation, ValueError, TypeError):
        return None, _("%(where)s：缴费基数“%(value)s”不是数字。") % {"where": where, "value": line.base}
    if declared <= 0:
        return declared, _("%(where)s：缴费基数必须大于 0。") % {"where": where}
    if declared > MAX_AMOUNT:
        return declared, _("%(where)s：缴费基数过大（最多 %(max)s）。") % {"where": where, "max": MAX_AMOUNT}
    if declared != declared.quantize(Decimal("0.01")):
        return declared, _("%(where)s：缴费基数最多两位小数。") % {"where": where}
    if line.person.pk not in enrolled:
        return declared, _("%(where)s：%(name)s 在 %(period)s 未在本单位参加职工保险。") % {
            "where": where,
            "name": line.person.name,
            "period": period,
        }
    if line.person.pk in seen:
        return declared, _("%(where)s：%(name)s 重复申报。") % {"where": where, "name": line.person.name}
    return declared, ""


def clamp_label(clamp: str) -> str:
    return str(dict(BaseClamp.choices).get(clamp, ""))
