"""Schemathesis over the whole OpenAPI schema, in-process through the WSGI application (no server).

Every operation of /api/v1/ is called with generated valid and invalid input by each kind of caller: the
黄岩 district system, the collecting agency (税务, city level), the provincial system, a 黄岩 staff member
in a browser session, and systems that must be refused (a revoked key, a system granted no operation).
Path parameters are drawn from a seeded data set — records inside and outside the caller's jurisdiction —
as well as generated, so detail routes answer 200 and 404, not only 404.

Every response must: not be a server error (the exception is reported with its traceback), have a status
code the schema documents for the operation, a documented content type, documented headers, a body that
matches the schema, and invalid input must be refused (4xx).

Generation is derandomized (the same examples on every run) and nothing is shrunk, so a failure shows the
first failing request as generated. ``RUNS`` sets how many requests each caller sends per operation, which
bounds the run time; the figures of a run (operations, requests, statuses, seconds) are printed (-s or -rP).
"""

from __future__ import annotations

import collections
import dataclasses
import datetime
import importlib
import re
import secrets
import time
import traceback
from decimal import Decimal

import hypothesis
import pytest
import schemathesis
from django.conf import settings as django_settings
from django.core.signals import got_request_exception, request_finished, request_started
from django.db import close_old_connections
from django.test import Client
from hypothesis import HealthCheck, Phase
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from registry import roles
from registry.jurisdiction import scope_to_user
from registry.models import Office

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

APP_LABELS = ["registry", "policies", "contributions", "funds", "cases"]
SAMPLES_PER_SIDE = 2  # records inside / outside the caller's jurisdiction offered as path parameters

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


# ---------------------------------------------------------------------------------------------
# The schema and the application.


@pytest.fixture(scope="module")
def api_schema():
    """The schema as /api/schema/ serves it (test_served_schema_is_the_tested_one checks they are equal),
    bound to the WSGI application so that calls go in-process."""
    from drf_spectacular.generators import SchemaGenerator

    from taizhou_si.wsgi import application

    raw = SchemaGenerator().get_schema(request=None, public=True)
    schema = schemathesis.openapi.from_dict(raw)
    schema.app = application
    return raw, schema


def test_served_schema_is_the_tested_one(api_schema):
    import json

    raw, _schema = api_schema
    response = Client().get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    assert json.loads(response.content) == json.loads(json.dumps(raw, default=str))


# ---------------------------------------------------------------------------------------------
# Data: a small realistic set in 黄岩 and in 路桥, through the apps' own factories and services.


def _seed() -> None:
    from contributions.tests.factories import (
        bill_employer,
        declare,
        employ,
        huangyan_employer,
        huangyan_parameters_2025,
        pay,
    )
    from funds import services as fund_services
    from funds.tests.factories import expense, fund, income, set_thresholds
    from registry.tests.factories import township_of

    # Every model of every app, one record in each district (the makers the jurisdiction test uses).
    for township in (township_of("331003"), township_of("331004")):
        for label in APP_LABELS:
            module = importlib.import_module(f"{label}.tests.factories")
            for make in getattr(module, "OUT_OF_JURISDICTION", {}).values():
                make(township)

    # A 黄岩 employer with two employees: declared, billed by the bill run, partly paid (so arrears remain).
    huangyan_parameters_2025()
    clerk = _staff("seed_clerk", "331003", roles.CITY_ADMIN)
    employer = huangyan_employer()
    first, second = employ(employer), employ(employer)
    declare(employer, 202503, {first: "5000.00", second: "2000.00"}, clerk)
    bill = bill_employer(employer, 202503, clerk)
    pay(bill, (bill.total / 2).quantize(Decimal("0.01")), datetime.date(2025, 4, 10), clerk)

    # Fund figures: a ledger whose balance covers few months, and the nightly indicators and warnings.
    medical = fund("emp_medical")
    income(medical, "331002", datetime.date(2024, 3, 1), "1000000.00")
    for month in range(1, 13):
        expense(medical, "331003", datetime.date(2024, month, 10), "50000.00")
    set_thresholds("emp_medical", "3", "9", "15")
    fund_services.fund_warning_run(on=datetime.date(2024, 12, 31))


