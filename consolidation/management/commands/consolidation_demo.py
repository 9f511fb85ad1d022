"""Demo data of the data consolidation (a DEMO_DATA_HOOKS command of load_demo): four small messy batches of the
three districts — 椒江 UTF-8, 黄岩 GBK with 15-digit numbers, 路桥 with typing errors, and a second 黄岩 batch
repeating some of its own persons with typos — delivered through the import folder, loaded, checked and
applied, so that the batches, their reconciliation and a conflict queue (district and city level) are there to
look at. PostgreSQL only (the import needs it); does nothing when batches exist already."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import connection

from consolidation.generator import DistrictSpec, HumanFactory, Mess, district_folder
from consolidation.models import BatchStatus, ImportBatch
from consolidation.services.apply import batch_apply
from consolidation.services.batches import import_batch_apply_start, import_folder_scan
from consolidation.services.load import batch_load
from registry.models import User


class Command(BaseCommand):
    help = "Load demo batches of the data consolidation (PostgreSQL only; skipped when batches exist)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--persons", type=int, default=120, help="persons of each district's first batch")

    def handle(self, *args, persons: int, **options) -> None:
        if connection.vendor != "postgresql":
            self.stdout.write("consolidation_demo: the data consolidation needs PostgreSQL; no demo batches on SQLite.")
            return
        if ImportBatch.objects.exists():
            self.stdout.write("consolidation_demo: batches exist already; nothing done.")
            return
        admin = User.objects.filter(is_superuser=True).order_by("id").first()
        if admin is None:
            self.stdout.write("consolidation_demo: no administrator to confirm the imports (run load_demo).")
            return
        root = Path(settings.MEDIA_ROOT) / "consolidation-demo"
        factory = HumanFactory("consolidation-demo")
        jj = district_folder(root, DistrictSpec("331002", persons, 6), factory, label="1-jiaojiang")
        hy = district_folder(
            root,
            DistrictSpec("331003", persons, 6, encoding="gbk", shared=jj[:25], mess=Mess(id15=0.5, typo_id=0.3)),
            factory,
            label="2-huangyan",
        )
        district_folder(
            root,
            DistrictSpec("331004", persons, 5, shared=jj[25:35] + hy[:10], mess=Mess(typo_id=0.4, typo_name=0.2)),
            factory,
            label="3-luqiao",
        )
        district_folder(
            root,
            DistrictSpec(
                "331003",
                5,
                2,
                encoding="gbk",
                shared=hy[10:20],
                mess=Mess(typo_id=0.6, typo_name=0.3),
                first_period=202406,
            ),
            factory,
            label="4-huangyan-supplement",
        )
        for batch in sorted(import_folder_scan(root=str(root)), key=lambda b: b.folder):
            batch = batch_load(batch_id=batch.pk)
            if batch.status == BatchStatus.CHECKED:
                import_batch_apply_start(batch=batch, acting_user=admin)
                batch = batch_apply(batch_id=batch.pk)
            self.stdout.write(
                f"consolidation_demo: batch {batch.pk} {batch.district.name} {batch.get_status_display()}"
            )
