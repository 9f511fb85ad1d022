"""Standardized case handling (经办事项): one service catalogue, one workflow.

- **Catalogue** (经办事项清单): ``ServiceItem`` with its ``ServiceItemStep`` (受理 → 审核 → 复核/审批 → 办结,
  each with the role and the lowest office level allowed to do it) and ``ServiceItemMaterial`` (the
  checklist; a material the system already holds is looked up, never handed in). Reference data for
  every office (``jurisdiction_public``), maintained by administrators in admin.
- Time limits count working days on the statutory calendar of ``policies`` (``policies.workdays``).
- **Case** with its ``CaseMaterial`` checklist, ``CaseEvent`` log, ``Attachment`` archive (档案电子化),
  and the results: ``Certificate``, ``BenefitAward`` / ``BenefitPayment``.

Jurisdiction of a case follows its intake office: the office that took it in and every office above
it see it; the queue of an office is the cases whose ``current_office`` it is.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce
from django.utils.translation import gettext_lazy as _

from registry import roles
from registry.jurisdiction import JurisdictionQuerySet
from registry.models import InsuranceType, OfficeLevel, audit_history

# ---------------------------------------------------------------------------------------------
# Catalogue.


class StepKind(models.TextChoices):
    INTAKE = "intake", _("受理")
    REVIEW = "review", _("审核")
    APPROVAL = "approval", _("复核/审批")
    COMPLETION = "completion", _("办结")


STEP_ORDER = [StepKind.INTAKE, StepKind.REVIEW, StepKind.APPROVAL, StepKind.COMPLETION]

STEP_ROLE_CHOICES = [
    (roles.COUNTER_CLERK, _("柜员")),
    (roles.REVIEWER, _("审核")),
    (roles.OFFICE_HEAD, _("负责人")),
]


class Effect(models.TextChoices):
    """What completing a case does in the other apps (the rest of the catalogue uses the generic steps)."""

    NONE = "none", _("通用流程（无自动业务处理）")
    ENROLLMENT = "enrollment_create", _("新增参保登记")
    CERTIFICATE_ENROLLMENT = "certificate_enrollment", _("出具参保证明")
    CERTIFICATE_RECORD = "certificate_record", _("打印个人权益记录")
    CARD_LOSS = "card_loss", _("社保卡挂失")
    BENEFIT_EMP_PENSION = "benefit_emp_pension", _("核定基本养老金")
    BENEFIT_UNEMPLOYMENT = "benefit_unemployment", _("核定失业保险金")
    BENEFIT_RES_PENSION = "benefit_res_pension", _("核定城乡居民养老金")
    BENEFIT_LAND_FARMER = "benefit_land_farmer", _("核定被征地农民生活保障金")
    # The counter's daily items (cases/services/counter_effects.py).
    EMPLOYEE_ENROLLMENT = "employee_enrollment", _("职工参保登记（五险合一）")
    STAFF_ADD = "staff_add", _("单位增员")
    STAFF_REMOVE = "staff_remove", _("单位减员")
    ENROLLMENT_END = "enrollment_end", _("停保（参保终止）")
    PERSON_CHANGE = "person_change", _("个人信息变更")
    EMPLOYER_CHANGE = "employer_change", _("单位信息变更")
    # The catalogue items that used to change nothing (cases/services/counter_items.py).
    RES_PENSION_ENROLLMENT = "res_pension_enrollment", _("城乡居民养老保险参保登记（选择缴费档次）")
    BENEFIT_MATERNITY = "benefit_maternity", _("核定生育津贴")
    BENEFIT_DISABILITY = "benefit_disability", _("核定一次性伤残补助金")
    TRANSFER_OUT = "transfer_out", _("养老保险关系转出（出具参保缴费凭证）")
    TRANSFER_IN = "transfer_in", _("养老保险关系转入（记录外地缴费）")
    CARD_APPLY = "card_apply", _("社保卡申领（进入制卡批次）")
    CARD_REPLACE = "card_replace", _("社保卡补换（原卡作废，进入制卡批次）")
    WORK_INJURY_RECOGNITION = "work_injury_recognition", _("工伤认定申请（核对申请时限）")


class Subject(models.TextChoices):
    PERSON = "person", _("个人")
    PERSON_EMPLOYER = "person_employer", _("个人（可选单位）")
    EMPLOYER = "employer", _("单位")


class ServiceItem(models.Model):
    """One matter of the city-wide catalogue (经办事项清单), the same at every office."""

    code = models.CharField(_("事项编码"), max_length=32, unique=True)
    name = models.CharField(_("事项名称"), max_length=100)
    insurance_type = models.CharField(
        _("险种"), max_length=16, choices=InsuranceType.choices, blank=True, help_text=_("空：不限险种或受理时选择。")
    )
    subject = models.CharField(_("办理对象"), max_length=16, choices=Subject.choices, default=Subject.PERSON)
    effect = models.CharField(_("办结处理"), max_length=32, choices=Effect.choices, default=Effect.NONE)
    effect_options = models.JSONField(
        _("处理参数"), default=dict, blank=True, help_text=_("办结处理使用的法定条件等数据（如失业金领取期限档次）。")
    )
    time_limit_days = models.PositiveSmallIntegerField(
        _("法定办理时限（工作日）"), default=0, help_text=_("0 表示即办（当场办结）。")
    )
    time_limit_parameter = models.CharField(
        _("时限参数代码"),
        max_length=80,
        blank=True,
        help_text=_("填写时，办理时限取政策参数在受理日的取值（如 case.time_limit_days.registration）。"),
    )
    time_limit_is_demo = models.BooleanField(_("时限为演示值"), default=False)
    two_person_rule = models.BooleanField(
        _("双人办理"), default=True, help_text=_("受理人不得审核、审批本人受理的件；同一人不得办理同一件的两个环节。")
    )
    legal_basis = models.CharField(_("设定依据"), max_length=300, blank=True)
    note = models.TextField(_("说明"), blank=True)
    sort_order = models.PositiveSmallIntegerField(_("排序"), default=100)
    is_active = models.BooleanField(_("启用"), default=True)
    offered_online = models.BooleanField(
        _("网上可办"), default=False, help_text=_("网上办事大厅可以申请本事项（申请人在线填写、上传材料）。")
    )
    history = audit_history()

    jurisdiction_public = True

    class Meta:
        verbose_name = _("经办事项")
        verbose_name_plural = _("经办事项清单")
        ordering = ["sort_order", "code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class ServiceItemStep(models.Model):
    """One step of an item: who (role) and from which office level up (核定权限) may do it."""

    item = models.ForeignKey(ServiceItem, on_delete=models.CASCADE, related_name="steps", verbose_name=_("事项"))
    sequence = models.PositiveSmallIntegerField(_("顺序"))
    kind = models.CharField(_("环节"), max_length=12, choices=StepKind.choices)
    role = models.CharField(_("办理角色"), max_length=30, choices=STEP_ROLE_CHOICES)
    lowest_level = models.PositiveSmallIntegerField(
        _("最低办理层级"),
        choices=OfficeLevel.choices,
        help_text=_("该层级及以上的经办机构可以办理；受理环节的层级即可受理的最低层级（服务下沉）。"),
    )

    jurisdiction_public = True

    class Meta:
        verbose_name = _("办理环节")
        verbose_name_plural = _("办理环节")
        ordering = ["item", "sequence"]
        constraints = [
            models.UniqueConstraint(fields=["item", "sequence"], name="step_unique_sequence"),
            models.UniqueConstraint(fields=["item", "kind"], name="step_unique_kind"),
            models.CheckConstraint(condition=Q(lowest_level__gte=1, lowest_level__lte=4), name="step_level_range"),
        ]

    def __str__(self) -> str:
        return f"{self.item.code} {self.get_kind_display()}"


class SystemSource(models.TextChoices):
    """Where the system already holds a material (最多跑一次: not handed in again)."""

    NONE = "", _("须申请人提交")
    IDENTITY = "identity", _("人员身份信息（人员库）")
    ENROLLMENT = "enrollment", _("参保登记信息")
    CONTRIBUTION = "contribution", _("缴费记录")
    CARD = "card", _("社保卡信息")
    EMPLOYER = "employer", _("单位登记信息")


class ServiceItemMaterial(models.Model):
    item = models.ForeignKey(ServiceItem, on_delete=models.CASCADE, related_name="materials", verbose_name=_("事项"))
    sequence = models.PositiveSmallIntegerField(_("顺序"), default=1)
    code = models.SlugField(_("材料编码"), max_length=40)
    name = models.CharField(_("材料名称"), max_length=120)
    required = models.BooleanField(_("必需"), default=True)
    system_source = models.CharField(
        _("系统核验来源"), max_length=16, choices=SystemSource.choices, blank=True, default=SystemSource.NONE
    )
    note = models.CharField(_("说明"), max_length=200, blank=True)

    jurisdiction_public = True

    class Meta:
        verbose_name = _("申请材料")
        verbose_name_plural = _("申请材料")
        ordering = ["item", "sequence", "id"]
        constraints = [models.UniqueConstraint(fields=["item", "code"], name="material_unique_code")]

    def __str__(self) -> str:
        return self.name

    @property
    def from_system(self) -> bool:
        return bool(self.system_source)


# ---------------------------------------------------------------------------------------------
# Cases.


class Channel(models.TextChoices):
    COUNTER = "counter", _("窗口")
    ONLINE = "online", _("网上办事大厅")
    API = "api", _("系统接口")


class CaseState(models.TextChoices):
    SUBMITTED = "submitted", _("待受理")
    REVIEW = "review", _("待审核")
    APPROVAL = "approval", _("待复核/审批")
    COMPLETION = "completion", _("待办结")
    SUSPENDED = "suspended", _("补正中")
    COMPLETED = "completed", _("已办结")
    REJECTED = "rejected", _("不予办理")
    WITHDRAWN = "withdrawn", _("已撤回")


STEP_STATE = {
    StepKind.REVIEW: CaseState.REVIEW,
    StepKind.APPROVAL: CaseState.APPROVAL,
    StepKind.COMPLETION: CaseState.COMPLETION,
}
ACTIVE_STATES = (CaseState.SUBMITTED, CaseState.REVIEW, CaseState.APPROVAL, CaseState.COMPLETION)
OPEN_STATES = (*ACTIVE_STATES, CaseState.SUSPENDED)
CLOSED_STATES = (CaseState.COMPLETED, CaseState.REJECTED, CaseState.WITHDRAWN)


class Case(models.Model):
    """One application (办件) of one catalogue item."""

    uid = models.UUIDField(_("编号"), default=uuid.uuid4, unique=True, editable=False)
    number = models.CharField(_("办件编号"), max_length=30, unique=True)
    item = models.ForeignKey(ServiceItem, on_delete=models.PROTECT, related_name="cases", verbose_name=_("事项"))
    person = models.ForeignKey(
        "registry.Person",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="cases",
        verbose_name=_("申请人"),
    )
    employer = models.ForeignKey(
        "registry.Employer",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="cases",
        verbose_name=_("单位"),
    )
    channel = models.CharField(_("渠道"), max_length=8, choices=Channel.choices, default=Channel.COUNTER)
    intake_office = models.ForeignKey(
        "registry.Office", on_delete=models.PROTECT, related_name="cases_taken_in", verbose_name=_("受理机构")
    )
    current_office = models.ForeignKey(
        "registry.Office", on_delete=models.PROTECT, related_name="cases_current", verbose_name=_("当前办理机构")
    )
    state = models.CharField(_("状态"), max_length=12, choices=CaseState.choices, default=CaseState.SUBMITTED)
    current_step = models.ForeignKey(
        ServiceItemStep, null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("当前环节")
    )
    suspended_state = models.CharField(_("补正前状态"), max_length=12, choices=CaseState.choices, blank=True)
    form_data = models.JSONField(_("申请信息"), default=dict, blank=True)
    # What the application is about, as the item's handler names it (the insurance set, the employee list's hash,
    # the certificate kind): with the item and the applicant it makes an open case unique (case_open_once).
    subject_key = models.CharField(_("申请事由键"), max_length=80, blank=True, default="", db_default="")
    # 通城通办: the window of another district that took the case in for a person whose record is held elsewhere.
    # The case belongs to the holding office (intake_office); the window sees this case and its receipt only.
    window_office = models.ForeignKey(
        "registry.Office",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("通城通办受理窗口"),
    )
    applicant_note = models.TextField(_("申请说明"), blank=True)
    submitted_at = models.DateTimeField(_("申请时间"))
    received_at = models.DateTimeField(_("受理时间"), null=True, blank=True)
    received_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("受理人"),
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("承办人"),
    )
    time_limit_days = models.PositiveSmallIntegerField(_("办理时限（工作日）"), null=True, blank=True)
    time_limit_basis = models.JSONField(_("时限依据"), default=dict, blank=True)
    due_date = models.DateField(_("办结期限"), null=True, blank=True, db_index=True)
    calendar_warning = models.BooleanField(
        _("日历不全"), default=False, help_text=_("期限计算涉及尚未录入节假日安排的年度，仅按周末计算。")
    )
    paused_on = models.DateField(_("暂停计时日"), null=True, blank=True)
    paused_working_days = models.PositiveSmallIntegerField(_("累计暂停工作日"), default=0)
    completed_at = models.DateTimeField(_("办结时间"), null=True, blank=True)
    closing_reason = models.TextField(_("不予办理/撤回理由"), blank=True)
    result_summary = models.CharField(_("办理结果"), max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("录入人")
    )
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)
    history = audit_history()

    jurisdiction_office_field = "intake_office"
    change_feed_type = "case"  # registry.feed.changes: every save/delete is an event of the change feed

    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("办件")
        verbose_name_plural = _("办件")
        ordering = ["-submitted_at", "-id"]
        indexes = [
            models.Index(fields=["current_office", "state"], name="case_queue"),
            models.Index(fields=["state", "due_date"], name="case_state_due"),
            models.Index(fields=["person", "submitted_at"], name="case_person"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(person__isnull=False) | Q(employer__isnull=False), name="case_has_applicant"
            ),
            models.CheckConstraint(
                condition=~Q(state="suspended") | ~Q(suspended_state=""), name="case_suspended_knows_return_state"
            ),
            # No duplicate work: one open case per item, applicant and subject (a double submit, two tabs).
            models.UniqueConstraint(
                F("item"),
                Coalesce("person", Value(0)),
                Coalesce("employer", Value(0)),
                F("subject_key"),
                condition=Q(state__in=OPEN_STATES) & ~Q(subject_key=""),
                name="case_open_once",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.item.name}"

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    @property
    def is_closed(self) -> bool:
        return self.state in CLOSED_STATES


class MaterialStatus(models.TextChoices):
    RECEIVED = "received", _("已收取")
    SYSTEM = "system", _("系统核验，免提交")
    MISSING = "missing", _("缺少，待补正")
    NOT_RECEIVED = "not_received", _("未提交")


class CaseMaterial(models.Model):
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="materials", verbose_name=_("办件"))
    material = models.ForeignKey(
        ServiceItemMaterial, on_delete=models.PROTECT, related_name="+", verbose_name=_("材料")
    )
    status = models.CharField(_("状态"), max_length=14, choices=MaterialStatus.choices)
    received_at = models.DateTimeField(_("收取时间"), null=True, blank=True)
    note = models.CharField(_("说明"), max_length=200, blank=True)

    jurisdiction_office_field = "case__intake_office"

    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("办件材料")
        verbose_name_plural = _("办件材料")
        ordering = ["case", "material__sequence", "material_id"]
        constraints = [models.UniqueConstraint(fields=["case", "material"], name="case_material_once")]

    def __str__(self) -> str:
        return f"{self.case.number} {self.material.name}"


class CaseAction(models.TextChoices):
    SUBMIT = "submit", _("提交申请")
    ACCEPT = "accept", _("受理")
    PASS = "pass", _("通过")
    CORRECT = "correct", _("一次性告知补正")
    RESUME = "resume", _("补正材料，恢复办理")
    REJECT = "reject", _("不予办理")
    WITHDRAW = "withdraw", _("撤回申请")
    CLAIM = "claim", _("领办")
    ATTACH = "attach", _("上传附件")
    DETACH = "detach", _("删除附件")
    COMPLETE = "complete", _("办结")
    PAYMENT = "payment", _("待遇发放")
    MERGE = "merge", _("申请人记录合并")
    ESCALATE = "escalate", _("超期上报督办")


class CaseEvent(models.Model):
    """The case log: every step, who, from which office, what state before and after. Append-only."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="events", verbose_name=_("办件"))
    at = models.DateTimeField(_("时间"), auto_now_add=True)
    action = models.CharField(_("操作"), max_length=10, choices=CaseAction.choices)
    step_kind = models.CharField(_("环节"), max_length=12, choices=StepKind.choices, blank=True)
    from_state = models.CharField(_("原状态"), max_length=12, choices=CaseState.choices, blank=True)
    to_state = models.CharField(_("新状态"), max_length=12, choices=CaseState.choices, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("操作人"),
    )
    actor_office = models.ForeignKey(
        "registry.Office", null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("操作机构")
    )
    note = models.TextField(_("意见/说明"), blank=True)
    data = models.JSONField(_("数据"), default=dict, blank=True)

    jurisdiction_office_field = "case__intake_office"

    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("办理记录")
        verbose_name_plural = _("办理记录")
        ordering = ["case", "at", "id"]
        # The office metrics ask, per case closed in a month, whether it had a 补正 (evaluation.services.metrics).
        indexes = [models.Index(fields=["case"], condition=Q(action="correct"), name="case_event_correction")]

    def __str__(self) -> str:
        return f"{self.case.number} {self.get_action_display()}"