def _staff(username: str, office_code: str, *role_names: str):
    from registry.tests.factories import UserFactory

    return UserFactory(username=username, office=Office.objects.get(code=office_code), roles=list(role_names))


# ---------------------------------------------------------------------------------------------
# Callers.


@dataclasses.dataclass
class Caller:
    user: object
    headers: dict[str, str]
    cookies: dict[str, str]
    refused: bool = False  # every call must be refused (401/403) before reaching a view
    # A valid key of a system granted no operation: refused everywhere, except that GET /api/v1/whoami/ (outside
    # the router, for any authenticated caller) tells it who it is — its own identity only, by design.
    valid_key: bool = False


def _system(code: str, name: str, office_code: str, operations: list[str]) -> tuple[object, str]:
    from registry.models import SystemAccount
    from registry.services import api_key_issue, system_account_create

    root = _staff(f"root_{code}", "331000", roles.CITY_ADMIN)
    account = system_account_create(acting_user=root, code=code, name=name, office=Office.objects.get(code=office_code))
    if any(f.name == "operations" for f in SystemAccount._meta.get_fields()):
        account.operations = operations
        account.rate_limit_per_minute = 1_000_000  # the run makes hundreds of calls a minute on purpose
        account.full_clean()
        account.save()
    _key, raw = api_key_issue(account=account, acting_user=None)
    return account.user, raw


def _api_key_caller(raw: str, user, refused: bool = False) -> Caller:
    return Caller(user=user, headers={"Authorization": f"Api-Key {raw}"}, cookies={}, refused=refused)


def _make_caller(kind: str) -> Caller:
    from registry.services import api_key_revoke

    if kind == "district":
        # 黄岩's own system: reads everything in 黄岩, keeps persons, employers, enrollments, declarations and
        # submits applications.
        user, raw = _system(
            "huangyan",
            "黄岩区社保系统",
            "331003",
            [
                "*:read",
                "person:write",
                "employer:write",
                "enrollment:write",
                "declaration:write",
                "case:write",
                "case-attachment:write",
            ],
        )
        return _api_key_caller(raw, user)
    if kind == "agency":
        # The collecting agency at city level: reads bills and arrears city-wide, reports payments.
        user, raw = _system("tax", "税务征收系统", "331000", ["*:read", "payment:write", "declaration:write"])
        return _api_key_caller(raw, user)
    if kind == "province":
        user, raw = _system("province", "省级社保系统", "331000", ["*:read"])
        return _api_key_caller(raw, user)
    if kind == "staff":
        # A 黄岩 district staff member holding every role, in a browser session (CSRF token included).
        from django.contrib.auth.models import Group

        user = _staff("hy_everything", "331003")
        user.groups.set(Group.objects.all())
        client = Client()
        client.force_login(user)
        token = secrets.token_hex(16)  # an unmasked 32-character CSRF secret, as the cookie holds it
        return Caller(
            user=user,
            headers={"X-CSRFToken": token},
            cookies={
                django_settings.SESSION_COOKIE_NAME: client.cookies[django_settings.SESSION_COOKIE_NAME].value,
                django_settings.CSRF_COOKIE_NAME: token,
            },
        )
    if kind == "revoked":
        user, raw = _system("revoked", "已停用的系统", "331003", ["*:read", "*:write"])
        from registry.models import ApiKey

        api_key_revoke(key=ApiKey.objects.get(prefix=raw.split(".")[0]), acting_user=None)
        return _api_key_caller(raw, user, refused=True)
    if kind == "unknown_key":
        return _api_key_caller(f"{secrets.token_hex(6)}.{secrets.token_urlsafe(32)}", None, refused=True)
    if kind == "no_operations":
        user, raw = _system("nothing", "未授权任何接口的系统", "331003", [])
        return dataclasses.replace(_api_key_caller(raw, user, refused=True), valid_key=True)
    raise AssertionError(kind)


