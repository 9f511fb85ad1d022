"""The ledger: balanced, append-only transactions; reversal; benefit expenditure; simple postings;
remittances to/from the national pool; imported monthly expenditure totals.

Every posting goes through ``ledger_transaction_post``: it checks the fund, the office (a district or the
city office), the date (not in a closed year), each entry (a known account, a non-zero amount to the money
unit) and the balance (entries sum to zero), then writes the transaction and its entries in one statement
(on PostgreSQL a statement trigger checks the balance and the year once more).
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from registry.audit import audited_save, recorded_user
from registry.jurisdiction import office_in_jurisdiction
from registry.models import InsuranceType, Office, OfficeLevel

from ..models import (
    EXPENDITURE_ACCOUNTS,
    INCOME_ACCOUNTS,
    Account,
    ExpenditureImport,
    ExpenditureImportLine,
    Fund,
    LedgerEntry,
    LedgerTransaction,
    Remittance,
    RemittanceDirection,
    SubsidyShare,
    TransactionKind,
)
from .common import (
    check_date,
    check_fund,
    check_ledger_office,
    check_open_year,
    city_office,
    parse_money,
    require_perm,
    today,
)

SOURCE_TRANSACTION = "funds.ledgertransaction"
SOURCE_REMITTANCE = "funds.remittance"
SOURCE_EXPENDITURE_LINE = "funds.expenditureimportline"
SOURCE_SUBSIDY_SHARE = "funds.subsidyshare"
_ACCOUNT_LABELS = dict(Account.choices)


@dataclass(frozen=True)
class EntryInput:
    """One line of a transaction to post: debit positive, credit negative."""

    account: str
    amount: Any


def _entries(entries: Iterable[EntryInput | tuple[str, Any]], *, on: datetime.date) -> list[tuple[str, Decimal]]:
    rows = [e if isinstance(e, EntryInput) else EntryInput(*e) for e in entries]
    if len(rows) < 2:
        raise ValidationError({"entries": _("一笔凭证至少要有两条分录（借方和贷方）。")})
    out: list[tuple[str, Decimal]] = []
    errors: list[str] = []
    for index, row in enumerate(rows, start=1):
        if row.account not in _ACCOUNT_LABELS:
            errors.append(_("第 %(n)s 条分录：未知科目“%(account)s”。") % {"n": index, "account": row.account})
            continue
        try:
            amount = parse_money(row.amount, field="entries", on=on, label=_("第 %s 条分录的金额") % index)
        except ValidationError as exc:
            errors.extend(exc.messages)
            continue
        if amount == 0:
            errors.append(
                _("第 %(n)s 条分录（%(account)s）金额为 0。") % {"n": index, "account": _ACCOUNT_LABELS[row.account]}
            )
            continue
        out.append((row.account, amount))
    if errors:
        raise ValidationError({"entries": errors})
    total = sum((a for _acc, a in out), Decimal(0))
    if total != 0:
        raise ValidationError(
            {
                "entries": _("借贷不平衡：各分录合计为 %(total)s，应为 0（借方 %(debit)s，贷方 %(credit)s）。")
                % {
                    "total": total,
                    "debit": sum((a for _acc, a in out if a > 0), Decimal(0)),
                    "credit": -sum((a for _acc, a in out if a < 0), Decimal(0)),
                }
            }
        )
    return out


def _check_office_jurisdiction(acting_user: Any, office: Office) -> None:
    if recorded_user(acting_user) is not None and not office_in_jurisdiction(acting_user, office):
        raise ValidationError({"office": _("“%(office)s”不在您的辖区内。") % {"office": office.name}})


def ledger_office_for(office: Office) -> Office:
    """The office a ledger entry is kept under: a district (an office under it resolves to it) or the city."""
    if isinstance(office, Office) and office.level > OfficeLevel.DISTRICT and office.district_code:
        return Office.objects.get(code=office.district_code, level=OfficeLevel.DISTRICT)
    return office


@transaction.atomic
def ledger_transaction_post(
    *,
    fund: Fund,
    office: Office,
    kind: str,
    booked_on: datetime.date,
    entries: Sequence[EntryInput | tuple[str, Any]],
    acting_user: Any,
    description: str = "",
    document_number: str = "",
    source_type: str = "",
    source_id: int | None = None,
    reverses: LedgerTransaction | None = None,
) -> LedgerTransaction:
    """Post one balanced transaction. Nothing is written when anything is wrong."""
    if isinstance(office, Office):
        _check_office_jurisdiction(acting_user, office)
    return _post(
        fund=fund,
        office=office,
        kind=kind,
        booked_on=booked_on,
        entries=entries,
        acting_user=acting_user,
        description=description,
        document_number=document_number,
        source_type=source_type,
        source_id=source_id,
        reverses=reverses,
    )


def _post(
    *,
    fund: Fund,
    office: Office,
    kind: str,
    booked_on: datetime.date,
    entries: Sequence[EntryInput | tuple[str, Any]],
    acting_user: Any,
    description: str = "",
    document_number: str = "",
    source_type: str = "",
    source_id: int | None = None,
    reverses: LedgerTransaction | None = None,
) -> LedgerTransaction:
    check_fund(fund)
    check_ledger_office(office)
    booked_on = check_date(booked_on, "booked_on")
    if kind not in TransactionKind.values:
        raise ValidationError({"kind": _("未知的凭证类型“%(kind)s”。") % {"kind": kind}})
    if (source_id is None) != (not source_type):
        raise ValidationError({"source_type": _("来源类型和来源记录须同时填写。")})
    rows = _entries(entries, on=booked_on)
    check_open_year(fund, booked_on)
    _check_source_not_posted(source_type, source_id)
    txn = LedgerTransaction(
        fund=fund,
        office=office,
        kind=kind,
        booked_on=booked_on,
        amount=sum((a for _acc, a in rows if a > 0), Decimal(0)),
        description=(description or "").strip()[:200],
        document_number=(document_number or "").strip()[:80],
        source_type=source_type or "",
        source_id=source_id,
        reverses=reverses,
        created_by=recorded_user(acting_user),
        created_at=timezone.now(),
    )
    txn.full_clean(validate_unique=False)
    try:
        with transaction.atomic():
            txn.save()
    except IntegrityError:
        raise ValidationError(
            {"source_id": _("来源记录 %(src)s 已记账，不能重复记账。") % {"src": f"{source_type}#{source_id}"}}
        ) from None
    # One statement: on PostgreSQL the balance trigger sees the whole transaction at once.
    LedgerEntry.objects.bulk_create(
        [
            LedgerEntry(transaction=txn, fund=fund, office=office, account=account, amount=amount, booked_on=booked_on)
            for account, amount in rows
        ],
        batch_size=len(rows),
    )
    return txn


def _check_source_not_posted(source_type: str, source_id: int | None) -> None:
    """A source record is posted once (the unique constraint says it again, less readably, at save)."""
    if source_id is None:
        return
    existing = LedgerTransaction.objects.filter(source_type=source_type, source_id=source_id).first()
    if existing is not None:
        raise ValidationError(
            {
                "source_id": _("来源记录 %(src)s 已于 %(day)s 记账（凭证 %(uid)s），不能重复记账。")
                % {"src": f"{source_type}#{source_id}", "day": existing.booked_on, "uid": existing.uid}
            }
        )


@transaction.atomic
def ledger_transaction_reverse(
    *,
    ledger_transaction: LedgerTransaction,
    reason: str,
    acting_user: Any,
    booked_on: datetime.date | None = None,
) -> LedgerTransaction:
    """Undo a transaction by a new one with every entry negated (the original stays as it was)."""
    require_perm(acting_user, "funds.add_ledgertransaction", _("您的角色无权冲销记账凭证。"))
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("冲销必须填写原因。")})
    original = (
        LedgerTransaction.objects.select_for_update().select_related("fund", "office").get(pk=ledger_transaction.pk)
    )
    if original.reverses_id is not None:
        raise ValidationError({"transaction": _("冲销凭证不能再冲销；如需更正请重新记账。")})
    if LedgerTransaction.objects.filter(reverses=original).exists():
        raise ValidationError({"transaction": _("该凭证已被冲销。")})
    day = booked_on or today()
    return ledger_transaction_post(
        fund=original.fund,
        office=original.office,
        kind=TransactionKind.REVERSAL,
        booked_on=day,
        entries=[(e.account, -e.amount) for e in original.entries.order_by("id")],
        acting_user=acting_user,
        description=_("冲销 %(day)s %(kind)s：%(reason)s")
        % {"day": original.booked_on, "kind": original.get_kind_display(), "reason": reason},
        document_number=original.document_number,
        source_type=SOURCE_TRANSACTION,
        source_id=original.pk,
        reverses=original,
    )


def _positive(amount: Any, *, field: str, on: datetime.date, label: str, hint: str = "") -> Decimal:
    value = parse_money(amount, field=field, on=on, label=label)
    if value <= 0:
        raise ValidationError({field: _("%(label)s必须大于 0。") % {"label": label} + hint})
    return value


@transaction.atomic
def benefit_expenditure_post(
    *,
    fund: Fund,
    district: Office,
    amount: Any,
    source_type: str,
    source_id: int,
    paid_on: datetime.date,
    acting_user: Any,
    description: str = "",
) -> LedgerTransaction:
    """A benefit payment (cases call this): debit benefit expenditure, credit the fund's bank balance.

    ``district`` may be any office: an office under a district is kept under that district.

    Posting the same source again with the same fund, district and amount returns the first transaction;
    with different figures it is refused.
    """
    return _benefit_post(
        fund=fund,
        district=district,
        amount=amount,
        source=(source_type, source_id),
        on=paid_on,
        acting_user=acting_user,
        description=description or _("待遇支出"),
        recovered=False,
    )


@transaction.atomic
def benefit_recovery_post(
    *,
    fund: Fund,
    district: Office,
    amount: Any,
    source_type: str,
    source_id: int,
    received_on: datetime.date,
    acting_user: Any,
    description: str = "",
) -> LedgerTransaction:
    """Overpaid benefits received back (社会保险法第八十八条: 多发的待遇应当退回; e.g. a pension paid for months after a
    late-reported death): debit the fund's bank balance, credit benefit expenditure — the expenditure is reduced by
    what was actually received, on the day it was received, as the ledger treats every recovery of a benefit
    (a benefit expenditure is never posted negative: "追回多发的待遇请冲销原凭证"). Whether an earlier year's
    overpayment belongs instead to other income is the fund accountant's rule under the 社会保险基金会计制度 and is
    not checked here (demo rule). Idempotent per source like ``benefit_expenditure_post``."""
    return _benefit_post(
        fund=fund,
        district=district,
        amount=amount,
        source=(source_type, source_id),
        on=received_on,
        acting_user=acting_user,
        description=description or _("追回多发待遇"),
        recovered=True,
    )


def _benefit_post(
    *,
    fund: Fund,
    district: Office,
    amount: Any,
    source: tuple[str, int | None],
    on: datetime.date,
    acting_user: Any,
    description: str,
    recovered: bool,
) -> LedgerTransaction:
    check_fund(fund)
    if not isinstance(district, Office):
        raise ValidationError({"district": _("请填写待遇支出所属的区。")})
    _check_office_jurisdiction(acting_user, district)
    district = ledger_office_for(district)
    check_ledger_office(district, "district")
    on = check_date(on, "paid_on")
    source_type, source_id = (source[0] or "").strip(), source[1]
    if not source_type or source_id is None:
        raise ValidationError({"source_id": _("待遇支出必须注明来源记录（来源类型和编号）。")})
    label = _("追回金额") if recovered else _("待遇支出金额")
    value = _positive(amount, field="amount", on=on, label=label, hint=_("追回多发的待遇请冲销原凭证。"))
    existing = LedgerTransaction.objects.filter(source_type=source_type, source_id=source_id).first()
    if existing is not None:
        if existing.fund_id == fund.pk and existing.office_id == district.pk and existing.amount == value:
            return existing
        raise ValidationError(
            {
                "source_id": _("来源记录 %(src)s 已按 %(amount)s 元记账，与本次（%(new)s 元）不一致，请先冲销原凭证。")
                % {"src": f"{source_type}#{source_id}", "amount": existing.amount, "new": value}
            }
        )
    entries = [(Account.BENEFIT_EXPENDITURE, value), (Account.BANK, -value)]
    return _post(
        fund=fund,
        office=district,
        kind=TransactionKind.BENEFIT,
        booked_on=on,
        entries=[(account, -amount) for account, amount in entries] if recovered else entries,
        acting_user=acting_user,
        description=description,
        source_type=source_type,
        source_id=source_id,
    )


_SIMPLE_KINDS = {
    Account.SUBSIDY_CITY: TransactionKind.SUBSIDY,
    Account.SUBSIDY_DISTRICT: TransactionKind.SUBSIDY,
    Account.COLLECTIVE_INCOME: TransactionKind.SUBSIDY,
    Account.INTEREST_INCOME: TransactionKind.INTEREST,
    Account.TRANSFER_IN: TransactionKind.TRANSFER,
    Account.TRANSFER_OUT: TransactionKind.TRANSFER,
    Account.OTHER_INCOME: TransactionKind.OTHER,
    Account.OTHER_EXPENDITURE: TransactionKind.OTHER,
    Account.BENEFIT_EXPENDITURE: TransactionKind.BENEFIT,
}
SIMPLE_ACCOUNTS = tuple(_SIMPLE_KINDS)


@transaction.atomic
def ledger_simple_post(
    *,
    fund: Fund,
    office: Office,
    account: str,
    amount: Any,
    booked_on: datetime.date,
    document_number: str,
    acting_user: Any,
    description: str = "",
    source_type: str = "",
    source_id: int | None = None,
) -> LedgerTransaction:
    """An income or expenditure against the fund's bank balance (interest, fiscal subsidy, transfer, other)."""
    require_perm(acting_user, "funds.add_ledgertransaction", _("您的角色无权记账。"))
    if account not in _SIMPLE_KINDS:
        raise ValidationError(
            {
                "account": _("科目“%(account)s”不能手工记账（缴费收入由到账分配自动入账，上解下拨请用全国统筹页面）。")
                % {"account": account}
            }
        )
    booked_on = check_date(booked_on, "booked_on")
    document_number = (document_number or "").strip()
    if not document_number:
        raise ValidationError({"document_number": _("请填写凭证号或依据文件号。")})
    value = _positive(amount, field="amount", on=booked_on, label=_("金额"), hint=_("更正请冲销原凭证。"))
    if account in INCOME_ACCOUNTS:
        entries = [(Account.BANK, value), (account, -value)]
    else:
        entries = [(account, value), (Account.BANK, -value)]
    return ledger_transaction_post(
        fund=fund,
        office=office,
        kind=_SIMPLE_KINDS[account],
        booked_on=booked_on,
        entries=entries,
        acting_user=acting_user,
        description=description or _ACCOUNT_LABELS[account],
        document_number=document_number,
        source_type=source_type,
        source_id=source_id,
    )


