"""REST API v1 of funds: read-only fund balances, indicators and warnings.

Fund-level figures are city-wide (``jurisdiction_public``): whoever's role grants ``funds.view_*``
(fund officers, city administrators, auditors, or a system account given such a role) reads them all.
"""

from __future__ import annotations

import django_filters
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import serializers, viewsets

from registry.api.mixins import JurisdictionViewMixin
from registry.models import OfficeLevel

from . import selectors
from .models import Fund, FundIndicator, FundWarning, IndicatorCode, Level, WarningStatus

MONEY = {"max_digits": 18, "decimal_places": 2}


class FundBalanceSerializer(serializers.ModelSerializer):
    balance = serializers.SerializerMethodField(help_text="累计结余（元），截至 as_of 当日终了")
    as_of = serializers.SerializerMethodField(help_text="结余日期")
    months_covered = serializers.SerializerMethodField(help_text="最近一次计算的累计结余可支付月数（未评估时为 null）")
    months_covered_level = serializers.SerializerMethodField(
        help_text="可支付月数等级：normal/warn/alarm/excess/not_assessed"
    )
    indicators_on = serializers.SerializerMethodField(help_text="最近一次指标计算的统计日期")
    open_warnings = serializers.SerializerMethodField(help_text="待处理预警数")

    class Meta:
        model = Fund
        fields = [
            "uid",
            "insurance_type",
            "name",
            "balance",
            "as_of",
            "months_covered",
            "months_covered_level",
            "indicators_on",
            "open_warnings",
        ]

    def _months(self, obj) -> FundIndicator | None:
        return self.context.get("months", {}).get(obj.pk)

    def get_balance(self, obj) -> str:
        return str(self.context.get("balances", {}).get(obj.pk, "0.00"))

    def get_as_of(self, obj) -> str:
        return self.context["as_of"].isoformat()

    def get_months_covered(self, obj) -> str | None:
        indicator = self._months(obj)
        return str(indicator.value) if indicator and indicator.value is not None else None

    def get_months_covered_level(self, obj) -> str | None:
        indicator = self._months(obj)
        return indicator.level if indicator else None

    def get_indicators_on(self, obj) -> str | None:
        indicator = self._months(obj)
        return indicator.on.isoformat() if indicator else None

    def get_open_warnings(self, obj) -> int:
        return self.context.get("open", {}).get(obj.pk, 0)


@extend_schema_view(
    list=extend_schema(
        summary="基金结余列表", description="各市级统筹基金的累计结余和最近一次计算的可支付月数、待处理预警数。"
    ),
    retrieve=extend_schema(summary="基金结余详情", description="按基金编号（uid）查询一个基金的累计结余和可支付月数。"),
)
class FundBalanceViewSet(JurisdictionViewMixin, viewsets.ReadOnlyModelViewSet):
    queryset = Fund.objects.all()
    serializer_class = FundBalanceSerializer
    lookup_field = "uid"
    filter_backends = []

    def get_queryset(self):
        return super().get_queryset().filter(is_active=True).order_by("sort_order", "id")

    def get_serializer_context(self):
        context = super().get_serializer_context()
        today = timezone.localdate()
        context["as_of"] = today
        context["balances"] = selectors.fund_balances(on=today)
        context["months"] = {
            i.fund_id: i
            for i in selectors.indicator_latest().filter(
                code=IndicatorCode.MONTHS_COVERED, office__level=OfficeLevel.CITY
            )
        }
        open_counts: dict[int, int] = {}
        for fund_id in selectors.warning_list(status=WarningStatus.OPEN).values_list("fund_id", flat=True):
            open_counts[fund_id] = open_counts.get(fund_id, 0) + 1
        context["open"] = open_counts
        return context


