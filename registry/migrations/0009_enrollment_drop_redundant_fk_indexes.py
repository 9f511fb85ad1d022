"""Drop the single-column indexes on enrollment.person_id and enrollment.employer_id.

The (person, insurance_type) and (employer, insurance_type) indexes lead with the same columns and serve
every lookup by them, including the foreign-key checks on delete; the two extra indexes only cost
millions of index inserts when enrollments are loaded.
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("registry", "0008_person_pinyin_prefix_indexes")]

    operations = [
        migrations.AlterField(
            model_name="enrollment",
            name="person",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="enrollments",
                to="registry.person",
                verbose_name="参保人员",
            ),
        ),
        migrations.AlterField(
            model_name="enrollment",
            name="employer",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="enrollments",
                to="registry.employer",
                verbose_name="参保单位",
            ),
        ),
    ]
