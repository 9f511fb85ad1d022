"""Policy documents, the parameter catalogue, dated parameter values and district policy clean-up decisions.

Every rate, base, subsidy, benefit level, threshold and time limit the other apps use is a
``ParameterValue``: one typed value of one ``Parameter`` over ``[valid_from, valid_to)``, for the
whole city or one district, set by one ``PolicyDocument``. Reads go through
``policies.selectors.parameter_value``; writes through ``policies.services``.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from registry.jurisdiction import JurisdictionQuerySet
from registry.models import InsuranceType, audit_history

from .kinds import DECIMAL_KINDS, INTEGER_KINDS, ParameterKind, TableShape
from .values import to_text


class DocumentLevel(models.TextChoices):
    NATIONAL = "national", _("国家")
    PROVINCE = "province", _("省级")
    CITY = "city", _("市级")
    DISTRICT = "district", _("区级")


class DocumentStatus(models.TextChoices):
    IN_FORCE = "in_force", _("现行有效")
    UNDER_REVIEW = "under_review", _("清理审查中")
    REPEALED = "repealed", _("已废止")
    SUPERSEDED = "superseded", _("已被替代")


ENDED_STATUSES = (DocumentStatus.REPEALED, DocumentStatus.SUPERSEDED)


class PolicyDocument(models.Model):
    """A policy document (文件): the source every parameter value cites."""

    uid = models.UUIDField(_("编号"), default=uuid.uuid4, unique=True, editable=False)
    number = models.CharField(_("文号"), max_length=80, unique=True, help_text=_("如：台政办发〔2016〕127号"))
    title = models.CharField(_("标题"), max_length=200)
    issuer = models.CharField(_("发文机关"), max_length=100)
    level = models.CharField(_("层级"), max_length=10, choices=DocumentLevel.choices)
    district = models.ForeignKey(
        "registry.Office",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        limit_choices_to={"level": 2},
        verbose_name=_("发文区"),
        help_text=_("区级文件填写发文的区。"),
    )
    insurances = models.JSONField(_("涉及险种"), default=list, blank=True, help_text=_("险种代码列表。"))
    issued_on = models.DateField(_("印发日期"), null=True, blank=True)
    effective_from = models.DateField(_("施行日期"))
    repealed_on = models.DateField(
        _("失效日期"), null=True, blank=True, help_text=_("自该日起不再有效（废止或被替代）。")
    )
    status = models.CharField(_("状态"), max_length=14, choices=DocumentStatus.choices, default=DocumentStatus.IN_FORCE)
    superseded_by = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="supersedes",
        verbose_name=_("被替代为"),
    )
    text = models.TextField(_("正文"), blank=True)
    attachment = models.FileField(_("附件"), upload_to="policies/documents/%Y/", blank=True)
    is_demo = models.BooleanField(
        _("演示数据"), default=False, help_text=_("文号或内容尚未与正式文件核对，管理员须确认。")
    )
    note = models.TextField(_("备注"), blank=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)
    history = audit_history()

    # City-wide reference data: every staff member reads it, roles decide who writes.
    jurisdiction_public = True

    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("政策文件")
        verbose_name_plural = _("政策文件")
        ordering = ["-effective_from", "number"]
        indexes = [
            models.Index(fields=["level", "status"], name="policydoc_level_status"),
            models.Index(fields=["effective_from"], name="policydoc_effective"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(level="district", district__isnull=False)
                | (~Q(level="district") & Q(district__isnull=True)),
                name="policydoc_district_iff_district_level",
            ),
            models.CheckConstraint(
                condition=Q(repealed_on__isnull=True) | Q(repealed_on__gt=F("effective_from")),
                name="policydoc_repealed_after_effective",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["repealed", "superseded"], repealed_on__isnull=False)
                | (~Q(status__in=["repealed", "superseded"]) & Q(repealed_on__isnull=True)),
                name="policydoc_repealed_on_iff_ended",
            ),
            models.CheckConstraint(
                condition=Q(status="superseded", superseded_by__isnull=False)
                | (~Q(status="superseded") & Q(superseded_by__isnull=True)),
                name="policydoc_superseded_by_iff_superseded",
            ),
            models.CheckConstraint(
                condition=Q(superseded_by__isnull=True) | ~Q(superseded_by=F("id")),
                name="policydoc_not_superseded_by_itself",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.title}"

    def insurance_labels(self) -> list[str]:
        labels = dict(InsuranceType.choices)
        return [str(labels.get(code, code)) for code in self.insurances or []]


class ParameterCategory(models.TextChoices):
    CONTRIBUTION = "contribution", _("缴费费率")
    BASE = "base", _("缴费基数与工资")
    RESIDENT = "resident", _("城乡居民保险")
    LAND_FARMER = "land_farmer", _("被征地农民保障")
    BENEFIT = "benefit", _("待遇标准")
    FUND = "fund", _("基金预警与分担")
    COLLECTION = "collection", _("征缴与金额")
    CASE = "case", _("经办时限")


class Parameter(models.Model):
    """One entry of the typed parameter catalogue."""

    code = models.CharField(
        _("参数代码"),
        max_length=80,
        unique=True,
        validators=[
            RegexValidator(
                r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$",
                _("参数代码由小写字母、数字和下划线组成，以点分段，如 rate.emp_pension.employer。"),
            )
        ],
    )
    name = models.CharField(_("名称"), max_length=100)
    kind = models.CharField(_("类型"), max_length=10, choices=ParameterKind.choices)
    shape = models.CharField(_("表格结构"), max_length=16, choices=TableShape.choices, default="", blank=True)
    table_keys = models.JSONField(
        _("表格键"), default=list, blank=True, help_text=_("分担比例表必须恰好包含的键，如 government、collective。")
    )
    category = models.CharField(_("类别"), max_length=14, choices=ParameterCategory.choices)
    insurance = models.CharField(_("险种"), max_length=16, choices=InsuranceType.choices, blank=True)
    unit = models.CharField(_("单位"), max_length=20, blank=True)
    min_value = models.DecimalField(_("下限"), max_digits=20, decimal_places=6, null=True, blank=True)
    max_value = models.DecimalField(_("上限"), max_digits=20, decimal_places=6, null=True, blank=True)
    description = models.TextField(_("说明"), blank=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)
    history = audit_history()

    jurisdiction_public = True

    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("参数")
        verbose_name_plural = _("参数目录")
        ordering = ["category", "code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind="table") & ~Q(shape="") | ~Q(kind="table") & Q(shape=""),
                name="parameter_shape_iff_table",
            ),
            models.CheckConstraint(
                condition=Q(min_value__isnull=True) | Q(max_value__isnull=True) | Q(min_value__lte=F("max_value")),
                name="parameter_min_le_max",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class ParameterValue(models.Model):
    """One dated value of a parameter: in force on [valid_from, valid_to), city-wide or for one district.

    Rows are versions: once a value is in force its value stays (bills record ``id`` and
    ``revision``); a change is a new row. Only a demo value may be corrected in place, which bumps
    ``revision``.
    """

    uid = models.UUIDField(_("编号"), default=uuid.uuid4, unique=True, editable=False)
    parameter = models.ForeignKey(Parameter, on_delete=models.PROTECT, related_name="values", verbose_name=_("参数"))
    # A copy of parameter.kind, so the database itself can check the typed column and the range.
    kind = models.CharField(_("类型"), max_length=10, choices=ParameterKind.choices, editable=False)
    district = models.ForeignKey(
        "registry.Office",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        limit_choices_to={"level": 2},
        verbose_name=_("适用区"),
        help_text=_("空表示市区统一；填写某区表示该区的过渡或原有取值，优先于市区统一值。"),
    )
    valid_from = models.DateField(_("起始日期"))
    valid_to = models.DateField(_("截止日期"), null=True, blank=True, help_text=_("不含当日；空表示长期有效。"))
    value_decimal = models.DecimalField(_("数值"), max_digits=20, decimal_places=6, null=True, blank=True)
    value_int = models.BigIntegerField(_("整数值"), null=True, blank=True)
    value_table = models.JSONField(_("表格值"), null=True, blank=True)
    document = models.ForeignKey(
        PolicyDocument, on_delete=models.PROTECT, related_name="values", verbose_name=_("依据文件")
    )
    revision = models.PositiveIntegerField(_("修订号"), default=1, editable=False)
    is_demo = models.BooleanField(
        _("演示数据"), default=False, help_text=_("数值尚未与正式文件核对，管理员须确认后取消勾选。")
    )
    note = models.TextField(_("备注"), blank=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)
    history = audit_history()

    jurisdiction_public = True

    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("参数取值")
        verbose_name_plural = _("参数取值")
        ordering = ["parameter__code", "district__code", "valid_from"]
        indexes = [models.Index(fields=["parameter", "valid_from"], name="paramvalue_param_from")]
        constraints = [
            models.CheckConstraint(
                condition=Q(valid_to__isnull=True) | Q(valid_to__gt=F("valid_from")),
                name="paramvalue_to_after_from",
            ),
            models.CheckConstraint(
                condition=Q(
                    kind__in=["rate", "amount", "ratio"],
                    value_decimal__isnull=False,
                    value_int__isnull=True,
                    value_table__isnull=True,
                )
                | Q(
                    kind__in=["months", "integer"],
                    value_decimal__isnull=True,
                    value_int__isnull=False,
                    value_table__isnull=True,
                )
                | Q(kind="table", value_decimal__isnull=True, value_int__isnull=True, value_table__isnull=False),
                name="paramvalue_typed_column_matches_kind",
            ),
            models.CheckConstraint(
                condition=~Q(kind="rate") | Q(value_decimal__gte=0, value_decimal__lte=1),
                name="paramvalue_rate_0_1",
            ),
            models.CheckConstraint(
                condition=~Q(kind__in=["amount", "ratio"]) | Q(value_decimal__gte=0),
                name="paramvalue_amount_ratio_not_negative",
            ),
            models.CheckConstraint(
                condition=~Q(kind="months") | Q(value_int__gte=0),
                name="paramvalue_months_not_negative",
            ),
        ]

    def __str__(self) -> str:
        scope = self.district.short_name if self.district_id and self.district else _("市区统一")
        return f"{self.parameter.code} {scope} {self.valid_from}"

    @property
    def stored_value(self):
        if self.kind in DECIMAL_KINDS:
            return self.value_decimal
        if self.kind in INTEGER_KINDS:
            return self.value_int
        return self.value_table

    @property
    def value_text(self) -> str:
        return to_text(self.kind, self.stored_value)


class DecisionKind(models.TextChoices):
    KEEP = "keep", _("保留")
    REPEAL = "repeal", _("废止")
    MERGE = "merge", _("并入市级文件")


class DecisionStatus(models.TextChoices):
    PROPOSED = "proposed", _("待审批")
    APPROVED = "approved", _("已批准")
    REJECTED = "rejected", _("已退回")
    WITHDRAWN = "withdrawn", _("已撤回")


class PolicyDecision(models.Model):
    """A clean-up decision on a district's own document (二(一)3): proposed by one person, approved by another."""

    uid = models.UUIDField(_("编号"), default=uuid.uuid4, unique=True, editable=False)
    document = models.ForeignKey(
        PolicyDocument, on_delete=models.PROTECT, related_name="decisions", verbose_name=_("区级文件")
    )
    decision = models.CharField(_("处理意见"), max_length=8, choices=DecisionKind.choices)
    merge_into = models.ForeignKey(
        PolicyDocument,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="merged_decisions",
        verbose_name=_("并入文件"),
    )
    effective_on = models.DateField(
        _("生效日期"), null=True, blank=True, help_text=_("废止或并入之日，该文件的参数取值于此日截止。")
    )
    reason = models.TextField(_("理由"))
    status = models.CharField(_("状态"), max_length=10, choices=DecisionStatus.choices, default=DecisionStatus.PROPOSED)
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("提出人")
    )
    proposed_at = models.DateTimeField(_("提出时间"), auto_now_add=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("审批人"),
    )
    decided_at = models.DateTimeField(_("审批时间"), null=True, blank=True)
    decision_note = models.TextField(_("审批意见"), blank=True)
    history = audit_history()

    # Clean-up decisions are city-wide governance records, open to every staff member.
    jurisdiction_public = True

    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("政策清理决定")
        verbose_name_plural = _("政策清理决定")
        ordering = ["-proposed_at"]
        permissions = [("approve_policydecision", _("可审批政策清理决定"))]
        constraints = [
            models.CheckConstraint(
                condition=Q(decision="merge", merge_into__isnull=False)
                | (~Q(decision="merge") & Q(merge_into__isnull=True)),
                name="policydecision_merge_into_iff_merge",
            ),
            models.CheckConstraint(
                condition=Q(decision="keep") | Q(effective_on__isnull=False),
                name="policydecision_end_needs_date",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["proposed", "withdrawn"])
                | Q(decided_by__isnull=False, decided_at__isnull=False),
                name="policydecision_decided_has_decider",
            ),
            models.CheckConstraint(
                condition=Q(decided_by__isnull=True) | ~Q(decided_by=F("proposed_by")),
                name="policydecision_four_eyes",
            ),
            models.CheckConstraint(condition=~Q(reason=""), name="policydecision_reason_required"),
            models.UniqueConstraint(
                fields=["document"], condition=Q(status="proposed"), name="policydecision_one_open_per_document"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.document.number} {self.get_decision_display()}（{self.get_status_display()}）"


