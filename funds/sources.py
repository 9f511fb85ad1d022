"""Where a ledger transaction came from, as a clerk reads it: the source record's Chinese name and a link to its
page (a payment's bill, a bill, a benefit payment's case, the reversed transaction, a remittance, an expenditure
import, a subsidy share). One query per kind of source for a whole page of transactions (no N+1). Records of apps
above funds (cases) are read through the app registry by label and linked by URL name, never imported."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _


@dataclass(frozen=True)
class Source:
    label: str
    url: str = ""


def _bill_source(bill: Any) -> Source:
    return Source(_("账单 %(period)s") % {"period": bill.period}, reverse("contributions_bill_detail", args=[bill.uid]))


def _allocations(ids):
    model = apps.get_model("contributions", "PaymentAllocation")
    rows = model.objects.filter(pk__in=ids).select_related("bill", "payment")
    return {
        a.pk: Source(
            _("到账 %(ref)s 分配至账单 %(period)s") % {"ref": a.payment.agency_reference, "period": a.bill.period},
            reverse("contributions_bill_detail", args=[a.bill.uid]),
        )
        for a in rows
    }


def _bills(ids):
    return {b.pk: _bill_source(b) for b in apps.get_model("contributions", "Bill").objects.filter(pk__in=ids)}


def _benefit_payments(ids):
    if not apps.is_installed("cases"):
        return {}
    rows = apps.get_model("cases", "BenefitPayment").objects.filter(pk__in=ids).select_related("award__case")
    return {
        p.pk: Source(
            _("待遇发放 %(period)s（办件 %(number)s）") % {"period": p.period, "number": p.award.case.number},
            reverse("cases_detail", args=[p.award.case.uid]),
        )
        for p in rows
    }


def _transactions(ids):
    rows = apps.get_model("funds", "LedgerTransaction").objects.filter(pk__in=ids)
    return {
        t.pk: Source(
            _("冲销原凭证 %(on)s %(amount)s 元") % {"on": t.booked_on, "amount": t.amount},
            reverse("funds_transaction_detail", args=[t.uid]),
        )
        for t in rows
    }


def _named(label: str, url_name: str):
    def make(ids):
        try:
            url = reverse(url_name)
        except NoReverseMatch:
            url = ""
        return {pk: Source(f"{_(label)} #{pk}", url) for pk in ids}

    return make


SOURCES = {
    "contributions.paymentallocation": _allocations,
    "contributions.bill": _bills,
    "cases.benefitpayment": _benefit_payments,
    "funds.ledgertransaction": _transactions,
    "funds.remittance": _named("上解下拨", "funds_remittance_list"),
    "funds.expenditureimportline": _named("支出导入", "funds_expenditure_import"),
    "funds.subsidyshare": _named("财政补助分担结算", ""),
}


def ledger_sources(transactions: list[Any]) -> dict[int, Source]:
    """The source of each transaction (by its pk); a transaction without a source record shows its document
    number, an unknown kind its type and id."""
    wanted: dict[str, list[int]] = defaultdict(list)
    for txn in transactions:
        if txn.source_id is not None:
            wanted[txn.source_type].append(txn.source_id)
    found: dict[tuple[str, int], Source] = {}
    for source_type, ids in wanted.items():
        maker = SOURCES.get(source_type)
        for pk, source in (maker(ids) if maker else {}).items():
            found[(source_type, pk)] = source
    out = {}
    for txn in transactions:
        if txn.source_id is None:
            out[txn.pk] = Source(txn.document_number or "—")
        else:
            out[txn.pk] = found.get((txn.source_type, txn.source_id), Source(f"{txn.source_type} #{txn.source_id}"))
    return out
