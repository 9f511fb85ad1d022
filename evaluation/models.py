"""Office evaluation (评价考核) and statistics (统计分析) — reform plan 二(六)2, 二(四)3, 一(四)/二(五)1.

* ``EvaluationMonth`` — one row per month: when its metrics were computed, and whether its evaluation is
  published (then the metrics are frozen). Its row lock serialises the metrics job and publishing.
* ``OfficeMonthMetric`` / ``OfficeMonthItemMetric`` — the nightly figures per office and month, for the office's own
  work (``rollup`` false) and for its whole subtree (``rollup`` true). Definitions: docs/evaluation.md.
* ``EvaluationReport`` / ``EvaluationLine`` — a published evaluation: the scheme used, each office's score, rank
  and share of the funding pool. Corrections are a new version with a reason; versions are never changed.
* ``SupervisionDigest`` — the daily list of due-soon and overdue cases sent to an office's heads.
* ``Stat*`` — pre-aggregated statistics (nightly) behind the statistics pages and the provincial API.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from registry.jurisdiction import JurisdictionQuerySet
from registry.models import InsuranceType

MONEY = {"max_digits": 16, "decimal_places": 2}
RATE = {"max_digits": 7, "decimal_places": 4, "null": True, "blank": True}
DAYS = {"max_digits": 8, "decimal_places": 2, "null": True, "blank": True}


class EvaluationMonth(models.Model):
    month = models.DateField(_("月份"), unique=True, help_text=_("当月第一天"))
    computed_at = models.DateTimeField(_("指标计算时间"), null=True, blank=True)
    published_at = models.DateTimeField(_("发布时间"), null=True, blank=True)

    jurisdiction_public = True

    class Meta:
        verbose_name = _("考核月份")
        verbose_name_plural = _("考核月份")
        ordering = ["-month"]
        permissions = [("view_statistics", _("查看统计分析（本辖区）"))]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m}"

    @property
    def is_published(self) -> bool:
        return self.published_at is not None


class OfficeMonthMetric(models.Model):
    """The figures of one office and month (formulas: docs/evaluation.md). Written only by the metrics job."""

    office = models.ForeignKey("registry.Office", on_delete=models.PROTECT, related_name="+", verbose_name=_("机构"))
    month = models.DateField(_("月份"))
    rollup = models.BooleanField(_("含下级机构"), default=False)
    taken_in = models.PositiveIntegerField(_("受理件数"), default=0)
    completed = models.PositiveIntegerField(_("办结件数"), default=0)
    rejected = models.PositiveIntegerField(_("不予办理件数"), default=0)
    withdrawn = models.PositiveIntegerField(_("撤回件数"), default=0)
    on_time = models.PositiveIntegerField(_("按时办结件数"), default=0)
    on_time_rate = models.DecimalField(_("按时办结率"), **RATE)
    handling_days_avg = models.DecimalField(_("平均办理时长（工作日）"), **DAYS)
    handling_days_p90 = models.DecimalField(_("办理时长 90 分位（工作日）"), **DAYS)
    open_at_end = models.PositiveIntegerField(_("月末在办件数"), default=0)
    overdue_at_end = models.PositiveIntegerField(_("月末超期件数"), default=0)
    corrected = models.PositiveIntegerField(_("经补正的办结件数"), default=0)
    correction_rate = models.DecimalField(_("补正率"), **RATE)
    rejection_rate = models.DecimalField(_("不予办理率"), **RATE)
    escalations = models.PositiveIntegerField(_("超期督办件数"), default=0)
    rating_count = models.PositiveIntegerField(_("评价数"), default=0)
    rating_sum = models.PositiveIntegerField(_("评分合计"), default=0)
    rating_avg = models.DecimalField(_("平均评分"), max_digits=5, decimal_places=2, null=True, blank=True)
    poor_count = models.PositiveIntegerField(_("差评数"), default=0)
    poor_share = models.DecimalField(_("差评率"), **RATE)
    billed = models.DecimalField(_("应缴（元）"), null=True, blank=True, **MONEY)
    collected = models.DecimalField(_("实缴（元）"), null=True, blank=True, **MONEY)
    collection_rate = models.DecimalField(_("征缴率"), **RATE)
    computed_at = models.DateTimeField(_("计算时间"))

    jurisdiction_office_field = "office"

    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("机构月度指标")
        verbose_name_plural = _("机构月度指标")
        ordering = ["month", "office__path", "rollup"]
        constraints = [
            models.UniqueConstraint(fields=["office", "month", "rollup"], name="office_month_metric_once"),
        ]
        indexes = [models.Index(fields=["month", "rollup"], name="office_metric_month")]

    def __str__(self) -> str:
        return f"{self.office_id} {self.month:%Y-%m}"


class OfficeMonthItemMetric(models.Model):
    office = models.ForeignKey("registry.Office", on_delete=models.PROTECT, related_name="+", verbose_name=_("机构"))
    month = models.DateField(_("月份"))
    rollup = models.BooleanField(_("含下级机构"), default=False)
    item = models.ForeignKey("cases.ServiceItem", on_delete=models.PROTECT, related_name="+", verbose_name=_("事项"))
    taken_in = models.PositiveIntegerField(_("受理件数"), default=0)
    completed = models.PositiveIntegerField(_("办结件数"), default=0)

    jurisdiction_office_field = "office"

    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("机构月度事项办件量")
        verbose_name_plural = _("机构月度事项办件量")
        ordering = ["month", "office__path", "item__sort_order"]
        constraints = [
            models.UniqueConstraint(fields=["office", "month", "rollup", "item"], name="office_month_item_once"),
        ]

    def __str__(self) -> str:
        return f"{self.office_id} {self.month:%Y-%m} {self.item_id}"


class EvaluationReport(models.Model):
    """One published version of a month's evaluation. Never changed: a correction is the next version."""

    month = models.DateField(_("月份"))
    version = models.PositiveSmallIntegerField(_("版本"))
    reason = models.TextField(_("更正理由"), blank=True)
    scheme = models.JSONField(_("考核方案（权重、资金池及其依据）"))
    pool = models.DecimalField(_("本月考核资金（元）"), **MONEY)
    published_at = models.DateTimeField(_("发布时间"), auto_now_add=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("发布人")
    )

    jurisdiction_public = True  # the header is city-wide; its lines are scoped to each reader's offices

    class Meta:
        verbose_name = _("考核结果")
        verbose_name_plural = _("考核结果")
        ordering = ["-month", "-version"]
        constraints = [models.UniqueConstraint(fields=["month", "version"], name="evaluation_report_version_once")]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} v{self.version}"


