"""Hall accounts: real-name registration with SMS, counter confirmation and activation codes, login with
throttling, password reset, employer agents and their rights.

A person account opens at once only when the verified phone is the one the registry holds for the person;
otherwise (and always for an employer administrator) it waits for a clerk: confirmation at a counter of the
account's office, or an activation code the clerk hands over. Until then it sees nothing.

``sms_code_check`` counts a wrong try in the database, so it is called before the atomic block of the write it
guards (a refusal must keep the count).
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import re
import secrets
from typing import Any

from django.conf import settings
from django.contrib.auth import password_validation
from django.contrib.auth.hashers import make_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from registry.exceptions import ApplicationError, PermissionDeniedError
from registry.identifiers import credit_code_normalize, id_number_normalize
from registry.jurisdiction import office_in_jurisdiction
from registry.models import Employer, Person

from ..models import AccountKind, AccountStatus, HallAccount, Right, SmsPurpose
from .sms_codes import sms_code_check

PHONE = re.compile(r"^1[3-9]\d{9}$")
_VALIDATORS = [
    password_validation.MinimumLengthValidator(8),
    password_validation.CommonPasswordValidator(),
    password_validation.NumericPasswordValidator(),
]


def _field(field: str, message: str) -> ValidationError:
    return ValidationError({field: [message]})


def phone_normalize(value: str) -> str:
    phone = re.sub(r"[\s-]", "", value or "").removeprefix("+86")
    if not PHONE.match(phone):
        raise _field("phone", _("请填写 11 位中国大陆手机号码。"))
    return phone


def password_check(password: str) -> None:
    try:
        password_validation.validate_password(password, password_validators=_VALIDATORS)
    except ValidationError as exc:
        raise ValidationError({"password": exc.messages}) from None


def person_for_registration(*, id_number: str, name: str, phone: str) -> Person:
    """The registry person an applicant names; refused (nothing written) when the number is unknown, the name
    differs, he already has an account or the phone is bound to someone else's account."""
    try:
        number = id_number_normalize(id_number)
    except ValidationError as exc:
        raise ValidationError({"id_number": exc.messages}) from None
    person = Person.objects.select_related("residence_office").filter(id_number=number).first()
    if person is None or person.is_tombstone:
        raise _field("id_number", _("该公民身份号码不在台州市区社保登记中，请先到经办机构办理参保登记。"))
    if person.name != (name or "").strip():
        raise _field("name", _("姓名与登记信息不一致。"))
    if HallAccount.objects.filter(kind=AccountKind.PERSON, person=person, status=AccountStatus.ACTIVE).exists():
        raise _field("id_number", _("该人员已注册网上办事大厅账户，请直接登录或找回密码。"))
    if HallAccount.objects.filter(kind=AccountKind.PERSON, phone=phone).exists():
        raise _field("phone", _("该手机号码已绑定其他人员的账户。"))
    return person


def person_account_register(*, id_number: str, name: str, phone: str, password: str, code: str) -> HallAccount:
    """Open a person account after the SMS code: active at once when the phone is the registry's, else pending."""
    phone = phone_normalize(phone)
    person = person_for_registration(id_number=id_number, name=name, phone=phone)
    password_check(password)
    sms_code_check(phone=phone, purpose=SmsPurpose.REGISTER, code=code)
    matches = phone_normalize_or_blank(person.phone) == phone
    account = HallAccount(
        kind=AccountKind.PERSON,
        status=AccountStatus.ACTIVE if matches else AccountStatus.PENDING,
        phone=phone,
        name=person.name,
        id_number=person.id_number,
        person=person,
        office=person.residence_office,
        password=make_password(password),
        phone_matches_registry=matches,
        confirmed_at=timezone.now() if matches else None,
    )
    return _save_new(account)


def phone_normalize_or_blank(value: str) -> str:
    try:
        return phone_normalize(value)
    except ValidationError:
        return ""


def _save_new(account: HallAccount) -> HallAccount:
    account.full_clean()
    try:
        with transaction.atomic():
            account.save()
    except IntegrityError:
        raise _field("phone", _("该手机号码已绑定其他账户。")) from None
    return account


