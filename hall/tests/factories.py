"""Hall accounts and signed-in hall clients for tests."""

from __future__ import annotations

import itertools

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.contrib.sessions.backends.db import SessionStore
from django.test import Client
from django.utils import timezone

from hall.auth import SESSION_ACCOUNT, SESSION_HASH, _session_hash
from hall.models import AccountKind, AccountStatus, HallAccount, Right
from registry.models import Employer, Office, Person
from registry.tests.factories import EmployerFactory, PersonFactory

PASSWORD = "Hall#pass2026"
_phones = itertools.count(13800000001)


def next_phone() -> str:
    return str(next(_phones))


def person_account(person: Person | None = None, *, status: str = AccountStatus.ACTIVE, phone: str = "") -> HallAccount:
    person = person or PersonFactory()
    return HallAccount.objects.create(
        kind=AccountKind.PERSON,
        status=status,
        phone=phone or next_phone(),
        name=person.name,
        id_number=person.id_number,
        person=person,
        office=person.residence_office,
        password=make_password(PASSWORD),
        confirmed_at=timezone.now() if status == AccountStatus.ACTIVE else None,
    )


def employer_account(
    employer: Employer | None = None,
    *,
    kind: str = AccountKind.EMPLOYER_ADMIN,
    rights: list[str] | None = None,
    status: str = AccountStatus.ACTIVE,
) -> HallAccount:
    employer = employer or EmployerFactory()
    return HallAccount.objects.create(
        kind=kind,
        status=status,
        phone=next_phone(),
        name="王经办",
        id_number=PersonFactory.build().id_number,
        employer=employer,
        office=employer.office,
        rights=rights if rights is not None else [r.value for r in Right],
        password=make_password(PASSWORD),
    )


def hall_client(account: HallAccount) -> Client:
    """A client signed in to the hall as ``account`` (its own session cookie, as hall.auth.hall_login makes it)."""
    store = SessionStore()
    store[SESSION_ACCOUNT] = account.pk
    store[SESSION_HASH] = _session_hash(account)
    store.set_expiry(settings.HALL_SESSION_IDLE_MINUTES * 60)
    store.save()
    client = Client()
    client.cookies[settings.HALL_SESSION_COOKIE_NAME] = store.session_key
    return client


def _out_hall_account(township: Office) -> HallAccount:
    return person_account(PersonFactory(residence_office=township))


OUT_OF_JURISDICTION = {"hall.HallAccount": _out_hall_account}
