"""The conflict queue: a clerk proposes (merge, choosing each field, or "different persons"), a second person
approves (maker-checker) or sends it back; an approved merge can be undone while nothing new was written to the
survivor.

A merge never rewrites issued bills, closed cases or archived files: for two registry persons the merged one
becomes a tombstone pointing at the survivor (selectors show the survivor with the tombstone's history) and only
its open enrollments and open cases move; for a held line (an invalid number) the line's months load for the
survivor. Every change goes through the owning app's services (who and why in the audit trail), and the Merge
row says what was changed, for the undo.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from cases import selectors as cases_selectors
from cases import services as cases_services
from cases.models import Case
from consolidation.models import (
    Conflict,
    ConflictKind,
    ConflictStatus,
    Decision,
    IdKind,
    Merge,
    Outcome,
    RejectedLine,
    StagedEnrollment,
    StagedHistory,
    StagedPerson,
)
from contributions import services as contributions_services
from contributions.models import Bill, BillLine, ContributionHistory, Payment
from registry import services as registry_services
from registry.audit import audited_save
from registry.jurisdiction import office_in_jurisdiction
from registry.models import Enrollment, Office, Person

# The fields a clerk chooses between (the number, for two registry persons, chooses the survivor).
FIELDS = ("name", "household_type", "phone", "address", "residence_office")
INCOMING, CANDIDATE = "incoming", "candidate"


def _check_access(conflict: Conflict, acting_user: Any, permission: str) -> None:
    if not office_in_jurisdiction(acting_user, conflict.office):
        raise Conflict.DoesNotExist
    if not acting_user.has_perm(permission):
        raise PermissionDenied(_("您的角色不能处理此项。"))


def _locked(conflict: Conflict) -> Conflict:
    return (
        Conflict.objects.select_for_update(of=("self",))
        .select_related("office", "staged_person", "staged_person__office", "incoming_person", "batch")
        .get(pk=conflict.pk)
    )


def id_checked(person: Person) -> bool:
    """Whether the person's number was delivered with a check character that fits (an 18-digit number). A number
    converted from 15 digits has none: a typo in it cannot be seen, so it does not count as checked."""
    return not StagedPerson.objects.filter(person=person, outcome=Outcome.CREATED, id_kind=IdKind.CONVERTED).exists()


def _validate_choices(conflict: Conflict, choices: dict[str, str]) -> dict[str, str]:
    clean = {}
    for field in FIELDS:
        value = (choices or {}).get(field, CANDIDATE)
        if value not in (INCOMING, CANDIDATE):
            raise ValidationError({field: _("请选择采用哪一方的值。")})
        clean[field] = value
    if conflict.kind == ConflictKind.PAIR:
        value = (choices or {}).get("id_number", CANDIDATE)
        if value not in (INCOMING, CANDIDATE):
            raise ValidationError({"id_number": _("请选择保留哪一个公民身份号码。")})
        clean["id_number"] = value
    return clean


def _pair_guard(incoming: Person, candidate: Person) -> None:
    """Two persons whose numbers are both checked and differ are two persons: never merged."""
    if incoming.id_number != candidate.id_number and id_checked(incoming) and id_checked(candidate):
        raise ValidationError(
            {
                "decision": _(
                    "两人的公民身份号码都有效（校验位相符）且不同，不能合并为同一人；如确属同一人，请先办理号码更正。"
                )
            },
            code="different_valid_numbers",
        )


@transaction.atomic
def conflict_propose(
    *,
    conflict: Conflict,
    acting_user: Any,
    decision: str,
    candidate: Person | None = None,
    choices: dict[str, str] | None = None,
    note: str = "",
) -> Conflict:
    """The first person's decision: merge with ``candidate`` taking each field from one side, or different persons."""
    conflict = _locked(conflict)
    _check_access(conflict, acting_user, "consolidation.resolve_conflict")
    if conflict.status != ConflictStatus.OPEN:
        raise ValidationError(
            {"decision": _("此项已有处理意见（%(status)s）。") % {"status": conflict.get_status_display()}}
        )
    if decision not in Decision.values:
        raise ValidationError({"decision": _("请选择“合并为同一人”或“不是同一人”。")})
    if decision == Decision.SEPARATE:
        if conflict.kind == ConflictKind.FIELDS:
            raise ValidationError({"decision": _("两条记录的公民身份号码相同，只能是同一人：请逐项选择正确的值。")})
        conflict.candidate, conflict.choices = None, {}
    else:
        ids = set(conflict.candidates.values_list("person_id", flat=True))
        if candidate is None or candidate.pk not in ids:
            raise ValidationError({"candidate": _("请选择要合并的已登记人员。")})
        if conflict.kind == ConflictKind.PAIR:
            _pair_guard(conflict.incoming_person, candidate)
        conflict.candidate = candidate
        conflict.choices = _validate_choices(conflict, choices or {})
    conflict.decision = decision
    conflict.note = (note or "").strip()[:2000]
    conflict.status = ConflictStatus.PROPOSED
    conflict.proposed_by = acting_user
    conflict.proposed_at = timezone.now()
    _save(conflict, acting_user, _("提出处理意见"))
    return conflict


