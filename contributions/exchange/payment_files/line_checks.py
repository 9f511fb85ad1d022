"""Line checks: the staged lines checked and written to ``PaymentFileLine`` in one ``INSERT … SELECT``.

Formats, amounts, periods, dates, duplicate references within the file, references already recorded
differently, unknown payers and payers outside the uploader's jurisdiction: each bad line gets a problem code
(``contributions.exchange.problems`` words it), the others are new, repeats of a recorded payment, or
duplicates of an earlier line of the file.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext as _

from contributions.exchange.layout import DeclaredTotals, declared_totals, payment_file_open
from contributions.exchange.payment_files import statements as q
from contributions.exchange.payment_files import triggers
from contributions.exchange.payment_files.sql import analyze_temp, dialect, drop_temp, render
from contributions.exchange.payment_files.staging import stage_create, stage_fill
from contributions.models import PaymentFile
from contributions.uploads import UploadError
from registry.jurisdiction import user_office, user_sees_everything

ANALYZE_MIN_LINES = 10_000  # a smaller file does not change the line table's statistics enough to matter

# The patterns the checks apply (parameters of LINES_CHECK_AND_INSERT).
USCC_RE = "^[0-9A-HJ-NPQRTUWXY]{18}$"
ID_RE = "^[0-9]{17}[0-9X]$"
AMOUNT_RE = r"^[0-9]{1,12}(\.[0-9]{0,2}0*)?$"  # a payable amount: at most 12 digits, at most 2 decimals
NUMBER_RE = r"^-?[0-9]+(\.[0-9]+)?$"
NOT_POSITIVE_RE = r"^(-|0+(\.0+)?$)"
DECIMALS_RE = r"^-?[0-9]+(\.[0-9]{0,2}0*)?$"
PERIOD_RE = r"^20[0-9]{2}(0[1-9]|1[0-2])$"


@dataclass(frozen=True)
class LineCounts:
    lines: int
    new: int
    repeat: int
    duplicate: int
    bad: int
    new_amount: Decimal
    bad_amount: Decimal


def scope_path(user: Any) -> str:
    """The office path under which the uploader's payers must be (LIKE prefix)."""
    if user_sees_everything(user):
        return "/"
    office = user_office(user)
    return office.path if office is not None else "\x00"  # matches nothing


class TotalsMismatch(Exception):
    """The file's totals lines do not describe its lines (a file cut short): the whole file is refused."""


def load_lines(payment_file: PaymentFile, data: bytes, *, triggers_off: bool = False) -> LineCounts:
    """Staging table, then every line checked and written to PaymentFileLine in one INSERT … SELECT; then the
    file's totals lines checked against what was written (``TotalsMismatch``)."""
    table = payment_file_open(payment_file.name, data)
    with connection.cursor() as cur:
        stage_create(cur)
        staged = stage_fill(cur, table.lines)
        if not staged:
            raise UploadError(_("文件只有列名，没有数据行。"))
        declared = declared_totals(table)  # read with the lines (a trailer comes last)
        analyze_temp(cur, "pf_stage")
        if triggers_off:
            triggers.row_triggers(cur, on=False)  # the lines' one key is the file, locked by this import
        cur.execute(_check_and_insert_sql(), _check_params(payment_file))
        if triggers_off:
            triggers.row_triggers(cur, on=True)
        drop_temp(cur, "pf_stage")
        if staged >= ANALYZE_MIN_LINES and connection.vendor == "postgresql":
            # The statistics otherwise still describe the table without this file's lines (autovacuum cannot
            # see them before COMMIT): the planner took a million lines for six and joined the wrong way round.
            cur.execute(q.ANALYZE_LINES)
        by_status, unreadable = _lines_by_status(cur, payment_file)
    _totals_check(declared, by_status, unreadable=unreadable)
    return _counts(by_status)


def line_counts(payment_file: PaymentFile) -> LineCounts:
    """The file's lines counted again by status (after ``lines_recorded_meanwhile`` changed some)."""
    with connection.cursor() as cur:
        return _counts(_lines_by_status(cur, payment_file)[0])


def lines_recorded_meanwhile(cur, payment_file: PaymentFile) -> tuple[int, int]:
    """The new lines whose reference has become a payment since the checks, made what the checks would have made
    of them: repeats (same payer and amount), else bad lines ``reference_conflict``. Returns (repeats, bad).

    For an import whose payments met the reference's unique index (``allocation.record_payments``): the API
    recorded the reference while the file was between its checks and its payer locks."""
    raw_json = dialect()["json"].format(args=q.RAW_STORED_LINE_ARGS)
    cur.execute(render(q.LINES_RECORDED_MEANWHILE, raw_json=raw_json), [payment_file.pk])
    statuses = [status for (status,) in cur.fetchall()]
    bad = statuses.count("bad")
    return len(statuses) - bad, bad


def _lines_by_status(cur, payment_file: PaymentFile) -> tuple[dict[str, tuple[int, Decimal]], int]:
    cur.execute(render(q.LINES_BY_STATUS), [payment_file.pk])
    rows = cur.fetchall()
    by_status = {status: (n, Decimal(str(total or 0)).quantize(Decimal("0.01"))) for status, n, total, _u in rows}
    return by_status, sum(u for *_counts, u in rows)


def _counts(by_status: dict[str, tuple[int, Decimal]]) -> LineCounts:
    zero = (0, Decimal("0.00"))
    return LineCounts(
        lines=sum(n for n, _total in by_status.values()),
        new=by_status.get("new", zero)[0],
        repeat=by_status.get("repeat", zero)[0],
        duplicate=by_status.get("duplicate", zero)[0],
        bad=by_status.get("bad", zero)[0],
        new_amount=by_status.get("new", zero)[1],
        bad_amount=by_status.get("bad", zero)[1],
    )


def _totals_check(declared: DeclaredTotals, by_status: dict[str, tuple[int, Decimal]], *, unreadable: int) -> None:
    """The declared count against the data lines, the declared amount against the sum of their amounts (when every
    amount could be read: an unreadable one is a bad line with its own message)."""
    lines = sum(n for n, _total in by_status.values())
    amount = sum((total for _n, total in by_status.values()), Decimal("0.00"))
    if declared.count != lines:
        raise TotalsMismatch(
            _("合计行与明细不符：#合计笔数为 %(declared)s，文件中有 %(lines)s 行明细。文件可能不完整，已整份拒收。")
            % {"declared": declared.count, "lines": lines}
        )
    if not unreadable and declared.amount != amount:
        raise TotalsMismatch(
            _(
                "合计行与明细不符：#合计金额为 %(declared)s，%(lines)s 行明细的金额合计为 %(amount)s。文件可能不完整，已整份拒收。"
            )
            % {"declared": f"{declared.amount:.2f}", "lines": lines, "amount": f"{amount:.2f}"}
        )


def _check_and_insert_sql() -> str:
    return render(
        q.LINES_CHECK_AND_INSERT,
        amount_fen=render(q.AMOUNT_FEN),
        raw_json=dialect()["json"].format(args=q.RAW_LINE_ARGS),
    )


def _check_params(payment_file: PaymentFile) -> list[Any]:
    return [
        payment_file.pk,
        NUMBER_RE,
        NOT_POSITIVE_RE,
        DECIMALS_RE,
        timezone.localdate(),
        scope_path(payment_file.uploaded_by) + "%",
        USCC_RE,
        ID_RE,
        AMOUNT_RE,
        PERIOD_RE,
        AMOUNT_RE,
    ]
