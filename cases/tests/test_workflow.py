"""The case workflow and its guards: routing to the office with authority, wrong state, wrong role, office level
too low, out of jurisdiction, the same person reviewing his own intake, correction, rejection and withdrawal
reasons. Every refusal leaves the case exactly as it was."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from cases import rules, selectors, services
from cases.models import Case, CaseAction, CaseEvent, CaseState, Channel, MaterialStatus
from cases.rules import CaseAuthorityError, CaseStateError
from cases.tests.factories import all_roles, clerk, enrollment_case, head, item, reviewer
from registry.models import Enrollment, Office
from registry.tests.factories import PersonFactory, township_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def hy_town():
    return township_of("331003")


@pytest.fixture
def hy_district():
    return Office.objects.get(code="331003")


# A three-step item (township intake, district review, district head's approval): a pension transfer in.
TRANSFER_IN = {"source_city": "杭州市", "transfer_months": "2010-01 2010-12 4000 560 320"}


def snapshot(case: Case) -> tuple:
    case = Case.objects.get(pk=case.pk)
    return (
        case.state,
        case.current_step_id,
        case.current_office_id,
        case.assignee_id,
        case.due_date,
        CaseEvent.objects.filter(case=case).count(),
    )


# ---------------------------------------------------------------------------------------------
# Routing and the happy path.


def test_township_intake_goes_to_the_district_queue_and_approval_creates_the_enrollment(hy_town, hy_district):
    desk = clerk(hy_town)
    case = enrollment_case(township=hy_town, user=desk)
    assert case.state == CaseState.APPROVAL
    assert case.intake_office == hy_town
    assert case.current_office == hy_district
    assert case.received_by == desk
    # In the district's queue, not the township's; the township clerk still sees his case.
    district_reviewer = reviewer(hy_district)
    assert case in selectors.case_queue(user=district_reviewer)
    assert case not in selectors.case_queue(user=desk)
    assert selectors.case_get(user=desk, uid=case.uid) == case
    assert rules.allowed_actions(case, desk) == ["withdraw"]
    assert set(rules.allowed_actions(case, district_reviewer)) == {"claim", "pass", "correct", "reject"}

    services.case_pass(case=case, acting_user=district_reviewer, note="材料齐全，同意")
    case.refresh_from_db()
    assert case.state == CaseState.COMPLETED
    assert case.result_summary.startswith("已新增参保登记")
    enrollment = Enrollment.objects.get(person=case.person, insurance_type="res_medical")
    assert enrollment.start_date.isoformat() == "2025-01-01"
    actions = list(case.events.values_list("action", flat=True))
    assert actions == [CaseAction.ACCEPT, CaseAction.PASS, CaseAction.COMPLETE]
    assert case.events.get(action=CaseAction.PASS).actor_office == hy_district


def test_three_levels_township_district_city(hy_town, hy_district):
    """Retirement pension: township intake → district review → city approval (the routing of the catalogue)."""
    from cases.tests.factories import paid_months

    person = PersonFactory(residence_office=hy_town)
    paid_months(person, "emp_pension", 180)
    case = services.case_intake(
        acting_user=clerk(hy_town),
        item=item("DY-001"),
        person=person,
        materials_received=["retirement", "bank"],
        form_data={"start_month": "2025-03"},
    )
    assert (case.state, case.current_office) == (CaseState.REVIEW, hy_district)
    case = services.case_pass(case=case, acting_user=reviewer(hy_district))
    city = Office.objects.get(level=1)
    assert (case.state, case.current_office) == (CaseState.APPROVAL, city)
    # The district head may not approve: city level is required.
    with pytest.raises(CaseAuthorityError) as exc:
        services.case_pass(case=case, acting_user=head(hy_district))
    assert "市级及以上" in str(exc.value)
    case = services.case_pass(case=case, acting_user=head(city))
    assert case.state == CaseState.COMPLETED
    assert case.award.monthly_amount > 0


def test_intake_at_a_district_office_stays_there_for_a_district_step(hy_district):
    person = PersonFactory(residence_office=township_of("331003"))
    case = services.case_intake(
        acting_user=clerk(hy_district),
        item=item("CJ-GR-001"),
        person=person,
        materials_received=["form"],
        form_data={"insurance_type": "res_medical", "start_date": "2025-01-01"},
    )
    assert case.current_office == hy_district


# ---------------------------------------------------------------------------------------------
# Guards.


def test_wrong_state_is_refused_and_nothing_changes(hy_town, hy_district):
    case = enrollment_case(township=hy_town)
    services.case_pass(case=case, acting_user=reviewer(hy_district))
    before = snapshot(case)
    with pytest.raises(CaseStateError) as exc:
        services.case_pass(case=case, acting_user=reviewer(hy_district))
    assert "已“已办结”" in str(exc.value) or "已办结" in str(exc.value)
    with pytest.raises(CaseStateError):
        services.case_accept(case=case, acting_user=clerk(hy_town))
    with pytest.raises(CaseStateError):
        services.case_resume(case=case, acting_user=clerk(hy_town))
    with pytest.raises(CaseStateError):
        services.case_withdraw(case=case, acting_user=clerk(hy_town), reason="不办了")
    assert snapshot(case) == before


def test_accept_is_only_for_submitted_cases(hy_town):
    case = enrollment_case(township=hy_town)
    with pytest.raises(CaseStateError) as exc:
        services.case_accept(case=case, acting_user=clerk(hy_town))
    assert "当前状态为“待复核/审批”" in str(exc.value)


def test_wrong_role_is_refused(hy_town, hy_district):
    case = enrollment_case(township=hy_town)
    before = snapshot(case)
    with pytest.raises(CaseAuthorityError) as exc:
        services.case_pass(case=case, acting_user=clerk(hy_district))
    assert "须由“审核”角色办理" in str(exc.value)
    with pytest.raises(CaseAuthorityError):
        services.case_reject(case=case, acting_user=clerk(hy_district), reason="不符合条件")
    assert snapshot(case) == before


def test_office_level_too_low_is_refused(hy_town):
    case = enrollment_case(township=hy_town)
    before = snapshot(case)
    township_reviewer = reviewer(hy_town)
    with pytest.raises(CaseAuthorityError) as exc:
        services.case_pass(case=case, acting_user=township_reviewer)
    assert "区级及以上经办机构办理" in str(exc.value)
    assert rules.allowed_actions(case, township_reviewer) == []
    assert snapshot(case) == before


def test_out_of_jurisdiction_is_not_found(hy_town):
    case = enrollment_case(township=hy_town)
    before = snapshot(case)
    luqiao = reviewer(Office.objects.get(code="331004"))
    with pytest.raises(Case.DoesNotExist):
        services.case_pass(case=case, acting_user=luqiao)
    other_township = Office.objects.filter(parent__code="331003", level=3).exclude(pk=hy_town.pk).first()
    with pytest.raises(Case.DoesNotExist):
        services.case_withdraw(case=case, acting_user=clerk(other_township), reason="x")
    with pytest.raises(Case.DoesNotExist):
        selectors.case_get(user=luqiao, uid=case.uid)
    assert rules.allowed_actions(case, luqiao) == []
    assert snapshot(case) == before


def test_a_reviewer_cannot_approve_his_own_intake(hy_district):
    person = PersonFactory(residence_office=township_of("331003"))
    both = all_roles(hy_district)
    case = services.case_intake(
        acting_user=both,
        item=item("CJ-GR-001"),
        person=person,
        materials_received=["form"],
        form_data={"insurance_type": "res_medical", "start_date": "2025-01-01"},
    )
    before = snapshot(case)
    with pytest.raises(CaseAuthorityError) as exc:
        services.case_pass(case=case, acting_user=both)
    assert "双人办理" in str(exc.value) and "受理" in str(exc.value)
    assert "pass" not in rules.allowed_actions(case, both)
    assert snapshot(case) == before
    # Another reviewer of the same office may.
    services.case_pass(case=case, acting_user=reviewer(hy_district))


def test_the_same_person_cannot_do_two_steps_of_a_case(hy_town, hy_district):
    person = PersonFactory(residence_office=hy_town)
    case = services.case_intake(
        acting_user=clerk(hy_town),
        item=item("ZY-002"),
        person=person,
        materials_received=["application", "certificate"],
        form_data=TRANSFER_IN,
    )
    both = all_roles(hy_district)
    case = services.case_pass(case=case, acting_user=both)  # review
    with pytest.raises(CaseAuthorityError) as exc:
        services.case_pass(case=case, acting_user=both)  # approval by the reviewer himself
    assert "审核" in str(exc.value)
    services.case_pass(case=case, acting_user=head(hy_district))


def test_an_item_without_the_two_person_rule_may_be_done_by_one_person(hy_town):
    """即办 items (no second step) complete at intake by the clerk alone."""
    from registry.tests.factories import EnrollmentFactory

    person = PersonFactory(residence_office=hy_town)
    EnrollmentFactory(person=person, insurance_type="res_medical", employer=None)
    case = services.case_intake(acting_user=clerk(hy_town), item=item("ZM-001"), person=person)
    assert case.state == CaseState.COMPLETED


def test_an_item_may_only_be_taken_in_at_its_level_or_above(hy_town):
    # A community-level office does not exist in the demo tree; a township may take in a township-level item,
    # and a township clerk cannot take in an item whose intake is district-level.
    from cases.models import ServiceItemStep

    step = ServiceItemStep.objects.get(item__code="ZY-002", kind="intake")
    step.lowest_level = 2
    step.save()
    with pytest.raises(CaseAuthorityError) as exc:
        services.case_intake(
            acting_user=clerk(hy_town),
            item=item("ZY-002"),
            person=PersonFactory(residence_office=hy_town),
            materials_received=["application", "certificate"],
            form_data=TRANSFER_IN,
        )
    assert "区级及以上" in str(exc.value)
    assert not Case.objects.exists()
    assert item("ZY-002") not in selectors.items_for_intake(user=clerk(hy_town))


def test_intake_refuses_a_person_outside_the_jurisdiction(hy_town):
    with pytest.raises(ValidationError) as exc:
        enrollment_case(township=hy_town, person=PersonFactory(residence_office=township_of("331004")))
    assert "辖区" in exc.value.message_dict["person"][0]
    assert not Case.objects.exists()


def test_intake_checks_the_item_form_through_the_registry_rules(hy_town):
    with pytest.raises(ValidationError) as exc:
        enrollment_case(township=hy_town, insurance_type="emp_pension")
    assert "职工险种必须填写参保单位" in exc.value.message_dict["employer"][0]
    with pytest.raises(ValidationError) as exc:
        enrollment_case(township=hy_town, start_date="2025-13-01")
    assert "参保开始日期" in exc.value.message_dict["start_date"][0]
    assert not Case.objects.exists()


def test_unknown_material_codes_are_named(hy_town):
    with pytest.raises(ValidationError) as exc:
        enrollment_case(township=hy_town, materials=["form", "passport"])
    assert "passport" in exc.value.message_dict["materials"][0]


# ---------------------------------------------------------------------------------------------
# Materials, correction, rejection, withdrawal.


def test_approval_with_a_missing_required_material_is_refused(hy_town, hy_district):
    case = enrollment_case(township=hy_town)
    # Someone lost the form after intake: the record says it is missing again (as a correction would).
    case.materials.filter(material__code="form").update(status=MaterialStatus.NOT_RECEIVED)
    before = snapshot(case)
    with pytest.raises(ValidationError) as exc:
        services.case_pass(case=case, acting_user=reviewer(hy_district))
    assert "缺少必需材料：社会保险参保登记表" in exc.value.message_dict["materials"][0]
    assert snapshot(case) == before
    assert not Enrollment.objects.filter(person=case.person).exists()


def test_incomplete_intake_is_told_at_once_and_resumed_by_the_applicant(hy_town, hy_district):
    case = enrollment_case(township=hy_town, materials=())
    assert case.state == CaseState.SUSPENDED
    assert case.suspended_state == CaseState.APPROVAL
    assert case.materials.get(material__code="form").status == MaterialStatus.MISSING
    assert "社会保险参保登记表" in case.events.get(action=CaseAction.CORRECT).note
    # While suspended, the reviewer cannot pass it.
    with pytest.raises(CaseStateError):
        services.case_pass(case=case, acting_user=reviewer(hy_district))
    # Resubmission without the missing material is refused, naming it.
    with pytest.raises(ValidationError) as exc:
        services.case_resume(case=case, acting_user=clerk(hy_town))
    assert "社会保险参保登记表" in exc.value.message_dict["materials"][0]
    case = services.case_resume(case=case, acting_user=clerk(hy_town), materials_received=["form"])
    assert case.state == CaseState.APPROVAL


def test_a_correction_request_names_the_materials_and_refuses_system_held_ones(hy_town, hy_district):
    case = enrollment_case(township=hy_town)
    with pytest.raises(ValidationError) as exc:
        services.case_request_correction(case=case, acting_user=reviewer(hy_district), missing=[])
    assert "请勾选" in exc.value.message_dict["missing"][0]
    with pytest.raises(ValidationError) as exc:
        services.case_request_correction(case=case, acting_user=reviewer(hy_district), missing=["identity"])
    assert "系统核验" in exc.value.message_dict["missing"][0]
    case = services.case_request_correction(case=case, acting_user=reviewer(hy_district), missing=["contract"])
    assert case.state == CaseState.SUSPENDED


def test_rejection_and_withdrawal_need_a_reason(hy_town, hy_district):
    case = enrollment_case(township=hy_town)
    before = snapshot(case)
    with pytest.raises(ValidationError) as exc:
        services.case_reject(case=case, acting_user=reviewer(hy_district), reason="  ")
    assert "不予办理的理由" in exc.value.message_dict["reason"][0]
    with pytest.raises(ValidationError) as exc:
        services.case_withdraw(case=case, acting_user=clerk(hy_town), reason="")
    assert "撤回理由" in exc.value.message_dict["reason"][0]
    assert snapshot(case) == before
    case = services.case_reject(case=case, acting_user=reviewer(hy_district), reason="已在外市参保，不符合条件")
    assert case.state == CaseState.REJECTED
    assert case.closing_reason == "已在外市参保，不符合条件"


def test_withdrawal_by_the_window(hy_town):
    case = enrollment_case(township=hy_town)
    case = services.case_withdraw(case=case, acting_user=clerk(hy_town), reason="申请人放弃")
    assert case.state == CaseState.WITHDRAWN
    with pytest.raises(CaseAuthorityError):
        # A reviewer is not the window.
        services.case_withdraw(case=enrollment_case(township=hy_town), acting_user=reviewer(hy_town), reason="x")


def test_claiming_a_case(hy_town, hy_district):
    case = enrollment_case(township=hy_town)
    me = reviewer(hy_district)
    case = services.case_claim(case=case, acting_user=me)
    assert case.assignee == me
    assert case in selectors.case_queue(user=me, scope=selectors.QUEUE_MINE)
    with pytest.raises(CaseStateError):
        services.case_claim(case=case, acting_user=me)


# ---------------------------------------------------------------------------------------------
# Online / API channel.


def test_an_online_application_waits_for_acceptance_then_runs(hy_town, hy_district):
    system_user = clerk(hy_district, is_system=True)
    person = PersonFactory(residence_office=hy_town)
    case = services.case_submit(
        acting_user=system_user,
        item=item("CJ-GR-001"),
        person=person,
        channel=Channel.ONLINE,
        materials_provided=["form"],
        form_data={"insurance_type": "res_medical", "start_date": "2025-02-01"},
    )
    assert case.state == CaseState.SUBMITTED
    assert case.intake_office == hy_town  # the applicant's own township may take it in
    assert case.due_date is None
    assert case in selectors.case_queue(user=clerk(hy_town))
    desk = clerk(hy_town)
    case = services.case_accept(case=case, acting_user=desk)
    assert case.state == CaseState.APPROVAL
    assert case.due_date is not None
    assert case.received_by == desk


def test_the_online_channel_refuses_counter_as_channel(hy_town):
    with pytest.raises(ValidationError) as exc:
        services.case_submit(
            acting_user=clerk(hy_town),
            item=item("ZM-001"),
            person=PersonFactory(residence_office=hy_town),
            channel=Channel.COUNTER,
        )
    assert "channel" in exc.value.message_dict
