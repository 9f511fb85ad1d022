"""The online service hall (网上办事大厅): its own accounts, one-time SMS codes and message box.

A ``HallAccount`` is not a staff ``User``: it has its own table, password hash, authentication backend
(``hall.auth``) and session cookie (``hall.middleware``). A person account is bound to one registry ``Person``; an
employer account to one ``Employer`` (its administrator, or an agent with chosen rights). An account opens only
when its phone is the one the registry holds for the person, or after a clerk confirmed it at a counter or handed
over an activation code; before that it sees nothing (a leaked ID number is not enough to read a record).
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from registry.jurisdiction import JurisdictionQuerySet


class AccountKind(models.TextChoices):
    PERSON = "person", _("个人")
    EMPLOYER_ADMIN = "employer_admin", _("单位管理员")
    EMPLOYER_AGENT = "employer_agent", _("单位经办人")


class AccountStatus(models.TextChoices):
    PENDING = "pending", _("待柜台确认或激活")
    ACTIVE = "active", _("已开通")
    DISABLED = "disabled", _("已停用")


class Right(models.TextChoices):
    """What an employer agent may do; the employer's administrator may do all of it and manage agents."""

    DECLARE = "declare", _("缴费申报")
    BILLS = "bills", _("查看账单")
    APPLY = "apply", _("业务申请")


