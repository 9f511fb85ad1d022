"""Writes of the registry. Each function is one transaction, validates fully and records who acted."""

from __future__ import annotations

import datetime
import hashlib
import secrets
from typing import Any

from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connections, transaction
from django.db.models import F, QuerySet, Value
from django.db.models.functions import Concat, Substr
from django.utils import timezone
from django.utils.translation import gettext as _

from registry import roles
from registry.audit import audited_delete, audited_save
from registry.exceptions import PermissionDeniedError
from registry.feed.changes import change_events_record
from registry.identifiers import credit_code_normalize, credit_code_type_check, id_number_info
from registry.jurisdiction import office_in_jurisdiction
from registry.models import (
    EMPLOYEE_INSURANCES,
    FLEXIBLE_INSURANCES,
    ApiKey,
    CardStatus,
    Employer,
    Enrollment,
    Office,
    Person,
    SecurityEventKind,
    SensitiveAccess,
    SystemAccount,
    User,
)
from registry.names import name_pinyin
from registry.security.log import security_event_record
from registry.selectors import api_key_with_caller, enrollment_overlapping


class PersonRegisteredElsewhere(ValidationError):
    """The ID number is registered to a person outside the acting user's jurisdiction. The message names no
    data of that person; ``district`` (the district office of the record) is for the counter, where the person
    stands at the window with his card (the API answers 409 without it)."""

    def __init__(self, *, district: Office | None):
        super().__init__({"id_number": [_("已在本市其他辖区登记。")]}, code="registered_elsewhere")
        self.district = district


def _require_office(acting_user: Any, office: Office | None, field: str) -> None:
    if office is None:
        raise ValidationError({field: _("请选择经办机构。")})
    if not office_in_jurisdiction(acting_user, office):
        raise ValidationError({field: _("机构“%(office)s”不在您的辖区内。") % {"office": office.name}})


def person_prepare(person: Person) -> None:
    """Normalise the ID number and derive sex, birth date and pinyin (used by every write channel)."""
    try:
        info = id_number_info(person.id_number)
    except ValidationError as exc:
        raise ValidationError({"id_number": exc.messages}) from None
    person.id_number = info.number
    person.sex = info.sex
    person.birth_date = info.birth_date
    person.name = (person.name or "").strip()
    if not person.name:
        raise ValidationError({"name": _("请填写姓名。")})
    person.name_pinyin, person.name_initials = name_pinyin(person.name)
    person.card_number = (person.card_number or "").strip() or None
    if person.card_number is None and person.card_status not in ("", None, CardStatus.NONE, CardStatus.APPLIED):
        raise ValidationError({"card_status": _("没有社会保障卡号时，社保卡状态只能是“未制卡”或“已申领”。")})
    if person.card_number is None and person.card_status != CardStatus.APPLIED:
        person.card_status = CardStatus.NONE


@transaction.atomic
def person_create(
    *,
    acting_user: Any,
    id_number: str,
    name: str,
    household_type: str,
    residence_office: Office,
    phone: str = "",
    address: str = "",
    card_number: str | None = None,
    card_status: str = CardStatus.NONE,
) -> Person:
    _require_office(acting_user, residence_office, "residence_office")
    person = Person(
        id_number=id_number,
        name=name,
        household_type=household_type,
        residence_office=residence_office,
        phone=phone or "",
        address=address or "",
        card_number=card_number,
        card_status=card_status or CardStatus.NONE,
    )
    person_prepare(person)
    existing = Person.objects.filter(id_number=person.id_number).select_related("residence_office").first()
    if existing is not None:
        if office_in_jurisdiction(acting_user, existing.residence_office):
            raise ValidationError({"id_number": _("该公民身份号码已登记。")})
        # Outside the caller's jurisdiction: no more than that it exists (an existence oracle otherwise).
        code = existing.residence_office.district_code
        raise PersonRegisteredElsewhere(district=Office.objects.filter(code=code).first() if code else None)
    audited_save(person, acting_user=acting_user)
    return person


PERSON_EDITABLE = {"name", "household_type", "phone", "address", "residence_office", "card_number", "card_status"}


