"""Staff roles as Django groups. The mapping is data: ``roles_sync`` (run after every
migrate) creates the groups and gives them exactly these permissions."""

from __future__ import annotations

from django.contrib.auth.models import Group, Permission
from django.utils.translation import gettext_lazy as _

COUNTER_CLERK = "柜员"
REVIEWER = "审核"
OFFICE_HEAD = "负责人"
FUND_OFFICER = "基金管理"
POLICY_OFFICER = "政策管理"
CITY_ADMIN = "市级管理员"
AUDITOR = "审计（只读）"
SYSTEM = "外部系统"

ROLE_LABELS = {
    COUNTER_CLERK: _("柜员"),
    REVIEWER: _("审核"),
    OFFICE_HEAD: _("负责人"),
    FUND_OFFICER: _("基金管理"),
    POLICY_OFFICER: _("政策管理"),
    CITY_ADMIN: _("市级管理员"),
    AUDITOR: _("审计（只读）"),
    SYSTEM: _("外部系统"),
}

_REGISTRY_VIEW = [
    "registry.view_office",
    "registry.view_person",
    "registry.view_employer",
    "registry.view_enrollment",
]
_REGISTRY_EDIT = [
    "registry.add_person",
    "registry.change_person",
    "registry.add_employer",
    "registry.change_employer",
    "registry.add_enrollment",
    "registry.change_enrollment",
]

# Later apps append their permission strings here (plain strings: no import of those apps).
ROLE_PERMISSIONS: dict[str, list[str]] = {
    COUNTER_CLERK: _REGISTRY_VIEW + _REGISTRY_EDIT,
    REVIEWER: _REGISTRY_VIEW + _REGISTRY_EDIT + ["registry.view_full_id_number"],
    OFFICE_HEAD: _REGISTRY_VIEW + _REGISTRY_EDIT + ["registry.view_full_id_number", "registry.view_user"],
    FUND_OFFICER: _REGISTRY_VIEW,
    POLICY_OFFICER: _REGISTRY_VIEW,
    CITY_ADMIN: _REGISTRY_VIEW
    + _REGISTRY_EDIT
    + [
        "registry.view_full_id_number",
        "registry.change_office",
        "registry.add_office",
        "registry.view_user",
        "registry.add_user",
        "registry.change_user",
        "registry.view_systemaccount",
        "registry.add_systemaccount",
        "registry.change_systemaccount",
        "registry.view_apikey",
        "registry.add_apikey",
        "registry.change_apikey",
    ],
    # The audit logs (sensitive access, security events) are the auditors' alone (registry/security/admin.py).
    AUDITOR: _REGISTRY_VIEW + ["registry.view_sensitiveaccess", "registry.view_securityevent", "registry.view_user"],
    SYSTEM: _REGISTRY_VIEW + _REGISTRY_EDIT,
}


# policies: documents, parameters and the working-day calendar are read by every role; policy officers
# maintain documents and parameters and propose clean-up decisions; only city administrators approve those
# decisions, and they maintain the calendar. (New lists, not in-place extends: several roles share the
# _REGISTRY_VIEW list object.)
_POLICIES_VIEW = [
    "policies.view_policydocument",
    "policies.view_parameter",
    "policies.view_parametervalue",
    "policies.view_policydecision",
    "policies.view_calendaryear",
    "policies.view_calendarday",
]
for _role in list(ROLE_PERMISSIONS):
    ROLE_PERMISSIONS[_role] = ROLE_PERMISSIONS[_role] + _POLICIES_VIEW
ROLE_PERMISSIONS[POLICY_OFFICER] = ROLE_PERMISSIONS[POLICY_OFFICER] + [
    "policies.add_policydocument",
    "policies.change_policydocument",
    "policies.add_parameter",
    "policies.change_parameter",
    "policies.add_parametervalue",
    "policies.change_parametervalue",
    "policies.add_policydecision",
]
ROLE_PERMISSIONS[CITY_ADMIN] = (
    ROLE_PERMISSIONS[CITY_ADMIN]
    + ["policies.approve_policydecision"]
    + [f"policies.{a}_{m}" for m in ("calendaryear", "calendarday") for a in ("add", "change", "delete")]
)