# ---------------------------------------------------------------------------------------------
# The statutory working-day calendar: the State Council's yearly holiday notice
# (国务院办公厅关于部分节假日安排的通知) is a policy document, with its make-up working days (调休上班).
# Read through ``policies.workdays.WorkCalendar``; written by ``policies.services.calendar_year_*``.


class CalendarSource(models.TextChoices):
    PACKAGE = "package", _("holidays 软件包")
    NOTICE = "notice", _("国务院办公厅通知（手工录入）")


class CalendarYear(models.Model):
    """The holiday schedule of one year is known (loaded or entered); a year without a row counts weekends only."""

    year = models.PositiveSmallIntegerField(_("年度"), unique=True)
    source = models.CharField(_("来源"), max_length=10, choices=CalendarSource.choices)
    document = models.CharField(_("文号"), max_length=100, blank=True, help_text=_("如 国办发明电〔2025〕7号"))
    note = models.CharField(_("说明"), max_length=300, blank=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)
    # The tables keep the names they had in cases (moved with SeparateDatabaseAndState, policies 0005).
    history = audit_history(table_name="cases_historicalcalendaryear")

    jurisdiction_public = True

    class Meta:
        db_table = "cases_calendaryear"
        verbose_name = _("节假日安排（年度）")
        verbose_name_plural = _("节假日安排")
        ordering = ["-year"]

    def __str__(self) -> str:
        return f"{self.year}"


class DayKind(models.TextChoices):
    HOLIDAY = "holiday", _("放假")
    WORKDAY = "workday", _("调休上班")


class CalendarDay(models.Model):
    calendar = models.ForeignKey(CalendarYear, on_delete=models.CASCADE, related_name="days", verbose_name=_("年度"))
    date = models.DateField(_("日期"), unique=True)
    kind = models.CharField(_("类型"), max_length=8, choices=DayKind.choices)
    name = models.CharField(_("名称"), max_length=60, blank=True)

    jurisdiction_public = True

    class Meta:
        db_table = "cases_calendarday"
        verbose_name = _("节假日/调休日")
        verbose_name_plural = _("节假日/调休日")
        ordering = ["date"]

    def __str__(self) -> str:
        return f"{self.date} {self.get_kind_display()}"