def _save(conflict: Conflict, acting_user: Any, reason: str) -> None:
    audited_save(conflict, acting_user=acting_user, reason=reason)


@transaction.atomic
def conflict_return(*, conflict: Conflict, acting_user: Any, note: str) -> Conflict:
    """The second person does not agree: the conflict is open again, with the reason."""
    conflict = _locked(conflict)
    _check_access(conflict, acting_user, "consolidation.approve_conflict")
    if conflict.status != ConflictStatus.PROPOSED:
        raise ValidationError({"note": _("此项没有待复核的处理意见。")})
    if not (note or "").strip():
        raise ValidationError({"note": _("请填写退回意见。")})
    conflict.status = ConflictStatus.OPEN
    conflict.returned_note = note.strip()[:2000]
    conflict.decided_by, conflict.decided_at = acting_user, timezone.now()
    _save(conflict, acting_user, _("退回处理意见"))
    return conflict


@transaction.atomic
def conflict_approve(*, conflict: Conflict, acting_user: Any) -> Conflict:
    """The second person approves: the merge (or the separation) is carried out, all or nothing."""
    conflict = _locked(conflict)
    _check_access(conflict, acting_user, "consolidation.approve_conflict")
    if conflict.status != ConflictStatus.PROPOSED:
        raise ValidationError({"decision": _("此项没有待复核的处理意见。")})
    if conflict.proposed_by_id == acting_user.pk:
        raise ValidationError({"decision": _("复核须由提出处理意见以外的另一人进行。")}, code="same_person")
    if conflict.decision == Decision.SEPARATE:
        _separate(conflict, acting_user)
        conflict.status = ConflictStatus.SEPARATE
    else:
        MERGERS[conflict.kind](conflict, acting_user)
        conflict.status = ConflictStatus.MERGED
    conflict.decided_by, conflict.decided_at = acting_user, timezone.now()
    conflict.returned_note = ""
    _save(conflict, acting_user, _("复核通过"))
    return conflict


# ---------------------------------------------------------------------------------------------
# Carrying a decision out.


def _person_values(person: Person) -> dict[str, Any]:
    return {field: getattr(person, f"{field}_id" if field == "residence_office" else field) for field in FIELDS}


def _staged_values(staged: StagedPerson) -> dict[str, Any]:
    return {
        "name": staged.name,
        "household_type": staged.household_type,
        "phone": staged.phone,
        "address": staged.address,
        "residence_office": staged.office_id,
    }


def _apply_fields(survivor: Person, chosen: dict[str, Any], acting_user: Any, reason: str) -> None:
    current = _person_values(survivor)
    changes = {f: v for f, v in chosen.items() if v != current[f] and (v or f in ("phone", "address"))}
    if "residence_office" in changes:
        changes["residence_office"] = Office.objects.get(pk=changes["residence_office"])
    if changes:
        registry_services.person_update(person=survivor, acting_user=acting_user, reason=reason, **changes)


def _reason(conflict: Conflict) -> str:
    return _("数据大集中合并（批次 %(batch)s，第 %(line)s 行）") % {
        "batch": conflict.batch_id,
        "line": conflict.staged_person.line_no,
    }


