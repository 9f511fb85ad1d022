"""数据大集中: the three districts' legacy records brought into the one city database.

A district delivers a batch (persons, employers, enrollments, monthly contribution history) as files in the
import folder or uploaded in chunks through the API. A worker loads each file with COPY, checks every line
in SQL and reports (status ``checked``) before anything touches the registry. Applying the batch matches its
persons and employers against the registry (which holds every batch applied before, of every district):
sure matches merge, unsure ones become conflicts for clerks (maker-checker), the rest is created, the history
loads into ``contributions.ContributionHistory``, and the reconciliation is stored. Layout: docs/legacy-import.md.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from registry.jurisdiction import JurisdictionQuerySet
from registry.models import audit_history


class FileKind(models.TextChoices):
    # In load order: each file's references are checked against the files loaded before it and the registry.
    EMPLOYERS = "employers", _("参保单位")
    PERSONS = "persons", _("参保人员")
    ENROLLMENTS = "enrollments", _("参保登记")
    HISTORY = "history", _("历史缴费")


FILE_ORDER = [FileKind.EMPLOYERS, FileKind.PERSONS, FileKind.ENROLLMENTS, FileKind.HISTORY]


class BatchChannel(models.TextChoices):
    API = "api", _("接口分块上传")
    FOLDER = "folder", _("导入目录")


class BatchStatus(models.TextChoices):
    RECEIVING = "receiving", _("接收文件中")
    QUEUED = "queued", _("排队待检查")
    LOADING = "loading", _("装载检查中")
    CHECKED = "checked", _("已检查，待确认导入")
    REJECTED = "rejected", _("文件无法读取，已拒收")
    APPLY_QUEUED = "apply_queued", _("排队待导入")
    APPLYING = "applying", _("匹配导入中")
    APPLIED = "applied", _("已导入")
    FAILED = "failed", _("失败（可重试）")
    DUPLICATE = "duplicate", _("重复报送（未装载）")


# A batch in one of these states holds its files' fingerprint: the same files delivered again are that batch.
LIVE_STATUSES = [
    BatchStatus.QUEUED,
    BatchStatus.LOADING,
    BatchStatus.CHECKED,
    BatchStatus.REJECTED,
    BatchStatus.APPLY_QUEUED,
    BatchStatus.APPLYING,
    BatchStatus.APPLIED,
    BatchStatus.FAILED,
]
# A worker is (or should be) at work on a batch in one of these: the sweeper's concern (import_batch_requeue_stuck).
WORKING_STATUSES = [BatchStatus.QUEUED, BatchStatus.LOADING, BatchStatus.APPLY_QUEUED, BatchStatus.APPLYING]


class ImportBatch(models.Model):
    """导入批次: one delivery of one district's legacy system."""

    uid = models.UUIDField(_("编号"), default=uuid.uuid4, unique=True, editable=False)
    district = models.ForeignKey(
        "registry.Office", on_delete=models.PROTECT, related_name="+", verbose_name=_("报送区")
    )
    source_system = models.CharField(_("来源系统"), max_length=100)
    label = models.CharField(_("批次说明"), max_length=200, blank=True)
    channel = models.CharField(_("报送方式"), max_length=8, choices=BatchChannel.choices, default=BatchChannel.API)
    folder = models.CharField(_("导入目录"), max_length=500, blank=True)
    fingerprint = models.CharField(
        _("文件指纹"), max_length=64, blank=True, help_text=_("各文件类型与 SHA-256 的摘要：同样的文件即同一批次。")
    )
    status = models.CharField(_("状态"), max_length=12, choices=BatchStatus.choices, default=BatchStatus.RECEIVING)
    duplicate_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("重复于")
    )
    error = models.TextField(_("错误"), blank=True)
    report = models.JSONField(_("检查报告"), default=dict, blank=True)
    reconciliation = models.JSONField(_("对账结果"), default=dict, blank=True)
    timings = models.JSONField(_("耗时（秒）"), default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("报送人"),
    )
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    submitted_at = models.DateTimeField(_("提交时间"), null=True, blank=True)
    checked_at = models.DateTimeField(_("检查完成时间"), null=True, blank=True)
    applied_at = models.DateTimeField(_("导入完成时间"), null=True, blank=True)
    applied_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("确认导入人"),
    )
    # For a sweeper (issue 14) and the operator: a worker holds the batch's advisory lock while it works and
    # touches heartbeat_at every few seconds from a side thread; a working batch whose lock nobody holds and
    # whose heartbeat is old lost its worker (services.batches.import_batch_requeue_stuck).
    heartbeat_at = models.DateTimeField(_("心跳时间"), null=True, blank=True)
    worker = models.CharField(_("处理进程"), max_length=120, blank=True)
    attempts = models.PositiveSmallIntegerField(_("执行次数"), default=0)

    jurisdiction_office_field = "district"
    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("导入批次")
        verbose_name_plural = _("导入批次")
        ordering = ["-id"]
        permissions = [("apply_importbatch", _("可确认导入数据大集中批次"))]
        constraints = [
            models.UniqueConstraint(
                fields=["district", "fingerprint"],
                condition=Q(status__in=LIVE_STATUSES) & ~Q(fingerprint=""),
                name="import_batch_files_once_per_district",
            ),
        ]
        indexes = [models.Index(fields=["status", "heartbeat_at"], name="import_batch_working")]

    def __str__(self) -> str:
        return f"{self.district} {self.source_system} {self.label}".strip()


