"""Employers that may be one (疑似同一单位): an employer a batch creates is paired with a registered one of the same
normalised name in the same district, or whose credit code is one character off; the pair waits in the queue with
its reasons, one clerk proposes and another approves; another district's namesake is no candidate."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from stdnum.cn import uscc

from consolidation.models import EmployerConflict, EmployerConflictStatus, EmployerDecision
from consolidation.services import employer_conflicts
from consolidation.tests.factories import city_admin, csv_bytes, deliver, load_and_apply
from consolidation.tests.test_flow import _uscc
from registry import roles
from registry.models import Employer, Office
from registry.tests.factories import UserFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

STAR = _uscc("331003", 711)
OTHER = _uscc("331003", 712)
NAMESAKE_LQ = _uscc("331004", 713)


def _near(code: str) -> str:
    """A credit code one digit off in its organisation code whose check character was computed on the wrong body
    (the old system's typing error it then 'validated')."""
    body = code[:12] + str((int(code[12]) + 1) % 10) + code[13:17]
    return body + uscc.calc_check_digit(body)


def _employers(admin, district: str, rows: list[tuple[str, str]]):
    lines = [[code, "", name, "企业", "制造业", "2", ""] for code, name in rows]
    batch, _queued = deliver(
        user=admin, district=district, files={"employers": ("e.csv", csv_bytes("employers", lines))}
    )
    return load_and_apply(batch, user=admin)


@pytest.fixture
def admin(db):
    return city_admin()


def test_namesakes_in_the_district_and_near_codes_are_queued_with_their_reasons(admin):
    _employers(admin, "331003", [(STAR, "台州市黄岩星光模具有限公司"), (OTHER, "黄岩永达塑料厂")])
    _employers(admin, "331004", [(NAMESAKE_LQ, "台州路桥星光模具有限公司")])
    batch = _employers(admin, "331003", [(_uscc("331003", 721), "黄岩星光模具厂"), (_near(OTHER), "黄岩永达塑业厂")])
    pairs = {
        (c.incoming.name, c.candidate.name): (c.reasons, c.office.code)
        for c in EmployerConflict.objects.filter(batch=batch).select_related("incoming", "candidate", "office")
    }
    assert pairs[("黄岩星光模具厂", "台州市黄岩星光模具有限公司")] == (["name_same", "district_same"], "331003")
    reasons, office = pairs[("黄岩永达塑业厂", "黄岩永达塑料厂")]
    assert "code_digit" in reasons and office == "331003"
    # 路桥's 星光模具 is another district's: no candidate by name alone.
    assert not any(candidate == "台州路桥星光模具有限公司" for _incoming, candidate in pairs)
    assert len(pairs) == 2
    assert Employer.objects.filter(name="黄岩星光模具厂").exists()  # created meanwhile; the queue decides


def test_one_clerk_proposes_and_another_approves(client, admin):
    _employers(admin, "331003", [(STAR, "台州市黄岩星光模具有限公司")])
    _employers(admin, "331003", [(_uscc("331003", 722), "黄岩星光模具有限公司")])
    conflict = EmployerConflict.objects.get()
    huangyan = Office.objects.get(code="331003")
    clerk = UserFactory(username="hy_clerk", office=huangyan, roles=[roles.COUNTER_CLERK])
    reviewer = UserFactory(username="hy_reviewer", office=huangyan, roles=[roles.REVIEWER])
    outsider = UserFactory(username="lq_reviewer", office=Office.objects.get(code="331004"), roles=[roles.REVIEWER])

    client.force_login(clerk)
    page = client.get(reverse("consolidation:conflicts"))
    assert "黄岩星光模具有限公司" in page.content.decode() and "名称相同" in page.content.decode()
    response = client.post(
        reverse("consolidation:employer_conflict", args=[conflict.uid]),
        {"action": "propose", "decision": EmployerDecision.SAME, "note": "同一家，改过名称"},
    )
    assert response.status_code == 302
    conflict.refresh_from_db()
    assert (conflict.status, conflict.proposed_by) == (EmployerConflictStatus.PROPOSED, clerk)
    with pytest.raises(EmployerConflict.DoesNotExist):
        employer_conflicts.employer_conflict_approve(conflict=conflict, acting_user=outsider)
    with pytest.raises(PermissionDenied):  # a counter clerk proposes, never approves
        employer_conflicts.employer_conflict_approve(conflict=conflict, acting_user=clerk)
    client.force_login(reviewer)
    client.post(reverse("consolidation:employer_conflict", args=[conflict.uid]), {"action": "approve"})
    conflict.refresh_from_db()
    assert (conflict.status, conflict.decided_by) == (EmployerConflictStatus.SAME, reviewer)
    with pytest.raises(ValidationError, match="没有待复核"):
        employer_conflicts.employer_conflict_approve(conflict=conflict, acting_user=reviewer)
    client.force_login(outsider)
    assert (
        client.post(reverse("consolidation:employer_conflict", args=[conflict.uid]), {"action": "approve"}).status_code
        == 404
    )