class HallAccount(models.Model):
    uid = models.UUIDField(_("编号"), default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(_("账户类型"), max_length=16, choices=AccountKind.choices)
    status = models.CharField(_("状态"), max_length=10, choices=AccountStatus.choices, default=AccountStatus.PENDING)
    phone = models.CharField(_("手机号码"), max_length=11)
    name = models.CharField(_("姓名"), max_length=50)
    # The ID number of the account's holder: for a person the registry person's own; for an employer account the
    # legal representative's or the agent's (who need not be insured in Taizhou). Never shown unmasked.
    id_number = models.CharField(_("公民身份号码"), max_length=18)
    person = models.ForeignKey(
        "registry.Person",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="hall_accounts",
        verbose_name=_("参保人员"),
    )
    employer = models.ForeignKey(
        "registry.Employer",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="hall_accounts",
        verbose_name=_("参保单位"),
    )
    # The office that answers for the account (the person's residence office, the employer's office): the clerks
    # of its jurisdiction confirm it or issue its activation code.
    office = models.ForeignKey(
        "registry.Office", on_delete=models.PROTECT, related_name="+", verbose_name=_("所属机构")
    )
    rights = models.JSONField(_("权限"), default=list, blank=True)
    password = models.CharField(_("密码摘要"), max_length=128)
    phone_matches_registry = models.BooleanField(_("手机号与登记一致"), default=False)
    activation_code_hash = models.CharField(_("激活码摘要"), max_length=64, blank=True)
    activation_code_expires = models.DateTimeField(_("激活码有效期"), null=True, blank=True)
    confirmed_at = models.DateTimeField(_("确认/激活时间"), null=True, blank=True)
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("确认柜员"),
    )
    created_by = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="agents", verbose_name=_("创建人")
    )
    notify_opt_out = models.BooleanField(
        _("不接收非必要通知"), default=False, help_text=_("办件结果等必要通知照常发送。")
    )
    created_at = models.DateTimeField(_("注册时间"), auto_now_add=True)
    last_login = models.DateTimeField(_("最近登录"), null=True, blank=True)

    jurisdiction_office_field = "office"

    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("网厅账户")
        verbose_name_plural = _("网厅账户")
        permissions = [("confirm_hallaccount", _("可确认网厅账户、发放激活码"))]
        constraints = [
            # One person account per phone; one open account per person (a pending one, registered by someone who
            # only knew the ID number, never keeps the real person out); employer accounts: one per phone and employer.
            models.UniqueConstraint(fields=["phone"], condition=Q(kind="person"), name="hall_person_phone_once"),
            models.UniqueConstraint(
                fields=["person"], condition=Q(kind="person", status="active"), name="hall_person_active_once"
            ),
            models.UniqueConstraint(
                fields=["employer", "phone"], condition=~Q(kind="person"), name="hall_employer_phone_once"
            ),
            models.CheckConstraint(
                condition=Q(kind="person", person__isnull=False, employer__isnull=True)
                | (~Q(kind="person") & Q(employer__isnull=False)),
                name="hall_account_bound",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.name}"

    @property
    def is_active(self) -> bool:
        return self.status == AccountStatus.ACTIVE

    @property
    def is_person(self) -> bool:
        return self.kind == AccountKind.PERSON

    @property
    def is_employer(self) -> bool:
        return self.kind in (AccountKind.EMPLOYER_ADMIN, AccountKind.EMPLOYER_AGENT)

    @property
    def is_employer_admin(self) -> bool:
        return self.kind == AccountKind.EMPLOYER_ADMIN

    def has_right(self, right: str) -> bool:
        return self.is_employer_admin or (self.kind == AccountKind.EMPLOYER_AGENT and right in (self.rights or []))


class SmsPurpose(models.TextChoices):
    REGISTER = "register", _("注册")
    LOGIN = "login", _("登录")
    RESET = "reset", _("重设密码")


class SmsCode(models.Model):
    """One one-time code sent to a phone: only its HMAC is kept; 5 minutes, 5 tries, used once."""

    phone = models.CharField(_("手机号码"), max_length=11)
    purpose = models.CharField(_("用途"), max_length=10, choices=SmsPurpose.choices)
    code_hash = models.CharField(_("验证码摘要"), max_length=64)
    created_at = models.DateTimeField(_("发送时间"), db_index=True)
    expires_at = models.DateTimeField(_("失效时间"))
    tries = models.PositiveSmallIntegerField(_("已尝试次数"), default=0)
    used_at = models.DateTimeField(_("使用时间"), null=True, blank=True)
    client_ip = models.GenericIPAddressField(_("客户端地址"), null=True, blank=True)

    class Meta:
        verbose_name = _("短信验证码")
        verbose_name_plural = _("短信验证码")
        indexes = [
            models.Index(fields=["phone", "created_at"], name="hall_sms_phone_time"),
            models.Index(fields=["client_ip", "created_at"], name="hall_sms_ip_time"),
        ]

    def __str__(self) -> str:
        return f"{self.phone} {self.get_purpose_display()}"


class MessageKind(models.TextChoices):
    CASE_ACCEPTED = "case_accepted", _("办件已受理")
    CASE_CORRECTION = "case_correction", _("办件需补正")
    CASE_COMPLETED = "case_completed", _("办件已办结")
    CASE_REJECTED = "case_rejected", _("办件不予办理")
    BILL_ISSUED = "bill_issued", _("账单已生成")
    BILL_DUE_SOON = "bill_due_soon", _("账单即将到期")
    BILL_OVERDUE = "bill_overdue", _("账单已逾期")
    GRADE_SEASON = "grade_season", _("居民养老缴费档次选择")


# Sent even to those who opted out: they concern an application or a debt (the rest is a reminder).
MANDATORY_KINDS = frozenset(
    {
        MessageKind.CASE_ACCEPTED,
        MessageKind.CASE_CORRECTION,
        MessageKind.CASE_COMPLETED,
        MessageKind.CASE_REJECTED,
        MessageKind.BILL_OVERDUE,
    }
)


class HallMessage(models.Model):
    """One notification in the message box of a person or an employer; ``key`` makes each event's message once."""

    key = models.CharField(_("事件键"), max_length=120, unique=True)
    kind = models.CharField(_("类型"), max_length=16, choices=MessageKind.choices)
    person = models.ForeignKey(
        "registry.Person", null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("人员")
    )
    employer = models.ForeignKey(
        "registry.Employer", null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("单位")
    )
    title = models.CharField(_("标题"), max_length=100)
    body = models.CharField(_("内容"), max_length=500)
    link = models.CharField(_("链接"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("时间"), auto_now_add=True)
    read_at = models.DateTimeField(_("已读时间"), null=True, blank=True)
    sms_sent_at = models.DateTimeField(_("短信发送时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("网厅消息")
        verbose_name_plural = _("网厅消息")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["person", "created_at"], name="hall_message_person"),
            models.Index(fields=["employer", "created_at"], name="hall_message_employer"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(person__isnull=False) | Q(employer__isnull=False), name="hall_message_has_recipient"
            )
        ]

    def __str__(self) -> str:
        return self.title


class HallApplication(models.Model):
    """Which hall account submitted a case: only that account (or, for an employer's application, that employer's
    accounts with the right to apply) may upload to it, withdraw it or rate it."""

    case = models.OneToOneField(
        "cases.Case", on_delete=models.PROTECT, related_name="hall_application", verbose_name=_("办件")
    )
    account = models.ForeignKey(
        HallAccount, on_delete=models.PROTECT, related_name="applications", verbose_name=_("账户")
    )
    employer = models.ForeignKey(
        "registry.Employer", null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("单位")
    )
    submitted_at = models.DateTimeField(_("提交时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("网上申请")
        verbose_name_plural = _("网上申请")

    def __str__(self) -> str:
        return str(self.case_id)