class FileStatus(models.TextChoices):
    RECEIVING = "receiving", _("接收中")
    COMPLETE = "complete", _("已接收")
    LOADED = "loaded", _("已装载检查")
    REJECTED = "rejected", _("无法读取")


class BatchFile(models.Model):
    """One file of a batch: where its bytes are (storage chunks, or a path in the import folder) and what
    loading it found."""

    uid = models.UUIDField(_("编号"), default=uuid.uuid4, unique=True, editable=False)
    batch = models.ForeignKey(ImportBatch, on_delete=models.CASCADE, related_name="files", verbose_name=_("批次"))
    kind = models.CharField(_("文件类型"), max_length=12, choices=FileKind.choices)
    name = models.CharField(_("文件名"), max_length=200)
    size = models.PositiveBigIntegerField(_("大小（字节）"))
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    path = models.CharField(_("导入目录中的路径"), max_length=500, blank=True)
    status = models.CharField(_("状态"), max_length=10, choices=FileStatus.choices, default=FileStatus.RECEIVING)
    file_format = models.CharField(_("格式"), max_length=8, blank=True)
    encoding = models.CharField(_("编码"), max_length=12, blank=True)
    header = models.JSONField(_("列名行"), default=list, blank=True)
    columns = models.JSONField(_("列对应"), default=dict, blank=True)
    totals = models.JSONField(_("合计"), default=dict, blank=True)
    line_count = models.PositiveIntegerField(_("数据行数"), default=0)
    bad_count = models.PositiveIntegerField(_("错误行数"), default=0)
    error = models.TextField(_("错误"), blank=True)
    loaded_at = models.DateTimeField(_("装载时间"), null=True, blank=True)

    jurisdiction_office_field = "batch__district"
    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("批次文件")
        verbose_name_plural = _("批次文件")
        ordering = ["batch", "id"]
        constraints = [models.UniqueConstraint(fields=["batch", "kind"], name="batch_file_one_per_kind")]

    def __str__(self) -> str:
        return self.name

    @property
    def raw_table(self) -> str:
        """The UNLOGGED table the file is COPied into (dropped once the batch is applied)."""
        return f"consolidation_raw_{self.pk}"

    @property
    def typed_table(self) -> str:
        """A history file's typed table (its plain lines' values typed; consolidation/screen.py), when it has one."""
        return f"consolidation_typed_{self.pk}"


