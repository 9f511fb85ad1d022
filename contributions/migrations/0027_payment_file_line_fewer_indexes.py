"""Two indexes fewer on the payment-file lines (issue 22, "the payment file faster"): a million-line file wrote a
million entries into each.

- ``payment_file_line_status`` (file, status, line number): the lines are read by status only for the few a
  clerk corrects (bad and corrected lines, in line order: the file's page, the rejection report). It is replaced
  by ``payment_file_line_to_correct``, (file, line number) of those lines only. The import's other reads by
  status (the new lines in line order, the payers of the new lines) read most of the file and go through
  ``payment_file_line_once`` (file, line number).
- ``payment_file_line_reference`` (file, reference): read only by the reconciliation's "not a payment of this
  file" test, which at any size hashes the file's lines instead (the file's lines through
  ``payment_file_line_once``).

Reversible: going back re-creates both indexes and drops the partial one."""

from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("contributions", "0026_bill_settlement_allocate_update"),
        ("registry", "0020_partitions_ensure_schedule"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="paymentfileline",
            name="payment_file_line_status",
        ),
        migrations.RemoveIndex(
            model_name="paymentfileline",
            name="payment_file_line_reference",
        ),
        migrations.AddIndex(
            model_name="paymentfileline",
            index=models.Index(
                condition=models.Q(("status__in", ["bad", "corrected"])),
                fields=["payment_file", "line_no"],
                name="payment_file_line_to_correct",
            ),
        ),
    ]
