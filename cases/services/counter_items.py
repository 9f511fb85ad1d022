"""Handlers of the catalogue items that used to change nothing (issue 16): pension transfer out and in, maternity
allowance, work-injury disability subsidy, card application and replacement, and the resident pension enrollment
with the year's grade. Same protocol as ``effects.Handler`` (``fields`` / ``clean`` at intake, nothing written when
it fails / ``perform`` in the completing transaction); importing this module (``cases.services``) registers them in
``effects.HANDLERS``. The rules live in ``transfers``, ``one_off_benefits`` and ``cards``."""

from __future__ import annotations

import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from contributions.services import contribution_history_transfer_in, resident_pension_contribute
from policies import codes
from policies.selectors import ParameterNotFound, parameter_value
from registry.models import InsuranceType

from ..models import CardApplicationKind, CertificateKind, Effect
from ..pdf import format_code
from . import cards, one_off_benefits, transfers, work_injury_recognition
from .certificates import certificate_issue
from .effects import HANDLERS, EnrollmentHandler, FieldSpec, Handler
from .fields import field_choice, field_date, field_decimal, field_period, field_text


def _month_text(period: int) -> str:
    return f"{period // 100}-{period % 100:02d}"


def _not_future(day: datetime.date, field: str, label: Any) -> datetime.date:
    if day > timezone.localdate():
        raise ValidationError({field: [_("%(label)s不能晚于今天。") % {"label": label}]})
    return day


class TransferOutHandler(Handler):
    def fields(self, item):
        return [
            FieldSpec("destination", gettext_lazy("转入地"), "text", help=gettext_lazy("如：杭州市、江苏省南京市。")),
            FieldSpec("last_month", gettext_lazy("本市最后缴费月"), "month"),
        ]

    def clean(self, *, item, person, employer, data, acting_user):
        destination = field_text(data.get("destination"), "destination", _("转入地"), max_length=60)
        last = field_period(data.get("last_month"), "last_month", _("本市最后缴费月"))
        if last > int(timezone.localdate().strftime("%Y%m")):
            raise ValidationError({"last_month": [_("最后缴费月不能晚于本月。")]})
        transfers.transfer_out_check(person=person, last_period=last, acting_user=acting_user)
        return {"destination": destination, "last_month": _month_text(last)}

    def perform(self, *, case, acting_user, public_base_url):
        last = field_period(case.form_data["last_month"], "last_month", _("本市最后缴费月"))
        transfers.transfer_out_check(person=case.person, last_period=last, acting_user=acting_user)
        ended = transfers.transfer_out_end_enrollments(case=case, last_period=last, acting_user=acting_user)
        extra = transfers.transfer_certificate_content(
            person=case.person,
            acting_user=acting_user,
            destination=case.form_data["destination"],
            last_period=last,
            on=timezone.localdate(),
            office=case.intake_office,
        )
        certificate = certificate_issue(
            case=case,
            acting_user=acting_user,
            kind=CertificateKind.TRANSFER,
            public_base_url=public_base_url,
            content_extra=extra,
        )
        return _("养老保险关系已转出（终止参保登记 %(n)d 条），已出具参保缴费凭证，验证码 %(code)s。") % {
            "n": len(ended),
            "code": format_code(certificate.code),
        }


class TransferInHandler(Handler):
    def fields(self, item):
        return [
            FieldSpec("source_city", gettext_lazy("转出地"), "text", help=gettext_lazy("出具参保缴费凭证的城市。")),
            FieldSpec(
                "transfer_months",
                gettext_lazy("转入缴费期间"),
                "textarea",
                help=gettext_lazy(
                    "每行一段：起始年月 终止年月 月缴费基数 单位月缴费 个人月缴费，如 2015-01 2019-12 5000 800 400"
                ),
            ),
        ]

    def clean(self, *, item, person, employer, data, acting_user):
        city = field_text(data.get("source_city"), "source_city", _("转出地"), max_length=60)
        lines = transfers.transfer_lines_parse(data.get("transfer_months"))
        transfers.transfer_in_check(person=person, lines=lines)
        return {"source_city": city, "transfer_months": transfers.transfer_lines_jsonable(lines)}

    def perform(self, *, case, acting_user, public_base_url):
        district = cards.district_of(case.intake_office)
        months = contribution_history_transfer_in(
            person=case.person,
            insurance_type=InsuranceType.EMPLOYEE_PENSION,
            office=district,
            source_city=case.form_data["source_city"],
            lines=transfers.transfer_lines_from_json(case.form_data["transfer_months"]),
            case_id=case.pk,
        )
        return _("已记录自%(city)s转入的缴费 %(n)d 个月，计入累计缴费年限。") % {
            "city": case.form_data["source_city"],
            "n": months,
        }


