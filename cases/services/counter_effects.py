"""Effects of the counter's daily items: employee enrollment in several insurances at once (五险合一), an employer's
staff changes (增员 / 减员, one or many, also from the employer's list), ending an enrollment (停保), and changes of a
person's or an employer's details (old and new values kept in the case; the audit history has them too).

Each handler checks everything at intake (nothing is written when it fails) and names the case's subject key, so
that the database refuses a second open case of the same application (case_open_once).
"""

from __future__ import annotations

import datetime
import hashlib
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from registry import counter_services
from registry import services as registry_services
from registry.counter_selectors import person_by_number_citywide
from registry.identifiers import id_number_normalize
from registry.models import (
    EMPLOYEE_INSURANCES,
    Employer,
    EmployerType,
    Enrollment,
    HouseholdType,
    InsuranceType,
    Person,
)

from ..models import Effect
from .effects import HANDLERS, FieldSpec, Handler, _parse_bool, _parse_date, _parse_month

# 社会保险法第五十八条: the employer registers a new employee within 30 days of hiring him.
LATE_REGISTRATION_DAYS = 30
MAX_EMPLOYEES = 500
EMPLOYEE_CHOICES = tuple((t.value, t.label) for t in EMPLOYEE_INSURANCES)
ALL_CHOICES = tuple(InsuranceType.choices)


def _types(data: dict, allowed: tuple) -> list[str]:
    raw = data.get("insurance_types") or []
    if isinstance(raw, str):
        raw = [p for p in raw.replace("，", ",").split(",") if p.strip()]
    known = {k for k, _label in allowed}
    chosen = [str(v).strip() for v in raw]
    bad = [v for v in chosen if v not in known]
    if bad:
        raise ValidationError({"insurance_types": [_("不能选择的险种：%(t)s。") % {"t": "、".join(bad)}]})
    if not chosen:
        raise ValidationError({"insurance_types": [_("请至少选择一个险种。")]})
    return [k for k, _label in allowed if k in set(chosen)]


def _late(hire: datetime.date | None, on: datetime.date) -> bool:
    return hire is not None and (on - hire).days > LATE_REGISTRATION_DAYS


def _optional_date(data: dict, field: str, label: str) -> datetime.date | None:
    value = data.get(field)
    if value in (None, ""):
        return None
    return _parse_date(value, field, label)


def _types_label(types: list[str]) -> str:
    labels = dict(InsuranceType.choices)
    return "、".join(str(labels[t]) for t in types)


def _start_fields(default_types: tuple, choices: tuple) -> list[FieldSpec]:
    return [
        FieldSpec(
            "insurance_types",
            gettext_lazy("参保险种"),
            "multichoice",
            choices=choices,
            default=[k for k, _label in default_types],
        ),
        FieldSpec("start_month", gettext_lazy("参保起始月"), "month", help=gettext_lazy("格式 YYYY-MM。")),
        FieldSpec(
            "end_other_pension",
            gettext_lazy("同时终止城乡居民养老保险"),
            "bool",
            required=False,
            help=gettext_lazy("已参加城乡居民养老保险的，自参保起始月起终止（同一月份只能参加一种养老保险）。"),
        ),
    ]


def _check_same_employer_overlap(person: Person, employer: Employer, types: list[str], start: datetime.date) -> None:
    running = list(
        Enrollment.objects.filter(person=person, employer=employer, insurance_type__in=types)
        .exclude(end_date__lt=start)
        .values_list("insurance_type", flat=True)
    )
    if running:
        raise ValidationError(
            {"insurance_types": [_("该人员已在本单位参加：%(t)s，参保期间不能重叠。") % {"t": _types_label(running)}]}
        )


def _check_start(person: Person, employer: Employer, types: list[str], start: datetime.date, end_other: bool) -> None:
    for itype in types:
        counter_services.enrollment_start_check(person=person, insurance_type=itype, start_date=start)
    _check_same_employer_overlap(person, employer, types, start)
    if InsuranceType.EMPLOYEE_PENSION in types and not end_other:
        other = counter_services.pension_conflict(
            person=person, insurance_type=InsuranceType.EMPLOYEE_PENSION, start_date=start
        )
        if other is not None:
            raise counter_services.pension_conflict_error(other, start)


