"""The ledger: balanced, append-only, closed years, reversal, benefit expenditure, remittances, imports."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from funds import services
from funds.imports import expenditure_rows_read
from funds.models import (
    Account,
    ExpenditureImport,
    FundYear,
    FundYearStatus,
    LedgerEntry,
    LedgerTransaction,
    Remittance,
    TransactionKind,
)
from funds.selectors import account_totals, fund_balance
from funds.tests.factories import expense, fund, income, make_user, office
from registry import roles
from registry.exceptions import PermissionDeniedError
from registry.tests.factories import township_of

pytestmark = pytest.mark.django_db
D = datetime.date
Y = Decimal


@pytest.fixture
def officer():
    return make_user("fund_officer", "331000", roles.FUND_OFFICER)


def _close(f, year):
    FundYear.objects.create(fund=f, year=year, status=FundYearStatus.CLOSED, closed_at=timezone.now())


def test_a_balanced_transaction_is_written_with_its_entries():
    f = fund("emp_medical")
    txn = income(f, "331002", D(2025, 3, 5), "1234.56")
    entries = sorted((e.account, e.amount, e.office.code, e.booked_on) for e in txn.entries.all())
    assert entries == [
        (Account.BANK, Y("1234.56"), "331002", D(2025, 3, 5)),
        (Account.CONTRIBUTION_INCOME, Y("-1234.56"), "331002", D(2025, 3, 5)),
    ]
    assert txn.amount == Y("1234.56")
    assert fund_balance(fund=f, on=D(2025, 3, 5)) == Y("1234.56")
    assert fund_balance(fund=f, on=D(2025, 3, 4)) == 0


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ([(Account.BANK, "100.00"), (Account.CONTRIBUTION_INCOME, "-99.99")], "借贷不平衡"),
        ([(Account.BANK, "100.00")], "至少要有两条分录"),
        ([(Account.BANK, "100.001"), (Account.CONTRIBUTION_INCOME, "-100.001")], "最多 2 位小数"),
        ([(Account.BANK, "0"), (Account.CONTRIBUTION_INCOME, "0")], "金额为 0"),
        ([("cash", "1"), (Account.CONTRIBUTION_INCOME, "-1")], "未知科目"),
        ([(Account.BANK, "abc"), (Account.CONTRIBUTION_INCOME, "-1")], "不是数字"),
    ],
)
def test_bad_entries_are_refused_and_nothing_is_written(entries, message):
    with pytest.raises(ValidationError) as exc:
        services.ledger_transaction_post(
            fund=fund(),
            office=office("331003"),
            kind=TransactionKind.OTHER,
            booked_on=D(2025, 1, 2),
            entries=entries,
            acting_user=None,
        )
    assert message in str(exc.value.message_dict["entries"])
    assert not LedgerTransaction.objects.exists() and not LedgerEntry.objects.exists()


def test_entries_are_kept_by_district_or_city_not_township():
    with pytest.raises(ValidationError) as exc:
        income(fund(), township_of("331003").code, D(2025, 1, 2), "1.00")
    assert "不是区或市本级" in exc.value.message_dict["office"][0]
    assert not LedgerTransaction.objects.exists()


def test_an_entry_in_a_closed_year_is_refused():
    f = fund("emp_pension")
    _close(f, 2024)
    with pytest.raises(ValidationError) as exc:
        income(f, "331004", D(2024, 12, 31), "5.00")
    assert "2024 年度已结账" in exc.value.message_dict["booked_on"][0]
    income(f, "331004", D(2025, 1, 1), "5.00")  # the next year is open
    income(fund("emp_medical"), "331004", D(2024, 12, 31), "5.00")  # another fund's 2024 is open
    assert LedgerTransaction.objects.count() == 2


def test_reversal_negates_every_entry_once(officer):
    f = fund()
    original = expense(f, "331003", D(2025, 2, 1), "300.00")
    reversal = services.ledger_transaction_reverse(
        ledger_transaction=original, reason="重复支付", acting_user=officer, booked_on=D(2025, 2, 3)
    )
    assert reversal.reverses == original and reversal.kind == TransactionKind.REVERSAL
    assert sorted((e.account, e.amount) for e in reversal.entries.all()) == [
        (Account.BANK, Y("300.00")),
        (Account.BENEFIT_EXPENDITURE, Y("-300.00")),
    ]
    assert account_totals(fund=f) == {Account.BANK: 0, Account.BENEFIT_EXPENDITURE: 0}
    with pytest.raises(ValidationError, match="已被冲销"):
        services.ledger_transaction_reverse(ledger_transaction=original, reason="再冲", acting_user=officer)
    with pytest.raises(ValidationError, match="冲销凭证不能再冲销"):
        services.ledger_transaction_reverse(ledger_transaction=reversal, reason="再冲", acting_user=officer)
    with pytest.raises(ValidationError) as exc:
        services.ledger_transaction_reverse(ledger_transaction=original, reason=" ", acting_user=officer)
    assert exc.value.message_dict["reason"] == ["冲销必须填写原因。"]


def test_reversal_needs_the_role():
    clerk = make_user("hy_counter", "331003", roles.COUNTER_CLERK)
    txn = income(fund(), "331003", D(2025, 2, 1), "1.00")
    with pytest.raises(PermissionDeniedError):
        services.ledger_transaction_reverse(ledger_transaction=txn, reason="x", acting_user=clerk)


def test_benefit_expenditure_is_posted_once_per_source_and_a_township_is_kept_under_its_district():
    clerk = make_user("lq_head", "331004", roles.OFFICE_HEAD)
    f = fund("unemployment")
    args = {
        "fund": f,
        "amount": "1800.00",
        "source_type": "cases.benefitpayment",
        "source_id": 77,
        "paid_on": D(2025, 4, 30),
    }
    first = services.benefit_expenditure_post(district=township_of("331004"), acting_user=clerk, **args)
    again = services.benefit_expenditure_post(district=office("331004"), acting_user=clerk, **args)
    assert first == again and first.office.code == "331004"
    assert sorted((e.account, e.amount) for e in first.entries.all()) == [
        (Account.BANK, Y("-1800.00")),
        (Account.BENEFIT_EXPENDITURE, Y("1800.00")),
    ]
    with pytest.raises(ValidationError) as exc:
        services.benefit_expenditure_post(district=office("331004"), acting_user=clerk, **{**args, "amount": "1900.00"})
    assert "不一致" in exc.value.message_dict["source_id"][0]
    with pytest.raises(ValidationError) as exc:
        services.benefit_expenditure_post(
            district=office("331004"), acting_user=clerk, **{**args, "source_id": 78, "amount": "-5"}
        )
    assert "必须大于 0" in exc.value.message_dict["amount"][0]
    with pytest.raises(ValidationError) as exc:
        services.benefit_expenditure_post(district=office("331003"), acting_user=clerk, **{**args, "source_id": 79})
    assert "不在您的辖区内" in exc.value.message_dict["office"][0]
    assert LedgerTransaction.objects.count() == 1


def test_remittances_to_and_from_the_national_pool(officer):
    pension = fund("emp_pension")
    up = services.remittance_record(
        fund=pension,
        direction="up",
        amount="5000000.00",
        booked_on=D(2025, 6, 30),
        document_number="浙人社发〔2025〕1号",
        document_title="2025 年中央调剂基金上解",
        acting_user=officer,
    )
    down = services.remittance_record(
        fund=pension,
        direction="down",
        amount="1200000.00",
        booked_on=D(2025, 7, 15),
        document_number="浙人社发〔2025〕2号",
        acting_user=officer,
    )
    assert up.transaction.office.level == 1 and up.transaction.source_id == up.pk
    totals = account_totals(fund=pension)
    assert totals == {
        Account.BANK: Y("-3800000.00"),
        Account.REMITTANCE_TO_HIGHER: Y("5000000.00"),
        Account.REMITTANCE_FROM_HIGHER: Y("-1200000.00"),
    }
    assert down.transaction.kind == TransactionKind.REMITTANCE_DOWN
    with pytest.raises(ValidationError) as exc:
        services.remittance_record(
            fund=fund("emp_medical"),
            direction="up",
            amount="1",
            booked_on=D(2025, 6, 30),
            document_number="x",
            acting_user=officer,
        )
    assert "只适用于职工基本养老保险" in exc.value.message_dict["fund"][0]
    with pytest.raises(ValidationError) as exc:
        services.remittance_record(
            fund=pension, direction="up", amount="1", booked_on=D(2025, 6, 30), document_number=" ", acting_user=officer
        )
    assert "文件号" in exc.value.message_dict["document_number"][0]
    with pytest.raises(ValidationError, match="已经登记"):
        services.remittance_record(
            fund=pension,
            direction="up",
            amount="1",
            booked_on=D(2025, 6, 30),
            document_number="浙人社发〔2025〕1号",
            acting_user=officer,
        )
    assert Remittance.objects.count() == 2


def test_expenditure_file_is_imported_whole_or_not_at_all(officer):
    good = (
        "基金,区划代码,月份,科目,金额\n"
        "emp_medical,331002,202501,,1000000.00\n"
        "职工基本医疗保险统筹基金,331003,202501,benefit_expenditure,800000.50\n"
    ).encode("gbk")
    batch = services.expenditure_import(
        rows=expenditure_rows_read("a.csv", good), file_name="a.csv", acting_user=officer
    )
    assert (batch.rows, batch.total) == (2, Y("1800000.50"))
    f = fund("emp_medical")
    assert account_totals(fund=f, by_office=True)[(Account.BENEFIT_EXPENDITURE, office("331003").pk)] == Y("800000.50")
    assert set(LedgerTransaction.objects.values_list("booked_on", flat=True)) == {D(2025, 1, 31)}

    bad = (
        "基金,区划代码,月份,金额\n"
        "emp_medical,331004,202502,10.00\n"
        "no_such,331004,202502,10.00\n"
        "emp_medical,331099,209901,-1\n"
    ).encode()
    with pytest.raises(ValidationError) as exc:
        services.expenditure_import(rows=expenditure_rows_read("b.csv", bad), file_name="b.csv", acting_user=officer)
    errors = exc.value.message_dict["rows"]
    assert errors[0].startswith("第 3 行：基金“no_such”不存在")
    assert errors[1].startswith("第 4 行：") and "区划代码“331099”" in errors[1] and "尚未结束" in errors[1]
    again = "基金,区划代码,月份,金额\nemp_medical,331002,202501,5.00\n".encode()
    with pytest.raises(ValidationError) as exc:
        services.expenditure_import(rows=expenditure_rows_read("c.csv", again), file_name="c.csv", acting_user=officer)
    assert "已导入；如需更正请先冲销原凭证" in exc.value.message_dict["rows"][0]
    assert ExpenditureImport.objects.count() == 1 and LedgerTransaction.objects.count() == 2
    with pytest.raises(ValidationError) as exc:
        expenditure_rows_read("d.csv", "金额\n1\n".encode())
    assert "缺少列" in exc.value.message_dict["file"][0]


@pytest.mark.postgres
def test_postgresql_refuses_update_and_delete_of_ledger_rows():
    txn = income(fund(), "331002", D(2025, 1, 10), "50.00")
    entry = txn.entries.first()
    statements = [
        ("UPDATE funds_ledgerentry SET amount = amount * 2 WHERE id = %s", entry.pk),
        ("DELETE FROM funds_ledgerentry WHERE id = %s", entry.pk),
        ("UPDATE funds_ledgertransaction SET description = 'x' WHERE id = %s", txn.pk),
        ("DELETE FROM funds_ledgertransaction WHERE id = %s", txn.pk),
    ]
    for sql, pk in statements:
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cur:
            cur.execute(sql, [pk])
    with pytest.raises(DatabaseError), transaction.atomic():
        LedgerEntry.objects.filter(pk=entry.pk).update(amount=Y("1.00"))
    assert LedgerEntry.objects.get(pk=entry.pk).amount in (Y("50.00"), Y("-50.00"))
    assert LedgerEntry.objects.filter(transaction=txn).count() == 2


@pytest.mark.postgres
def test_postgresql_refuses_an_unbalanced_or_closed_year_insert_made_behind_the_services():
    f = fund()
    txn = income(f, "331002", D(2025, 1, 10), "50.00")
    with pytest.raises(DatabaseError, match="unbalanced"), transaction.atomic(), connection.cursor() as cur:
        cur.execute(
            "INSERT INTO funds_ledgerentry (transaction_id, fund_id, office_id, account, amount, booked_on) VALUES (%s, %s, %s, 'bank', 1, %s)",
            [txn.pk, f.pk, txn.office_id, txn.booked_on],
        )
    _close(f, 2024)
    with pytest.raises(DatabaseError, match="closed fund year"), transaction.atomic():
        late = LedgerTransaction.objects.create(
            fund=f, office=txn.office, kind="other", booked_on=D(2024, 6, 1), amount=Y("1.00")
        )
        LedgerEntry.objects.bulk_create(
            [
                LedgerEntry(
                    transaction=late,
                    fund=f,
                    office=txn.office,
                    account="bank",
                    amount=Y("1.00"),
                    booked_on=late.booked_on,
                ),
                LedgerEntry(
                    transaction=late,
                    fund=f,
                    office=txn.office,
                    account="other_income",
                    amount=Y("-1.00"),
                    booked_on=late.booked_on,
                ),
            ]
        )