# contributions: counter clerks see bills and declarations and declare; reviewers and office heads
# also run the monthly assessment; the collecting agency (SYSTEM) reads bills, reports payments and
# declarations; auditors read everything; city administrators may do everything.
_CONTRIBUTIONS_MODELS = [
    "declaration",
    "declarationline",
    "billrun",
    "bill",
    "billline",
    "billtotal",
    "payment",
    "paymentallocation",
    "workinjuryfloat",
    "residentpensionchoice",
    "residentmedicalrun",
    "latefeewaiver",
    "paymentorder",
    "penaltydecision",
]
_CONTRIBUTIONS_CLERK = [
    "contributions.view_bill",
    "contributions.view_billline",
    "contributions.view_billtotal",
    "contributions.view_payment",
    "contributions.view_paymentallocation",
    "contributions.view_declaration",
    "contributions.view_declarationline",
    "contributions.add_declaration",
    # Residents and land-expropriated farmers at the counter (a grade chosen, a yearly or one-off bill issued).
    "contributions.view_residentpensionchoice",
    "contributions.add_residentpensionchoice",
    # Enforcement of arrears (社会保险法第八十六条): every clerk sees waivers, orders to pay and penalties.
    "contributions.view_latefeewaiver",
    "contributions.view_paymentorder",
    "contributions.view_penaltydecision",
]
# Reviewers and office heads propose and approve waivers, issue orders to pay and propose penalties; only office
# heads approve a penalty. The proposer never approves his own proposal (the services refuse it).
_CONTRIBUTIONS_ENFORCEMENT = [
    "contributions.add_latefeewaiver",
    "contributions.change_latefeewaiver",
    "contributions.add_paymentorder",
    "contributions.add_penaltydecision",
]
_CONTRIBUTIONS_RUNS = [
    "contributions.view_billrun",
    "contributions.add_billrun",
    "contributions.change_billrun",
    "contributions.view_residentmedicalrun",
    "contributions.add_residentmedicalrun",
]
_contributions_grants = {
    COUNTER_CLERK: _CONTRIBUTIONS_CLERK,
    REVIEWER: _CONTRIBUTIONS_CLERK + _CONTRIBUTIONS_RUNS + _CONTRIBUTIONS_ENFORCEMENT,
    OFFICE_HEAD: _CONTRIBUTIONS_CLERK
    + _CONTRIBUTIONS_RUNS
    + _CONTRIBUTIONS_ENFORCEMENT
    + ["contributions.view_workinjuryfloat", "contributions.change_penaltydecision"],
    CITY_ADMIN: [f"contributions.{a}_{m}" for m in _CONTRIBUTIONS_MODELS for a in ("view", "add", "change", "delete")],
    AUDITOR: [f"contributions.view_{m}" for m in _CONTRIBUTIONS_MODELS],
    SYSTEM: [
        "contributions.view_bill",
        "contributions.view_billline",
        "contributions.view_billtotal",
        "contributions.add_payment",
        "contributions.add_declaration",
        # Reading payments and declarations back (and their change events); each system's operations
        # (SystemAccount.operations) decide which of these routes it may actually call.
        "contributions.view_payment",
        "contributions.view_paymentallocation",
        "contributions.view_declaration",
        "contributions.view_declarationline",
    ],
}
for _role, _perms in _contributions_grants.items():
    ROLE_PERMISSIONS[_role] = ROLE_PERMISSIONS[_role] + _perms

