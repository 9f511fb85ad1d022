"""Monthly benefit payroll (待遇发放) and the yearly certification of recipients (待遇资格认证).

A ``PayrollRun`` pays every running ``cases.BenefitAward`` for one month in set-based SQL
(``payroll.services.run``): one ``PayrollLine`` per award and month — the month's amount and the arrears of earlier
months (``PayrollArrears``, e.g. a pension adjustment entered after its month) — grouped into one ``BankFile`` per
bank. The bank's return file marks each line paid or failed; the paid lines are posted to the fund ledger as benefit
expenditure (``PayrollPosting``), a failed line is re-issued once the account is corrected. ``Suspension`` stops
payment from its month (death, loss of qualification, missing certification); money paid for months after a
late-reported death becomes a ``Recovery`` (receivable). Rules and their sources: docs/payroll.md.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from registry.jurisdiction import JurisdictionQuerySet
from registry.models import InsuranceType, audit_history

MONEY = {"max_digits": 14, "decimal_places": 2}


class Bank(models.TextChoices):
    """Banks that pay benefits to the social security card's financial account (codes: the bank's CNAPS prefix)."""

    ICBC = "102", _("中国工商银行")
    ABC = "103", _("中国农业银行")
    BOC = "104", _("中国银行")
    CCB = "105", _("中国建设银行")
    TZB = "313", _("台州银行")
    RCB = "402", _("台州农商银行")


class PayeeAccount(models.Model):
    """The account a person's benefits are paid to (one per person; a correction changes it, with history). After
    the person's death it is an heir's account (户名 and ID number of the heir): the benefits due up to the death
    are paid to the heir (社会保险法第十四条: 个人账户余额可以继承; months due before the death belong to the estate)."""

    person = models.OneToOneField(
        "registry.Person", on_delete=models.PROTECT, related_name="payee_account", verbose_name=_("人员")
    )
    bank = models.CharField(_("开户银行"), max_length=3, choices=Bank.choices)
    account_number = models.CharField(
        _("银行账号"), max_length=30, validators=[RegexValidator(r"^\d{8,30}$", _("银行账号应为 8–30 位数字。"))]
    )
    holder_name = models.CharField(_("继承人姓名（户名）"), max_length=50, blank=True)
    holder_id_number = models.CharField(_("继承人公民身份号码"), max_length=18, blank=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)
    history = audit_history()

    jurisdiction_office_field = "person__residence_office"

    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("待遇发放账户")
        verbose_name_plural = _("待遇发放账户")

    def __str__(self) -> str:
        return f"{self.get_bank_display()} {self.account_number[-4:]}"


class SuspensionReason(models.TextChoices):
    DEATH = "death", _("死亡")
    DISQUALIFIED = "disqualified", _("丧失领取资格")
    CERTIFICATION = "certification", _("未按期资格认证")


class Suspension(models.Model):
    """Payment of an award stopped from ``from_month``; resumed from ``resumed_month`` (exclusive end).

    Only a suspension for missing certification is paid in arrears once resumed (the person was entitled all
    along); the months of the others stay unpaid. A death is never resumed."""

    award = models.ForeignKey("cases.BenefitAward", on_delete=models.PROTECT, related_name="+", verbose_name=_("待遇"))
    reason = models.CharField(_("原因"), max_length=16, choices=SuspensionReason.choices)
    from_month = models.DateField(_("停发起始月"))
    resumed_month = models.DateField(_("恢复发放月"), null=True, blank=True)
    event_date = models.DateField(_("事件日期"), null=True, blank=True, help_text=_("如死亡日期。"))
    note = models.CharField(_("说明"), max_length=200, blank=True)
    source = models.CharField(_("来源"), max_length=16, default="counter")
    office = models.ForeignKey("registry.Office", on_delete=models.PROTECT, related_name="+", verbose_name=_("机构"))
    created_at = models.DateTimeField(_("登记时间"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("登记人")
    )
    resumed_at = models.DateTimeField(_("恢复时间"), null=True, blank=True)
    resumed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    history = audit_history()

    jurisdiction_office_field = "office"

    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("暂停发放")
        verbose_name_plural = _("暂停发放")
        ordering = ["-from_month", "-pk"]
        indexes = [models.Index(fields=["award", "from_month"], name="payroll_suspension_award")]
        constraints = [
            # At most one open suspension per award: a second reason while suspended is a note, not a row.
            models.UniqueConstraint(
                fields=["award"], condition=Q(resumed_month__isnull=True), name="payroll_suspension_open_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.award_id} {self.get_reason_display()} {self.from_month:%Y-%m}"

    @property
    def back_pay(self) -> bool:
        return self.reason == SuspensionReason.CERTIFICATION


class RecoveryStatus(models.TextChoices):
    OPEN = "open", _("待追回")
    RECOVERED = "recovered", _("已追回")


class Recovery(models.Model):
    """A receivable: benefits paid for months after the award stopped (e.g. a death reported late)."""

    award = models.ForeignKey("cases.BenefitAward", on_delete=models.PROTECT, related_name="+", verbose_name=_("待遇"))
    suspension = models.OneToOneField(
        Suspension, on_delete=models.PROTECT, related_name="recovery", verbose_name=_("停发记录")
    )
    amount = models.DecimalField(_("应追回金额"), **MONEY)
    months = models.JSONField(_("多发月份"), default=list, blank=True)
    status = models.CharField(_("状态"), max_length=10, choices=RecoveryStatus.choices, default=RecoveryStatus.OPEN)
    office = models.ForeignKey("registry.Office", on_delete=models.PROTECT, related_name="+", verbose_name=_("机构"))
    created_at = models.DateTimeField(_("登记时间"), auto_now_add=True)
    history = audit_history()

    jurisdiction_office_field = "office"

    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("多发待遇追回")
        verbose_name_plural = _("多发待遇追回")

    def __str__(self) -> str:
        return f"{self.award_id} {self.amount}"


class RepaymentWay(models.TextChoices):
    TRANSFER = "transfer", _("银行转账退回")
    COUNTER = "counter", _("柜面缴回")


class RecoveryRepayment(models.Model):
    """Money received back against a ``Recovery`` (e.g. the heirs return the pension paid after the death), with the
    bank's or the counter's receipt number. Immutable once recorded (a trigger refuses UPDATE and DELETE): it is posted
    to the fund ledger as a credit of benefit expenditure (the transaction's source is this row); a wrong record is
    corrected by reversing that ledger transaction, never by editing."""

    uid = models.UUIDField(_("编号"), default=uuid.uuid4, unique=True, editable=False)
    recovery = models.ForeignKey(
        Recovery, on_delete=models.PROTECT, related_name="repayments", verbose_name=_("多发待遇追回")
    )
    amount = models.DecimalField(_("退回金额"), **MONEY)
    received_on = models.DateField(_("到账日期"))
    way = models.CharField(_("退回方式"), max_length=10, choices=RepaymentWay.choices)
    document_number = models.CharField(_("回单号"), max_length=40)
    note = models.CharField(_("说明"), max_length=200, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("登记人")
    )
    recorded_at = models.DateTimeField(_("登记时间"), auto_now_add=True)
    history = audit_history()

    jurisdiction_office_field = "recovery__office"

    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("追回到账")
        verbose_name_plural = _("追回到账")
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="recovery_repayment_positive"),
            # One receipt is recorded once: a clerk pressing twice, or two clerks, cannot count the money twice.
            models.UniqueConstraint(fields=["recovery", "document_number"], name="recovery_repayment_receipt_once"),
        ]

    def __str__(self) -> str:
        return f"{self.recovery_id} {self.amount} {self.document_number}"


class CertificationChannel(models.TextChoices):
    COUNTER = "counter", _("柜面认证")
    ONLINE = "online", _("网上认证")
    SYSTEM = "system", _("部门数据比对")


class Certification(models.Model):
    """One yearly certification (alive and entitled) of a benefit recipient."""

    person = models.ForeignKey("registry.Person", on_delete=models.PROTECT, related_name="+", verbose_name=_("人员"))
    certified_on = models.DateField(_("认证日期"))
    channel = models.CharField(_("认证方式"), max_length=10, choices=CertificationChannel.choices)
    office = models.ForeignKey("registry.Office", on_delete=models.PROTECT, related_name="+", verbose_name=_("机构"))
    note = models.CharField(_("说明"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("登记时间"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("登记人")
    )

    jurisdiction_office_field = "office"

    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("资格认证")
        verbose_name_plural = _("资格认证")
        ordering = ["-certified_on", "-pk"]
        indexes = [models.Index(fields=["person", "-certified_on"], name="payroll_cert_person")]

    def __str__(self) -> str:
        return f"{self.person_id} {self.certified_on}"


class CertificationReminder(models.Model):
    """A recipient was told his certification is due (once per due date)."""

    person = models.ForeignKey("registry.Person", on_delete=models.PROTECT, related_name="+", verbose_name=_("人员"))
    due_on = models.DateField(_("应认证日期"))
    reminded_on = models.DateField(_("提醒日期"))
    office = models.ForeignKey("registry.Office", on_delete=models.PROTECT, related_name="+", verbose_name=_("机构"))

    jurisdiction_office_field = "office"

    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("认证提醒")
        verbose_name_plural = _("认证提醒")
        constraints = [models.UniqueConstraint(fields=["person", "due_on"], name="payroll_reminder_once")]

    def __str__(self) -> str:
        return f"{self.person_id} {self.due_on}"


class RunStatus(models.TextChoices):
    QUEUED = "queued", _("排队中")
    RUNNING = "running", _("发放计算中")
    DONE = "done", _("已生成")
    FAILED = "failed", _("失败")


class PayrollRun(models.Model):
    """One month's payroll of every running benefit of the city (市区统筹: one run, all districts)."""

    uid = models.UUIDField(_("编号"), default=uuid.uuid4, unique=True, editable=False)
    period = models.PositiveIntegerField(_("发放月份"), help_text=_("YYYYMM"))
    pay_date = models.DateField(_("发放日期"))
    status = models.CharField(_("状态"), max_length=10, choices=RunStatus.choices, default=RunStatus.QUEUED)
    office = models.ForeignKey("registry.Office", on_delete=models.PROTECT, related_name="+", verbose_name=_("机构"))
    total = models.PositiveIntegerField(_("待遇总数"), default=0)
    done = models.PositiveIntegerField(_("已处理"), default=0)
    lines = models.PositiveIntegerField(_("发放笔数"), default=0)
    amount = models.DecimalField(_("发放总额"), default=0, **MONEY)
    arrears_amount = models.DecimalField(_("其中补发"), default=0, **MONEY)
    held_lines = models.PositiveIntegerField(_("无账户暂缓"), default=0)
    suspended = models.PositiveIntegerField(_("本次因未认证停发"), default=0)
    reminded = models.PositiveIntegerField(_("本次认证提醒"), default=0)
    parameters = models.JSONField(_("所用参数"), default=dict, blank=True)
    error = models.TextField(_("错误"), blank=True)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("发起人")
    )
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    started_at = models.DateTimeField(_("开始时间"), null=True, blank=True)
    finished_at = models.DateTimeField(_("完成时间"), null=True, blank=True)
    requeued_at = models.DateTimeField(_("重新派发时间"), null=True, blank=True)
    requeue_count = models.PositiveIntegerField(_("重新派发次数"), default=0)

    jurisdiction_office_field = "office"

    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("待遇发放批次")
        verbose_name_plural = _("待遇发放批次")
        ordering = ["-period", "-pk"]
        constraints = [
            # One live or finished run per month; a failed one may be followed by another.
            models.UniqueConstraint(fields=["period"], condition=~Q(status="failed"), name="payroll_run_once")
        ]

    def __str__(self) -> str:
        return f"{self.period} {self.get_status_display()}"


