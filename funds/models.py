"""City-pooled social insurance funds (基金市级统筹, reform plan 二(二)).

* **Fund** — one per insurance type, city level; loaded by a data migration.
* **Ledger** — ``LedgerTransaction`` with ``LedgerEntry`` rows on ``Account``s, double entry: the entries of
  a transaction sum to zero (debit positive, credit negative). Append-only: corrections are reversing
  transactions; on PostgreSQL triggers refuse UPDATE and DELETE of both tables, refuse an unbalanced
  transaction and refuse entries dated in a closed fund year. Every entry keeps the district (or the city
  office) it belongs to, and every transaction names its source record (``source_type`` + ``source_id``,
  unique: nothing is posted twice).
* **FundYear** — a closed year with its final accounts (决算); **Budget** with **BudgetLine** (预算);
  **SubsidySharing** with **SubsidyShare** (两级分担 of a year's gap).
* **FundIndicator** — one dated value per fund, indicator and office (early warning, 基金预警);
  **FundWarning** — a new or escalated level, open until acknowledged; **Notice** — the in-app notice.
* **Remittance** — 上解/下拨 of the basic pension fund to/from the national pool (二(二)5);
  **ExpenditureImport** — monthly expenditure totals imported from a file.

Jurisdiction: ledger rows belong to the office (district or city) they are booked for
(``jurisdiction_office_field = "office"``). Fund-level figures — funds, years, budgets, sharing,
indicators and warnings — are city-wide facts of a city-pooled fund: ``jurisdiction_public = True``;
who may read them is decided by role permissions (fund officer, city administrator, auditor).
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from registry.jurisdiction import JurisdictionQuerySet
from registry.models import InsuranceType, audit_history

MONEY = {"max_digits": 16, "decimal_places": 2}


class Fund(models.Model):
    """One city-pooled fund per insurance type (市级统筹基金)."""

    uid = models.UUIDField(_("编号"), default=uuid.uuid4, unique=True, editable=False)
    insurance_type = models.CharField(_("险种"), max_length=16, choices=InsuranceType.choices, unique=True)
    name = models.CharField(_("基金名称"), max_length=60)
    sort_order = models.PositiveSmallIntegerField(_("排序"), default=0)
    is_active = models.BooleanField(_("启用"), default=True)

    jurisdiction_public = True
    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("基金")
        verbose_name_plural = _("基金")
        ordering = ["sort_order", "id"]

    def __str__(self) -> str:
        return self.name


class Account(models.TextChoices):
    """Ledger accounts. Debit positive, credit negative; income accounts carry credits, expenditure debits."""

    BANK = "bank", _("基金结余（银行存款）")
    CONTRIBUTION_INCOME = "contribution_income", _("社会保险费收入")
    SUBSIDY_CITY = "subsidy_city", _("财政补贴收入（市级）")
    SUBSIDY_DISTRICT = "subsidy_district", _("财政补贴收入（区级）")
    COLLECTIVE_INCOME = "collective_income", _("集体补助收入")
    INTEREST_INCOME = "interest_income", _("利息收入")
    TRANSFER_IN = "transfer_in", _("转移收入")
    REMITTANCE_FROM_HIGHER = "remittance_from_higher", _("上级下拨收入（全国统筹调剂）")
    OTHER_INCOME = "other_income", _("其他收入")
    BENEFIT_EXPENDITURE = "benefit_expenditure", _("社会保险待遇支出")
    TRANSFER_OUT = "transfer_out", _("转移支出")
    REMITTANCE_TO_HIGHER = "remittance_to_higher", _("上解上级支出（全国统筹调剂）")
    OTHER_EXPENDITURE = "other_expenditure", _("其他支出")


INCOME_ACCOUNTS = (
    Account.CONTRIBUTION_INCOME,
    Account.SUBSIDY_CITY,
    Account.SUBSIDY_DISTRICT,
    Account.COLLECTIVE_INCOME,
    Account.INTEREST_INCOME,
    Account.TRANSFER_IN,
    Account.REMITTANCE_FROM_HIGHER,
    Account.OTHER_INCOME,
)
EXPENDITURE_ACCOUNTS = (
    Account.BENEFIT_EXPENDITURE,
    Account.TRANSFER_OUT,
    Account.REMITTANCE_TO_HIGHER,
    Account.OTHER_EXPENDITURE,
)


class TransactionKind(models.TextChoices):
    CONTRIBUTION = "contribution", _("缴费收入入账")
    SUBSIDY = "subsidy", _("财政补贴入账")
    BENEFIT = "benefit", _("待遇支出")
    EXPENDITURE_IMPORT = "expenditure_import", _("月度支出汇总导入")
    REMITTANCE_UP = "remittance_up", _("全国统筹上解")
    REMITTANCE_DOWN = "remittance_down", _("全国统筹下拨")
    INTEREST = "interest", _("利息收入")
    TRANSFER = "transfer", _("转移收支")
    OTHER = "other", _("其他收支")
    REVERSAL = "reversal", _("冲销")


class FundYearStatus(models.TextChoices):
    OPEN = "open", _("未结账")
    CLOSED = "closed", _("已结账")


class FundYear(models.Model):
    """A fund's accounting year once closed (决算): no entry may be dated in it afterwards."""

    uid = models.UUIDField(_("编号"), default=uuid.uuid4, unique=True, editable=False)
    fund = models.ForeignKey(Fund, on_delete=models.PROTECT, related_name="years", verbose_name=_("基金"))
    year = models.PositiveSmallIntegerField(_("年度"))
    status = models.CharField(_("状态"), max_length=8, choices=FundYearStatus.choices, default=FundYearStatus.OPEN)
    balance_start = models.DecimalField(_("年初结余"), default=0, **MONEY)
    income = models.DecimalField(_("本年收入"), default=0, **MONEY)
    expenditure = models.DecimalField(_("本年支出"), default=0, **MONEY)
    balance_end = models.DecimalField(_("年末结余"), default=0, **MONEY)
    final_accounts = models.JSONField(_("决算明细"), default=dict, blank=True)
    closed_at = models.DateTimeField(_("结账时间"), null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("结账人"),
    )
    history = audit_history()

    jurisdiction_public = True
    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("基金年度")
        verbose_name_plural = _("基金年度")
        ordering = ["fund", "-year"]
        permissions = [("close_fundyear", _("可办理基金年度结账（决算）"))]
        constraints = [
            models.UniqueConstraint(fields=["fund", "year"], name="fund_year_one_per_fund_year"),
            models.CheckConstraint(
                condition=Q(status="open") | Q(closed_at__isnull=False), name="fund_year_closed_has_time"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.fund} {self.year}"


class PostingRun(models.Model):
    """One run of ``contribution_income_post``: what it posted, up to when, started by whom."""

    up_to = models.DateTimeField(_("截至时间"))
    started_at = models.DateTimeField(_("开始时间"), default=timezone.now)
    finished_at = models.DateTimeField(_("完成时间"), null=True, blank=True)
    contribution_transactions = models.PositiveIntegerField(_("缴费入账笔数"), default=0)
    contribution_amount = models.DecimalField(_("缴费入账金额"), default=0, **MONEY)
    subsidy_transactions = models.PositiveIntegerField(_("补贴入账笔数"), default=0)
    subsidy_amount = models.DecimalField(_("补贴入账金额"), default=0, **MONEY)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("发起人"),
    )

    jurisdiction_public = True
    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("收入入账批次")
        verbose_name_plural = _("收入入账批次")
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"{self.started_at:%Y-%m-%d %H:%M} ≤{self.up_to:%Y-%m-%d %H:%M}"


