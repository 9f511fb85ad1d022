"""Bad input never gives a 500: every page the counter clerks use (not the REST API under /api/, which
schemathesis covers, and not /admin/) is called with garbage query parameters and garbage form data, as a
黄岩 district clerk with broad roles and as a city administrator, and must answer with a status below 500.

Pages are found by walking the URL patterns, so a new page is covered automatically. A page that takes a
record id gets a record of the clerk's own district (``RECORDS``, made with the apps' test factories); an
argument that cannot be filled gets a random value (a 404, never a 500).

Each page gets: the mix of bad query parameters named in the rule; each bad value in every field it may read
(names from a common list, from the page's HTML and from the view's code: its ``request.GET``/``POST``/
``FILES`` reads, those of the helpers it hands the request to, its form classes); the empty form; the page's
own forms as a browser sends them, with NUL and a 10,000-character string typed into each text box in turn
(the forms of a page that only takes a POST are on the page above it: a case's actions on the case's page);
and junk files where the view reads files. Each request runs in a savepoint that is rolled back, so every
request meets the same records and a failed query on PostgreSQL cannot spoil the ones after it. A failure
lists the user, method, URL, data and the exception with the line that raised it.
"""

from __future__ import annotations

import datetime
import functools
import inspect
import itertools
import logging
import re
import traceback
import types
import uuid
from decimal import Decimal
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest
from django import forms as django_forms
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.test import Client
from django.urls import get_resolver, reverse
from django.utils import timezone

from registry import roles
from registry.models import Enrollment, Office
from registry.tests.factories import UserFactory, township_of
from tests.test_jurisdiction_routes import _factories, _sample, _walk

BASE = f"{settings.BASE_DIR}/"
SKIPPED_PREFIXES = ("api/", "admin/", "static/", "media/")
ROUTES = [
    (route, pattern) for route, pattern in _walk(get_resolver().url_patterns) if not route.startswith(SKIPPED_PREFIXES)
]

LONG = "长" * 100 + "x" * 9900  # 10,000 characters
NUL = "a\x00b"
# Each value goes into every field at once, in the query string (GET) and in the form (POST). Every page gets
# every value; the two users share the work: both send the long string and NUL, the clerk the other values at
# even places, the administrator those at odd places.
GET_VALUES = ["-1", "99999999999999999999", "2025-13-45", "", LONG, NUL]  # and text: see GET_MIX
POST_VALUES = ["abc", "-1", "99999999999999999999", "2025-02-30", "", LONG, NUL]
SHARED = {LONG, NUL}
# The mix named in the project's rule, in one request (every other field of the page gets "nope").
GET_MIX = {
    "page": "abc",
    "q": LONG,
    "period": "999999",
    "on": "2025-13-45",
    "office": "nonexistent",
    "category": "nope",
    "sort": ";drop table registry_person;--",
    "month": "2025-13",
    "year": "-1",
    "kind": "nope",
    "status": "nope",
    "format": "nope",
    "district": "nope",
}
# Field names sent to every page besides its own (from its HTML and its code).
COMMON_NAMES = {
    *GET_MIX,
    *("action", "account", "after", "all", "amount", "base", "before", "booked_on", "code", "comment", "date"),
    *("decision", "description", "direction", "document_number", "effective_on", "employer", "fund", "id", "item"),
    *("language", "level", "line_no", "material", "materials", "merge_into", "missing", "mode", "name", "next"),
    *("note", "op", "paid_on", "password", "payer_code", "payer_type", "person", "reason", "reference"),
    *("repealed_on", "scope", "share", "sla", "start_date", "state", "superseded_by", "uid", "username"),
}
COMMON_FILE_NAMES = {"file", "files", "payroll", "attachment", "pdf"}


# ---------------------------------------------------------------------------------------------
# Junk files: binary noise, a fake workbook, an empty file, an over-long name, and the project's own
# upload templates (header line kept) with garbage rows.


