"""The shared kernel: offices, staff, persons, employers, enrollments."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from .identifiers import credit_code_validator, id_number_validator
from .jurisdiction import JurisdictionQuerySet


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
    history = audit_history(excluded_fields=["password", "last_login"])

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
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)
    history = audit_history()

    jurisdiction_office_field = "residence_office"

    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("参保人员")
        verbose_name_plural = _("参保人员")
        indexes = [
            models.Index(fields=["name_pinyin"], name="person_pinyin_prefix", opclasses=["varchar_pattern_ops"]),
            models.Index(fields=["name_initials"], name="person_initials_prefix", opclasses=["varchar_pattern_ops"]),
            models.Index(fields=["name"], name="person_name"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(card_number__isnull=False) | Q(card_status="none"),
                name="person_card_status_needs_number",
            ),
        ]

    def __str__(self) -> str:
        return self.name


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
    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="enrollments", verbose_name=_("参保人员"))
    insurance_type = models.CharField(_("险种"), max_length=16, choices=InsuranceType.choices)
    employer = models.ForeignKey(
        Employer,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="enrollments",
        verbose_name=_("参保单位"),
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
    history = audit_history()

    jurisdiction_office_field = "office"

    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("外部系统账户")
        verbose_name_plural = _("外部系统账户")

    def __str__(self) -> str:
        return self.name


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
