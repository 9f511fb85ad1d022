"""Payment files from the collecting agency: staging and line checks, strict and skip-bad modes, the same file
twice, GBK and xlsx inputs, allocation identical to the API path, correction of kept lines, reconciliation.

Bills: one employee at base 5000 with the five employee insurances under 黄岩's 2025 test rates
(factories.RATES_2025), so every month's bill is 5000 × 35.9% = 1795.00: pension 800 + 400 = 1200.00,
medical 400 + 100 = 500.00, unemployment 25 + 25 = 50.00, work injury 20.00, maternity 25.00.
"""

from __future__ import annotations

import datetime
import io
import uuid
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from contributions import selectors, services
from contributions.models import (
    Bill,
    BillSettlement,
    LineStatus,
    Payment,
    PaymentAllocation,
    PaymentFile,
    PaymentFileLine,
    ReconciliationItem,
    ReconciliationSummary,
)
from contributions.tests.factories import huangyan_employer, huangyan_parameters_2025, issued_bill, pay, payment_csv
from registry import roles
from registry.identifiers import id_number_mask
from registry.models import Office
from registry.tests.factories import UserFactory, make_credit_code, office

pytestmark = pytest.mark.django_db
D = datetime.date
Y = Decimal
PAID_ON = "2025-04-10"


@pytest.fixture
def reviewer(db):
    huangyan_parameters_2025()
    return UserFactory(username="hy_pf_reviewer", office=office("331003"), roles=[roles.REVIEWER])


@pytest.fixture
def admin(reviewer):
    return UserFactory(username="city_pf_admin", office=office("331000"), roles=[roles.CITY_ADMIN])


def billed_employer(user, periods=(202501, 202502, 202503), **kwargs):
    employer = huangyan_employer(**kwargs)
    for period in periods:
        issued_bill(employer, period)
    return employer


def line(ref, employer, amount, period=202501, paid_on=PAID_ON, name="单位"):
    return (ref, "单位", employer.credit_code, name, period, amount, paid_on)


def upload(data, user, mode="strict", name="payments.csv"):
    """The upload (stores the file, queues its import), then what the worker does with the queued file."""
    payment_file, created = services.payment_file_upload(name=name, data=data, mode=mode, acting_user=user)
    if created:
        assert payment_file.status == "queued"
        payment_file = services.payment_file_process(payment_file_id=payment_file.pk)
    return payment_file, created


def contributions_of(reference):
    """The allocations of a payment to contribution bills (not to late-fee bills, not to credit)."""
    rows = PaymentAllocation.objects.filter(payment__agency_reference=reference, bill__isnull=False)
    return [
        (a.bill.period, a.insurance_type, a.amount, a.note)
        for a in rows.exclude(bill__kind="late_fee").select_related("bill").order_by("id")
    ]


def allocations_of(reference):
    return [
        (a.bill.period if a.bill_id else None, a.insurance_type, a.amount, a.note)
        for a in PaymentAllocation.objects.filter(payment__agency_reference=reference)
        .select_related("bill")
        .order_by("id")
    ]


# --- allocation: the file path gives what the API path gives ---------------------------------


