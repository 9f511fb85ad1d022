import re
import time
import uuid

from django.conf import settings
from django.http import Http404
from django.shortcuts import render
from django.utils import translation
from django.utils.translation import gettext as _

from registry.api.calllog import api_call_log_write
from registry.api.errors import error_response, payload_too_large_message, status_message
from registry.api.idempotency import idempotency_begin, idempotency_finish
from registry.exceptions import ApplicationError
from registry.identifiers import contains_id_number

_VALID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

API_PREFIX = "/api/"
# Headers of a Django or handler error response worth keeping when it is rewritten into the error format.
_KEPT_HEADERS = ("Allow", "WWW-Authenticate", "Retry-After", "Vary")


class RequestIdMiddleware:
    """Give every request an id (or keep a well-formed X-Request-ID from the caller) for logs and errors."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request.request_id = incoming if _VALID.match(incoming) else uuid.uuid4().hex
        response = self.get_response(request)
        response["X-Request-ID"] = request.request_id
        return response


def _is_json(response) -> bool:
    return response.get("Content-Type", "").split(";")[0].strip().endswith("json")


class ApiMiddleware:
    """Everything every /api/ call gets, whatever the view: Chinese as the language of its messages, the
    413 check, Idempotency-Key, errors always in the one JSON format (also a URL that matches nothing, a
    server error, a Django-level refusal), and a row in the call log.

    Sits right after RequestIdMiddleware, so the latency covers the whole stack and any error page an inner
    middleware or Django's handlers produce is still rewritten.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path.startswith(API_PREFIX):
            return self.get_response(request)
        started = time.monotonic()
        response = (
            self._refuse_oversized(request) or self._refuse_id_number_in_url(request) or self.get_response(request)
        )
        if response.status_code >= 400 and not _is_json(response) and not response.streaming:
            response = self._as_error_format(request, response)
        idempotency_finish(request, response)
        api_call_log_write(request=request, status=response.status_code, started=started)
        return response

    def process_view(self, request, view_func, view_args, view_kwargs):
        if not request.path.startswith(API_PREFIX):
            return None
        # Messages are rendered in Chinese whatever Accept-Language says; the error body adds the English.
        translation.activate(settings.LANGUAGE_CODE)
        request.LANGUAGE_CODE = translation.get_language()
        return idempotency_begin(request, view_func, view_args, view_kwargs)

    @staticmethod
    def _refuse_oversized(request):
        # DRF parses JSON straight from the stream, past Django's DATA_UPLOAD_MAX_MEMORY_SIZE check, so the
        # limit is applied here. Multipart uploads are left to Django's parser, which exempts file parts; raw
        # octet-stream bodies (the consolidation's file chunks) to the one view that takes them, which streams
        # them within its own limit (every other view answers 415 without reading them).
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is None or request.content_type in ("multipart/form-data", "application/octet-stream"):
            return None
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > limit:
            return error_response(request, 413, payload_too_large_message())
        return None

    @staticmethod
    def _refuse_id_number_in_url(request):
        """A 公民身份号码 in the query string would be written to every access log on its way (proxies, web server):
        refused, pointing to the POST look-ups that take it in the body."""
        for key, values in request.GET.lists():
            if contains_id_number(key) or any(contains_id_number(v) for v in values):
                return error_response(
                    request,
                    400,
                    _(
                        "URL 中不能出现公民身份号码（URL 会写入访问日志）。按号码查找人员请用 POST /api/v1/persons/search/，"
                        "查询参保状态请用 POST /api/v1/enrollments/status/，号码放在请求体中。"
                    ),
                    code="id_number_in_url",
                )
        return None

    @staticmethod
    def _as_error_format(request, response):
        status = response.status_code
        rewritten = error_response(request, status, status_message(status))
        for name in _KEPT_HEADERS:
            if response.has_header(name):
                rewritten[name] = response[name]
        return rewritten


_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def _field_with_nul(request) -> str | None:
    """The name of the first query or form field whose name or value holds a NUL character, else None."""
    sources = [request.GET]
    if request.method == "POST" and request.content_type in _FORM_TYPES:
        sources.append(request.POST)
    for data in sources:
        for key, values in data.lists():
            if "\x00" in key or any("\x00" in value for value in values):
                return key.replace("\x00", "\\0")
    return None


class NulCharacterMiddleware:
    """Refuse a NUL character (U+0000) in the URL, and on the pages in the query string or a submitted form:
    PostgreSQL stores no NUL in text and psycopg refuses one as a query parameter, so one reaching a filter or a
    save was a server error wherever a page read request data without a form (searches, case actions, filters:
    tests/test_pages_bad_input.py found them). A field holding one is a 400 page naming the field; a URL holding
    one names no record: 404 (in the API's error format under /api/).

    Last in MIDDLEWARE, so the page that tells the clerk has the user and the office like any other page.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if "\x00" in request.path_info:
            if request.path.startswith(API_PREFIX):
                return error_response(request, 404, status_message(404))
            raise Http404
        # The API's query parameters and bodies are its filters' and serializers' to check (they refuse a NUL
        # with the field named; schemathesis sends them): its uploads stream past this middleware unread.
        field = None if request.path.startswith(API_PREFIX) else _field_with_nul(request)
        if field is None:
            return self.get_response(request)
        message = _("“%(field)s”含有空字符（NUL），请删除后重新提交。") % {"field": field}
        return render(request, "registry/bad_request.html", {"message": message}, status=400)


class ApplicationErrorMiddleware:
    """The one mapping of the project's own refusals (``registry.exceptions.ApplicationError``) to a page: the
    message, with the error's status (403 for a role that may not act, 409 for a conflict, …). Under /api/ a
    view outside DRF gets the one error format (DRF views have ``registry.api.errors.exception_handler``).

    Anything else — a real ``PermissionError`` from the disk included — stays a server error, logged.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, ApplicationError):
            return None
        if request.path.startswith(API_PREFIX):
            return error_response(
                request, exception.status_code, exception.message, exception.extra, code=exception.code
            )
        return render(
            request,
            "registry/application_error.html",
            {"message": exception.message, "extra": exception.extra},
            status=exception.status_code,
        )
