"""What the parts of the apply share (services.apply, apply_persons, apply_history): the statement parameters
of a batch, and the rejected lines decided during the apply, with the line as delivered."""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.utils import timezone

from consolidation.sql import REJECTED_LINE_TABLE


def params(ctx: dict[str, Any], **extra: Any) -> dict[str, Any]:
    batch = ctx["batch"]
    return {
        "batch": batch.pk,
        "district": batch.district_id,
        "district_path": batch.district.path + "%",
        "city": ctx["city_id"],
        "now": ctx["now"],
        "today": timezone.localdate(),
        **extra,
    }


def rejected_from_raw(ctx: dict[str, Any], *, kind: str, staged_table: str, code: str, where: str) -> int:
    """RejectedLine rows for staged lines decided at the apply (``where`` on alias ``s``), with the line as
    delivered from the raw table."""
    batch_file = ctx["files"].get(kind)
    if batch_file is None:
        return 0
    width = len(batch_file.header)
    cells = ", ".join(f"r.c{i}" for i in range(1, width + 1))
    with connection.cursor() as cur:
        cur.execute(
            f"""
            INSERT INTO {REJECTED_LINE_TABLE} (batch_id, kind, line_no, code, detail, raw, amount)
            SELECT s.batch_id, %(kind)s, s.line_no, %(code)s, s.problem_detail, to_jsonb(ARRAY[{cells}]), NULL
            FROM {staged_table} s JOIN {batch_file.raw_table} r ON r.line_no = s.line_no - 1
            WHERE s.batch_id = %(batch)s AND {where}
            """,
            params(ctx, kind=kind, code=code),
        )
        return cur.rowcount