def _merge_held(conflict: Conflict, acting_user: Any) -> Merge:
    """A line with an invalid number is the candidate: its months and enrollments go to the survivor."""
    staged, survivor = conflict.staged_person, Person.objects.get(pk=conflict.candidate_id)
    before = _person_values(survivor)
    incoming = _staged_values(staged)
    chosen = {f: incoming[f] if conflict.choices.get(f) == INCOMING else before[f] for f in FIELDS}
    reason = _reason(conflict)
    _apply_fields(survivor, chosen, acting_user, reason)
    held = list(StagedHistory.objects.filter(staged_person=staged).order_by("line_no"))
    ids = contributions_services.contribution_history_add(
        rows=[
            {
                "person_id": survivor.pk,
                "employer_id": h.employer_id,
                "period": h.period,
                **{column: Decimal(value) for column, value in h.values.items()},
                "office_id": conflict.batch.district_id,
                "source_batch_id": conflict.batch_id,
                "source_line": h.line_no,
            }
            for h in held
        ]
    )
    by_line = dict(ContributionHistory.objects.filter(pk__in=ids).values_list("source_line", "pk"))
    for h in held:
        if h.line_no in by_line:
            StagedHistory.objects.filter(pk=h.pk).update(history_id=by_line[h.line_no])
    created = _held_enrollments(staged, survivor, acting_user, reason)
    StagedPerson.objects.filter(pk=staged.pk).update(outcome=Outcome.MATCHED, person=survivor)
    return _merge_record(conflict, acting_user, survivor, None, before, history_ids=ids, created_enrollments=created)


def _held_enrollments(staged: StagedPerson, survivor: Person, acting_user: Any, reason: str) -> list[int]:
    created = []
    for line in StagedEnrollment.objects.filter(staged_person=staged, outcome=Outcome.HELD).select_related("employer"):
        try:
            enrollment = registry_services.enrollment_create(
                acting_user=acting_user,
                person=survivor,
                insurance_type=line.insurance_type,
                start_date=line.start_date,
                end_date=line.end_date,
                employer=line.employer,
                is_flexible=line.is_flexible,
            )
        except ValidationError:  # it overlaps an enrollment the survivor has: reported, not created
            StagedEnrollment.objects.filter(pk=line.pk).update(outcome=Outcome.OVERLAP)
            continue
        StagedEnrollment.objects.filter(pk=line.pk).update(outcome=Outcome.CREATED, enrollment=enrollment)
        created.append(enrollment.pk)
    return created


def _merge_pair(conflict: Conflict, acting_user: Any) -> Merge:
    """Two registry persons: the one whose number is kept survives, the other becomes its tombstone; its open
    enrollments and open cases move to the survivor."""
    incoming, candidate = (
        Person.objects.get(pk=conflict.incoming_person_id),
        Person.objects.get(pk=conflict.candidate_id),
    )
    _pair_guard(incoming, candidate)
    keep_incoming = conflict.choices.get("id_number") == INCOMING
    survivor, tombstone = (incoming, candidate) if keep_incoming else (candidate, incoming)
    before = _person_values(survivor)
    sides = {INCOMING: _person_values(incoming), CANDIDATE: _person_values(candidate)}
    chosen = {f: sides[conflict.choices.get(f, CANDIDATE)][f] for f in FIELDS}
    reason = _reason(conflict)
    today = timezone.localdate()
    moved_enrollments = []
    for enrollment in Enrollment.objects.filter(person=tombstone).filter(
        Q(end_date__isnull=True) | Q(end_date__gte=today)
    ):
        try:
            registry_services.enrollment_repoint(
                enrollment=enrollment, person=survivor, acting_user=acting_user, reason=reason
            )
        except ValidationError:
            raise ValidationError(
                {
                    "decision": _("%(insurance)s：两人的参保登记期间重叠，不能合并；请先终止其中一条登记。")
                    % {"insurance": enrollment.get_insurance_type_display()}
                }
            ) from None
        moved_enrollments.append(enrollment.pk)
    moved_cases = []
    for case in cases_selectors.person_open_cases(tombstone):
        cases_services.case_person_repoint(case=case, person=survivor, acting_user=acting_user, note=reason)
        moved_cases.append(case.pk)
    moved_tombstones = registry_services.person_tombstone_set(
        person=tombstone, survivor=survivor, acting_user=acting_user, reason=reason
    )
    _apply_fields(Person.objects.get(pk=survivor.pk), chosen, acting_user, reason)
    return _merge_record(
        conflict,
        acting_user,
        survivor,
        tombstone,
        before,
        moved_tombstones=moved_tombstones,
        moved_enrollments=moved_enrollments,
        moved_cases=moved_cases,
    )