@functools.cache
def _junk_files() -> list[tuple[str, bytes]]:
    from contributions.exchange.layout import payment_template_csv
    from contributions.resources import payroll_template_csv
    from funds.imports import TEMPLATE_CSV

    bad_rows = "\r\n".join(
        [
            ",".join(["abc", "-1", "99999999999999999999", "2025-02-30", "", "x" * 300, "a\x00b"]),
            ",".join(["-1"] * 7),
            ",".join(["99999999999999999999"] * 7),
            ",,,,,,",
        ]
    )
    files = [
        ("junk.csv", b"\x00\xff\xfe\x81\x82 junk \x00\r\n\xc3\x28,\xa0\xa1\r\n"),
        ("junk.xlsx", b"PK\x03\x04 this is not a workbook" + bytes(range(256))),
        ("empty.csv", b""),
        ("y" * 300 + ".pdf", b"%PDF-1.4 junk"),
    ]
    for name, template, encoding in [
        ("payments.csv", payment_template_csv(), "utf-8"),
        ("payments-gbk.csv", payment_template_csv(), "gbk"),
        ("payroll.csv", payroll_template_csv(), "utf-8"),
        ("expenditure.csv", TEMPLATE_CSV.encode("utf-8"), "utf-8"),
    ]:
        header = template.decode("utf-8-sig").splitlines()[0]
        files.append((name, (header + "\r\n" + bad_rows + "\r\n").encode(encoding, "replace")))
    return files


def _upload(spec: tuple[str, bytes]) -> SimpleUploadedFile:
    return SimpleUploadedFile(spec[0], spec[1], content_type="application/octet-stream")


# ---------------------------------------------------------------------------------------------
# The record each page with an id shows, by the first pattern the route matches: URL arguments from a maker.


class Ctx:
    def __init__(self, user):
        self.user = user
        self.township = township_of("331003")
        self.district = self.township.parent
        self.make = _factories()

    @functools.cached_property
    def author(self):
        """Another 黄岩 fund officer, who drafts the budget and proposes the decision the user may decide on."""
        return _staff("bad_input_author", self.district, [roles.FUND_OFFICER])


def _person(ctx: Ctx) -> dict:
    return {"uid": ctx.make[Enrollment](ctx.township).person.uid}


def _employer(ctx: Ctx) -> dict:
    from contributions.tests.factories import employ, huangyan_employer

    employer = huangyan_employer()
    employ(employer)
    employ(employer)
    return {"uid": employer.uid}


def _by_factory(model_label: str):
    def make(ctx: Ctx) -> dict:
        from django.apps import apps

        return {"uid": ctx.make[apps.get_model(model_label)](ctx.township).uid}

    return make


def _bill_export(ctx: Ctx) -> dict:
    from contributions.models import BillExport, ExportStatus

    export = BillExport.objects.create(
        period=202401, office=ctx.district, format="csv", encoding="utf-8", status=ExportStatus.DONE, sha256="0" * 64
    )
    export.file.save("bills-202401.csv", ContentFile(b"a,b\r\n1,2\r\n"))
    return {"uid": export.uid}


def _payment_file(ctx: Ctx) -> dict:
    from contributions.models import PaymentFileLine

    line = ctx.make[PaymentFileLine](ctx.township)
    return {"uid": line.payment_file.uid, "line_no": line.line_no}


def _fund(ctx: Ctx) -> dict:
    from funds.tests.factories import fund, income

    f = fund("emp_medical")
    income(f, ctx.district.code, datetime.date(timezone.localdate().year - 1, 5, 1), "1000.00")
    return {"uid": f.uid}


def _budget(ctx: Ctx) -> dict:
    from funds import services
    from funds.tests.factories import fund, income

    f = fund("emp_medical")
    income(f, ctx.district.code, datetime.date(2024, 5, 1), "1000.00")
    return {"uid": services.budget_draft(fund=f, year=2025, growth={}, acting_user=ctx.author).uid}