# ---------------------------------------------------------------------------------------------
# Path parameters from the data set.


def _path_samples(user) -> dict[str, list[str]]:
    """For each router prefix, lookup values of records inside and outside ``user``'s jurisdiction."""
    from taizhou_si.urls import router

    samples: dict[str, list[str]] = {}
    for prefix, viewset, _basename in router.registry:
        queryset = getattr(viewset, "queryset", None)
        if queryset is None:
            continue
        field = getattr(viewset, "lookup_field", "pk")
        everything = queryset.model._default_manager.order_by("pk")
        inside = scope_to_user(everything, user)
        values = list(inside.values_list(field, flat=True)[:SAMPLES_PER_SIDE])
        values += list(everything.exclude(pk__in=inside.values("pk")).values_list(field, flat=True)[:SAMPLES_PER_SIDE])
        samples[prefix] = [str(v) for v in values]
    return samples


_DETAIL_PATH = re.compile(r"^/api/v1/(?P<prefix>[^/{]+)/\{(?P<param>[^}]+)\}/")


def _plans(operation, budget: Budget, samples: dict[str, list[str]]):
    """(name, strategy of a tuple of cases, max_examples) to run for ``operation``."""
    positive, negative = schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE
    match = _DETAIL_PATH.match(operation.path)
    values = samples.get(match["prefix"], []) if match and budget.seeded else []
    if values:
        # One call per seeded record, inside and outside the jurisdiction, the rest of the request generated.
        seeded = [operation.as_strategy(positive, path_parameters={match["param"]: v}) for v in values]
        yield "seeded", st.tuples(*seeded), 1
    yield "positive", st.tuples(operation.as_strategy(positive)), budget.positive
    raw = operation.definition.raw
    if budget.negative and (raw.get("parameters") or raw.get("requestBody")):  # else nothing can be invalid
        yield "negative", st.tuples(operation.as_strategy(negative)), budget.negative


# ---------------------------------------------------------------------------------------------
# The run.


class _ServerErrors:
    """Tracebacks of exceptions Django turned into 500 responses during a call."""

    def __init__(self):
        self.last: str | None = None

    def __call__(self, sender, request=None, **kwargs):
        self.last = traceback.format_exc()


@dataclasses.dataclass
class RunStats:
    operations: int = 0
    examples: int = 0
    statuses: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    seconds: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    failures: list = dataclasses.field(default_factory=list)

    def summary(self, name: str, elapsed: float) -> str:
        slowest = [(label, round(t, 1)) for label, t in self.seconds.most_common(3)]
        return (
            f"[{name}] operations={self.operations} examples={self.examples} time={elapsed:.1f}s "
            f"statuses={dict(sorted(self.statuses.items()))} slowest={slowest}"
        )


def _call(case, caller: Caller, errors: _ServerErrors, stats: RunStats) -> None:
    errors.last = None
    response = case.call(headers=caller.headers, cookies=caller.cookies)
    stats.examples += 1
    stats.statuses[response.status_code] += 1
    if errors.last:
        raise AssertionError(f"server error {response.status_code}\n{errors.last}")
    if caller.refused and not (caller.valid_key and case.path == "/api/v1/whoami/"):
        assert response.status_code in (401, 403), f"{response.status_code} for a caller that must be refused"
    case.validate_response(response, checks=CHECKS, headers=caller.headers)


