"""Certificates (参保证明, 个人权益记录): content, PDF, verification code, signature.

The verification code is random (16 characters without look-alikes); the certificate row keeps the
content shown, the SHA-256 of the PDF and an HMAC (SECRET_KEY) over content, code and PDF hash, so the
public check page (``/verify/<code>/``, no login) can tell a genuine certificate from an altered record.
"""

from __future__ import annotations

import secrets
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from contributions.selectors import contribution_months, resident_medical_waiting
from registry.audit import audited_save, recorded_user
from registry.identifiers import id_number_mask
from registry.models import InsuranceType

from .. import selectors
from ..certificate_codes import CODE_ALPHABET, CODE_LENGTH, certificate_signature, verify_url
from ..models import Case, Certificate, CertificateKind
from ..pdf import certificate_pdf
from .attachments import attachment_store_generated


def certificate_code_new() -> str:
    while True:
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        if not Certificate.objects.filter(code=code).exists():
            return code


def _masked_name(name: str) -> str:
    if len(name) <= 1:
        return name
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def _waiting_notes(enrollments) -> list[str]:
    """The date from which resident medical benefits are due, for each such enrollment with a waiting period
    (国办发〔2024〕38号, ``contributions.selectors.resident_medical_waiting``)."""
    notes = []
    for e in enrollments:
        if e.insurance_type != InsuranceType.RESIDENT_MEDICAL:
            continue
        waiting = resident_medical_waiting(e)
        if waiting.months:
            notes.append(
                _(
                    "城乡居民医保自 %(start)s 参保，待遇等待期 %(m)s 个月，自 %(from)s 起享受医保待遇（国办发〔2024〕38号）。"
                )
                % {"start": e.start_date.isoformat(), "m": waiting.months, "from": waiting.benefits_from.isoformat()}
            )
    return notes


def _content(case: Case, kind: str, *, on) -> dict[str, Any]:
    person = case.person
    base = {
        "kind": kind,
        "case_number": case.number,
        "office": case.intake_office.name,
        "issued_on": on.isoformat(),
        "person": {
            "name": person.name,
            "name_masked": _masked_name(person.name),
            "id_number_masked": id_number_mask(person.id_number),
            "sex": person.get_sex_display(),
            "birth_date": person.birth_date.isoformat(),
        },
    }
    if kind == CertificateKind.ENROLLMENT:
        enrollments = selectors.person_enrollments_all(person)
        rows = []
        for e in enrollments:
            active = e.end_date is None or e.end_date >= on
            rows.append(
                [
                    e.get_insurance_type_display(),
                    e.employer.name if e.employer_id else (_("灵活就业") if e.is_flexible else "—"),
                    e.start_date.isoformat(),
                    e.end_date.isoformat() if e.end_date else "—",
                    _("参保中") if active and e.start_date <= on else _("已终止") if not active else _("未开始"),
                    str(contribution_months(person, e.insurance_type)),
                ]
            )
        base.update(
            title=_("社会保险参保证明"),
            statement=_("兹证明下列人员在台州市区参加社会保险情况如下（截至 %(on)s）：") % {"on": on.isoformat()},
            headers=[_("险种"), _("参保单位"), _("参保开始"), _("参保终止"), _("状态"), _("累计缴费月数")],
            rows=rows,
            notes=[_("累计缴费月数为已足额到账的月数。"), _("本证明仅证明出具之日的参保情况。")]
            + _waiting_notes(enrollments),
        )
    elif kind == CertificateKind.RECORD:
        rows = []
        for insurance in InsuranceType:
            months = contribution_months(person, insurance.value)
            if months:
                rows.append([str(insurance.label), str(months)])
        base.update(
            title=_("个人社会保险权益记录"),
            statement=_("截至 %(on)s，该人员各险种累计缴费情况如下：") % {"on": on.isoformat()},
            headers=[_("险种"), _("累计缴费月数")],
            rows=rows,
            notes=[_("逐月明细可在经办机构查询打印。")],
        )
    return base


def certificate_issue(
    *, case: Case, acting_user: Any, kind: str, public_base_url: str = "", content_extra: dict | None = None
) -> Certificate:
    """Render and archive the certificate of a completing case (inside its transaction). ``content_extra``: the
    title, table and notes of a kind whose content its own service computes (the transfer's 参保缴费凭证)."""
    now = timezone.now()
    on = timezone.localdate(now)
    content = {**_content(case, kind, on=on), **(content_extra or {})}
    code = certificate_code_new()
    url = verify_url(code, public_base_url)
    content["verify_url"] = url
    pdf, embedded = certificate_pdf(content, code=code, verify_url=url)
    attachment = attachment_store_generated(
        case=case, acting_user=acting_user, content=pdf, name=f"{content['title']}-{case.number}.pdf"
    )
    certificate = Certificate(
        case=case,
        person=case.person,
        kind=kind,
        code=code,
        content=content,
        signature=certificate_signature(content=content, code=code, pdf_sha256=attachment.sha256),
        attachment=attachment,
        pdf_sha256=attachment.sha256,
        font_embedded=embedded,
        issued_at=now,
        issued_by=recorded_user(acting_user),
        issuing_office=case.intake_office,
    )
    audited_save(certificate, acting_user=acting_user)
    return certificate