def test_file_allocates_exactly_as_the_api_path(reviewer):
    by_api, by_file = billed_employer(reviewer), billed_employer(reviewer)
    # Both already have 100.00 paid through the API: the open amounts must account for it.
    pay(by_api, "100.00", D(2025, 4, 1), reviewer, reference="API-0")
    pay(by_file, "100.00", D(2025, 4, 1), reviewer, reference="FILE-0")
    # Partial (2000 of 5285 open), then an overpayment (5000 for the 3285 left: 1715 to credit).
    pay(by_api, "2000.00", D(2025, 4, 10), reviewer, reference="API-1")
    pay(by_api, "5000.00", D(2025, 4, 11), reviewer, reference="API-2")
    payment_file, created = upload(
        payment_csv([line("FILE-1", by_file, "2000.00"), line("FILE-2", by_file, "5000.00", paid_on="2025-04-11")]),
        reviewer,
    )
    assert created and payment_file.status == "imported", payment_file.report
    assert (payment_file.imported_count, payment_file.imported_amount) == (2, Y("7000.00"))
    assert payment_file.credit_amount == Y("1715.00")
    # The bills were paid late: the API path issues their late-fee bills at once and pays them from what is left
    # of the payment; the file path leaves that to the sweep after the import (its task queued on commit), which
    # pays them from the credit. Contributions first either way, and the same end (issue 20).
    assert allocations_of("FILE-1") == contributions_of("API-1")
    assert allocations_of("FILE-2") == contributions_of("API-2") + [(None, "", Y("1715.00"), "多缴转结余")]
    assert services.late_fee_bills_sweep(payment_file_id=payment_file.pk) == 3
    fees = {b.employer_id: [] for b in Bill.objects.filter(kind="late_fee")}
    for b in Bill.objects.filter(kind="late_fee").order_by("fee_for__period"):
        fees[b.employer_id].append(b.total)
    assert fees[by_api.pk] == fees[by_file.pk] and len(fees[by_file.pk]) == 3
    assert services.payer_credit(employer=by_file) == services.payer_credit(employer=by_api)
    assert services.payer_credit(employer=by_file) == Y("1715.00") - sum(fees[by_file.pk])
    # Hand-computed: 100 went to January's pension; 2000 finishes January (1695) and pays 305 of February's pension.
    assert allocations_of("FILE-1") == [
        (202501, "emp_pension", Y("1100.00"), ""),
        (202501, "emp_medical", Y("500.00"), ""),
        (202501, "unemployment", Y("50.00"), ""),
        (202501, "work_injury", Y("20.00"), ""),
        (202501, "maternity", Y("25.00"), ""),
        (202502, "emp_pension", Y("305.00"), ""),
    ]
    # The three late-fee bills were paid out of the 1,715.00 credit.
    assert Y("1600") < services.payer_credit(employer=by_file) < Y("1715.00")
    file_payment = Payment.objects.get(agency_reference="FILE-1")
    assert (file_payment.channel, file_payment.office_id, file_payment.paid_on) == (
        "file",
        by_file.office_id,
        D(2025, 4, 10),
    )


def test_several_payers_in_one_file_are_allocated_independently(reviewer):
    first, second = billed_employer(reviewer, periods=(202501,)), billed_employer(reviewer, periods=(202501,))
    payment_file, _created = upload(
        payment_csv(
            [
                line("M-1", first, "1000.00"),
                line("M-2", second, "1795.00"),
                line("M-3", first, "1000.00"),
            ]
        ),
        reviewer,
    )
    assert payment_file.status == "imported"
    assert sum(a[2] for a in allocations_of("M-1")) == Y("1000.00")
    assert allocations_of("M-3")[-1] == (None, "", Y("205.00"), "多缴转结余")
    assert sum(a[2] for a in allocations_of("M-2") if a[0]) == Y("1795.00")


# --- bulk writes without per-row FK triggers (PostgreSQL, when the database user may) -------------


@pytest.mark.postgres
@pytest.mark.parametrize("triggers_off", [True, False], ids=["fk-triggers-off", "fk-triggers-on"])
def test_the_import_writes_the_same_with_or_without_per_row_fk_triggers(reviewer, monkeypatch, triggers_off):
    """The tests run as a superuser, so the other tests take the triggers-off path; this one takes both."""
    from contributions.exchange import payment_files

    taken = []

    def allowed(cur):
        taken.append(triggers_off)
        return triggers_off

    monkeypatch.setattr(payment_files.triggers, "row_triggers_off_allowed", allowed)
    first, second = billed_employer(reviewer, periods=(202501,)), billed_employer(reviewer, periods=(202501,))
    payment_file, _created = upload(
        payment_csv([line("T-1", first, "1000.00"), line("T-2", second, "1795.00"), line("T-3", first, "1000.00")]),
        reviewer,
    )
    assert taken == [triggers_off]
    assert payment_file.status == "imported", payment_file.report
    assert sum(a[2] for a in allocations_of("T-1")) == Y("1000.00")
    assert allocations_of("T-3")[-1] == (None, "", Y("205.00"), "多缴转结余")
    assert Payment.objects.get(agency_reference="T-2").recorded_by == reviewer
    from registry.models import ChangeEvent

    uids = [str(p.uid) for p in Payment.objects.filter(agency_reference__in=["T-1", "T-2", "T-3"]).order_by("id")]
    events = list(ChangeEvent.objects.filter(change_type="payment", object_id__in=uids).order_by("id"))
    assert [e.object_id for e in events] == uids  # one event per payment, in payment order
    assert len({e.txid for e in events}) == 1 and events[0].txid > 0  # the import's transaction, stamped either way
    assert [e.office_id for e in events] == [first.office_id, second.office_id, first.office_id]
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SHOW session_replication_role")
        assert cur.fetchone()[0] == "origin"  # switched back before the change events and the commit