class EmployeeEnrollmentHandler(Handler):
    """职工参保登记（五险合一）: one case, every chosen insurance; completing creates them in one transaction."""

    def fields(self, item):
        hire = FieldSpec(
            "hire_date",
            gettext_lazy("入职日期"),
            "date",
            required=False,
            help=gettext_lazy("超过 30 日办理登记的将标注（社会保险法第五十八条）。"),
        )
        return [*_start_fields(EMPLOYEE_CHOICES, EMPLOYEE_CHOICES), hire]

    def clean(self, *, item, person, employer, data, acting_user):
        if employer is None:
            raise ValidationError({"employer": [_("职工参保登记须选择参保单位。")]})
        types = _types(data, EMPLOYEE_CHOICES)
        start = _parse_month(data.get("start_month"), "start_month", _("参保起始月"))
        hire = _optional_date(data, "hire_date", _("入职日期"))
        end_other = _parse_bool(data.get("end_other_pension"))
        _check_start(person, employer, types, start, end_other)
        return {
            "insurance_types": types,
            "start_month": start.isoformat(),
            "hire_date": hire.isoformat() if hire else "",
            "late_registration": _late(hire, timezone.localdate()),
            "end_other_pension": end_other,
        }

    def subject_key(self, *, item, data):
        return "enroll:" + ",".join(data["insurance_types"])

    def perform(self, *, case, acting_user, public_base_url):
        data = case.form_data
        created = counter_services.enrollments_start(
            acting_user=acting_user,
            person=case.person,
            employer=case.employer,
            insurance_types=data["insurance_types"],
            start_date=datetime.date.fromisoformat(data["start_month"]),
            end_other_pension=bool(data.get("end_other_pension")),
            reason=_("职工参保登记（办件 %(n)s）") % {"n": case.number},
        )
        return _("已新增参保登记 %(n)d 项：%(t)s，自 %(m)s 起。") % {
            "n": len(created),
            "t": _types_label([e.insurance_type for e in created]),
            "m": data["start_month"][:7],
        }


def _employee_rows(data: dict) -> list[dict]:
    """The employee list as rows {line, id_number, name, hire_date}: from the page's form (already rows, with the
    upload's line numbers) or from text, one employee a line: number, name, hire date (comma or tab separated)."""
    raw = data.get("employees") or []
    if isinstance(raw, str):
        rows = []
        for line_no, line in enumerate(raw.splitlines(), start=1):
            parts = [p.strip() for p in line.replace("\t", ",").replace("，", ",").split(",")]
            if any(parts):
                rows.append({"line": line_no, "id_number": parts[0], "name": "", "hire_date": ""} | _tail(parts))
        return rows
    if not isinstance(raw, list):
        raise ValidationError({"employees": [_("人员名单格式不正确。")]})
    return [r for r in raw if isinstance(r, dict)]


def _tail(parts: list[str]) -> dict:
    return {"name": parts[1] if len(parts) > 1 else "", "hire_date": parts[2] if len(parts) > 2 else ""}


def _check_rows(rows: list[dict], *, need_name: bool) -> list[dict]:
    if not rows:
        raise ValidationError({"employees": [_("请填写或上传人员名单。")]})
    if len(rows) > MAX_EMPLOYEES:
        raise ValidationError({"employees": [_("一次最多办理 %(n)d 人。") % {"n": MAX_EMPLOYEES}]})
    errors, out, seen = [], [], set()
    for row in rows:
        line = row.get("line", "?")
        try:
            number = id_number_normalize(str(row.get("id_number") or ""))
        except ValidationError as exc:
            errors.append(_("第 %(l)s 行：%(m)s") % {"l": line, "m": "；".join(exc.messages)})
            continue
        if number in seen:
            errors.append(_("第 %(l)s 行：公民身份号码与前面的行重复。") % {"l": line})
            continue
        seen.add(number)
        hire = str(row.get("hire_date") or "").strip()
        try:
            hire = datetime.date.fromisoformat(hire).isoformat() if hire else ""
        except ValueError:
            errors.append(_("第 %(l)s 行：入职日期“%(d)s”格式应为 YYYY-MM-DD。") % {"l": line, "d": hire[:20]})
            continue
        name = str(row.get("name") or "").strip()[:50]
        out.append({"line": line, "id_number": number, "name": name, "hire_date": hire})
    if errors:
        raise ValidationError({"employees": errors})
    return out


