import datetime

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from policies import services
from policies.models import DecisionStatus, DocumentStatus, PolicyDecision, PolicyDocument
from policies.selectors import parameter_value
from policies.tests.conftest import make_user
from policies.tests.factories import ParameterFactory, PolicyDocumentFactory
from registry import roles
from registry.exceptions import PermissionDeniedError
from registry.models import Office

D = datetime.date
pytestmark = pytest.mark.django_db


@pytest.fixture
def district_doc(officer):
    """A 黄岩 document with an open-ended value of its own beside the city value."""
    huangyan = Office.objects.get(code="331003")
    document = PolicyDocumentFactory(level="district", district=huangyan, effective_from=D(2015, 1, 1))
    param = ParameterFactory(kind="amount", category="benefit")
    city_doc = PolicyDocumentFactory(effective_from=D(2015, 1, 1))
    services.parameter_value_create(
        acting_user=officer, parameter=param, value="600", valid_from=D(2017, 1, 1), document=city_doc
    )
    own = services.parameter_value_create(
        acting_user=officer,
        parameter=param,
        value="480",
        valid_from=D(2015, 1, 1),
        document=document,
        district=huangyan,
    )
    document.own_value = own
    return document


def propose(user, document, decision="repeal", **kwargs):
    kwargs.setdefault("reason", "与市区统一政策重复")
    if decision != "keep":
        kwargs.setdefault("effective_on", D(2018, 1, 1))
    return services.policy_decision_propose(acting_user=user, document=document, decision=decision, **kwargs)


def test_a_proposal_puts_the_document_under_review(officer, district_doc):
    decision = propose(officer, district_doc)

    district_doc.refresh_from_db()
    assert decision.status == DecisionStatus.PROPOSED and decision.proposed_by == officer
    assert district_doc.status == DocumentStatus.UNDER_REVIEW


def test_the_proposer_cannot_approve_and_nothing_changes(district_doc):
    both = make_user("officer_admin", "331000", roles.POLICY_OFFICER, roles.CITY_ADMIN)
    decision = propose(both, district_doc)

    with pytest.raises(ValidationError) as exc:
        services.policy_decision_approve(decision=decision, acting_user=both)

    assert "提出人不能审批自己提出的清理决定" in exc.value.message_dict["decided_by"][0]
    decision.refresh_from_db()
    district_doc.refresh_from_db()
    district_doc.own_value.refresh_from_db()
    assert decision.status == DecisionStatus.PROPOSED and decision.decided_by is None
    assert district_doc.status == DocumentStatus.UNDER_REVIEW
    assert district_doc.own_value.valid_to is None


def test_only_a_city_administrator_approves(officer, huangyan_officer, district_doc):
    decision = propose(officer, district_doc)
    with pytest.raises(PermissionDeniedError, match="只有市级管理员"):
        services.policy_decision_approve(decision=decision, acting_user=huangyan_officer)


def test_an_approved_repeal_ends_the_document_and_its_values(officer, admin_a, district_doc):
    township = Office.objects.filter(parent__code="331003").first()
    code = district_doc.own_value.parameter.code
    assert parameter_value(code, on=D(2018, 1, 1), office=township).value_id == district_doc.own_value.pk

    decision = propose(officer, district_doc, effective_on=D(2018, 1, 1))
    services.policy_decision_approve(decision=decision, acting_user=admin_a, note="同意")

    decision.refresh_from_db()
    district_doc.refresh_from_db()
    district_doc.own_value.refresh_from_db()
    assert (decision.status, decision.decided_by, decision.decision_note) == (DecisionStatus.APPROVED, admin_a, "同意")
    assert (district_doc.status, district_doc.repealed_on) == (DocumentStatus.REPEALED, D(2018, 1, 1))
    assert district_doc.own_value.valid_to == D(2018, 1, 1)
    # From the repeal date the district falls back to the unified city value.
    assert parameter_value(code, on=D(2017, 12, 31), office=township).value == 480
    assert parameter_value(code, on=D(2018, 1, 1), office=township).value == 600
    assert [h.history_user for h in decision.history.order_by("history_id")] == [officer, admin_a]


def test_an_approved_merge_marks_the_document_superseded(officer, admin_a, district_doc):
    city = PolicyDocument.objects.get(number="台人社发〔2017〕演示1号")
    decision = propose(officer, district_doc, decision="merge", merge_into=city)
    services.policy_decision_approve(decision=decision, acting_user=admin_a)
    district_doc.refresh_from_db()
    assert (district_doc.status, district_doc.superseded_by) == (DocumentStatus.SUPERSEDED, city)


