"""The issue's "Done when", on PostgreSQL: three small messy district batches (椒江 UTF-8 CSV, 黄岩 GBK CSV, 路桥
xlsx), one person in all three — a 15-digit number in 黄岩's files, a typing error in 路桥's:

- the sure match (15 → 18 digits) merges at the import; the typo goes to the (city's) queue; approving it merges
  with the history kept, and the person's contribution months from the districts appear once each;
- another person's 15-digit number with a typo in 路桥 becomes a second person paired with the first: the merge
  makes it a tombstone, moves its open enrollment, and undoing it restores both persons;
- re-loading a batch changes nothing; the reconciliation of each batch agrees to the fen.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from stdnum.cn import uscc

from consolidation.exports import reconciliation_rows
from consolidation.models import (
    BatchStatus,
    Conflict,
    ConflictKind,
    ConflictStatus,
    Decision,
    ImportBatch,
    Merge,
    Outcome,
    RejectedLine,
    StagedPerson,
)
from consolidation.services import conflicts
from consolidation.tests.factories import city_admin, csv_bytes, deliver, history_line, load_and_apply, xlsx_bytes
from contributions.models import ContributionHistory
from contributions.selectors import contribution_months, person_contribution_record
from registry import roles
from registry.management.commands.seed_demo import _org_check
from registry.models import Employer, Enrollment, Office, Person
from registry.tests.factories import UserFactory, make_id_number

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

WANG = make_id_number("331002", "19750615", 13)  # 王小明, male
LI = make_id_number("331002", "19820304", 22)  # 李娜, female
ZHAO = make_id_number("331003", "19900101", 31)


def _uscc(area: str, n: int) -> str:
    """A credit code whose characters 9-17 are a valid organisation code (GB 11714) with its check character."""
    body = f"{n:08d}"
    code17 = "91" + area + body + _org_check(body)
    return code17 + uscc.calc_check_digit(code17)


E1 = _uscc("331002", 901)
E3 = _uscc("331004", 903)


def _typo(number: str, position: int) -> str:
    """One digit of the body changed (the check character kept: it no longer fits)."""
    digit = str((int(number[position]) + 3) % 10)
    return number[:position] + digit + number[position + 1 :]


def _id15(number: str) -> str:
    return number[:6] + number[8:17]


def _history(person: str, employer: str, periods: list[int], total: str = "1100.00", also=None) -> list[list[object]]:
    return [history_line(person, employer, p, "5000.00", "700.00", "400.00", total, also=also) for p in periods]


MEDICAL = {"emp_medical": ("5000.00", "300.00", "100.00"), "work_injury": ("5000.00", "20.00", "")}


def _months(first: int, n: int) -> list[int]:
    out, year, month = [], first // 100, first % 100
    for _ in range(n):
        out.append(year * 100 + month)
        month += 1
        if month == 13:
            year, month = year + 1, 1
    return out


def jiaojiang_files() -> dict:
    return {
        "employers": (
            "employers.csv",
            csv_bytes("employers", [[E1, "", "台州椒江一号机械有限公司", "企业", "制造业", "3", ""]]),
        ),
        "persons": (
            "persons.csv",
            csv_bytes(
                "persons",
                [
                    [
                        WANG,
                        "王小明",
                        "男",
                        "1975-06-15",
                        "城镇",
                        "13800000001",
                        "椒江区中山路 1 号",
                        "",
                        "",
                        "2018-12-31",
                    ],
                    [LI, "李娜", "女", "1982-03-04", "城镇", "13800000002", "椒江区中山路 2 号", "", "", "2018-12-31"],
                ],
            ),
        ),
        "enrollments": (
            "enrollments.csv",
            csv_bytes(
                "enrollments",
                [
                    [WANG, "110", E1, "2015-01-01", "", "否"],
                    [LI, "职工基本养老保险", E1, "2016-01-01", "2019-08-31", "否"],
                ],
            ),
        ),
        "history": (
            "history.csv",
            csv_bytes(
                "history",
                # 王小明's months carry three insurances in one line each (1100 + 400 + 20).
                _history(WANG, E1, _months(201901, 6), total="1520.00", also=MEDICAL)
                + _history(LI, E1, _months(201901, 3)),
            ),
        ),
    }


def huangyan_files() -> dict:
    e1_org = f"{E1[8:16]}-{E1[16]}"  # the old system kept the organisation code only
    return {
        "employers": (
            "单位.csv",
            csv_bytes("employers", [["", e1_org, "台州椒江一号机械有限公司", "企业", "", "", ""]], encoding="gbk"),
        ),
        "persons": (
            "人员.csv",
            csv_bytes(
                "persons",
                [
                    [_id15(WANG), "王小明", "", "", "", "", "", "", "", ""],
                    [ZHAO, "赵强", "男", "", "农村", "", "", "", "", ""],
                    ["", "钱某", "", "", "", "", "", "", "", ""],
                    [make_id_number("331003", "19700101", 41), "", "", "", "", "", "", "", "", ""],
                ],
                encoding="gbk",
            ),
        ),
        "history": (
            "缴费.csv",
            csv_bytes(
                "history",
                _history(_id15(WANG), e1_org, _months(201905, 4))
                + _history(ZHAO, "", _months(201901, 2))
                + _history(ZHAO, "", [201903], total="1200.00")
                + _history(make_id_number("331003", "19600101", 51), "", [201901]),
                encoding="gbk",
            ),
        ),
    }


WANG_TYPO = _typo(WANG, 15)
LI_15_TYPO = _typo(_id15(LI), 13)  # a 15-digit number has no check character: its typo is a valid number


def luqiao_files() -> dict:
    return {
        "employers": (
            "单位.xlsx",
            xlsx_bytes("employers", [[E3, "", "台州路桥三号塑业有限公司", "企业", "塑料制品业", 4, ""]]),
        ),
        "persons": (
            "人员.xlsx",
            xlsx_bytes(
                "persons",
                [
                    [
                        WANG_TYPO,
                        "王小明",
                        "男",
                        "1975-06-15",
                        "城镇",
                        "13900000001",
                        "路桥区银安街 9 号",
                        "",
                        "",
                        "2022-05-01",
                    ],
                    [
                        LI_15_TYPO,
                        "李娜",
                        "女",
                        "1982-03-04",
                        "城镇",
                        "13900000002",
                        "路桥区银安街 10 号",
                        "",
                        "",
                        "2022-05-01",
                    ],
                ],
            ),
        ),
        "enrollments": (
            "登记.xlsx",
            xlsx_bytes(
                "enrollments",
                [
                    [WANG_TYPO, "110", E3, "2019-09-01", "", "否"],
                    [LI_15_TYPO, "110", E3, "2019-09-01", "", "否"],
                ],
            ),
        ),
        "history": (
            "缴费.xlsx",
            xlsx_bytes(
                "history", _history(WANG_TYPO, E3, _months(201909, 4)) + _history(LI_15_TYPO, E3, _months(201909, 2))
            ),
        ),
    }


@pytest.fixture
def admin(db):
    return city_admin()


@pytest.fixture
def reviewer(db):
    return UserFactory(username="city_reviewer", office=Office.objects.get(level=1), roles=[roles.REVIEWER])


def _apply(admin, district, files):
    batch, queued = deliver(user=admin, district=district, files=files)
    assert queued
    batch = load_and_apply(batch, user=admin)
    assert batch.status == BatchStatus.APPLIED, batch.error
    assert batch.reconciliation["agrees"], [c for c in batch.reconciliation["checks"] if not c["ok"]]
    return batch


@pytest.fixture
def three(admin):
    return [
        _apply(admin, "331002", jiaojiang_files()),
        _apply(admin, "331003", huangyan_files()),
        _apply(admin, "331004", luqiao_files()),
    ]


def test_the_fifteen_digit_number_is_a_sure_match_and_merges_at_the_import(three):
    wang = Person.objects.get(id_number=WANG)
    line = StagedPerson.objects.get(batch=three[1], raw_id=_id15(WANG))
    assert (line.id_kind, line.outcome, line.person_id) == ("converted15", Outcome.MATCHED, wang.pk)
    assert Person.objects.filter(name="王小明").count() == 1
    # The employer the old system knew by its organisation code is the one the credit code contains.
    assert Employer.objects.filter(credit_code=E1).count() == 1
    assert ContributionHistory.objects.filter(person=wang, office__code="331003").count() == 4
    assert contribution_months(wang, "emp_pension") == 8  # 201901-201908: two months from both districts
    assert contribution_months(wang, "emp_medical") == 6 and contribution_months(wang, "work_injury") == 6
    jan = ContributionHistory.objects.get(person=wang, period=201901)
    assert jan.insurances() == [
        ("emp_pension", Decimal("5000.00"), Decimal("700.00"), Decimal("400.00")),
        ("emp_medical", Decimal("5000.00"), Decimal("300.00"), Decimal("100.00")),
        ("work_injury", Decimal("5000.00"), Decimal("20.00"), Decimal("0.00")),
    ]
    assert jan.amount == Decimal("1520.00")
    assert three[1].reconciliation["history"]["overlap_months"] == "2"
    # The report the district signs off names them.
    rows = {label: count for label, count, _amount in reconciliation_rows(three[1].reconciliation)}
    assert rows["其中与其他区重叠的缴费月（两条都保留，只计一次）"] == "2"


def test_bad_lines_are_reported_with_their_reason_and_the_rest_imported(three):
    huangyan = three[1]
    codes = dict(RejectedLine.objects.filter(batch=huangyan).values_list("code", "kind"))
    assert codes == {
        "name_missing": "persons",
        "id_missing": "persons",
        "amount_sum": "history",
        "unknown_person": "history",
    }
    assert Person.objects.filter(id_number=ZHAO).exists()
    zhao = Person.objects.get(id_number=ZHAO)
    assert zhao.household_type == "rural"
    assert contribution_months(zhao, "emp_pension") == 2  # the line whose amounts do not add up is not imported
    report = {(p["kind"], p["code"]): p for p in huangyan.report["problems"]}
    assert report[("history", "amount_sum")]["count"] == 1


def test_the_typo_goes_to_the_city_queue_and_approving_it_merges_with_the_history_kept(three, admin, reviewer):
    wang = Person.objects.get(id_number=WANG)
    conflict = Conflict.objects.get(staged_person__raw_id=WANG_TYPO)
    assert conflict.kind == ConflictKind.HELD and conflict.status == ConflictStatus.OPEN
    assert conflict.office.level == 1  # 路桥's line, 椒江's person: a city-level conflict
    candidate = conflict.candidates.get()
    assert candidate.person == wang and {"name_same", "id_digit", "birth_sex"} <= set(candidate.reasons)
    assert not ContributionHistory.objects.filter(person=wang, office__code="331004").exists()

    conflicts.conflict_propose(
        conflict=conflict,
        acting_user=reviewer,
        decision=Decision.MERGE,
        candidate=wang,
        choices={"phone": "incoming", "address": "incoming"},
        note="同一人，路桥号码录错一位",
    )
    with pytest.raises(ValidationError, match="另一人"):
        conflicts.conflict_approve(conflict=conflict, acting_user=reviewer)
    conflicts.conflict_approve(conflict=conflict, acting_user=admin)

    wang.refresh_from_db()
    assert (wang.phone, wang.address) == ("13900000001", "路桥区银安街 9 号")
    assert ContributionHistory.objects.filter(person=wang, office__code="331004").count() == 4
    assert (
        Enrollment.objects.filter(person=wang, insurance_type="emp_pension").count() == 1
    )  # 路桥's overlaps: reported
    # 201901-201912, each month once: 椒江 1-6, 黄岩 5-8 (5 and 6 twice), 路桥 9-12.
    assert contribution_months(wang, "emp_pension") == 12
    record = person_contribution_record(user=admin, person=wang)
    rows = [r for r in record.rows if r.insurance_type == "emp_pension"]
    assert [r.period for r in rows] == _months(201901, 12)
    assert [r.period for r in rows if r.overlap] == [201905, 201906]
    assert rows[4].sources == ["椒江区", "黄岩区"] or len(rows[4].sources) == 2
    assert record.months("emp_pension") == 12


def test_a_merge_of_two_persons_leaves_a_tombstone_and_its_undo_restores_both(three, admin, reviewer):
    li = Person.objects.get(id_number=LI)
    other = Person.objects.get(name="李娜", residence_office__path__contains="/331004/")
    assert other.id_number != LI
    conflict = Conflict.objects.get(kind=ConflictKind.PAIR, incoming_person=other)
    moved = Enrollment.objects.get(person=other)
    other_months = contribution_months(other, "emp_pension")
    assert other_months == 2 and contribution_months(li, "emp_pension") == 3

    conflicts.conflict_propose(
        conflict=conflict,
        acting_user=reviewer,
        decision=Decision.MERGE,
        candidate=li,
        choices={"id_number": "candidate", "address": "incoming"},
    )
    conflicts.conflict_approve(conflict=conflict, acting_user=admin)
    other.refresh_from_db()
    li.refresh_from_db()
    assert other.merged_into == li and other.merged_at is not None
    assert li.address == "路桥区银安街 10 号"
    # Only what was open moved; the history stays with the tombstone and counts for the survivor.
    moved.refresh_from_db()
    assert moved.person == li
    assert ContributionHistory.objects.filter(person=other).count() == 2
    assert contribution_months(li, "emp_pension") == 5
    merge = Merge.objects.get(conflict=conflict)

    conflicts.merge_undo(merge=merge, acting_user=admin, reason="复核发现不是同一人")
    other.refresh_from_db()
    li.refresh_from_db()
    moved.refresh_from_db()
    assert other.merged_into is None and moved.person == other
    assert li.address == "椒江区中山路 2 号"
    assert contribution_months(li, "emp_pension") == 3 and contribution_months(other, "emp_pension") == 2
    conflict.refresh_from_db()
    assert conflict.status == ConflictStatus.OPEN


def test_undoing_a_held_merge_restores_the_person_and_the_held_line(three, admin, reviewer):
    wang = Person.objects.get(id_number=WANG)
    conflict = Conflict.objects.get(staged_person__raw_id=WANG_TYPO)
    before = (wang.phone, contribution_months(wang, "emp_pension"))
    conflicts.conflict_propose(
        conflict=conflict, acting_user=reviewer, decision=Decision.MERGE, candidate=wang, choices={"phone": "incoming"}
    )
    conflicts.conflict_approve(conflict=conflict, acting_user=admin)
    merge = Merge.objects.get(conflict=conflict)
    conflicts.merge_undo(merge=merge, acting_user=admin, reason="测试撤销")
    wang.refresh_from_db()
    assert (wang.phone, contribution_months(wang, "emp_pension")) == before
    assert StagedPerson.objects.get(raw_id=WANG_TYPO).outcome == Outcome.HELD


def test_an_undo_is_refused_once_something_new_was_written_to_the_survivor(three, admin, reviewer):
    from registry.services import person_update

    wang = Person.objects.get(id_number=WANG)
    conflict = Conflict.objects.get(staged_person__raw_id=WANG_TYPO)
    conflicts.conflict_propose(conflict=conflict, acting_user=reviewer, decision=Decision.MERGE, candidate=wang)
    conflicts.conflict_approve(conflict=conflict, acting_user=admin)
    person_update(person=wang, acting_user=admin, phone="13700000000")
    with pytest.raises(ValidationError, match="不能撤销"):
        conflicts.merge_undo(merge=Merge.objects.get(conflict=conflict), acting_user=admin, reason="太晚了")


def test_two_persons_with_different_valid_numbers_are_never_merged(three, admin, reviewer):
    li = Person.objects.get(id_number=LI)
    other = Person.objects.get(name="李娜", residence_office__path__contains="/331004/")
    conflict = Conflict.objects.get(kind=ConflictKind.PAIR, incoming_person=other)
    # Pretend the 路桥 number had been delivered with a fitting check character: both are then checked numbers.
    StagedPerson.objects.filter(person=other).update(id_kind="checked")
    with pytest.raises(ValidationError, match="不能合并为同一人"):
        conflicts.conflict_propose(conflict=conflict, acting_user=reviewer, decision=Decision.MERGE, candidate=li)
    assert Person.objects.get(pk=other.pk).merged_into is None


def test_reloading_a_batch_changes_nothing(three, admin):
    counts = (
        Person.objects.count(),
        Employer.objects.count(),
        Enrollment.objects.count(),
        ContributionHistory.objects.count(),
        Conflict.objects.count(),
    )
    # The same files again: the earlier batch is returned, nothing is loaded.
    again, queued = deliver(user=admin, district="331003", files=huangyan_files())
    assert not queued and again == three[1]
    assert ImportBatch.objects.filter(status=BatchStatus.DUPLICATE, duplicate_of=three[1]).count() == 1
    # The same lines in other files (another order): loaded, and still nothing changes.
    files = jiaojiang_files()
    history = files["history"][1].decode("utf-8-sig").splitlines()
    files["history"] = ("history.csv", ("\r\n".join([history[0], *reversed(history[1:])]) + "\r\n").encode("utf-8-sig"))
    batch = _apply(admin, "331002", files)
    assert counts == (
        Person.objects.count(),
        Employer.objects.count(),
        Enrollment.objects.count(),
        ContributionHistory.objects.count(),
        Conflict.objects.count(),
    )
    history_counts = batch.reconciliation["history"]
    assert history_counts["present_rows"] == "9" and history_counts["inserted_rows"] == "0"
    assert batch.reconciliation["persons"]["matched"] == 2
    assert batch.reconciliation["enrollments"]["present"] == 2


def test_the_reconciliation_of_each_batch_agrees_to_the_fen(three):
    for batch in three:
        reconciliation = batch.reconciliation
        assert reconciliation["agrees"]
        history = reconciliation["history"]
        parts = ("rejected_check", "loaded", "present", "duplicate", "differs", "held", "not_imported")
        assert Decimal(history["received_amount"]) == sum(Decimal(history[f"{k}_amount"]) for k in parts)
        loaded = sum((h.amount for h in ContributionHistory.objects.filter(source_batch_id=batch.pk)), Decimal(0))
        assert loaded == Decimal(history["loaded_amount"])
    huangyan = three[1].reconciliation["history"]
    # A line's amount is the sum of its parts (its stated total may be what is wrong): 1100.00 twice.
    assert Decimal(huangyan["rejected_check_amount"]) == Decimal("2200.00")


def test_the_certificate_counts_the_migrated_months(three, admin):
    from cases.services.certificates import _content
    from cases.tests.factories import enrollment_case

    wang = Person.objects.get(id_number=WANG)
    case = enrollment_case(township=wang.residence_office)
    case.person = wang
    content = _content(case, "record", on=datetime.date.today())
    assert ["职工基本养老保险", "8"] in content["rows"]


def test_a_merge_that_would_overlap_two_open_enrollments_is_refused_and_changes_nothing(three, admin, reviewer):
    li = Person.objects.get(id_number=LI)
    Enrollment.objects.filter(person=li).update(end_date=None)  # 椒江's enrollment still open
    other = Person.objects.get(name="李娜", residence_office__path__contains="/331004/")
    conflict = Conflict.objects.get(kind=ConflictKind.PAIR, incoming_person=other)
    conflicts.conflict_propose(conflict=conflict, acting_user=reviewer, decision=Decision.MERGE, candidate=li)
    with pytest.raises(ValidationError, match="参保登记期间重叠"):
        conflicts.conflict_approve(conflict=conflict, acting_user=admin)
    conflict.refresh_from_db()
    assert conflict.status == ConflictStatus.PROPOSED
    assert Person.objects.get(pk=other.pk).merged_into is None