class BankFileStatus(models.TextChoices):
    ISSUED = "issued", _("已生成，待回盘")
    RETURNED = "returned", _("已回盘")


class BankFile(models.Model):
    """The lines of one run paid through one bank (``sequence`` 1 the month's file, 2… re-issues)."""

    run = models.ForeignKey(PayrollRun, on_delete=models.PROTECT, related_name="bank_files", verbose_name=_("批次"))
    bank = models.CharField(_("银行"), max_length=3, choices=Bank.choices)
    sequence = models.PositiveSmallIntegerField(_("序号"), default=1)
    number = models.CharField(_("文件编号"), max_length=40, unique=True)
    count = models.PositiveIntegerField(_("笔数"), default=0)
    total = models.DecimalField(_("金额合计"), default=0, **MONEY)
    status = models.CharField(_("状态"), max_length=10, choices=BankFileStatus.choices, default=BankFileStatus.ISSUED)
    paid_count = models.PositiveIntegerField(_("成功笔数"), default=0)
    paid_amount = models.DecimalField(_("成功金额"), default=0, **MONEY)
    failed_count = models.PositiveIntegerField(_("失败笔数"), default=0)
    failed_amount = models.DecimalField(_("失败金额"), default=0, **MONEY)
    returned_at = models.DateTimeField(_("回盘时间"), null=True, blank=True)
    returned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    return_sha256 = models.CharField(_("回盘文件 SHA-256"), max_length=64, blank=True)
    created_at = models.DateTimeField(_("生成时间"), auto_now_add=True)

    jurisdiction_office_field = "run__office"

    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("银行代发文件")
        verbose_name_plural = _("银行代发文件")
        ordering = ["run", "sequence", "bank"]
        constraints = [models.UniqueConstraint(fields=["run", "bank", "sequence"], name="payroll_bank_file_once")]

    def __str__(self) -> str:
        return self.number