def _warning(ctx: Ctx) -> dict:
    from funds.models import FundIndicator, FundWarning, IndicatorCode, Level
    from funds.tests.factories import fund

    city = Office.objects.get(level=1)
    today = timezone.localdate()
    common = {"fund": fund("emp_medical"), "office": city, "code": IndicatorCode.MONTHS_COVERED, "level": Level.ALARM}
    indicator = FundIndicator.objects.create(on=today, value=Decimal("2.5"), **common)
    warning = FundWarning.objects.create(
        opened_on=today, indicator=indicator, value=Decimal("2.5"), explanation="测试预警", **common
    )
    return {"uid": warning.uid}


def _notice(ctx: Ctx) -> dict:
    from funds.models import Notice

    return {"uid": Notice.objects.create(user=ctx.user, text="测试通知", link="/funds/").uid}


def _district_document(ctx: Ctx):
    from policies.tests.factories import PolicyDocumentFactory

    return PolicyDocumentFactory(level="district", district=ctx.district)


def _document(ctx: Ctx) -> dict:
    return {"uid": _district_document(ctx).uid}


def _decision(ctx: Ctx) -> dict:
    from policies.models import PolicyDecision

    decision = PolicyDecision.objects.create(
        document=_district_document(ctx),
        decision="repeal",
        effective_on=datetime.date(2025, 1, 1),
        reason="测试清理",
        proposed_by=ctx.author,
    )
    return {"uid": decision.uid}


def _awarded_case(ctx: Ctx) -> dict:
    from cases.models import BenefitAward

    return {"uid": ctx.make[BenefitAward](ctx.township).case.uid}


def _certificate(ctx: Ctx) -> dict:
    from cases.models import Certificate

    return {"code": ctx.make[Certificate](ctx.township).code}


def _window_case(ctx: Ctx) -> dict:
    """A 通城通办 case the user's district took in for a 路桥 person (the window sees it and its receipt)."""
    from cases.services import case_window_intake
    from cases.tests.factories import clerk
    from registry.tests.factories import EmployerFactory, EnrollmentFactory, PersonFactory

    luqiao = township_of("331004")
    person = PersonFactory(residence_office=luqiao)
    EnrollmentFactory(person=person, employer=EmployerFactory(office=luqiao))
    from cases.models import ServiceItem

    item = ServiceItem.objects.get(code="ZM-001")
    case = case_window_intake(acting_user=clerk(ctx.district), item=item, id_number=person.id_number)
    return {"uid": case.uid}


RECORDS = [
    (r"^counter/window/<uuid:uid>/", _window_case),
    (r"persons/<uuid:uid>/", _person),
    (r"employers/<uuid:uid>/", _employer),
    (r"declarations/<uuid:uid>/", _by_factory("contributions.Declaration")),
    (r"bill-runs/<uuid:uid>/", _by_factory("contributions.BillRun")),
    (r"bills/<uuid:uid>/", _by_factory("contributions.Bill")),
    (r"bill-exports/<uuid:uid>/", _bill_export),
    (r"payment-files/<uuid:uid>/", _payment_file),
    (r"^funds/fund/<uuid:uid>/", _fund),
    (r"^funds/ledger/<uuid:uid>/", _by_factory("funds.LedgerTransaction")),
    (r"^funds/budgets/<uuid:uid>/", _budget),
    (r"^funds/warnings/<uuid:uid>/", _warning),
    (r"^funds/notices/<uuid:uid>/", _notice),
    (r"^policies/documents/<uuid:uid>/", _document),
    (r"^policies/decisions/<uuid:uid>/", _decision),
    (r"^cases/cards/batches/<uuid:uid>/", _by_factory("cases.CardBatch")),
    (r"resident-medical-runs/<uuid:uid>/", _by_factory("contributions.ResidentMedicalRun")),
    (r"^cases/<uuid:uid>/payments/", _awarded_case),
    (r"^cases/<uuid:uid>/", _by_factory("cases.Case")),
    (r"^cases/attachments/<uuid:uid>/", _by_factory("cases.Attachment")),
    (r"^verify/<str:code>/", _certificate),
]