class AttachmentKind(models.TextChoices):
    SCAN = "scan", _("申请材料扫描件")
    CERTIFICATE = "certificate", _("证明文件")
    OTHER = "other", _("其他")


class Attachment(models.Model):
    """One archived file of a case (档案电子化). Stored through Django's storage API with its SHA-256."""

    uid = models.UUIDField(_("编号"), default=uuid.uuid4, unique=True, editable=False)
    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="attachments", verbose_name=_("办件"))
    material = models.ForeignKey(
        ServiceItemMaterial,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("对应材料"),
    )
    kind = models.CharField(_("类型"), max_length=12, choices=AttachmentKind.choices, default=AttachmentKind.SCAN)
    file = models.FileField(_("文件"), max_length=255)
    original_name = models.CharField(_("原文件名"), max_length=200)
    content_type = models.CharField(_("内容类型"), max_length=60)
    size = models.PositiveIntegerField(_("大小（字节）"))
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("上传人")
    )
    uploaded_at = models.DateTimeField(_("上传时间"), auto_now_add=True)

    jurisdiction_office_field = "case__intake_office"

    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("档案附件")
        verbose_name_plural = _("档案附件")
        ordering = ["case", "uploaded_at", "id"]

    def __str__(self) -> str:
        return self.original_name


class CertificateKind(models.TextChoices):
    ENROLLMENT = "enrollment", _("参保证明")
    RECORD = "record", _("个人社会保险权益记录")
    TRANSFER = "transfer", _("基本养老保险参保缴费凭证")


