"""Writes of the payroll app (keyword-only ``<noun>_<verb>`` functions, one transaction each)."""

from .bank import bank_file_csv, bank_return_record, payee_account_save, payroll_reissue
from .certification import certification_record, certification_sweep
from .recoveries import recovery_repaid, recovery_repayment_record
from .returns import bank_return_process, bank_return_upload
from .run import payroll_run_execute, payroll_run_start
from .suspensions import person_death_record, suspension_record, suspension_resume
from .sweeper import payroll_runs_sweep

__all__ = [
    "bank_file_csv",
    "bank_return_process",
    "bank_return_record",
    "bank_return_upload",
    "certification_record",
    "certification_sweep",
    "payee_account_save",
    "payroll_reissue",
    "payroll_run_execute",
    "payroll_run_start",
    "payroll_runs_sweep",
    "person_death_record",
    "recovery_repaid",
    "recovery_repayment_record",
    "suspension_record",
    "suspension_resume",
]