def _url(route: str, pattern, ctx: Ctx) -> str:
    names = list(pattern.pattern.regex.groupindex)
    kwargs: dict[str, Any] = {}
    if names:
        maker = next((make for regex, make in RECORDS if re.search(regex, route)), None)
        kwargs = maker(ctx) if maker else {}
    for name in names:
        if name not in kwargs:
            converter = pattern.pattern.converters.get(name)
            kwargs[name] = uuid.uuid4() if "UUID" in type(converter).__name__ else _sample(pattern, name)
    if pattern.qualified_name:
        return reverse(pattern.qualified_name, kwargs={k: kwargs[k] for k in names})
    return "/" + re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(kwargs[m[1]]), route)


# ---------------------------------------------------------------------------------------------
# Field names: what the view reads (its own code, the helpers it hands the request to, its forms), and the
# fields of the page's own HTML forms.

_READS = {
    "GET": [r"request\.GET\.get(?:list)?\(\s*[\"'](\w+)[\"']", r"[\"'](\w+)[\"'] in request\.GET"],
    "POST": [r"request\.POST\.get(?:list)?\(\s*[\"'](\w+)[\"']", r"[\"'](\w+)[\"'] in request\.POST"],
    "FILES": [
        r"request\.FILES\.get(?:list)?\(\s*[\"'](\w+)[\"']",
        r"[\"'](\w+)[\"'] in request\.FILES",
        r"request\.FILES\[[\"'](\w+)[\"']\]",
    ],
}


def _view_code(pattern) -> tuple[str, list[type]] | None:
    """The source of the view and of the project's functions it hands the request to, and the form classes they
    use; None for a class-based view (login, logout), which reads its request in Django's code."""
    view = inspect.unwrap(getattr(pattern.callback, "view_class", pattern.callback))
    if isinstance(view, type):
        return None
    sources, namespaces, seen, todo = [], [], set(), [view]
    while todo:
        function = todo.pop()
        if function in seen:
            continue
        seen.add(function)
        source = inspect.getsource(function)
        sources.append(source)
        namespace = function.__globals__
        namespaces += [namespace] + [vars(v) for v in namespace.values() if isinstance(v, types.ModuleType)]
        for name in re.findall(r"\b(\w+)\(\s*request\b", source):
            helper = namespace.get(name)
            if inspect.isfunction(helper) and "site-packages" not in inspect.getfile(helper):
                todo.append(helper)
    code = "\n".join(sources)
    forms = {
        ns[name]
        for name in set(re.findall(r"\b(\w+)\(", code))
        for ns in namespaces
        if isinstance(ns.get(name), type) and issubclass(ns[name], django_forms.BaseForm)
    }
    return code, sorted(forms, key=lambda c: c.__name__)


@functools.cache
def _code_names(pattern) -> dict[str, set[str]]:
    """What the view reads: the field names by GET, POST and FILES (FILES is empty unless it takes files), and
    under "reads" which of the query ("GET") and the form ("POST") it reads at all."""
    found = _view_code(pattern)
    if found is None:
        view = pattern.callback.view_class
        options = {**vars(view), **getattr(pattern.callback, "view_initkwargs", {})}
        form_class = options.get("authentication_form") or options.get("form_class")
        code, form_classes, reads = "", [form_class] if form_class else [], {"GET", "POST"}
    else:
        code, form_classes = found
        reads = {kind for kind in ("GET", "POST", "FILES") if f"request.{kind}" in code}
        reads |= {"POST"} if "FILES" in reads else set()
    names = {kind: {n for regex in regexes for n in re.findall(regex, code)} for kind, regexes in _READS.items()}
    for form_class in form_classes:
        try:
            fields = form_class().fields
        except TypeError:  # a form that needs constructor arguments
            continue
        for name, field in fields.items():
            names["POST"].add(name)
            if isinstance(field, django_forms.FileField):
                names["FILES"].add(name)
    if "FILES" not in reads:
        names["FILES"] = set()
    elif not names["FILES"]:
        names["FILES"] = set(COMMON_FILE_NAMES)
    names["reads"] = reads
    return names