class EvaluationLine(models.Model):
    report = models.ForeignKey(EvaluationReport, on_delete=models.PROTECT, related_name="lines", verbose_name=_("考核"))
    office = models.ForeignKey("registry.Office", on_delete=models.PROTECT, related_name="+", verbose_name=_("机构"))
    level = models.PositiveSmallIntegerField(_("层级"))
    rank = models.PositiveSmallIntegerField(_("本层级排名"))
    score = models.DecimalField(_("综合得分"), max_digits=7, decimal_places=2)
    components = models.JSONField(_("分项得分"))
    figures = models.JSONField(_("指标"))
    amount = models.DecimalField(_("考核资金（元）"), **MONEY)

    jurisdiction_office_field = "office"

    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("考核明细")
        verbose_name_plural = _("考核明细")
        ordering = ["report", "level", "rank"]
        constraints = [models.UniqueConstraint(fields=["report", "office"], name="evaluation_line_once")]

    def __str__(self) -> str:
        return f"{self.report_id} {self.office_id} {self.score}"


class SupervisionDigest(models.Model):
    """The daily digest of one office: its cases due within two working days and its overdue cases."""

    office = models.ForeignKey("registry.Office", on_delete=models.PROTECT, related_name="+", verbose_name=_("机构"))
    on = models.DateField(_("日期"))
    due_soon = models.JSONField(_("即将到期"), default=list)
    overdue = models.JSONField(_("已超期"), default=list)
    recipients = models.TextField(_("通知对象"), blank=True)
    created_at = models.DateTimeField(_("生成时间"), auto_now_add=True)

    jurisdiction_office_field = "office"

    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("时限监察日报")
        verbose_name_plural = _("时限监察日报")
        ordering = ["-on", "office__path"]
        constraints = [models.UniqueConstraint(fields=["office", "on"], name="supervision_digest_once_per_day")]

    def __str__(self) -> str:
        return f"{self.on} {self.office_id}"


class StatTopic(models.TextChoices):
    INSURED = "insured", _("参保人员")
    EMPLOYERS = "employers", _("参保单位")
    CONTRIBUTIONS = "contributions", _("缴费征收")
    BENEFITS = "benefits", _("待遇支出")
    FUNDS = "funds", _("基金收支")


class StatCell(models.Model):
    """One pre-aggregated figure of the statistics (nightly, ``services.statistics``): a topic, a month, the lowest
    office the rows belong to, an insurance and two topic-specific dimensions, with up to three measures.

    insured: dim_a sex, dim_b age band; m1 enrolled at month end, m2 enrollments started, m3 stopped in the month.
    employers: dim_a employer type, dim_b size band (employees in employee pension); m1 employers, m2 employees.
    contributions: month = bill period; m1 billed, m2 collected, m3 in arrears (unpaid after the due date).
    benefits: month = period paid; m1 amount, m2 payments. funds: m1 income, m2 expenditure (ledger, by booking month).
    """

    topic = models.CharField(_("主题"), max_length=16, choices=StatTopic.choices)
    month = models.DateField(_("月份"))
    office = models.ForeignKey("registry.Office", on_delete=models.PROTECT, related_name="+", verbose_name=_("机构"))
    insurance_type = models.CharField(_("险种"), max_length=16, choices=InsuranceType.choices, blank=True)
    dim_a = models.CharField(_("维度一"), max_length=16, blank=True)
    dim_b = models.CharField(_("维度二"), max_length=16, blank=True)
    m1 = models.DecimalField(_("指标一"), max_digits=18, decimal_places=2, default=0)
    m2 = models.DecimalField(_("指标二"), max_digits=18, decimal_places=2, default=0)
    m3 = models.DecimalField(_("指标三"), max_digits=18, decimal_places=2, default=0)

    jurisdiction_office_field = "office"

    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("统计数据")
        verbose_name_plural = _("统计数据")
        ordering = ["topic", "month", "office_id", "insurance_type", "dim_a", "dim_b"]
        indexes = [models.Index(fields=["topic", "month"], name="stat_cell_topic_month")]
        constraints = [
            models.UniqueConstraint(
                fields=["topic", "month", "office", "insurance_type", "dim_a", "dim_b"], name="stat_cell_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.topic} {self.month:%Y-%m} {self.office_id}"
