"""One error format for every API failure, in Chinese and English:

{"code": "validation_error", "message": "提交的数据有误。", "message_en": "The submitted data is invalid.",
 "errors": {"field": ["…"]}, "errors_en": {"field": ["…"]}, "request_id": "…"}

API requests run in Chinese (the source language of this project's messages, and Django's and DRF's own
messages through their zh_Hans catalogues). The English text is looked up in the gettext catalogues
afterwards: this project's ``locale/en`` (Chinese msgid → English) and, in reverse, the zh_Hans catalogues of
Django and DRF (English msgid → Chinese). A message with values in it (``编号为“…”的记录不存在``) is matched
against the msgid's placeholders, and the values are carried over (and translated themselves when they are
messages too).
"""

from __future__ import annotations

import functools
import re

from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS, ObjectDoesNotExist, PermissionDenied, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import trans_real
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from registry.exceptions import ApplicationError, error_messages_by_field

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
    500: "server_error",
}

# --- English from the catalogues ------------------------------------------------------------------

_CJK = re.compile(r"[\u3400-\u9fff\uff00-\uffef\u3000-\u303f]")
_PLACEHOLDER = re.compile(r"%\((\w+)\)[-#0 +]*\d*(?:\.\d+)?[sdifr]|%[sdif]|\{(\w*)\}")


class _Template:
    """A msgid with placeholders, as a regex over rendered text, and its counterpart in the other language."""

    def __init__(self, source: str, target: str):
        self.target = target
        parts, names, literal = [], [], []
        position = 0
        for index, match in enumerate(_PLACEHOLDER.finditer(source)):
            text = source[position : match.start()].replace("%%", "%")
            parts.append(re.escape(text))
            literal.append(text)
            parts.append(f"(?P<p{index}>.+?)")
            names.append(match.group(0))
            position = match.end()
        tail = source[position:].replace("%%", "%")
        parts.append(re.escape(tail))
        literal.append(tail)
        self.regex = re.compile("".join(parts), re.DOTALL)
        self.placeholders = names
        self.anchor = max(literal, key=len)  # a cheap `in` test before the regex
        self.weight = sum(len(t) for t in literal)

    def render(self, text: str) -> str | None:
        match = self.regex.fullmatch(text)
        if match is None:
            return None
        values = {}
        for index, token in enumerate(self.placeholders):
            values.setdefault(token, []).append(message_en(match.group(f"p{index}")))
        out = self.target
        # Positional placeholders (%s, {}) are filled in order; named ones by name.
        for token, found in values.items():
            for value in found:
                out = out.replace(token, value.replace("%", "%%") if "%" in token else value, 1)
        return out.replace("%%", "%") if "%" in self.target else out


@functools.cache
def _catalogues() -> tuple[dict[str, str], list[_Template]]:
    exact: dict[str, str] = {}
    templates: list[_Template] = []

    def add(source: str, target: str) -> None:
        if not source or not target or source in exact:
            return
        if _PLACEHOLDER.search(source):
            template = _Template(source, target)
            if len(template.anchor.strip()) >= 2:
                templates.append(template)
        exact[source] = target

    # This project's messages: Chinese msgid → English msgstr (locale/en).
    for msgid, msgstr in trans_real.translation("en")._catalog.items():
        msgid = msgid[0] if isinstance(msgid, tuple) else msgid
        if _CJK.search(msgid):
            add(msgid, msgstr)
    # Django's, DRF's and other packages' messages: English msgid → Chinese msgstr, read backwards.
    for msgid, msgstr in trans_real.translation(settings.LANGUAGE_CODE)._catalog.items():
        msgid = msgid[0] if isinstance(msgid, tuple) else msgid
        if _CJK.search(msgstr) and not _CJK.search(msgid):
            add(msgstr, msgid)
    templates.sort(key=lambda t: -t.weight)
    return exact, templates


@functools.lru_cache(maxsize=4096)
def message_en(text: str) -> str:
    """The English of a Chinese message from the catalogues; the text itself when it has no Chinese in it
    (a value, a code) or no catalogue knows it."""
    text = str(text)
    if not _CJK.search(text):
        return text
    exact, templates = _catalogues()
    if text in exact:
        return exact[text]
    for template in templates:
        if template.anchor in text:
            rendered = template.render(text)
            if rendered is not None:
                return rendered
    return text


