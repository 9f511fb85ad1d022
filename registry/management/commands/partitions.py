"""Monthly partitions of the API call log, the change events and the bill lines (registry.partitions,
docs/scaling.md).

    manage.py partitions                          # list them with their row estimates
    manage.py partitions --ensure [--ahead 3]     # create this month and the months ahead (the beat job does nightly)
    manage.py partitions --detach-before 2024-01  # detach every month before January 2024 for archive

Runs as the owner role (manage.py switches to DATABASE_OWNER_URL for it). A detached month is an ordinary table
afterwards (``<table>_pYYYYMM``): dump it (``pg_dump -t``), check the dump, then drop it.
"""

from __future__ import annotations

import datetime

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

from registry.partitions import (
    MONTHS_AHEAD,
    partition_detach,
    partitioned_tables,
    partitions_ensure,
    partitions_list,
)


class Command(BaseCommand):
    help = "List, create ahead or detach (for archive) the monthly partitions of the tables that grow forever."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--ensure", action="store_true", help="create this month and the months ahead")
        parser.add_argument("--ahead", type=int, default=MONTHS_AHEAD, help="months ahead for --ensure")
        parser.add_argument("--detach-before", metavar="YYYY-MM", help="detach every month before this one")
        parser.add_argument("--table", choices=sorted(partitioned_tables()), help="only this table")

    def handle(self, *args, **opts) -> None:
        if connection.vendor != "postgresql":
            raise CommandError("Partitions exist on PostgreSQL only.")
        tables = [opts["table"]] if opts["table"] else sorted(partitioned_tables())
        if opts["ensure"]:
            for line in partitions_ensure(months_ahead=opts["ahead"]):
                self.stdout.write(line)
        if opts["detach_before"]:
            try:
                before = datetime.date.fromisoformat(opts["detach_before"] + "-01")
            except ValueError:
                raise CommandError("--detach-before takes a month as YYYY-MM.") from None
            with transaction.atomic(), connection.cursor() as cur:
                for table in tables:
                    for name in partitions_list(cur, table):
                        month = name.rsplit("_p", 1)[-1]
                        if name.endswith("_default") or not month.isdigit():
                            continue
                        if datetime.date(int(month[:4]), int(month[4:]), 1) < before:
                            self.stdout.write(
                                f"detached {partition_detach(cur, table=table, month=datetime.date(int(month[:4]), int(month[4:]), 1))}"
                            )
        with connection.cursor() as cur:
            for table in tables:
                for name in partitions_list(cur, table):
                    cur.execute("SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass(%s)", [name])
                    self.stdout.write(f"{table}\t{name}\t~{max(cur.fetchone()[0], 0)} rows")