@transaction.atomic
def person_update(*, person: Person, acting_user: Any, reason: str = "", **changes: Any) -> Person:
    if not office_in_jurisdiction(acting_user, person.residence_office):
        raise Person.DoesNotExist
    unknown = set(changes) - PERSON_EDITABLE
    if unknown:
        raise ValidationError({f: _("该字段不可修改。") for f in sorted(unknown)})
    if "residence_office" in changes:
        _require_office(acting_user, changes["residence_office"], "residence_office")
    person = Person.objects.select_for_update().get(pk=person.pk)
    if person.merged_into_id is not None:
        raise ValidationError(
            {"__all__": _("该记录已合并到另一人员，不能再修改；请在保留的记录上修改。")}, code="person_tombstone"
        )
    for field, value in changes.items():
        setattr(person, field, value)
    person_prepare(person)
    audited_save(person, acting_user=acting_user, reason=reason)
    return person


@transaction.atomic
def person_tombstone_set(*, person: Person, survivor: Person, acting_user: Any, reason: str) -> list[int]:
    """Make ``person`` a tombstone of ``survivor`` (合并): it keeps its number, jurisdiction and everything
    recorded under it; selectors show the survivor with it. Tombstones of ``person`` now point at the survivor
    (chains stay one step long); their ids are returned, so that an undo can point them back.

    The caller (the data consolidation's merge) has decided that the two are one person and moves what is open.
    """
    locked = {p.pk: p for p in Person.objects.select_for_update().filter(pk__in=[person.pk, survivor.pk])}
    person, survivor = locked[person.pk], locked[survivor.pk]
    if person.pk == survivor.pk:
        raise ValidationError({"__all__": _("不能把人员合并到其本身。")})
    if person.merged_into_id is not None or survivor.merged_into_id is not None:
        raise ValidationError({"__all__": _("其中一条记录已经合并到其他人员，请刷新后重试。")}, code="person_tombstone")
    moved = list(Person.objects.filter(merged_into=person).values_list("pk", flat=True))
    for former in Person.objects.filter(pk__in=moved):
        former.merged_into = survivor
        audited_save(former, acting_user=acting_user, reason=reason)
    person.merged_into = survivor
    person.merged_at = timezone.now()
    audited_save(person, acting_user=acting_user, reason=reason)
    return moved


@transaction.atomic
def person_tombstone_clear(*, person: Person, acting_user: Any, reason: str, restore: list[int] = ()) -> Person:
    """Undo ``person_tombstone_set``: ``person`` is a person of its own again, and the tombstones in ``restore``
    point at it again."""
    person = Person.objects.select_for_update().get(pk=person.pk)
    if person.merged_into_id is None:
        raise ValidationError({"__all__": _("该记录没有被合并。")})
    for former in Person.objects.filter(pk__in=list(restore), merged_into_id=person.merged_into_id):
        former.merged_into = person
        audited_save(former, acting_user=acting_user, reason=reason)
    person.merged_into = None
    person.merged_at = None
    audited_save(person, acting_user=acting_user, reason=reason)
    return person


def employer_prepare(employer: Employer) -> None:
    try:
        employer.credit_code = credit_code_normalize(employer.credit_code)
    except ValidationError as exc:
        raise ValidationError({"credit_code": exc.messages}) from None
    employer.name = (employer.name or "").strip()
    employer.name_pinyin = name_pinyin(employer.name)[0][:400]


@transaction.atomic
def employer_create(
    *,
    acting_user: Any,
    credit_code: str,
    name: str,
    employer_type: str,
    office: Office,
    industry: str = "",
    risk_class: int = 1,
    status: str = "active",
    legal_representative: str = "",
) -> Employer:
    _require_office(acting_user, office, "office")
    employer = Employer(
        credit_code=credit_code,
        name=name,
        employer_type=employer_type,
        legal_representative=(legal_representative or "").strip(),
        office=office,
        industry=industry or "",
        risk_class=risk_class,
        status=status,
    )
    employer_prepare(employer)
    try:
        credit_code_type_check(employer.credit_code, employer.employer_type)
    except ValidationError as exc:
        raise ValidationError({"credit_code": exc.messages}) from None
    if Employer.objects.filter(credit_code=employer.credit_code).exists():
        raise ValidationError({"credit_code": _("该统一社会信用代码已登记。")})
    audited_save(employer, acting_user=acting_user)
    return employer


EMPLOYER_EDITABLE = {"name", "employer_type", "legal_representative", "industry", "risk_class", "office", "status"}


