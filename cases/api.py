"""REST API v1 of cases: the service catalogue (read), cases (online/API applications, reads, workflow
transitions allowed to the caller) and the case archive (attachments). Jurisdiction applied everywhere."""

from __future__ import annotations

import uuid

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from registry.api.mixins import JurisdictionViewMixin
from registry.api.permissions import StaffModelPermissions, SystemOperationPermission
from registry.api.serializers import MethodFirstMixin, OfficeCodeField, StrictSerializer, UidRelatedField
from registry.models import Employer, Person

from . import rules, selectors, services
from .certificate_codes import verify_path
from .models import OPEN_STATES, Attachment, Case, CaseState, Channel, ServiceItem
from .pdf import format_code
from .rules import WORKFLOW_ACTIONS
from .selectors import SLA_CHOICES
from .views_common import attachment_response, public_base_url


def extend_schema_field_list(serializer_class):
    return extend_schema_field(serializer_class(many=True))


def extend_schema_field_dict():
    return extend_schema_field(OpenApiTypes.OBJECT)


# ---------------------------------------------------------------------------------------------
# Catalogue.


class StepSerializer(serializers.Serializer):
    sequence = serializers.IntegerField(help_text="环节顺序，从 1 开始")
    kind = serializers.CharField(help_text="环节：intake 受理、review 审核、approval 复核/审批、completion 办结")
    kind_label = serializers.CharField(source="get_kind_display", help_text="环节名称")
    role = serializers.CharField(help_text="办理角色：柜员、审核或负责人")
    lowest_level = serializers.IntegerField(help_text="最低办理层级：1 市级、2 区级、3 街道/乡镇、4 社区/村")


class MaterialSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="材料编码")
    name = serializers.CharField(help_text="材料名称")
    required = serializers.BooleanField(help_text="是否必交")
    system_source = serializers.CharField(help_text="非空表示系统已有，申请人免于提交")


class FieldSpecSerializer(serializers.Serializer):
    name = serializers.CharField(help_text="申请信息字段名（form_data 的键）")
    label = serializers.CharField(help_text="字段名称")
    kind = serializers.CharField(help_text="取值类型：date 日期、month 年月（YYYY-MM）、choice 选项、bool 是否")
    required = serializers.BooleanField(help_text="是否必填")


class ServiceItemSerializer(serializers.ModelSerializer):
    steps = serializers.SerializerMethodField(help_text="办理环节及各环节的角色和最低办理层级")
    materials = serializers.SerializerMethodField(help_text="申请材料")
    form_fields = serializers.SerializerMethodField(help_text="申请时须填写的信息（提交申请的 form_data）")

    class Meta:
        model = ServiceItem
        fields = [
            "code",
            "name",
            "insurance_type",
            "subject",
            "effect",
            "time_limit_days",
            "time_limit_parameter",
            "time_limit_is_demo",
            "two_person_rule",
            "legal_basis",
            "note",
            "steps",
            "materials",
            "form_fields",
        ]

    @extend_schema_field_list(StepSerializer)
    def get_steps(self, obj):
        return StepSerializer(sorted(obj.steps.all(), key=lambda s: s.sequence), many=True).data

    @extend_schema_field_list(MaterialSerializer)
    def get_materials(self, obj):
        return MaterialSerializer(obj.materials.all(), many=True).data

    @extend_schema_field_list(FieldSpecSerializer)
    def get_form_fields(self, obj):
        return [
            {"name": f.name, "label": str(f.label), "kind": f.kind, "required": f.required}
            for f in services.effect_fields(obj)
        ]


@extend_schema_view(
    list=extend_schema(summary="经办事项清单", description="全市统一的经办事项：材料、环节与核定权限、法定时限。"),
    retrieve=extend_schema(
        summary="经办事项详情", description="按事项编码查询一个事项的材料、办理环节、核定权限、法定时限和申请信息。"
    ),
)
class ServiceItemViewSet(MethodFirstMixin, JurisdictionViewMixin, viewsets.ReadOnlyModelViewSet):
    queryset = selectors.catalogue_items(active_only=False)
    serializer_class = ServiceItemSerializer
    lookup_field = "code"
    filterset_fields = ["insurance_type", "effect", "is_active"]


# ---------------------------------------------------------------------------------------------
# Cases.


class CaseMaterialOutSerializer(serializers.Serializer):
    code = serializers.CharField(source="material.code", help_text="材料编码")
    name = serializers.CharField(source="material.name", help_text="材料名称")
    required = serializers.BooleanField(source="material.required", help_text="是否必交")
    status = serializers.CharField(
        help_text="收取状态：received 已收取、system 系统核验免提交、missing 待补正、not_received 未提交"
    )


