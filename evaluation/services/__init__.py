"""Writes of the evaluation app. Import from here: ``from evaluation.services import office_metrics_compute``."""

from .metrics import MetricsResult, office_metrics_compute, office_metrics_refresh

__all__ = ["MetricsResult", "office_metrics_compute", "office_metrics_refresh"]