@transaction.atomic
def subsidy_share_settle(
    *, share: SubsidyShare, booked_on: datetime.date, document_number: str, acting_user: Any
) -> LedgerTransaction:
    """The city's or a district's share of a year's gap arrives: fiscal subsidy income, once per share."""
    share = SubsidyShare.objects.select_related("sharing__fund", "office").get(pk=share.pk)
    account = Account.SUBSIDY_CITY if share.party == "city" else Account.SUBSIDY_DISTRICT
    if LedgerTransaction.objects.filter(source_type=SOURCE_SUBSIDY_SHARE, source_id=share.pk).exists():
        raise ValidationError({"share": _("%(office)s 承担的该笔分担资金已经入账。") % {"office": share.office.name}})
    return ledger_simple_post(
        fund=share.sharing.fund,
        office=share.office,
        account=account,
        amount=share.amount,
        booked_on=booked_on,
        document_number=document_number,
        acting_user=acting_user,
        description=_("%(year)s 年度基金缺口分担资金（%(office)s）")
        % {"year": share.sharing.year, "office": share.office.name},
        source_type=SOURCE_SUBSIDY_SHARE,
        source_id=share.pk,
    )


# ---------------------------------------------------------------------------------------------
# National pooling of the basic pension (全国统筹调剂, 二(二)5).