@transaction.atomic
def employer_update(*, employer: Employer, acting_user: Any, reason: str = "", **changes: Any) -> Employer:
    if not office_in_jurisdiction(acting_user, employer.office):
        raise Employer.DoesNotExist
    unknown = set(changes) - EMPLOYER_EDITABLE
    if unknown:
        raise ValidationError({f: _("该字段不可修改。") for f in sorted(unknown)})
    if "office" in changes:
        _require_office(acting_user, changes["office"], "office")
    employer = Employer.objects.select_for_update().get(pk=employer.pk)
    for field, value in changes.items():
        setattr(employer, field, value)
    employer_prepare(employer)
    audited_save(employer, acting_user=acting_user, reason=reason)
    return employer


def enrollment_prepare(enrollment: Enrollment) -> None:
    """Check the employer against the insurance type, set the handling office, refuse overlaps."""
    errors: dict[str, str] = {}
    itype = enrollment.insurance_type
    if enrollment.is_flexible:
        if itype not in FLEXIBLE_INSURANCES:
            errors["is_flexible"] = _("灵活就业人员只能参加职工基本养老保险和职工基本医疗保险。")
        elif enrollment.employer_id:
            errors["employer"] = _("灵活就业参保不填写参保单位。")
    elif itype in EMPLOYEE_INSURANCES and not enrollment.employer_id:
        errors["employer"] = _("职工险种必须填写参保单位。")
    elif itype not in EMPLOYEE_INSURANCES and enrollment.employer_id:
        errors["employer"] = _("城乡居民险种和被征地农民保障不填写参保单位。")
    if enrollment.start_date and enrollment.end_date and enrollment.end_date < enrollment.start_date:
        errors["end_date"] = _("参保终止日期不能早于开始日期。")
    if errors:
        raise ValidationError(errors)
    enrollment.office = enrollment.employer.office if enrollment.employer_id else enrollment.person.residence_office
    if enrollment.start_date and enrollment_overlapping(
        person_id=enrollment.person_id,
        insurance_type=itype,
        start_date=enrollment.start_date,
        end_date=enrollment.end_date,
        exclude_pk=enrollment.pk,
    ):
        raise ValidationError({"start_date": _("该人员在此期间已有同一险种的参保登记，参保期间不能重叠。")})


def _save_enrollment(enrollment: Enrollment, *, acting_user: Any, reason: str = "") -> None:
    try:
        with transaction.atomic():
            audited_save(enrollment, acting_user=acting_user, reason=reason)
    except IntegrityError as exc:
        # The no-overlap statement trigger (migration 0010; SQLSTATE 23P01, named enrollment_no_overlap) catches
        # a concurrent overlapping write that the check above could not see yet.
        if "enrollment_no_overlap" in str(exc):
            raise ValidationError(
                {"start_date": _("该人员在此期间已有同一险种的参保登记，参保期间不能重叠。")}
            ) from None
        raise


@transaction.atomic
def enrollment_create(
    *,
    acting_user: Any,
    person: Person,
    insurance_type: str,
    start_date: datetime.date,
    employer: Employer | None = None,
    is_flexible: bool = False,
    end_date: datetime.date | None = None,
) -> Enrollment:
    if not office_in_jurisdiction(acting_user, person.residence_office):
        raise ValidationError({"person": _("参保人员不在您的辖区内。")})
    if employer is not None and not office_in_jurisdiction(acting_user, employer.office):
        raise ValidationError({"employer": _("参保单位不在您的辖区内。")})
    enrollment = Enrollment(
        person=person,
        insurance_type=insurance_type,
        employer=employer,
        is_flexible=is_flexible,
        start_date=start_date,
        end_date=end_date,
    )
    enrollment_prepare(enrollment)
    _save_enrollment(enrollment, acting_user=acting_user)
    return enrollment


ENROLLMENT_EDITABLE = {"start_date", "end_date"}


@transaction.atomic
def enrollment_update(*, enrollment: Enrollment, acting_user: Any, reason: str = "", **changes: Any) -> Enrollment:
    if not office_in_jurisdiction(acting_user, enrollment.office):
        raise Enrollment.DoesNotExist
    unknown = set(changes) - ENROLLMENT_EDITABLE
    if unknown:
        raise ValidationError({f: _("该字段不可修改；请终止本登记并新建一条。") for f in sorted(unknown)})
    enrollment = (
        Enrollment.objects.select_for_update(of=("self",)).select_related("person", "employer").get(pk=enrollment.pk)
    )
    for field, value in changes.items():
        setattr(enrollment, field, value)
    enrollment_prepare(enrollment)
    _save_enrollment(enrollment, acting_user=acting_user, reason=reason)
    return enrollment


