"""The jurisdiction mechanism in Django admin (lists, change pages, history, exports)."""

from __future__ import annotations

from django import forms
from django.contrib.admin.widgets import ForeignKeyRawIdWidget
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.forms.models import construct_instance
from django.http import Http404

from registry.jurisdiction import office_in_jurisdiction, scope_to_user


class ScopedRawIdWidget(ForeignKeyRawIdWidget):
    """The raw-id input, whose label (the related record's name beside the id) is looked up in the field's
    jurisdiction-scoped queryset: Django's widget uses the model's default manager, so typing another district's
    person id (``/admin/registry/enrollment/add/?person=<pk>``) showed that person's name."""

    def __init__(self, rel, admin_site, *, queryset, attrs=None, using=None):
        super().__init__(rel, admin_site, attrs=attrs, using=using)
        self.queryset = queryset

    def label_and_url_for_value(self, value):
        key = self.rel.get_related_field().name
        try:
            if not self.queryset.using(self.db).filter(**{key: value}).exists():
                return "", ""
        except (ValueError, TypeError, ValidationError):
            return "", ""
        return super().label_and_url_for_value(value)


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
            widget = field.widget
            if isinstance(widget, ForeignKeyRawIdWidget) and not isinstance(widget, ScopedRawIdWidget):
                field.widget = ScopedRawIdWidget(
                    widget.rel, widget.admin_site, queryset=field.queryset, attrs=widget.attrs, using=widget.db
                )
        return field

    def office_allowed(self, request, office) -> bool:
        return office_in_jurisdiction(request.user, office)

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        self._object_or_404(request, object_id)
        return super().history_form_view(request, object_id, version_id, extra_context)

    def revert_disabled(self, request, obj=None):
        # History is evidence: it is read, never reverted into the live record.
        return True


class ReadOnlyAdminMixin:
    """No add, change or delete: the records are viewed only (ledgers, bill runs, payments, imports)."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class PreparedModelForm(forms.ModelForm):
    """Runs the services' preparation (normalisation, derived fields, business rules) on the submitted values.

    The instance is built from the form first, so the preparation sees what the user typed, and what it
    normalises (ID number, credit code, name) is what the model checks and saves.
    """

    def prepare(self, instance) -> None:
        """The service preparation to run (subclasses set it); without one the form validates as usual."""

    def _add_errors(self, exc: ValidationError) -> None:
        # An error about a field this form does not show (read-only on change) goes to the top of the form.
        if hasattr(exc, "error_dict"):
            known = {}
            for field, errors in exc.error_dict.items():
                if field == NON_FIELD_ERRORS or field in self.fields:
                    known.setdefault(field, []).extend(errors)
                else:
                    label = self.instance._meta.get_field(field).verbose_name
                    known.setdefault(NON_FIELD_ERRORS, []).extend(
                        ValidationError(f"{label}：{m}") for e in errors for m in e.messages
                    )
            exc = ValidationError(known)
        self._update_errors(exc)

    def _post_clean(self):
        if self._errors:
            # A field already failed: the preparation needs every value, the model checks still run.
            super()._post_clean()
            return
        opts = self._meta
        try:
            self.instance = construct_instance(self, self.instance, opts.fields, opts.exclude)
            self.prepare(self.instance)
        except ValidationError as exc:
            self._add_errors(exc)
            return
        for name in self.cleaned_data:
            if name in self.fields and any(f.name == name for f in opts.model._meta.concrete_fields):
                self.cleaned_data[name] = getattr(self.instance, name)
        super()._post_clean()