class MaternityHandler(Handler):
    def fields(self, item):
        return [
            FieldSpec("birth_date", gettext_lazy("生育日期"), "date"),
            FieldSpec("birth_order", gettext_lazy("生育孩次"), "choice", choices=one_off_benefits.BIRTH_ORDERS),
        ]

    def _assess(self, person, employer, data, office):
        birth = _not_future(
            field_date(data.get("birth_date"), "birth_date", _("生育日期")), "birth_date", _("生育日期")
        )
        order = field_choice(data.get("birth_order"), "birth_order", _("生育孩次"), one_off_benefits.BIRTH_ORDERS)
        assessed = one_off_benefits.maternity_allowance_assess(
            person=person, employer=employer, birth_date=birth, birth_order=order, office=office
        )
        return birth, order, assessed

    def clean(self, *, item, person, employer, data, acting_user):
        office = getattr(acting_user, "office", None) or person.residence_office
        birth, order, assessed = self._assess(person, employer, data, office)
        return {"birth_date": birth.isoformat(), "birth_order": order, "preview_amount": str(assessed.amount)}

    def perform(self, *, case, acting_user, public_base_url):
        birth, _order, assessed = self._assess(case.person, case.employer, case.form_data, case.intake_office)
        award = one_off_benefits.one_off_award_create(
            case=case, acting_user=acting_user, insurance_type=InsuranceType.MATERNITY, month=birth, assessed=assessed
        )
        return _("已核定生育津贴 %(amount)s 元（产假 %(days)d 天，一次性发给）。") % {
            "amount": award.monthly_amount,
            "days": assessed.basis["leave_days"],
        }


class DisabilityHandler(Handler):
    def fields(self, item):
        return [
            FieldSpec("injury_date", gettext_lazy("受伤日期"), "date"),
            FieldSpec("grade", gettext_lazy("伤残等级"), "choice", choices=one_off_benefits.DISABILITY_GRADES),
            FieldSpec(
                "monthly_wage",
                gettext_lazy("本人工资（元/月）"),
                "text",
                help=gettext_lazy("工伤前 12 个月平均月缴费工资。"),
            ),
        ]

    def _assess(self, person, data, office):
        injured = _not_future(
            field_date(data.get("injury_date"), "injury_date", _("受伤日期")), "injury_date", _("受伤日期")
        )
        grade = field_choice(data.get("grade"), "grade", _("伤残等级"), one_off_benefits.DISABILITY_GRADES)
        wage = field_decimal(data.get("monthly_wage"), "monthly_wage", _("本人工资"))
        assessed = one_off_benefits.disability_subsidy_assess(
            person=person, injury_date=injured, grade=grade, monthly_wage=wage, office=office
        )
        return injured, grade, wage, assessed

    def clean(self, *, item, person, employer, data, acting_user):
        office = getattr(acting_user, "office", None) or person.residence_office
        injured, grade, wage, assessed = self._assess(person, data, office)
        return {
            "injury_date": injured.isoformat(),
            "grade": grade,
            "monthly_wage": str(wage),
            "preview_amount": str(assessed.amount),
        }

    def perform(self, *, case, acting_user, public_base_url):
        injured, grade, _wage, assessed = self._assess(case.person, case.form_data, case.intake_office)
        award = one_off_benefits.one_off_award_create(
            case=case,
            acting_user=acting_user,
            insurance_type=InsuranceType.WORK_INJURY,
            month=injured,
            assessed=assessed,
        )
        return _("已核定一次性伤残补助金 %(amount)s 元（%(grade)s 级伤残，%(months)d 个月本人工资）。") % {
            "amount": award.monthly_amount,
            "grade": grade,
            "months": assessed.basis["months"],
        }


class CardHandler(Handler):
    def __init__(self, kind: str):
        self.kind = kind

    def fields(self, item):
        return []

    def clean(self, *, item, person, employer, data, acting_user):
        cards.card_apply_check(person=person, kind=self.kind)
        return {}

    def perform(self, *, case, acting_user, public_base_url):
        application = cards.card_application_create(case=case, kind=self.kind, acting_user=acting_user)
        if self.kind == CardApplicationKind.REPLACEMENT:
            return _("原社保卡 %(card)s 已作废（已补换），新卡已进入待制卡队列。") % {
                "card": application.previous_card_number
            }
        return _("社保卡已申领，进入待制卡队列。")


