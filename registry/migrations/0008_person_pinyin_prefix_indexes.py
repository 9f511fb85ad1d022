"""Byte-ordered (pinyin, id) indexes for the person prefix search, replacing the two pattern_ops indexes.

See selectors._pinyin_prefix_search: each index yields its part of the matches already in (pinyin, id)
order, so the first page is read without sorting every match.
"""

from django.db import migrations, models
from django.db.models.functions import Left

from registry.db_functions import ByteOrder


class Migration(migrations.Migration):
    dependencies = [("registry", "0007_webhooks_beat_schedule")]

    operations = [
        migrations.RemoveIndex(model_name="person", name="person_pinyin_prefix"),
        migrations.RemoveIndex(model_name="person", name="person_initials_prefix"),
        migrations.AddIndex(
            model_name="person",
            index=models.Index(ByteOrder("name_pinyin"), models.F("id"), name="person_pinyin_key"),
        ),
        migrations.AddIndex(
            model_name="person",
            index=models.Index(
                Left("name_initials", 2), ByteOrder("name_pinyin"), models.F("id"), name="person_initials2_key"
            ),
        ),
        migrations.AddIndex(
            model_name="person",
            index=models.Index(
                ByteOrder("name_initials"), ByteOrder("name_pinyin"), models.F("id"), name="person_initials_key"
            ),
        ),
    ]