class LedgerTransaction(models.Model):
    """记账凭证: one business event on one fund for one office, with entries summing to zero. Append-only."""

    uid = models.UUIDField(_("编号"), default=uuid.uuid4, unique=True, editable=False)
    fund = models.ForeignKey(
        Fund, on_delete=models.PROTECT, related_name="transactions", db_index=False, verbose_name=_("基金")
    )
    office = models.ForeignKey(
        "registry.Office",
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("所属区"),
        help_text=_("收支所属的区（或市本级）。"),
    )
    kind = models.CharField(_("类型"), max_length=20, choices=TransactionKind.choices)
    booked_on = models.DateField(_("记账日期"))
    amount = models.DecimalField(_("金额（借方合计）"), **MONEY)
    description = models.CharField(_("摘要"), max_length=200, blank=True)
    document_number = models.CharField(_("凭证或文件号"), max_length=80, blank=True)
    source_type = models.CharField(_("来源类型"), max_length=60, blank=True)
    source_id = models.BigIntegerField(_("来源记录"), null=True, blank=True)
    reverses = models.OneToOneField(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="reversed_by",
        verbose_name=_("冲销的凭证"),
    )
    posting_run = models.ForeignKey(
        PostingRun,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="transactions",
        verbose_name=_("入账批次"),
    )
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("记账人"),
    )

    jurisdiction_office_field = "office"
    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("记账凭证")
        verbose_name_plural = _("记账凭证")
        ordering = ["-booked_on", "-id"]
        indexes = [
            models.Index(fields=["fund", "booked_on"], name="ledger_txn_fund_day"),
        ]
        constraints = [
            # Nothing is posted twice: one transaction per source record.
            models.UniqueConstraint(
                fields=["source_type", "source_id"],
                condition=Q(source_id__isnull=False),
                name="ledger_txn_one_per_source",
            ),
            models.CheckConstraint(condition=Q(amount__gte=0), name="ledger_txn_amount_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.booked_on} {self.get_kind_display()} {self.amount}"

    @property
    def source_label(self) -> str:
        return f"{self.source_type}#{self.source_id}" if self.source_id is not None else self.document_number


class LedgerEntry(models.Model):
    """One line of a transaction: an amount on an account (debit +, credit −). Append-only.

    ``fund``, ``office`` and ``booked_on`` repeat the transaction's, so every aggregate is one scan of this table.
    """

    transaction = models.ForeignKey(
        LedgerTransaction, on_delete=models.PROTECT, related_name="entries", verbose_name=_("凭证")
    )
    fund = models.ForeignKey(Fund, on_delete=models.PROTECT, related_name="+", db_index=False, verbose_name=_("基金"))
    office = models.ForeignKey(
        "registry.Office", on_delete=models.PROTECT, related_name="+", db_index=False, verbose_name=_("所属区")
    )
    account = models.CharField(_("科目"), max_length=24, choices=Account.choices)
    amount = models.DecimalField(_("金额（借+贷−）"), **MONEY)
    booked_on = models.DateField(_("记账日期"))

    jurisdiction_office_field = "office"
    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("分录")
        verbose_name_plural = _("分录")
        indexes = [models.Index(fields=["fund", "booked_on", "account"], name="ledger_entry_fund_day_account")]
        constraints = [models.CheckConstraint(condition=~Q(amount=0), name="ledger_entry_not_zero")]

    def __str__(self) -> str:
        return f"{self.get_account_display()} {self.amount}"

    @property
    def debit(self):
        return self.amount if self.amount > 0 else None

    @property
    def credit(self):
        return -self.amount if self.amount < 0 else None


# ---------------------------------------------------------------------------------------------
# Budget (预算).


class BudgetStatus(models.TextChoices):
    DRAFT = "draft", _("编制中")
    APPROVED = "approved", _("已批准")


class BudgetDirection(models.TextChoices):
    INCOME = "income", _("收入")
    EXPENDITURE = "expenditure", _("支出")


class Budget(models.Model):
    """A fund's yearly budget, drafted from last year's actuals and growth rates, approved by another user."""

    uid = models.UUIDField(_("编号"), default=uuid.uuid4, unique=True, editable=False)
    fund = models.ForeignKey(Fund, on_delete=models.PROTECT, related_name="budgets", verbose_name=_("基金"))
    year = models.PositiveSmallIntegerField(_("预算年度"))
    status = models.CharField(_("状态"), max_length=10, choices=BudgetStatus.choices, default=BudgetStatus.DRAFT)
    base_year = models.PositiveSmallIntegerField(_("基数年度"))
    growth = models.JSONField(_("增长率假设"), default=dict, blank=True, help_text=_("科目 → 增长率，如 0.05。"))
    note = models.TextField(_("编制说明"), blank=True)
    drafted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("编制人")
    )
    drafted_at = models.DateTimeField(_("编制时间"))
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("批准人"),
    )
    approved_at = models.DateTimeField(_("批准时间"), null=True, blank=True)
    approval_note = models.CharField(_("批准意见"), max_length=200, blank=True)
    history = audit_history()

    jurisdiction_public = True
    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("基金预算")
        verbose_name_plural = _("基金预算")
        ordering = ["-year", "fund"]
        permissions = [("approve_budget", _("可批准基金预算"))]
        constraints = [
            models.UniqueConstraint(fields=["fund", "year"], name="budget_one_per_fund_year"),
            models.CheckConstraint(
                condition=Q(status="draft") | Q(approved_by__isnull=False, approved_at__isnull=False),
                name="budget_approved_has_approver",
            ),
            models.CheckConstraint(
                condition=Q(approved_by__isnull=True) | ~Q(approved_by=models.F("drafted_by")),
                name="budget_approver_not_author",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.fund} {self.year} {self.get_status_display()}"


class BudgetLine(models.Model):
    """One budget line: a category (account) in one district (or the city office)."""

    budget = models.ForeignKey(Budget, on_delete=models.CASCADE, related_name="lines", verbose_name=_("预算"))
    direction = models.CharField(_("收支"), max_length=12, choices=BudgetDirection.choices)
    account = models.CharField(_("科目"), max_length=24, choices=Account.choices)
    office = models.ForeignKey("registry.Office", on_delete=models.PROTECT, related_name="+", verbose_name=_("所属区"))
    base_actual = models.DecimalField(_("上年实际"), default=0, **MONEY)
    growth_rate = models.DecimalField(_("增长率"), max_digits=9, decimal_places=6, default=0)
    amount = models.DecimalField(_("预算数"), **MONEY)

    jurisdiction_public = True
    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("预算明细")
        verbose_name_plural = _("预算明细")
        ordering = ["direction", "account", "office__code"]
        constraints = [
            models.UniqueConstraint(fields=["budget", "account", "office"], name="budget_line_one_per_account_office"),
            models.CheckConstraint(condition=Q(amount__gte=0), name="budget_line_amount_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.get_account_display()} {self.amount}"

    @property
    def growth_percent(self) -> str:
        return f"{(self.growth_rate * 100).normalize():f}%"


# ---------------------------------------------------------------------------------------------
# Subsidy sharing (两级分担).


class SharingMethod(models.TextChoices):
    FIXED = "fixed", _("按固定比例分担")
    BY_CAUSE = "by_cause", _("市级按比例、各区按缺口成因分担")


class SubsidySharing(models.Model):
    """How a closed year's gap (expenditure above income) is covered by the city and each district."""

    uid = models.UUIDField(_("编号"), default=uuid.uuid4, unique=True, editable=False)
    fund = models.ForeignKey(Fund, on_delete=models.PROTECT, related_name="sharings", verbose_name=_("基金"))
    year = models.PositiveSmallIntegerField(_("年度"))
    income = models.DecimalField(_("本年收入"), **MONEY)
    expenditure = models.DecimalField(_("本年支出"), **MONEY)
    gap = models.DecimalField(_("收支缺口"), **MONEY)
    method = models.CharField(_("分担方式"), max_length=10, choices=SharingMethod.choices)
    rule = models.JSONField(_("分担比例"), default=dict)
    basis = models.JSONField(_("计算依据"), default=dict)
    explanation = models.TextField(_("说明"), blank=True)
    computed_at = models.DateTimeField(_("计算时间"), default=timezone.now)
    computed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("经办人"),
    )

    jurisdiction_public = True
    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("缺口分担")
        verbose_name_plural = _("缺口分担")
        ordering = ["-year", "fund"]
        constraints = [
            models.UniqueConstraint(fields=["fund", "year"], name="sharing_one_per_fund_year"),
            models.CheckConstraint(condition=Q(gap__gt=0), name="sharing_gap_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.fund} {self.year} {self.gap}"


class SubsidyShare(models.Model):
    sharing = models.ForeignKey(
        SubsidySharing, on_delete=models.PROTECT, related_name="shares", verbose_name=_("缺口分担")
    )
    party = models.CharField(_("承担方"), max_length=12, help_text=_("city 为市级，其余为区划代码。"))
    office = models.ForeignKey(
        "registry.Office", on_delete=models.PROTECT, related_name="+", verbose_name=_("承担机构")
    )
    ratio = models.DecimalField(_("分担比例"), max_digits=12, decimal_places=9)
    caused = models.DecimalField(_("形成的缺口"), null=True, blank=True, **MONEY)
    amount = models.DecimalField(_("承担金额"), **MONEY)

    jurisdiction_public = True
    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("分担明细")
        verbose_name_plural = _("分担明细")
        ordering = ["sharing", "office__code"]
        constraints = [models.UniqueConstraint(fields=["sharing", "party"], name="share_one_per_party")]

    def __str__(self) -> str:
        return f"{self.party} {self.amount}"


# ---------------------------------------------------------------------------------------------
# Early warning (基金预警).


class IndicatorCode(models.TextChoices):
    MONTHS_COVERED = "months_covered", _("累计结余可支付月数")
    CURRENT_BALANCE = "current_balance", _("当期收支结余")
    BALANCE_TREND = "balance_trend", _("当期结余同比变化")
    BUDGET_INCOME_DEVIATION = "budget_income_dev", _("预算收入执行偏差")
    BUDGET_EXPENDITURE_DEVIATION = "budget_expend_dev", _("预算支出执行偏差")
    COLLECTION_RATE = "collection_rate", _("征缴率（实缴÷应缴）")


class Level(models.TextChoices):
    NORMAL = "normal", _("正常")
    WARN = "warn", _("预警")
    ALARM = "alarm", _("警报")
    HIGH = "high", _("结余偏高")
    EXCESS = "excess", _("结余过多")
    NOT_ASSESSED = "not_assessed", _("未评估")


ABNORMAL_LEVELS = (Level.WARN, Level.ALARM, Level.EXCESS)
_MONEY_INDICATORS = (IndicatorCode.CURRENT_BALANCE, IndicatorCode.BALANCE_TREND)
_PERCENT_INDICATORS = (
    IndicatorCode.BUDGET_INCOME_DEVIATION,
    IndicatorCode.BUDGET_EXPENDITURE_DEVIATION,
    IndicatorCode.COLLECTION_RATE,
)


def indicator_display(code: str, value) -> str:
    """How an indicator value reads on a page: months, yuan or a percentage."""
    if value is None:
        return "—"
    if code == IndicatorCode.MONTHS_COVERED:
        return f"{value:,.2f} 个月"
    if code in _MONEY_INDICATORS:
        return f"{value:,.2f} 元"
    if code in _PERCENT_INDICATORS:
        sign = "+" if code != IndicatorCode.COLLECTION_RATE and value > 0 else ""
        return f"{sign}{value * 100:.2f}%"
    return str(value)


class FundIndicator(models.Model):
    """One nightly value of one indicator for one fund (city-wide: the city office; per district: the district)."""

    fund = models.ForeignKey(Fund, on_delete=models.PROTECT, related_name="indicators", verbose_name=_("基金"))
    office = models.ForeignKey("registry.Office", on_delete=models.PROTECT, related_name="+", verbose_name=_("范围"))
    on = models.DateField(_("统计日期"))
    code = models.CharField(_("指标"), max_length=20, choices=IndicatorCode.choices)
    value = models.DecimalField(_("指标值"), max_digits=20, decimal_places=4, null=True, blank=True)
    level = models.CharField(_("等级"), max_length=14, choices=Level.choices)
    threshold = models.JSONField(_("阈值"), default=dict, blank=True)
    details = models.JSONField(_("计算过程"), default=dict, blank=True)
    explanation = models.TextField(_("说明"), blank=True)
    computed_at = models.DateTimeField(_("计算时间"), default=timezone.now)

    jurisdiction_public = True
    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("基金指标")
        verbose_name_plural = _("基金指标")
        ordering = ["-on", "fund", "code"]
        indexes = [models.Index(fields=["fund", "code", "on"], name="indicator_fund_code_on")]
        constraints = [
            models.UniqueConstraint(fields=["fund", "office", "code", "on"], name="indicator_one_per_day"),
        ]

    def __str__(self) -> str:
        return f"{self.on} {self.fund} {self.get_code_display()} {self.value}"

    @property
    def value_display(self) -> str:
        return indicator_display(self.code, self.value)


class WarningStatus(models.TextChoices):
    OPEN = "open", _("待处理")
    ACKNOWLEDGED = "acknowledged", _("已处理")


class FundWarning(models.Model):
    """A new or escalated warning level: the values, the threshold crossed and why; open until acknowledged."""

    uid = models.UUIDField(_("编号"), default=uuid.uuid4, unique=True, editable=False)
    fund = models.ForeignKey(Fund, on_delete=models.PROTECT, related_name="warnings", verbose_name=_("基金"))
    office = models.ForeignKey("registry.Office", on_delete=models.PROTECT, related_name="+", verbose_name=_("范围"))
    code = models.CharField(_("指标"), max_length=20, choices=IndicatorCode.choices)
    level = models.CharField(_("等级"), max_length=14, choices=Level.choices)
    previous_level = models.CharField(_("此前等级"), max_length=14, choices=Level.choices, blank=True)
    opened_on = models.DateField(_("预警日期"))
    indicator = models.ForeignKey(
        FundIndicator, on_delete=models.PROTECT, related_name="warnings", verbose_name=_("指标记录")
    )
    value = models.DecimalField(_("指标值"), max_digits=20, decimal_places=4, null=True, blank=True)
    threshold = models.JSONField(_("触发的阈值"), default=dict, blank=True)
    explanation = models.TextField(_("说明"))
    status = models.CharField(_("状态"), max_length=14, choices=WarningStatus.choices, default=WarningStatus.OPEN)
    comment = models.TextField(_("处理意见"), blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("处理人"),
    )
    acknowledged_at = models.DateTimeField(_("处理时间"), null=True, blank=True)
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now)
    history = audit_history()

    jurisdiction_public = True
    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("基金预警")
        verbose_name_plural = _("基金预警")
        ordering = ["-opened_on", "-id"]
        constraints = [
            # Re-running a night creates nothing new.
            models.UniqueConstraint(fields=["fund", "office", "code", "opened_on"], name="warning_one_per_day"),
            models.CheckConstraint(
                condition=Q(status="open") | Q(acknowledged_by__isnull=False) & ~Q(comment=""),
                name="warning_acknowledged_with_comment",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.opened_on} {self.fund} {self.get_code_display()} {self.get_level_display()}"

    @property
    def value_display(self) -> str:
        return indicator_display(self.code, self.value)


class Notice(models.Model):
    """An in-app notice to one user (a new warning, …)."""

    uid = models.UUIDField(_("编号"), default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", verbose_name=_("接收人")
    )
    text = models.CharField(_("内容"), max_length=500)
    link = models.CharField(_("链接"), max_length=200, blank=True)
    warning = models.ForeignKey(
        FundWarning, null=True, blank=True, on_delete=models.CASCADE, related_name="notices", verbose_name=_("预警")
    )
    created_at = models.DateTimeField(_("时间"), default=timezone.now)
    read_at = models.DateTimeField(_("已读时间"), null=True, blank=True)

    jurisdiction_office_field = "user__office"
    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("站内通知")
        verbose_name_plural = _("站内通知")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "read_at"], name="notice_user_unread")]
        constraints = [
            models.UniqueConstraint(fields=["user", "warning"], name="notice_once_per_user_warning"),
        ]

    def __str__(self) -> str:
        return self.text[:40]


# ---------------------------------------------------------------------------------------------
# National pooling (全国统筹调剂) and imported expenditure.


class RemittanceDirection(models.TextChoices):
    UP = "up", _("上解")
    DOWN = "down", _("下拨")


class Remittance(models.Model):
    """上解 to or 下拨 from the provincial/national pool of the basic pension fund, with its document."""

    uid = models.UUIDField(_("编号"), default=uuid.uuid4, unique=True, editable=False)
    fund = models.ForeignKey(Fund, on_delete=models.PROTECT, related_name="remittances", verbose_name=_("基金"))
    office = models.ForeignKey(
        "registry.Office", on_delete=models.PROTECT, related_name="+", verbose_name=_("经办机构")
    )
    direction = models.CharField(_("方向"), max_length=4, choices=RemittanceDirection.choices)
    amount = models.DecimalField(_("金额"), **MONEY)
    booked_on = models.DateField(_("记账日期"))
    document_number = models.CharField(_("文件号"), max_length=80)
    document_title = models.CharField(_("文件标题"), max_length=200, blank=True)
    attachment = models.FileField(_("文件扫描件"), upload_to="funds/remittances/%Y/", blank=True)
    note = models.CharField(_("备注"), max_length=200, blank=True)
    transaction = models.OneToOneField(
        LedgerTransaction,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="remittance",
        verbose_name=_("记账凭证"),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("经办人")
    )
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now)

    jurisdiction_office_field = "office"
    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("全国统筹上解下拨")
        verbose_name_plural = _("全国统筹上解下拨")
        ordering = ["-booked_on", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="remittance_amount_positive"),
            models.UniqueConstraint(
                fields=["fund", "direction", "document_number"], name="remittance_once_per_document"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_direction_display()} {self.amount} {self.document_number}"