class Certificate(models.Model):
    """A certificate issued by a case: its content, the PDF's hash and a public verification code."""

    uid = models.UUIDField(_("编号"), default=uuid.uuid4, unique=True, editable=False)
    case = models.OneToOneField(Case, on_delete=models.PROTECT, related_name="certificate", verbose_name=_("办件"))
    person = models.ForeignKey("registry.Person", on_delete=models.PROTECT, related_name="+", verbose_name=_("人员"))
    kind = models.CharField(_("类型"), max_length=12, choices=CertificateKind.choices)
    code = models.CharField(_("验证码"), max_length=20, unique=True)
    content = models.JSONField(_("证明内容"))
    signature = models.CharField(_("内容签名"), max_length=64)
    attachment = models.OneToOneField(
        Attachment, on_delete=models.PROTECT, related_name="certificate", verbose_name=_("PDF 文件")
    )
    pdf_sha256 = models.CharField(_("PDF SHA-256"), max_length=64)
    font_embedded = models.BooleanField(_("已嵌入中文字体"), default=True)
    issued_at = models.DateTimeField(_("出具时间"))
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("出具人")
    )
    issuing_office = models.ForeignKey(
        "registry.Office", on_delete=models.PROTECT, related_name="+", verbose_name=_("出具机构")
    )

    jurisdiction_office_field = "case__intake_office"

    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("证明")
        verbose_name_plural = _("证明")

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.code}"