NATIONAL_POOL_INSURANCES = (InsuranceType.EMPLOYEE_PENSION,)


@transaction.atomic
def remittance_record(
    *,
    fund: Fund,
    direction: str,
    amount: Any,
    booked_on: datetime.date,
    document_number: str,
    acting_user: Any,
    document_title: str = "",
    attachment: Any = None,
    note: str = "",
) -> Remittance:
    """上解 (remittance up to the pool: expenditure) or 下拨 (allocation down from it: income), with its document."""
    require_perm(acting_user, "funds.add_remittance", _("您的角色无权登记全国统筹上解下拨。"))
    booked_on, document_number, value = _remittance_check(fund, direction, amount, booked_on, document_number)
    office = city_office()
    remittance = Remittance(
        fund=fund,
        office=office,
        direction=direction,
        amount=value,
        booked_on=booked_on,
        document_number=document_number,
        document_title=(document_title or "").strip()[:200],
        note=(note or "").strip()[:200],
        created_by=recorded_user(acting_user),
    )
    if attachment:
        remittance.attachment = attachment
    audited_save(remittance, acting_user=acting_user)
    if direction == RemittanceDirection.UP:
        kind, entries = TransactionKind.REMITTANCE_UP, [(Account.REMITTANCE_TO_HIGHER, value), (Account.BANK, -value)]
    else:
        kind, entries = (
            TransactionKind.REMITTANCE_DOWN,
            [(Account.BANK, value), (Account.REMITTANCE_FROM_HIGHER, -value)],
        )
    remittance.transaction = ledger_transaction_post(
        fund=fund,
        office=office,
        kind=kind,
        booked_on=booked_on,
        entries=entries,
        acting_user=acting_user,
        description=_("全国统筹调剂%(dir)s：%(title)s")
        % {"dir": remittance.get_direction_display(), "title": remittance.document_title or document_number},
        document_number=document_number,
        source_type=SOURCE_REMITTANCE,
        source_id=remittance.pk,
    )
    remittance.save(update_fields=["transaction"])
    return remittance


