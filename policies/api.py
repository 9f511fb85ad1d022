"""Read-only REST API of the policies app: documents, the parameter catalogue, dated values, the resolver."""

from __future__ import annotations

import datetime

import django_filters
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from registry.api.mixins import JurisdictionViewMixin
from registry.models import InsuranceType, Office

from . import selectors
from .models import (
    DocumentLevel,
    DocumentStatus,
    Parameter,
    ParameterCategory,
    ParameterKind,
    ParameterValue,
    PolicyDecision,
    PolicyDocument,
)
from .values import to_jsonable, to_python


class PolicyDocumentSerializer(serializers.ModelSerializer):
    district = serializers.SlugRelatedField(slug_field="code", read_only=True)
    superseded_by = serializers.SlugRelatedField(slug_field="uid", read_only=True)

    class Meta:
        model = PolicyDocument
        fields = [
            "uid",
            "number",
            "title",
            "issuer",
            "level",
            "district",
            "insurances",
            "issued_on",
            "effective_from",
            "repealed_on",
            "status",
            "superseded_by",
            "is_demo",
            "note",
            "updated_at",
        ]


class PolicyDocumentDetailSerializer(PolicyDocumentSerializer):
    class Meta(PolicyDocumentSerializer.Meta):
        fields = [*PolicyDocumentSerializer.Meta.fields, "text"]


class ParameterSerializer(serializers.ModelSerializer):
    class Meta:
        model = Parameter
        fields = [
            "code",
            "name",
            "kind",
            "shape",
            "table_keys",
            "category",
            "insurance",
            "unit",
            "min_value",
            "max_value",
            "description",
        ]


class ParameterValueSerializer(serializers.ModelSerializer):
    code = serializers.CharField(source="parameter.code", read_only=True)
    name = serializers.CharField(source="parameter.name", read_only=True)
    district = serializers.SlugRelatedField(slug_field="code", read_only=True, help_text="区代码；空表示市区统一")
    value = serializers.SerializerMethodField(help_text="小数以字符串表示；表格为 JSON")
    document = serializers.CharField(source="document.number", read_only=True, help_text="依据文件文号")
    document_uid = serializers.UUIDField(source="document.uid", read_only=True)

    class Meta:
        model = ParameterValue
        fields = [
            "uid",
            "code",
            "name",
            "kind",
            "district",
            "valid_from",
            "valid_to",
            "value",
            "revision",
            "document",
            "document_uid",
            "is_demo",
            "note",
            "updated_at",
        ]

    @extend_schema_field(OpenApiTypes.ANY)
    def get_value(self, obj):
        return to_jsonable(to_python(obj.kind, obj.parameter.shape, obj.stored_value))


class PolicyDecisionSerializer(serializers.ModelSerializer):
    document = serializers.SlugRelatedField(slug_field="uid", read_only=True)
    document_number = serializers.CharField(source="document.number", read_only=True)
    merge_into = serializers.SlugRelatedField(slug_field="uid", read_only=True)
    proposed_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    decided_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = PolicyDecision
        fields = [
            "uid",
            "document",
            "document_number",
            "decision",
            "merge_into",
            "effective_on",
            "reason",
            "status",
            "proposed_by",
            "proposed_at",
            "decided_by",
            "decided_at",
            "decision_note",
        ]


_UNKNOWN = object()


def _district_of(value: str):
    """The district code of a district or of any office under it, None for the city office, _UNKNOWN otherwise."""
    office = Office.objects.filter(code=value.strip()).first()
    return office.district_code if office is not None else _UNKNOWN


def _unknown_district(value: str) -> str:
    return _("未知的区代码“%(code)s”：请填写 331002、331003、331004 或其下级机构代码。") % {"code": value}


def _district_code_or_error(value: str) -> str | None:
    code = _district_of(value)
    if code is _UNKNOWN:
        raise serializers.ValidationError({"district": [_unknown_district(value)]})
    return code


class PolicyDocumentFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_q", help_text="文号、标题、发文机关或正文包含")
    level = django_filters.ChoiceFilter(choices=DocumentLevel.choices)
    status = django_filters.ChoiceFilter(choices=DocumentStatus.choices)
    district = django_filters.CharFilter(field_name="district__code", help_text="发文区代码")
    insurance = django_filters.ChoiceFilter(choices=InsuranceType.choices, method="filter_insurance")
    in_force_on = django_filters.DateFilter(method="filter_in_force_on", help_text="在该日有效")
    is_demo = django_filters.BooleanFilter(help_text="true 只列演示数据，false 只列正式数据")

    class Meta:
        model = PolicyDocument
        fields = ["q", "level", "status", "district", "insurance", "in_force_on", "is_demo"]

    def filter_q(self, qs, name, value):
        value = value.strip()
        if not value:
            return qs
        return qs.filter(
            Q(number__icontains=value)
            | Q(title__icontains=value)
            | Q(issuer__icontains=value)
            | Q(text__icontains=value)
        )

    def filter_insurance(self, qs, name, value):
        return qs.filter(insurances__icontains=f'"{value}"')

    def filter_in_force_on(self, qs, name, value):
        return qs.filter(effective_from__lte=value).filter(Q(repealed_on__isnull=True) | Q(repealed_on__gt=value))


