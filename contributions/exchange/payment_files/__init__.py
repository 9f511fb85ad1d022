"""到账文件: the collecting agency's payment file, imported set-based (layout: docs/exchange-files.md).

The package by step, in the order an import runs them (the SQL of every step is in ``statements``, read
in one sitting; ``sql`` fills in table names and the database's dialect):

1. ``upload``: the upload is checked as a whole (type, encoding, columns) and stored with its SHA-256; the
   same bytes are imported once (a second upload returns the first import and changes nothing). Small files
   are imported at once, larger ones by a Celery worker.
2. ``process``: the import, one transaction, the steps below in order.
3. ``staging``: the lines into a staging table (COPY on PostgreSQL, batched INSERT on SQLite).
4. ``line_checks``: every line checked in one ``INSERT … SELECT`` into ``PaymentFileLine``: formats,
   amounts, periods, dates, duplicate references within the file, references already recorded differently,
   unknown payers and payers outside the uploader's jurisdiction — each bad line gets a problem code, shown
   with its line number. **Strict** mode: any bad line rejects the file whole and nothing is written (the
   file record keeps the report). **Skip-bad** mode (an administrator's choice): the good lines are recorded
   and the bad lines are kept for correction.
5. ``allocation``: payments recorded exactly as ``payment_record`` records them — one per agency reference,
   a reference already recorded with the same payer and amount is not recorded again, allocated to the
   payer's open bill insurances oldest bill first and then in ``INSURANCE_ORDER``, the rest to credit — but
   for all payers at once: FIFO matching by interval overlap, in integer fen. A line whose reference the API
   recorded after the checks becomes a repeat (or a bad line of another payer) and the rest is recorded
   (``_payments_insert_or_recheck``: the payments under a savepoint).
6. ``reconciliation``: per payer and period (matched, unknown payer, billed but unpaid, amount mismatch),
   computed in SQL and stored, with a summary per office and category.
7. ``triggers``: the bulk writes without PostgreSQL's per-row foreign-key triggers where allowed, the rows
   they point at locked first.
8. ``corrections``: ``payment_file_line_correct`` records a kept bad line through ``payment_record``, the
   API's path.
"""

from contributions.exchange.payment_files.corrections import payment_file_line_correct
from contributions.exchange.payment_files.line_checks import LineCounts
from contributions.exchange.payment_files.process import payment_file_process
from contributions.exchange.payment_files.upload import payment_file_upload

__all__ = ["LineCounts", "payment_file_line_correct", "payment_file_process", "payment_file_upload"]