def employer_for_registration(*, credit_code: str, employer_name: str, phone: str) -> Employer:
    try:
        code = credit_code_normalize(credit_code)
    except ValidationError as exc:
        raise ValidationError({"credit_code": exc.messages}) from None
    employer = Employer.objects.select_related("office").filter(credit_code=code).first()
    if employer is None:
        raise _field("credit_code", _("该统一社会信用代码不在台州市区参保单位登记中。"))
    if employer.name != (employer_name or "").strip():
        raise _field("employer_name", _("单位名称与登记信息不一致。"))
    if HallAccount.objects.filter(
        employer=employer, kind=AccountKind.EMPLOYER_ADMIN, status=AccountStatus.ACTIVE
    ).exists():
        raise _field("credit_code", _("该单位已有管理员账户；经办人账户由单位管理员添加。"))
    if HallAccount.objects.filter(employer=employer, phone=phone).exists():
        raise _field("phone", _("该手机号码已是本单位的账户。"))
    return employer


def employer_admin_register(
    *, credit_code: str, employer_name: str, name: str, id_number: str, phone: str, password: str, code: str
) -> HallAccount:
    """The employer's administrator (legal representative or agent): pending until a clerk confirms it."""
    phone = phone_normalize(phone)
    employer = employer_for_registration(credit_code=credit_code, employer_name=employer_name, phone=phone)
    try:
        number = id_number_normalize(id_number)
    except ValidationError as exc:
        raise ValidationError({"id_number": exc.messages}) from None
    if not (name or "").strip():
        raise _field("name", _("请填写法定代表人或经办人姓名。"))
    password_check(password)
    sms_code_check(phone=phone, purpose=SmsPurpose.REGISTER, code=code)
    account = HallAccount(
        kind=AccountKind.EMPLOYER_ADMIN,
        status=AccountStatus.PENDING,
        phone=phone,
        name=name.strip(),
        id_number=number,
        employer=employer,
        office=employer.office,
        rights=[r.value for r in Right],
        password=make_password(password),
    )
    return _save_new(account)


# ---------------------------------------------------------------------------------------------
# Counter confirmation and activation codes.


def _clerk_may_confirm(account: HallAccount, acting_user: Any) -> None:
    if not office_in_jurisdiction(acting_user, account.office):
        raise HallAccount.DoesNotExist
    if not acting_user.has_perm("hall.confirm_hallaccount"):
        raise PermissionDeniedError(_("只有柜员可以确认网上办事大厅账户。"))
    if account.status != AccountStatus.PENDING:
        raise ApplicationError(_("该账户不是待确认状态。"), code="not_pending")
    _no_other_open(account)


def _no_other_open(account: HallAccount) -> None:
    """A person (an employer) has one open account (administrator): another pending one is refused."""
    if account.kind == AccountKind.EMPLOYER_AGENT:
        return
    bound = {"person_id": account.person_id} if account.is_person else {"employer_id": account.employer_id}
    others = HallAccount.objects.filter(kind=account.kind, status=AccountStatus.ACTIVE, **bound).exclude(pk=account.pk)
    if others.exists():
        raise ApplicationError(_("已有一个已开通的账户，本账户不能再开通。"), {"code": [_("已有一个已开通的账户。")]})


@transaction.atomic
def account_confirm(*, account: HallAccount, acting_user: Any) -> HallAccount:
    """The clerk has seen the holder's identity document at the counter: the account opens."""
    account = HallAccount.objects.select_for_update().get(pk=account.pk)
    _clerk_may_confirm(account, acting_user)
    account.status = AccountStatus.ACTIVE
    account.confirmed_at = timezone.now()
    account.confirmed_by = acting_user
    account.activation_code_hash = ""
    account.activation_code_expires = None
    account.full_clean()
    account.save()
    return account


def _activation_hash(account: HallAccount, code: str) -> str:
    key = f"{settings.SECRET_KEY}:hall-activation".encode()
    return hmac.new(key, f"{account.uid}|{code.strip().upper()}".encode(), hashlib.sha256).hexdigest()


