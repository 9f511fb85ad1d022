"""Writes of funds. Import from here: ``from funds.services import contribution_income_post``."""

from .budget import budget_approve, budget_draft
from .closing import ShareLine, fund_year_close, sharing_split, subsidy_sharing_compute
from .ledger import (
    SIMPLE_ACCOUNTS,
    EntryInput,
    ExpenditureRow,
    benefit_expenditure_post,
    benefit_recovery_post,
    expenditure_import,
    ledger_simple_post,
    ledger_transaction_post,
    ledger_transaction_reverse,
    remittance_record,
    subsidy_share_settle,
)
from .posting import PostingResult, contribution_income_post
from .warnings import (
    IndicatorValue,
    WarningRunResult,
    fund_warning_run,
    is_new_or_escalated,
    months_covered_level,
    notice_mark_read,
    warning_acknowledge,
)

__all__ = [
    "SIMPLE_ACCOUNTS",
    "EntryInput",
    "ExpenditureRow",
    "IndicatorValue",
    "PostingResult",
    "ShareLine",
    "WarningRunResult",
    "benefit_expenditure_post",
    "benefit_recovery_post",
    "budget_approve",
    "budget_draft",
    "contribution_income_post",
    "expenditure_import",
    "fund_warning_run",
    "fund_year_close",
    "is_new_or_escalated",
    "ledger_simple_post",
    "ledger_transaction_post",
    "ledger_transaction_reverse",
    "months_covered_level",
    "notice_mark_read",
    "remittance_record",
    "sharing_split",
    "subsidy_share_settle",
    "subsidy_sharing_compute",
    "warning_acknowledge",
]