@extend_schema_view(
    list=extend_schema(
        summary="政策文件列表", description="可按文号、标题、发文机关或正文检索，按层级、状态、险种、有效日期筛选。"
    ),
    retrieve=extend_schema(summary="政策文件详情（含正文）", description="按文件编号（uid）查询，含正文。"),
)
class PolicyDocumentViewSet(JurisdictionViewMixin, viewsets.ReadOnlyModelViewSet):
    queryset = PolicyDocument.objects.select_related("district", "superseded_by")
    serializer_class = PolicyDocumentSerializer
    lookup_field = "uid"
    filterset_class = PolicyDocumentFilter

    def get_serializer_class(self):
        return PolicyDocumentDetailSerializer if self.action == "retrieve" else PolicyDocumentSerializer


class ParameterFilter(django_filters.FilterSet):
    category = django_filters.ChoiceFilter(choices=ParameterCategory.choices)
    kind = django_filters.ChoiceFilter(choices=ParameterKind.choices)
    insurance = django_filters.ChoiceFilter(choices=InsuranceType.choices)
    code_prefix = django_filters.CharFilter(field_name="code", lookup_expr="startswith", help_text="参数代码前缀")

    class Meta:
        model = Parameter
        fields = ["category", "kind", "insurance", "code_prefix"]


PARAMETER_CODE_REGEX = r"[a-z0-9_.]+"


@extend_schema_view(
    list=extend_schema(summary="参数目录", description="全部参数代码及其类型、单位、表格结构。"),
    retrieve=extend_schema(
        summary="参数目录项（按参数代码）",
        description="一个参数的名称、类型、单位、取值范围和表格结构；代码由小写字母、数字、点和下划线组成。",
        parameters=[
            OpenApiParameter(
                "code",
                OpenApiTypes.STR,
                OpenApiParameter.PATH,
                description="参数代码，如 rate.emp_pension.employer",
                pattern=rf"^{PARAMETER_CODE_REGEX}$",
            )
        ],
    ),
)
class ParameterViewSet(JurisdictionViewMixin, viewsets.ReadOnlyModelViewSet):
    queryset = Parameter.objects.all()
    serializer_class = ParameterSerializer
    lookup_field = "code"
    lookup_value_regex = PARAMETER_CODE_REGEX
    filterset_class = ParameterFilter


class ParameterValueFilter(django_filters.FilterSet):
    code = django_filters.CharFilter(method="filter_code", help_text="参数代码，多个用逗号分隔")
    code_prefix = django_filters.CharFilter(
        field_name="parameter__code", lookup_expr="startswith", help_text="参数代码前缀"
    )
    on = django_filters.DateFilter(method="filter_on", help_text="在该日生效的取值（YYYY-MM-DD）")
    district = django_filters.CharFilter(
        method="filter_district", help_text="适用于该区的取值（市区统一的和该区自己的）；可填下级机构代码"
    )
    scope = django_filters.CharFilter(method="filter_scope", help_text="适用范围：city 或区代码")
    is_demo = django_filters.BooleanFilter(help_text="true 只列演示数据，false 只列正式数据")

    class Meta:
        model = ParameterValue
        fields = ["code", "code_prefix", "on", "district", "scope", "is_demo"]

    def filter_code(self, qs, name, value):
        codes = [c.strip() for c in value.split(",") if c.strip()]
        return qs.filter(parameter__code__in=codes) if codes else qs

    def filter_on(self, qs, name, value):
        return qs.filter(valid_from__lte=value).filter(Q(valid_to__isnull=True) | Q(valid_to__gt=value))

    def filter_district(self, qs, name, value):
        code = _district_code_or_error(value)
        if code is None:  # the city office: city-wide values only
            return qs.filter(district__isnull=True)
        return qs.filter(Q(district__isnull=True) | Q(district__code=code))

    def filter_scope(self, qs, name, value):
        code = None if value.strip().lower() == "city" else _district_code_or_error(value)
        if code is None:
            return qs.filter(district__isnull=True)
        return qs.filter(district__code=code)


class ResolveQuerySerializer(serializers.Serializer):
    code = serializers.CharField(required=False, allow_blank=True, help_text="参数代码，多个用逗号分隔；不填为全部")
    on = serializers.DateField(required=False, help_text="日期，默认今天")
    district = serializers.CharField(required=False, allow_blank=True, help_text="区或下级机构代码；不填为市区统一")

    def validate_district(self, value: str) -> str:
        if not value.strip():
            return ""
        code = _district_of(value)
        if code is _UNKNOWN:
            raise serializers.ValidationError(_unknown_district(value))
        return code or ""


class ResolvedSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="参数代码")
    name = serializers.CharField(help_text="参数名称")
    kind = serializers.CharField(
        help_text="取值类型：rate 费率、amount 金额、ratio 比例、months 月数、integer 整数、table 表格"
    )
    value = serializers.JSONField(help_text="取值：小数以字符串表示，表格为 JSON 对象")
    unit = serializers.CharField(help_text="单位")
    value_id = serializers.IntegerField(help_text="取值版本编号（账单记录它）")
    revision = serializers.IntegerField(help_text="修订号")
    valid_from = serializers.DateField(help_text="生效日期")
    valid_to = serializers.DateField(allow_null=True, help_text="截止日期（不含）；空表示长期有效")
    scope_district_code = serializers.CharField(allow_null=True, help_text="空表示市区统一取值")
    document_number = serializers.CharField(help_text="依据文件文号")
    is_demo = serializers.BooleanField(help_text="演示数据（非正式取值）")


def _resolved_out(resolved: selectors.ResolvedParameter) -> dict:
    return {
        "code": resolved.code,
        "name": resolved.name,
        "kind": resolved.kind,
        "value": to_jsonable(resolved.value),
        "unit": resolved.unit,
        "value_id": resolved.value_id,
        "revision": resolved.revision,
        "valid_from": resolved.valid_from,
        "valid_to": resolved.valid_to,
        "scope_district_code": resolved.scope_district_code,
        "document_number": resolved.document_number,
        "is_demo": resolved.is_demo,
    }


@extend_schema_view(
    list=extend_schema(
        summary="参数取值列表",
        description="按参数代码、日期、区筛选的各期取值（含已截止和提前录入的）。要取某日某区实际适用的值请用 resolve。",
    ),
    retrieve=extend_schema(
        summary="参数取值详情（按编号）", description="一个参数取值版本：适用范围、有效期、取值、修订号和依据文件。"
    ),
)
class ParameterValueViewSet(JurisdictionViewMixin, viewsets.ReadOnlyModelViewSet):
    queryset = ParameterValue.objects.select_related("parameter", "district", "document")
    serializer_class = ParameterValueSerializer
    lookup_field = "uid"
    filterset_class = ParameterValueFilter

    @extend_schema(
        summary="解析某日某区适用的参数值",
        description="每个参数代码返回一个值：该区的过渡取值优先于市区统一取值。请求的代码在该日没有生效取值时返回 400。",
        parameters=[
            OpenApiParameter("code", OpenApiTypes.STR, description="参数代码，多个用逗号分隔"),
            OpenApiParameter("on", OpenApiTypes.DATE, description="日期，默认今天"),
            OpenApiParameter("district", OpenApiTypes.STR, description="区或下级机构代码"),
        ],
        responses={
            200: inline_serializer(
                "ResolvedParameters",
                {
                    "on": serializers.DateField(help_text="解析日期"),
                    "district": serializers.CharField(allow_null=True, help_text="区代码；空表示市区统一"),
                    "results": ResolvedSerializer(many=True, help_text="每个参数代码一个适用值"),
                },
            )
        },
    )
    @action(detail=False, methods=["get"], url_path="resolve", filter_backends=[], pagination_class=None)
    def resolve(self, request):
        query = ResolveQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        on: datetime.date = query.validated_data.get("on") or timezone.localdate()
        district = query.validated_data.get("district") or None
        requested = [c.strip() for c in (query.validated_data.get("code") or "").split(",") if c.strip()]
        if requested:
            try:
                resolved = selectors.parameter_values(requested, on=on, district_code=district)
            except selectors.ParameterNotFound as exc:
                raise serializers.ValidationError({"code": exc.messages}) from None
            results = [resolved[c] for c in dict.fromkeys(requested)]
        else:
            results = [row.resolved for row in selectors.parameter_table(on, district) if row.resolved]
        return Response({"on": on, "district": district, "results": [_resolved_out(r) for r in results]})


@extend_schema_view(
    list=extend_schema(
        summary="政策清理决定列表",
        description="对各区自行出台文件的保留、废止、并入决定及其审批状态，可按状态和决定类型筛选。",
    ),
    retrieve=extend_schema(summary="政策清理决定详情", description="一项清理决定的提出、审批经过和生效日期。"),
)
class PolicyDecisionViewSet(JurisdictionViewMixin, viewsets.ReadOnlyModelViewSet):
    queryset = PolicyDecision.objects.select_related("document", "merge_into", "proposed_by", "decided_by")
    serializer_class = PolicyDecisionSerializer
    lookup_field = "uid"
    filterset_fields = ["status", "decision"]
