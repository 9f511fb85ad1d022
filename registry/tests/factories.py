"""factory_boy factories for the registry, shared by every app's tests."""

from __future__ import annotations

import datetime
import itertools

import factory
from django.contrib.auth.models import Group
from stdnum.cn import ric, uscc

from registry import roles
from registry.models import Employer, Enrollment, InsuranceType, Office, Person, User
from registry.names import name_pinyin

_seq = itertools.count(1)


def make_id_number(area: str = "331003", birth: str = "19800101", seq: int | None = None) -> str:
    seq = next(_seq) % 1000 if seq is None else seq
    body = f"{area}{birth}{seq:03d}"
    return body + ric.calc_check_digit(body + "0")


def make_credit_code(area: str = "331003", n: int | None = None) -> str:
    n = next(_seq) if n is None else n
    body = f"91{area}{n:09d}"
    return body + uscc.calc_check_digit(body)


def office(code: str) -> Office:
    return Office.objects.get(code=code)


def township_of(district_code: str) -> Office:
    return Office.objects.filter(level=3, parent__code=district_code).order_by("code").first()


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"staff{n}")
    first_name = "测试"
    office = factory.LazyFunction(lambda: office("331003"))
    password = factory.PostGenerationMethodCall("set_password", "pass-12345")

    @factory.post_generation
    def roles(self, create, extracted, **kwargs):
        names = extracted if extracted is not None else [roles.COUNTER_CLERK]
        if names:
            roles.roles_sync()
            self.groups.set(Group.objects.filter(name__in=names))
        self.save()


class PersonFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Person

    id_number = factory.LazyFunction(make_id_number)
    name = factory.Iterator(["张伟", "王芳", "李娜", "刘洋", "陈静", "杨磊", "黄敏", "赵强"])
    household_type = "urban"
    residence_office = factory.LazyFunction(lambda: township_of("331003"))
    sex = factory.LazyAttribute(lambda o: "M" if int(o.id_number[16]) % 2 else "F")
    birth_date = factory.LazyAttribute(
        lambda o: datetime.date(int(o.id_number[6:10]), int(o.id_number[10:12]), int(o.id_number[12:14]))
    )
    name_pinyin = factory.LazyAttribute(lambda o: name_pinyin(o.name)[0])
    name_initials = factory.LazyAttribute(lambda o: name_pinyin(o.name)[1])


class EmployerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Employer

    credit_code = factory.LazyFunction(make_credit_code)
    name = factory.Sequence(lambda n: f"台州第{n}机械有限公司")
    name_pinyin = factory.LazyAttribute(lambda o: name_pinyin(o.name)[0])
    employer_type = "enterprise"
    industry = "制造业"
    risk_class = 2
    office = factory.LazyFunction(lambda: township_of("331003"))


class EnrollmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Enrollment

    person = factory.SubFactory(PersonFactory)
    insurance_type = InsuranceType.EMPLOYEE_PENSION
    employer = factory.SubFactory(EmployerFactory)
    start_date = datetime.date(2020, 1, 1)
    office = factory.LazyAttribute(lambda o: o.employer.office if o.employer else o.person.residence_office)


def _out_user(township: Office) -> User:
    return UserFactory(office=township.parent, roles=[])


def _out_sensitive_access(township: Office):
    from registry.models import SensitiveAccess

    person = PersonFactory(residence_office=township)
    return SensitiveAccess.objects.create(user=_out_user(township), person=person, channel="page")


def _out_system_account(township: Office):
    from registry.services import system_account_create

    admin = UserFactory(office=Office.objects.get(level=1), roles=[])
    return system_account_create(acting_user=admin, code=f"sys{next(_seq)}", name="路桥区系统", office=township.parent)


def _out_api_key(township: Office):
    from registry.services import api_key_issue

    account = _out_system_account(township)
    return api_key_issue(account=account, acting_user=None)[0]


def _out_change_event(township: Office):
    from registry.models import ChangeEvent

    person = PersonFactory(residence_office=township)
    return ChangeEvent.objects.get(change_type="person", object_id=str(person.uid))


def _out_webhook(township: Office):
    from registry.feed.webhooks import webhook_subscription_create

    account = _out_system_account(township)
    admin = UserFactory(office=Office.objects.get(level=1), roles=[])
    return webhook_subscription_create(account=account, acting_user=admin, url="https://lq.example/hook")[0]


def _out_webhook_delivery(township: Office):
    from django.utils import timezone

    from registry.models import WebhookDelivery

    return WebhookDelivery.objects.create(
        subscription=_out_webhook(township), change=_out_change_event(township), next_attempt_at=timezone.now()
    )


def _out_api_call_log(township: Office):
    from registry.models import ApiCallLog

    account = _out_system_account(township)
    return ApiCallLog.objects.create(
        system_account=account,
        user=account.user,
        office=account.office,
        method="GET",
        route="/api/v1/persons/",
        status=200,
        latency_ms=3,
        request_id="lq-call",
    )


# For the route-walking jurisdiction test: how to make a record of each model that lies in
# another district. Every app's tests/factories.py exposes such a dict.
OUT_OF_JURISDICTION = {
    Office: lambda township: township,
    User: _out_user,
    Person: lambda township: PersonFactory(residence_office=township),
    Employer: lambda township: EmployerFactory(office=township),
    Enrollment: lambda township: EnrollmentFactory(
        person=PersonFactory(residence_office=township), employer=EmployerFactory(office=township)
    ),
    "registry.SensitiveAccess": _out_sensitive_access,
    "registry.SystemAccount": _out_system_account,
    "registry.ApiKey": _out_api_key,
    "registry.ApiCallLog": _out_api_call_log,
    "registry.ChangeEvent": _out_change_event,
    "registry.WebhookSubscription": _out_webhook,
    "registry.WebhookDelivery": _out_webhook_delivery,
    "registry.SecurityEvent": lambda township: _security_event(township),
}


def _security_event(township: Office):
    from registry.models import SecurityEvent

    return SecurityEvent.objects.create(kind="login", username="lq_someone", office=township)