# contributions, files exchanged with the collecting agency: every clerk sees the reconciliation of his
# offices; reviewers and office heads import payment files (strict), correct kept lines and write bill files
# (which carry full ID numbers, as the agency needs them); only city administrators may import a file
# skipping its bad lines; the agency (SYSTEM) downloads bill files and uploads payment files.
_EXCHANGE_MODELS = ["billexport", "paymentfile", "paymentfileline", "reconciliationitem", "reconciliationsummary"]
_EXCHANGE_READ = [
    "contributions.view_paymentfile",
    "contributions.view_paymentfileline",
    "contributions.view_reconciliationitem",
    "contributions.view_reconciliationsummary",
]
_EXCHANGE_WORK = _EXCHANGE_READ + [
    "contributions.add_paymentfile",
    "contributions.change_paymentfileline",
    "contributions.view_billexport",
    "contributions.add_billexport",
]
_exchange_grants = {
    COUNTER_CLERK: _EXCHANGE_READ,
    REVIEWER: _EXCHANGE_WORK,
    OFFICE_HEAD: _EXCHANGE_WORK,
    CITY_ADMIN: [f"contributions.{a}_{m}" for m in _EXCHANGE_MODELS for a in ("view", "add", "change")]
    + ["contributions.import_skip_bad"],
    AUDITOR: [f"contributions.view_{m}" for m in _EXCHANGE_MODELS],
    SYSTEM: _EXCHANGE_READ + ["contributions.view_billexport", "contributions.add_paymentfile"],
}
for _role, _perms in _exchange_grants.items():
    ROLE_PERMISSIONS[_role] = ROLE_PERMISSIONS[_role] + _perms


# cases: every staff role reads the catalogue; clerks, reviewers and office heads handle cases
# (which step each may do is the catalogue's data: cases.rules); office heads and fund officers
# record benefit payments; external systems submit applications and attachments; city
# administrators maintain the catalogue (the holiday calendar is policies').
_CASES_READ = [
    "cases.view_serviceitem",
    "cases.view_serviceitemstep",
    "cases.view_serviceitemmaterial",
]
_CASES_HANDLE = _CASES_READ + [
    "cases.view_case",
    "cases.add_case",
    "cases.change_case",
    "cases.view_casematerial",
    "cases.view_caseevent",
    "cases.view_attachment",
    "cases.add_attachment",
    "cases.view_certificate",
    "cases.view_benefitaward",
    "cases.view_benefitpayment",
]
_CASES_ADMIN_MODELS = ["serviceitem", "serviceitemstep", "serviceitemmaterial"]
_cases_grants = {
    COUNTER_CLERK: _CASES_HANDLE,
    REVIEWER: _CASES_HANDLE,
    OFFICE_HEAD: _CASES_HANDLE + ["cases.add_benefitpayment", "cases.view_overduenotice"],
    FUND_OFFICER: _CASES_READ + ["cases.view_benefitaward", "cases.view_benefitpayment", "cases.add_benefitpayment"],
    POLICY_OFFICER: _CASES_READ,
    CITY_ADMIN: _CASES_HANDLE
    + ["cases.add_benefitpayment", "cases.view_overduenotice"]
    + [f"cases.{a}_{m}" for m in _CASES_ADMIN_MODELS for a in ("add", "change", "delete")],
    AUDITOR: _CASES_READ
    + [
        "cases.view_case",
        "cases.view_casematerial",
        "cases.view_caseevent",
        "cases.view_attachment",
        "cases.view_certificate",
        "cases.view_benefitaward",
        "cases.view_benefitpayment",
        "cases.view_overduenotice",
    ],
    # change_case lets the online channel withdraw or resubmit; cases.rules refuses every other step.
    SYSTEM: _CASES_READ
    + ["cases.view_case", "cases.add_case", "cases.change_case", "cases.view_attachment", "cases.add_attachment"],
}
for _role, _perms in _cases_grants.items():
    ROLE_PERMISSIONS[_role] = ROLE_PERMISSIONS[_role] + _perms

# Social security cards: the district's clerks, reviewers and heads make production batches and import the card
# issuer's confirmation file (change_cardbatch); auditors read.
_CARDS_READ = ["cases.view_cardbatch", "cases.view_cardapplication"]
_CARDS_HANDLE = _CARDS_READ + ["cases.add_cardbatch", "cases.change_cardbatch"]
for _role, _perms in {
    COUNTER_CLERK: _CARDS_HANDLE,
    REVIEWER: _CARDS_HANDLE,
    OFFICE_HEAD: _CARDS_HANDLE,
    CITY_ADMIN: _CARDS_HANDLE,
    AUDITOR: _CARDS_READ,
}.items():
    ROLE_PERMISSIONS[_role] = ROLE_PERMISSIONS[_role] + _perms