class CaseEventOutSerializer(serializers.Serializer):
    at = serializers.DateTimeField(help_text="时间")
    action = serializers.CharField(help_text="操作，如 submit 提交申请、accept 受理、pass 通过、correct 一次性告知补正")
    step_kind = serializers.CharField(help_text="所在环节")
    from_state = serializers.CharField(help_text="操作前状态")
    to_state = serializers.CharField(help_text="操作后状态")
    actor = serializers.SerializerMethodField(help_text="办理人姓名")
    office = serializers.SerializerMethodField(help_text="办理机构代码")
    note = serializers.CharField(help_text="办理意见")

    def get_actor(self, obj) -> str:
        return (obj.actor.get_full_name() or obj.actor.username) if obj.actor_id else ""

    def get_office(self, obj) -> str:
        return obj.actor_office.code if obj.actor_office_id else ""


class SlaOutSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="时限状态代码，如 on_time、due_soon、overdue、paused")
    label = serializers.CharField(help_text="时限状态说明，如“正常（剩 5 个工作日）”")
    days_left = serializers.IntegerField(allow_null=True, help_text="剩余工作日；超期为负数；不计时为 null")


class CertificateOutSerializer(serializers.Serializer):
    kind = serializers.CharField(help_text="证明类型")
    code = serializers.CharField(help_text="验证码（分组显示）")
    verify_path = serializers.CharField(help_text="在线核验地址的路径")
    attachment = serializers.UUIDField(help_text="证明 PDF 的档案附件编号")


class AwardOutSerializer(serializers.Serializer):
    monthly_amount = serializers.DecimalField(max_digits=12, decimal_places=2, help_text="月待遇金额（元）")
    start_month = serializers.DateField(help_text="待遇起始月（该月 1 日）")
    months = serializers.IntegerField(allow_null=True, help_text="发放月数；按月长期发放为 null")


class CaseOutSerializer(serializers.ModelSerializer):
    item = serializers.SlugRelatedField(slug_field="code", read_only=True)
    item_name = serializers.CharField(source="item.name", read_only=True)
    person = serializers.SlugRelatedField(slug_field="uid", read_only=True)
    employer = serializers.SlugRelatedField(slug_field="uid", read_only=True)
    intake_office = serializers.SlugRelatedField(slug_field="code", read_only=True)
    current_office = serializers.SlugRelatedField(slug_field="code", read_only=True)
    current_step = serializers.SerializerMethodField(help_text="当前环节；未受理或已结束为空字符串")
    sla = serializers.SerializerMethodField(help_text="办理时限状态")
    allowed_actions = serializers.SerializerMethodField(help_text="调用方在当前状态下可执行的办理操作")
    certificate = serializers.SerializerMethodField(help_text="办结后出具的证明；无证明为 null")
    award = serializers.SerializerMethodField(help_text="办结后核定的待遇；无待遇为 null")

    class Meta:
        model = Case
        fields = [
            "uid",
            "number",
            "item",
            "item_name",
            "person",
            "employer",
            "channel",
            "intake_office",
            "current_office",
            "state",
            "current_step",
            "form_data",
            "submitted_at",
            "received_at",
            "time_limit_days",
            "due_date",
            "calendar_warning",
            "sla",
            "completed_at",
            "closing_reason",
            "result_summary",
            "allowed_actions",
            "certificate",
            "award",
        ]

    def get_current_step(self, obj) -> str:
        return obj.current_step.kind if obj.current_step_id else ""

    @extend_schema_field(SlaOutSerializer)
    def get_sla(self, obj):
        sla = selectors.case_sla(obj)
        return {"code": sla.code, "label": sla.label, "days_left": sla.days_left}

    def get_allowed_actions(self, obj) -> list[str]:
        request = self.context.get("request")
        return rules.allowed_actions(obj, request.user) if request else []

    @extend_schema_field(CertificateOutSerializer(allow_null=True))
    def get_certificate(self, obj):
        certificate = getattr(obj, "certificate", None) if obj.state == CaseState.COMPLETED else None
        if certificate is None:
            return None
        return {
            "kind": certificate.kind,
            "code": format_code(certificate.code),
            "verify_path": verify_path(certificate.code),
            "attachment": str(certificate.attachment.uid),
        }

    @extend_schema_field(AwardOutSerializer(allow_null=True))
    def get_award(self, obj):
        award = getattr(obj, "award", None) if obj.state == CaseState.COMPLETED else None
        if award is None:
            return None
        return {
            "monthly_amount": str(award.monthly_amount),
            "start_month": award.start_month.isoformat(),
            "months": award.months,
        }


