"""Staff roles as Django groups. The mapping is data: ``roles_sync`` (run after every
migrate) creates the groups and gives them exactly these permissions."""

from __future__ import annotations

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
        "registry.view_sensitiveaccess",
    ],
    AUDITOR: _REGISTRY_VIEW + ["registry.view_sensitiveaccess", "registry.view_user"],
    SYSTEM: _REGISTRY_VIEW + _REGISTRY_EDIT,
}


def roles_sync(**_kwargs) -> None:
    """Create the role groups and set their permissions (idempotent; missing permissions are skipped)."""
    from django.contrib.auth.models import Group, Permission

    perms_by_key = {
        f"{p.content_type.app_label}.{p.codename}": p for p in Permission.objects.select_related("content_type")
    }
    for name, keys in ROLE_PERMISSIONS.items():
        group, _created = Group.objects.get_or_create(name=name)
        group.permissions.set([perms_by_key[k] for k in keys if k in perms_by_key])