@pytest.mark.postgres
def test_a_payer_gone_between_the_line_checks_and_the_payments_fails_the_import(reviewer):
    """With the per-row FK checks off, the payer lock must notice a payer (or office) deleted in the meantime."""
    from django.db import DatabaseError, connection

    from contributions.exchange import payment_files

    employer = billed_employer(reviewer, periods=(202501,))
    payment_file, _created = upload(payment_csv([line("K-1", employer, "1795.00")]), reviewer)
    with connection.cursor() as cur:
        payment_files.triggers.lock_payers(cur, payment_file)  # every payer there
        # As if another transaction had deleted the employer after the lines were checked (lines keep no FK).
        cur.execute(
            "UPDATE contributions_paymentfileline SET employer_id = -1 WHERE payment_file_id = %s", [payment_file.pk]
        )
        with pytest.raises(DatabaseError, match="1 payers of payment file"):
            payment_files.triggers.lock_payers(cur, payment_file)
        cur.execute(
            "UPDATE contributions_paymentfileline SET employer_id = %s, office_id = -1 WHERE payment_file_id = %s",
            [employer.pk, payment_file.pk],
        )
        with pytest.raises(DatabaseError, match="1 offices of payment file"):
            payment_files.triggers.lock_payers(cur, payment_file)


# --- the same file twice, repeats and duplicates -----------------------------------------------


def test_the_same_file_imported_twice_changes_nothing(reviewer):
    employer = billed_employer(reviewer, periods=(202501,))
    data = payment_csv([line("TWICE-1", employer, "1795.00")])
    first, created = upload(data, reviewer)
    counts = (Payment.objects.count(), PaymentAllocation.objects.count(), PaymentFileLine.objects.count())
    again, created_again = upload(data, reviewer, name="renamed.csv")
    assert created and not created_again and again.pk == first.pk
    assert (Payment.objects.count(), PaymentAllocation.objects.count(), PaymentFileLine.objects.count()) == counts
    assert PaymentFile.objects.count() == 1


def test_a_reference_already_recorded_identically_is_not_recorded_again(reviewer):
    employer = billed_employer(reviewer, periods=(202501,))
    pay(employer, "500.00", D(2025, 4, 1), reviewer, reference="SEEN-1")
    payment_file, _created = upload(
        payment_csv(
            [line("SEEN-1", employer, "500.00"), line("NEW-1", employer, "100.00"), line("NEW-1", employer, "100.00")]
        ),
        reviewer,
    )
    assert payment_file.status == "imported"
    assert (payment_file.imported_count, payment_file.repeat_count) == (1, 2)
    assert Payment.objects.filter(agency_reference__in=["SEEN-1", "NEW-1"]).count() == 2
    statuses = dict(PaymentFileLine.objects.values_list("line_no", "status"))
    assert statuses == {2: "repeat", 3: "new", 4: "duplicate"}


# --- strict mode -------------------------------------------------------------------------------