class BatchChunk(models.Model):
    """One uploaded piece of a file, stored as its own object in the default storage (any storage can take a
    new object; none can append), with its SHA-256: a piece sent again with the same bytes changes nothing."""

    file = models.ForeignKey(BatchFile, on_delete=models.CASCADE, related_name="chunks", verbose_name=_("文件"))
    index = models.PositiveIntegerField(_("序号"))
    size = models.PositiveIntegerField(_("大小（字节）"))
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    storage_name = models.CharField(_("存储位置"), max_length=300)
    received_at = models.DateTimeField(_("接收时间"), auto_now_add=True)

    jurisdiction_office_field = "file__batch__district"
    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("文件分块")
        verbose_name_plural = _("文件分块")
        ordering = ["file", "index"]
        constraints = [models.UniqueConstraint(fields=["file", "index"], name="batch_chunk_once")]

    def __str__(self) -> str:
        return f"{self.file_id}#{self.index}"


class Outcome(models.TextChoices):
    PENDING = "pending", _("待匹配")
    MATCHED = "matched", _("已合并到已有记录")
    CREATED = "created", _("新建")
    DUPLICATE = "duplicate", _("文件内重复，并入同一记录")
    HELD = "held", _("待人工核对")
    REJECTED = "rejected", _("未导入")
    PRESENT = "present", _("已存在，未重复导入")
    OVERLAP = "overlap", _("与已有登记重叠，未导入")


class IdKind(models.TextChoices):
    CHECKED = "checked", _("18 位，校验通过")
    CONVERTED = "converted15", _("15 位旧号码，已升位")
    INVALID = "invalid", _("无效")
    MISSING = "missing", _("缺失")


class StagedEmployer(models.Model):
    batch = models.ForeignKey(
        ImportBatch, on_delete=models.CASCADE, related_name="+", verbose_name=_("批次"), db_index=False
    )
    line_no = models.PositiveIntegerField(_("行号"))
    raw_code = models.CharField(_("单位代码（原文）"), max_length=60, blank=True)
    ref_key = models.CharField(_("引用键"), max_length=60, blank=True)
    credit_code = models.CharField(_("统一社会信用代码"), max_length=18, blank=True)
    org_code = models.CharField(_("组织机构代码"), max_length=9, blank=True)
    name = models.CharField(_("单位名称"), max_length=200, blank=True)
    name_pinyin = models.CharField(_("名称拼音"), max_length=400, blank=True)
    employer_type = models.CharField(_("单位类型"), max_length=12, blank=True)
    industry = models.CharField(_("行业"), max_length=100, blank=True)
    risk_class = models.PositiveSmallIntegerField(_("工伤风险类别"), default=1)
    office = models.ForeignKey(
        "registry.Office", null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("所属机构")
    )
    problem_code = models.CharField(_("问题"), max_length=40, blank=True)
    problem_detail = models.CharField(_("问题说明"), max_length=200, blank=True)
    outcome = models.CharField(_("结果"), max_length=10, choices=Outcome.choices, default=Outcome.PENDING)
    employer = models.ForeignKey(
        "registry.Employer", null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("单位")
    )

    jurisdiction_office_field = "batch__district"
    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("待导入单位")
        verbose_name_plural = _("待导入单位")
        constraints = [models.UniqueConstraint(fields=["batch", "line_no"], name="staged_employer_line_once")]
        indexes = [models.Index(fields=["batch", "ref_key"], name="staged_employer_ref")]

    def __str__(self) -> str:
        return self.name