# Inputs a clerk types into: the garbage goes there; the other inputs keep what the page offers.
TYPED = {"text", "search", "textarea", "email", "tel", "url", "password"}
# What a browser would send for an empty input of these types.
EMPTY_INPUT = {"date": "2025-01-15", "month": "2025-01", "number": "1"}


class Form:
    """A POST form of a page, as a browser submits it."""

    def __init__(self, action: str):
        self.action = action
        self.fields: dict[str, list[str]] = {}  # name → values sent as they are (hidden, choices, ticks, dates)
        self.typed: dict[str, str] = {}  # text boxes: name → what the page put in
        self.files: set[str] = set()
        self.submit: dict[str, str] = {}

    def data(self, value: str, *, only: str | None = None, junk_file=None) -> dict:
        """The form with ``value`` typed into each of its text boxes (or into the one named ``only``, the others
        as the page filled them), and ``junk_file`` in each file input (else none)."""
        data: dict[str, Any] = {name: values if len(values) > 1 else values[0] for name, values in self.fields.items()}
        data.update({name: value if only in (None, name) else default for name, default in self.typed.items()})
        if junk_file is not None:
            data.update({name: _upload(junk_file) for name in self.files})
        return {**data, **self.submit}

    def signature(self) -> tuple:
        return self.action, tuple(sorted(self.fields)), tuple(sorted(self.typed)), tuple(sorted(self.files))


class _PageParser(HTMLParser):
    """The names of all fields on a page (file inputs apart) and its POST forms."""

    def __init__(self, url: str):
        super().__init__(convert_charrefs=True)
        self.url = url
        self.names: set[str] = set()
        self.file_names: set[str] = set()
        self.forms: list[Form] = []
        self.form: Form | None = None
        self.select: tuple[str, list[tuple[str, bool]]] | None = None

    def handle_starttag(self, tag, attrs):
        a = {k: (v if v is not None else "") for k, v in attrs}
        name = a.get("name", "")
        if tag == "form":
            post = a.get("method", "get").lower() == "post"
            self.form = Form(urljoin(self.url, a.get("action") or self.url)) if post else None
            return
        if tag == "option" and self.select is not None:
            self.select[1].append((a.get("value", ""), "selected" in a))
            return
        if tag not in ("input", "select", "textarea", "button") or not name or name == "csrfmiddlewaretoken":
            return
        kind = {"input": a.get("type", "text").lower(), "button": "submit"}.get(tag, tag)
        (self.file_names if kind == "file" else self.names).add(name)
        if tag == "select":
            self.select = (name, [])
        if self.form is None or "disabled" in a:
            return
        if kind in TYPED:
            self.form.typed[name] = a.get("value", "")
        elif kind == "file":
            self.form.files.add(name)
        elif kind in ("submit", "image"):
            self.form.submit = self.form.submit or {name: a.get("value") or "1"}
        elif kind == "radio" and name in self.form.fields:
            pass  # the first choice
        elif kind in ("checkbox", "radio"):
            self.form.fields.setdefault(name, []).append(a.get("value") or "on")  # every box ticked
        elif tag != "select":
            self.form.fields[name] = [a.get("value") or EMPTY_INPUT.get(kind, "")]

    def handle_endtag(self, tag):
        if tag == "select" and self.select is not None:
            name, options = self.select
            chosen = [v for v, selected in options if selected] or [v for v, _s in options if v] or [""]
            if self.form is not None:
                self.form.fields[name] = chosen[:1]
            self.select = None
        elif tag == "form" and self.form is not None:
            self.forms.append(self.form)
            self.form = None


def _page(response, url: str) -> _PageParser:
    """The fields and POST forms of a page (nothing for an answer that is not an HTML page)."""
    parser = _PageParser(url)
    if response.status_code == 200 and "html" in response.get("Content-Type", ""):
        parser.feed(response.content.decode("utf-8", "replace"))
    return parser