class CaseDetailSerializer(CaseOutSerializer):
    materials = serializers.SerializerMethodField(help_text="申请材料及收取状态")
    events = serializers.SerializerMethodField(help_text="办理过程，按时间先后")

    class Meta(CaseOutSerializer.Meta):
        fields = CaseOutSerializer.Meta.fields + ["materials", "events"]

    @extend_schema_field_list(CaseMaterialOutSerializer)
    def get_materials(self, obj):
        return CaseMaterialOutSerializer(selectors.case_materials(obj), many=True).data

    @extend_schema_field_list(CaseEventOutSerializer)
    def get_events(self, obj):
        return CaseEventOutSerializer(selectors.case_events(obj), many=True).data


class ItemCodeField(serializers.SlugRelatedField):
    default_error_messages = {
        "does_not_exist": gettext_lazy("未知的经办事项编码“{value}”。"),
        "invalid": gettext_lazy("经办事项编码无效。"),
    }

    def __init__(self, **kwargs):
        super().__init__(slug_field="code", queryset=ServiceItem.objects.all(), **kwargs)


class CaseCreateSerializer(StrictSerializer):
    item = ItemCodeField(help_text="经办事项编码")
    person = UidRelatedField(Person, required=False, allow_null=True, help_text="申请人编号（uid）；个人事项必填")
    employer = UidRelatedField(Employer, required=False, allow_null=True, help_text="申请单位编号（uid）；单位事项必填")
    channel = serializers.ChoiceField(
        choices=[(Channel.ONLINE, "网上办事大厅"), (Channel.API, "系统接口")],
        default=Channel.API,
        help_text="申请渠道：online 网上办事大厅，api 系统接口（默认）",
    )
    intake_office = OfficeCodeField(
        required=False, allow_null=True, help_text="受理机构代码；缺省为申请人所在的可受理机构"
    )
    materials_provided = serializers.ListField(
        child=serializers.CharField(max_length=40), required=False, default=list, help_text="随申请提交的材料编码"
    )
    form_data = serializers.DictField(
        required=False, default=dict, help_text="事项要求的申请信息（见事项的 form_fields）"
    )
    note = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="", help_text="申请说明")


class TransitionSerializer(StrictSerializer):
    action = serializers.ChoiceField(
        choices=[(a.value, a.label) for a in WORKFLOW_ACTIONS], help_text="办理操作（须在办件的 allowed_actions 中）"
    )
    note = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="", help_text="办理意见")
    reason = serializers.CharField(
        required=False, allow_blank=True, max_length=2000, default="", help_text="不予办理、补正或撤回的理由"
    )
    materials = serializers.ListField(
        child=serializers.CharField(max_length=40), required=False, default=list, help_text="收取的材料编码"
    )
    missing = serializers.ListField(
        child=serializers.CharField(max_length=40), required=False, default=list, help_text="需补正的材料编码"
    )


class TransitionPermissions(StaffModelPermissions):
    """Workflow steps change a case: ``cases.change_case`` (which step a user may do is the catalogue's data)."""

    perms_map = {**StaffModelPermissions.perms_map, "POST": ["%(app_label)s.change_%(model_name)s"]}


