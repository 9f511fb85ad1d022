"""Reference and demo data for trying the system: staff accounts per role and office, external system
accounts, and a small synthetic population (via seed_demo). Safe to run again: existing accounts stay."""

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.management import BaseCommand, call_command
from django.db import transaction

from registry import roles
from registry.models import Office, Person, SystemAccount, User
from registry.security import twofactor
from registry.services import api_key_issue, system_account_create, system_account_operations_set

# Printed for the demo set-up on purpose; it passes the password policy (registry.security.passwords).
DEMO_PASSWORD = "Taizhou#Shebao2026"  # noqa: S105
OLD_DEMO_PASSWORD = "Demo-2026!"  # noqa: S105 — demo databases loaded before the password policy

# username, name, office code (None = first township of the district), roles, is_staff
DEMO_STAFF = [
    ("admin", "系统管理员", "331000", [roles.CITY_ADMIN], True),
    ("city_admin", "市级管理员", "331000", [roles.CITY_ADMIN], True),
    ("city_fund", "基金科", "331000", [roles.FUND_OFFICER], False),
    ("city_policy", "政策科", "331000", [roles.POLICY_OFFICER], True),
    ("city_auditor", "审计员", "331000", [roles.AUDITOR], True),  # browses the audit logs in admin
    ("city_reviewer", "市中心审批", "331000", [roles.REVIEWER, roles.OFFICE_HEAD], False),
    ("hy_head", "黄岩中心负责人", "331003", [roles.OFFICE_HEAD, roles.REVIEWER], False),
    ("hy_reviewer", "黄岩审核", "331003", [roles.REVIEWER], False),
    ("hy_clerk", "黄岩区柜员", "331003", [roles.COUNTER_CLERK], False),
    ("hy_town_clerk", "东城街道柜员", "331003001", [roles.COUNTER_CLERK], False),
    ("jj_clerk", "椒江区柜员", "331002", [roles.COUNTER_CLERK], False),
    ("jj_reviewer", "椒江审核", "331002", [roles.REVIEWER], False),
    ("lq_clerk", "路桥区柜员", "331004", [roles.COUNTER_CLERK], False),
    ("lq_reviewer", "路桥审核", "331004", [roles.REVIEWER], False),
]


def _rw(*basenames: str) -> list[str]:
    return [f"{b}:{kind}" for b in basenames for kind in ("read", "write")]


def _r(*basenames: str) -> list[str]:
    return [f"{b}:read" for b in basenames]


# The API operations of each demo system (SystemAccount.operations; docs/api.md).
DISTRICT_OPERATIONS = (
    _r("office", "change")
    + _rw("person", "employer", "enrollment", "case", "case-attachment")
    + _r("service-item", "declaration", "bill", "payment", "arrears", "bill-run", "contribution-record")
)
AGENCY_OPERATIONS = (
    _r("bill", "payment", "employer", "person", "change", "arrears", "bill-export")
    + ["payment:write"]
    + _rw("payment-file")
)
PROVINCIAL_OPERATIONS = ["*:read"]

DEMO_SYSTEMS = [
    ("jiaojiang", "椒江区社保系统", "331002", DISTRICT_OPERATIONS),
    ("huangyan", "黄岩区社保系统", "331003", DISTRICT_OPERATIONS),
    ("luqiao", "路桥区社保系统", "331004", DISTRICT_OPERATIONS),
    ("tax", "台州市税务局（征收机构）", "331000", AGENCY_OPERATIONS),
    ("province", "浙江省社会保险系统", "331000", PROVINCIAL_OPERATIONS),
]


def _demo_second_factor(user: User) -> str:
    """The user's authenticator secret and unused backup codes (a device is made on the first run)."""
    device = twofactor.totp_device(user)
    if device is None:
        device = twofactor.two_factor_enrolment_start(user=user)
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        twofactor.backup_codes_regenerate(user=user)
    codes = [t.token for d in user.staticdevice_set.all() for t in d.token_set.order_by("id")]
    return (
        f"  {user.username:<15} TOTP {twofactor.totp_secret_base32(device)}  (now {twofactor.totp_code(device)})"
        f"  backup: {' '.join(codes[:5])}"
    )


class Command(BaseCommand):
    help = "Load demo staff, system accounts and a small synthetic population."

    def add_arguments(self, parser):
        parser.add_argument("--persons", type=int, default=400)
        parser.add_argument("--employers", type=int, default=40)

    def handle(self, *args, persons: int, employers: int, **options):
        roles.roles_sync()
        lines = []
        second_factors: list[str] = []
        with transaction.atomic():
            for username, name, code, role_names, is_staff in DEMO_STAFF:
                user, created = User.objects.get_or_create(
                    username=username,
                    defaults={"first_name": name, "office": Office.objects.get(code=code), "is_staff": is_staff},
                )
                if created or user.check_password(OLD_DEMO_PASSWORD):
                    user.set_password(DEMO_PASSWORD)
                    user.is_superuser = user.is_superuser or username == "admin"
                    user.save()
                if created:
                    user.groups.set(Group.objects.filter(name__in=role_names))
                lines.append(f"  {username:<15} {DEMO_PASSWORD:<18} {user.office.name} · {'、'.join(role_names)}")
                if twofactor.two_factor_required(user):
                    second_factors.append(_demo_second_factor(user))
            admin = User.objects.get(username="admin")
            keys = []
            for code, name, office_code, operations in DEMO_SYSTEMS:
                existing = SystemAccount.objects.filter(code=code).first()
                if existing is not None:
                    if not existing.operations:  # made before systems had operations
                        system_account_operations_set(account=existing, acting_user=admin, operations=operations)
                    continue
                account = system_account_create(
                    acting_user=admin,
                    code=code,
                    name=name,
                    office=Office.objects.get(code=office_code),
                    operations=operations,
                )
                _key, raw = api_key_issue(account=account, acting_user=admin, label="demo")
                keys.append(f"  {code:<10} Authorization: Api-Key {raw}")
        if Person.objects.count() < persons:
            call_command("seed_demo", persons=persons, employers=employers, stdout=self.stdout)
        for hook in getattr(settings, "DEMO_DATA_HOOKS", []):
            call_command(hook, stdout=self.stdout)
        self.stdout.write(self.style.SUCCESS("Demo accounts (username / password / office · roles):"))
        self.stdout.write("\n".join(lines))
        self.stdout.write(
            self.style.SUCCESS(
                "Second factor of the administrators and city-level staff: add the secret to an authenticator app "
                "(TOTP, 30 s, 6 digits) or log in with a backup code (each works once):"
            )
        )
        self.stdout.write("\n".join(second_factors))
        if keys:
            self.stdout.write(self.style.SUCCESS("API keys of the demo external systems (shown once):"))
            self.stdout.write("\n".join(keys))
        self.stdout.write("Open http://127.0.0.1:8000/ (clerk pages), /admin/ and /api/docs/.")