# --- the body ---------------------------------------------------------------------------------------


def _field_errors(error: DjangoValidationError) -> dict[str, list[str]]:
    return {
        ("non_field_errors" if field == NON_FIELD_ERRORS else field): messages
        for field, messages in error_messages_by_field(error).items()
    }


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


def error_body(request, status_code: int, message, errors: dict | None = None, code: str | None = None) -> dict:
    """The error body; ``message`` and ``errors`` in Chinese, their English added from the catalogues."""
    message = str(message)
    errors = {str(field): [str(m) for m in messages] for field, messages in (errors or {}).items()}
    return {
        "code": code or _CODES.get(status_code, "error"),
        "message": message,
        "message_en": message_en(message),
        "errors": errors,
        "errors_en": {field: [message_en(m) for m in messages] for field, messages in errors.items()},
        "request_id": getattr(getattr(request, "_request", request), "request_id", ""),
    }


def error_response(request, status_code: int, message, errors: dict | None = None, code: str | None = None):
    """A plain Django JSON response in the error format, for errors raised outside DRF views."""
    with translation.override(settings.LANGUAGE_CODE):
        body = error_body(request, status_code, message, errors, code)
    return JsonResponse(body, status=status_code, json_dumps_params={"ensure_ascii": False})


def exception_handler(exc, context):
    request = context.get("request")
    if isinstance(exc, DjangoValidationError):
        return Response(
            error_body(request, 400, _("提交的数据有误。"), _field_errors(exc)), status=status.HTTP_400_BAD_REQUEST
        )
    if isinstance(exc, RequestDataTooBig):
        return Response(error_body(request, 413, payload_too_large_message()), status=413)
    if isinstance(exc, ObjectDoesNotExist):
        exc = Http404()
    if isinstance(exc, ApplicationError):
        # The project's own refusals (registry.exceptions): their status, message and code, nothing else.
        set_rollback()
        body = error_body(request, exc.status_code, exc.message, exc.extra, code=exc.code)
        return Response(body, status=exc.status_code)
    if isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    code = getattr(exc, "api_code", None)
    if isinstance(exc, exceptions.ParseError):
        body = error_body(
            request, 400, _("请求体不是合法的 JSON：%(detail)s") % {"detail": exc.detail}, code="parse_error"
        )
    elif isinstance(exc, exceptions.ValidationError):
        body = error_body(request, response.status_code, _("提交的数据有误。"), _flatten(exc.detail))
    elif isinstance(exc, Http404) or response.status_code == 404:
        body = error_body(request, 404, _("记录不存在或不在您的辖区内。"))
    elif isinstance(exc, exceptions.Throttled) and code == "api_key_locked":
        body = error_body(
            request,
            429,
            _("接口密钥或调用地址因多次认证失败已被暂时锁定，请 %(wait)d 秒后重试。") % {"wait": exc.wait or 1},
            code=code,
        )
    elif isinstance(exc, exceptions.Throttled):
        body = error_body(request, 429, _("调用过于频繁，请 %(wait)d 秒后重试。") % {"wait": exc.wait or 1})
    else:
        detail = getattr(exc, "detail", "")
        if isinstance(detail, (list, dict)):
            body = error_body(request, response.status_code, _("请求有误。"), _flatten(detail), code=code)
        else:
            body = error_body(request, response.status_code, str(detail), code=code)
    response.data = body
    return response


def payload_too_large_message() -> str:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 0
    return _("请求体超过 %(limit)s 字节的上限。") % {"limit": limit}


def server_error_message() -> str:
    return _("服务器内部错误，请稍后重试；如仍失败请提供请求编号联系管理员。")


def status_message(status_code: int) -> str:
    """The message of an error response that no view wrote (the URL matched nothing, a server error, …)."""
    if status_code == 404:
        return _("接口地址不存在。")
    if status_code == 405:
        return _("接口不支持该请求方法。")
    if status_code == 413:
        return payload_too_large_message()
    if status_code >= 500:
        return server_error_message()
    if status_code == 401:
        return _("未提供或无法识别身份认证信息。")
    if status_code == 403:
        return _("没有权限执行该操作。")
    return _("请求有误。")