@transaction.atomic
def enrollment_repoint(*, enrollment: Enrollment, person: Person, acting_user: Any, reason: str) -> Enrollment:
    """Move an open enrollment to another person (a merge moves the tombstone's open enrollments to the survivor,
    an undo moves them back). The overlap rule applies as for any enrollment; the handling office follows."""
    enrollment = (
        Enrollment.objects.select_for_update(of=("self",)).select_related("person", "employer").get(pk=enrollment.pk)
    )
    enrollment.person = person
    enrollment_prepare(enrollment)
    _save_enrollment(enrollment, acting_user=acting_user, reason=reason)
    return enrollment


@transaction.atomic
def enrollment_withdraw(*, enrollment: Enrollment, acting_user: Any, reason: str) -> None:
    """Delete an enrollment that an undone merge created (nothing refers to an enrollment: bills and history
    point at persons); the deletion is in its history and the change feed."""
    enrollment = Enrollment.objects.select_for_update().get(pk=enrollment.pk)
    audited_delete(enrollment, acting_user=acting_user, reason=reason)


@transaction.atomic
def id_number_reveal(*, person: Person, acting_user: Any, channel: str, request_id: str = "") -> str:
    """The whole ID number, for roles allowed to see it; every reveal is logged."""
    if not office_in_jurisdiction(acting_user, person.residence_office):
        raise Person.DoesNotExist
    if not acting_user.has_perm("registry.view_full_id_number"):
        raise PermissionDeniedError(_("您的角色无权查看完整公民身份号码。"))
    SensitiveAccess.objects.create(
        user=acting_user,
        office=getattr(acting_user, "office", None),
        person=person,
        field="id_number",
        channel=channel,
        request_id=request_id[:64],
    )
    return person.id_number