# payroll (待遇发放): fund officers and city administrators run the monthly payroll and import the banks' returns
# (runs are city-wide); every counter role certifies recipients, records suspensions, corrects payee accounts and
# records overpaid benefits received back in its jurisdiction; external systems certify and report deaths through
# the API; auditors read.
_PAYROLL_VIEW = [
    f"payroll.view_{m}"
    for m in ("payrollrun", "bankfile", "payrollline", "payrollarrears", "payrollposting", "payeeaccount",
              "suspension", "recovery", "recoveryrepayment", "certification", "certificationreminder")
]  # fmt: skip
_PAYROLL_COUNTER = [
    "payroll.view_payrollline",
    "payroll.view_payrollarrears",
    "payroll.view_payeeaccount",
    "payroll.add_payeeaccount",
    "payroll.change_payeeaccount",
    "payroll.view_suspension",
    "payroll.add_suspension",
    "payroll.change_suspension",
    "payroll.view_recovery",
    "payroll.view_recoveryrepayment",
    "payroll.add_recoveryrepayment",
    "payroll.view_certification",
    "payroll.add_certification",
    "payroll.view_certificationreminder",
]
_PAYROLL_RUNS = _PAYROLL_VIEW + ["payroll.add_payrollrun", "payroll.change_bankfile"] + _PAYROLL_COUNTER
for _role, _perms in {
    COUNTER_CLERK: _PAYROLL_COUNTER,
    REVIEWER: _PAYROLL_COUNTER,
    OFFICE_HEAD: _PAYROLL_COUNTER,
    FUND_OFFICER: _PAYROLL_RUNS,
    CITY_ADMIN: _PAYROLL_RUNS,
    AUDITOR: _PAYROLL_VIEW,
    SYSTEM: ["payroll.view_certification", "payroll.add_certification", "payroll.add_suspension"],
}.items():
    ROLE_PERMISSIONS[_role] = ROLE_PERMISSIONS[_role] + sorted(set(_perms))

# funds: fund-level figures are city-wide; fund officers keep the ledger, draft budgets, close years and
# handle warnings; city administrators approve budgets (never their own) and see everything; auditors read.
_FUNDS_MODELS = [
    "fund",
    "fundyear",
    "postingrun",
    "ledgertransaction",
    "ledgerentry",
    "budget",
    "budgetline",
    "subsidysharing",
    "subsidyshare",
    "fundindicator",
    "fundwarning",
    "remittance",
    "expenditureimport",
    "expenditureimportline",
]
_FUNDS_VIEW = [f"funds.view_{m}" for m in _FUNDS_MODELS]
_funds_grants = {
    FUND_OFFICER: _FUNDS_VIEW
    + [
        "funds.add_ledgertransaction",
        "funds.add_budget",
        "funds.change_budget",
        "funds.close_fundyear",
        "funds.change_fundwarning",
        "funds.add_remittance",
        "funds.add_expenditureimport",
    ],
    CITY_ADMIN: _FUNDS_VIEW + ["funds.approve_budget", "funds.change_fundwarning"],
    AUDITOR: list(_FUNDS_VIEW),
}
for _role, _perms in _funds_grants.items():
    ROLE_PERMISSIONS[_role] = ROLE_PERMISSIONS[_role] + _perms


# change feed and webhooks: external systems read the feed and manage their own webhooks; city
# administrators manage every webhook and replay parked deliveries; auditors read.
_changes_grants = {
    SYSTEM: [
        "registry.view_changeevent",
        "registry.view_webhooksubscription",
        "registry.add_webhooksubscription",
        "registry.delete_webhooksubscription",
    ],
    CITY_ADMIN: [
        "registry.view_changeevent",
        "registry.view_webhooksubscription",
        "registry.add_webhooksubscription",
        "registry.change_webhooksubscription",
        "registry.delete_webhooksubscription",
        "registry.view_webhookdelivery",
        "registry.change_webhookdelivery",
    ],
    AUDITOR: ["registry.view_changeevent", "registry.view_webhooksubscription", "registry.view_webhookdelivery"],
}
for _role, _perms in _changes_grants.items():
    ROLE_PERMISSIONS[_role] = ROLE_PERMISSIONS[_role] + _perms


# The API call log: city administrators and auditors read it (within their jurisdiction, as everywhere).
for _role in (CITY_ADMIN, AUDITOR):
    ROLE_PERMISSIONS[_role] = ROLE_PERMISSIONS[_role] + ["registry.view_apicalllog"]