class FundIndicatorSerializer(serializers.ModelSerializer):
    fund = serializers.CharField(source="fund.insurance_type", read_only=True, help_text="基金（险种代码）")
    fund_name = serializers.CharField(source="fund.name", read_only=True)
    office = serializers.SlugRelatedField(slug_field="code", read_only=True, help_text="范围：331000 为全市，其余为区")
    code_label = serializers.CharField(source="get_code_display", read_only=True)
    level_label = serializers.CharField(source="get_level_display", read_only=True)

    class Meta:
        model = FundIndicator
        fields = [
            "id",
            "fund",
            "fund_name",
            "office",
            "on",
            "code",
            "code_label",
            "value",
            "level",
            "level_label",
            "threshold",
            "details",
            "explanation",
            "computed_at",
        ]


class FundIndicatorFilter(django_filters.FilterSet):
    fund = django_filters.CharFilter(field_name="fund__insurance_type", help_text="险种代码，如 emp_medical")
    code = django_filters.ChoiceFilter(choices=IndicatorCode.choices, help_text="指标代码")
    level = django_filters.ChoiceFilter(choices=Level.choices, help_text="等级")
    on = django_filters.DateFilter(field_name="on", help_text="统计日期")
    on_after = django_filters.DateFilter(field_name="on", lookup_expr="gte", help_text="统计日期不早于")
    on_before = django_filters.DateFilter(field_name="on", lookup_expr="lte", help_text="统计日期不晚于")

    class Meta:
        model = FundIndicator
        fields = ["fund", "code", "level", "on", "on_after", "on_before"]


@extend_schema_view(
    list=extend_schema(
        summary="基金预警指标列表",
        description="每晚计算的指标记录（可支付月数、当期结余、结余趋势、预算执行偏差、征缴率），含阈值和计算过程。",
        parameters=[OpenApiParameter("fund", str, description="险种代码")],
    ),
    retrieve=extend_schema(summary="基金预警指标详情", description="一条指标记录的取值、等级、阈值和计算过程说明。"),
)
class FundIndicatorViewSet(JurisdictionViewMixin, viewsets.ReadOnlyModelViewSet):
    queryset = FundIndicator.objects.all()
    serializer_class = FundIndicatorSerializer
    filterset_class = FundIndicatorFilter

    def get_queryset(self):
        return super().get_queryset().select_related("fund", "office").order_by("-on", "fund__sort_order", "code", "id")


class FundWarningSerializer(serializers.ModelSerializer):
    fund = serializers.CharField(source="fund.insurance_type", read_only=True, help_text="基金（险种代码）")
    fund_name = serializers.CharField(source="fund.name", read_only=True)
    office = serializers.SlugRelatedField(slug_field="code", read_only=True)
    code_label = serializers.CharField(source="get_code_display", read_only=True)
    level_label = serializers.CharField(source="get_level_display", read_only=True)
    status_label = serializers.CharField(source="get_status_display", read_only=True)
    acknowledged_by = serializers.StringRelatedField(read_only=True)

    class Meta:
        model = FundWarning
        fields = [
            "uid",
            "fund",
            "fund_name",
            "office",
            "opened_on",
            "code",
            "code_label",
            "level",
            "level_label",
            "previous_level",
            "value",
            "threshold",
            "explanation",
            "status",
            "status_label",
            "comment",
            "acknowledged_by",
            "acknowledged_at",
        ]


class FundWarningFilter(django_filters.FilterSet):
    fund = django_filters.CharFilter(field_name="fund__insurance_type", help_text="险种代码")
    status = django_filters.ChoiceFilter(choices=WarningStatus.choices)
    level = django_filters.ChoiceFilter(choices=Level.choices)

    class Meta:
        model = FundWarning
        fields = ["fund", "status", "level"]


@extend_schema_view(
    list=extend_schema(summary="基金预警列表", description="新出现或升级的预警；处理前为待处理，处理后含处理意见。"),
    retrieve=extend_schema(summary="基金预警详情", description="一条预警的指标、等级变化、阈值、说明和处理意见。"),
)
class FundWarningViewSet(JurisdictionViewMixin, viewsets.ReadOnlyModelViewSet):
    queryset = FundWarning.objects.all()
    serializer_class = FundWarningSerializer
    lookup_field = "uid"
    filterset_class = FundWarningFilter

    def get_queryset(self):
        return super().get_queryset().select_related("fund", "office", "acknowledged_by").order_by("-opened_on", "-id")
