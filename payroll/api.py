"""REST API v1 of the payroll: runs and a person's benefit payments (read), certifications and deaths reported by
other systems (write). Jurisdiction applied everywhere; a person outside it is not found."""

from __future__ import annotations

import django_filters
from django.core.exceptions import ObjectDoesNotExist
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from registry.api.mixins import JurisdictionViewMixin
from registry.api.serializers import StrictSerializer
from registry.jurisdiction import scope_to_user
from registry.models import Person

from . import services
from .models import Certification, CertificationChannel, PayrollLine, PayrollRun, Suspension


class PayrollRunSerializer(serializers.ModelSerializer):
    status_label = serializers.CharField(source="get_status_display", read_only=True)

    class Meta:
        model = PayrollRun
        fields = [
            "uid",
            "period",
            "pay_date",
            "status",
            "status_label",
            "total",
            "done",
            "lines",
            "amount",
            "arrears_amount",
            "held_lines",
            "suspended",
            "reminded",
            "created_at",
            "finished_at",
        ]


@extend_schema_view(
    list=extend_schema(
        summary="待遇发放批次列表", description="每月一次的待遇发放批次：笔数、总额、补发、暂缓和停发人数。"
    ),
    retrieve=extend_schema(summary="待遇发放批次详情", description="按批次编号（uid）查询一个月的待遇发放。"),
)
class PayrollRunViewSet(JurisdictionViewMixin, viewsets.ReadOnlyModelViewSet):
    queryset = PayrollRun.objects.all().order_by("-period", "-id")
    serializer_class = PayrollRunSerializer
    lookup_field = "uid"
    filter_backends = []


class PaymentSerializer(serializers.ModelSerializer):
    person = serializers.UUIDField(source="person.uid", read_only=True, help_text="人员编号（uid）")
    run = serializers.UUIDField(source="run.uid", read_only=True, help_text="发放批次编号")
    effect = serializers.CharField(source="award.effect", read_only=True, help_text="待遇类型")
    status_label = serializers.CharField(source="get_status_display", read_only=True)
    arrears = serializers.SerializerMethodField(help_text="补发明细：[{period, amount}]")

    class Meta:
        model = PayrollLine
        fields = [
            "id",
            "person",
            "run",
            "effect",
            "insurance_type",
            "period",
            "kind",
            "regular_amount",
            "arrears_amount",
            "amount",
            "status",
            "status_label",
            "failure_reason",
            "paid_on",
            "arrears",
        ]

    def get_arrears(self, line) -> list[dict[str, str]]:
        return [{"period": a.period, "amount": str(a.amount)} for a in line.arrears.all()]


class PaymentFilter(django_filters.FilterSet):
    person = django_filters.UUIDFilter(field_name="person__uid", help_text="人员编号（uid）")
    period = django_filters.NumberFilter(field_name="period", help_text="所属月份 YYYYMM")

    class Meta:
        model = PayrollLine
        fields = ["person", "period"]


@extend_schema_view(
    list=extend_schema(summary="待遇发放明细", description="按人员编号查询其每月待遇发放（含补发明细和银行结果）。"),
    retrieve=extend_schema(summary="待遇发放明细详情", description="一笔待遇发放。"),
)
class PaymentViewSet(JurisdictionViewMixin, viewsets.ReadOnlyModelViewSet):
    queryset = PayrollLine.objects.select_related("person", "run", "award").prefetch_related("arrears")
    serializer_class = PaymentSerializer
    filterset_class = PaymentFilter

    def get_queryset(self):
        return super().get_queryset().order_by("-period", "-id")


def _person(request, id_number: str) -> Person:
    person = scope_to_user(Person.objects.select_related("residence_office"), request.user).filter(
        id_number=id_number.strip().upper()
    )
    found = person.first()
    if found is None:
        raise NotFound(_("没有找到该人员。"))
    return found


class CertificationSerializer(serializers.ModelSerializer):
    person = serializers.UUIDField(source="person.uid", read_only=True)
    channel_label = serializers.CharField(source="get_channel_display", read_only=True)

    class Meta:
        model = Certification
        fields = ["id", "person", "certified_on", "channel", "channel_label", "note", "created_at"]


class CertificationInputSerializer(StrictSerializer):
    id_number = serializers.CharField(max_length=18, min_length=15, help_text="公民身份号码")
    certified_on = serializers.DateField(help_text="认证日期")
    channel = serializers.ChoiceField(
        choices=[CertificationChannel.ONLINE, CertificationChannel.SYSTEM],
        help_text="online 网上认证、system 部门数据比对",
    )
    note = serializers.CharField(max_length=200, required=False, allow_blank=True, help_text="说明（如数据来源）")


@extend_schema_view(
    list=extend_schema(summary="资格认证记录", description="辖区内待遇领取人员的资格认证记录。"),
    create=extend_schema(
        summary="登记资格认证",
        description="其他系统（网上认证、部门数据比对）登记一次资格认证；没有正在领取待遇的人员返回 400，不写入任何数据。",
        request=CertificationInputSerializer,
        responses={201: CertificationSerializer},
    ),
)
class CertificationViewSet(
    JurisdictionViewMixin, mixins.ListModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet
):
    queryset = Certification.objects.select_related("person").order_by("-certified_on", "-id")
    serializer_class = CertificationSerializer
    filter_backends = []

    def create(self, request, *args, **kwargs):
        data = CertificationInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        cert = services.certification_record(
            person=_person(request, data.validated_data["id_number"]),
            certified_on=data.validated_data["certified_on"],
            channel=data.validated_data["channel"],
            acting_user=request.user,
            note=data.validated_data.get("note", ""),
        )
        return Response(CertificationSerializer(cert).data, status=status.HTTP_201_CREATED)


class DeathInputSerializer(StrictSerializer):
    id_number = serializers.CharField(max_length=18, min_length=15, help_text="公民身份号码")
    died_on = serializers.DateField(help_text="死亡日期")


class DeathResultSerializer(serializers.Serializer):
    suspensions = serializers.IntegerField(help_text="停发的待遇数")
    from_month = serializers.DateField(help_text="停发起始月（死亡次月）")
    recovery_amount = serializers.DecimalField(max_digits=14, decimal_places=2, help_text="应追回的多发待遇合计")


@extend_schema_view(
    create=extend_schema(
        summary="登记死亡（停发待遇）",
        description="其他系统（如殡葬、公安）报送死亡：自死亡次月起停发该人员的全部待遇，已多发的生成追回记录。",
        request=DeathInputSerializer,
        responses={201: DeathResultSerializer},
    ),
)
class DeathViewSet(viewsets.GenericViewSet):
    serializer_class = DeathInputSerializer
    queryset = Suspension.objects.none()  # model permissions: the caller must be allowed to add suspensions

    def create(self, request, *args, **kwargs):
        data = DeathInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            suspensions = services.person_death_record(
                person=_person(request, data.validated_data["id_number"]),
                died_on=data.validated_data["died_on"],
                acting_user=request.user,
                source="system",
            )
        except ObjectDoesNotExist:  # an award of the person kept by an office outside the caller's jurisdiction
            raise NotFound(_("没有找到该人员的待遇。")) from None
        recovered = sum((getattr(getattr(s, "recovery", None), "amount", 0) for s in suspensions), 0)
        body = {"suspensions": len(suspensions), "from_month": suspensions[0].from_month, "recovery_amount": recovered}
        return Response(DeathResultSerializer(body).data, status=status.HTTP_201_CREATED)
