"""The consolidation works as the application role of docs/security.md (no superuser, owns nothing, creates no
table): its raw tables and their statistics go through the owner's functions (migration 0004), and the batch
loads, checks and applies with the grants every migrate gives."""

from __future__ import annotations

import pytest
from django.db import connection

from consolidation.models import BatchStatus
from consolidation.tests.factories import city_admin, csv_bytes, deliver, load_and_apply
from registry.models import Person
from registry.tests.factories import make_id_number
from tests.test_security_database import APP_ROLE, app_role, as_app_role  # noqa: F401 — the fixture and helpers

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.usefixtures("_restore_migration_data"),
]


def test_a_batch_loads_and_applies_as_the_application_role(app_role):  # noqa: F811
    admin = city_admin()
    number = make_id_number("331003", "19800505", 15)
    files = {
        "persons": ("p.csv", csv_bytes("persons", [[number, "周建", "", "", "", "", "", "", "", ""]], encoding="gbk")),
        "history": ("h.csv", csv_bytes("history", [[number, "", 201901, "110", "4000", "560", "320", "880"]])),
    }
    with as_app_role() as cursor:
        cursor.execute("SELECT current_user")
        assert cursor.fetchone()[0] == APP_ROLE
        batch, _queued = deliver(user=admin, district="331003", files=files)
        batch = load_and_apply(batch, user=admin)
    assert batch.status == BatchStatus.APPLIED, batch.error
    assert batch.reconciliation["agrees"]
    assert Person.objects.filter(id_number=number).exists()
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_tables WHERE tablename LIKE 'consolidation_raw_%%'")
        assert cursor.fetchone()[0] == 0  # dropped once the batch was applied
