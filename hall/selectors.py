"""Reads of the online hall. Every function takes the signed-in account and reads only its own person or
employer: an id of anyone else's record simply is not in the queryset (404, never data).

The other apps' selectors take a staff user for their jurisdiction check; the hall passes its channel user
(``hall_user``, a system user at the city office, who may see the whole city) and narrows every read to the
account's own person or employer itself.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from cases import selectors as case_selectors
from cases.models import Case, Certificate, ServiceItem
from contributions import selectors as contribution_selectors
from contributions.models import Bill, Declaration, ResidentPensionChoice
from payroll.models import Certification
from registry.models import Enrollment, Office, OfficeLevel, User

from .models import AccountKind, HallAccount, HallApplication, HallMessage

HALL_USERNAME = "hall-online"


def hall_user() -> User:
    """The hall's channel user (``is_system``): cases, events and attachments record it as the online channel."""
    user = User.objects.select_related("office").filter(username=HALL_USERNAME).first()
    if user is not None:
        return user
    user, _created = User.objects.get_or_create(
        username=HALL_USERNAME,
        defaults={
            "first_name": "网上办事大厅",
            "is_system": True,
            "office": Office.objects.get(level=OfficeLevel.CITY),
            "password": "!",  # unusable: nobody signs in as the channel
        },
    )
    return user


# ---------------------------------------------------------------------------------------------
# A person's own records.


def person_certifications(account: HallAccount) -> QuerySet[Certification]:
    """The account's own yearly certifications (待遇资格认证), newest first."""
    return Certification.objects.filter(person_id=account.person_id).order_by("-certified_on", "-pk")[:10]


def person_enrollments(account: HallAccount) -> QuerySet[Enrollment]:
    return (
        Enrollment.objects.filter(person_id=account.person_id)
        .select_related("employer", "office")
        .order_by("-start_date", "insurance_type")
    )


def person_record(account: HallAccount) -> contribution_selectors.ContributionRecord:
    return contribution_selectors.person_contribution_record(user=hall_user(), person=account.person)


def person_cases(account: HallAccount) -> QuerySet[Case]:
    return Case.objects.filter(person_id=account.person_id).select_related("item", "intake_office", "current_office")


def person_case_get(account: HallAccount, uid: Any) -> Case:
    """One case of the account's person; Case.DoesNotExist for anyone else's (and for a malformed id)."""
    try:
        return person_cases(account).select_related("hall_application", "rating").get(uid=uid)
    except (ValueError, Case.DoesNotExist):
        raise Case.DoesNotExist from None


def person_certificates(account: HallAccount) -> QuerySet[Certificate]:
    return (
        Certificate.objects.filter(person_id=account.person_id)
        .select_related("case", "attachment")
        .order_by("-issued_at")
    )


def person_certificate_get(account: HallAccount, uid: Any) -> Certificate:
    try:
        return person_certificates(account).get(uid=uid)
    except (ValueError, Certificate.DoesNotExist):
        raise Certificate.DoesNotExist from None


def pension_choices(account: HallAccount) -> QuerySet[ResidentPensionChoice]:
    return ResidentPensionChoice.objects.filter(person_id=account.person_id).order_by("-year")


def may_act(account: HallAccount, case: Case) -> bool:
    """The account submitted this case through the hall (or its employer did, and it may apply)."""
    application = getattr(case, "hall_application", None)
    if application is None:
        return False
    if account.is_person:
        return application.account_id == account.pk
    return application.employer_id == account.employer_id and account.has_right("apply")


def case_application(case: Case) -> HallApplication | None:
    return HallApplication.objects.filter(case=case).first()


# ---------------------------------------------------------------------------------------------
# The catalogue as the hall offers it.


def online_items(*, subjects: tuple[str, ...]) -> QuerySet[ServiceItem]:
    return (
        case_selectors.catalogue_items()
        .filter(offered_online=True, subject__in=subjects)
        .prefetch_related("steps", "materials")
    )


def online_item_get(*, code: str, subjects: tuple[str, ...]) -> ServiceItem:
    return online_items(subjects=subjects).get(code=code)


def intake_offices(account: HallAccount) -> QuerySet[Office]:
    """Offices the applicant may choose: those of his district (residence or employer's), community level up."""
    home = account.person.residence_office if account.is_person else account.employer.office
    district_path = "/".join(home.path.split("/")[:3]) + "/"
    return Office.objects.filter(path__startswith=district_path, is_active=True).order_by("path")


# ---------------------------------------------------------------------------------------------
# An employer's records.


def employer_staff(account: HallAccount) -> QuerySet[Enrollment]:
    on = timezone.localdate()
    return (
        Enrollment.objects.filter(employer_id=account.employer_id)
        .filter(Q(end_date__isnull=True) | Q(end_date__gte=on))
        .select_related("person")
        .order_by("person__name", "person_id", "insurance_type")
    )


def employer_bills(account: HallAccount) -> QuerySet[Bill]:
    return contribution_selectors.bill_list(user=hall_user(), employer=account.employer)


def employer_bill_get(account: HallAccount, uid: Any) -> Bill:
    try:
        return employer_bills(account).get(uid=uid)
    except (ValueError, Bill.DoesNotExist):
        raise Bill.DoesNotExist from None


def employer_arrears(account: HallAccount, *, on: datetime.date) -> QuerySet[Bill]:
    return contribution_selectors.arrears_list(user=hall_user(), on=on).filter(employer_id=account.employer_id)


def employer_declarations(account: HallAccount) -> QuerySet[Declaration]:
    return Declaration.objects.filter(employer_id=account.employer_id).order_by("-period")


def employer_cases(account: HallAccount) -> QuerySet[Case]:
    return Case.objects.filter(hall_application__employer_id=account.employer_id).select_related(
        "item", "person", "intake_office"
    )


def employer_case_get(account: HallAccount, uid: Any) -> Case:
    try:
        return employer_cases(account).select_related("hall_application", "rating").get(uid=uid)
    except (ValueError, Case.DoesNotExist):
        raise Case.DoesNotExist from None


def employer_agents(account: HallAccount) -> QuerySet[HallAccount]:
    return HallAccount.objects.filter(employer_id=account.employer_id, kind=AccountKind.EMPLOYER_AGENT).order_by("id")


def employer_agent_get(account: HallAccount, uid: Any) -> HallAccount:
    try:
        return employer_agents(account).get(uid=uid)
    except (ValueError, HallAccount.DoesNotExist):
        raise HallAccount.DoesNotExist from None


# ---------------------------------------------------------------------------------------------
# Messages; the counter's list of accounts waiting for confirmation.


def messages_for(account: HallAccount) -> QuerySet[HallMessage]:
    if account.is_person:
        return HallMessage.objects.filter(person_id=account.person_id)
    return HallMessage.objects.filter(employer_id=account.employer_id)


def unread_count(account: HallAccount) -> int:
    return messages_for(account).filter(read_at__isnull=True).count()


def pending_accounts(*, user: Any) -> QuerySet[HallAccount]:
    return (
        HallAccount.objects.visible_to(user)
        .filter(status="pending")
        .select_related("person", "employer", "office")
        .order_by("created_at")
    )


def pending_account_get(*, user: Any, uid: Any) -> HallAccount:
    try:
        return pending_accounts(user=user).get(uid=uid)
    except (ValueError, HallAccount.DoesNotExist):
        raise HallAccount.DoesNotExist from None
