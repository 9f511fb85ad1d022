"""Bank files (代发文件), the bank's return file (回盘), re-issues, and posting the expenditure to the funds.

Layout (docs/payroll.md): CSV, UTF-8, comma-separated. The file we send:

    H,<file number>,<month YYYYMM>,<bank code>,<count>,<total>
    D,<line id>,<account number>,<name>,<amount>

The bank's return file:

    H,<file number>,<count>,<total>
    D,<line id>,<account number>,<amount>,<S|F>,<reason if F>

A return is recorded only whole: it must name one of our files not yet returned, carry every line of it once, each
with its account and amount as sent, and header figures that match its lines; otherwise nothing is written and
the first problems are reported by line. Paid lines are posted, per fund and district, to the ledger as benefit
expenditure (``funds.services.benefit_expenditure_post``, dated the run's pay date; the ledger is kept cash-based:
社会保险基金会计制度 财会〔2017〕28号, expenditure when paid), so the run's expenditure equals the paid total of
its bank files. A failed line is re-issued (a new file of the same run) once the person's account was corrected.
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Count, F, Max, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from contributions.uploads import decode
from funds.models import Fund
from funds.selectors import fund_for_insurance
from funds.services import benefit_expenditure_post
from registry.audit import audited_save, recorded_user
from registry.identifiers import id_number_normalize
from registry.jurisdiction import office_in_jurisdiction
from registry.locks import AdvisoryLock, advisory_xact_lock
from registry.models import Person
from registry.spreadsheets import cell_neutralise
from registry.tables import TableError, TableLimits, csv_rows

from ..models import (
    BankFile,
    BankFileStatus,
    LineKind,
    LineStatus,
    PayeeAccount,
    PayrollLine,
    PayrollPosting,
    PayrollRun,
    RunStatus,
    Suspension,
    SuspensionReason,
)
from .run import bank_file_number, bank_files_total

SOURCE_TYPE = PayrollPosting._meta.label_lower  # "payroll.payrollposting"
MAX_PROBLEMS = 20


def bank_file_rows(bank_file: BankFile) -> Any:
    """The file's rows (header, then one per line), streamed from the database."""
    yield ["H", bank_file.number, bank_file.run.period, bank_file.bank, bank_file.count, f"{bank_file.total:.2f}"]
    lines = (
        PayrollLine.objects.filter(bank_file=bank_file)
        .order_by("pk")
        .values_list("pk", "account_number", "person__name", "account_holder", "amount")
    )
    for pk, account, name, holder, amount in lines.iterator(chunk_size=5000):  # an heir's account: the heir's name
        yield ["D", pk, account, cell_neutralise(holder or name), f"{amount:.2f}"]


def bank_file_csv(bank_file: BankFile) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for row in bank_file_rows(bank_file):
        writer.writerow(row)
    return out.getvalue()