def _run(schema, callers: list[Caller], budget: Budget, samples, stats: RunStats) -> None:
    """Every operation, with ``callers`` taking turns (one caller: every operation with it)."""
    errors = _ServerErrors()
    got_request_exception.connect(errors)
    # The WSGI handler closes the database connection after each request, which would end the test's
    # transaction on PostgreSQL; Django's own test client keeps it open the same way.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        for index, result in enumerate(schema.get_all_operations()):
            operation = result.ok()
            caller = callers[index % len(callers)]
            stats.operations += 1
            started = time.monotonic()
            for name, strategy, max_examples in _plans(operation, budget, samples):

                def test(cases):
                    for case in cases:
                        _call(case, caller, errors, stats)  # noqa: B023 - run before the loop moves on

                test = hypothesis.settings(
                    max_examples=max_examples,
                    derandomize=True,  # the same examples on every run
                    database=None,
                    deadline=None,
                    phases=[Phase.explicit, Phase.generate],  # no shrinking: report the request as generated
                    suppress_health_check=list(HealthCheck),
                    report_multiple_bugs=False,
                    verbosity=hypothesis.Verbosity.quiet,
                )(hypothesis.given(strategy)(test))
                try:
                    test()
                except hypothesis.errors.Unsatisfiable:
                    pass  # nothing invalid can be generated for this operation (e.g. it takes no input)
                except (Exception, BaseExceptionGroup) as exc:  # collect: one run reports every failing operation
                    stats.failures.append(f"--- {operation.label} [{name}]\n{exc}")
            stats.seconds[operation.label] = time.monotonic() - started
    finally:
        got_request_exception.disconnect(errors)
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@dataclasses.dataclass(frozen=True)
class Budget:
    positive: int  # generated valid requests per operation
    negative: int  # generated invalid requests per operation
    seeded: bool  # also one call per seeded record (detail routes)


# Invalid input is handled the same whoever sends it, so the district system and the staff member send it;
# the agency and the provincial system exercise their grants and jurisdiction with valid requests.
RUNS = {
    "district": (["district"], Budget(positive=3, negative=2, seeded=True)),
    "staff": (["staff"], Budget(positive=3, negative=2, seeded=True)),
    "agency": (["agency"], Budget(positive=2, negative=0, seeded=True)),
    "province": (["province"], Budget(positive=2, negative=0, seeded=True)),
    "refused": (["revoked", "unknown_key", "no_operations"], Budget(positive=1, negative=0, seeded=False)),
}


# Runs sharing one data set (seeding costs seconds); the two groups run in parallel under pytest-xdist.
GROUPS = {"systems": ["district", "agency", "refused"], "staff_and_province": ["staff", "province"]}


@pytest.mark.parametrize("group", list(GROUPS))
def test_every_operation_conforms_to_the_schema(api_schema, group, settings, tmp_path):
    settings.ALLOWED_HOSTS = ["localhost", "testserver"]
    settings.MEDIA_ROOT = str(tmp_path / "media")  # uploads and exported files of the run
    settings.PUBLIC_BASE_URL = ""
    _raw, schema = api_schema
    started = time.monotonic()
    _seed()
    figures = [f"data set {time.monotonic() - started:.1f}s"]
    failures = []
    for run in GROUPS[group]:
        kinds, budget = RUNS[run]
        run_started = time.monotonic()
        callers = [_make_caller(kind) for kind in kinds]
        samples = _path_samples(callers[0].user) if budget.seeded else {}
        stats = RunStats()
        _run(schema, callers, budget, samples, stats)
        figures.append(stats.summary(run, time.monotonic() - run_started))
        failures += [f"[{run}] {failure}" for failure in stats.failures]
        assert stats.examples >= stats.operations
        if not callers[0].refused:
            # The data set and the credentials work: calls succeed, and records outside the jurisdiction are 404.
            succeeded = sum(n for code, n in stats.statuses.items() if 200 <= code < 300)
            assert succeeded >= stats.operations // 2, (run, stats.statuses)
            assert stats.statuses[404], (run, stats.statuses)
    print("\n" + "\n".join(figures) + f"\ntotal {time.monotonic() - started:.1f}s")  # shown with -s or -rP
    assert not failures, f"{len(failures)} failing operation(s):\n\n" + "\n\n".join(failures)
