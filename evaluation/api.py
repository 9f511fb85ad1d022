"""REST API v1 of the evaluation, read-only, for the provincial system (docs/api.md conventions): the
pre-aggregated statistics and the monthly office figures, each within the caller's jurisdiction."""

from __future__ import annotations

import django_filters
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers, viewsets

from registry.api.mixins import JurisdictionViewMixin

from .models import OfficeMonthMetric, StatCell, StatTopic
from .services.metrics import FIGURES


class StatCellSerializer(serializers.ModelSerializer):
    office = serializers.SlugRelatedField(
        slug_field="code", read_only=True, help_text="机构区划代码（数据所属的最低层机构）"
    )
    topic_label = serializers.CharField(source="get_topic_display", read_only=True)

    class Meta:
        model = StatCell
        fields = ["topic", "topic_label", "month", "office", "insurance_type", "dim_a", "dim_b", "m1", "m2", "m3"]


class StatCellFilter(django_filters.FilterSet):
    topic = django_filters.ChoiceFilter(choices=StatTopic.choices, help_text="主题")
    month_after = django_filters.DateFilter(field_name="month", lookup_expr="gte", help_text="月份不早于（YYYY-MM-01）")
    month_before = django_filters.DateFilter(
        field_name="month", lookup_expr="lte", help_text="月份不晚于（YYYY-MM-01）"
    )
    insurance_type = django_filters.CharFilter(help_text="险种代码")
    office = django_filters.CharFilter(
        field_name="office__path",
        lookup_expr="contains",
        method="filter_office",
        help_text="机构区划代码：该机构及其下级的数据",
    )

    class Meta:
        model = StatCell
        fields = ["topic", "month_after", "month_before", "insurance_type", "office"]

    def filter_office(self, queryset, name, value):
        return queryset.filter(office__path__contains=f"/{value.strip()}/")


@extend_schema_view(
    list=extend_schema(
        summary="统计数据列表",
        description="每晚汇总的统计数据：参保人员（性别、年龄段）、参保单位（类型、规模）、缴费征收、待遇支出、基金收支，"
        "按月份、机构、险种；m1–m3 的含义随主题（见 docs/evaluation.md）。",
    ),
    retrieve=extend_schema(summary="统计数据详情", description="一条汇总统计数据。"),
)
class StatCellViewSet(JurisdictionViewMixin, viewsets.ReadOnlyModelViewSet):
    queryset = StatCell.objects.all()
    serializer_class = StatCellSerializer
    filterset_class = StatCellFilter

    def get_queryset(self):
        return super().get_queryset().select_related("office").order_by("topic", "month", "office__code", "id")


class OfficeMetricSerializer(serializers.ModelSerializer):
    office = serializers.SlugRelatedField(slug_field="code", read_only=True, help_text="机构区划代码")

    class Meta:
        model = OfficeMonthMetric
        fields = ["office", "month", "rollup", *FIGURES, "computed_at"]


class OfficeMetricFilter(django_filters.FilterSet):
    month = django_filters.DateFilter(help_text="月份（YYYY-MM-01）")
    rollup = django_filters.BooleanFilter(help_text="true：含下级机构；false：本机构")

    class Meta:
        model = OfficeMonthMetric
        fields = ["month", "rollup"]


@extend_schema_view(
    list=extend_schema(
        summary="经办机构月度指标列表",
        description="各经办机构每月的受理、办结、按时办结率、办理时长、在办与超期、补正率、不予办理率、督办、评价、征缴率"
        "（定义见 docs/evaluation.md）。",
    ),
    retrieve=extend_schema(summary="经办机构月度指标详情", description="一个机构一个月的指标。"),
)
class OfficeMetricViewSet(JurisdictionViewMixin, viewsets.ReadOnlyModelViewSet):
    queryset = OfficeMonthMetric.objects.all()
    serializer_class = OfficeMetricSerializer
    filterset_class = OfficeMetricFilter

    def get_queryset(self):
        return super().get_queryset().select_related("office").order_by("-month", "office__path", "rollup", "id")