def _list_hash(rows: list[dict], *extra: str) -> str:
    text = "|".join([*sorted(r["id_number"] for r in rows), *extra])
    return hashlib.sha256(text.encode()).hexdigest()[:32]


class StaffAddHandler(Handler):
    """单位增员: one or many employees (typed or from the employer's list) into the chosen employee insurances.

    An employee is found city-wide by the number he presents; one not yet registered is registered at the employer's
    office with the name on the list. Running enrollments at another employer (also of another district) end the
    month before (转移)."""

    def fields(self, item):
        employees = FieldSpec(
            "employees",
            gettext_lazy("增员名单"),
            "employees",
            required=False,
            help=gettext_lazy("每行一人：公民身份号码,姓名,入职日期（YYYY-MM-DD）；也可上传单位的名单文件。"),
        )
        return [employees, *_start_fields(EMPLOYEE_CHOICES, EMPLOYEE_CHOICES)]

    def clean(self, *, item, person, employer, data, acting_user):
        types = _types(data, EMPLOYEE_CHOICES)
        start = _parse_month(data.get("start_month"), "start_month", _("参保起始月"))
        end_other = _parse_bool(data.get("end_other_pension"))
        rows = _check_rows(_employee_rows(data), need_name=True)
        today, errors = timezone.localdate(), []
        for row in rows:
            try:
                self._check_one(row, employer, types, start, end_other)
            except ValidationError as exc:
                errors.append(_("第 %(l)s 行：%(m)s") % {"l": row["line"], "m": "；".join(exc.messages)})
            row["late"] = _late(datetime.date.fromisoformat(row["hire_date"]) if row["hire_date"] else None, today)
        if errors:
            raise ValidationError({"employees": errors})
        return {
            "employees": rows,
            "count": len(rows),
            "insurance_types": types,
            "start_month": start.isoformat(),
            "end_other_pension": end_other,
            "late_count": sum(1 for r in rows if r["late"]),
        }

    def _check_one(self, row: dict, employer: Employer, types: list[str], start: datetime.date, end_other: bool):
        person = person_by_number_citywide(row["id_number"])
        if person is None:
            if not row["name"]:
                raise ValidationError(_("该人员尚未在本市登记，请在名单中填写姓名以便一并登记。"))
            return
        _check_start(person, employer, types, start, end_other)

    def subject_key(self, *, item, data):
        return "add:" + _list_hash(data["employees"], *data["insurance_types"], data["start_month"])

    def perform(self, *, case, acting_user, public_base_url):
        data, employer = case.form_data, case.employer
        start = datetime.date.fromisoformat(data["start_month"])
        reason = _("单位增员（办件 %(n)s）") % {"n": case.number}
        # A counter list (≤ MAX_EMPLOYEES): each employee goes through the same checks as a single enrollment.
        for row in data["employees"]:
            person = person_by_number_citywide(row["id_number"]) or registry_services.person_create(
                acting_user=acting_user,
                id_number=row["id_number"],
                name=row["name"],
                household_type=HouseholdType.URBAN,
                residence_office=employer.office,
            )
            counter_services.enrollments_start(
                acting_user=acting_user,
                person=person,
                employer=employer,
                insurance_types=data["insurance_types"],
                start_date=start,
                end_other_pension=bool(data.get("end_other_pension")),
                reason=reason,
            )
        late = _("，其中 %(k)d 人超过入职后 30 日登记") % {"k": data["late_count"]} if data.get("late_count") else ""
        return _("已增员 %(n)d 人：%(t)s，自 %(m)s 起%(late)s。") % {
            "n": len(data["employees"]),
            "t": _types_label(data["insurance_types"]),
            "m": data["start_month"][:7],
            "late": late,
        }