class StagedPerson(models.Model):
    """One line of a persons file: as delivered (``raw_id``), checked and normalised, and what became of it."""

    batch = models.ForeignKey(
        ImportBatch, on_delete=models.CASCADE, related_name="+", verbose_name=_("批次"), db_index=False
    )
    line_no = models.PositiveIntegerField(_("行号"))
    raw_id = models.CharField(_("公民身份号码（原文）"), max_length=40, blank=True)
    ref_key = models.CharField(_("引用键"), max_length=40, blank=True)
    id_kind = models.CharField(_("号码情况"), max_length=12, choices=IdKind.choices)
    id_number = models.CharField(_("公民身份号码"), max_length=18, blank=True, help_text=_("有效号码（18 位）"))
    id_body = models.CharField(_("号码本体"), max_length=17, blank=True, help_text=_("前 17 位，用于比对"))
    id_detail = models.CharField(_("号码问题"), max_length=200, blank=True)
    name = models.CharField(_("姓名"), max_length=50, blank=True)
    name_pinyin = models.CharField(_("姓名拼音"), max_length=120, blank=True)
    name_initials = models.CharField(_("拼音首字母"), max_length=20, blank=True)
    sex = models.CharField(_("性别"), max_length=1, blank=True)
    birth_date = models.DateField(_("出生日期"), null=True, blank=True)
    household_type = models.CharField(_("户籍类型"), max_length=8, blank=True)
    phone = models.CharField(_("联系电话"), max_length=20, blank=True)
    address = models.CharField(_("地址"), max_length=200, blank=True)
    # No single-column indexes but the partial one on person (staged_person_person): the batch is the first column
    # of staged_person_line_once, offices are not deleted, and a million staged lines pay for every index.
    office = models.ForeignKey(
        "registry.Office",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("所属机构"),
        db_index=False,
    )
    card_number = models.CharField(_("社会保障卡号"), max_length=20, blank=True)
    value_date = models.DateField(_("信息日期"), null=True, blank=True, help_text=_("来源系统中最后修改日期"))
    problem_code = models.CharField(_("问题"), max_length=40, blank=True)
    problem_detail = models.CharField(_("问题说明"), max_length=200, blank=True)
    outcome = models.CharField(_("结果"), max_length=10, choices=Outcome.choices, default=Outcome.PENDING)
    person = models.ForeignKey(
        "registry.Person",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("人员"),
        db_index=False,
    )
    name_differs = models.BooleanField(_("姓名与登记不一致"), default=False)
    raw = models.JSONField(_("原始内容"), null=True, blank=True, help_text=_("待核对的行：报送时的原文"))

    jurisdiction_office_field = "batch__district"
    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("待导入人员")
        verbose_name_plural = _("待导入人员")
        constraints = [models.UniqueConstraint(fields=["batch", "line_no"], name="staged_person_line_once")]
        indexes = [
            models.Index(fields=["batch", "ref_key"], name="staged_person_ref"),
            models.Index(fields=["person"], condition=Q(person__isnull=False), name="staged_person_person"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.line_no})"


class StagedEnrollment(models.Model):
    batch = models.ForeignKey(
        ImportBatch, on_delete=models.CASCADE, related_name="+", verbose_name=_("批次"), db_index=False
    )
    line_no = models.PositiveIntegerField(_("行号"))
    person_ref = models.CharField(_("人员引用"), max_length=40, blank=True)
    employer_ref = models.CharField(_("单位引用"), max_length=60, blank=True)
    insurance_type = models.CharField(_("险种"), max_length=16, blank=True)
    is_flexible = models.BooleanField(_("灵活就业"), default=False)
    start_date = models.DateField(_("参保开始日期"), null=True, blank=True)
    end_date = models.DateField(_("参保终止日期"), null=True, blank=True)
    months = models.PositiveIntegerField(_("参保月数"), default=0)
    problem_code = models.CharField(_("问题"), max_length=40, blank=True)
    problem_detail = models.CharField(_("问题说明"), max_length=200, blank=True)
    outcome = models.CharField(_("结果"), max_length=10, choices=Outcome.choices, default=Outcome.PENDING)
    staged_person = models.ForeignKey(
        StagedPerson, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("人员行")
    )
    employer = models.ForeignKey(
        "registry.Employer", null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("单位")
    )
    enrollment = models.ForeignKey(
        "registry.Enrollment",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("参保登记"),
    )
    raw = models.JSONField(_("原始内容"), null=True, blank=True)

    jurisdiction_office_field = "batch__district"
    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("待导入参保登记")
        verbose_name_plural = _("待导入参保登记")
        constraints = [models.UniqueConstraint(fields=["batch", "line_no"], name="staged_enrollment_line_once")]

    def __str__(self) -> str:
        return f"{self.person_ref} {self.insurance_type}"


