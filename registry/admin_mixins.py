"""The jurisdiction mechanism in Django admin (lists, change pages, history, exports)."""

from __future__ import annotations

from django.http import Http404

from .jurisdiction import office_in_jurisdiction, scope_to_user


class JurisdictionAdminMixin:
    """Scope every admin queryset; an object outside it is a 404 (Django's default is a redirect)."""

    def get_queryset(self, request):
        return scope_to_user(super().get_queryset(request), request.user)

    def _object_or_404(self, request, object_id):
        if object_id is not None and self.get_object(request, object_id) is None:
            raise Http404

    def change_view(self, request, object_id, form_url="", extra_context=None):
        self._object_or_404(request, object_id)
        return super().change_view(request, object_id, form_url, extra_context)

    def delete_view(self, request, object_id, extra_context=None):
        self._object_or_404(request, object_id)
        return super().delete_view(request, object_id, extra_context)

    def history_view(self, request, object_id, extra_context=None):
        self._object_or_404(request, object_id)
        return super().history_view(request, object_id, extra_context)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        # Choices of related jurisdiction-scoped records (offices, persons, employers) are scoped too.
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        model = db_field.related_model
        if field is not None and hasattr(model, "jurisdiction_office_field"):
            field.queryset = scope_to_user(field.queryset, request.user)
        return field

    def office_allowed(self, request, office) -> bool:
        return office_in_jurisdiction(request.user, office)

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        self._object_or_404(request, object_id)
        return super().history_form_view(request, object_id, version_id, extra_context)

    def revert_disabled(self, request, obj=None):
        # History is evidence: it is read, never reverted into the live record.
        return True