def test_strict_mode_rejects_a_file_with_bad_lines_and_writes_nothing(reviewer):
    employer = billed_employer(reviewer, periods=(202501,))
    unknown = make_credit_code("331003")
    data = payment_csv(
        [
            line("OK-1", employer, "100.00"),
            line("BAD-NEG", employer, "-5.00"),
            ("BAD-PAYER", "单位", unknown, "不存在的单位", 202501, "10.00", PAID_ON),
            line("BAD-PERIOD", employer, "10.00", period=202513),
            line("BAD-AMOUNT", employer, "12a"),
            line("BAD-CENTS", employer, "1.234"),
            line("BAD-DATE", employer, "10.00", paid_on="2025-02-30"),
            ("BAD-TYPE", "集体", employer.credit_code, "", 202501, "10.00", PAID_ON),
            ("BAD-CODE", "单位", "12345", "", 202501, "10.00", PAID_ON),
            line("", employer, "10.00"),
        ]
    )
    payment_file, created = upload(data, reviewer)
    assert created and payment_file.status == "rejected"
    assert Payment.objects.count() == 0 and PaymentAllocation.objects.count() == 0
    assert PaymentFileLine.objects.count() == 0 and ReconciliationItem.objects.count() == 0
    problems = {p["line"]: p["message"] for p in payment_file.report["problems"]}
    assert sorted(problems) == [3, 4, 5, 6, 7, 8, 9, 10, 11]
    assert payment_file.bad_count == 9 and payment_file.line_count == 10
    assert problems[3] == "第 3 行：金额 -5.00 不是正数：到账金额必须大于 0。"
    assert problems[4] == f"第 4 行：统一社会信用代码 {unknown} 在参保登记中没有对应的单位。"
    assert "所属期“202513”不是有效的年月" in problems[5]
    assert "金额“12a”不是数字" in problems[6]
    assert "超过两位小数" in problems[7]
    assert "到账日期“2025-02-30”无法识别" in problems[8]
    assert "缴费方类型“集体”无法识别" in problems[9]
    assert "统一社会信用代码“12345”格式不正确" in problems[10]
    assert problems[11] == "第 11 行：流水号为空。"


def test_duplicate_reference_with_another_amount_is_refused_per_line(reviewer):
    employer = billed_employer(reviewer, periods=(202501,))
    pay(employer, "100.00", D(2025, 4, 1), reviewer, reference="TAX-DUP")
    data = payment_csv(
        [
            line("TAX-DUP", employer, "200.00"),
            line("IN-FILE", employer, "10.00"),
            line("IN-FILE", employer, "20.00"),
        ]
    )
    payment_file, _created = upload(data, reviewer)
    assert payment_file.status == "rejected"
    problems = {p["line"]: p["message"] for p in payment_file.report["problems"]}
    assert problems[2] == (
        "第 2 行：流水号 TAX-DUP 已登记为另一笔到账（金额 100.00），与本行的缴费方或金额不一致，请核实。"
    )
    assert "流水号 IN-FILE 在本文件中出现 2 次（首次在第 3 行）" in problems[3]
    assert "流水号 IN-FILE" in problems[4]
    assert Payment.objects.count() == 1


def test_a_payer_outside_the_uploaders_jurisdiction_is_a_bad_line(reviewer):
    from registry.tests.factories import EmployerFactory, township_of

    luqiao = EmployerFactory(office=township_of("331004"))
    payment_file, _created = upload(payment_csv([line("LQ-1", luqiao, "10.00")]), reviewer)
    assert payment_file.status == "rejected"
    assert payment_file.report["problems"][0]["message"] == f"第 2 行：缴费方 {luqiao.credit_code} 不在您的辖区内。"


def test_unknown_person_is_named_with_a_masked_id_number(reviewer):
    from registry.tests.factories import make_id_number

    number = make_id_number("331003")
    data = payment_csv([("P-1", "个人", number, "某人", 202501, "10.00", PAID_ON)])
    payment_file, _created = upload(data, reviewer)
    message = payment_file.report["problems"][0]["message"]
    assert id_number_mask(number) in message and number not in message


# --- whole-file problems -----------------------------------------------------------------------