class StagedHistory(models.Model):
    """History lines of a person held for a clerk's decision (the rest of a batch's history loads at once)."""

    batch = models.ForeignKey(
        ImportBatch, on_delete=models.CASCADE, related_name="+", verbose_name=_("批次"), db_index=False
    )
    line_no = models.PositiveIntegerField(_("行号"))
    staged_person = models.ForeignKey(
        StagedPerson, on_delete=models.CASCADE, related_name="held_history", verbose_name=_("人员行")
    )
    employer = models.ForeignKey(
        "registry.Employer", null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("单位")
    )
    period = models.PositiveIntegerField(_("所属期"))
    # The month's insurance columns as the history table names them (emp_pension_base …) → the amount as text.
    values = models.JSONField(_("各险种基数和金额"), default=dict)
    amount = models.DecimalField(_("实缴合计"), max_digits=14, decimal_places=2)
    history_id = models.BigIntegerField(_("已导入记录"), null=True, blank=True)
    raw = models.JSONField(_("原始内容"), default=list)

    jurisdiction_office_field = "batch__district"
    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("待核对历史缴费")
        verbose_name_plural = _("待核对历史缴费")
        constraints = [models.UniqueConstraint(fields=["batch", "line_no"], name="staged_history_line_once")]

    def __str__(self) -> str:
        return f"{self.staged_person_id} {self.period}"


class RejectedLine(models.Model):
    """A line that was not imported, with the reason and the line as delivered (downloadable for correction)."""

    batch = models.ForeignKey(ImportBatch, on_delete=models.CASCADE, related_name="+", verbose_name=_("批次"))
    kind = models.CharField(_("文件类型"), max_length=12, choices=FileKind.choices)
    line_no = models.PositiveIntegerField(_("行号"))
    code = models.CharField(_("问题代码"), max_length=40)
    detail = models.CharField(_("问题说明"), max_length=300, blank=True)
    raw = models.JSONField(_("原始内容"), default=list)
    amount = models.DecimalField(_("金额"), max_digits=16, decimal_places=2, null=True, blank=True)

    jurisdiction_office_field = "batch__district"
    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("未导入行")
        verbose_name_plural = _("未导入行")
        ordering = ["batch", "kind", "line_no"]
        constraints = [models.UniqueConstraint(fields=["batch", "kind", "line_no"], name="rejected_line_once")]

    def __str__(self) -> str:
        return f"{self.kind}:{self.line_no} {self.code}"


class ConflictKind(models.TextChoices):
    HELD = "held", _("号码无效，疑似已登记人员")
    PAIR = "pair", _("疑似同一人的两条记录")
    FIELDS = "fields", _("号码相同，姓名不一致")


class ConflictStatus(models.TextChoices):
    OPEN = "open", _("待处理")
    PROPOSED = "proposed", _("待复核")
    MERGED = "merged", _("已合并")
    SEPARATE = "separate", _("确认不是同一人")


class Decision(models.TextChoices):
    MERGE = "merge", _("合并为同一人")
    SEPARATE = "separate", _("不是同一人")


