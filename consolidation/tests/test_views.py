"""The clerk pages: a district's clerks see and decide their district's conflicts, never another district's or
the city's; the proposal, the approval by a second person (never the proposer) and the undo through the pages."""

from __future__ import annotations

import pytest
from django.test import Client

from consolidation.models import ConflictStatus, Merge
from consolidation.tests.factories import city_admin, huangyan_held_conflict
from contributions.models import ContributionHistory
from registry import roles
from registry.models import Office
from registry.tests.factories import UserFactory
from registry.tests.helpers import page_client_for

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


@pytest.fixture
def conflict():
    return huangyan_held_conflict(city_admin())


def _client(username: str, office: str, role: str) -> Client:
    return page_client_for(UserFactory(username=username, office=Office.objects.get(code=office), roles=[role]))


def test_a_district_conflict_is_its_clerks_and_no_one_elses(conflict):
    assert conflict.office.code == "331003"
    huangyan = _client("hy_c", "331003", roles.COUNTER_CLERK)
    luqiao = _client("lq_c", "331004", roles.COUNTER_CLERK)
    assert str(conflict.uid) in huangyan.get("/consolidation/conflicts/").content.decode()
    page = huangyan.get(f"/consolidation/conflicts/{conflict.uid}/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "陈晶" in text and "陈静" in text and "身份证号码仅一位数字不同" in text and "待导入的历史缴费" in text
    assert luqiao.get(f"/consolidation/conflicts/{conflict.uid}/").status_code == 404
    assert str(conflict.uid) not in luqiao.get("/consolidation/conflicts/").content.decode()
    conflict.office = Office.objects.get(level=1)
    conflict.save()
    assert huangyan.get(f"/consolidation/conflicts/{conflict.uid}/").status_code == 404


def test_propose_approve_and_undo_through_the_pages(conflict):
    clerk = _client("hy_c", "331003", roles.COUNTER_CLERK)
    reviewer = _client("hy_r", "331003", roles.REVIEWER)
    candidate = conflict.candidates.get().person
    response = clerk.post(
        f"/consolidation/conflicts/{conflict.uid}/propose/",
        {"decision": "merge", "candidate": str(candidate.uid), "choice_phone": "incoming", "note": "同一人"},
    )
    assert response.status_code == 302
    conflict.refresh_from_db()
    assert conflict.status == ConflictStatus.PROPOSED
    # A clerk has no approval; the proposer cannot approve even with it.
    assert clerk.post(f"/consolidation/conflicts/{conflict.uid}/approve/").status_code == 403
    response = reviewer.post(f"/consolidation/conflicts/{conflict.uid}/approve/", follow=True)
    assert "复核通过" in response.content.decode()
    conflict.refresh_from_db()
    candidate.refresh_from_db()
    assert conflict.status == ConflictStatus.MERGED and candidate.phone == "13800000010"
    assert ContributionHistory.objects.filter(person=candidate).count() == 1
    merge = Merge.objects.get(conflict=conflict)
    response = reviewer.post(f"/consolidation/merges/{merge.uid}/undo/", {"reason": "核对有误"}, follow=True)
    assert "合并已撤销" in response.content.decode()
    candidate.refresh_from_db()
    assert candidate.phone == "13800000009" and not ContributionHistory.objects.filter(person=candidate).exists()


def test_the_proposer_cannot_approve_and_is_told_so(conflict):
    reviewer = _client("hy_r", "331003", roles.REVIEWER)
    candidate = conflict.candidates.get().person
    reviewer.post(
        f"/consolidation/conflicts/{conflict.uid}/propose/", {"decision": "merge", "candidate": str(candidate.uid)}
    )
    page = reviewer.get(f"/consolidation/conflicts/{conflict.uid}/").content.decode()
    assert "须由另一人复核" in page and "复核通过</button>" not in page
    response = reviewer.post(f"/consolidation/conflicts/{conflict.uid}/approve/", follow=True)
    assert "复核须由提出处理意见以外的另一人进行" in response.content.decode()
    conflict.refresh_from_db()
    assert conflict.status == ConflictStatus.PROPOSED


def test_a_proposal_without_a_candidate_is_refused_next_to_the_field(conflict):
    clerk = _client("hy_c", "331003", roles.COUNTER_CLERK)
    response = clerk.post(f"/consolidation/conflicts/{conflict.uid}/propose/", {"decision": "merge", "candidate": ""})
    assert response.status_code == 400
    assert "请选择要合并到的已登记人员" in response.content.decode()