class StaffRemoveHandler(Handler):
    """单位减员: the employees' enrollments at this employer end with the month before the chosen month."""

    def fields(self, item):
        return [
            FieldSpec(
                "employees",
                gettext_lazy("减员名单"),
                "employees",
                required=False,
                help=gettext_lazy("每行一人：公民身份号码（可跟姓名）；也可上传名单文件。"),
            ),
            FieldSpec(
                "end_month", gettext_lazy("停止缴费起始月"), "month", help=gettext_lazy("自该月起不再参保缴费。")
            ),
        ]

    def clean(self, *, item, person, employer, data, acting_user):
        end = _parse_month(data.get("end_month"), "end_month", _("停止缴费起始月"))
        rows = _check_rows(_employee_rows(data), need_name=False)
        qs = Enrollment.objects.filter(employer=employer, person__id_number__in=[r["id_number"] for r in rows])
        running = set(qs.exclude(end_date__lt=end).values_list("person__id_number", flat=True))
        too_new = set(qs.filter(start_date__gte=end).values_list("person__id_number", flat=True))
        errors = [
            _("第 %(l)s 行：该人员在本单位没有 %(m)s 仍在参保的登记。") % {"l": r["line"], "m": end.strftime("%Y-%m")}
            for r in rows
            if r["id_number"] not in running
        ] + [
            _("第 %(l)s 行：该人员自 %(m)s 或之后才参保，减员月份须晚于参保起始月。")
            % {"l": r["line"], "m": end.strftime("%Y-%m")}
            for r in rows
            if r["id_number"] in too_new
        ]
        if errors:
            raise ValidationError({"employees": errors})
        return {"employees": rows, "count": len(rows), "end_month": end.isoformat()}

    def subject_key(self, *, item, data):
        return "remove:" + _list_hash(data["employees"], data["end_month"])

    def perform(self, *, case, acting_user, public_base_url):
        data = case.form_data
        end = datetime.date.fromisoformat(data["end_month"])
        ended = 0
        for row in data["employees"]:
            person = Person.objects.get(id_number=row["id_number"])
            ended += len(
                counter_services.enrollments_end(
                    acting_user=acting_user,
                    person=person,
                    insurance_types=InsuranceType.values,
                    end_month=end,
                    employer=case.employer,
                    reason=_("单位减员（办件 %(n)s）") % {"n": case.number},
                )
            )
        return _("已减员 %(n)d 人（终止参保登记 %(e)d 项），自 %(m)s 起停止缴费。") % {
            "n": len(data["employees"]),
            "e": ended,
            "m": data["end_month"][:7],
        }


class EnrollmentEndHandler(Handler):
    """停保: the person's chosen enrollments (at the chosen employer, if any) end with the month before."""

    def fields(self, item):
        return [
            FieldSpec("insurance_types", gettext_lazy("停保险种"), "multichoice", choices=ALL_CHOICES, default=[]),
            FieldSpec(
                "end_month", gettext_lazy("停止缴费起始月"), "month", help=gettext_lazy("自该月起不再参保缴费。")
            ),
        ]

    def clean(self, *, item, person, employer, data, acting_user):
        types = _types(data, ALL_CHOICES)
        end = _parse_month(data.get("end_month"), "end_month", _("停止缴费起始月"))
        qs = Enrollment.objects.filter(person=person, insurance_type__in=types).exclude(end_date__lt=end)
        if employer is not None:
            qs = qs.filter(employer=employer)
        found = set(qs.values_list("insurance_type", flat=True))
        missing = [t for t in types if t not in found]
        if missing:
            raise ValidationError(
                {"insurance_types": [_("该人员没有仍在参保的：%(t)s。") % {"t": _types_label(missing)}]}
            )
        if qs.filter(start_date__gte=end).exists():
            raise ValidationError({"end_month": [_("停保月份不能早于或等于参保开始的月份。")]})
        return {"insurance_types": types, "end_month": end.isoformat()}

    def subject_key(self, *, item, data):
        return "end:" + ",".join(data["insurance_types"])

    def perform(self, *, case, acting_user, public_base_url):
        data = case.form_data
        ended = counter_services.enrollments_end(
            acting_user=acting_user,
            person=case.person,
            insurance_types=data["insurance_types"],
            end_month=datetime.date.fromisoformat(data["end_month"]),
            employer=case.employer,
            reason=_("停保（办件 %(n)s）") % {"n": case.number},
        )
        return _("已停保：%(t)s，自 %(m)s 起停止缴费。") % {
            "t": _types_label([e.insurance_type for e in ended]),
            "m": data["end_month"][:7],
        }


