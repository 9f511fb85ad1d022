"""Compute the office metrics and the statistics of the last N months now (the nightly jobs do one or two months):
after loading demo data, after a restore, or to fill a new installation's history. Published months are skipped."""

from django.core.management import BaseCommand
from django.utils import timezone

from evaluation.models import EvaluationMonth
from evaluation.periods import add_months, month_start
from evaluation.services import office_metrics_compute, statistics_flows_compute, statistics_month_compute


class Command(BaseCommand):
    help = "计算最近 N 个月的经办机构指标和统计数据（已发布考核的月份不重算）。"

    def add_arguments(self, parser):
        parser.add_argument("--months", type=int, default=12, help="月数（含本月），默认 12")

    def handle(self, *args, months: int, **options):
        current = month_start(timezone.localdate())
        first = add_months(current, -(max(months, 1) - 1))
        published = set(EvaluationMonth.objects.filter(published_at__isnull=False).values_list("month", flat=True))
        for i in range(max(months, 1)):
            month = add_months(first, i)
            changed = 0 if month in published else office_metrics_compute(month=month).rows_changed
            cells = statistics_month_compute(month=month)
            self.stdout.write(f"{month:%Y-%m}: metrics rows changed {changed}, statistics rows {cells}")
        flows = statistics_flows_compute(first=first, last=current)
        self.stdout.write(f"flows {first:%Y-%m}..{current:%Y-%m}: statistics rows {flows}")
