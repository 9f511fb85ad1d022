"""One error format for every API failure:

{"code": "validation_error", "message": "...", "errors": {"field": ["..."]}, "request_id": "..."}
"""

from __future__ import annotations

from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.utils.translation import gettext as _
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


def _field_errors(error: DjangoValidationError) -> dict[str, list[str]]:
    if hasattr(error, "error_dict"):
        return {
            ("non_field_errors" if field == "__all__" else field): [str(m) for e in errs for m in e.messages]
            for field, errs in error.error_dict.items()
        }
    return {"non_field_errors": [str(m) for m in error.messages]}


def _flatten(detail, prefix: str = "") -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            out.update(_flatten(value, name))
    elif isinstance(detail, list):
        if all(not isinstance(item, (dict, list)) for item in detail):
            out[prefix or "non_field_errors"] = [str(item) for item in detail]
        else:
            for index, item in enumerate(detail):
                out.update(_flatten(item, f"{prefix}[{index}]" if prefix else f"[{index}]"))
    else:
        out[prefix or "non_field_errors"] = [str(detail)]
    return out


_CODES = {
    400: "validation_error",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "unprocessable",
    429: "throttled",
}


def error_body(request, status_code: int, message: str, errors: dict | None = None, code: str | None = None) -> dict:
    return {
        "code": code or _CODES.get(status_code, "error"),
        "message": message,
        "errors": errors or {},
        "request_id": getattr(getattr(request, "_request", request), "request_id", ""),
    }


def exception_handler(exc, context):
    request = context.get("request")
    if isinstance(exc, DjangoValidationError):
        return Response(
            error_body(request, 400, _("提交的数据有误。"), _field_errors(exc)), status=status.HTTP_400_BAD_REQUEST
        )
    if isinstance(exc, ObjectDoesNotExist):
        exc = Http404()
    if isinstance(exc, PermissionError):
        exc = exceptions.PermissionDenied(str(exc) or None)
    if isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ParseError):
        body = error_body(
            request, 400, _("请求体不是合法的 JSON：%(detail)s") % {"detail": exc.detail}, code="parse_error"
        )
    elif isinstance(exc, exceptions.ValidationError):
        body = error_body(request, response.status_code, _("提交的数据有误。"), _flatten(exc.detail))
    elif isinstance(exc, Http404) or response.status_code == 404:
        body = error_body(request, 404, _("记录不存在或不在您的辖区内。"))
    else:
        detail = getattr(exc, "detail", "")
        if isinstance(detail, (list, dict)):
            body = error_body(request, response.status_code, _("请求有误。"), _flatten(detail))
        else:
            body = error_body(request, response.status_code, str(detail))
    response.data = body
    return response
