"""Writes of contributions. Import from here: ``from contributions.services import bill_run_start``."""

from contributions.exchange.bill_exports import bill_export_execute, bill_export_start, bill_exports_nightly
from contributions.exchange.payment_files import payment_file_line_correct, payment_file_process, payment_file_upload
from contributions.services.adjustments import (
    AdjustmentLine,
    LateFee,
    bill_adjustment_create,
    declaration_correct_after_billing,
    late_fee,
)
from contributions.services.bill_run import (
    bill_due_date,
    bill_run_execute,
    bill_run_fail,
    bill_run_start,
    due_date_note,
)
from contributions.services.declarations import DeclarationInputLine, declaration_submit
from contributions.services.enforcement import (
    order_pay_by,
    order_unpaid,
    payment_orders_issue,
    penalty_decide,
    penalty_propose,
)
from contributions.services.flexible import flexible_base_choose, flexible_base_range
from contributions.services.history import (
    TransferredMonths,
    contribution_history_add,
    contribution_history_insert_select,
    contribution_history_transfer_in,
    contribution_history_withdraw,
)
from contributions.services.late_fees import (
    late_fee_bill_issue,
    late_fee_waiver_decide,
    late_fee_waiver_propose,
)
from contributions.services.payments import (
    allocation_reverse,
    late_fee_bills_sweep,
    open_items_for_payer,
    payer_credit,
    payer_credit_apply,
    payment_record,
)
from contributions.services.residents import (
    land_farmer_contribute,
    resident_medical_bill_run,
    resident_medical_contribute,
    resident_medical_run_execute,
    resident_medical_run_start,
    resident_pension_contribute,
)
from contributions.services.sweeper import jobs_stuck, jobs_sweep
from contributions.services.work_injury import work_injury_float_prepare, work_injury_float_set

__all__ = [
    "AdjustmentLine",
    "DeclarationInputLine",
    "LateFee",
    "TransferredMonths",
    "allocation_reverse",
    "bill_adjustment_create",
    "bill_due_date",
    "bill_export_execute",
    "bill_export_start",
    "bill_exports_nightly",
    "bill_run_execute",
    "bill_run_fail",
    "bill_run_start",
    "contribution_history_add",
    "contribution_history_insert_select",
    "contribution_history_transfer_in",
    "contribution_history_withdraw",
    "declaration_correct_after_billing",
    "declaration_submit",
    "due_date_note",
    "flexible_base_choose",
    "flexible_base_range",
    "jobs_stuck",
    "jobs_sweep",
    "land_farmer_contribute",
    "late_fee",
    "late_fee_bill_issue",
    "late_fee_bills_sweep",
    "late_fee_waiver_decide",
    "late_fee_waiver_propose",
    "open_items_for_payer",
    "order_pay_by",
    "order_unpaid",
    "payer_credit",
    "payer_credit_apply",
    "payment_file_line_correct",
    "payment_file_process",
    "payment_file_upload",
    "payment_orders_issue",
    "payment_record",
    "penalty_decide",
    "penalty_propose",
    "resident_medical_bill_run",
    "resident_medical_contribute",
    "resident_medical_run_execute",
    "resident_medical_run_start",
    "resident_pension_contribute",
    "work_injury_float_prepare",
    "work_injury_float_set",
]