@dataclass
class ReturnCheck:
    paid: list[int] = field(default_factory=list)
    failed: list[tuple[int, str]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def problem(self, line: int, message: str) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(_("第 %(line)s 行：%(message)s") % {"line": line, "message": message})


def _money(text: str) -> Decimal | None:
    try:
        value = Decimal(text.strip())
    except (InvalidOperation, AttributeError):
        return None
    return value if value.is_finite() else None


def _check_header(cells: list[str], bank_file: BankFile) -> None:
    if len(cells) < 4 or cells[0] != "H":
        raise ValidationError({"file": [_("第 1 行应为文件头：H,文件编号,笔数,金额合计。")]})
    number = cells[1].strip()
    if number != bank_file.number:
        other = BankFile.objects.filter(number=number).select_related("run").first()
        if other is not None and other.run_id != bank_file.run_id:
            raise ValidationError(
                {
                    "file": [
                        _("回盘文件属于另一发放批次（%(number)s，%(period)s），不是本批次的文件。")
                        % {"number": number, "period": other.run.period}
                    ]
                }
            )
        raise ValidationError(
            {
                "file": [
                    _("回盘文件编号“%(got)s”与所选代发文件“%(want)s”不符。")
                    % {"got": number[:40], "want": bank_file.number}
                ]
            }
        )


def _check_detail(
    cells: list[str], line_no: int, sent: dict[int, tuple[str, Decimal]], seen: set[int], check: ReturnCheck
) -> None:
    if len(cells) < 5 or cells[0] != "D":
        check.problem(line_no, _("明细行应为：D,明细编号,账号,金额,结果(S/F),失败原因。"))
        return
    try:
        line_id = int(cells[1])
    except ValueError:
        line_id = -1
    if line_id not in sent:
        check.problem(line_no, _("明细编号“%(id)s”不是本文件的发放记录。") % {"id": cells[1][:20]})
        return
    if line_id in seen:
        check.problem(line_no, _("明细编号 %(id)s 重复出现。") % {"id": line_id})
        return
    seen.add(line_id)
    account, amount = sent[line_id]
    if cells[2].strip() != account:
        check.problem(line_no, _("账号与代发时不一致。"))
    got = _money(cells[3])
    if got != amount:
        check.problem(line_no, _("金额 %(got)s 与代发金额 %(want)s 不一致。") % {"got": cells[3][:20], "want": amount})
    result = cells[4].strip().upper()
    if result == "S":
        check.paid.append(line_id)
    elif result == "F":
        check.failed.append((line_id, (cells[5] if len(cells) > 5 else "").strip()[:100] or _("银行未说明")))
    else:
        check.problem(line_no, _("结果应为 S（成功）或 F（失败）。"))


def return_file_check(bank_file: BankFile, data: bytes) -> ReturnCheck:
    """Every line of the return checked against what was sent; ValidationError with the problems."""
    try:
        rows = list(csv_rows(decode(data), TableLimits.worker()))
    except (TableError, UnicodeDecodeError) as exc:
        raise ValidationError({"file": [str(exc)]}) from None
    if not rows:
        raise ValidationError({"file": [_("回盘文件是空的。")]})
    _check_header(rows[0][1], bank_file)
    sent = {
        pk: (account, amount)
        for pk, account, amount in PayrollLine.objects.filter(bank_file=bank_file).values_list(
            "pk", "account_number", "amount"
        )
    }
    check = ReturnCheck()
    seen: set[int] = set()
    for line_no, cells in rows[1:]:
        _check_detail(cells, line_no, sent, seen, check)
    header = rows[0][1]
    if len(seen) != len(sent) and not check.problems:
        check.problem(
            1,
            _("回盘 %(got)d 笔，代发文件有 %(want)d 笔：回盘须包含全部明细。") % {"got": len(seen), "want": len(sent)},
        )
    if (header[2].strip() != str(len(rows) - 1) or _money(header[3]) != _sum(sent, seen)) and not check.problems:
        check.problem(1, _("文件头的笔数或金额合计与明细不符。"))
    if check.problems:
        raise ValidationError({"file": check.problems})
    return check


def _sum(sent: dict[int, tuple[str, Decimal]], seen: set[int]) -> Decimal:
    return sum((sent[i][1] for i in seen), Decimal(0))


def _post_paid(bank_file: BankFile, acting_user: Any) -> None:
    """The file's paid lines as benefit expenditure, one ledger transaction per fund and district."""
    run = bank_file.run
    groups = (
        PayrollLine.objects.filter(bank_file=bank_file, status=LineStatus.PAID)
        .values("insurance_type", "office")
        .annotate(total=Sum("amount"))
        .order_by("insurance_type", "office")
    )
    for group in groups:
        posting = PayrollPosting.objects.create(
            bank_file=bank_file,
            insurance_type=group["insurance_type"],
            office_id=group["office"],
            amount=group["total"],
        )
        try:
            fund = fund_for_insurance(group["insurance_type"])
        except Fund.DoesNotExist:
            raise ValidationError(
                {"file": [_("没有“%(type)s”基金，无法记入基金支出。") % {"type": group["insurance_type"]}]}
            ) from None
        txn = benefit_expenditure_post(
            fund=fund,
            district=posting.office,
            amount=posting.amount,
            source_type=SOURCE_TYPE,
            source_id=posting.pk,
            paid_on=run.pay_date,
            acting_user=acting_user,
            description=_("待遇发放 %(period)s（%(file)s）") % {"period": run.period, "file": bank_file.number},
        )
        PayrollPosting.objects.filter(pk=posting.pk).update(ledger_uid=str(txn.uid))


@transaction.atomic
def bank_return_record(*, bank_file: BankFile, data: bytes, acting_user: Any) -> BankFile:
    """Record the bank's return file of ``bank_file``: lines paid or failed, paid ones posted to the funds."""
    if not office_in_jurisdiction(acting_user, bank_file.run.office):
        raise BankFile.DoesNotExist
    with connection.cursor() as cur:
        advisory_xact_lock(cur, AdvisoryLock.PAYROLL_BANK_FILE, bank_file.pk)
    bank_file.refresh_from_db()
    if bank_file.status != BankFileStatus.ISSUED:
        raise ValidationError(
            {"file": [_("代发文件 %(number)s 已回盘，不能重复导入。") % {"number": bank_file.number}]}
        )
    check = return_file_check(bank_file, data)
    today = timezone.localdate()
    PayrollLine.objects.filter(pk__in=check.paid).update(status=LineStatus.PAID, paid_on=today)
    with connection.cursor() as cur:
        if check.failed:
            cur.execute(
                f"""UPDATE {PayrollLine._meta.db_table} l SET status = %s, failure_reason = f.reason
                    FROM unnest(%s::bigint[], %s::text[]) AS f(id, reason) WHERE l.id = f.id""",
                [LineStatus.FAILED, [i for i, _r in check.failed], [r for _i, r in check.failed]],
            )
    figures = PayrollLine.objects.filter(bank_file=bank_file).aggregate(
        paid_n=Count("pk", filter=Q(status=LineStatus.PAID)),
        paid=Sum("amount", filter=Q(status=LineStatus.PAID)),
        failed_n=Count("pk", filter=Q(status=LineStatus.FAILED)),
        failed=Sum("amount", filter=Q(status=LineStatus.FAILED)),
    )
    bank_file.status = BankFileStatus.RETURNED
    bank_file.paid_count = figures["paid_n"]
    bank_file.paid_amount = figures["paid"] or Decimal(0)
    bank_file.failed_count = figures["failed_n"]
    bank_file.failed_amount = figures["failed"] or Decimal(0)
    bank_file.returned_at = timezone.now()
    bank_file.returned_by = recorded_user(acting_user)
    bank_file.return_sha256 = hashlib.sha256(data).hexdigest()
    bank_file.save()
    _post_paid(bank_file, acting_user)
    return bank_file


@transaction.atomic
def payroll_reissue(*, run: PayrollRun, acting_user: Any) -> list[BankFile]:
    """Re-issue the run's failed lines whose person's account was corrected since, and its lines held for want
    of an account that now has one: a new file per bank (the next sequence)."""
    if not office_in_jurisdiction(acting_user, run.office):
        raise PayrollRun.DoesNotExist
    if run.status != RunStatus.DONE:
        raise ValidationError({"run": [_("批次尚未生成完成，不能重发。")]})
    candidates = PayrollLine.objects.filter(
        run=run, kind__in=[LineKind.REGULAR, LineKind.REISSUE], status__in=[LineStatus.FAILED, LineStatus.HELD]
    ).filter(
        Q(status=LineStatus.HELD)
        | ~Q(bank=F("person__payee_account__bank"))
        | ~Q(account_number=F("person__payee_account__account_number"))
    )
    candidates = candidates.filter(person__payee_account__isnull=False)
    if not candidates.exists():
        raise ValidationError({"run": [_("没有可重发的明细：发放失败或暂缓的人员须先更正或登记发放账户。")]})
    sequence = (BankFile.objects.filter(run=run).aggregate(m=Max("sequence"))["m"] or 1) + 1
    banks = set(candidates.values_list("person__payee_account__bank", flat=True))
    files = {
        bank: BankFile.objects.create(
            run=run, bank=bank, sequence=sequence, number=bank_file_number(run, bank, sequence)
        )
        for bank in banks
    }
    with connection.cursor() as cur:
        ids = list(candidates.values_list("pk", flat=True))
        cur.execute(
            f"""
            INSERT INTO {PayrollLine._meta.db_table} (run_id, award_id, person_id, office_id, insurance_type, period,
                kind, regular_amount, arrears_amount, amount, status, bank, account_number, account_holder,
                bank_file_id, reissue_of_id, failure_reason, paid_on)
            SELECT l.run_id, l.award_id, l.person_id, l.office_id, l.insurance_type, l.period, %s, l.regular_amount,
                   l.arrears_amount, l.amount, %s, pa.bank, pa.account_number, pa.holder_name, bf.id, l.id, '', NULL
            FROM {PayrollLine._meta.db_table} l
            JOIN {PayeeAccount._meta.db_table} pa ON pa.person_id = l.person_id
            JOIN unnest(%s::text[], %s::bigint[]) AS bf(bank, id) ON bf.bank = pa.bank
            WHERE l.id = ANY(%s)
            """,
            [LineKind.REISSUE, LineStatus.ISSUED, list(files), [f.pk for f in files.values()], ids],
        )
    PayrollLine.objects.filter(pk__in=ids).update(status=LineStatus.REISSUED)
    bank_files_total(run, sequence)
    return list(BankFile.objects.filter(run=run, sequence=sequence))


@transaction.atomic
def payee_account_save(
    *,
    person: Person,
    bank: str,
    account_number: str,
    acting_user: Any,
    holder_name: str = "",
    holder_id_number: str = "",
) -> PayeeAccount:
    """Register or correct the account a person's benefits are paid to. After his death (a death suspension) only an
    heir's account, with the heir's name and valid ID number (the months due up to the death are paid to the heir;
    社会保险法第十四条 and the estate's claim to benefits due before death); before it, only his own (no heir)."""
    if not office_in_jurisdiction(acting_user, person.residence_office):
        raise Person.DoesNotExist
    holder_name, holder_id_number = _heir_check(person, (holder_name or "").strip(), (holder_id_number or "").strip())
    account = PayeeAccount.objects.filter(person=person).first() or PayeeAccount(person=person)
    account.bank = bank
    account.account_number = (account_number or "").strip()
    account.holder_name, account.holder_id_number = holder_name, holder_id_number
    audited_save(account, acting_user=acting_user, reason=_("登记或更正待遇发放账户"))
    return account


def _heir_check(person: Person, name: str, id_number: str) -> tuple[str, str]:
    dead = Suspension.objects.filter(award__person=person, reason=SuspensionReason.DEATH).exists()
    if not dead:
        if name or id_number:
            raise ValidationError({"holder_name": [_("该人员未登记死亡，待遇发放到本人账户，不填写继承人。")]})
        return "", ""
    errors: dict[str, list[str]] = {}
    if not name:
        errors["holder_name"] = [_("该人员已死亡：死亡前应发的待遇发放给继承人，请填写继承人姓名（户名）。")]
    try:
        id_number = id_number_normalize(id_number)
    except ValidationError as exc:
        errors["holder_id_number"] = exc.messages
    else:
        if id_number == person.id_number:
            errors["holder_id_number"] = [_("继承人不能是死亡人员本人。")]
    if errors:
        raise ValidationError(errors)
    return name, id_number