class BenefitAward(models.Model):
    """A benefit granted by a completed claim: the monthly amount from the policy parameters in force."""

    uid = models.UUIDField(_("编号"), default=uuid.uuid4, unique=True, editable=False)
    case = models.OneToOneField(Case, on_delete=models.PROTECT, related_name="award", verbose_name=_("办件"))
    person = models.ForeignKey("registry.Person", on_delete=models.PROTECT, related_name="+", verbose_name=_("人员"))
    insurance_type = models.CharField(_("险种"), max_length=16, choices=InsuranceType.choices)
    effect = models.CharField(_("待遇类型"), max_length=32, choices=Effect.choices)
    monthly_amount = models.DecimalField(_("月待遇"), max_digits=12, decimal_places=2)
    start_month = models.DateField(_("起始月"))
    months = models.PositiveSmallIntegerField(_("领取月数"), null=True, blank=True, help_text=_("空表示按月终身领取。"))
    basis = models.JSONField(_("核定依据"), default=dict)
    office = models.ForeignKey(
        "registry.Office", on_delete=models.PROTECT, related_name="+", verbose_name=_("待遇支付机构（区）")
    )
    created_at = models.DateTimeField(_("核定时间"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("核定人")
    )

    jurisdiction_office_field = "case__intake_office"

    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("待遇核定")
        verbose_name_plural = _("待遇核定")

    def __str__(self) -> str:
        return f"{self.person} {self.get_effect_display()} {self.monthly_amount}"


# SQLSTATE an app above cases raises (from a trigger on this table) when a month is already paid, or held in a
# run, by it — the payroll's lines (payroll migration "benefit_payment_payroll_guard"); cases maps it to its message.
PAID_ELSEWHERE_SQLSTATE = "TZP01"


class BenefitPayment(models.Model):
    """One month paid of an award. ``posted_to_funds`` says whether the fund expenditure was booked."""

    award = models.ForeignKey(BenefitAward, on_delete=models.PROTECT, related_name="payments", verbose_name=_("待遇"))
    period = models.PositiveIntegerField(_("所属期"), help_text=_("YYYYMM"))
    amount = models.DecimalField(_("金额"), max_digits=12, decimal_places=2)
    paid_on = models.DateField(_("发放日期"))
    posted_to_funds = models.BooleanField(_("已记入基金支出"), default=False)
    funds_reference = models.CharField(_("基金支出凭证"), max_length=60, blank=True)
    created_at = models.DateTimeField(_("登记时间"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("登记人")
    )

    jurisdiction_office_field = "award__case__intake_office"

    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("待遇发放")
        verbose_name_plural = _("待遇发放")
        ordering = ["award", "period"]
        constraints = [models.UniqueConstraint(fields=["award", "period"], name="benefit_payment_once_per_period")]

    def __str__(self) -> str:
        return f"{self.award_id} {self.period} {self.amount}"


class OverdueNotice(models.Model):
    """The nightly list of one office's overdue cases, and whom it was sent to (one per office and day)."""

    office = models.ForeignKey("registry.Office", on_delete=models.PROTECT, related_name="+", verbose_name=_("机构"))
    on = models.DateField(_("日期"))
    case_numbers = models.JSONField(_("超期办件"), default=list)
    recipients = models.TextField(_("通知对象"), blank=True)
    created_at = models.DateTimeField(_("生成时间"), auto_now_add=True)

    jurisdiction_office_field = "office"

    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("超期通报")
        verbose_name_plural = _("超期通报")
        ordering = ["-on", "office__path"]
        constraints = [models.UniqueConstraint(fields=["office", "on"], name="overdue_notice_once_per_day")]

    def __str__(self) -> str:
        return f"{self.on} {self.office}"


class RatingChannel(models.TextChoices):
    ONLINE = "online", _("网上办事大厅")
    TABLET = "tablet", _("窗口评价器")


class CaseRating(models.Model):
    """The applicant's rating of one closed case (好差评): 1–5 and an optional comment, once per case.

    Reform plan 二(六)2 ties each office's funding to its quality; the office evaluation reads these. The office
    is the one that closed the case (its ``current_office`` then), kept here so a rating never moves when the
    office tree changes. Ratings of 1–2 count as 差评 (国办发〔2019〕51号 《关于建立政务服务“好差评”制度
    提高政务服务水平的意见》: 非常满意、满意、基本满意、不满意、非常不满意 five grades; the lowest two are 差评).
    """

    case = models.OneToOneField(Case, on_delete=models.PROTECT, related_name="rating", verbose_name=_("办件"))
    office = models.ForeignKey(
        "registry.Office", on_delete=models.PROTECT, related_name="+", verbose_name=_("办理机构")
    )
    score = models.PositiveSmallIntegerField(_("评分"))
    comment = models.CharField(_("评价内容"), max_length=500, blank=True)
    channel = models.CharField(_("评价渠道"), max_length=8, choices=RatingChannel.choices)
    rated_at = models.DateTimeField(_("评价时间"), auto_now_add=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("记录人"),
        help_text=_("窗口评价器：当班柜员；网上评价为空（评价人即申请人）"),
    )

    jurisdiction_office_field = "office"

    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("办件评价")
        verbose_name_plural = _("办件评价")
        ordering = ["-rated_at", "-id"]
        indexes = [models.Index(fields=["office", "rated_at"], name="case_rating_office_time")]
        constraints = [
            models.CheckConstraint(condition=Q(score__gte=1) & Q(score__lte=5), name="case_rating_score_1_to_5"),
        ]

    def __str__(self) -> str:
        return f"{self.case_id} {self.score}"

    @property
    def is_poor(self) -> bool:
        return self.score <= 2


# ---------------------------------------------------------------------------------------------
# Social security cards (社会保障卡): application → production batch → the issuer's confirmation.


class CardApplicationKind(models.TextChoices):
    NEW = "new", _("首次申领")
    REPLACEMENT = "replacement", _("补换")


class CardApplicationState(models.TextChoices):
    APPLIED = "applied", _("已申领，待制卡")
    IN_PRODUCTION = "in_production", _("制卡中")
    ISSUED = "issued", _("已制卡")
    FAILED = "failed", _("制卡失败")


CARD_OPEN_STATES = (CardApplicationState.APPLIED, CardApplicationState.IN_PRODUCTION)


class CardBatchState(models.TextChoices):
    SENT = "sent", _("已送制卡机构")
    CONFIRMED = "confirmed", _("已回盘")


class CardBatch(models.Model):
    """One production batch of a district: the applications sent to the card issuer in one file, and the
    issuer's confirmation file (回盘) that assigns the card numbers (layouts in docs/card-files.md)."""

    uid = models.UUIDField(_("编号"), default=uuid.uuid4, unique=True, editable=False)
    number = models.CharField(_("批次号"), max_length=30, unique=True)
    office = models.ForeignKey(
        "registry.Office", on_delete=models.PROTECT, related_name="+", verbose_name=_("制卡机构（区）")
    )
    state = models.CharField(_("状态"), max_length=10, choices=CardBatchState.choices, default=CardBatchState.SENT)
    size = models.PositiveIntegerField(_("申领数"), default=0)
    issued_count = models.PositiveIntegerField(_("制卡成功数"), default=0)
    failed_count = models.PositiveIntegerField(_("制卡失败数"), default=0)
    created_at = models.DateTimeField(_("生成时间"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("生成人")
    )
    confirmed_at = models.DateTimeField(_("回盘时间"), null=True, blank=True)
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("回盘导入人"),
    )
    confirmation_name = models.CharField(_("回盘文件名"), max_length=200, blank=True)
    confirmation_sha256 = models.CharField(_("回盘文件 SHA-256"), max_length=64, blank=True)
    history = audit_history()

    jurisdiction_office_field = "office"

    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("制卡批次")
        verbose_name_plural = _("制卡批次")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.number


class CardApplication(models.Model):
    """A card applied for by a completed KA-001 (first card) or KA-003 (replacement) case."""

    uid = models.UUIDField(_("编号"), default=uuid.uuid4, unique=True, editable=False)
    case = models.OneToOneField(Case, on_delete=models.PROTECT, related_name="card_application", verbose_name=_("办件"))
    person = models.ForeignKey("registry.Person", on_delete=models.PROTECT, related_name="+", verbose_name=_("人员"))
    kind = models.CharField(_("类型"), max_length=12, choices=CardApplicationKind.choices)
    state = models.CharField(
        _("状态"), max_length=14, choices=CardApplicationState.choices, default=CardApplicationState.APPLIED
    )
    office = models.ForeignKey(
        "registry.Office", on_delete=models.PROTECT, related_name="+", verbose_name=_("制卡机构（区）")
    )
    previous_card_number = models.CharField(_("原卡号"), max_length=20, blank=True)
    batch = models.ForeignKey(
        CardBatch,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="applications",
        verbose_name=_("制卡批次"),
    )
    card_number = models.CharField(_("新卡号"), max_length=20, blank=True)
    result_note = models.CharField(_("制卡机构说明"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("申领时间"), auto_now_add=True)
    issued_at = models.DateTimeField(_("制卡时间"), null=True, blank=True)
    history = audit_history()

    jurisdiction_office_field = "office"

    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("社保卡申领")
        verbose_name_plural = _("社保卡申领")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["person"],
                condition=Q(state__in=["applied", "in_production"]),
                name="card_application_one_open_per_person",
            ),
            models.CheckConstraint(
                condition=~Q(state="in_production") | Q(batch__isnull=False),
                name="card_application_batch_in_production",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.person} {self.get_kind_display()} {self.get_state_display()}"


class CaseEscalation(models.Model):
    """An overdue case reported to the office above for supervision (时限监察, 督办), with the reporter's note.

    Reform plan 二(四)3: time limits are enforced; an overdue case goes up one level. The case itself stays where
    it is (the office above supervises, it does not take the case over). Escalations count against the intake
    office in the office evaluation (docs/evaluation.md). One escalation per case and target office.
    """

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="escalations", verbose_name=_("办件"))
    from_office = models.ForeignKey(
        "registry.Office", on_delete=models.PROTECT, related_name="+", verbose_name=_("超期办理机构")
    )
    to_office = models.ForeignKey(
        "registry.Office", on_delete=models.PROTECT, related_name="+", verbose_name=_("上报督办机构")
    )
    note = models.TextField(_("督办说明"))
    due_date = models.DateField(_("上报时的办结期限"))
    escalated_at = models.DateTimeField(_("上报时间"), auto_now_add=True)
    escalated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("上报人")
    )

    jurisdiction_office_field = "case__intake_office"

    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("超期督办")
        verbose_name_plural = _("超期督办")
        ordering = ["-escalated_at", "-id"]
        indexes = [models.Index(fields=["escalated_at"], name="case_escalation_time")]
        constraints = [models.UniqueConstraint(fields=["case", "to_office"], name="case_escalation_once_per_office")]

    def __str__(self) -> str:
        return f"{self.case_id} → {self.to_office_id}"