def _remittance_check(
    fund: Fund, direction: str, amount: Any, booked_on: datetime.date, document_number: str
) -> tuple[datetime.date, str, Decimal]:
    """(date, document number, amount) of a remittance the pool takes: pension funds only, one per document."""
    check_fund(fund)
    if fund.insurance_type not in NATIONAL_POOL_INSURANCES:
        raise ValidationError(
            {"fund": _("全国统筹调剂只适用于职工基本养老保险基金，“%(fund)s”不参加。") % {"fund": fund.name}}
        )
    if direction not in RemittanceDirection.values:
        raise ValidationError({"direction": _("方向须为上解或下拨。")})
    booked_on = check_date(booked_on, "booked_on")
    document_number = (document_number or "").strip()
    if not document_number:
        raise ValidationError({"document_number": _("请填写上解或下拨依据的文件号。")})
    value = _positive(amount, field="amount", on=booked_on, label=_("金额"))
    check_open_year(fund, booked_on)
    if Remittance.objects.filter(fund=fund, direction=direction, document_number=document_number).exists():
        raise ValidationError(
            {
                "document_number": _("文件 %(doc)s 的%(dir)s已经登记。")
                % {"doc": document_number, "dir": RemittanceDirection(direction).label}
            }
        )
    return booked_on, document_number, value