class Conflict(models.Model):
    """冲突: an incoming record and the registry persons it may be (candidates, best first), for a clerk to
    decide field by field and a second person to approve. Conflicts inside one district belong to that
    district's office; those that reach another district's records, to the city office."""

    uid = models.UUIDField(_("编号"), default=uuid.uuid4, unique=True, editable=False)
    batch = models.ForeignKey(ImportBatch, on_delete=models.PROTECT, related_name="conflicts", verbose_name=_("批次"))
    kind = models.CharField(_("类型"), max_length=8, choices=ConflictKind.choices)
    office = models.ForeignKey(
        "registry.Office", on_delete=models.PROTECT, related_name="+", verbose_name=_("处理机构")
    )
    staged_person = models.OneToOneField(
        StagedPerson, on_delete=models.PROTECT, related_name="conflict", verbose_name=_("导入记录")
    )
    incoming_person = models.ForeignKey(
        "registry.Person",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("导入记录对应人员"),
    )
    score = models.PositiveSmallIntegerField(_("最高匹配分"), default=0)
    status = models.CharField(_("状态"), max_length=10, choices=ConflictStatus.choices, default=ConflictStatus.OPEN)
    decision = models.CharField(_("处理意见"), max_length=10, choices=Decision.choices, blank=True)
    candidate = models.ForeignKey(
        "registry.Person",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("选定的已登记人员"),
    )
    choices = models.JSONField(_("逐项选择"), default=dict, blank=True)
    note = models.TextField(_("说明"), blank=True)
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("经办人"),
    )
    proposed_at = models.DateTimeField(_("提出时间"), null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("复核人"),
    )
    decided_at = models.DateTimeField(_("复核时间"), null=True, blank=True)
    returned_note = models.TextField(_("退回意见"), blank=True)
    created_at = models.DateTimeField(_("发现时间"), auto_now_add=True)
    history = audit_history()

    jurisdiction_office_field = "office"
    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("待核对冲突")
        verbose_name_plural = _("待核对冲突")
        ordering = ["-score", "id"]
        permissions = [
            ("resolve_conflict", _("可提出冲突处理意见")),
            ("approve_conflict", _("可复核冲突处理意见并撤销合并")),
        ]
        indexes = [models.Index(fields=["status", "office"], name="conflict_queue")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.staged_person}"


class EmployerConflictStatus(models.TextChoices):
    OPEN = "open", _("待处理")
    PROPOSED = "proposed", _("待复核")
    SAME = "same", _("确认同一单位")
    SEPARATE = "separate", _("确认不是同一单位")


class EmployerDecision(models.TextChoices):
    SAME = "same", _("是同一单位")
    SEPARATE = "separate", _("不是同一单位")


class EmployerConflict(models.Model):
    """疑似同一单位: an employer a batch created (its credit code was not registered) that may be one already
    registered — the same name once normalised (province, city and district prefixes, legal-form suffixes,
    punctuation and spaces removed) in the same district, or a credit code one character or two neighbouring
    characters apart (a typing error). The reasons say which. One clerk proposes, another approves (the permissions
    of the person conflicts); a district's own when both employers lie in it, else the city's. *是同一单位* records
    the link (``candidate`` is the registered record); moving an employer's staff and accounts to the other record
    is the counter's change procedure, not the import's."""

    uid = models.UUIDField(_("编号"), default=uuid.uuid4, unique=True, editable=False)
    batch = models.ForeignKey(ImportBatch, on_delete=models.PROTECT, related_name="+", verbose_name=_("批次"))
    office = models.ForeignKey(
        "registry.Office", on_delete=models.PROTECT, related_name="+", verbose_name=_("处理机构")
    )
    incoming = models.ForeignKey(
        "registry.Employer", on_delete=models.PROTECT, related_name="+", verbose_name=_("本批新登记单位")
    )
    candidate = models.ForeignKey(
        "registry.Employer", on_delete=models.PROTECT, related_name="+", verbose_name=_("已登记单位")
    )
    score = models.PositiveSmallIntegerField(_("匹配分"), default=0)
    reasons = models.JSONField(_("匹配理由"), default=list)
    status = models.CharField(
        _("状态"), max_length=10, choices=EmployerConflictStatus.choices, default=EmployerConflictStatus.OPEN
    )
    decision = models.CharField(_("处理意见"), max_length=10, choices=EmployerDecision.choices, blank=True)
    note = models.TextField(_("说明"), blank=True)
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("提出人"),
    )
    proposed_at = models.DateTimeField(_("提出时间"), null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("复核人"),
    )
    decided_at = models.DateTimeField(_("复核时间"), null=True, blank=True)
    returned_note = models.TextField(_("退回意见"), blank=True)
    created_at = models.DateTimeField(_("发现时间"), auto_now_add=True)
    history = audit_history()

    jurisdiction_office_field = "office"
    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("疑似同一单位")
        verbose_name_plural = _("疑似同一单位")
        ordering = ["-score", "id"]
        constraints = [models.UniqueConstraint(fields=["incoming", "candidate"], name="employer_conflict_pair_once")]

    def __str__(self) -> str:
        return f"{self.incoming_id} ~ {self.candidate_id}"

    def reason_texts(self) -> list[str]:
        return [str(EMPLOYER_REASONS.get(r, r)) for r in self.reasons]


