"""The consolidation works as the application role of docs/security.md (no superuser, owns nothing, creates no
table): its raw tables and their statistics go through the owner's functions (migration 0004), and the batch
loads, checks and applies with the grants every migrate gives."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction

from consolidation.models import (
    BatchStatus,
    Conflict,
    ConflictKind,
    ConflictStatus,
    Decision,
    Merge,
    Outcome,
    StagedPerson,
)
from consolidation.services import conflicts
from consolidation.tests.factories import city_admin, csv_bytes, deliver, history_line, load_and_apply
from consolidation.tests.test_flow import LI, WANG, WANG_TYPO, jiaojiang_files, luqiao_files
from contributions.models import ContributionHistory
from contributions.selectors import contribution_months
from registry import roles
from registry.models import Enrollment, Office, Person
from registry.tests.factories import UserFactory, make_id_number
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
        "history": ("h.csv", csv_bytes("history", [history_line(number, "", 201901, "4000", "560", "320", "880")])),
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


def test_undoing_a_merge_restores_both_persons_as_the_application_role(app_role):  # noqa: F811
    """The undo withdraws the history rows the merge loaded through the owner's function; the application role
    itself cannot delete history, even with the old session flag set."""
    admin = city_admin()
    reviewer = UserFactory(username="city_reviewer", office=Office.objects.get(level=1), roles=[roles.REVIEWER])
    with as_app_role():
        for district, files in (("331002", jiaojiang_files()), ("331004", luqiao_files())):
            batch, _queued = deliver(user=admin, district=district, files=files)
            assert load_and_apply(batch, user=admin).status == BatchStatus.APPLIED
    wang = Person.objects.get(id_number=WANG)
    li = Person.objects.get(id_number=LI)
    other = Person.objects.get(name="李娜", residence_office__path__contains="/331004/")
    held = Conflict.objects.get(staged_person__raw_id=WANG_TYPO)
    pair = Conflict.objects.get(kind=ConflictKind.PAIR, incoming_person=other)
    with as_app_role() as cursor:
        for conflict, candidate in ((held, wang), (pair, li)):
            conflicts.conflict_propose(
                conflict=conflict, acting_user=reviewer, decision=Decision.MERGE, candidate=candidate
            )
            conflicts.conflict_approve(conflict=conflict, acting_user=admin)
        assert contribution_months(wang, "emp_pension") == 10 and contribution_months(li, "emp_pension") == 5
        cursor.execute("SET LOCAL tzsi.history_withdraw = 'on'")
        with pytest.raises(DatabaseError, match="immutable"), transaction.atomic():
            ContributionHistory.objects.filter(person=wang).delete()
        for conflict in (held, pair):
            conflicts.merge_undo(merge=Merge.objects.get(conflict=conflict), acting_user=admin, reason="撤销测试")
    other.refresh_from_db()
    assert other.merged_into is None and Enrollment.objects.filter(person=other).count() == 1
    assert contribution_months(li, "emp_pension") == 3 and contribution_months(other, "emp_pension") == 2
    assert contribution_months(wang, "emp_pension") == 6
    assert StagedPerson.objects.get(raw_id=WANG_TYPO).outcome == Outcome.HELD
    assert set(Conflict.objects.filter(pk__in=[held.pk, pair.pk]).values_list("status", flat=True)) == {
        ConflictStatus.OPEN
    }