class DetailsChangeHandler(Handler):
    """个人信息变更 / 单位信息变更: the fields given (blank: unchanged); the case keeps each old and new value."""

    target = "person"
    specs: tuple[FieldSpec, ...] = ()

    def fields(self, item):
        return list(self.specs)

    def _record(self, person, employer):
        return person if self.target == "person" else employer

    def clean(self, *, item, person, employer, data, acting_user):
        record = self._record(person, employer)
        changes = {}
        for spec in self.specs:
            new = str(data.get(spec.name) or "").strip()
            if not new:
                continue
            if spec.choices and new not in dict(spec.choices):
                raise ValidationError({spec.name: [_("请选择有效的选项。")]})
            old = str(getattr(record, spec.name) or "")
            if new != old:
                changes[spec.name] = {"old": old, "new": new, "label": str(spec.label)}
        if not changes:
            raise ValidationError({"__all__": [_("没有填写任何与现有信息不同的变更内容。")]})
        return {"changes": changes}

    def subject_key(self, *, item, data):
        return f"change:{self.target}"

    def perform(self, *, case, acting_user, public_base_url):
        changes = {f: self._value(f, c["new"]) for f, c in case.form_data["changes"].items()}
        reason = _("%(item)s（办件 %(n)s）") % {"item": case.item.name, "n": case.number}
        if self.target == "person":
            registry_services.person_update(person=case.person, acting_user=acting_user, reason=reason, **changes)
        else:
            registry_services.employer_update(employer=case.employer, acting_user=acting_user, reason=reason, **changes)
        return _("已变更：%(list)s。") % {
            "list": "；".join(
                f"{c['label']} {c['old'] or '—'} → {c['new']}" for c in case.form_data["changes"].values()
            )
        }

    def _value(self, field: str, text: str) -> Any:
        return int(text) if field == "risk_class" else text


class PersonChangeHandler(DetailsChangeHandler):
    target = "person"
    specs = (
        FieldSpec("name", gettext_lazy("姓名"), "text", required=False, max_length=50),
        FieldSpec("phone", gettext_lazy("联系电话"), "text", required=False, max_length=20),
        FieldSpec("address", gettext_lazy("地址"), "text", required=False, max_length=200),
        FieldSpec(
            "household_type", gettext_lazy("户籍类型"), "choice", required=False, choices=tuple(HouseholdType.choices)
        ),
    )


class EmployerChangeHandler(DetailsChangeHandler):
    target = "employer"
    specs = (
        FieldSpec("name", gettext_lazy("单位名称"), "text", required=False, max_length=200),
        FieldSpec("legal_representative", gettext_lazy("法定代表人"), "text", required=False, max_length=50),
        FieldSpec("industry", gettext_lazy("行业"), "text", required=False, max_length=100),
        FieldSpec(
            "employer_type", gettext_lazy("单位类型"), "choice", required=False, choices=tuple(EmployerType.choices)
        ),
        FieldSpec(
            "risk_class",
            gettext_lazy("工伤风险类别"),
            "choice",
            required=False,
            choices=tuple((str(i), f"{i} 类") for i in range(1, 9)),
        ),
    )


COUNTER_HANDLERS: dict[str, Handler] = {
    Effect.EMPLOYEE_ENROLLMENT: EmployeeEnrollmentHandler(),
    Effect.STAFF_ADD: StaffAddHandler(),
    Effect.STAFF_REMOVE: StaffRemoveHandler(),
    Effect.ENROLLMENT_END: EnrollmentEndHandler(),
    Effect.PERSON_CHANGE: PersonChangeHandler(),
    Effect.EMPLOYER_CHANGE: EmployerChangeHandler(),
}
HANDLERS.update(COUNTER_HANDLERS)
