"""Walk every API route, every admin model and every clerk page that takes an id, and check that a
黄岩 (331003) user gets 404 for records of 路桥 (331004) — and never sees them in a list or an export.

A new endpoint or admin model is covered automatically; a new model without an entry in its app's
``tests/factories.py::OUT_OF_JURISDICTION`` makes this test fail until one is added.
"""

from __future__ import annotations

import importlib
import uuid

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from registry import roles
from registry.jurisdiction import is_scoped
from registry.models import Office
from registry.tests.factories import UserFactory, township_of

APP_LABELS = [
    "registry",
    "policies",
    "contributions",
    "funds",
    "cases",
    "payroll",
    "consolidation",
    "hall",
    "evaluation",
]


def _factories() -> dict:
    found = {}
    for label in APP_LABELS:
        try:
            module = importlib.import_module(f"{label}.tests.factories")
        except ModuleNotFoundError:
            continue
        for key, make in getattr(module, "OUT_OF_JURISDICTION", {}).items():
            model = apps.get_model(key) if isinstance(key, str) else key
            found[model] = make
    return found


def _walk(patterns, prefix="", namespace=""):
    """(route, pattern) for every URL pattern; pattern names are qualified with their namespaces."""
    for entry in patterns:
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern), inner)
        elif isinstance(entry, URLPattern):
            entry.qualified_name = f"{namespace}{entry.name}" if entry.name else None
            yield prefix + str(entry.pattern), entry


def _api_routes():
    for route, pattern in _walk(get_resolver().url_patterns):
        if route.startswith("api/v1/") and "format" not in pattern.pattern.regex.groupindex:
            yield route, pattern


def _sample(pattern, name: str) -> str:
    """A value for a URL argument other than the record id (e.g. the verdict of a decision)."""
    converter = pattern.pattern.converters.get(name)
    import re

    regex = getattr(converter, "regex", "[^/]+")
    return next(v for v in ("approve", "1", "x") if re.fullmatch(regex, v))


@pytest.fixture
def luqiao_township(db):
    return township_of("331004")


@pytest.fixture
def huangyan_user(db):
    roles.roles_sync()
    user = UserFactory(username="hy_everything", office=Office.objects.get(code="331003"), roles=[])
    user.groups.set(Group.objects.all())
    return user


@pytest.fixture
def huangyan_superuser(db):
    # Superuser bypasses permission checks but keeps an office, so only jurisdiction stands between him and 路桥.
    # The audit logs are the auditors' alone (registry/security/admin.py), superusers included: he holds that role.
    return UserFactory(
        username="hy_super",
        office=Office.objects.get(code="331003"),
        is_superuser=True,
        is_staff=True,
        roles=[roles.AUDITOR],
    )


def _lookup_value(obj, view_cls):
    field = getattr(view_cls, "lookup_field", "pk")
    return str(getattr(obj, field))


@pytest.mark.django_db
def test_every_api_route_hides_other_district_records(huangyan_user, luqiao_township):
    factories = _factories()
    client = Client()
    client.force_login(huangyan_user)
    checked = 0
    for route, pattern in _api_routes():
        view_cls = getattr(pattern.callback, "cls", None)
        actions = getattr(pattern.callback, "actions", None) or {}
        queryset = getattr(view_cls, "queryset", None)
        if view_cls is None or queryset is None:
            continue  # e.g. the API root or non-model views, which return no records
        model = queryset.model
        if not is_scoped(model):
            continue
        assert model in factories, f"{model._meta.label} (API {route}) has no OUT_OF_JURISDICTION factory"
        obj = factories[model](luqiao_township)
        kwargs = list(pattern.pattern.regex.groupindex)
        assert pattern.qualified_name, f"API route {route} has no name"
        if kwargs:
            url = reverse(pattern.qualified_name, kwargs={kwargs[0]: _lookup_value(obj, view_cls)})
            for method in [m for m in actions if m in view_cls.http_method_names]:
                response = getattr(client, method)(url, data={}, content_type="application/json")
                assert response.status_code == 404, f"{method.upper()} {url} gave {response.status_code}"
                checked += 1
        elif "get" in actions:
            url = reverse(pattern.qualified_name)
            response = client.get(url)
            assert response.status_code == 200, f"GET {url} gave {response.status_code}"
            assert _lookup_value(obj, view_cls) not in response.content.decode(), f"GET {url} lists a 路桥 record"
            checked += 1
    assert checked >= 10


@pytest.mark.django_db
def test_every_admin_model_hides_other_district_records(huangyan_superuser, luqiao_township, rf):
    factories = _factories()
    client = Client()
    client.force_login(huangyan_superuser)
    checked = 0
    for model, model_admin in admin.site._registry.items():
        if not is_scoped(model):
            continue
        assert model in factories, f"{model._meta.label} (admin) has no OUT_OF_JURISDICTION factory"
        obj = factories[model](luqiao_township)
        info = model._meta.app_label, model._meta.model_name
        for view in ("change", "history", "delete"):
            url = reverse(f"admin:{info[0]}_{info[1]}_{view}", args=[obj.pk])
            response = client.get(url)
            assert response.status_code == 404, f"admin {view} of {model._meta.label} gave {response.status_code}"
            checked += 1
        changelist = client.get(reverse(f"admin:{info[0]}_{info[1]}_changelist"))
        assert changelist.status_code == 200
        change_url = reverse(f"admin:{info[0]}_{info[1]}_change", args=[obj.pk])
        assert change_url not in changelist.content.decode(), f"admin list of {model._meta.label} shows a 路桥 record"
        if hasattr(model_admin, "get_export_queryset"):
            request = rf.get("/")
            request.user = huangyan_superuser
            exported = model_admin.get_export_queryset(request)
            assert not exported.filter(pk=obj.pk).exists(), f"export of {model._meta.label} includes a 路桥 record"
        checked += 1
    assert checked >= 8


@pytest.mark.django_db
def test_every_clerk_page_with_an_id_hides_other_district_records(huangyan_superuser, luqiao_township):
    factories = _factories()
    records = [make(luqiao_township) for model, make in factories.items() if is_scoped(model)]
    uids = [r.uid for r in records if isinstance(getattr(r, "uid", None), uuid.UUID)]
    assert uids
    client = Client()
    client.force_login(huangyan_superuser)
    checked = 0
    for route, pattern in _walk(get_resolver().url_patterns):
        if (
            # The online hall's pages open no staff session at all; hall/tests/test_routes.py walks them with
            # another person's and another employer's ids.
            route.startswith(("api/", "admin/", "hall/"))
            or "uid" not in pattern.pattern.regex.groupindex
            or not pattern.qualified_name
        ):
            continue
        for uid in uids:
            extra = {k: _sample(pattern, k) for k in pattern.pattern.regex.groupindex if k != "uid"}
            url = reverse(pattern.qualified_name, kwargs={"uid": uid, **extra})
            statuses = {client.get(url).status_code, client.post(url).status_code}
            # 405 for the method the page does not take; the other one must be a 404.
            assert statuses <= {404, 405} and 404 in statuses, f"{url} gave {statuses}"
            checked += 1
    assert checked >= 2
