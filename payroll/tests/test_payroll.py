"""The payroll by hand: an adjustment paid with arrears, a suspension and its resumption, a failed payment
re-issued, the ledger's expenditure equal to the bank files, and bad return files refused."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db.models import Sum

from cases.models import Effect
from funds.models import Account, LedgerEntry
from payroll import services
from payroll.models import (
    BankFile,
    LineStatus,
    PayeeAccount,
    PayrollArrears,
    PayrollLine,
    PayrollPosting,
    Recovery,
    RunStatus,
)
from payroll.services.bank import SOURCE_TYPE

from .factories import D, adjustment, award, city_officer, pay_all, return_file, run_month

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


def _line(a, period):
    return PayrollLine.objects.get(award=a, period=period, kind="regular")


def test_pension_adjusted_from_march_is_paid_in_may_with_the_march_april_difference():
    user = city_officer()
    pension = award(amount="3000.00", start=D(2026, 1, 1))
    other = award(effect=Effect.BENEFIT_UNEMPLOYMENT, amount="1800.00", start=D(2026, 1, 1))
    for period in (202603, 202604):
        pay_all(run_month(period, user), user)
    assert _line(pension, 202604).amount == Decimal("3000.00")
    adjustment("55.50", D(2026, 3, 1))  # entered in May, in force from March

    run = run_month(202605, user)

    line = _line(pension, 202605)
    assert (line.regular_amount, line.arrears_amount, line.amount) == (
        Decimal("3055.50"),
        Decimal("111.00"),
        Decimal("3166.50"),
    )
    assert sorted(PayrollArrears.objects.filter(line=line).values_list("period", "amount")) == [
        (202603, Decimal("55.50")),
        (202604, Decimal("55.50")),
    ]
    assert _line(other, 202605).amount == Decimal("1800.00")  # the unemployment benefit is not a pension
    assert run.arrears_amount == Decimal("111.00")
    assert run.amount == Decimal("4966.50")
    # June: the adjusted amount, nothing owed any more.
    run_month(202606, user)
    assert _line(pension, 202606).amount == Decimal("3055.50")


def test_adjustment_only_for_pensions_started_before_it():
    user = city_officer()
    old = award(start=D(2026, 2, 1))
    run_month(202602, user)
    adjustment("40.00", D(2026, 3, 1))
    new = award(start=D(2026, 3, 1))
    run_month(202603, user)
    assert _line(old, 202603).amount == Decimal("3040.00")
    assert _line(new, 202603).amount == Decimal("3000.00")


def test_first_payment_of_an_award_pays_the_months_since_its_start():
    user = city_officer()
    a = award(start=D(2026, 1, 1))
    run_month(202603, user)
    line = _line(a, 202603)
    assert (line.regular_amount, line.arrears_amount) == (Decimal("3000.00"), Decimal("6000.00"))


def test_suspension_stops_payment_from_its_month_and_resumption_pays_again_without_the_months_stopped():
    user = city_officer()
    a = award(start=D(2026, 1, 1))
    run_month(202601, user)
    suspension = services.suspension_record(
        award=a, reason="disqualified", from_month=D(2026, 2, 1), acting_user=user, note="服刑"
    )
    run_month(202602, user)
    assert not PayrollLine.objects.filter(award=a, period=202602).exists()
    services.suspension_resume(suspension=suspension, resumed_month=D(2026, 3, 1), acting_user=user)
    run_month(202603, user)
    line = _line(a, 202603)
    assert (line.amount, line.arrears_amount) == (Decimal("3000.00"), Decimal("0"))
    with pytest.raises(ValidationError):  # a death is never resumed; a resumed one not twice
        services.suspension_resume(suspension=suspension, resumed_month=D(2026, 4, 1), acting_user=user)


def test_late_reported_death_stops_payment_and_the_overpayment_becomes_a_receivable():
    user = city_officer()
    a = award(start=D(2026, 1, 1))
    for period in (202601, 202602, 202603):
        pay_all(run_month(period, user), user)
    services.person_death_record(person=a.person, died_on=D(2026, 1, 20), acting_user=user)
    recovery = Recovery.objects.get(award=a)
    assert recovery.amount == Decimal("6000.00")
    assert [m["period"] for m in recovery.months] == [202602, 202603]
    run_month(202604, user)
    assert not PayrollLine.objects.filter(award=a, period=202604).exists()


def test_failed_bank_payment_is_reissued_after_the_account_is_corrected():
    user = city_officer()
    a = award(start=D(2026, 2, 1))
    b = award(start=D(2026, 2, 1))
    run = run_month(202602, user)
    bank_file = BankFile.objects.get(run=run)
    assert bank_file.count == 2
    failed = _line(a, 202602)
    services.bank_return_record(
        bank_file=bank_file, data=return_file(bank_file, failed={failed.pk: "账户已销户"}), acting_user=user
    )
    failed.refresh_from_db()
    assert failed.status == LineStatus.FAILED and failed.failure_reason == "账户已销户"
    assert _line(b, 202602).status == LineStatus.PAID
    with pytest.raises(ValidationError):  # nothing to re-issue while the account is the same
        services.payroll_reissue(run=run, acting_user=user)

    services.payee_account_save(person=a.person, bank="313", account_number="6223000011112222", acting_user=user)
    (reissue_file,) = services.payroll_reissue(run=run, acting_user=user)

    assert (reissue_file.bank, reissue_file.sequence, reissue_file.count) == ("313", 2, 1)
    again = PayrollLine.objects.get(bank_file=reissue_file)
    assert (again.reissue_of_id, again.amount, again.account_number) == (failed.pk, failed.amount, "6223000011112222")
    services.bank_return_record(bank_file=reissue_file, data=return_file(reissue_file), acting_user=user)
    again.refresh_from_db()
    assert again.status == LineStatus.PAID
    assert _expenditure() == Decimal("6000.00")


def _expenditure() -> Decimal:
    entries = LedgerEntry.objects.filter(account=Account.BENEFIT_EXPENDITURE, transaction__source_type=SOURCE_TYPE)
    return entries.aggregate(s=Sum("amount"))["s"] or Decimal(0)


def test_ledger_expenditure_equals_the_bank_files_total():
    user = city_officer()
    award(district="331002", amount="2500.10")
    award(district="331003", effect=Effect.BENEFIT_RES_PENSION, amount="260.00")
    award(district="331004", effect=Effect.BENEFIT_LAND_FARMER, amount="1105.00")
    no_account = award(district="331004", account=False)
    x = award(district="331003", amount="3100.00")
    PayeeAccount.objects.filter(person=x.person).update(bank="105")
    run = run_month(202603, user)
    assert run.status == RunStatus.DONE
    files = BankFile.objects.filter(run=run)
    assert sorted(files.values_list("bank", flat=True)) == ["102", "105"]
    assert _line(no_account, 202603).status == LineStatus.HELD
    pay_all(run, user)
    total = files.aggregate(s=Sum("total"))["s"]
    assert total == Decimal("6965.10")
    assert _expenditure() == total
    # One ledger transaction per fund and district, balanced against the bank account.
    assert PayrollPosting.objects.filter(bank_file__run=run).count() == 4
    bank = LedgerEntry.objects.filter(transaction__source_type=SOURCE_TYPE, account=Account.BANK)
    assert bank.aggregate(s=Sum("amount"))["s"] == -total


def test_bank_file_header_and_lines():
    user = city_officer()
    a = award(amount="1234.56")
    run = run_month(202603, user)
    bank_file = BankFile.objects.get(run=run)
    text = services.bank_file_csv(bank_file).splitlines()
    assert text[0] == f"H,{bank_file.number},202603,102,1,1234.56"
    line = _line(a, 202603)
    assert text[1] == f"D,{line.pk},{line.account_number},{a.person.name},1234.56"


def test_run_is_idempotent_and_once_per_month():
    user = city_officer()
    award()
    run = run_month(202603, user)
    assert services.payroll_run_execute(run_id=run.pk).lines == 1
    with pytest.raises(ValidationError):
        services.payroll_run_start(period=202603, pay_date=D(2026, 3, 15), acting_user=user)
    assert PayrollLine.objects.count() == 1


def test_run_started_by_a_district_clerk_is_refused():
    from payroll.tests.factories import district_clerk
    from registry.exceptions import PermissionDeniedError

    with pytest.raises(PermissionDeniedError):
        services.payroll_run_start(period=202603, pay_date=D(2026, 3, 15), acting_user=district_clerk())


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("other_run", "另一发放批次"),
        ("unknown_line", "不是本文件的发放记录"),
        ("amount", "不一致"),
        ("missing", "须包含全部明细"),
    ],
)
def test_bad_return_file_is_refused_and_nothing_written(change, message):
    user = city_officer()
    award()
    award()
    first = run_month(202603, user)
    run = run_month(202604, user)
    bank_file = BankFile.objects.get(run=run)
    data = return_file(bank_file)
    if change == "other_run":
        data = return_file(bank_file, number=BankFile.objects.get(run=first).number)
    elif change == "unknown_line":
        data = data.replace(f"D,{PayrollLine.objects.filter(bank_file=bank_file).first().pk},".encode(), b"D,999999,")
    elif change == "amount":
        data = return_file(bank_file, amount_of=lambda line: line.amount + Decimal("0.01"))
    elif change == "missing":
        data = b"\n".join(data.splitlines()[:-1]) + b"\n"
    with pytest.raises(ValidationError) as exc:
        services.bank_return_record(bank_file=bank_file, data=data, acting_user=user)
    assert message in " ".join(exc.value.messages)
    assert not PayrollLine.objects.filter(bank_file=bank_file).exclude(status=LineStatus.ISSUED).exists()
    assert not PayrollPosting.objects.filter(bank_file=bank_file).exists()
    bank_file.refresh_from_db()
    assert bank_file.status == "issued"


def test_return_file_twice_is_refused():
    user = city_officer()
    award()
    run = run_month(202603, user)
    bank_file = BankFile.objects.get(run=run)
    services.bank_return_record(bank_file=bank_file, data=return_file(bank_file), acting_user=user)
    with pytest.raises(ValidationError):
        services.bank_return_record(bank_file=bank_file, data=return_file(bank_file), acting_user=user)
    assert PayrollPosting.objects.count() == 1


def test_sweeper_sends_a_run_whose_task_is_gone_again():
    import datetime as dt

    from django.utils import timezone

    from payroll.models import PayrollRun

    user = city_officer()
    award()
    run = services.payroll_run_start(period=202603, pay_date=D(2026, 3, 15), acting_user=user)  # task lost: no commit
    PayrollRun.objects.filter(pk=run.pk).update(created_at=timezone.now() - dt.timedelta(hours=1))
    assert services.payroll_runs_sweep(stale_seconds=60) == [run.pk]
    run.refresh_from_db()
    assert (run.status, run.lines, run.requeue_count) == (RunStatus.DONE, 1, 1)
    assert services.payroll_runs_sweep(stale_seconds=60) == []


def test_death_cancels_the_unpaid_lines_of_the_months_after_it():
    user = city_officer()
    a = award(start=D(2026, 1, 1), account=False)
    other = award(start=D(2026, 1, 1), account=False)
    runs = {period: run_month(period, user) for period in (202601, 202602, 202603)}
    services.person_death_record(person=a.person, died_on=D(2026, 1, 20), acting_user=user)
    statuses = dict(PayrollLine.objects.filter(award=a).values_list("period", "status"))
    # January (the month of the death) was due: it stays held for the heirs; February and March are not due
    assert statuses == {202601: LineStatus.HELD, 202602: LineStatus.CANCELLED, 202603: LineStatus.CANCELLED}
    assert set(PayrollLine.objects.filter(award=other).values_list("status", flat=True)) == {LineStatus.HELD}
    assert not Recovery.objects.filter(award=a).exists()  # nothing went out
    PayeeAccount.objects.create(person=a.person, bank="102", account_number="6222000000000099")
    with pytest.raises(ValidationError):  # a corrected account does not send a cancelled line
        services.payroll_reissue(run=runs[202603], acting_user=user)
    services.payroll_reissue(run=runs[202601], acting_user=user)
    assert PayrollLine.objects.filter(award=a, kind="reissue").get().period == 202601


def test_the_months_due_before_a_death_are_paid_to_the_heirs_account():
    from registry.tests.factories import make_id_number

    user = city_officer()
    a = award(start=D(2026, 1, 1), account=False)
    run = run_month(202601, user)  # January held: no account yet
    services.person_death_record(person=a.person, died_on=D(2026, 1, 20), acting_user=user)
    with pytest.raises(ValidationError) as no_heir:  # after the death only an heir's account
        services.payee_account_save(person=a.person, bank="102", account_number="6222000000000077", acting_user=user)
    assert {"holder_name", "holder_id_number"} <= set(no_heir.value.message_dict)
    assert not PayeeAccount.objects.filter(person=a.person).exists()
    services.payee_account_save(
        person=a.person,
        bank="102",
        account_number="6222000000000077",
        holder_name="王继承",
        holder_id_number=make_id_number(birth="19850101"),
        acting_user=user,
    )
    files = services.payroll_reissue(run=run, acting_user=user)
    line = PayrollLine.objects.get(award=a, kind="reissue")
    assert (line.period, line.account_holder, line.status) == (202601, "王继承", LineStatus.ISSUED)
    rows = services.bank_file_csv(files[0])
    assert "王继承" in rows and a.person.name not in rows  # the bank pays the heir, by the heir's name


def test_a_living_recipients_account_names_no_heir():
    a = award(start=D(2026, 1, 1), account=False)
    with pytest.raises(ValidationError) as refused:
        services.payee_account_save(
            person=a.person,
            bank="102",
            account_number="6222000000000078",
            holder_name="某人",
            acting_user=city_officer(),
        )
    assert "holder_name" in refused.value.message_dict
    assert not PayeeAccount.objects.filter(person=a.person).exists()