EMPLOYER_REASONS = {
    "name_same": _("名称相同（去掉省市区前缀、公司类型后缀和标点后）"),
    "district_same": _("同一区"),
    "code_digit": _("统一社会信用代码有一位不同"),
    "code_swap": _("统一社会信用代码有相邻两位颠倒"),
    "name_similar": _("名称相近"),
}


class ConflictCandidate(models.Model):
    conflict = models.ForeignKey(Conflict, on_delete=models.CASCADE, related_name="candidates", verbose_name=_("冲突"))
    person = models.ForeignKey("registry.Person", on_delete=models.PROTECT, related_name="+", verbose_name=_("人员"))
    score = models.PositiveSmallIntegerField(_("匹配分"))
    reasons = models.JSONField(_("依据"), default=list)
    rank = models.PositiveSmallIntegerField(_("排序"))

    jurisdiction_office_field = "conflict__office"
    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("候选人员")
        verbose_name_plural = _("候选人员")
        ordering = ["conflict", "rank"]
        constraints = [models.UniqueConstraint(fields=["conflict", "person"], name="conflict_candidate_once")]

    def __str__(self) -> str:
        return f"{self.conflict_id}→{self.person_id} {self.score}"


class Merge(models.Model):
    """合并记录: what an approved merge changed, so that it can be undone while nothing new was written to the
    survivor. Issued bills, closed cases and archived files are never touched."""

    uid = models.UUIDField(_("编号"), default=uuid.uuid4, unique=True, editable=False)
    conflict = models.ForeignKey(Conflict, on_delete=models.PROTECT, related_name="merges", verbose_name=_("冲突"))
    survivor = models.ForeignKey(
        "registry.Person", on_delete=models.PROTECT, related_name="+", verbose_name=_("保留记录")
    )
    tombstone = models.ForeignKey(
        "registry.Person",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("并入的记录"),
    )
    before = models.JSONField(_("合并前的值"), default=dict, blank=True)
    after = models.JSONField(_("合并后的值"), default=dict, blank=True)
    moved_tombstones = models.JSONField(_("改指向的旧合并记录"), default=list, blank=True)
    moved_enrollments = models.JSONField(_("转移的参保登记"), default=list, blank=True)
    moved_cases = models.JSONField(_("转移的在办办件"), default=list, blank=True)
    created_enrollments = models.JSONField(_("新建的参保登记"), default=list, blank=True)
    history_ids = models.JSONField(_("导入的历史缴费"), default=list, blank=True)
    survivor_updated_at = models.DateTimeField(_("合并后保留记录的更新时间"))
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("经办人")
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("复核人")
    )
    merged_at = models.DateTimeField(_("合并时间"))
    undone_at = models.DateTimeField(_("撤销时间"), null=True, blank=True)
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("撤销人"),
    )
    undo_reason = models.TextField(_("撤销原因"), blank=True)

    jurisdiction_office_field = "conflict__office"
    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("合并记录")
        verbose_name_plural = _("合并记录")
        ordering = ["-merged_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["conflict"], condition=Q(undone_at__isnull=True), name="merge_one_live_per_conflict"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.survivor_id} ← {self.tombstone_id or self.conflict_id}"