# ---------------------------------------------------------------------------------------------
# Calling a page.


class _Undo(Exception):
    pass


def _short(data: dict) -> str:
    """The data of a request, readably: the value most fields share once, the others by name."""

    def cut(v):
        if isinstance(v, SimpleUploadedFile):
            return f"<file {v.name[:24]!r}, {v.size} bytes>"
        text = str(v)
        return repr(text if len(text) <= 24 else text[:20] + f"…({len(text)} chars)")

    if not data:
        return "(no data)"
    values = [v for v in data.values() if isinstance(v, str)]
    common = max(set(values), key=values.count) if values else None
    common = common if values.count(common) > 3 else None
    shown = [f"{k}={cut(v)}" for k, v in sorted(data.items()) if v != common or not isinstance(v, str)]
    if common is not None:
        shown.insert(0, f"{values.count(common)} fields={cut(common)}")
    return "{" + ", ".join(shown) + "}"


def _call(client: Client, method: str, url: str, data: dict):
    """One request in a savepoint that is always rolled back; streamed bodies are read, as a browser would."""
    from policies.selectors import parameter_cache_clear

    box: dict[str, Any] = {}
    try:
        with transaction.atomic():
            response = getattr(client, method.lower())(url, data)
            if response.status_code < 500 and getattr(response, "streaming", False):
                try:
                    b"".join(response.streaming_content)
                except Exception as exc:  # an error while streaming is a server error too
                    response.status_code = 500
                    response.exc_info = (type(exc), exc, exc.__traceback__)
            box["response"] = response
            raise _Undo
    except _Undo:
        pass
    if method == "POST":  # a cached snapshot of parameters the rolled-back request may have changed
        parameter_cache_clear()
    return box["response"]


def _describe(response) -> str:
    """The exception behind a 500 and where it was raised: the last frame of the project's code, else of a
    library other than Django."""
    exc_info = getattr(response, "exc_info", None)
    if not exc_info:
        return "(no exception recorded)"
    _type, exc, tb = exc_info
    frames = traceback.extract_tb(tb)
    where = (
        [f for f in frames if "site-packages" not in f.filename]
        or [f for f in frames if "site-packages/django/" not in f.filename]
        or frames
    )[-1:]
    place = "".join(f"{f.filename.split('site-packages/')[-1].removeprefix(BASE)}:{f.lineno}" for f in where)
    message = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {message[:200]} at {place}"


# ---------------------------------------------------------------------------------------------
# Users and the test.


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.PUBLIC_BASE_URL = ""


@pytest.fixture(autouse=True)
def _quiet_client_errors(caplog):
    """Django logs each 4xx answer as a warning, the hundreds wanted here too: only errors (a 500) are logged."""
    caplog.set_level(logging.ERROR, logger="django.request")


@pytest.fixture(autouse=True)
def _fresh_parameter_cache():
    from policies.selectors import parameter_cache_clear

    parameter_cache_clear()
    yield
    parameter_cache_clear()


def _staff(username: str, office: Office, role_names: list[str], **extra):
    from django.contrib.auth.models import Group

    if not Group.objects.filter(name__in=role_names).exists():
        roles.roles_sync()
    user = UserFactory(username=username, office=office, roles=[], **extra)  # roles=[]: no roles_sync per user
    user.groups.set(Group.objects.filter(name__in=role_names))
    return user


USERS = {
    # A 黄岩 district clerk with every role a district office gives (not the city administrator's, not a system's).
    "district_clerk": lambda: _staff(
        "bad_input_clerk",
        Office.objects.get(code="331003"),
        [
            roles.COUNTER_CLERK,
            roles.REVIEWER,
            roles.OFFICE_HEAD,
            roles.FUND_OFFICER,
            roles.POLICY_OFFICER,
            roles.AUDITOR,
        ],
    ),
    # The city administrator: a superuser who keeps his office (the city), as the jurisdiction test's.
    "city_admin": lambda: _staff(
        "bad_input_city_admin", Office.objects.get(level=1), [roles.CITY_ADMIN], is_superuser=True, is_staff=True
    ),
}