# consolidation (数据大集中): every clerk sees his district's batches and conflicts and proposes decisions; reviewers,
# office heads and city administrators approve them (a second person) and undo merges; city administrators (and
# the district systems, through the API) deliver batches, and only city administrators confirm an import.
_CONSOLIDATION_VIEW = [
    "consolidation.view_importbatch",
    "consolidation.view_batchfile",
    "consolidation.view_conflict",
    "consolidation.view_conflictcandidate",
    "consolidation.view_merge",
]
_CONSOLIDATION_DELIVER = [
    "consolidation.view_importbatch",
    "consolidation.add_importbatch",
    "consolidation.view_batchfile",
    "consolidation.add_batchfile",
    "consolidation.change_batchfile",
]
_consolidation_grants = {
    COUNTER_CLERK: _CONSOLIDATION_VIEW + ["consolidation.resolve_conflict"],
    REVIEWER: _CONSOLIDATION_VIEW + ["consolidation.resolve_conflict", "consolidation.approve_conflict"],
    OFFICE_HEAD: _CONSOLIDATION_VIEW + ["consolidation.resolve_conflict", "consolidation.approve_conflict"],
    CITY_ADMIN: _CONSOLIDATION_VIEW
    + _CONSOLIDATION_DELIVER
    + ["consolidation.apply_importbatch", "consolidation.resolve_conflict", "consolidation.approve_conflict"],
    AUDITOR: list(_CONSOLIDATION_VIEW),
    SYSTEM: list(_CONSOLIDATION_DELIVER),
}
for _role, _perms in _consolidation_grants.items():
    ROLE_PERMISSIONS[_role] = ROLE_PERMISSIONS[_role] + _perms

# hall (网上办事大厅): counter clerks confirm the accounts of their jurisdiction or hand over activation codes; the
# other staff roles and auditors see them (read-only in admin, ID numbers masked).
_hall_grants = {
    COUNTER_CLERK: ["hall.view_hallaccount", "hall.confirm_hallaccount"],
    REVIEWER: ["hall.view_hallaccount"],
    OFFICE_HEAD: ["hall.view_hallaccount"],
    CITY_ADMIN: ["hall.view_hallaccount", "hall.confirm_hallaccount"],
    AUDITOR: ["hall.view_hallaccount"],
}
for _role, _perms in _hall_grants.items():
    ROLE_PERMISSIONS[_role] = ROLE_PERMISSIONS[_role] + _perms


# evaluation (评价考核, 统计): office heads (the district administrators of their office's area), city administrators
# and auditors read the evaluation and the statistics of their jurisdiction; city administrators publish and correct
# a month's evaluation (the service also requires a city-level office); office heads escalate overdue cases.
_EVALUATION_READ = [
    "evaluation.view_evaluationreport",
    "evaluation.view_evaluationline",
    "evaluation.view_officemonthmetric",
    "evaluation.view_officemonthitemmetric",
    "evaluation.view_supervisiondigest",
    "evaluation.view_statistics",
    "evaluation.view_statcell",
    "cases.view_caseescalation",
]
_evaluation_grants = {
    OFFICE_HEAD: _EVALUATION_READ + ["cases.add_caseescalation"],
    CITY_ADMIN: _EVALUATION_READ + ["evaluation.add_evaluationreport", "cases.add_caseescalation"],
    AUDITOR: list(_EVALUATION_READ),
    # The provincial system reads the statistics and the office figures (its operations: *:read).
    SYSTEM: ["evaluation.view_statistics", "evaluation.view_statcell", "evaluation.view_officemonthmetric"],
}
for _role, _perms in _evaluation_grants.items():
    ROLE_PERMISSIONS[_role] = ROLE_PERMISSIONS[_role] + _perms


def roles_sync(**_kwargs) -> None:
    """Create the role groups and set their permissions (idempotent; missing permissions are skipped)."""
    perms_by_key = {
        f"{p.content_type.app_label}.{p.codename}": p for p in Permission.objects.select_related("content_type")
    }
    for name, keys in ROLE_PERMISSIONS.items():
        group, _created = Group.objects.get_or_create(name=name)
        group.permissions.set([perms_by_key[k] for k in keys if k in perms_by_key])
