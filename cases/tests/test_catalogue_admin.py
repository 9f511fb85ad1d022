"""The catalogue as data (loaded by migration) and its maintenance in admin; cases read-only in admin."""

from __future__ import annotations

import pytest

from cases.models import Case, Effect, ServiceItem, StepKind
from cases.tests.factories import enrollment_case
from registry.tests.factories import township_of
from registry.tests.helpers import page_client_for

pytestmark = pytest.mark.django_db

REQUIRED = {
    "CJ-GR-001": Effect.ENROLLMENT,
    "CJ-GR-002": Effect.RES_PENSION_ENROLLMENT,
    "ZM-001": Effect.CERTIFICATE_ENROLLMENT,
    "ZM-002": Effect.CERTIFICATE_RECORD,
    "ZY-001": Effect.TRANSFER_OUT,
    "ZY-002": Effect.TRANSFER_IN,
    "DY-001": Effect.BENEFIT_EMP_PENSION,
    "DY-002": Effect.BENEFIT_UNEMPLOYMENT,
    "DY-003": Effect.BENEFIT_MATERNITY,
    "DY-004": Effect.BENEFIT_DISABILITY,
    "KA-001": Effect.CARD_APPLY,
    "KA-002": Effect.CARD_LOSS,
    "KA-003": Effect.CARD_REPLACE,
    "DY-005": Effect.BENEFIT_RES_PENSION,
    "DY-006": Effect.BENEFIT_LAND_FARMER,
    "CJ-ZG-001": Effect.EMPLOYEE_ENROLLMENT,
    "CJ-DW-001": Effect.STAFF_ADD,
    "CJ-DW-002": Effect.STAFF_REMOVE,
    "CJ-GR-003": Effect.ENROLLMENT_END,
    "BG-GR-001": Effect.PERSON_CHANGE,
    "BG-DW-002": Effect.EMPLOYER_CHANGE,
}


def test_the_catalogue_holds_the_real_items_with_steps_and_materials():
    items = {i.code: i for i in ServiceItem.objects.prefetch_related("steps", "materials")}
    assert set(REQUIRED) <= set(items)
    for code, effect in REQUIRED.items():
        item = items[code]
        assert item.effect == effect
        steps = sorted(item.steps.all(), key=lambda s: s.sequence)
        assert steps[0].kind == StepKind.INTAKE, code
        assert item.materials.exists(), code
        if item.time_limit_days == 0 and not item.time_limit_parameter:
            assert len(steps) == 1, f"{code} is 即办"
        if not item.time_limit_parameter and item.time_limit_days:
            assert item.time_limit_is_demo, f"{code}: unknown limits are marked demo"
    # 最多跑一次: identity is looked up, never handed in.
    for item in items.values():
        identity = [m for m in item.materials.all() if m.code == "identity"]
        assert identity and identity[0].system_source == "identity", item.code


@pytest.fixture
def admin_client(city_admin):
    return page_client_for(city_admin)


def test_an_administrator_edits_an_item_and_the_step_order_is_checked(admin_client):
    item = ServiceItem.objects.get(code="KA-003")
    url = f"/admin/cases/serviceitem/{item.pk}/change/"
    assert admin_client.get(url).status_code == 200
    steps = list(item.steps.order_by("sequence"))
    materials = list(item.materials.order_by("sequence"))
    data = {
        "code": item.code,
        "name": item.name,
        "insurance_type": "",
        "subject": item.subject,
        "effect": item.effect,
        "effect_options": "{}",
        "time_limit_days": "8",
        "time_limit_parameter": "",
        "time_limit_is_demo": "on",
        "two_person_rule": "on",
        "legal_basis": item.legal_basis,
        "note": item.note,
        "sort_order": item.sort_order,
        "is_active": "on",
        "steps-TOTAL_FORMS": str(len(steps)),
        "steps-INITIAL_FORMS": str(len(steps)),
        "steps-MIN_NUM_FORMS": "1",
        "steps-MAX_NUM_FORMS": "1000",
        "materials-TOTAL_FORMS": str(len(materials)),
        "materials-INITIAL_FORMS": str(len(materials)),
        "materials-MIN_NUM_FORMS": "0",
        "materials-MAX_NUM_FORMS": "1000",
    }
    for i, s in enumerate(steps):
        data.update(
            {
                f"steps-{i}-id": s.pk,
                f"steps-{i}-item": item.pk,
                f"steps-{i}-sequence": s.sequence,
                f"steps-{i}-kind": s.kind,
                f"steps-{i}-role": s.role,
                f"steps-{i}-lowest_level": s.lowest_level,
            }
        )
    for i, m in enumerate(materials):
        data.update(
            {
                f"materials-{i}-id": m.pk,
                f"materials-{i}-item": item.pk,
                f"materials-{i}-sequence": m.sequence,
                f"materials-{i}-code": m.code,
                f"materials-{i}-name": m.name,
                f"materials-{i}-system_source": m.system_source,
                f"materials-{i}-note": m.note,
            }
        )
        if m.required:
            data[f"materials-{i}-required"] = "on"
    # Putting the review before the intake is refused.
    bad = dict(data, **{"steps-0-sequence": "5"})
    response = admin_client.post(url, bad)
    assert response.status_code == 200
    assert "第一个环节必须是“受理”" in response.content.decode()
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:3000]
    item.refresh_from_db()
    assert item.time_limit_days == 8
    assert item.history.first().history_user is not None


def test_cases_are_read_only_in_admin(admin_client):
    case = enrollment_case(township=township_of("331003"))
    assert admin_client.get(f"/admin/cases/case/{case.pk}/change/").status_code == 200
    assert admin_client.get("/admin/cases/case/add/").status_code == 403
    response = admin_client.post(f"/admin/cases/case/{case.pk}/delete/", {"post": "yes"})
    assert response.status_code == 403
    assert Case.objects.filter(pk=case.pk).exists()