@transaction.atomic
def activation_code_issue(*, account: HallAccount, acting_user: Any) -> str:
    """A new activation code for the clerk to hand over (shown once; only its HMAC is kept)."""
    account = HallAccount.objects.select_for_update().get(pk=account.pk)
    _clerk_may_confirm(account, acting_user)
    code = "".join(secrets.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _i in range(8))
    account.activation_code_hash = _activation_hash(account, code)
    account.activation_code_expires = timezone.now() + datetime.timedelta(days=settings.HALL_ACTIVATION_CODE_DAYS)
    account.confirmed_by = acting_user
    account.full_clean()
    account.save()
    return code


@transaction.atomic
def account_activate(*, account: HallAccount, code: str) -> HallAccount:
    """The holder types the code the clerk handed over."""
    account = HallAccount.objects.select_for_update().get(pk=account.pk)
    if account.status != AccountStatus.PENDING:
        raise _field("code", _("该账户无需激活。"))
    if (
        not account.activation_code_hash
        or account.activation_code_expires is None
        or account.activation_code_expires <= timezone.now()
    ):
        raise _field("code", _("激活码无效或已过期，请到经办机构重新领取。"))
    if not hmac.compare_digest(account.activation_code_hash, _activation_hash(account, code or "")):
        raise _field("code", _("激活码不正确。"))
    _no_other_open(account)
    account.status = AccountStatus.ACTIVE
    account.confirmed_at = timezone.now()
    account.activation_code_hash = ""
    account.activation_code_expires = None
    account.save()
    return account


# ---------------------------------------------------------------------------------------------
# Passwords, agents, preferences.


def password_reset(*, phone: str, credit_code: str, code: str, password: str) -> HallAccount:
    phone = phone_normalize(phone)
    qs = HallAccount.objects.filter(phone=phone)
    qs = qs.filter(employer__credit_code=credit_code.strip().upper()) if credit_code else qs.filter(kind="person")
    account = qs.exclude(status=AccountStatus.DISABLED).first()
    password_check(password)
    sms_code_check(phone=phone, purpose=SmsPurpose.RESET, code=code)
    if account is None:
        raise _field("phone", _("没有使用该手机号码的账户。"))
    account.password = make_password(password)
    account.save(update_fields=["password"])
    return account


def agent_create(
    *, admin: HallAccount, name: str, id_number: str, phone: str, password: str, rights: list[str]
) -> HallAccount:
    """An employer administrator adds an agent with chosen rights (the agent logs in with password and SMS)."""
    if not admin.is_employer_admin or not admin.is_active:
        raise PermissionDeniedError(_("只有单位管理员可以添加经办人。"))
    phone = phone_normalize(phone)
    try:
        number = id_number_normalize(id_number)
    except ValidationError as exc:
        raise ValidationError({"id_number": exc.messages}) from None
    unknown = [r for r in rights if r not in Right.values]
    if unknown or not rights:
        raise _field("rights", _("请至少选择一项经办权限。"))
    if not (name or "").strip():
        raise _field("name", _("请填写经办人姓名。"))
    password_check(password)
    account = HallAccount(
        kind=AccountKind.EMPLOYER_AGENT,
        status=AccountStatus.ACTIVE,
        phone=phone,
        name=name.strip(),
        id_number=number,
        employer=admin.employer,
        office=admin.employer.office,
        rights=sorted(set(rights)),
        password=make_password(password),
        created_by=admin,
        confirmed_at=timezone.now(),
    )
    return _save_new(account)


@transaction.atomic
def agent_update(*, admin: HallAccount, agent: HallAccount, rights: list[str], active: bool) -> HallAccount:
    if (
        not admin.is_employer_admin
        or agent.employer_id != admin.employer_id
        or agent.kind != AccountKind.EMPLOYER_AGENT
    ):
        raise HallAccount.DoesNotExist
    if any(r not in Right.values for r in rights):
        raise _field("rights", _("经办权限无效。"))
    agent.rights = sorted(set(rights))
    agent.status = AccountStatus.ACTIVE if active else AccountStatus.DISABLED
    agent.save(update_fields=["rights", "status"])
    return agent


def notify_opt_out_set(*, account: HallAccount, opt_out: bool) -> HallAccount:
    account.notify_opt_out = bool(opt_out)
    account.save(update_fields=["notify_opt_out"])
    return account
