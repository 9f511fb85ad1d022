"""The one jurisdiction mechanism.

Every jurisdiction-scoped model names the office that owns a row in
``jurisdiction_office_field`` (a lookup path such as ``"office"`` or
``"employer__office"``; empty for Office itself). A user sees a row when that office
lies under his own office: one indexed prefix match on ``Office.path``.

Pages, the API (``registry.api.mixins.JurisdictionViewMixin``), admin
(``registry.admin_mixins.JurisdictionAdminMixin``) and exports all call
``scope_to_user``; out-of-jurisdiction rows simply are not in the queryset, which makes
them 404 everywhere. A model without the attribute fails closed.
"""

from __future__ import annotations

from typing import Any, Protocol

from django.core.exceptions import ImproperlyConfigured
from django.db import models


class OfficeLike(Protocol):
    """What this module needs of ``registry.models.Office`` (which builds on this module): its path."""

    path: str


def _path_lookup(model: type[models.Model]) -> str:
    field = getattr(model, "jurisdiction_office_field", None)
    if field is None:
        raise ImproperlyConfigured(
            f"{model._meta.label} has no jurisdiction_office_field: every model served to users must declare "
            "which office owns its rows (or set jurisdiction_public = True for reference data)."
        )
    return f"{field}__path" if field else "path"


def user_office(user: Any) -> OfficeLike | None:
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return getattr(user, "office", None)


def user_sees_everything(user: Any) -> bool:
    """Superusers without an office (the installation's technical administrators) see the whole city."""
    return bool(getattr(user, "is_superuser", False)) and user_office(user) is None


class JurisdictionQuerySet(models.QuerySet):
    def within(self, office: OfficeLike) -> JurisdictionQuerySet:
        return self.filter(**{f"{_path_lookup(self.model)}__startswith": office.path})

    def visible_to(self, user: Any) -> JurisdictionQuerySet:
        return scope_to_user(self, user)


def scope_to_user(queryset: models.QuerySet, user: Any) -> models.QuerySet:
    """The rows of ``queryset`` inside the user's jurisdiction (reference data passes through)."""
    model = queryset.model
    if getattr(model, "jurisdiction_public", False):
        return queryset if getattr(user, "is_authenticated", False) else queryset.none()
    lookup = _path_lookup(model)
    if user_sees_everything(user):
        return queryset
    office = user_office(user)
    if office is None:
        return queryset.none()
    return queryset.filter(**{f"{lookup}__startswith": office.path})


def office_in_jurisdiction(user: Any, office: OfficeLike | None) -> bool:
    if office is None:
        return False
    if user_sees_everything(user):
        return True
    own = user_office(user)
    return own is not None and office.path.startswith(own.path)


def is_scoped(model: type[models.Model]) -> bool:
    return getattr(model, "jurisdiction_office_field", None) is not None and not getattr(
        model, "jurisdiction_public", False
    )
