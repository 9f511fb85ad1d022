"""The shared kernel: offices, staff, persons, employers, enrollments."""

from __future__ import annotations

import re
import uuid

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Left
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from registry.db_functions import ByteOrder
from registry.identifiers import credit_code_validator, id_number_validator
from registry.jurisdiction import JurisdictionQuerySet


class AuditOffice(models.Model):
    """Extra columns on every history table: from which office the change was made."""

    history_office = models.ForeignKey(
        "registry.Office",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_constraint=False,
        verbose_name=_("操作机构"),
    )

    class Meta:
        abstract = True


def audit_history(**kwargs) -> HistoricalRecords:
    return HistoricalRecords(bases=[AuditOffice], **kwargs)


class OfficeLevel(models.IntegerChoices):
    CITY = 1, _("市级")
    DISTRICT = 2, _("区级")
    TOWNSHIP = 3, _("街道/乡镇")
    COMMUNITY = 4, _("社区/村")


class Office(models.Model):
    """One node of the four-level service network; ``path`` makes a subtree one indexed prefix query."""

    code = models.CharField(_("区划代码"), max_length=12, unique=True)
    name = models.CharField(_("名称"), max_length=100)
    short_name = models.CharField(_("简称"), max_length=30, blank=True)
    level = models.PositiveSmallIntegerField(_("层级"), choices=OfficeLevel.choices)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children", verbose_name=_("上级")
    )
    path = models.CharField(_("路径"), max_length=120, unique=True, editable=False)
    code_is_demo = models.BooleanField(_("演示代码"), default=False, help_text=_("区划代码尚未与统计用区划代码核对。"))
    is_active = models.BooleanField(_("启用"), default=True)
    history = audit_history()

    jurisdiction_office_field = ""  # an office is in jurisdiction when it is itself under the user's office

    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("经办机构")
        verbose_name_plural = _("经办机构")
        ordering = ["path"]
        indexes = [models.Index(fields=["path"], name="office_path_prefix", opclasses=["varchar_pattern_ops"])]
        constraints = [
            models.CheckConstraint(condition=Q(level__gte=1, level__lte=4), name="office_level_range"),
            models.CheckConstraint(
                condition=Q(level=1, parent__isnull=True) | Q(level__gt=1, parent__isnull=False),
                name="office_parent_unless_city",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def district_code(self) -> str | None:
        parts = self.path.strip("/").split("/")
        return parts[1] if len(parts) > 1 else None

    def contains(self, other: Office) -> bool:
        return other.path.startswith(self.path)


class User(AbstractUser):
    """Staff member (or the service user of an external system), attached to one office."""

    office = models.ForeignKey(
        Office, null=True, blank=True, on_delete=models.PROTECT, related_name="staff", verbose_name=_("所属机构")
    )
    is_system = models.BooleanField(_("系统账户"), default=False)
    # Password policy (registry.security.passwords): when the password was last set, and an administrator's
    # demand that it be changed at the next login.
    password_changed_at = models.DateTimeField(_("密码设置时间"), null=True, blank=True, editable=False)
    must_change_password = models.BooleanField(
        _("下次登录须修改密码"), default=False, help_text=_("管理员重设密码或要求修改后，用户登录时须先设置新密码。")
    )
    history = audit_history(excluded_fields=["password", "last_login", "password_changed_at"])

    jurisdiction_office_field = "office"

    class Meta:
        verbose_name = _("工作人员")
        verbose_name_plural = _("工作人员")
        permissions = [
            ("view_full_id_number", _("可查看完整公民身份号码")),
        ]

    def role_names(self) -> list[str]:
        return [g.name for g in self.groups.all()]


class HouseholdType(models.TextChoices):
    URBAN = "urban", _("城镇")
    RURAL = "rural", _("农村")


class CardStatus(models.TextChoices):
    NONE = "none", _("未制卡")
    APPLIED = "applied", _("已申领")
    ACTIVE = "active", _("正常")
    LOST = "lost", _("挂失")
    REPLACED = "replaced", _("已补换")
    CANCELLED = "cancelled", _("已注销")


class Sex(models.TextChoices):
    MALE = "M", _("男")
    FEMALE = "F", _("女")


class Person(models.Model):
    """参保人员, also the city cardholder base (持卡人员信息库)."""

    uid = models.UUIDField(_("编号"), default=uuid.uuid4, unique=True, editable=False)
    id_number = models.CharField(_("公民身份号码"), max_length=18, unique=True, validators=[id_number_validator])
    name = models.CharField(_("姓名"), max_length=50)
    name_pinyin = models.CharField(_("姓名拼音"), max_length=120, editable=False)
    name_initials = models.CharField(_("拼音首字母"), max_length=20, editable=False)
    sex = models.CharField(_("性别"), max_length=1, choices=Sex.choices, editable=False)
    birth_date = models.DateField(_("出生日期"), editable=False)
    household_type = models.CharField(_("户籍类型"), max_length=8, choices=HouseholdType.choices)
    phone = models.CharField(_("联系电话"), max_length=20, blank=True)
    address = models.CharField(_("地址"), max_length=200, blank=True)
    residence_office = models.ForeignKey(
        Office, on_delete=models.PROTECT, related_name="residents", verbose_name=_("所属机构")
    )
    card_number = models.CharField(_("社会保障卡号"), max_length=20, null=True, blank=True, unique=True)
    card_status = models.CharField(_("社保卡状态"), max_length=10, choices=CardStatus.choices, default=CardStatus.NONE)
    # 合并: a person found to be another's duplicate (data consolidation, issue 19) becomes a tombstone pointing at
    # the survivor. The tombstone keeps its number, its jurisdiction and everything recorded under it (issued
    # bills, closed cases, archived files, migrated history); selectors show it with the survivor.
    merged_into = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="merged_persons",
        verbose_name=_("已合并到"),
        editable=False,
        db_index=False,  # person_merged_into below: partial, only tombstones are in it
    )
    merged_at = models.DateTimeField(_("合并时间"), null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)
    history = audit_history()

    jurisdiction_office_field = "residence_office"
    change_feed_type = "person"

    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("参保人员")
        verbose_name_plural = _("参保人员")
        indexes = [
            # Pinyin / initials prefix search (selectors.person_list): each index yields its matches already
            # in (pinyin, id) order, so a page is read without sorting every match.
            models.Index(ByteOrder("name_pinyin"), F("id"), name="person_pinyin_key"),
            models.Index(Left("name_initials", 2), ByteOrder("name_pinyin"), F("id"), name="person_initials2_key"),
            models.Index(ByteOrder("name_initials"), ByteOrder("name_pinyin"), F("id"), name="person_initials_key"),
            models.Index(fields=["name"], name="person_name"),
            models.Index(fields=["merged_into"], condition=Q(merged_into__isnull=False), name="person_merged_into"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(card_number__isnull=False) | Q(card_status__in=["none", "applied"]),
                name="person_card_status_needs_number",
            ),
            models.CheckConstraint(
                condition=Q(merged_into__isnull=True, merged_at__isnull=True)
                | (Q(merged_into__isnull=False, merged_at__isnull=False) & ~Q(merged_into=F("pk"))),
                name="person_tombstone_has_survivor_and_time",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_tombstone(self) -> bool:
        return self.merged_into_id is not None


class EmployerType(models.TextChoices):
    ENTERPRISE = "enterprise", _("企业")
    PUBLIC = "public", _("机关事业单位")
    INDIVIDUAL = "individual", _("个体工商户")
    OTHER = "other", _("其他")


class EmployerStatus(models.TextChoices):
    ACTIVE = "active", _("正常参保")
    SUSPENDED = "suspended", _("暂停缴费")
    CLOSED = "closed", _("注销")


class Employer(models.Model):
    """参保单位."""

    uid = models.UUIDField(_("编号"), default=uuid.uuid4, unique=True, editable=False)
    credit_code = models.CharField(
        _("统一社会信用代码"), max_length=18, unique=True, validators=[credit_code_validator]
    )
    name = models.CharField(_("单位名称"), max_length=200)
    name_pinyin = models.CharField(_("名称拼音"), max_length=400, editable=False, blank=True)
    employer_type = models.CharField(_("单位类型"), max_length=12, choices=EmployerType.choices)
    legal_representative = models.CharField(_("法定代表人"), max_length=50, blank=True, default="", db_default="")
    industry = models.CharField(_("行业"), max_length=100, blank=True)
    risk_class = models.PositiveSmallIntegerField(
        _("工伤风险类别"), validators=[MinValueValidator(1), MaxValueValidator(8)], default=1
    )
    office = models.ForeignKey(Office, on_delete=models.PROTECT, related_name="employers", verbose_name=_("所属机构"))
    status = models.CharField(_("状态"), max_length=10, choices=EmployerStatus.choices, default=EmployerStatus.ACTIVE)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)
    history = audit_history()

    jurisdiction_office_field = "office"
    change_feed_type = "employer"

    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("参保单位")
        verbose_name_plural = _("参保单位")
        indexes = [
            models.Index(fields=["name_pinyin"], name="employer_pinyin_prefix", opclasses=["varchar_pattern_ops"]),
            models.Index(fields=["name"], name="employer_name"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(risk_class__gte=1, risk_class__lte=8), name="employer_risk_class_1_8"),
        ]

    def __str__(self) -> str:
        return self.name


class InsuranceType(models.TextChoices):
    EMPLOYEE_PENSION = "emp_pension", _("职工基本养老保险")
    EMPLOYEE_MEDICAL = "emp_medical", _("职工基本医疗保险")
    UNEMPLOYMENT = "unemployment", _("失业保险")
    WORK_INJURY = "work_injury", _("工伤保险")
    MATERNITY = "maternity", _("生育保险")
    RESIDENT_PENSION = "res_pension", _("城乡居民基本养老保险")
    RESIDENT_MEDICAL = "res_medical", _("城乡居民基本医疗保险")
    LAND_FARMER = "land_farmer", _("被征地农民基本生活保障")


EMPLOYEE_INSURANCES = (
    InsuranceType.EMPLOYEE_PENSION,
    InsuranceType.EMPLOYEE_MEDICAL,
    InsuranceType.UNEMPLOYMENT,
    InsuranceType.WORK_INJURY,
    InsuranceType.MATERNITY,
)
# 灵活就业: only these two may be held without an employer.
FLEXIBLE_INSURANCES = (InsuranceType.EMPLOYEE_PENSION, InsuranceType.EMPLOYEE_MEDICAL)


class Enrollment(models.Model):
    """参保登记: one person in one insurance over [start_date, end_date] (end inclusive, open when null)."""

    uid = models.UUIDField(_("编号"), default=uuid.uuid4, unique=True, editable=False)
    # No single-column indexes on person and employer: the (person, type) and (employer, type) indexes
    # below lead with them and serve every lookup by either (they also cost millions of index inserts).
    person = models.ForeignKey(
        Person, on_delete=models.PROTECT, related_name="enrollments", verbose_name=_("参保人员"), db_index=False
    )
    insurance_type = models.CharField(_("险种"), max_length=16, choices=InsuranceType.choices)
    employer = models.ForeignKey(
        Employer,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="enrollments",
        verbose_name=_("参保单位"),
        db_index=False,
    )
    is_flexible = models.BooleanField(_("灵活就业"), default=False)
    start_date = models.DateField(_("参保开始日期"))
    end_date = models.DateField(
        _("参保终止日期"), null=True, blank=True, help_text=_("最后一个参保日；空表示持续参保。")
    )
    office = models.ForeignKey(
        Office, on_delete=models.PROTECT, related_name="enrollments", verbose_name=_("经办机构"), editable=False
    )
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)
    history = audit_history()

    jurisdiction_office_field = "office"
    change_feed_type = "enrollment"

    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("参保登记")
        verbose_name_plural = _("参保登记")
        indexes = [
            models.Index(fields=["person", "insurance_type"], name="enrollment_person_type"),
            models.Index(fields=["employer", "insurance_type"], name="enrollment_employer_type"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(end_date__isnull=True) | Q(end_date__gte=models.F("start_date")),
                name="enrollment_end_after_start",
            ),
            models.CheckConstraint(
                condition=(
                    Q(
                        insurance_type__in=[t.value for t in EMPLOYEE_INSURANCES],
                        employer__isnull=False,
                        is_flexible=False,
                    )
                    | Q(
                        insurance_type__in=[t.value for t in FLEXIBLE_INSURANCES],
                        employer__isnull=True,
                        is_flexible=True,
                    )
                    | (
                        ~Q(insurance_type__in=[t.value for t in EMPLOYEE_INSURANCES])
                        & Q(employer__isnull=True, is_flexible=False)
                    )
                ),
                name="enrollment_employer_matches_type",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.person} {self.get_insurance_type_display()}"


class SensitiveAccess(models.Model):
    """Every whole view of a sensitive value (an unmasked ID number) is kept here."""

    class Channel(models.TextChoices):
        PAGE = "page", _("页面")
        API = "api", _("接口")
        ADMIN = "admin", _("管理后台")
        EXPORT = "export", _("导出")

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, verbose_name=_("用户"))
    office = models.ForeignKey(Office, null=True, on_delete=models.PROTECT, verbose_name=_("操作机构"))
    person = models.ForeignKey(Person, on_delete=models.PROTECT, verbose_name=_("参保人员"))
    field = models.CharField(_("字段"), max_length=40, default="id_number")
    channel = models.CharField(_("渠道"), max_length=10, choices=Channel.choices)
    request_id = models.CharField(_("请求编号"), max_length=64, blank=True)
    at = models.DateTimeField(_("时间"), auto_now_add=True, db_index=True)

    jurisdiction_office_field = "person__residence_office"

    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("敏感信息查看记录")
        verbose_name_plural = _("敏感信息查看记录")

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.user} {self.field}"