def _grade_choices(on: datetime.date, person=None) -> tuple[tuple[str, str], ...]:
    office = person.residence_office if person is not None else None
    try:
        grades = parameter_value(codes.RES_PENSION_GRADES, on=on, office=office).value
    except ParameterNotFound:
        return ()
    return tuple(
        (
            str(g["grade"]),
            _("第 %(g)d 档：每年 %(a)s 元（政府补贴 %(s)s 元）")
            % {"g": g["grade"], "a": g["amount"], "s": g["subsidy"]},
        )
        for g in grades
    )


class ResidentPensionEnrollmentHandler(EnrollmentHandler):
    """城乡居民养老保险参保登记 (CJ-GR-002) with the year's grade (缴费档次, 国发〔2014〕8号): the enrollment as every
    registration makes it (start-date rules, one pension scheme a month), and with a grade chosen the year's bill of
    that grade with its subsidy (``resident_pension_contribute``). Without a grade the clerk records it later on the
    person's residents page."""

    def fields(self, item):
        return [
            *super().fields(item),
            FieldSpec(
                "grade",
                gettext_lazy("本年度缴费档次"),
                "choice",
                required=False,
                choices=_grade_choices(timezone.localdate()),
                help=gettext_lazy("按参保开始年度的档次表；可稍后在“城乡居民缴费”页选择，每年可重新选择。"),
            ),
        ]

    def clean(self, *, item, person, employer, data, acting_user):
        out = super().clean(item=item, person=person, employer=employer, data=data, acting_user=acting_user)
        if str(data.get("grade") or "").strip():
            start = datetime.date.fromisoformat(out["start_date"])
            choices = _grade_choices(start.replace(month=1, day=1), person)
            out["grade"] = field_choice(data.get("grade"), "grade", _("缴费档次"), choices)
        return out

    def perform(self, *, case, acting_user, public_base_url):
        summary = super().perform(case=case, acting_user=acting_user, public_base_url=public_base_url)
        grade = case.form_data.get("grade")
        if not grade:
            return summary
        year = datetime.date.fromisoformat(case.form_data["start_date"]).year
        bill = resident_pension_contribute(person=case.person, year=year, grade=int(grade), acting_user=acting_user)
        return summary + _("%(year)d 年按第 %(grade)s 档缴费 %(amount)s 元。") % {
            "year": year,
            "grade": grade,
            "amount": f"{bill.total:.2f}",
        }


class WorkInjuryRecognitionHandler(Handler):
    """工伤认定申请 with the accident date: the employer's and the worker's time limits (工伤保险条例第十七条)."""

    def fields(self, item):
        return [
            FieldSpec("accident_date", gettext_lazy("事故伤害发生日期"), "date"),
            FieldSpec(
                "applicant",
                gettext_lazy("申请人"),
                "choice",
                choices=(
                    (work_injury_recognition.APPLICANT_EMPLOYER, gettext_lazy("用人单位")),
                    (work_injury_recognition.APPLICANT_WORKER, gettext_lazy("职工或其近亲属")),
                ),
            ),
        ]

    def clean(self, *, item, person, employer, data, acting_user):
        accident = _not_future(
            field_date(data.get("accident_date"), "accident_date", _("事故伤害发生日期")),
            "accident_date",
            _("事故伤害发生日期"),
        )
        applicant = field_choice(data.get("applicant"), "applicant", _("申请人"), self.fields(item)[1].choices)
        check = work_injury_recognition.work_injury_application_check(
            accident_date=accident,
            applicant=applicant,
            received_on=timezone.localdate(),
            office=getattr(acting_user, "office", None),
        )
        return {
            "accident_date": accident.isoformat(),
            "applicant": applicant,
            "employer_limit": check.employer_limit.isoformat(),
            "worker_limit": check.worker_limit.isoformat(),
            "late_employer": check.late_employer,
            "late_note": check.note,
        }

    def perform(self, *, case, acting_user, public_base_url):
        if case.form_data.get("late_employer"):
            return _("工伤认定申请已受理并办结。") + case.form_data.get("late_note", "")
        return _("工伤认定申请已受理并办结（在申请时限内）。")


ITEM_HANDLERS: dict[str, Handler] = {
    Effect.RES_PENSION_ENROLLMENT: ResidentPensionEnrollmentHandler(),
    Effect.TRANSFER_OUT: TransferOutHandler(),
    Effect.TRANSFER_IN: TransferInHandler(),
    Effect.BENEFIT_MATERNITY: MaternityHandler(),
    Effect.BENEFIT_DISABILITY: DisabilityHandler(),
    Effect.CARD_APPLY: CardHandler(CardApplicationKind.NEW),
    Effect.CARD_REPLACE: CardHandler(CardApplicationKind.REPLACEMENT),
    Effect.WORK_INJURY_RECOGNITION: WorkInjuryRecognitionHandler(),
}
HANDLERS.update(ITEM_HANDLERS)