def _merge_fields(conflict: Conflict, acting_user: Any) -> Merge:
    """The same number: the line was merged at the import; here the fields are chosen."""
    survivor = Person.objects.get(pk=conflict.incoming_person_id)
    before = _person_values(survivor)
    incoming = _staged_values(conflict.staged_person)
    chosen = {f: incoming[f] if conflict.choices.get(f) == INCOMING else before[f] for f in FIELDS}
    _apply_fields(survivor, chosen, acting_user, _reason(conflict))
    return _merge_record(conflict, acting_user, survivor, None, before)


MERGERS = {ConflictKind.HELD: _merge_held, ConflictKind.PAIR: _merge_pair, ConflictKind.FIELDS: _merge_fields}


def _merge_record(
    conflict: Conflict,
    acting_user: Any,
    survivor: Person,
    tombstone: Person | None,
    before: dict[str, Any],
    **changed: Any,
) -> Merge:
    survivor.refresh_from_db()
    merge = Merge(
        conflict=conflict,
        survivor=survivor,
        tombstone=tombstone,
        before=before,
        after=_person_values(survivor),
        survivor_updated_at=survivor.updated_at,
        proposed_by=conflict.proposed_by,
        approved_by=acting_user,
        merged_at=timezone.now(),
        **changed,
    )
    merge.full_clean(exclude=["conflict", "survivor", "tombstone", "proposed_by", "approved_by"])
    merge.save()
    return merge


def _separate(conflict: Conflict, acting_user: Any) -> None:
    """Different persons. Two registry persons stay as they are; a held line (its number invalid) cannot be
    registered on its own: it and its lines are not imported, with the reason (the district corrects them)."""
    if conflict.kind != ConflictKind.HELD:
        return
    staged = conflict.staged_person
    StagedPerson.objects.filter(pk=staged.pk).update(outcome=Outcome.REJECTED, problem_code="separate")
    rows = [
        RejectedLine(
            batch_id=conflict.batch_id,
            kind="persons",
            line_no=staged.line_no,
            code="separate",
            detail=staged.raw_id[:300],
            raw=staged.raw or [],
        )
    ]
    for line in StagedEnrollment.objects.filter(staged_person=staged, outcome=Outcome.HELD):
        rows.append(
            RejectedLine(
                batch_id=conflict.batch_id,
                kind="enrollments",
                line_no=line.line_no,
                code="person_not_imported",
                raw=line.raw or [],
            )
        )
    for line in StagedHistory.objects.filter(staged_person=staged):
        rows.append(
            RejectedLine(
                batch_id=conflict.batch_id,
                kind="history",
                line_no=line.line_no,
                code="person_not_imported",
                raw=line.raw,
                amount=line.amount,
            )
        )
    RejectedLine.objects.bulk_create(rows, ignore_conflicts=True)
    StagedEnrollment.objects.filter(staged_person=staged, outcome=Outcome.HELD).update(outcome=Outcome.REJECTED)


# ---------------------------------------------------------------------------------------------
# Undo.