def test_an_approved_keep_leaves_the_document_in_force(officer, admin_a, district_doc):
    decision = propose(officer, district_doc, decision="keep", reason="本区特有，暂予保留")
    services.policy_decision_approve(decision=decision, acting_user=admin_a)
    district_doc.refresh_from_db()
    district_doc.own_value.refresh_from_db()
    assert district_doc.status == DocumentStatus.IN_FORCE and district_doc.own_value.valid_to is None


def test_a_rejection_needs_a_note_and_returns_the_document_to_force(officer, admin_a, district_doc):
    decision = propose(officer, district_doc)
    with pytest.raises(ValidationError, match="审批意见"):
        services.policy_decision_reject(decision=decision, acting_user=admin_a, note=" ")
    services.policy_decision_reject(decision=decision, acting_user=admin_a, note="请补充测算")
    decision.refresh_from_db()
    district_doc.refresh_from_db()
    assert decision.status == DecisionStatus.REJECTED and district_doc.status == DocumentStatus.IN_FORCE
    with pytest.raises(ValidationError, match="已处理"):
        services.policy_decision_approve(decision=decision, acting_user=admin_a)


def test_only_the_proposer_withdraws(officer, admin_a, district_doc):
    decision = propose(officer, district_doc)
    with pytest.raises(PermissionDeniedError):
        services.policy_decision_withdraw(decision=decision, acting_user=admin_a)
    services.policy_decision_withdraw(decision=decision, acting_user=officer)
    decision.refresh_from_db()
    assert decision.status == DecisionStatus.WITHDRAWN


@pytest.mark.parametrize(
    ("kwargs", "field", "expected"),
    [
        ({"decision": "repeal", "effective_on": None}, "effective_on", "请填写废止或并入的生效日期"),
        ({"decision": "merge"}, "merge_into", "请选择并入的市级文件"),
        ({"decision": "repeal", "reason": ""}, "reason", "请填写理由"),
        ({"decision": "repeal", "effective_on": D(2014, 1, 1)}, "effective_on", "必须晚于该文件的施行日期"),
        ({"decision": "repeal", "effective_on": D(2015, 6, 1)}, "effective_on", "2017-01-01"),
    ],
)
def test_bad_proposals_are_refused(officer, district_doc, kwargs, field, expected):
    if expected == "2017-01-01":
        # A later value of the document: the repeal date must come after its start.
        services.parameter_value_end(
            parameter_value=district_doc.own_value, acting_user=officer, valid_to=D(2017, 1, 1), reason="分期"
        )
        services.parameter_value_create(
            acting_user=officer,
            parameter=district_doc.own_value.parameter,
            value="500",
            valid_from=D(2017, 1, 1),
            document=district_doc,
            district=district_doc.district,
        )
    decision = kwargs.pop("decision")
    with pytest.raises(ValidationError) as exc:
        propose(officer, district_doc, decision=decision, **kwargs)
    assert expected in exc.value.message_dict[field][0]
    assert not PolicyDecision.objects.filter(document=district_doc).exists()
    district_doc.refresh_from_db()
    assert district_doc.status == DocumentStatus.IN_FORCE


def test_one_open_decision_per_document_and_only_district_documents(officer, district_doc):
    propose(officer, district_doc)
    with pytest.raises(ValidationError, match="待审批"):
        propose(officer, district_doc)
    with pytest.raises(ValidationError, match="区自行出台"):
        propose(officer, PolicyDocument.objects.get(number="台政办发〔2016〕127号"))


def test_a_district_officer_proposes_only_for_his_district(huangyan_officer, district_doc):
    propose(huangyan_officer, district_doc)  # his own district
    luqiao_doc = PolicyDocument.objects.get(number="路政办发〔2015〕演示1号")
    with pytest.raises(ValidationError, match="不在您的辖区内"):
        propose(huangyan_officer, luqiao_doc, effective_on=D(2018, 1, 1))


def test_a_clerk_cannot_propose(clerk, district_doc):
    with pytest.raises(PermissionDeniedError, match="无权"):
        propose(clerk, district_doc)


def test_the_database_refuses_an_approval_by_the_proposer(officer, district_doc):
    decision = propose(officer, district_doc)
    with pytest.raises(IntegrityError), transaction.atomic():
        PolicyDecision.objects.filter(pk=decision.pk).update(
            status="approved", decided_by=officer, decided_at=decision.proposed_at
        )