OPERATION_RE = re.compile(r"^(\*|[a-z0-9][a-z0-9_-]*):(read|write)$")


def operations_validator(value) -> None:
    """A list of operation codes ``<basename>:read|write`` (``*`` for every basename)."""
    if not isinstance(value, list) or not all(isinstance(v, str) and OPERATION_RE.match(v) for v in value):
        raise ValidationError(
            _("接口权限须为“<接口名>:read”或“<接口名>:write”的列表，例如“payment:write”“*:read”。"),
            code="invalid_operations",
        )


class SystemAccount(models.Model):
    """An external system (district system, collecting agency, provincial system) calling the API."""

    code = models.SlugField(_("代码"), max_length=40, unique=True)
    name = models.CharField(_("名称"), max_length=100)
    office = models.ForeignKey(Office, on_delete=models.PROTECT, verbose_name=_("辖区机构"))
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="system_account", verbose_name=_("服务用户")
    )
    is_active = models.BooleanField(_("启用"), default=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    # "<router basename>:read|write" (e.g. "payment:write"), or "*:read" / "*:write" for every route. Checked by
    # registry.api.permissions.SystemOperationPermission on every API-key call, on top of the service user's roles.
    operations = models.JSONField(
        _("可调用的接口"),
        default=list,
        blank=True,
        validators=[operations_validator],
        help_text=_("未授权的接口返回 403。“读取”允许 GET，“写入”允许 POST/PUT/PATCH/DELETE。"),
    )
    rate_limit_per_minute = models.PositiveIntegerField(
        _("每分钟调用上限"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text=_("空表示使用系统默认值（设置项 API_RATE_LIMIT_PER_MINUTE）。"),
    )
    history = audit_history()

    jurisdiction_office_field = "office"

    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("外部系统账户")
        verbose_name_plural = _("外部系统账户")
        constraints = [
            models.CheckConstraint(
                condition=Q(rate_limit_per_minute__isnull=True) | Q(rate_limit_per_minute__gte=1),
                name="system_account_rate_limit_positive",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def allows(self, basename: str, kind: str) -> bool:
        """May this system call ``<basename>:<kind>`` (kind ``read`` or ``write``)?"""
        granted = self.operations or ()
        return f"{basename}:{kind}" in granted or f"*:{kind}" in granted


class ApiKey(models.Model):
    """A key of a system account. Only a SHA-256 of the secret is stored; several keys may be valid during a rotation."""

    account = models.ForeignKey(
        SystemAccount, on_delete=models.CASCADE, related_name="keys", verbose_name=_("系统账户")
    )
    prefix = models.CharField(_("前缀"), max_length=12, unique=True)
    key_hash = models.CharField(_("摘要"), max_length=64)
    label = models.CharField(_("说明"), max_length=100, blank=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    expires_at = models.DateTimeField(_("失效时间"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("吊销时间"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("最近使用"), null=True, blank=True)

    jurisdiction_office_field = "account__office"

    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("接口密钥")
        verbose_name_plural = _("接口密钥")

    def __str__(self) -> str:
        return f"{self.account.code}:{self.prefix}"


class ApiCallLog(models.Model):
    """One row per call under /api/ (written by registry.api.calllog, one INSERT per call).

    ``route`` is the URL pattern (``/api/v1/persons/{uid}/``), never the raw path, which may carry ids.
    ``office`` is the calling system's office (or the staff member's), which gives the jurisdiction.
    Foreign keys carry no single-column indexes: the log is written on every call and read by time.
    """

    id = models.BigAutoField(primary_key=True)
    at = models.DateTimeField(_("时间"), default=timezone.now)
    system_account = models.ForeignKey(
        SystemAccount,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        db_index=False,
        related_name="+",
        verbose_name=_("外部系统"),
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        db_index=False,
        related_name="+",
        verbose_name=_("用户"),
    )
    office = models.ForeignKey(
        Office,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        db_index=False,
        related_name="+",
        verbose_name=_("所属机构"),
    )
    method = models.CharField(_("方法"), max_length=10)
    route = models.CharField(_("接口路由"), max_length=200)
    status = models.PositiveSmallIntegerField(_("状态码"))
    latency_ms = models.PositiveIntegerField(_("耗时（毫秒）"))
    request_id = models.CharField(_("请求编号"), max_length=64)
    client_ip = models.GenericIPAddressField(_("客户端地址"), null=True, blank=True)

    jurisdiction_office_field = "office"

    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("接口调用记录")
        verbose_name_plural = _("接口调用记录")
        indexes = [
            models.Index(fields=["at"], name="api_call_log_at"),
            models.Index(fields=["system_account", "at"], name="api_call_log_system_at"),
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.route} {self.status}"


class IdempotencyState(models.TextChoices):
    IN_PROGRESS = "in_progress", _("处理中")
    COMPLETED = "completed", _("已完成")


class IdempotencyRecord(models.Model):
    """The first outcome of an ``Idempotency-Key`` of one caller (registry.api.idempotency).

    Created, committed, as an in-progress marker before the work starts (the unique constraint lets only one
    request do the work); completed with the response afterwards; deleted when the work failed with a 5xx.
    """

    principal = models.CharField(_("调用方"), max_length=40, help_text=_("system:<账户编号> 或 user:<用户编号>"))
    key = models.CharField(_("幂等键"), max_length=100)
    fingerprint = models.CharField(_("请求指纹"), max_length=64)
    method = models.CharField(_("方法"), max_length=10)
    route = models.CharField(_("接口路由"), max_length=200)
    state = models.CharField(
        _("状态"), max_length=12, choices=IdempotencyState.choices, default=IdempotencyState.IN_PROGRESS
    )
    status = models.PositiveSmallIntegerField(_("响应状态码"), null=True, blank=True)
    response_headers = models.JSONField(_("响应头"), default=dict, blank=True)
    response_body = models.BinaryField(_("响应内容"), default=bytes, blank=True)
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now)
    locked_at = models.DateTimeField(_("开始处理时间"), default=timezone.now)
    completed_at = models.DateTimeField(_("完成时间"), null=True, blank=True)
    expires_at = models.DateTimeField(_("过期时间"), db_index=True)

    class Meta:
        verbose_name = _("幂等请求记录")
        verbose_name_plural = _("幂等请求记录")
        constraints = [
            models.UniqueConstraint(fields=["principal", "key"], name="idempotency_key_once_per_principal"),
            models.CheckConstraint(
                condition=Q(state="in_progress") | Q(status__isnull=False, completed_at__isnull=False),
                name="idempotency_completed_has_response",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.principal} {self.key}"


class ChangeOp(models.TextChoices):
    CREATED = "created", _("新增")
    UPDATED = "updated", _("修改")
    DELETED = "deleted", _("删除")


class ChangeEvent(models.Model):
    """The outbox of the change feed: one row per change of a model that declares ``change_feed_type``,
    written in the same transaction as the change (``registry.feed.changes``).

    Feed order is (txid, id): ``txid`` is the writing transaction's id, set by a PostgreSQL trigger (0 on
    SQLite, where writers serialize and ``id`` alone is commit order). Append-only: PostgreSQL refuses
    UPDATE and DELETE. ``office_path`` is the owning office's path when the change was made, so the feed
    filters by jurisdiction without a join.
    """

    id = models.BigAutoField(primary_key=True)
    txid = models.BigIntegerField(_("事务号"), default=0, editable=False)
    change_type = models.CharField(_("变更类型"), max_length=20)
    object_id = models.CharField(_("记录编号"), max_length=64)
    op = models.CharField(_("操作"), max_length=8, choices=ChangeOp.choices)
    office = models.ForeignKey(
        Office,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("所属机构"),
        db_index=False,  # the feed filters by office_path; a payment file writes a million events
    )
    office_path = models.CharField(_("机构路径"), max_length=120, blank=True)
    occurred_at = models.DateTimeField(_("发生时间"))
    payload = models.JSONField(_("内容"), default=dict, blank=True)

    jurisdiction_office_field = "office"

    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("数据变更")
        verbose_name_plural = _("数据变更")
        # Looking up one record's events (the admin's search) uses a hash index on object_id, made on PostgreSQL
        # by migration 0011: a B-tree over random UUID text cost 8 s of a million-line payment file.
        indexes = [models.Index(fields=["txid", "id"], name="change_event_feed_order")]

    def __str__(self) -> str:
        return f"{self.change_type} {self.object_id} {self.get_op_display()}"


class WebhookSubscription(models.Model):
    """A system's webhook: the changes of its jurisdiction (of the chosen types) are POSTed to ``url``,
    signed with ``secret`` (HMAC-SHA256). ``cursor_*`` is the feed position up to which deliveries have
    been enqueued."""

    uid = models.UUIDField(_("编号"), default=uuid.uuid4, unique=True, editable=False)
    account = models.ForeignKey(
        SystemAccount, on_delete=models.CASCADE, related_name="webhooks", verbose_name=_("系统账户")
    )
    url = models.URLField(_("接收地址"), max_length=500)
    # Kept readable because every delivery is signed with it; shown to the system once, rotatable.
    secret = models.CharField(_("签名密钥"), max_length=80, editable=False)
    change_types = models.JSONField(_("变更类型"), default=list, blank=True, help_text=_("空表示全部有权查看的类型。"))
    is_active = models.BooleanField(_("启用"), default=True)
    cursor_txid = models.BigIntegerField(_("已入队位置（事务号）"), default=0, editable=False)
    cursor_id = models.BigIntegerField(_("已入队位置（编号）"), default=0, editable=False)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("创建人")
    )
    history = audit_history(excluded_fields=["secret", "cursor_txid", "cursor_id"])

    jurisdiction_office_field = "account__office"

    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("Webhook 订阅")
        verbose_name_plural = _("Webhook 订阅")

    def __str__(self) -> str:
        return f"{self.account} → {self.url}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("待投递")
    DELIVERED = "delivered", _("已投递")
    PARKED = "parked", _("已暂停（待人工重投）")


class WebhookDelivery(models.Model):
    """One change event to one subscription; retried with backoff, parked after too many failures."""

    subscription = models.ForeignKey(
        WebhookSubscription, on_delete=models.CASCADE, related_name="deliveries", verbose_name=_("订阅")
    )
    # No database constraint: the change events are partitioned by month (registry.partitions), and PostgreSQL
    # cannot point a foreign key at a partitioned table by id alone. Events are append-only (never deleted).
    change = models.ForeignKey(
        ChangeEvent, on_delete=models.PROTECT, related_name="+", verbose_name=_("数据变更"), db_constraint=False
    )
    status = models.CharField(_("状态"), max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(_("尝试次数"), default=0)
    next_attempt_at = models.DateTimeField(_("下次尝试时间"))
    last_status_code = models.PositiveSmallIntegerField(_("最近响应码"), null=True, blank=True)
    last_error = models.CharField(_("最近错误"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("入队时间"), auto_now_add=True)
    delivered_at = models.DateTimeField(_("投递成功时间"), null=True, blank=True)
    replayed_at = models.DateTimeField(_("人工重投时间"), null=True, blank=True)
    replayed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("人工重投人"),
    )

    jurisdiction_office_field = "subscription__account__office"

    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("Webhook 投递")
        verbose_name_plural = _("Webhook 投递")
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="webhook_delivery_due")]
        constraints = [
            models.UniqueConstraint(fields=["subscription", "change"], name="webhook_delivery_once_per_change"),
            models.CheckConstraint(
                condition=Q(status="delivered", delivered_at__isnull=False) | ~Q(status="delivered"),
                name="webhook_delivery_delivered_has_time",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.subscription_id}:{self.change_id} {self.get_status_display()}"


# ---------------------------------------------------------------- security (docs/security.md)


class SecurityEventKind(models.TextChoices):
    LOGIN = "login", _("登录成功")
    LOGIN_FAILED = "login_failed", _("登录失败")
    LOCKED_OUT = "locked_out", _("登录锁定")
    LOGOUT = "logout", _("退出登录")
    SESSION_EXPIRED = "session_expired", _("会话超时结束")
    SESSIONS_ENDED = "sessions_ended", _("结束全部会话")
    OTP_ENROLLED = "otp_enrolled", _("启用双因素认证")
    OTP_VERIFIED = "otp_verified", _("双因素认证通过")
    OTP_FAILED = "otp_failed", _("双因素认证失败")
    OTP_BACKUP_USED = "otp_backup_used", _("使用备用验证码")
    OTP_RESET = "otp_reset", _("重置双因素认证")
    PASSWORD_CHANGED = "password_changed", _("修改密码")
    PASSWORD_RESET_FORCED = "password_reset_forced", _("要求重设密码")
    ROLES_CHANGED = "roles_changed", _("角色变更")
    PERMISSIONS_CHANGED = "permissions_changed", _("权限变更")
    ACCOUNT_CHANGED = "account_changed", _("账户状态变更")
    API_KEY_ISSUED = "api_key_issued", _("签发接口密钥")
    API_KEY_REVOKED = "api_key_revoked", _("吊销接口密钥")
    API_KEY_LOCKED = "api_key_locked", _("接口密钥尝试过多被锁定")
    WEBHOOK_SECRET_ISSUED = "webhook_secret", _("签发或轮换 Webhook 密钥")
    AUDIT_EXPORT = "audit_export", _("导出审计记录")
    SMS_SENT = "sms_sent", _("发送短信验证码")


class SecurityEvent(models.Model):
    """The security log (等保 2.0 安全审计): logins, failures, lock-outs, second-factor events, password, role and
    permission changes, key issue/rotation/revocation. Append-only: PostgreSQL refuses UPDATE, and DELETE of a row
    younger than the retention floor (183 days), whoever asks (trigger ENABLE ALWAYS, migration 0013); the nightly
    purge removes rows older than ``SECURITY_LOG_RETENTION_DAYS``.

    ``user`` is whom the event is about, ``actor`` who caused it (an administrator resetting a second factor, say);
    neither has a database foreign key (a row must outlive the account and is never updated), ``username`` keeps
    the name typed at a failed login. ``office``: the user's office then (the city office when there is none),
    which gives the jurisdiction.
    """

    id = models.BigAutoField(primary_key=True)
    at = models.DateTimeField(_("时间"), default=timezone.now, db_index=True)
    kind = models.CharField(_("事件"), max_length=24, choices=SecurityEventKind.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
        verbose_name=_("用户"),
    )
    username = models.CharField(_("用户名"), max_length=150, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
        verbose_name=_("操作人"),
    )
    office = models.ForeignKey(
        Office,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
        verbose_name=_("所属机构"),
    )
    client_ip = models.GenericIPAddressField(_("客户端地址"), null=True, blank=True)
    request_id = models.CharField(_("请求编号"), max_length=64, blank=True)
    detail = models.JSONField(_("详情"), default=dict, blank=True)

    jurisdiction_office_field = "office"

    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("安全事件记录")
        verbose_name_plural = _("安全事件记录")
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.get_kind_display()} {self.username}"


class PasswordHistory(models.Model):
    """The hashes of a user's last passwords (``PASSWORD_HISTORY_COUNT``), so that none of them is chosen again."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="password_history", verbose_name=_("用户")
    )
    password = models.CharField(_("密码摘要"), max_length=128)
    created_at = models.DateTimeField(_("设置时间"), default=timezone.now)

    class Meta:
        verbose_name = _("历史密码")
        verbose_name_plural = _("历史密码")
        indexes = [models.Index(fields=["user", "-created_at"], name="password_history_user")]

    def __str__(self) -> str:
        return f"{self.user_id} {self.created_at:%Y-%m-%d}"


class UserSession(models.Model):
    """One signed-in browser session of a staff member: what "log out everywhere" and the one-session rule end."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sessions", verbose_name=_("用户")
    )
    session_key = models.CharField(_("会话"), max_length=40, unique=True)
    created_at = models.DateTimeField(_("登录时间"), default=timezone.now)
    client_ip = models.GenericIPAddressField(_("客户端地址"), null=True, blank=True)
    user_agent = models.CharField(_("浏览器"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("登录会话")
        verbose_name_plural = _("登录会话")

    def __str__(self) -> str:
        return f"{self.user_id} {self.created_at:%Y-%m-%d %H:%M}"