# ---------------------------------------------------------------------------------------------
# Imported monthly expenditure totals.


@dataclass(frozen=True)
class ExpenditureRow:
    """One row of an expenditure file, as read (validated by ``expenditure_import``)."""

    row: int
    fund: str
    district: str
    period: str
    amount: Any
    account: str = ""


def _fund_lookup() -> dict[str, Fund]:
    out: dict[str, Fund] = {}
    labels = dict(InsuranceType.choices)
    for fund in Fund.objects.filter(is_active=True):
        out[fund.insurance_type] = fund
        out[fund.name] = fund
        out[str(labels.get(fund.insurance_type, ""))] = fund
    return out


def _account_lookup() -> dict[str, str]:
    out = {}
    for value, label in Account.choices:
        if value in EXPENDITURE_ACCOUNTS and value != Account.REMITTANCE_TO_HIGHER:
            out[value] = value
            out[str(label)] = value
    return out


def _period(raw: Any) -> tuple[int, datetime.date] | None:
    text = str(raw or "").strip().replace("-", "").replace("/", "")
    if len(text) != 6 or not text.isdigit():
        return None
    year, month = int(text[:4]), int(text[4:])
    if not (2000 <= year <= 2099 and 1 <= month <= 12):
        return None
    nxt = datetime.date(year + month // 12, month % 12 + 1, 1)
    return year * 100 + month, nxt - datetime.timedelta(days=1)


@transaction.atomic
def expenditure_import(*, rows: Sequence[ExpenditureRow], file_name: str, acting_user: Any) -> ExpenditureImport:
    """Monthly expenditure totals per fund × district × month: every row checked, any error writes nothing.

    Each row becomes one transaction dated the last day of its month. A month already imported for the same
    fund, district and account (and not reversed) is refused: reverse it first.
    """
    require_perm(acting_user, "funds.add_expenditureimport", _("您的角色无权导入支出数据。"))
    if not rows:
        raise ValidationError({"file": _("文件中没有数据行。")})
    parsed = _expenditure_rows_parse(rows)
    for parsed_row in parsed:
        _check_office_jurisdiction(acting_user, parsed_row[2])
    user = recorded_user(acting_user)
    batch = ExpenditureImport(
        file_name=(file_name or "")[:200] or "upload",
        office=getattr(user, "office", None) or city_office(),
        rows=len(parsed),
        total=sum((p[5] for p in parsed), Decimal(0)),
        uploaded_by=user,
    )
    audited_save(batch, acting_user=acting_user)
    for row, fund, office, (period, last_day), account, amount in parsed:
        line = ExpenditureImportLine(
            batch=batch, row=row, fund=fund, office=office, period=period, account=account, amount=amount
        )
        audited_save(line, acting_user=acting_user)
        ledger_transaction_post(
            fund=fund,
            office=office,
            kind=TransactionKind.EXPENDITURE_IMPORT,
            booked_on=last_day,
            entries=[(account, amount), (Account.BANK, -amount)],
            acting_user=acting_user,
            description=_("%(period)s 月度%(account)s（导入：%(file)s 第 %(row)s 行）")
            % {"period": period, "account": _ACCOUNT_LABELS[account], "file": batch.file_name, "row": row},
            source_type=SOURCE_EXPENDITURE_LINE,
            source_id=line.pk,
        )
    return batch


def _expenditure_rows_parse(rows: Sequence[ExpenditureRow]) -> list[tuple]:
    """Every row checked: (row, fund, office, (period, last day), account, amount) each, or ValidationError
    listing every bad row (a repeat within the file, a month already imported and not reversed)."""
    lookups = (
        _fund_lookup(),
        _account_lookup(),
        {o.code: o for o in Office.objects.filter(level__in=[OfficeLevel.CITY, OfficeLevel.DISTRICT])},
        today().replace(day=1),
    )
    errors: list[str] = []
    parsed = []
    seen: dict[tuple, int] = {}
    for r in rows:
        where = _("第 %s 行：") % r.row
        fund, office, period, account, amount, problems = _expenditure_row_check(r, *lookups)
        if problems:
            errors.append(where + "；".join(str(p) for p in problems) + "。")
            continue
        key = (fund.pk, office.pk, period[0], account)
        if key in seen:
            errors.append(where + _("与第 %(n)s 行重复（同一基金、区、月份和科目）。") % {"n": seen[key]})
            continue
        seen[key] = r.row
        if _expenditure_already_imported(fund, office, period[0], account):
            errors.append(
                where
                + _("%(fund)s %(office)s %(period)s 的%(account)s已导入；如需更正请先冲销原凭证。")
                % {"fund": fund.name, "office": office.name, "period": period[0], "account": _ACCOUNT_LABELS[account]}
            )
            continue
        parsed.append((r.row, fund, office, period, account, amount))
    if errors:
        raise ValidationError({"rows": errors})
    return parsed


def _expenditure_row_check(r: ExpenditureRow, funds: dict, accounts: dict, districts: dict, now_month) -> tuple:
    """(fund, office, period, account, amount, problems) of one row; the problems are worded for the clerk."""
    fund = funds.get(str(r.fund or "").strip())
    office = districts.get(str(r.district or "").strip())
    period = _period(r.period)
    account = accounts.get(str(r.account or "").strip() or Account.BENEFIT_EXPENDITURE)
    problems = []
    if fund is None:
        problems.append(_("基金“%(v)s”不存在（填写险种代码或基金名称）") % {"v": r.fund})
    if office is None:
        problems.append(_("区划代码“%(v)s”不是市本级或区") % {"v": r.district})
    if period is None:
        problems.append(_("月份“%(v)s”应为 YYYYMM") % {"v": r.period})
    elif period[1] >= now_month:
        problems.append(_("月份 %(v)s 尚未结束，只能导入已结束月份的支出") % {"v": period[0]})
    if account is None:
        problems.append(_("科目“%(v)s”不是可导入的支出科目") % {"v": r.account})
    amount = None
    if period is not None:
        try:
            amount = parse_money(r.amount, field="amount", on=period[1], label=_("金额"))
            if amount <= 0:
                problems.append(_("金额必须大于 0（更正请冲销原凭证后重新导入）"))
        except ValidationError as exc:
            problems.extend(exc.messages)
    if fund is not None and period is not None and not problems:
        try:
            check_open_year(fund, period[1], field="period")
        except ValidationError as exc:
            problems.extend(exc.messages)
    return fund, office, period, account, amount, problems


def _expenditure_already_imported(fund, office, period: int, account: str) -> bool:
    """A line of an earlier import for the same fund, district, month and account whose posting stands."""
    already = ExpenditureImportLine.objects.filter(
        fund=fund, office=office, period=period, account=account
    ).values_list("pk", flat=True)
    return LedgerTransaction.objects.filter(
        source_type=SOURCE_EXPENDITURE_LINE, source_id__in=list(already), reversed_by__isnull=True
    ).exists()
