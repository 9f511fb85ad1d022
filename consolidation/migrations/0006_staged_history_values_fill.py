"""Data: each held history line (one insurance) gets its values and amount in the month form; back: the first
insurance of the values into the old columns."""

from decimal import Decimal

from django.db import migrations


def forward(apps, schema_editor):
    StagedHistory = apps.get_model("consolidation", "StagedHistory")
    for line in StagedHistory.objects.exclude(insurance_type="").iterator():
        i = line.insurance_type
        line.values = {f"{i}_base": str(line.base), f"{i}_employer": str(line.employer_amount),
                       f"{i}_individual": str(line.individual_amount)}  # fmt: skip
        line.amount = line.employer_amount + line.individual_amount
        line.save(update_fields=["values", "amount"])


def backward(apps, schema_editor):
    StagedHistory = apps.get_model("consolidation", "StagedHistory")
    for line in StagedHistory.objects.filter(insurance_type="").iterator():
        keys = sorted(k for k in line.values if k.endswith("_base"))
        if not keys:
            continue
        i = keys[0][: -len("_base")]
        line.insurance_type, line.base = i, Decimal(line.values[f"{i}_base"])
        line.employer_amount = Decimal(line.values.get(f"{i}_employer", "0"))
        line.individual_amount = Decimal(line.values.get(f"{i}_individual", "0"))
        line.save(update_fields=["insurance_type", "base", "employer_amount", "individual_amount"])


class Migration(migrations.Migration):
    dependencies = [("consolidation", "0005_staged_history_month_values")]

    operations = [migrations.RunPython(forward, backward)]