REF_NAMES = {
    *("op", "person", "item", "fund", "office", "employer", "action", "decision", "mode", "scope", "direction"),
    *("account", "format", "payer_type", "paid_on", "booked_on", "effective_on", "repealed_on", "start_date"),
    *("date", "on", "before", "after", "period", "month", "year", "amount"),
}


def _refs(ctx: Ctx, item_codes: list[str]) -> list[dict[str, str]]:
    """Plausible values of the fields that name other records, choices, dates, months and amounts, one set per
    variant (each field cycles on its own), so that a form gets past its first checks and the garbage in its
    free-text and code fields is read too."""
    from cases.models import CaseAction
    from contributions.models import BillRunScope, PaymentFileMode
    from funds.models import RemittanceDirection
    from funds.services import SIMPLE_ACCOUNTS
    from funds.tests.factories import fund
    from policies.models import DecisionKind

    enrollment = ctx.make[Enrollment](ctx.township)
    choices = {
        "op": ["intake", "search"],
        "person": [str(enrollment.person.uid)],
        "item": item_codes,
        "fund": [str(fund("emp_medical").pk), "emp_medical"],
        "office": [str(ctx.district.pk), ctx.district.code],
        "employer": [enrollment.employer.credit_code],
        "action": list(CaseAction.values),
        "decision": list(DecisionKind.values),
        "mode": list(PaymentFileMode.values),
        "scope": list(BillRunScope.values),
        "direction": list(RemittanceDirection.values),
        "account": list(SIMPLE_ACCOUNTS),
        "format": ["csv-utf-8", "xlsx-", "csv-gbk"],
        "payer_type": ["employer", "person"],
        **{
            name: ["2025-01-15", "2024-06-30"]
            for name in ("paid_on", "booked_on", "effective_on", "repealed_on", "start_date", "date", "on", "before")
        },
        "after": ["2025-06-30"],
        "period": ["202501", "202412"],
        "month": ["2025-01", "2024-12"],
        "year": ["2024", "2025"],
        "amount": ["100.00", "0.01"],
    }
    assert set(choices) == REF_NAMES
    count = max(len(v) for v in choices.values())
    return [{k: v[i % len(v)] for k, v in choices.items()} for i in range(count)]


def _mine(values: list, who: str) -> list[int]:
    """The places of the values this user sends (see ``GET_VALUES``)."""
    turn = list(USERS).index(who)
    return [i for i, value in enumerate(values) if value in SHARED or i % len(USERS) == turn]


