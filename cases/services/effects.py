"""What completing a case does, per ``ServiceItem.effect``, through the other apps' services.

Each handler says which item-specific fields the intake asks for (``fields``), checks them and the
applicant's eligibility at intake (``clean``: nothing is written when it fails) and does the business
effect when the case completes (``perform``, in the completing transaction: a failure rolls the whole
step back).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from registry import counter_services
from registry import services as registry_services
from registry.models import CardStatus, Employer, Enrollment, InsuranceType, Person

from .. import selectors
from ..models import Case, CertificateKind, Effect, ServiceItem
from ..pdf import format_code
from .benefits import benefit_assess, benefit_award_create
from .certificates import certificate_issue


@dataclass(frozen=True)
class FieldSpec:
    name: str
    label: Any
    kind: str  # "date", "month", "choice", "bool"; "multichoice", "text", "textarea", "employees" (counter_effects)
    required: bool = True
    choices: tuple[tuple[str, Any], ...] = ()
    help: Any = ""
    default: Any = None
    max_length: int = 200


def _parse_date(value: Any, field: str, label: str) -> datetime.date:
    if isinstance(value, datetime.date):
        return value
    try:
        return datetime.date.fromisoformat(str(value or "").strip())
    except ValueError:
        raise ValidationError({field: [_("%(label)s格式应为 YYYY-MM-DD。") % {"label": label}]}) from None


def _parse_month(value: Any, field: str, label: str) -> datetime.date:
    if isinstance(value, datetime.date):
        return value.replace(day=1)
    text = str(value or "").strip()
    try:
        if len(text) == 7:
            return datetime.date.fromisoformat(f"{text}-01")
        return datetime.date.fromisoformat(text).replace(day=1)
    except ValueError:
        raise ValidationError({field: [_("%(label)s格式应为 YYYY-MM。") % {"label": label}]}) from None


def _parse_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value or "").strip().lower() in {"1", "true", "on", "yes", "是"}


class Handler:
    def fields(self, item: ServiceItem) -> list[FieldSpec]:
        return []

    def clean(
        self, *, item: ServiceItem, person: Person | None, employer: Employer | None, data: dict, acting_user: Any
    ) -> dict:
        return {}

    def perform(self, *, case: Case, acting_user: Any, public_base_url: str) -> str:
        return _("已办结。")

    def subject_key(self, *, item: ServiceItem, data: dict) -> str:
        """What the application is about; with the item and the applicant it makes an open case unique (the
        database's case_open_once). Empty: no such rule for the item."""
        return ""


class EnrollmentHandler(Handler):
    def fields(self, item):
        out = []
        if not item.insurance_type:
            out.append(
                FieldSpec(
                    "insurance_type",
                    gettext_lazy("险种"),
                    "choice",
                    choices=tuple((k, v) for k, v in InsuranceType.choices),
                )
            )
        out.append(FieldSpec("start_date", gettext_lazy("参保开始日期"), "date"))
        if not item.insurance_type or item.insurance_type in (
            InsuranceType.EMPLOYEE_PENSION,
            InsuranceType.EMPLOYEE_MEDICAL,
        ):
            out.append(
                FieldSpec(
                    "is_flexible",
                    gettext_lazy("灵活就业"),
                    "bool",
                    required=False,
                    help=gettext_lazy("以灵活就业人员身份参加职工养老或医疗保险（不填参保单位）。"),
                )
            )
        return out

    def clean(self, *, item, person, employer, data, acting_user):
        insurance = item.insurance_type or str(data.get("insurance_type") or "").strip()
        if insurance not in InsuranceType.values:
            raise ValidationError({"insurance_type": [_("请选择险种。")]})
        start = _parse_date(data.get("start_date"), "start_date", _("参保开始日期"))
        flexible = _parse_bool(data.get("is_flexible"))
        enrollment = Enrollment(
            person=person, insurance_type=insurance, employer=employer, is_flexible=flexible, start_date=start
        )
        counter_services.enrollment_start_check(person=person, insurance_type=insurance, start_date=start)
        # 城乡养老保险制度衔接: one pension scheme a month. The case says so at intake (also for the hall and the
        # API, where no clerk is there to tick anything), and completing it ends the other scheme from that month.
        other = counter_services.pension_conflict(person=person, insurance_type=insurance, start_date=start)
        registry_services.enrollment_prepare(
            enrollment
        )  # employer/type rules and overlaps, as the registry checks them
        out = {"insurance_type": insurance, "start_date": start.isoformat(), "is_flexible": flexible}
        return out | ({"end_other_pension": True} if other is not None else {})

    def subject_key(self, *, item, data):
        return f"enroll:{data['insurance_type']}"

    def perform(self, *, case, acting_user, public_base_url):
        data = case.form_data
        start = datetime.date.fromisoformat(data["start_date"])
        if data.get("end_other_pension"):
            counter_services.enrollment_end_for_other_pension(
                acting_user=acting_user, person=case.person, insurance_type=data["insurance_type"], start_date=start
            )
        enrollment = registry_services.enrollment_create(
            acting_user=acting_user,
            person=case.person,
            insurance_type=data["insurance_type"],
            start_date=datetime.date.fromisoformat(data["start_date"]),
            employer=case.employer,
            is_flexible=bool(data.get("is_flexible")),
        )
        return _("已新增参保登记：%(type)s，自 %(start)s 起。") % {
            "type": enrollment.get_insurance_type_display(),
            "start": enrollment.start_date.isoformat(),
        }


class CertificateHandler(Handler):
    def __init__(self, kind: str):
        self.kind = kind

    def clean(self, *, item, person, employer, data, acting_user):
        if self.kind == CertificateKind.ENROLLMENT and not selectors.person_enrollments_all(person).exists():
            raise ValidationError({"person": [_("该人员没有参保登记，不能出具参保证明。")]})
        return {}

    def subject_key(self, *, item, data):
        return f"certificate:{self.kind}"

    def perform(self, *, case, acting_user, public_base_url):
        certificate = certificate_issue(
            case=case, acting_user=acting_user, kind=self.kind, public_base_url=public_base_url
        )
        return _("已出具%(kind)s，验证码 %(code)s。") % {
            "kind": certificate.get_kind_display(),
            "code": format_code(certificate.code),
        }


class CardLossHandler(Handler):
    def clean(self, *, item, person, employer, data, acting_user):
        if person.card_status != CardStatus.ACTIVE:
            raise ValidationError(
                {
                    "person": [
                        _("该人员社保卡状态为“%(status)s”，只有状态为“正常”的卡可以挂失。")
                        % {"status": person.get_card_status_display()}
                    ]
                }
            )
        return {}

    def perform(self, *, case, acting_user, public_base_url):
        person = Person.objects.get(pk=case.person_id)
        if person.card_status != CardStatus.ACTIVE:
            self.clean(item=case.item, person=person, employer=None, data={}, acting_user=acting_user)
        registry_services.person_update(
            person=person,
            acting_user=acting_user,
            reason=_("社保卡挂失（办件 %(number)s）") % {"number": case.number},
            card_status=CardStatus.LOST,
        )
        return _("社会保障卡 %(card)s 已挂失。") % {"card": person.card_number}


class BenefitHandler(Handler):
    def fields(self, item):
        return [
            FieldSpec(
                "start_month",
                gettext_lazy("待遇起始月"),
                "month",
                help=gettext_lazy("格式 YYYY-MM，通常为申请次月。"),
            )
        ]

    def clean(self, *, item, person, employer, data, acting_user):
        raw = data.get("start_month") or timezone.localdate().strftime("%Y-%m")
        start = _parse_month(raw, "start_month", _("待遇起始月"))
        office = getattr(acting_user, "office", None) or person.residence_office
        assessment = benefit_assess(item=item, person=person, start_month=start, office=office, acting_user=acting_user)
        return {
            "start_month": start.isoformat(),
            "preview_monthly_amount": str(assessment.monthly_amount),
            "preview_months": assessment.months,
        }

    def perform(self, *, case, acting_user, public_base_url):
        award = benefit_award_create(
            case=case, acting_user=acting_user, start_month=datetime.date.fromisoformat(case.form_data["start_month"])
        )
        if award.months:
            return _("已核定%(what)s：每月 %(amount)s 元，自 %(start)s 起共 %(months)d 个月。") % {
                "what": award.get_effect_display().removeprefix("核定"),
                "amount": award.monthly_amount,
                "start": award.start_month.strftime("%Y-%m"),
                "months": award.months,
            }
        return _("已核定%(what)s：每月 %(amount)s 元，自 %(start)s 起按月发放。") % {
            "what": award.get_effect_display().removeprefix("核定"),
            "amount": award.monthly_amount,
            "start": award.start_month.strftime("%Y-%m"),
        }


HANDLERS: dict[str, Handler] = {
    Effect.NONE: Handler(),
    Effect.ENROLLMENT: EnrollmentHandler(),
    Effect.CERTIFICATE_ENROLLMENT: CertificateHandler(CertificateKind.ENROLLMENT),
    Effect.CERTIFICATE_RECORD: CertificateHandler(CertificateKind.RECORD),
    Effect.CARD_LOSS: CardLossHandler(),
    Effect.BENEFIT_EMP_PENSION: BenefitHandler(),
    Effect.BENEFIT_UNEMPLOYMENT: BenefitHandler(),
    Effect.BENEFIT_RES_PENSION: BenefitHandler(),
    Effect.BENEFIT_LAND_FARMER: BenefitHandler(),
}


def handler_for(item: ServiceItem) -> Handler:
    return HANDLERS.get(item.effect, HANDLERS[Effect.NONE])


def effect_fields(item: ServiceItem) -> list[FieldSpec]:
    return handler_for(item).fields(item)