class ExpenditureImport(models.Model):
    """An uploaded file of monthly expenditure totals (fund × district × month)."""

    uid = models.UUIDField(_("编号"), default=uuid.uuid4, unique=True, editable=False)
    file_name = models.CharField(_("文件名"), max_length=200)
    office = models.ForeignKey(
        "registry.Office", on_delete=models.PROTECT, related_name="+", verbose_name=_("导入机构")
    )
    rows = models.PositiveIntegerField(_("行数"), default=0)
    total = models.DecimalField(_("金额合计"), default=0, **MONEY)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("导入人")
    )
    created_at = models.DateTimeField(_("导入时间"), default=timezone.now)

    jurisdiction_office_field = "office"
    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("月度支出导入")
        verbose_name_plural = _("月度支出导入")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.file_name} ({self.rows})"


class ExpenditureImportLine(models.Model):
    batch = models.ForeignKey(
        ExpenditureImport, on_delete=models.PROTECT, related_name="lines", verbose_name=_("导入批次")
    )
    row = models.PositiveIntegerField(_("行号"))
    fund = models.ForeignKey(Fund, on_delete=models.PROTECT, related_name="+", verbose_name=_("基金"))
    office = models.ForeignKey("registry.Office", on_delete=models.PROTECT, related_name="+", verbose_name=_("所属区"))
    period = models.PositiveIntegerField(_("月份"))
    account = models.CharField(_("科目"), max_length=24, choices=Account.choices)
    amount = models.DecimalField(_("金额"), **MONEY)

    jurisdiction_office_field = "office"
    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("月度支出导入明细")
        verbose_name_plural = _("月度支出导入明细")
        ordering = ["batch", "row"]
        constraints = [models.CheckConstraint(condition=~Q(amount=0), name="expenditure_line_not_zero")]

    def __str__(self) -> str:
        return f"{self.period} {self.fund} {self.amount}"
