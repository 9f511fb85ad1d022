"""The jurisdiction mechanism on the API channel: every viewset of every app mixes this in."""

from __future__ import annotations

from registry.jurisdiction import scope_to_user


class JurisdictionViewMixin:
    """Scopes ``get_queryset()`` to the caller's jurisdiction, so detail routes 404 outside it."""

    def get_queryset(self):
        return scope_to_user(super().get_queryset(), self.request.user)