def sensitive_access_record_many(
    *, acting_user: Any, person_ids: Any, channel: str, request_id: str = "", field: str = "id_number"
) -> int:
    """Log that whole numbers of many persons left the system at once (a file download, an export page):
    one ``SensitiveAccess`` row per person, written by one INSERT … SELECT from ``person_ids`` (a queryset of
    ``person_id`` values — ``values_list("person_id", flat=True)`` — or a list of ids). Returns the number of rows."""
    user_id = getattr(acting_user, "pk", None)
    if user_id is None:
        return 0
    office_id = getattr(acting_user, "office_id", None)
    now = timezone.now()
    if not isinstance(person_ids, QuerySet):
        ids = sorted({int(pk) for pk in person_ids if pk is not None})
        SensitiveAccess.objects.bulk_create(
            SensitiveAccess(
                user_id=user_id,
                office_id=office_id,
                person_id=pk,
                field=field,
                channel=channel,
                request_id=request_id[:64],
            )
            for pk in ids
        )
        return len(ids)
    db = person_ids.db
    sql, params = person_ids.distinct().query.sql_with_params()
    connection = connections[db]
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {SensitiveAccess._meta.db_table} (user_id, office_id, person_id, field, channel, request_id, at)
            SELECT %s, %s, s.person_id, %s, %s, %s, %s FROM ({sql}) s WHERE s.person_id IS NOT NULL
            """,
            [
                user_id,
                office_id,
                field,
                channel,
                request_id[:64],
                connection.ops.adapt_datetimefield_value(now),
                *params,
            ],
        )
        return cursor.rowcount


def _hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@transaction.atomic
def system_account_create(
    *,
    acting_user: Any,
    code: str,
    name: str,
    office: Office,
    role_names: list[str] | None = None,
    operations: list[str] | None = None,
    rate_limit_per_minute: int | None = None,
) -> SystemAccount:
    """A new external system with its service user. ``operations``: the API operations it may call
    (``["payment:write", "bill:read"]``, ``["*:read"]``); none unless granted."""
    _require_office(acting_user, office, "office")
    user = User(username=f"sys-{code}", office=office, is_system=True, is_staff=False)
    user.set_unusable_password()
    audited_save(user, acting_user=acting_user)
    user.groups.set(Group.objects.filter(name__in=role_names or [roles.SYSTEM]))
    account = SystemAccount(
        code=code,
        name=name,
        office=office,
        user=user,
        operations=sorted(set(operations or [])),
        rate_limit_per_minute=rate_limit_per_minute,
    )
    audited_save(account, acting_user=acting_user)
    return account


@transaction.atomic
def system_account_operations_set(*, account: SystemAccount, acting_user: Any, operations: list[str]) -> SystemAccount:
    """Replace the API operations a system may call (audited in the account's history)."""
    account.operations = sorted(set(operations))
    audited_save(account, acting_user=acting_user)
    return account


@transaction.atomic
def api_key_issue(
    *, account: SystemAccount, acting_user: Any, label: str = "", expires_at: datetime.datetime | None = None
) -> tuple[ApiKey, str]:
    """A new key; the old ones stay valid until revoked, so a system can rotate without downtime.

    The full key (``prefix.secret``) is returned once and never stored.
    """
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    key = ApiKey(account=account, prefix=prefix, key_hash=_hash_key(secret), label=label, expires_at=expires_at)
    key.full_clean()
    key.save()
    security_event_record(
        SecurityEventKind.API_KEY_ISSUED,
        user=account.user,
        actor=acting_user,
        detail={"account": account.code, "prefix": prefix, "label": label},
    )
    return key, f"{prefix}.{secret}"


@transaction.atomic
def api_key_revoke(*, key: ApiKey, acting_user: Any) -> ApiKey:
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
        security_event_record(
            SecurityEventKind.API_KEY_REVOKED,
            user=key.account.user,
            actor=acting_user,
            detail={"account": key.account.code, "prefix": key.prefix},
        )
    return key


def api_key_check(raw: str) -> ApiKey | None:
    """The valid key for ``prefix.secret``, or None (unknown, wrong secret, revoked, expired, inactive)."""
    prefix, _sep, secret = (raw or "").partition(".")
    if not prefix or not secret:
        return None
    key = api_key_with_caller(prefix=prefix)
    if key is None or not secrets.compare_digest(key.key_hash, _hash_key(secret)):
        return None
    now = timezone.now()
    if key.revoked_at is not None or (key.expires_at is not None and key.expires_at <= now):
        return None
    if not key.account.is_active or not key.account.user.is_active:
        return None
    if key.last_used_at is None or (now - key.last_used_at).total_seconds() > 60:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
    return key


@transaction.atomic
def office_save(*, office: Office, acting_user: Any) -> Office:
    """Create or change an office; its materialized path (and its subtree's) follows its parent."""
    errors: dict[str, str] = {}
    if office.level == 1:
        if office.parent_id:
            errors["parent"] = _("市级机构没有上级。")
    elif office.parent is None:
        errors["parent"] = _("请选择上级机构。")
    elif office.parent.level != office.level - 1:
        errors["level"] = _("层级必须比上级机构低一级。")
    if errors:
        raise ValidationError(errors)
    if office.parent_id and not office_in_jurisdiction(acting_user, office.parent):
        raise ValidationError({"parent": _("上级机构不在您的辖区内。")})
    old_path = Office.objects.filter(pk=office.pk).values_list("path", flat=True).first() if office.pk else None
    office.path = (office.parent.path if office.parent_id else "/") + office.code + "/"
    if office.parent_id and office.parent.path.startswith(old_path or "\0"):
        raise ValidationError({"parent": _("上级机构不能是本机构或其下级。")})
    audited_save(office, acting_user=acting_user)
    if old_path and old_path != office.path:
        Office.objects.filter(path__startswith=old_path).exclude(pk=office.pk).update(
            path=Concat(Value(office.path), Substr(F("path"), len(old_path) + 1))
        )
    return office


@transaction.atomic
def person_pinyin_refresh(*, person_ids: list[int]) -> int:
    """Recompute search pinyin (e.g. after a pypinyin upgrade changes a reading); returns rows changed."""
    persons = list(Person.objects.filter(pk__in=person_ids).only("pk", "name", "name_pinyin", "name_initials"))
    changed = []
    for person in persons:
        full, initials = name_pinyin(person.name)
        if (full, initials) != (person.name_pinyin, person.name_initials):
            person.name_pinyin, person.name_initials = full, initials
            changed.append(person)
    Person.objects.bulk_update(changed, ["name_pinyin", "name_initials"], batch_size=1000)
    if changed:  # bulk_update sends no signals: the change feed is told here
        change_events_record(
            change_type="person", queryset=Person.objects.filter(pk__in=[p.pk for p in changed]), op="updated"
        )
    return len(changed)