@extend_schema_view(
    list=extend_schema(
        summary="办件列表（辖区内）",
        description="辖区内受理或正在办理的办件，最新提交在前；可按事项、申请人、状态、渠道、时限状态筛选，或只列本机构待办。",
        parameters=[
            OpenApiParameter("item", str, description="经办事项编码"),
            OpenApiParameter("person", str, description="申请人编号（uid）"),
            OpenApiParameter("sla", str, enum=[c for c, _label in SLA_CHOICES], description="时限状态"),
            OpenApiParameter("queue", str, enum=["1"], description="1：只列本机构当前待办"),
        ],
    ),
    retrieve=extend_schema(
        summary="办件详情",
        description="含材料收取状态、办理过程、时限状态和调用方可执行的操作；不存在或不在调用方辖区内返回 404。",
        responses={200: CaseDetailSerializer},
    ),
    create=extend_schema(
        summary="提交申请（网上办事大厅/系统接口）",
        description=(
            "申请进入受理机构的“待受理”队列，由窗口柜员受理后开始计算办理时限。事项要求的申请信息放在 form_data"
            "（见事项详情的 form_fields）；未知事项编码、缺少必填信息或申请人不在调用方辖区内返回 400。"
        ),
        request=CaseCreateSerializer,
        responses={201: CaseDetailSerializer},
        examples=[
            OpenApiExample(
                "个人参保登记申请",
                value={
                    "item": "CJ-GR-001",
                    "person": "3f1c2a9e-0000-4000-8000-000000000002",
                    "channel": "api",
                    "materials_provided": ["form"],
                    "form_data": {"insurance_type": "res_medical", "start_date": "2027-01-01"},
                    "note": "",
                },
                request_only=True,
            ),
            OpenApiExample(
                "已提交，待受理",
                value={
                    "uid": "3f1c2a9e-0000-4000-8000-000000000040",
                    "number": "331003001202611050001",
                    "item": "CJ-GR-001",
                    "item_name": "个人参保登记",
                    "person": "3f1c2a9e-0000-4000-8000-000000000002",
                    "employer": None,
                    "channel": "api",
                    "intake_office": "331003001",
                    "current_office": "331003001",
                    "state": "submitted",
                    "current_step": "",
                    "form_data": {"insurance_type": "res_medical", "start_date": "2027-01-01"},
                    "submitted_at": "2026-11-05T09:30:00+08:00",
                    "received_at": None,
                    "time_limit_days": 10,
                    "due_date": None,
                    "calendar_warning": False,
                    "sla": {"code": "none", "label": "未受理，未起算", "days_left": None},
                    "completed_at": None,
                    "closing_reason": "",
                    "result_summary": "",
                    "allowed_actions": ["withdraw"],
                    "certificate": None,
                    "award": None,
                    "materials": [
                        {"code": "form", "name": "社会保险参保登记表", "required": True, "status": "received"}
                    ],
                    "events": [
                        {
                            "at": "2026-11-05T09:30:00+08:00",
                            "action": "submit",
                            "step_kind": "",
                            "from_state": "",
                            "to_state": "submitted",
                            "actor": "黄岩区社保系统",
                            "office": "331003",
                            "note": "",
                        }
                    ],
                },
                response_only=True,
                status_codes=["201"],
            ),
        ],
    ),
)
class CaseViewSet(
    MethodFirstMixin,
    JurisdictionViewMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    queryset = Case.objects.select_related(
        "item", "person", "employer", "intake_office", "current_office", "current_step", "received_by"
    ).order_by("-submitted_at", "-id")
    serializer_class = CaseOutSerializer
    lookup_field = "uid"
    filterset_fields = ["state", "channel"]
    http_method_names = ["get", "post", "head", "options"]

    def get_permissions(self):
        if getattr(self, "action", None) == "transition":
            return [SystemOperationPermission(), TransitionPermissions()]
        return super().get_permissions()

    def get_serializer_class(self):
        return CaseDetailSerializer if self.action == "retrieve" else CaseOutSerializer

    def get_queryset(self):
        qs = super().get_queryset()
        params = self.request.query_params
        if params.get("item"):
            qs = qs.filter(item__code=params["item"])
        if params.get("person"):
            qs = qs.filter(person__uid=params["person"]) if _is_uuid(params["person"]) else qs.none()
        # An unknown sla or queue value is the caller's mistake: 400, not a silently unfiltered list.
        if params.get("sla"):
            if params["sla"] not in dict(SLA_CHOICES):
                raise serializers.ValidationError(
                    {"sla": [_("未知的时限状态“%(value)s”。") % {"value": params["sla"]}]}
                )
            qs = selectors.filter_by_sla(qs, params["sla"])
        if params.get("queue"):
            if params["queue"] != "1":
                raise serializers.ValidationError({"queue": [_("queue 只能为 1（只列本机构当前待办）。")]})
            qs = qs.filter(current_office=getattr(self.request.user, "office", None), state__in=OPEN_STATES)
        return qs

    def create(self, request, *args, **kwargs):
        data = CaseCreateSerializer(data=request.data, context=self.get_serializer_context())
        data.is_valid(raise_exception=True)
        values = data.validated_data
        case = services.case_submit(
            acting_user=request.user,
            item=values["item"],
            person=values.get("person"),
            employer=values.get("employer"),
            channel=values["channel"],
            intake_office=values.get("intake_office"),
            materials_provided=values.get("materials_provided") or [],
            form_data=values.get("form_data") or {},
            note=values.get("note", ""),
        )
        case = selectors.case_get(user=request.user, uid=case.uid)
        return Response(CaseDetailSerializer(case, context=self.get_serializer_context()).data, status=201)

    @extend_schema(
        summary="办理操作（受理、领办、通过、补正、恢复、不予办理、撤回）",
        description="只能执行本人在当前状态下有权执行的操作（见办件的 allowed_actions）；角色或机构层级不符返回 403，状态不允许返回 400。",
        request=TransitionSerializer,
        responses={200: CaseDetailSerializer},
    )
    @action(detail=True, methods=["post"], url_path="transition")
    def transition(self, request, uid=None):
        case = self.get_object()
        data = TransitionSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        services.case_transition(
            case=case,
            acting_user=request.user,
            action=values["action"],
            note=values.get("note", ""),
            reason=values.get("reason", ""),
            materials=values.get("materials") or [],
            missing=values.get("missing") or [],
            public_base_url=public_base_url(request),
        )
        case = selectors.case_get(user=request.user, uid=case.uid)
        return Response(CaseDetailSerializer(case, context=self.get_serializer_context()).data)


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


# ---------------------------------------------------------------------------------------------
# Attachments.


class AttachmentOutSerializer(serializers.ModelSerializer):
    case = serializers.SlugRelatedField(slug_field="uid", read_only=True)
    material = serializers.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = Attachment
        fields = ["uid", "case", "material", "kind", "original_name", "content_type", "size", "sha256", "uploaded_at"]
        extra_kwargs = {"sha256": {"help_text": "归档时计算的 SHA-256 摘要（十六进制），下载时据此核验文件完整"}}


class AttachmentCreateSerializer(StrictSerializer):
    case = UidRelatedField(Case, help_text="办件编号（uid）")
    material = serializers.CharField(required=False, allow_blank=True, max_length=40, help_text="对应的材料编码")
    file = serializers.FileField(help_text="PDF、PNG 或 JPEG；按内容识别类型")


@extend_schema_view(
    list=extend_schema(
        summary="档案附件列表（辖区内）",
        description="辖区内办件的档案附件（扫描件、出具的证明），最新在前；可按办件筛选。",
        parameters=[OpenApiParameter("case", str, description="办件编号（uid）")],
    ),
    retrieve=extend_schema(
        summary="档案附件详情",
        description="附件的文件名、类型、大小和归档时的 SHA-256；文件内容用 download 下载。辖区外返回 404。",
    ),
    create=extend_schema(
        summary="上传档案附件",
        description="只接受 PDF、PNG、JPEG（按文件内容识别，扩展名须与内容一致）；空文件、超过大小上限或已办结的办件均被拒绝。",
        request={"multipart/form-data": AttachmentCreateSerializer},
        responses={201: AttachmentOutSerializer},
    ),
)
class AttachmentViewSet(
    MethodFirstMixin,
    JurisdictionViewMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    queryset = Attachment.objects.select_related("case", "material").order_by("-uploaded_at", "-id")
    serializer_class = AttachmentOutSerializer
    lookup_field = "uid"
    parser_classes = [MultiPartParser, FormParser]
    http_method_names = ["get", "post", "head", "options"]

    def get_queryset(self):
        qs = super().get_queryset()
        case = self.request.query_params.get("case")
        if case:
            qs = qs.filter(case__uid=case) if _is_uuid(case) else qs.none()
        return qs

    def create(self, request, *args, **kwargs):
        data = AttachmentCreateSerializer(data=request.data, context=self.get_serializer_context())
        data.is_valid(raise_exception=True)
        values = data.validated_data
        attachment = services.attachment_add(
            case=values["case"], acting_user=request.user, file=values["file"], material_code=values.get("material", "")
        )
        return Response(AttachmentOutSerializer(attachment).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="下载档案附件",
        description="下载前重新计算 SHA-256；与归档时不一致（文件被篡改或缺失）返回 409。",
        responses={
            # The archive keeps only these types (cases.services.attachments.ALLOWED_TYPES).
            (200, "application/pdf"): OpenApiTypes.BINARY,
            (200, "image/png"): OpenApiTypes.BINARY,
            (200, "image/jpeg"): OpenApiTypes.BINARY,
            409: OpenApiResponse(description="完整性校验失败：文件被篡改或缺失"),
        },
    )
    @action(detail=True, methods=["get"], url_path="download")
    def download(self, request, uid=None):
        attachment = self.get_object()
        # A missing or altered file is a ConflictError: 409 ``integrity_error`` in the API's error format.
        content = selectors.attachment_read_verified(attachment)
        return attachment_response(attachment, content)