def test_wrong_columns_are_refused_with_the_missing_names(reviewer):
    with pytest.raises(ValidationError) as caught:
        upload(
            payment_csv(
                [("X", "单位", "1", "", 202501, "1")], header="流水号,缴费方类型,缴费方代码,名称,所属期,到账日期"
            ),
            reviewer,
        )
    message = caught.value.message_dict["file"][0]
    assert "文件缺少列：金额" in message and "流水号,缴费方类型,缴费方代码,缴费方名称,所属期,金额,到账日期" in message
    assert PaymentFile.objects.count() == 0


def test_utf16_and_empty_files_are_refused(reviewer):
    with pytest.raises(ValidationError) as caught:
        upload("流水号,金额\r\n".encode("utf-16"), reviewer)
    assert "UTF-16" in caught.value.message_dict["file"][0]
    with pytest.raises(ValidationError):
        upload(b"", reviewer)


def test_skip_bad_mode_is_an_administrators_choice(reviewer):
    employer = billed_employer(reviewer, periods=(202501,))
    with pytest.raises(ValidationError) as caught:
        upload(payment_csv([line("R-1", employer, "1.00")]), reviewer, mode="skip_bad")
    assert "只有管理员" in caught.value.message_dict["mode"][0]


# --- encodings and xlsx ------------------------------------------------------------------------


def test_gbk_csv_is_read(reviewer):
    employer = billed_employer(reviewer, periods=(202501,))
    data = payment_csv([line("GBK-1", employer, "1,795.00", name="台州测试机械有限公司")], encoding="gbk")
    data.decode("gbk")  # really GBK, and not valid UTF-8:
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    payment_file, _created = upload(data, reviewer)
    assert payment_file.status == "imported", payment_file.report
    assert PaymentFileLine.objects.get(payment_file=payment_file).payer_name == "台州测试机械有限公司"
    assert Payment.objects.get(agency_reference="GBK-1").amount == Y("1795.00")


def test_xlsx_is_read_with_numbers_and_dates_as_excel_keeps_them(reviewer):
    from openpyxl import Workbook

    employer = billed_employer(reviewer, periods=(202501,))
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["流水号", "缴费方类型", "缴费方代码", "缴费方名称", "所属期", "金额", "到账日期"])
    sheet.append(["XL-1", "单位", employer.credit_code, "某单位", 202501, 1795.0, datetime.datetime(2025, 4, 10)])
    sheet.append(["XL-2", "个人", 3.31003198001011e17, "某人", 202501, 10, datetime.datetime(2025, 4, 10)])
    sheet.append(["#合计笔数", 2])  # the totals lines, as numbers the way Excel keeps them
    sheet.append(["#合计金额", 1805.0])
    out = io.BytesIO()
    workbook.save(out)
    admin = UserFactory(username="xl_admin", office=office("331000"), roles=[roles.CITY_ADMIN])
    payment_file, _created = upload(out.getvalue(), admin, mode="skip_bad", name="到账.xlsx")
    assert payment_file.status == "pending" and payment_file.imported_count == 1
    assert Payment.objects.get(agency_reference="XL-1").paid_on == D(2025, 4, 10)
    bad = PaymentFileLine.objects.get(payment_file=payment_file, status="bad")
    assert bad.line_no == 3 and "存成了数字" in bad.problem_text


# --- skip-bad mode and correction ----------------------------------------------------------------


