"""An employer's monthly declaration online: the form (a base per employee) or the payroll upload, through the
same service and with the same messages as the counter (``contributions.services.declaration_submit``,
``contributions.resources.payroll_read``), channel "online". Only the employer's own employees can be named.
"""

from __future__ import annotations

import re
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from contributions import services as contribution_services
from contributions.models import Channel, Declaration
from contributions.periods import period_parse
from contributions.resources import amount_problem, payroll_normalize, payroll_read
from contributions.uploads import UploadError
from registry.exceptions import PermissionDeniedError, error_messages
from registry.models import Enrollment, Person

from ..models import HallAccount, Right
from ..selectors import hall_user

_ROW_PREFIX = re.compile(r"^\s*(?:第\s*(\d+)\s*行|Row\s+(\d+))")


class _DryRun(Exception):
    """Undo a declaration submitted only to collect the service's messages beside earlier ones."""


def _row_of(message: str) -> int:
    match = _ROW_PREFIX.match(message)
    return int(match.group(1) or match.group(2)) if match else 0


def _employees(account: HallAccount, **lookup: Any) -> dict[str, Person]:
    employed = Enrollment.objects.filter(employer_id=account.employer_id).values("person_id")
    persons = Person.objects.filter(pk__in=employed, **lookup)
    key = "uid" if "uid__in" in lookup else "id_number"
    return {str(getattr(p, key)): p for p in persons}


def _submit(account: HallAccount, period: int, lines: list, early: list[tuple[int, str]]) -> Declaration:
    errors = list(early)
    declaration = None
    if not lines and not early:
        errors.append((0, _("没有要保存的申报行：请至少填写一人的缴费基数。")))
    if lines:
        try:
            with transaction.atomic():
                declaration = contribution_services.declaration_submit(
                    employer=account.employer,
                    period=period,
                    lines=lines,
                    acting_user=hall_user(),
                    channel=Channel.ONLINE,
                )
                if early:
                    raise _DryRun
        except _DryRun:
            declaration = None
        except ValidationError as exc:
            errors.extend((_row_of(m), m) for m in error_messages(exc))
    if errors or declaration is None:
        errors.sort(key=lambda item: item[0])
        raise ValidationError({"lines": [m for _row, m in errors]})
    return declaration


def _period(raw: Any) -> int:
    try:
        return period_parse(raw)
    except ValidationError as exc:
        raise ValidationError({"period": exc.messages}) from None


def _may_declare(account: HallAccount) -> None:
    if not account.is_active or not account.has_right(Right.DECLARE):
        raise PermissionDeniedError(_("您没有本单位缴费申报的权限。"))


def declaration_online_form(*, account: HallAccount, period: Any, entries: list[tuple[int, str, str]]) -> Declaration:
    """``entries``: (row, person uid, base) of the form's filled lines."""
    _may_declare(account)
    period = _period(period)
    persons = _employees(account, uid__in=[u for _r, u, _v in entries if _is_uuid(u)])
    early = [(r, _("第 %(row)s 行：%(problem)s") % {"row": r, "problem": amount_problem(v)}) for r, _u, v in entries]
    early = [(r, m) for (r, m), (_r, _u, v) in zip(early, entries, strict=True) if amount_problem(v)]
    bad = {r for r, _m in early}
    lines = [
        contribution_services.DeclarationInputLine(person=persons.get(u), base=v, row=r)
        for r, u, v in entries
        if r not in bad
    ]
    return _submit(account, period, lines, early)


def _is_uuid(value: str) -> bool:
    return bool(re.fullmatch(r"[0-9a-fA-F-]{32,36}", value or ""))


def declaration_online_upload(*, account: HallAccount, period: Any, name: str, data: bytes) -> Declaration:
    """The payroll file (CSV or .xlsx with 公民身份号码 and 缴费基数), the counter's reader and messages."""
    _may_declare(account)
    period = _period(period)
    try:
        rows = payroll_read(name, data)
    except UploadError as exc:
        raise ValidationError({"payroll": [str(exc)]}) from None
    numbers, early = payroll_normalize(rows)
    persons = _employees(account, id_number__in=set(numbers.values()))
    lines = [
        contribution_services.DeclarationInputLine(person=persons.get(numbers[row.line]), base=row.base, row=row.line)
        for row in rows
        if row.line in numbers
    ]
    return _submit(account, period, lines, early)
