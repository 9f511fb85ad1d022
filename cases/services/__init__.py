"""Writes of cases. Import from here: ``from cases.services import case_intake``."""

from ..certificate_codes import certificate_code_normalize, certificate_signature
from .attachments import attachment_add, attachment_remove, file_check
from .benefits import benefit_assess, benefit_payment_record
from .counter_effects import COUNTER_HANDLERS  # registers the counter items' handlers
from .counter_items import ITEM_HANDLERS  # registers the transfer, benefit, card and resident-grade handlers
from .effects import FieldSpec, effect_fields
from .merge import case_person_repoint
from .notify import case_overdue_notify
from .ratings import case_rating_create
from .supervision import case_escalate
from .window import case_window_intake
from .workflow import (
    case_accept,
    case_claim,
    case_intake,
    case_pass,
    case_reject,
    case_request_correction,
    case_resume,
    case_self_service,
    case_submit,
    case_transition,
    case_withdraw,
    time_limit_for,
)

__all__ = [
    "COUNTER_HANDLERS",
    "ITEM_HANDLERS",
    "FieldSpec",
    "attachment_add",
    "attachment_remove",
    "benefit_assess",
    "benefit_payment_record",
    "case_accept",
    "case_claim",
    "case_escalate",
    "case_intake",
    "case_overdue_notify",
    "case_pass",
    "case_person_repoint",
    "case_rating_create",
    "case_reject",
    "case_request_correction",
    "case_resume",
    "case_self_service",
    "case_submit",
    "case_transition",
    "case_window_intake",
    "case_withdraw",
    "certificate_code_normalize",
    "certificate_signature",
    "effect_fields",
    "file_check",
    "time_limit_for",
]