def test_skip_bad_imports_the_rest_and_keeps_the_bad_line_which_can_be_corrected(reviewer, admin):
    employer = billed_employer(reviewer, periods=(202501,))
    data = payment_csv([line("SB-1", employer, "1000.00"), line("SB-2", employer, "-795.00")])
    payment_file, _created = upload(data, admin, mode="skip_bad")
    assert payment_file.status == "pending"
    assert (payment_file.imported_count, payment_file.bad_count, payment_file.open_bad_count) == (1, 1, 1)
    kept = PaymentFileLine.objects.get(payment_file=payment_file, status=LineStatus.BAD)
    assert kept.line_no == 3 and kept.raw["amount"] == "-795.00"
    assert kept.problem_text == "第 3 行：金额 -795.00 不是正数：到账金额必须大于 0。"
    assert not Payment.objects.filter(agency_reference="SB-2").exists()
    item = ReconciliationItem.objects.get(payment_file=payment_file, employer=employer)
    assert (item.category, item.due, item.paid) == ("mismatch", Y("1795.00"), Y("1000.00"))

    payment = services.payment_file_line_correct(
        line=kept,
        acting_user=admin,
        reference="SB-2",
        payer_type="单位",
        payer_code=employer.credit_code,
        period="202501",
        amount="795.00",
        paid_on=D(2025, 4, 10),
    )
    assert payment.amount == Y("795.00") and payment.channel == "file"
    kept.refresh_from_db()
    payment_file.refresh_from_db()
    assert kept.status == "corrected" and kept.corrected_by == admin
    assert (payment_file.status, payment_file.open_bad_count, payment_file.imported_count) == ("imported", 0, 2)
    assert payment_file.imported_amount == Y("1795.00")
    item = ReconciliationItem.objects.get(payment_file=payment_file, employer=employer)
    assert (item.category, item.due, item.paid, item.line_count) == ("matched", Y("1795.00"), Y("1795.00"), 2)
    bill = Bill.objects.get(employer=employer, period=202501)
    assert sum(a.amount for a in PaymentAllocation.objects.filter(bill=bill)) == Y("1795.00")
    with pytest.raises(ValidationError):
        services.payment_file_line_correct(
            line=kept,
            acting_user=admin,
            reference="SB-2",
            payer_type="单位",
            payer_code=employer.credit_code,
            period="202501",
            amount="795.00",
            paid_on=D(2025, 4, 10),
        )


def test_a_correction_with_a_still_wrong_value_is_refused_and_changes_nothing(reviewer, admin):
    employer = billed_employer(reviewer, periods=(202501,))
    payment_file, _created = upload(payment_csv([line("C-1", employer, "0")]), admin, mode="skip_bad")
    kept = PaymentFileLine.objects.get(payment_file=payment_file)
    with pytest.raises(ValidationError) as caught:
        services.payment_file_line_correct(
            line=kept,
            acting_user=admin,
            reference="C-1",
            payer_type="单位",
            payer_code=employer.credit_code,
            period="202501",
            amount="-1",
            paid_on=D(2025, 4, 10),
        )
    assert "大于 0" in caught.value.message_dict["amount"][0]
    kept.refresh_from_db()
    assert kept.status == "bad" and not Payment.objects.filter(agency_reference="C-1").exists()


# --- reconciliation ------------------------------------------------------------------------------


def test_reconciliation_categories_per_office(reviewer, admin):
    matched = billed_employer(reviewer, periods=(202501,))
    unpaid = billed_employer(reviewer, periods=(202501,))
    short = billed_employer(reviewer, periods=(202501,))
    already = billed_employer(reviewer, periods=(202501,))
    pay(already, "1795.00", D(2025, 4, 1), reviewer, reference="EARLIER")  # paid before: not "unpaid"
    stranger = make_credit_code("331003")
    data = payment_csv(
        [
            line("R-1", matched, "1000.00"),
            line("R-2", matched, "795.00"),
            line("R-3", short, "1000.00"),
            ("R-4", "单位", stranger, "不明单位", 202501, "50.00", PAID_ON),
        ]
    )
    payment_file, _created = upload(data, admin, mode="skip_bad")
    items = {
        (i.employer_id, i.payer_code): (i.category, i.due, i.paid, i.line_count)
        for i in ReconciliationItem.objects.filter(payment_file=payment_file)
    }
    assert items == {
        (matched.pk, matched.credit_code): ("matched", Y("1795.00"), Y("1795.00"), 2),
        (short.pk, short.credit_code): ("mismatch", Y("1795.00"), Y("1000.00"), 1),
        (unpaid.pk, unpaid.credit_code): ("billed_unpaid", Y("1795.00"), Y("0.00"), 0),
        (None, stranger): ("unknown_payer", Y("0.00"), Y("50.00"), 1),
    }
    unknown = ReconciliationItem.objects.get(payment_file=payment_file, category="unknown_payer")
    assert unknown.office == Office.objects.get(code="331003")  # the district its credit code names
    assert unknown.first_line == 5
    summary = {
        (s.office.code, s.category): (s.item_count, s.due, s.paid)
        for s in ReconciliationSummary.objects.filter(payment_file=payment_file).select_related("office")
    }
    township = matched.office.code
    assert summary == {
        (township, "matched"): (1, Y("1795.00"), Y("1795.00")),
        (township, "mismatch"): (1, Y("1795.00"), Y("1000.00")),
        (township, "billed_unpaid"): (1, Y("1795.00"), Y("0.00")),
        ("331003", "unknown_payer"): (1, Y("0.00"), Y("50.00")),
    }


