"""Writes of the evaluation app. Import from here: ``from evaluation.services import office_metrics_compute``."""

from .metrics import MetricsResult, office_metrics_compute, office_metrics_refresh
from .publishing import evaluation_correct, evaluation_publish
from .statistics import statistics_flows_compute, statistics_month_compute, statistics_refresh
from .supervision import DigestReport, supervision_digest_send

__all__ = [
    "DigestReport",
    "MetricsResult",
    "evaluation_correct",
    "evaluation_publish",
    "office_metrics_compute",
    "office_metrics_refresh",
    "statistics_flows_compute",
    "statistics_month_compute",
    "statistics_refresh",
    "supervision_digest_send",
]