def merge_undo_blockers(merge: Merge) -> list[str]:
    """What was written to the survivor since the merge (empty: the merge can be undone)."""
    survivor, at = Person.objects.get(pk=merge.survivor_id), merge.merged_at
    blockers = []
    if survivor.updated_at != merge.survivor_updated_at:
        blockers.append(_("保留记录的人员信息已修改"))
    own_enrollments = set(merge.created_enrollments) | set(merge.moved_enrollments)
    enrollments = Enrollment.objects.filter(person=survivor).exclude(pk__in=own_enrollments)
    if (
        enrollments.filter(Q(created_at__gt=at) | Q(updated_at__gt=at)).exists()
        or Enrollment.objects.filter(pk__in=own_enrollments, updated_at__gt=at).exists()
    ):
        blockers.append(_("参保登记有新的变更"))
    if Case.objects.filter(
        Q(person=survivor, submitted_at__gt=at) | Q(pk__in=merge.moved_cases, updated_at__gt=at)
    ).exists():
        blockers.append(_("有新的办件或办件有新的办理"))
    if (
        Bill.objects.filter(person=survivor, issued_at__gt=at).exists()
        or BillLine.objects.filter(person=survivor, bill__issued_at__gt=at).exists()
        or Payment.objects.filter(person=survivor, recorded_at__gt=at).exists()
    ):
        blockers.append(_("有新的账单或到账"))
    if (
        ContributionHistory.objects.filter(person=survivor, created_at__gt=at)
        .exclude(pk__in=merge.history_ids)
        .exists()
    ):
        blockers.append(_("有新导入的历史缴费"))
    if Merge.objects.filter(survivor=survivor, merged_at__gt=at, undone_at__isnull=True).exists():
        blockers.append(_("之后又有记录合并到保留记录"))
    if Person.objects.filter(pk=survivor.pk, merged_into__isnull=False).exists():
        blockers.append(_("保留记录本身已被合并到其他人员"))
    return blockers


@transaction.atomic
def merge_undo(*, merge: Merge, acting_user: Any, reason: str) -> Merge:
    """Undo an approved merge while nothing new was written to the survivor: both records as they were, the
    conflict open again."""
    merge = Merge.objects.select_for_update().select_related("conflict", "conflict__staged_person").get(pk=merge.pk)
    conflict = merge.conflict
    _check_access(conflict, acting_user, "consolidation.approve_conflict")
    if merge.undone_at is not None:
        raise ValidationError({"reason": _("此次合并已经撤销。")})
    if not (reason or "").strip():
        raise ValidationError({"reason": _("请填写撤销原因。")})
    blockers = merge_undo_blockers(merge)
    if blockers:
        raise ValidationError(
            {"reason": _("合并后保留记录已有新的数据（%(what)s），不能撤销。") % {"what": "；".join(blockers)}}
        )
    note = _("撤销合并：%(reason)s") % {"reason": reason.strip()}
    survivor = Person.objects.get(pk=merge.survivor_id)
    if merge.tombstone_id:
        tombstone = Person.objects.get(pk=merge.tombstone_id)
        registry_services.person_tombstone_clear(
            person=tombstone, acting_user=acting_user, reason=note, restore=merge.moved_tombstones
        )
        for enrollment in Enrollment.objects.filter(pk__in=merge.moved_enrollments):
            registry_services.enrollment_repoint(
                enrollment=enrollment, person=tombstone, acting_user=acting_user, reason=note
            )
        for case in Case.objects.filter(pk__in=merge.moved_cases):
            cases_services.case_person_repoint(case=case, person=tombstone, acting_user=acting_user, note=note)
    for enrollment in Enrollment.objects.filter(pk__in=merge.created_enrollments):
        registry_services.enrollment_withdraw(enrollment=enrollment, acting_user=acting_user, reason=note)
    contributions_services.contribution_history_withdraw(ids=merge.history_ids, acting_user=acting_user, reason=note)
    if conflict.kind == ConflictKind.HELD:
        staged = conflict.staged_person
        StagedHistory.objects.filter(staged_person=staged).update(history_id=None)
        StagedEnrollment.objects.filter(staged_person=staged, outcome__in=[Outcome.CREATED, Outcome.OVERLAP]).update(
            outcome=Outcome.HELD, enrollment=None
        )
        StagedPerson.objects.filter(pk=staged.pk).update(outcome=Outcome.HELD, person=None)
    survivor.refresh_from_db()
    _apply_fields(survivor, merge.before, acting_user, note)
    merge.undone_at, merge.undone_by, merge.undo_reason = timezone.now(), acting_user, reason.strip()[:2000]
    merge.save(update_fields=["undone_at", "undone_by", "undo_reason"])
    conflict = _locked(conflict)
    conflict.status, conflict.decision, conflict.candidate, conflict.choices = ConflictStatus.OPEN, "", None, {}
    conflict.proposed_by = conflict.proposed_at = conflict.decided_by = conflict.decided_at = None
    _save(conflict, acting_user, note)
    return merge
