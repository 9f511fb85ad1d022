"""Open every admin page a role may open — the list, a record's change page (read-only where the role may only
view), its history and the add form — as a city user of that role, on a record of his jurisdiction: no 500.

A view-only user gets a form built without the fields he may not change; a form that touched such a field
answered 500 (the parameter values' form, found by crawling the demo as the city administrator, 2026-12-07).
New admin models are covered through their app's ``tests/factories.py::OUT_OF_JURISDICTION`` factories (the
jurisdiction walk requires one for every scoped model), given a 黄岩 township here instead of 路桥's; the others
through a record the migrations load, where there is one.
"""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.test import Client, RequestFactory
from django.urls import reverse

from registry import roles
from registry.models import Office
from registry.tests.factories import UserFactory, township_of
from tests.test_jurisdiction_routes import _factories

STAFF_ROLES = [role for role in roles.ROLE_LABELS if role != roles.SYSTEM]


@pytest.mark.django_db
@pytest.mark.parametrize("role", STAFF_ROLES)
def test_every_admin_page_a_role_may_open_answers(role):
    roles.roles_sync()
    user = UserFactory(
        username=f"city_{STAFF_ROLES.index(role)}",
        office=Office.objects.get(code="331000"),
        is_staff=True,
        roles=[role],
    )
    client = Client()
    client.force_login(user)
    request = RequestFactory().get("/")
    request.user = user
    factories = _factories()
    township = township_of("331003")
    opened = 0
    for model, model_admin in admin.site._registry.items():
        if not model_admin.has_view_permission(request):
            continue
        info = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        response = client.get(reverse(f"{info}_changelist"))
        assert response.status_code == 200, f"{role}: list of {model._meta.label} gave {response.status_code}"
        opened += 1
        if model_admin.has_add_permission(request):
            response = client.get(reverse(f"{info}_add"))
            assert response.status_code == 200, f"{role}: add form of {model._meta.label} gave {response.status_code}"
        # A scoped model's record is made in the user's jurisdiction; reference data (offices, parameters, the
        # calendar) comes with the migrations.
        obj = factories[model](township) if model in factories else model_admin.get_queryset(request).first()
        if obj is None:
            continue
        for view in ("change", "history"):
            response = client.get(reverse(f"{info}_{view}", args=[obj.pk]))
            assert response.status_code == 200, f"{role}: {view} of {model._meta.label} gave {response.status_code}"
            opened += 1
    assert opened >= 3
