"""API permissions: staff calls are governed by their roles (model permissions); calls with an API key are
also limited to the operations granted to the calling system (``SystemAccount.operations``)."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, get_resolver
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rest_framework import exceptions
from rest_framework.permissions import SAFE_METHODS, BasePermission, DjangoModelPermissions

from registry.models import ApiKey

READ = "read"
WRITE = "write"


class StaffModelPermissions(DjangoModelPermissions):
    """Model permissions from the user's roles, reading included (the auditor reads, a clerk writes)."""

    perms_map = {
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "OPTIONS": [],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
        "POST": ["%(app_label)s.add_%(model_name)s"],
        "PUT": ["%(app_label)s.change_%(model_name)s"],
        "PATCH": ["%(app_label)s.change_%(model_name)s"],
        "DELETE": ["%(app_label)s.delete_%(model_name)s"],
    }


class OperationNotAllowed(exceptions.PermissionDenied):
    """403 naming the operation the calling system lacks (``api_code`` is the ``code`` of the error body)."""

    api_code = "operation_not_allowed"

    def __init__(self, operation: str):
        self.operation = operation
        super().__init__(_("本系统未获授权调用接口操作“%(operation)s”。") % {"operation": operation})


def view_operation(request, view) -> str | None:
    """The operation code of this call: ``<router basename>:read`` for safe methods, ``:write`` otherwise.

    A viewset may declare ``operation_kinds = {"<action>": "read"}`` for an action that reads through POST
    (e.g. a search whose criteria must not appear in the URL). None when the view has no basename.
    """
    basename = getattr(view, "basename", None)
    if not basename:
        return None
    kind = getattr(view, "operation_kinds", {}).get(getattr(view, "action", None))
    if kind is None:
        kind = READ if request.method in SAFE_METHODS else WRITE
    return f"{basename}:{kind}"


class SystemOperationPermission(BasePermission):
    """For API-key calls only: the system must hold the view's operation (``*:read``/``*:write`` match all)."""

    def has_permission(self, request, view) -> bool:
        key = request.auth
        if not isinstance(key, ApiKey):
            return True  # staff sessions: roles decide (StaffModelPermissions)
        operation = view_operation(request, view)
        if operation is None:
            # A view outside the router has no operation code, so no system can be granted it: fail closed.
            raise OperationNotAllowed(f"{request.method} {request.path}")
        basename, _sep, kind = operation.rpartition(":")
        if not key.account.allows(basename, kind):
            raise OperationNotAllowed(operation)
        return True


def api_viewsets() -> dict[str, type]:
    """Every router basename under the URLconf and its viewset class (found by walking the resolver, so a
    route registered by any app is known without that app telling registry about it)."""
    found: dict[str, type] = {}

    def walk(patterns):
        for entry in patterns:
            if isinstance(entry, URLResolver):
                walk(entry.url_patterns)
            elif isinstance(entry, URLPattern):
                basename = getattr(entry.callback, "initkwargs", {}).get("basename")
                if basename and basename not in found:
                    found[basename] = entry.callback.cls

    walk(get_resolver().url_patterns)
    return found


_KIND_LABELS = {READ: gettext_lazy("读取"), WRITE: gettext_lazy("写入")}


def operation_choices(extra: list[str] | tuple[str, ...] = ()) -> list[tuple[str, str]]:
    """Readable choices for the operations of a system: every basename of the router, read and write.

    ``extra``: granted codes that no route has any more (kept visible so they can be removed).
    """
    choices = [
        (f"*:{READ}", _("全部接口 · 读取")),
        (f"*:{WRITE}", _("全部接口 · 写入")),
    ]
    known = {code for code, _label in choices}
    for basename, viewset in sorted(api_viewsets().items()):
        queryset = getattr(viewset, "queryset", None)
        title = getattr(viewset, "operation_label", None) or (
            queryset.model._meta.verbose_name if queryset is not None else basename
        )
        for kind in (READ, WRITE):
            code = f"{basename}:{kind}"
            choices.append((code, f"{title} · {_KIND_LABELS[kind]}（{code}）"))
            known.add(code)
    for code in extra:
        if code not in known:
            choices.append((code, _("%(code)s（已无此接口）") % {"code": code}))
    return choices