class LineKind(models.TextChoices):
    REGULAR = "regular", _("按月发放")
    REISSUE = "reissue", _("失败重发")


class LineStatus(models.TextChoices):
    HELD = "held", _("无发放账户，暂缓")
    ISSUED = "issued", _("已送银行")
    PAID = "paid", _("已发放")
    FAILED = "failed", _("发放失败")
    REISSUED = "reissued", _("已重发")
    CANCELLED = "cancelled", _("人员死亡，已取消")


class PayrollLine(models.Model):
    """One award's payment in one run: the month's amount plus arrears of earlier months (``PayrollArrears``)."""

    run = models.ForeignKey(PayrollRun, on_delete=models.PROTECT, related_name="+", verbose_name=_("批次"))
    # award and person: served by the composite indexes below; office: lines are read by run or by person.
    award = models.ForeignKey(
        "cases.BenefitAward", on_delete=models.PROTECT, related_name="+", db_index=False, verbose_name=_("待遇")
    )
    person = models.ForeignKey(
        "registry.Person", on_delete=models.PROTECT, related_name="+", db_index=False, verbose_name=_("人员")
    )
    office = models.ForeignKey(
        "registry.Office",
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        verbose_name=_("待遇支付机构（区）"),
    )
    insurance_type = models.CharField(_("险种"), max_length=16, choices=InsuranceType.choices)
    period = models.PositiveIntegerField(_("所属月份"), help_text=_("YYYYMM"))
    kind = models.CharField(_("类别"), max_length=10, choices=LineKind.choices, default=LineKind.REGULAR)
    regular_amount = models.DecimalField(_("当月待遇"), **MONEY)
    arrears_amount = models.DecimalField(_("补发"), default=0, **MONEY)
    amount = models.DecimalField(_("发放金额"), **MONEY)
    status = models.CharField(_("状态"), max_length=10, choices=LineStatus.choices)
    bank = models.CharField(_("银行"), max_length=3, choices=Bank.choices, blank=True)
    account_number = models.CharField(_("银行账号"), max_length=30, blank=True)
    # The heir's name when the account is an heir's (the deceased's months up to his death); empty: the person.
    account_holder = models.CharField(_("收款人"), max_length=50, blank=True, default="")
    bank_file = models.ForeignKey(
        BankFile, null=True, blank=True, on_delete=models.PROTECT, related_name="lines", verbose_name=_("代发文件")
    )
    reissue_of = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="reissue", verbose_name=_("重发自")
    )
    failure_reason = models.CharField(_("失败原因"), max_length=100, blank=True)
    paid_on = models.DateField(_("到账日期"), null=True, blank=True)

    jurisdiction_office_field = "office"

    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("待遇发放明细")
        verbose_name_plural = _("待遇发放明细")
        ordering = ["run", "pk"]
        indexes = [
            models.Index(fields=["award", "period"], name="payroll_line_award_period"),
            models.Index(fields=["person", "period"], name="payroll_line_person"),
        ]
        constraints = [
            # Idempotent: a run (or a resumed chunk) never pays an award's month twice.
            models.UniqueConstraint(
                fields=["award", "period"], condition=Q(kind="regular"), name="payroll_line_regular_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.award_id} {self.period} {self.amount}"


class PayrollArrears(models.Model):
    """The part of a line that pays an earlier month: what was due then minus what was paid for it."""

    line = models.ForeignKey(PayrollLine, on_delete=models.PROTECT, related_name="arrears", verbose_name=_("发放明细"))
    award = models.ForeignKey(
        "cases.BenefitAward", on_delete=models.PROTECT, related_name="+", db_index=False, verbose_name=_("待遇")
    )
    period = models.PositiveIntegerField(_("补发月份"), help_text=_("YYYYMM"))
    amount = models.DecimalField(_("补发金额"), **MONEY)

    jurisdiction_office_field = "line__office"

    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("补发明细")
        verbose_name_plural = _("补发明细")
        indexes = [models.Index(fields=["award", "period"], name="payroll_arrears_award_period")]

    def __str__(self) -> str:
        return f"{self.award_id} {self.period} {self.amount}"


class PayrollPosting(models.Model):
    """Benefit expenditure posted to one fund and district for the paid lines of one bank file's return
    (its id is the ledger transaction's source id)."""

    bank_file = models.ForeignKey(BankFile, on_delete=models.PROTECT, related_name="postings", verbose_name=_("文件"))
    insurance_type = models.CharField(_("险种"), max_length=16, choices=InsuranceType.choices)
    office = models.ForeignKey("registry.Office", on_delete=models.PROTECT, related_name="+", verbose_name=_("区"))
    amount = models.DecimalField(_("金额"), **MONEY)
    ledger_uid = models.CharField(_("基金支出凭证"), max_length=40, blank=True)
    created_at = models.DateTimeField(_("记账时间"), auto_now_add=True)

    jurisdiction_office_field = "office"

    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("待遇支出入账")
        verbose_name_plural = _("待遇支出入账")
        constraints = [
            models.UniqueConstraint(fields=["bank_file", "insurance_type", "office"], name="payroll_posting_once")
        ]

    def __str__(self) -> str:
        return f"{self.bank_file_id} {self.insurance_type} {self.amount}"


class ReturnJobStatus(models.TextChoices):
    QUEUED = "queued", _("排队中")
    PROCESSING = "processing", _("导入中")
    DONE = "done", _("已导入")
    REJECTED = "rejected", _("被拒绝，未导入")


class BankReturnJob(models.Model):
    """One upload of a bank's return file, recorded by a Celery task (payroll.bank_return_process): the bytes are
    kept with the job (evidence, and what a re-sent task reads), the task records the return whole or not at all;
    a refused file's problems are the job's ``errors``."""

    uid = models.UUIDField(_("编号"), default=uuid.uuid4, unique=True, editable=False)
    bank_file = models.ForeignKey(
        BankFile, on_delete=models.PROTECT, related_name="return_jobs", verbose_name=_("代发文件")
    )
    name = models.CharField(_("文件名"), max_length=200)
    data = models.BinaryField(_("文件内容"))
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    size = models.PositiveBigIntegerField(_("字节数"), default=0)
    status = models.CharField(_("状态"), max_length=10, choices=ReturnJobStatus.choices, default=ReturnJobStatus.QUEUED)
    errors = models.JSONField(_("错误"), default=list, blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("上传人")
    )
    created_at = models.DateTimeField(_("上传时间"), auto_now_add=True)
    started_at = models.DateTimeField(_("开始时间"), null=True, blank=True)
    finished_at = models.DateTimeField(_("完成时间"), null=True, blank=True)
    requeued_at = models.DateTimeField(_("重新派发时间"), null=True, blank=True)
    requeue_count = models.PositiveIntegerField(_("重新派发次数"), default=0)

    jurisdiction_office_field = "bank_file__run__office"

    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("回盘导入")
        verbose_name_plural = _("回盘导入")
        ordering = ["-pk"]

    def __str__(self) -> str:
        return f"{self.bank_file_id} {self.get_status_display()}"
