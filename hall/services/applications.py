"""Applications through the hall: they become cases of the one workflow (``cases.services``) through the online
channel, with the counter's checks on fields and uploaded files. The hall acts as its channel user
(``selectors.hall_user``) and records which account submitted each case (``HallApplication``): only that account
(or its employer's accounts that may apply) uploads 补正 material, withdraws or rates.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from cases import services as case_services
from cases.models import Case, CaseRating, CaseState, Certificate, MaterialStatus, RatingChannel, ServiceItem, Subject
from cases.services.attachments import attachments_precheck
from contributions.models import Bill
from contributions.services import resident_pension_contribute
from payroll.models import Certification, CertificationChannel
from payroll.services import certification_record
from registry.exceptions import PermissionDeniedError
from registry.identifiers import id_number_normalize
from registry.models import Employer, Office, Person

from ..models import HallAccount, HallApplication
from ..selectors import hall_user, intake_offices, may_act

PERSON_SUBJECTS = (Subject.PERSON, Subject.PERSON_EMPLOYER)


def _require_active(account: HallAccount) -> None:
    if not account.is_active:
        raise PermissionDeniedError(_("账户尚未开通，请到经办机构确认或使用激活码激活。"))


def _check_item(item: ServiceItem, account: HallAccount) -> None:
    if not item.offered_online or not item.is_active:
        raise ValidationError({"item": [_("“%(name)s”暂不支持网上申请，请到经办机构办理。") % {"name": item.name}]})
    if account.is_person and item.subject not in PERSON_SUBJECTS:
        raise ValidationError({"item": [_("“%(name)s”须由参保单位申请。") % {"name": item.name}]})


def _check_office(account: HallAccount, office: Office | None) -> None:
    if office is not None and not intake_offices(account).filter(pk=office.pk).exists():
        raise ValidationError({"intake_office": [_("请选择本区的经办机构。")]})


@transaction.atomic
def application_submit(
    *,
    account: HallAccount,
    item: ServiceItem,
    form_data: dict,
    files: dict[str, Any],
    intake_office: Office | None = None,
    note: str = "",
    person: Person | None = None,
) -> Case:
    """Start an application: a case waiting for a clerk at the chosen office (or the residence office).

    ``files`` maps material codes to uploads; every file is checked before anything is stored. An employer names
    the employee (``person``) for an item about a person (增员, 减员)."""
    _require_active(account)
    _check_item(item, account)
    _check_office(account, intake_office)
    known = set(item.materials.filter(system_source="").values_list("code", flat=True))
    if any(code not in known for code in files):
        raise ValidationError({"files": [_("上传的材料不属于本事项。")]})
    attachments_precheck(list(files.values()))
    employer: Employer | None = None
    if account.is_person:
        person = account.person
    else:
        employer = account.employer
    user = hall_user()
    case = case_services.case_submit(
        acting_user=user,
        item=item,
        person=person,
        employer=employer,
        intake_office=intake_office,
        materials_provided=list(files),
        form_data=form_data,
        note=note,
    )
    for code, upload in files.items():
        case_services.attachment_add(case=case, acting_user=user, file=upload, material_code=code)
    HallApplication.objects.create(case=case, account=account, employer=employer)
    return case


def employee_for_application(*, id_number: str, name: str) -> Person:
    """The employee an employer names in an application (增员/减员): he must be in the registry, by his name."""
    try:
        number = id_number_normalize(id_number)
    except ValidationError as exc:
        raise ValidationError({"employee_id_number": exc.messages}) from None
    person = Person.objects.filter(id_number=number, merged_into__isnull=True).first()
    if person is None:
        raise ValidationError(
            {"employee_id_number": [_("该公民身份号码不在台州市区社保登记中，请先为职工办理个人信息登记。")]}
        )
    if person.name != (name or "").strip():
        raise ValidationError({"employee_name": [_("职工姓名与登记信息不一致。")]})
    return person


def certificate_self_issue(*, account: HallAccount, item: ServiceItem, public_base_url: str = "") -> Certificate:
    """The person issues himself a certificate at once (自助即办): same PDF and public check as the counter's."""
    _require_active(account)
    if not account.is_person:
        raise PermissionDeniedError(_("单位账户不能为个人出具证明。"))
    _check_item(item, account)
    with transaction.atomic():
        case = case_services.case_self_service(
            acting_user=hall_user(), item=item, person=account.person, public_base_url=public_base_url
        )
        HallApplication.objects.create(case=case, account=account)
    return Certificate.objects.get(case=case)


def _own(account: HallAccount, case: Case) -> None:
    if not may_act(account, case):
        raise Case.DoesNotExist  # another's case, or one taken in at a counter: 404


@transaction.atomic
def application_supplement(*, account: HallAccount, case: Case, files: dict[str, Any]) -> Case:
    """补正: upload every material the clerk asked for; the case resumes where it was."""
    _require_active(account)
    _own(account, case)
    if case.state != CaseState.SUSPENDED:
        raise ValidationError({"files": [_("本件当前不需要补正材料。")]})
    missing = set(case.materials.filter(status=MaterialStatus.MISSING).values_list("material__code", flat=True))
    if not files:
        raise ValidationError({"files": [_("请上传需补正的材料。")]})
    if any(code not in missing for code in files):
        raise ValidationError({"files": [_("上传的材料不是本件需补正的材料。")]})
    attachments_precheck(list(files.values()))
    user = hall_user()
    for code, upload in files.items():
        case_services.attachment_add(case=case, acting_user=user, file=upload, material_code=code)
    return case_services.case_resume(
        case=case, acting_user=user, materials_received=list(files), note=_("申请人网上补正材料")
    )


def application_withdraw(*, account: HallAccount, case: Case, reason: str) -> Case:
    _require_active(account)
    _own(account, case)
    return case_services.case_withdraw(case=case, acting_user=hall_user(), reason=reason)


def application_rate(*, account: HallAccount, case: Case, score: int, comment: str = "") -> CaseRating:
    """好差评 of the applicant's own closed case (any channel: a counter case not yet rated on the tablet too)."""
    _require_active(account)
    own = case.person_id == account.person_id if account.is_person else may_act(account, case)
    if not own:
        raise Case.DoesNotExist
    return case_services.case_rating_create(
        case=case, score=score, comment=comment, channel=RatingChannel.ONLINE, acting_user=None
    )


def pension_grade_choose(*, account: HallAccount, grade: int) -> Bill:
    """The resident pension grade for next year (the bill of the year is issued with it)."""
    _require_active(account)
    if not account.is_person:
        raise PermissionDeniedError(_("只有个人账户可以选择缴费档次。"))
    year = timezone.localdate().year + 1
    return resident_pension_contribute(person=account.person, year=year, grade=grade, acting_user=hall_user())


def certification_online(*, account: HallAccount) -> Certification:
    """The yearly certification of a benefit recipient, by himself online (人社厅发〔2018〕107号: 本人通过网上渠道
    确认). The hall's login (password and an SMS code to the registered phone) stands in for the face check of a
    production system; payroll refuses a person without a running benefit."""
    _require_active(account)
    if not account.is_person:
        raise PermissionDeniedError(_("只有个人账户可以进行待遇资格认证。"))
    return certification_record(
        person=account.person,
        certified_on=timezone.localdate(),
        channel=CertificationChannel.ONLINE,
        acting_user=hall_user(),
        note=_("网上办事大厅本人认证"),
    )
