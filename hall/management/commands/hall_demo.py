"""Demo accounts of the online hall (a DEMO_DATA_HOOKS command of load_demo): one person of 黄岩 with an enrollment
and the administrator of an employer with employees, both open, with the demo password. Login codes go to the SMS
backend (the console in development: the code is in the server's log). Does nothing when hall accounts exist."""

from __future__ import annotations

from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand
from django.utils import timezone

from hall.models import AccountKind, AccountStatus, HallAccount, Right
from registry.models import Employer, Enrollment, Person

DEMO_PASSWORD = "Taizhou#Hall2026"  # noqa: S105 - printed by make run, like the staff demo password
PERSON_PHONE, EMPLOYER_PHONE = "13800000001", "13800000002"


class Command(BaseCommand):
    help = "Create the online hall's demo accounts (skipped when hall accounts exist)."

    def handle(self, *args, **options) -> None:
        if HallAccount.objects.exists():
            self.stdout.write("hall_demo: hall accounts exist already; nothing done.")
            return
        enrolled = Enrollment.objects.filter(office__path__startswith="/331000/331003/").values("person_id")
        person = Person.objects.filter(pk__in=enrolled, merged_into__isnull=True).order_by("id").first()
        employer = (
            Employer.objects.filter(office__path__startswith="/331000/331003/", enrollments__isnull=False)
            .order_by("id")
            .first()
        )
        if person is None or employer is None:
            self.stdout.write("hall_demo: no 黄岩 demo person or employer (run load_demo first).")
            return
        now = timezone.now()
        common = {"status": AccountStatus.ACTIVE, "password": make_password(DEMO_PASSWORD), "confirmed_at": now}
        HallAccount.objects.create(
            kind=AccountKind.PERSON, phone=PERSON_PHONE, name=person.name, id_number=person.id_number,
            person=person, office=person.residence_office, **common,
        )  # fmt: skip
        HallAccount.objects.create(
            kind=AccountKind.EMPLOYER_ADMIN, phone=EMPLOYER_PHONE, name="演示管理员", id_number=person.id_number,
            employer=employer, office=employer.office, rights=[r.value for r in Right], **common,
        )  # fmt: skip
        self.stdout.write(
            self.style.SUCCESS("Online hall (/hall/) demo accounts (password / then the SMS code in the log):")
        )
        self.stdout.write(f"  person   {PERSON_PHONE}  {DEMO_PASSWORD}  {person.name}")
        self.stdout.write(f"  employer {employer.credit_code} / {EMPLOYER_PHONE}  {DEMO_PASSWORD}  {employer.name}")
