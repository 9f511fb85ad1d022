"""Serializer fields and mixins every app's API uses: offices by code and records by uid within the caller's
jurisdiction, unknown fields refused, 405 before 403."""

from __future__ import annotations

import uuid

from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import MethodNotAllowed

from registry.jurisdiction import scope_to_user
from registry.models import Office


@extend_schema_field(OpenApiTypes.STR)
class OfficeCodeField(serializers.SlugRelatedField):
    """An office addressed by its division code, limited to the caller's jurisdiction."""

    default_error_messages = {
        "does_not_exist": _("未知的经办机构代码“{value}”，或该机构不在您的辖区内。"),
        "invalid": _("经办机构代码无效。"),
    }

    def __init__(self, **kwargs):
        super().__init__(slug_field="code", **kwargs)

    def get_queryset(self):
        request = self.context.get("request")
        return scope_to_user(Office.objects.all(), getattr(request, "user", None))


@extend_schema_field(OpenApiTypes.UUID)
class UidRelatedField(serializers.SlugRelatedField):
    default_error_messages = {
        "does_not_exist": _("编号为“{value}”的记录不存在或不在您的辖区内。"),
        "invalid": _("编号格式无效。"),
    }

    def __init__(self, model, **kwargs):
        self._model = model
        super().__init__(slug_field="uid", **kwargs)

    def get_queryset(self):
        request = self.context.get("request")
        return scope_to_user(self._model.objects.all(), getattr(request, "user", None))

    def to_internal_value(self, data):
        try:
            uuid.UUID(str(data))
        except (TypeError, ValueError, AttributeError):
            self.fail("invalid")
        return super().to_internal_value(data)


class MethodFirstMixin:
    """A method the endpoint does not offer is a 405 for everybody.

    DRF checks permissions before it looks for the handler, so without this a DELETE (which no registry
    endpoint offers) answered 403 "no permission" to a clerk, as if deleting were possible for others.
    """

    def check_permissions(self, request):
        method = request.method.lower()
        if method not in self.http_method_names or not hasattr(self, method):
            raise MethodNotAllowed(request.method)
        super().check_permissions(request)


class StrictSerializer(serializers.Serializer):
    """Refuses unknown fields instead of silently dropping them."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = set(data) - set(self.fields)
            if unknown:
                raise serializers.ValidationError({f: [_("未知字段。")] for f in sorted(unknown)})
        return super().to_internal_value(data)
