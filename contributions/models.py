"""Five-insurance joint collection (五险合征): declarations, bill runs, bills, payments and allocations.

Issued bills and their lines never change (PostgreSQL triggers refuse it); corrections are new
adjustment bills. How much of a bill is paid is derived from allocations, which are append-only
too: a wrong allocation is undone by a reversing allocation.
"""

from __future__ import annotations

import operator
import uuid
from decimal import Decimal
from functools import reduce
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce
from django.utils.translation import gettext_lazy as _

from contributions.exchange.problems import line_problem_text
from registry.jurisdiction import JurisdictionQuerySet
from registry.models import InsuranceType, audit_history

MONEY = {"max_digits": 14, "decimal_places": 2}
ZERO_MONEY = Decimal("0.00")


class Channel(models.TextChoices):
    COUNTER = "counter", _("柜面")
    API = "api", _("接口")
    FILE = "file", _("文件")
    ONLINE = "online", _("网上服务大厅")


class WorkInjuryFloat(models.Model):
    """An employer's work-injury float grade (浮动费率) as a ratio of its class's benchmark rate."""

    employer = models.ForeignKey("registry.Employer", on_delete=models.PROTECT, verbose_name=_("参保单位"))
    ratio = models.DecimalField(
        _("浮动比例"), max_digits=4, decimal_places=2, help_text=_("如 0.50、0.80、1.00、1.20、1.50")
    )
    valid_from = models.DateField(_("起始日期"))
    valid_to = models.DateField(_("截止日期（不含）"), null=True, blank=True)
    basis = models.CharField(_("依据"), max_length=200, blank=True)
    history = audit_history()

    jurisdiction_office_field = "employer__office"
    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("工伤浮动费率")
        verbose_name_plural = _("工伤浮动费率")
        constraints = [
            models.CheckConstraint(condition=Q(ratio__gt=0), name="injury_float_positive"),
            models.CheckConstraint(
                condition=Q(valid_to__isnull=True) | Q(valid_to__gt=models.F("valid_from")), name="injury_float_period"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.employer} ×{self.ratio}"


class DeclarationStatus(models.TextChoices):
    OPEN = "open", _("可更正")
    LOCKED = "locked", _("已核定（只能通过调整更正）")


class Declaration(models.Model):
    """申报: an employer's contribution bases for its employees for one month."""

    uid = models.UUIDField(_("编号"), default=uuid.uuid4, unique=True, editable=False)
    employer = models.ForeignKey(
        "registry.Employer", on_delete=models.PROTECT, related_name="declarations", verbose_name=_("参保单位")
    )
    period = models.PositiveIntegerField(_("所属期"))
    status = models.CharField(
        _("状态"), max_length=8, choices=DeclarationStatus.choices, default=DeclarationStatus.OPEN
    )
    channel = models.CharField(_("渠道"), max_length=8, choices=Channel.choices, default=Channel.COUNTER)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)
    history = audit_history()

    jurisdiction_office_field = "employer__office"
    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("缴费基数申报")
        verbose_name_plural = _("缴费基数申报")
        constraints = [
            models.UniqueConstraint(fields=["employer", "period"], name="declaration_one_per_employer_period"),
            models.CheckConstraint(
                condition=Q(period__gte=200001, period__lte=209912), name="declaration_period_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.employer} {self.period}"


class BaseClamp(models.TextChoices):
    NONE = "", _("未调整")
    FLOOR = "floor", _("低于下限，按下限")
    CEILING = "ceiling", _("高于上限，按上限")


class DeclarationLine(models.Model):
    declaration = models.ForeignKey(Declaration, on_delete=models.CASCADE, related_name="lines", verbose_name=_("申报"))
    person = models.ForeignKey("registry.Person", on_delete=models.PROTECT, verbose_name=_("参保人员"))
    declared_base = models.DecimalField(_("申报基数"), **MONEY)
    base = models.DecimalField(_("核定基数"), **MONEY)
    clamp = models.CharField(_("基数调整"), max_length=8, choices=BaseClamp.choices, blank=True, default="")
    history = audit_history()

    jurisdiction_office_field = "declaration__employer__office"
    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("申报明细")
        verbose_name_plural = _("申报明细")
        constraints = [
            models.UniqueConstraint(fields=["declaration", "person"], name="declaration_line_one_per_person"),
            models.CheckConstraint(condition=Q(declared_base__gt=0, base__gt=0), name="declaration_line_base_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.person} {self.base}"


class BillRunScope(models.TextChoices):
    CITY = "city", _("全市")
    DISTRICT = "district", _("一个区")
    EMPLOYER = "employer", _("一个单位")


class BillRunStatus(models.TextChoices):
    QUEUED = "queued", _("排队中")
    RUNNING = "running", _("核定中")
    DONE = "done", _("已完成")
    FAILED = "failed", _("失败")


class BillRun(models.Model):
    """核定: one run of the monthly assessment for a period and a scope."""

    uid = models.UUIDField(_("编号"), default=uuid.uuid4, unique=True, editable=False)
    period = models.PositiveIntegerField(_("所属期"))
    scope = models.CharField(_("范围"), max_length=8, choices=BillRunScope.choices)
    office = models.ForeignKey(
        "registry.Office", on_delete=models.PROTECT, related_name="+", verbose_name=_("范围机构")
    )
    employer = models.ForeignKey(
        "registry.Employer", null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("单位")
    )
    status = models.CharField(_("状态"), max_length=8, choices=BillRunStatus.choices, default=BillRunStatus.QUEUED)
    total = models.PositiveIntegerField(_("待核定单位数"), default=0)
    done = models.PositiveIntegerField(_("已核定单位数"), default=0)
    bills_created = models.PositiveIntegerField(_("生成账单数"), default=0)
    lines_created = models.PositiveIntegerField(_("生成明细数"), default=0)
    floor_lines = models.PositiveIntegerField(_("未申报按下限核定的明细数"), default=0)
    parameters = models.JSONField(_("所用参数版本"), default=dict, blank=True)
    error = models.TextField(_("错误"), blank=True)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("发起人")
    )
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    started_at = models.DateTimeField(_("开始时间"), null=True, blank=True)
    finished_at = models.DateTimeField(_("完成时间"), null=True, blank=True)
    # The sweeper (services.sweeper) re-enqueues a job whose task is gone; when and how often, for the operator.
    requeued_at = models.DateTimeField(_("最近重新排队时间"), null=True, blank=True)
    requeue_count = models.PositiveSmallIntegerField(_("重新排队次数"), default=0)

    jurisdiction_office_field = "office"
    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("核定批次")
        verbose_name_plural = _("核定批次")
        ordering = ["-created_at"]
        constraints = [
            # Two runs of one period can never be active at once, whatever their scopes.
            models.UniqueConstraint(
                fields=["period"],
                condition=Q(status__in=["queued", "running"]),
                name="bill_run_one_active_per_period",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.period} {self.get_scope_display()} {self.office}"

    @property
    def progress_percent(self) -> int:
        return int(100 * self.done / self.total) if self.total else (100 if self.status == BillRunStatus.DONE else 0)


class BillKind(models.TextChoices):
    REGULAR = "regular", _("单位月度账单")
    FLEXIBLE = "flexible", _("灵活就业月度账单")
    RES_PENSION = "res_pension", _("城乡居民养老保险年度缴费")
    RES_MEDICAL = "res_medical", _("城乡居民医疗保险年度缴费")
    LAND_FARMER = "land_farmer", _("被征地农民保障缴费")
    ARREARS = "arrears", _("补缴")
    REFUND = "refund", _("退费")
    LATE_FEE = "late_fee", _("滞纳金")


ADJUSTMENT_KINDS = (BillKind.ARREARS, BillKind.REFUND)
# Bills that bear no late fee: refunds, and late-fee bills themselves (no fee on a fee).
NO_LATE_FEE_KINDS = (BillKind.REFUND, BillKind.LATE_FEE)


class Bill(models.Model):
    """An issued bill. Never changed after issue: corrections are adjustment bills (``corrects``)."""

    uid = models.UUIDField(_("编号"), default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(_("类型"), max_length=12, choices=BillKind.choices)
    period = models.PositiveIntegerField(_("所属期"))
    employer = models.ForeignKey(
        "registry.Employer",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="bills",
        verbose_name=_("缴费单位"),
    )
    person = models.ForeignKey(
        "registry.Person",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="bills",
        verbose_name=_("缴费个人"),
    )
    office = models.ForeignKey(
        "registry.Office", on_delete=models.PROTECT, related_name="+", verbose_name=_("经办机构")
    )
    bill_run = models.ForeignKey(
        BillRun, null=True, blank=True, on_delete=models.PROTECT, related_name="bills", verbose_name=_("核定批次")
    )
    corrects = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="adjustments",
        verbose_name=_("更正的账单"),
    )
    reason = models.CharField(_("原因"), max_length=200, blank=True)
    # 滞纳金: the bill whose late fee this late-fee bill charges (one late-fee bill per bill).
    fee_for = models.OneToOneField(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="late_fee_bill",
        verbose_name=_("计收滞纳金的账单"),
    )
    # The late fee runs from the day after this date; empty: after ``due_date``. A 补缴 bill for the payer's
    # own corrected declaration carries the original month's due date (社会保险法第八十六条: from the day the
    # arrears began).
    late_fee_since = models.DateField(_("滞纳金起算基准日"), null=True, blank=True)
    total_employer = models.DecimalField(_("单位应缴"), default=0, **MONEY)
    total_individual = models.DecimalField(_("个人应缴"), default=0, **MONEY)
    total = models.DecimalField(_("应缴合计"), default=0, **MONEY)
    subsidy_city = models.DecimalField(_("市级财政补贴"), default=0, **MONEY)
    subsidy_district = models.DecimalField(_("区级财政补贴"), default=0, **MONEY)
    subsidy_other = models.DecimalField(_("集体及其他补助"), default=0, **MONEY)
    details = models.JSONField(_("核定依据"), default=dict, blank=True)
    due_date = models.DateField(_("缴费截止日"))
    issued_at = models.DateTimeField(_("出账时间"), null=True, blank=True)
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("出账人"),
    )

    jurisdiction_office_field = "office"
    change_feed_type = "bill"  # registry.feed.changes: every save/delete is an event of the change feed
    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("账单")
        verbose_name_plural = _("账单")
        indexes = [
            models.Index(fields=["employer", "period"], name="bill_employer_period"),
            models.Index(fields=["person", "period"], name="bill_person_period"),
            models.Index(fields=["bill_run"], name="bill_run_idx"),
            models.Index(fields=["period", "kind"], name="bill_period_kind"),
        ]
        constraints = [
            # Idempotent runs: one regular bill per employer and month, one personal bill per kind and period.
            models.UniqueConstraint(
                fields=["employer", "period"], condition=Q(kind="regular"), name="bill_one_regular_per_employer_period"
            ),
            models.UniqueConstraint(
                fields=["person", "period", "kind"],
                condition=Q(kind__in=["flexible", "res_pension", "res_medical", "land_farmer"]),
                name="bill_one_personal_per_period_kind",
            ),
            models.CheckConstraint(
                condition=Q(employer__isnull=False) | Q(person__isnull=False), name="bill_has_payer"
            ),
            models.CheckConstraint(
                condition=Q(kind__in=["arrears", "refund"]) | Q(corrects__isnull=True),
                name="bill_only_adjustments_correct",
            ),
            models.CheckConstraint(
                condition=Q(kind="refund", total__lte=0) | ~Q(kind="refund"), name="bill_refund_not_positive"
            ),
            models.CheckConstraint(
                condition=Q(kind="late_fee", fee_for__isnull=False) | ~Q(kind="late_fee") & Q(fee_for__isnull=True),
                name="bill_late_fee_names_its_bill",
            ),
        ]

    def __str__(self) -> str:
        payer = self.employer or self.person
        return f"{self.period} {self.get_kind_display()} {payer}"

    @property
    def late_fee_start(self):
        """The date after which the late fee runs (``late_fee_since`` or the due date)."""
        return self.late_fee_since or self.due_date


INSURANCE_ORDER = [
    InsuranceType.EMPLOYEE_PENSION,
    InsuranceType.EMPLOYEE_MEDICAL,
    InsuranceType.UNEMPLOYMENT,
    InsuranceType.WORK_INJURY,
    InsuranceType.MATERNITY,
    InsuranceType.RESIDENT_PENSION,
    InsuranceType.RESIDENT_MEDICAL,
    InsuranceType.LAND_FARMER,
]


class BillTotal(models.Model):
    """A bill's amount per insurance (and per payer side): what payments are allocated to."""

    bill = models.ForeignKey(Bill, on_delete=models.PROTECT, related_name="totals", verbose_name=_("账单"))
    insurance_type = models.CharField(_("险种"), max_length=16, choices=InsuranceType.choices)
    employer_amount = models.DecimalField(_("单位部分"), **MONEY)
    individual_amount = models.DecimalField(_("个人部分"), **MONEY)
    amount = models.DecimalField(_("合计"), **MONEY)

    jurisdiction_office_field = "bill__office"
    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("账单险种合计")
        verbose_name_plural = _("账单险种合计")
        constraints = [models.UniqueConstraint(fields=["bill", "insurance_type"], name="bill_total_one_per_insurance")]

    def __str__(self) -> str:
        return f"{self.bill_id} {self.insurance_type} {self.amount}"


class BillSettlement(models.Model):
    """Whether an issued bill is settled (paid ≥ total): the arrears list reads only the open bills (issue 22).

    A table of its own, not a column on the bill, so the bill row stays immutable (its trigger refuses every
    UPDATE after issue). Written only by database triggers (migration 0020): a row at issue, and ``paid`` moved
    by every allocation inserted (API payments, payment files, credit use, reversals), so no allocation path can
    forget it; a reversal that leaves the bill short clears ``settled_at`` again. ``paid`` is a running sum the
    selectors do not trust for money: they still compute the open amount from the allocations."""

    bill = models.OneToOneField(
        Bill, primary_key=True, on_delete=models.CASCADE, related_name="settlement", verbose_name=_("账单")
    )
    total = models.DecimalField(_("应缴合计"), **MONEY)
    paid = models.DecimalField(_("已分配"), default=0, **MONEY)
    settled_at = models.DateTimeField(_("结清时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("账单结清状态")
        verbose_name_plural = _("账单结清状态")
        indexes = [
            models.Index(fields=["bill"], name="bill_settlement_open", condition=models.Q(settled_at__isnull=True))
        ]

    def __str__(self) -> str:
        return f"{self.bill_id} {self.paid}/{self.total}"


class BaseSource(models.TextChoices):
    DECLARED = "declared", _("申报")
    FLOOR = "floor", _("未申报，按下限")
    FIXED = "fixed", _("定额")
    CHOSEN = "chosen", _("灵活就业自选基数")


class BillLine(models.Model):
    """One person × one insurance on a bill."""

    # Without their own single-column indexes: bill_line_bill and bill_line_person_period (Meta) serve both, and
    # every index of this table is written 60 million times a year by the bill run.
    bill = models.ForeignKey(
        Bill, on_delete=models.PROTECT, related_name="lines", verbose_name=_("账单"), db_index=False
    )
    person = models.ForeignKey(
        "registry.Person", on_delete=models.PROTECT, related_name="+", verbose_name=_("参保人员"), db_index=False
    )
    insurance_type = models.CharField(_("险种"), max_length=16, choices=InsuranceType.choices)
    # The partition key (PostgreSQL: one partition per period, migration 0018; registry.partitions): the primary
    # key in the database is (id, period).
    period = models.PositiveIntegerField(_("所属期"))
    base = models.DecimalField(_("缴费基数"), **MONEY)
    base_source = models.CharField(_("基数来源"), max_length=8, choices=BaseSource.choices, default=BaseSource.DECLARED)
    employer_rate = models.DecimalField(_("单位费率"), max_digits=9, decimal_places=6)
    individual_rate = models.DecimalField(_("个人费率"), max_digits=9, decimal_places=6)
    employer_amount = models.DecimalField(_("单位应缴"), **MONEY)
    individual_amount = models.DecimalField(_("个人应缴"), **MONEY)

    jurisdiction_office_field = "bill__office"
    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("账单明细")
        verbose_name_plural = _("账单明细")
        indexes = [
            models.Index(fields=["bill"], name="bill_line_bill"),
            models.Index(fields=["person", "period"], name="bill_line_person_period"),
        ]

    def __str__(self) -> str:
        return f"{self.person_id} {self.insurance_type} {self.period}"


class PayerType(models.TextChoices):
    EMPLOYER = "employer", _("单位")
    PERSON = "person", _("个人")


class Payment(models.Model):
    """到账: money the collecting agency reports as received. Recorded once per agency reference."""

    uid = models.UUIDField(_("编号"), default=uuid.uuid4, unique=True, editable=False)
    # Unique by the constraint in Meta, not unique=True, which would add a second (LIKE) index nobody uses.
    agency_reference = models.CharField(_("征收机构流水号"), max_length=64)
    payer_type = models.CharField(_("缴费方类型"), max_length=8, choices=PayerType.choices)
    employer = models.ForeignKey(
        "registry.Employer",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="payments",
        verbose_name=_("单位"),
        db_index=False,  # payment_employer in Meta: partial, a person's payment has no entry in it
    )
    person = models.ForeignKey(
        "registry.Person",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="payments",
        verbose_name=_("个人"),
        db_index=False,  # payment_person in Meta, likewise
    )
    office = models.ForeignKey(
        "registry.Office", on_delete=models.PROTECT, related_name="+", verbose_name=_("经办机构")
    )
    amount = models.DecimalField(_("金额"), **MONEY)
    paid_on = models.DateField(_("到账日期"))
    channel = models.CharField(_("渠道"), max_length=8, choices=Channel.choices, default=Channel.API)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("登记人"),
        db_index=False,  # never searched by; a payment file writes a million rows
    )
    recorded_at = models.DateTimeField(_("登记时间"), auto_now_add=True)

    jurisdiction_office_field = "office"
    change_feed_type = "payment"
    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("到账记录")
        verbose_name_plural = _("到账记录")
        # Every payment has one of the two payers: partial indexes keep the NULL half out of each (a payment
        # file writes a million rows; an index entry per NULL was half a second of it).
        indexes = [
            models.Index(fields=["employer"], condition=Q(employer__isnull=False), name="payment_employer"),
            models.Index(fields=["person"], condition=Q(person__isnull=False), name="payment_person"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["agency_reference"], name="payment_agency_reference_once"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="payment_amount_positive"),
            models.CheckConstraint(
                condition=Q(payer_type="employer", employer__isnull=False, person__isnull=True)
                | Q(payer_type="person", person__isnull=False, employer__isnull=True),
                name="payment_payer_matches_type",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.agency_reference} {self.amount}"


class PaymentAllocation(models.Model):
    """Where a payment went: to one insurance of one bill, or (bill empty) to the payer's credit.

    Append-only; a reversal is a new row with the opposite amount pointing at the row it reverses.
    Using credit for a later bill is a pair of rows: −x on credit, +x on the bill.
    """

    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="allocations", verbose_name=_("到账"))
    # No single-column index on bill: allocation_bill_insurance (bill, insurance_type) serves every lookup by bill.
    bill = models.ForeignKey(
        Bill,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="allocations",
        verbose_name=_("账单"),
        db_index=False,
    )
    insurance_type = models.CharField(_("险种"), max_length=16, choices=InsuranceType.choices, blank=True)
    amount = models.DecimalField(_("金额"), **MONEY)
    # At most one reversal per row: allocation_reverses_once in Meta, partial because almost every row reverses
    # nothing (a unique index over two million NULLs was about a second of each payment file).
    reverses = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="reversed_by",
        verbose_name=_("冲销"),
        db_index=False,
    )
    note = models.CharField(_("说明"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("时间"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("操作人"),
        db_index=False,  # never searched by; a payment file writes two million rows
    )

    jurisdiction_office_field = "payment__office"
    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("到账分配")
        verbose_name_plural = _("到账分配")
        indexes = [models.Index(fields=["bill", "insurance_type"], name="allocation_bill_insurance")]
        constraints = [
            models.UniqueConstraint(
                fields=["reverses"], condition=Q(reverses__isnull=False), name="allocation_reverses_once"
            ),
            models.CheckConstraint(condition=~Q(amount=0), name="allocation_not_zero"),
            models.CheckConstraint(
                condition=Q(bill__isnull=True, insurance_type="") | Q(bill__isnull=False) & ~Q(insurance_type=""),
                name="allocation_bill_has_insurance",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.payment_id}→{self.bill_id or 'credit'} {self.amount}"


class ResidentPensionChoice(models.Model):
    """A resident's chosen contribution grade (缴费档次) for one year."""

    person = models.ForeignKey("registry.Person", on_delete=models.PROTECT, verbose_name=_("参保人员"))
    year = models.PositiveSmallIntegerField(_("年度"))
    grade = models.PositiveSmallIntegerField(_("档次"))
    chosen_at = models.DateTimeField(_("选择时间"), auto_now_add=True)
    history = audit_history()

    jurisdiction_office_field = "person__residence_office"
    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("居民养老缴费档次")
        verbose_name_plural = _("居民养老缴费档次")
        constraints = [models.UniqueConstraint(fields=["person", "year"], name="res_pension_choice_one_per_year")]

    def __str__(self) -> str:
        return f"{self.person} {self.year} 第{self.grade}档"


class FlexibleBaseChoice(models.Model):
    """灵活就业: the contribution base a flexible worker chose, as a percentage of the average wage between the floor
    and the ceiling (60–300 %, ``base.floor_ratio`` / ``base.ceiling_ratio``), from a month on. Without a choice the
    bill run bills the floor. Bills already issued keep their base; a new choice applies to the months after."""

    person = models.ForeignKey(
        "registry.Person", on_delete=models.PROTECT, related_name="+", verbose_name=_("参保人员"), db_index=False
    )
    valid_from = models.PositiveIntegerField(_("起始所属期"), help_text=_("YYYYMM"))
    percent = models.PositiveSmallIntegerField(_("缴费基数（平均工资的百分比）"))
    chosen_at = models.DateTimeField(_("选择时间"), auto_now_add=True)
    chosen_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("经办人")
    )
    history = audit_history()

    jurisdiction_office_field = "person__residence_office"
    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("灵活就业缴费基数选择")
        verbose_name_plural = _("灵活就业缴费基数选择")
        constraints = [
            models.UniqueConstraint(fields=["person", "valid_from"], name="flexible_base_once_per_month"),
            models.CheckConstraint(condition=Q(percent__gte=1, percent__lte=1000), name="flexible_base_percent_range"),
        ]

    def __str__(self) -> str:
        return f"{self.person} {self.valid_from} {self.percent}%"


# ---------------------------------------------------------------------------------------------
# Exchange files with the collecting agency (征收机构): bills out, payments in (docs/exchange-files.md).


class ExportFormat(models.TextChoices):
    CSV = "csv", _("CSV")
    XLSX = "xlsx", _("Excel（.xlsx）")


class ExportEncoding(models.TextChoices):
    NONE = "", _("—（xlsx）")
    UTF8 = "utf-8", _("UTF-8")
    GBK = "gbk", _("GBK")


class ExportStatus(models.TextChoices):
    QUEUED = "queued", _("排队中")
    DONE = "done", _("已生成")
    FAILED = "failed", _("失败")


class BillExport(models.Model):
    """One bill file of a period and a scope office for the collecting agency, with its SHA-256 beside it."""

    uid = models.UUIDField(_("编号"), default=uuid.uuid4, unique=True, editable=False)
    period = models.PositiveIntegerField(_("所属期"))
    office = models.ForeignKey(
        "registry.Office", on_delete=models.PROTECT, related_name="+", verbose_name=_("范围机构")
    )
    format = models.CharField(_("格式"), max_length=4, choices=ExportFormat.choices)
    encoding = models.CharField(_("编码"), max_length=8, choices=ExportEncoding.choices, blank=True, default="")
    status = models.CharField(_("状态"), max_length=8, choices=ExportStatus.choices, default=ExportStatus.QUEUED)
    file = models.FileField(_("文件"), max_length=255, blank=True)
    sha256 = models.CharField(_("SHA-256"), max_length=64, blank=True)
    size = models.PositiveBigIntegerField(_("字节数"), default=0)
    bill_count = models.PositiveIntegerField(_("账单数"), default=0)
    employer_bill_count = models.PositiveIntegerField(_("单位账单数"), default=0)
    person_bill_count = models.PositiveIntegerField(_("个人账单数"), default=0)
    total_employer = models.DecimalField(_("单位应缴合计"), default=0, **MONEY)
    total_individual = models.DecimalField(_("个人应缴合计"), default=0, **MONEY)
    total = models.DecimalField(_("应缴合计"), default=0, **MONEY)
    open_amount = models.DecimalField(_("未缴合计"), default=0, **MONEY)
    insurance_totals = models.JSONField(_("分险种合计"), default=dict, blank=True)
    last_bill_id = models.BigIntegerField(_("最大账单内部号"), null=True, blank=True)
    replaced_chars = models.PositiveIntegerField(
        _("GBK 无法表示而替换为“?”的字符数"), default=0, help_text=_("只影响名称列；代码和金额都是 ASCII。")
    )
    error = models.TextField(_("错误"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("生成人"),
    )
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    finished_at = models.DateTimeField(_("完成时间"), null=True, blank=True)
    # The sweeper (services.sweeper) re-enqueues a job whose task is gone; when and how often, for the operator.
    requeued_at = models.DateTimeField(_("最近重新排队时间"), null=True, blank=True)
    requeue_count = models.PositiveSmallIntegerField(_("重新排队次数"), default=0)

    jurisdiction_office_field = "office"
    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("账单导出文件")
        verbose_name_plural = _("账单导出文件")
        ordering = ["-id"]
        indexes = [models.Index(fields=["period", "office"], name="bill_export_period_office")]
        constraints = [
            models.CheckConstraint(
                condition=Q(format="xlsx", encoding="") | Q(format="csv", encoding__in=["utf-8", "gbk"]),
                name="bill_export_format_encoding",
            )
        ]

    def __str__(self) -> str:
        return f"{self.period} {self.office} {self.format}{'/' + self.encoding if self.encoding else ''}"

    @property
    def file_name(self) -> str:
        return self.file.name.rsplit("/", 1)[-1] if self.file else ""


class PaymentFileMode(models.TextChoices):
    STRICT = "strict", _("严格：有任何错误行则整份拒收")
    SKIP_BAD = "skip_bad", _("跳过错误行：导入正确行，错误行留待更正（管理员选择）")


class PaymentFileStatus(models.TextChoices):
    QUEUED = "queued", _("排队中")
    PROCESSING = "processing", _("导入中")
    IMPORTED = "imported", _("已导入")
    PENDING_LINES = "pending", _("已导入，有待更正的错误行")
    REJECTED = "rejected", _("已拒收（未写入任何到账）")
    FAILED = "failed", _("失败")


PAYMENT_FILE_LIVE = ("queued", "processing", "imported", "pending")


class PaymentFile(models.Model):
    """到账文件: the collecting agency's payment file. A file (by SHA-256) is imported once; a rejected or
    failed one may be uploaded again. The bytes are kept under MEDIA_ROOT as evidence."""

    uid = models.UUIDField(_("编号"), default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(_("文件名"), max_length=200)
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    size = models.PositiveBigIntegerField(_("字节数"), default=0)
    file = models.FileField(_("文件"), max_length=255, blank=True)
    office = models.ForeignKey(
        "registry.Office", on_delete=models.PROTECT, related_name="+", verbose_name=_("导入机构（辖区）")
    )
    mode = models.CharField(
        _("导入方式"), max_length=8, choices=PaymentFileMode.choices, default=PaymentFileMode.STRICT
    )
    status = models.CharField(
        _("状态"), max_length=10, choices=PaymentFileStatus.choices, default=PaymentFileStatus.QUEUED
    )
    channel = models.CharField(_("渠道"), max_length=8, choices=Channel.choices, default=Channel.FILE)
    line_count = models.PositiveIntegerField(_("数据行数"), default=0)
    imported_count = models.PositiveIntegerField(_("新登记到账笔数"), default=0)
    repeat_count = models.PositiveIntegerField(_("已登记过的到账笔数（未重复登记）"), default=0)
    bad_count = models.PositiveIntegerField(_("错误行数"), default=0)
    open_bad_count = models.PositiveIntegerField(_("待更正的错误行数"), default=0)
    imported_amount = models.DecimalField(_("新登记到账金额"), default=0, **MONEY)
    credit_amount = models.DecimalField(_("其中转入结余"), default=0, **MONEY)
    bad_amount = models.DecimalField(_("错误行金额（可识别部分）"), default=0, **MONEY)
    periods = models.JSONField(_("涉及所属期"), default=list, blank=True)
    report = models.JSONField(_("错误报告"), default=dict, blank=True)
    error = models.TextField(_("错误"), blank=True)
    seconds = models.FloatField(_("处理耗时（秒）"), null=True, blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("上传人")
    )
    created_at = models.DateTimeField(_("上传时间"), auto_now_add=True)
    finished_at = models.DateTimeField(_("完成时间"), null=True, blank=True)
    # The sweeper (services.sweeper) re-enqueues a job whose task is gone; when and how often, for the operator.
    requeued_at = models.DateTimeField(_("最近重新排队时间"), null=True, blank=True)
    requeue_count = models.PositiveSmallIntegerField(_("重新排队次数"), default=0)

    jurisdiction_office_field = "office"
    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("到账文件")
        verbose_name_plural = _("到账文件")
        ordering = ["-id"]
        permissions = [("import_skip_bad", _("可选择跳过错误行导入到账文件"))]
        constraints = [
            # The same file (bytes) is imported once; a rejected or failed attempt does not block another.
            models.UniqueConstraint(
                fields=["sha256"], condition=Q(status__in=PAYMENT_FILE_LIVE), name="payment_file_sha256_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name}（{self.get_status_display()}）"


class LineStatus(models.TextChoices):
    NEW = "new", _("已登记")
    REPEAT = "repeat", _("此前已登记，未重复登记")
    DUPLICATE = "duplicate", _("与本文件前面一行相同，按一笔登记")
    BAD = "bad", _("错误，待更正")
    CORRECTED = "corrected", _("已更正并登记")


class PaymentFileLine(models.Model):
    """One data line of a payment file, as loaded from the staging table. Bad lines keep their original
    cells (``raw``) and the problem so that they can be corrected and imported later.

    The payer and office are what the file's codes resolved to when it was imported; they are written a
    million at a time and never deleted, so they carry no database foreign-key checks (the payments they
    become do)."""

    payment_file = models.ForeignKey(
        PaymentFile, on_delete=models.PROTECT, related_name="lines", verbose_name=_("到账文件"), db_index=False
    )
    line_no = models.PositiveIntegerField(_("行号"))
    reference = models.CharField(_("流水号"), max_length=64, blank=True)
    payer_type = models.CharField(_("缴费方类型"), max_length=8, blank=True)
    payer_code = models.CharField(_("缴费方代码"), max_length=40, blank=True)
    payer_name = models.CharField(_("缴费方名称"), max_length=200, blank=True)
    period = models.PositiveIntegerField(_("所属期"), null=True, blank=True)
    amount = models.DecimalField(_("金额"), null=True, blank=True, **MONEY)
    paid_on = models.DateField(_("到账日期"), null=True, blank=True)
    raw = models.JSONField(_("原始内容"), null=True, blank=True)
    employer = models.ForeignKey(
        "registry.Employer",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("单位"),
        db_index=False,
        db_constraint=False,
    )
    person = models.ForeignKey(
        "registry.Person",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("个人"),
        db_index=False,
        db_constraint=False,
    )
    office = models.ForeignKey(
        "registry.Office",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("经办机构"),
        db_index=False,
        db_constraint=False,
    )
    status = models.CharField(_("状态"), max_length=10, choices=LineStatus.choices)
    problem_code = models.CharField(_("问题"), max_length=24, blank=True)
    problem_detail = models.CharField(_("问题详情"), max_length=200, blank=True)
    corrected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("更正人"),
        db_index=False,
    )
    corrected_at = models.DateTimeField(_("更正时间"), null=True, blank=True)

    jurisdiction_office_field = "payment_file__office"
    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("到账文件行")
        verbose_name_plural = _("到账文件行")
        ordering = ["payment_file", "line_no"]
        # A file's lines in line order are payment_file_line_once's; only the few lines a clerk looks for by
        # status (bad lines and their corrections) have a second entry. The index of every line by status, and
        # the one by (file, reference), which only the reconciliation's NOT EXISTS read (it hashes the file's
        # lines as fast), cost two million index entries of a million-line file (issue 22; migration 0027).
        indexes = [
            models.Index(
                fields=["payment_file", "line_no"],
                name="payment_file_line_to_correct",
                condition=Q(status__in=[LineStatus.BAD, LineStatus.CORRECTED]),
            ),
        ]
        constraints = [
            models.UniqueConstraint(fields=["payment_file", "line_no"], name="payment_file_line_once"),
        ]

    def __str__(self) -> str:
        return f"{self.payment_file_id}:{self.line_no}"

    @property
    def problem_text(self) -> str:
        return line_problem_text(self.line_no, self.problem_code, self.problem_detail) if self.problem_code else ""


class ReconciliationCategory(models.TextChoices):
    MATCHED = "matched", _("相符")
    UNKNOWN_PAYER = "unknown_payer", _("有到账、缴费方不明")
    BILLED_UNPAID = "billed_unpaid", _("已出账、未到账")
    AMOUNT_MISMATCH = "mismatch", _("金额不符")


class ReconciliationItem(models.Model):
    """对账结果: one payer and period of a payment file (or one line whose payer is unknown), in the office
    that owns it. ``due`` is what the payer's issued bills of the period still asked for apart from the
    payments this file reports; ``paid`` is what this file reports.

    Derived rows, computed in SQL from the file's lines and the bills (and recomputable): no database
    foreign-key checks, which would cost a lookup per row for a million rows a night."""

    payment_file = models.ForeignKey(
        PaymentFile,
        on_delete=models.CASCADE,
        related_name="reconciliation",
        verbose_name=_("到账文件"),
        db_index=False,
        db_constraint=False,
    )
    office = models.ForeignKey(
        "registry.Office",
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("经办机构"),
        db_index=False,
        db_constraint=False,
    )
    category = models.CharField(_("对账结果"), max_length=16, choices=ReconciliationCategory.choices)
    payer_type = models.CharField(_("缴费方类型"), max_length=8, blank=True)
    employer = models.ForeignKey(
        "registry.Employer",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("单位"),
        db_index=False,
        db_constraint=False,
    )
    person = models.ForeignKey(
        "registry.Person",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("个人"),
        db_index=False,
        db_constraint=False,
    )
    line = models.ForeignKey(
        PaymentFileLine,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("文件行"),
        db_index=False,
        db_constraint=False,
    )
    payer_code = models.CharField(_("缴费方代码"), max_length=40, blank=True)
    period = models.PositiveIntegerField(_("所属期"), null=True, blank=True)
    due = models.DecimalField(_("应缴（未由其他到账缴清部分）"), default=0, **MONEY)
    paid = models.DecimalField(_("本文件到账"), default=0, **MONEY)
    line_count = models.PositiveIntegerField(_("到账笔数"), default=0)
    first_line = models.PositiveIntegerField(_("首行行号"), null=True, blank=True)

    jurisdiction_office_field = "office"
    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("对账结果")
        verbose_name_plural = _("对账结果")
        # The one index serves the pages, the xlsx and the API (by file, office, category). A correction's
        # look-up by payer scans its file's items with it: an index by payer cost two seconds of every
        # million-line import and saved a correction a few tenths.
        indexes = [
            models.Index(fields=["payment_file", "office", "category"], name="reconciliation_file_office"),
        ]

    def __str__(self) -> str:
        return f"{self.payment_file_id} {self.category} {self.payer_code} {self.period}"

    @property
    def difference(self):
        return self.paid - self.due


class ReconciliationSummary(models.Model):
    """对账汇总: per payment file, office and category, the number of items and the amounts. What the list
    pages and the jurisdiction check read (the items can be millions; these rows are a few hundred)."""

    payment_file = models.ForeignKey(
        PaymentFile, on_delete=models.CASCADE, related_name="summaries", verbose_name=_("到账文件")
    )
    office = models.ForeignKey(
        "registry.Office", on_delete=models.PROTECT, related_name="+", verbose_name=_("经办机构")
    )
    category = models.CharField(_("对账结果"), max_length=16, choices=ReconciliationCategory.choices)
    item_count = models.PositiveIntegerField(_("条数"), default=0)
    line_count = models.PositiveIntegerField(_("到账笔数"), default=0)
    due = models.DecimalField(_("应缴"), default=0, **MONEY)
    paid = models.DecimalField(_("本文件到账"), default=0, **MONEY)

    jurisdiction_office_field = "office"
    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("对账汇总")
        verbose_name_plural = _("对账汇总")
        constraints = [
            models.UniqueConstraint(fields=["payment_file", "office", "category"], name="reconciliation_summary_once")
        ]

    def __str__(self) -> str:
        return f"{self.payment_file_id} {self.office_id} {self.category} {self.item_count}"


# The insurances a monthly history row carries: for each a base, the employer's and the person's amount paid
# (all three empty when the person had no such insurance that month).
HISTORY_INSURANCES: tuple[str, ...] = tuple(InsuranceType.values)


def history_columns(insurance: str) -> tuple[str, str, str]:
    """The base, employer and individual amount columns of ``insurance`` in a history row."""
    return f"{insurance}_base", f"{insurance}_employer", f"{insurance}_individual"


def _history_money(label: Any) -> models.DecimalField:
    return models.DecimalField(label, **MONEY, null=True, blank=True)


def _history_amount() -> Any:
    """The row's amount paid: every insurance's employer and individual amounts (a generated column)."""
    terms = [Coalesce(F(c), Value(Decimal("0.00"))) for i in HISTORY_INSURANCES for c in history_columns(i)[1:]]
    return reduce(operator.add, terms)


class ContributionHistory(models.Model):
    """历史缴费记录: one month of one person as a district's own system recorded it before the city database existed
    — each insurance's base and the employer's and person's amounts paid in one row — migrated by the data
    consolidation (数据大集中, the consolidation app); or, with ``source_city``, a month paid in another city and
    transferred in (养老保险关系转入, 国办发〔2009〕66号; only the transferred insurance filled).

    Counted in the person's paid months (a month with something paid in an insurance counts once, whichever
    district or bill recorded it) and shown on the personal record and certificates. ``office`` is the district that
    delivered the row (one row per person, month and district: a re-delivery changes nothing; two districts' rows
    for one month are both kept, counted once and reported as overlapping). Never changed: PostgreSQL refuses
    UPDATE, and DELETE except for the undo of a merge that loaded the rows
    (``services.contribution_history_withdraw``).
    """

    id = models.BigAutoField(primary_key=True)
    # No single-column indexes: contribution_history_once (person, period, office) serves the person's record; a
    # district's history is tens of millions of rows, and every index is paid for by the load.
    person = models.ForeignKey(
        "registry.Person", on_delete=models.PROTECT, related_name="+", verbose_name=_("参保人员"), db_index=False
    )
    employer = models.ForeignKey(
        "registry.Employer",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("缴费单位"),
        db_index=False,
    )
    period = models.PositiveIntegerField(_("所属期"), help_text=_("YYYYMM"))
    emp_pension_base = _history_money(_("职工养老缴费基数"))
    emp_pension_employer = _history_money(_("职工养老单位缴费"))
    emp_pension_individual = _history_money(_("职工养老个人缴费"))
    emp_medical_base = _history_money(_("职工医疗缴费基数"))
    emp_medical_employer = _history_money(_("职工医疗单位缴费"))
    emp_medical_individual = _history_money(_("职工医疗个人缴费"))
    unemployment_base = _history_money(_("失业缴费基数"))
    unemployment_employer = _history_money(_("失业单位缴费"))
    unemployment_individual = _history_money(_("失业个人缴费"))
    work_injury_base = _history_money(_("工伤缴费基数"))
    work_injury_employer = _history_money(_("工伤单位缴费"))
    work_injury_individual = _history_money(_("工伤个人缴费"))
    maternity_base = _history_money(_("生育缴费基数"))
    maternity_employer = _history_money(_("生育单位缴费"))
    maternity_individual = _history_money(_("生育个人缴费"))
    res_pension_base = _history_money(_("居民养老缴费基数"))
    res_pension_employer = _history_money(_("居民养老单位缴费"))
    res_pension_individual = _history_money(_("居民养老个人缴费"))
    res_medical_base = _history_money(_("居民医疗缴费基数"))
    res_medical_employer = _history_money(_("居民医疗单位缴费"))
    res_medical_individual = _history_money(_("居民医疗个人缴费"))
    land_farmer_base = _history_money(_("被征地农民缴费基数"))
    land_farmer_employer = _history_money(_("被征地农民单位缴费"))
    land_farmer_individual = _history_money(_("被征地农民个人缴费"))
    amount = models.GeneratedField(
        expression=_history_amount(),
        output_field=models.DecimalField(**MONEY),
        db_persist=True,
        verbose_name=_("实缴合计"),
    )
    office = models.ForeignKey(
        "registry.Office", on_delete=models.PROTECT, related_name="+", verbose_name=_("报送区"), db_index=False
    )
    # The consolidation batch (its id and line): no foreign key, the consolidation app sits above this one.
    # Months transferred in from another city (ZY-002, 国办发〔2009〕66号) have no batch: they carry the city that
    # issued the 参保缴费凭证 and the transfer case's id (no foreign key either: cases sits above).
    source_batch_id = models.PositiveBigIntegerField(_("来源批次"), null=True, blank=True)
    source_line = models.PositiveIntegerField(_("来源行号"))
    source_city = models.CharField(_("转出地"), max_length=60, blank=True, default="", db_default="")
    source_case_id = models.PositiveBigIntegerField(_("转入办件"), null=True, blank=True)
    created_at = models.DateTimeField(_("迁移时间"), auto_now_add=True)

    jurisdiction_office_field = "office"
    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("历史缴费记录（迁移）")
        verbose_name_plural = _("历史缴费记录（迁移）")
        # The batch's rows are found by a BRIN index on source_batch_id (migration 0011, PostgreSQL): rows of a
        # batch are appended together, so a few hundred bytes index tens of millions of rows.
        constraints = [
            # A district's month once (a re-delivery skips it); a transfer case's month once.
            models.UniqueConstraint(
                fields=["person", "period", "office"],
                condition=Q(source_batch_id__isnull=False),
                name="contribution_history_once",
            ),
            models.UniqueConstraint(
                fields=["person", "period", "source_case_id"],
                condition=Q(source_case_id__isnull=False),
                name="contribution_history_transfer_once",
            ),
            models.CheckConstraint(
                condition=Q(period__gte=195001, period__lte=209912), name="contribution_history_period_range"
            ),
            models.CheckConstraint(
                condition=Q(**{f"{c}__gte": 0 for i in HISTORY_INSURANCES for c in history_columns(i)}),
                name="contribution_history_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(source_batch_id__isnull=False) | (~Q(source_city="") & Q(source_case_id__isnull=False)),
                name="contribution_history_has_source",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.person_id} {self.period}"

    def insurances(self) -> list[tuple[str, Decimal, Decimal, Decimal]]:
        """(insurance, base, employer amount, individual amount) of each insurance the row carries."""
        out = []
        for insurance in HISTORY_INSURANCES:
            base, employer, individual = (getattr(self, c) for c in history_columns(insurance))
            if base is not None or employer is not None or individual is not None:
                out.append((insurance, base or ZERO_MONEY, employer or ZERO_MONEY, individual or ZERO_MONEY))
        return out


class ResidentMedicalRun(models.Model):
    """One run of the yearly resident medical bills (城乡居民医保年度集中缴费) for an office's area, started from a
    page and executed by a worker township by township (progress done/total), like the monthly bill run."""

    uid = models.UUIDField(_("编号"), default=uuid.uuid4, unique=True, editable=False)
    year = models.PositiveSmallIntegerField(_("缴费年度"))
    office = models.ForeignKey(
        "registry.Office", on_delete=models.PROTECT, related_name="+", verbose_name=_("范围机构")
    )
    status = models.CharField(_("状态"), max_length=8, choices=BillRunStatus.choices, default=BillRunStatus.QUEUED)
    total = models.PositiveIntegerField(_("待处理机构数"), default=0)
    done = models.PositiveIntegerField(_("已处理机构数"), default=0)
    bills_created = models.PositiveIntegerField(_("生成账单数"), default=0)
    error = models.TextField(_("错误"), blank=True)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("发起人")
    )
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    started_at = models.DateTimeField(_("开始时间"), null=True, blank=True)
    finished_at = models.DateTimeField(_("完成时间"), null=True, blank=True)

    jurisdiction_office_field = "office"
    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("居民医保年度核定")
        verbose_name_plural = _("居民医保年度核定")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["year"], condition=Q(status__in=["queued", "running"]), name="res_medical_run_one_active"
            ),
            models.CheckConstraint(condition=Q(year__gte=2000, year__lte=2099), name="res_medical_run_year_range"),
        ]

    def __str__(self) -> str:
        return f"{self.year} {self.office}"

    @property
    def progress_percent(self) -> int:
        return int(100 * self.done / self.total) if self.total else (100 if self.status == BillRunStatus.DONE else 0)


# ---------------------------------------------------------------------------------------------
# Enforcement of arrears (社会保险法第八十六条): late-fee waivers, orders to pay, penalty decisions.


class DecisionStatus(models.TextChoices):
    PROPOSED = "proposed", _("待审批")
    APPROVED = "approved", _("已批准")
    REJECTED = "rejected", _("未批准")


class LateFeeWaiver(models.Model):
    """滞纳金减免: a decision to waive (part of) the late fee of an overdue bill, proposed with a reason and
    approved by a second person. An approved waiver is deducted when the late-fee bill is issued."""

    uid = models.UUIDField(_("编号"), default=uuid.uuid4, unique=True, editable=False)
    bill = models.ForeignKey(
        Bill, on_delete=models.PROTECT, related_name="late_fee_waivers", verbose_name=_("欠费账单")
    )
    amount = models.DecimalField(_("减免金额"), **MONEY)
    reason = models.CharField(_("减免理由"), max_length=500)
    status = models.CharField(_("状态"), max_length=8, choices=DecisionStatus.choices, default=DecisionStatus.PROPOSED)
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
    decision_note = models.CharField(_("审批意见"), max_length=500, blank=True)
    history = audit_history()

    jurisdiction_office_field = "bill__office"
    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("滞纳金减免")
        verbose_name_plural = _("滞纳金减免")
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="late_fee_waiver_positive"),
            models.CheckConstraint(
                condition=Q(status="proposed") | Q(decided_by__isnull=False), name="late_fee_waiver_decided_by"
            ),
            models.CheckConstraint(
                condition=Q(decided_by__isnull=True) | ~Q(decided_by=models.F("proposed_by")),
                name="late_fee_waiver_four_eyes",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.bill_id} −{self.amount}"


class PaymentOrderStatus(models.TextChoices):
    OPEN = "open", _("限期内")
    SETTLED = "settled", _("已缴清")


class PaymentOrder(models.Model):
    """责令限期缴纳通知: an order to an employer to pay its arrears within a time limit (社会保险法第八十六条;
    社会保险费征缴暂行条例第十三条). The unpaid amount and the bills are those on the day of issue."""

    uid = models.UUIDField(_("编号"), default=uuid.uuid4, unique=True, editable=False)
    number = models.CharField(_("文书编号"), max_length=40, unique=True)
    employer = models.ForeignKey(
        "registry.Employer", on_delete=models.PROTECT, related_name="payment_orders", verbose_name=_("参保单位")
    )
    office = models.ForeignKey(
        "registry.Office", on_delete=models.PROTECT, related_name="+", verbose_name=_("经办机构")
    )
    bills = models.ManyToManyField(Bill, related_name="payment_orders", verbose_name=_("欠费账单"))
    amount = models.DecimalField(_("欠缴金额"), **MONEY)
    issued_on = models.DateField(_("发出日期"))
    pay_by = models.DateField(_("限期缴纳日"))
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("发出人")
    )
    issued_at = models.DateTimeField(_("发出时间"), auto_now_add=True)

    jurisdiction_office_field = "office"
    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("责令限期缴纳通知")
        verbose_name_plural = _("责令限期缴纳通知")
        ordering = ["-issued_on", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="payment_order_amount_positive"),
            models.CheckConstraint(condition=Q(pay_by__gt=models.F("issued_on")), name="payment_order_limit"),
        ]

    def __str__(self) -> str:
        return self.number


class PenaltyDecision(models.Model):
    """罚款决定: 1–3 times the amount still unpaid after an order's time limit (社会保险法第八十六条), proposed by one
    person and approved by another; recorded against the employer."""

    uid = models.UUIDField(_("编号"), default=uuid.uuid4, unique=True, editable=False)
    order = models.ForeignKey(
        PaymentOrder, on_delete=models.PROTECT, related_name="penalties", verbose_name=_("责令限期缴纳通知")
    )
    employer = models.ForeignKey(
        "registry.Employer", on_delete=models.PROTECT, related_name="penalties", verbose_name=_("参保单位")
    )
    unpaid = models.DecimalField(_("逾期未缴金额"), **MONEY)
    multiple = models.DecimalField(_("罚款倍数"), max_digits=4, decimal_places=2)
    amount = models.DecimalField(_("罚款金额"), **MONEY)
    reason = models.CharField(_("理由"), max_length=500)
    status = models.CharField(_("状态"), max_length=8, choices=DecisionStatus.choices, default=DecisionStatus.PROPOSED)
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
    decision_note = models.CharField(_("审批意见"), max_length=500, blank=True)
    history = audit_history()

    jurisdiction_office_field = "order__office"
    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("罚款决定")
        verbose_name_plural = _("罚款决定")
        constraints = [
            models.CheckConstraint(condition=Q(unpaid__gt=0, amount__gt=0), name="penalty_positive"),
            # The statute's ceiling; the parameters fine.arrears_multiple_min/max may narrow it.
            models.CheckConstraint(condition=Q(multiple__gte=1, multiple__lte=3), name="penalty_multiple_statutory"),
            models.CheckConstraint(
                condition=Q(decided_by__isnull=True) | ~Q(decided_by=models.F("proposed_by")),
                name="penalty_four_eyes",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.employer} {self.amount}"