@pytest.mark.django_db
@pytest.mark.parametrize("who", list(USERS))
@pytest.mark.parametrize(("route", "pattern"), ROUTES, ids=[route or "/" for route, _p in ROUTES])
def test_page_answers_bad_input_without_a_server_error(route, pattern, who):
    from cases.models import ServiceItem

    user = USERS[who]()
    ctx = Ctx(user)
    url = _url(route, pattern, ctx)
    client = Client(raise_request_exception=False)
    client.force_login(user)
    failures: list[str] = []
    counts = {"GET": 0, "POST": 0}

    def call(method: str, data: dict, target: str = url):
        response = _call(client, method, target, data)
        counts[method] += 1
        if response.status_code >= 500:
            failures.append(f"{who} {method} {target} {_short(data)} → {response.status_code} {_describe(response)}")
        return response

    turn = list(USERS).index(who)

    @functools.cache
    def refs(i: int) -> dict[str, str]:
        """The references sent with the POST value at place i: each user and value its own set (the item, the
        intake step and the case action change from one to the next). Made when first needed."""
        every = all_refs()
        return every[(i + len(POST_VALUES) * turn) % len(every)]

    @functools.cache
    def all_refs() -> list[dict[str, str]]:
        return _refs(ctx, list(ServiceItem.objects.order_by("code").values_list("code", flat=True)) or [""])

    names = _code_names(pattern)

    # The plain page and an empty form; the page with plausible references, if it reads any; the forms that post
    # here (on the page itself, or on the page above for a page that only takes a POST: a case's actions are
    # on the case's page). The pages' fields tell the names of the fields to fill.
    plain = call("GET", {})
    empty = call("POST", {})
    get_allowed, post_allowed = plain.status_code != 405, empty.status_code != 405
    if any(re.search(regex, route) for regex, _make in RECORDS):
        shown = plain if get_allowed else empty
        assert shown.status_code != 404, f"{who}: {url} does not find its record (see RECORDS)"
    pages = [_page(plain, url)]
    if get_allowed and REF_NAMES & (pages[0].names | names["GET"]):
        # A form that changes with the item chosen (intake) is read for each item this user posts.
        item_pages = post_allowed and "item" in pages[0].names
        for ref in [refs(i) for i in _mine(POST_VALUES, who)] if item_pages else [refs(0)]:
            pages.append(_page(call("GET", ref), url))
    elif not get_allowed and post_allowed:
        parts = url.rstrip("/").split("/")
        for above in ("/".join(parts[:n]) + "/" for n in range(len(parts) - 1, 1, -1)):
            page = _page(call("GET", {}, target=above), above)
            if any(urlsplit(f.action).path == url for f in page.forms):
                pages.append(page)
                break
    fields = set().union(*(page.names for page in pages))
    files = set().union(*(page.file_names for page in pages))
    forms = list({f.signature(): f for page in pages for f in page.forms if urlsplit(f.action).path == url}.values())

    # GET: garbage in every field the page may read (only the mix for a page that never reads its query).
    if get_allowed:
        get_names = set(GET_MIX) | fields | names["GET"]
        call("GET", {**dict.fromkeys(get_names, "nope"), **GET_MIX})
        for i in _mine(GET_VALUES, who) if "GET" in names["reads"] else []:
            call("GET", dict.fromkeys(get_names, GET_VALUES[i]))

    # POST: each value in every field (and a junk file in each file field the view reads); then the page's own
    # forms as a browser sends them, with the value typed into each text box (without such a form: the value
    # under plausible references); then junk files. Only NUL for a view that never reads its form.
    if post_allowed:
        post_names = COMMON_NAMES | fields | names["POST"] | names["GET"]
        file_names = (files | names["FILES"]) if names["FILES"] or files else set()
        junk = _junk_files()
        sent = itertools.count()

        def with_files(data: dict) -> dict:
            n = next(sent)
            return {**data, **{name: _upload(junk[(n + i) % len(junk)]) for i, name in enumerate(sorted(file_names))}}

        values = _mine(POST_VALUES, who) if "POST" in names["reads"] else [POST_VALUES.index(NUL)]
        reads_refs = bool(REF_NAMES & (fields | names["POST"] | names["GET"]))
        for i in values:
            garbage = dict.fromkeys(post_names, POST_VALUES[i])
            call("POST", with_files(garbage))
            if reads_refs and not forms:  # (a page's own forms are the better plausible request)
                call("POST", with_files({**garbage, **refs(i)}))
        for k, form in enumerate(forms if "POST" in names["reads"] else []):
            # NUL and the long string in each text box in turn; the user's other values in all of them at once
            # (in the first form).
            for i in values:
                if POST_VALUES[i] in SHARED:
                    for box in sorted(form.typed) or [None]:
                        call("POST", form.data(POST_VALUES[i], only=box), target=form.action)
                elif k == 0:
                    call("POST", form.data(POST_VALUES[i]), target=form.action)
        if file_names:
            for i in range(turn, len(junk), len(USERS)):
                form = next((f for f in forms if f.files), None)
                if form is not None:
                    call("POST", form.data("测试", junk_file=junk[i]), target=form.action)
                else:
                    call("POST", {**refs(i % len(POST_VALUES)), **{name: _upload(junk[i]) for name in file_names}})

    assert not failures, f"{len(failures)} of {sum(counts.values())} requests gave a server error:\n" + "\n".join(
        failures
    )