def test_a_payment_the_file_repeats_counts_as_paid_in_the_reconciliation(reviewer):
    employer = billed_employer(reviewer, periods=(202501,))
    pay(employer, "1795.00", D(2025, 4, 1), reviewer, reference="BOTH")  # by API first, then in the night's file
    payment_file, _created = upload(payment_csv([line("BOTH", employer, "1795.00")]), reviewer)
    item = ReconciliationItem.objects.get(payment_file=payment_file)
    assert (item.category, item.due, item.paid) == ("matched", Y("1795.00"), Y("1795.00"))


@pytest.mark.postgres  # BillSettlement is kept by PostgreSQL triggers (migration 0020); SQLite reads every bill
def test_a_bill_the_file_settles_leaves_the_arrears_and_is_not_read_again(reviewer):
    employer = billed_employer(reviewer, periods=(202501, 202502))
    jan, feb = Bill.objects.filter(employer=employer, kind="regular").order_by("period")
    upload(payment_csv([line("S-1", employer, "1000.00"), line("S-2", employer, "795.00")]), reviewer)
    assert BillSettlement.objects.get(bill=jan).settled_at is not None  # paid in two parts of one file
    assert BillSettlement.objects.get(bill=feb).settled_at is None
    arrears = {b.pk for b in selectors.arrears_list(user=reviewer, on=D(2025, 6, 1))}
    assert jan.pk not in arrears and feb.pk in arrears
    upload(payment_csv([line("S-3", employer, "1795.00", paid_on="2025-04-12")]), reviewer)
    assert {a[0] for a in allocations_of("S-3")} <= {202502, None}
    for bill in selectors.with_amounts(Bill.objects.filter(employer=employer, issued_at__isnull=False)):
        settlement = BillSettlement.objects.get(bill=bill)
        assert settlement.paid == (bill.paid_amount or 0)
        assert (settlement.settled_at is None) == (bill.open_amount > 0)


@pytest.mark.postgres
def test_a_files_payments_get_time_ordered_uids(reviewer):
    """Version-7 UUIDs (issue 22): the time the payment was written in the first 48 bits (milliseconds), random bits
    after it, so a file's payments are appended to the uid index instead of scattered over it."""
    first, second = billed_employer(reviewer, periods=(202501,)), billed_employer(reviewer, periods=(202501,))
    payment_file, _created = upload(
        payment_csv([line("U-1", first, "1795.00"), line("U-2", second, "1795.00"), line("U-3", first, "10.00")]),
        reviewer,
    )
    assert payment_file.status == "imported", payment_file.report
    payments = list(Payment.objects.filter(agency_reference__startswith="U-").order_by("id"))
    assert len(payments) == 3 and len({p.uid for p in payments}) == 3
    for payment in payments:
        assert (payment.uid.version, payment.uid.variant) == (7, uuid.RFC_4122)
        written = datetime.datetime.fromtimestamp((payment.uid.int >> 80) / 1000, tz=datetime.UTC)
        assert abs(written - payment.recorded_at) < datetime.timedelta(minutes=1)
    assert [p.uid.int >> 80 for p in payments] == sorted(p.uid.int >> 80 for p in payments)
