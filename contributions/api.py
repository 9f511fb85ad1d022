"""REST API v1 of contributions: declarations, bills, payments, arrears, bill runs, contribution records.

Writes call ``contributions.services``; reads call ``contributions.selectors``. Every queryset is
scoped by ``JurisdictionViewMixin``; out-of-jurisdiction records are 404.
"""

from __future__ import annotations

import django_filters
from django.db.models import Prefetch
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from contributions import api_examples, selectors, services
from contributions.models import (
    BaseClamp,
    Bill,
    BillKind,
    BillLine,
    BillRun,
    BillRunScope,
    BillTotal,
    Channel,
    Declaration,
    DeclarationLine,
    DeclarationStatus,
    Payment,
    PaymentAllocation,
)
from contributions.resources import amount_problem
from registry.api.mixins import JurisdictionViewMixin
from registry.api.permissions import SystemOperationPermission
from registry.api.serializers import OfficeCodeField, StrictSerializer, UidRelatedField
from registry.identifiers import id_number_mask
from registry.jurisdiction import scope_to_user
from registry.models import Employer, InsuranceType, Person

_CLAMP_LABELS = dict(BaseClamp.choices)
_INSURANCE_LABELS = dict(InsuranceType.choices)
MONEY = {"max_digits": 16, "decimal_places": 2}


def scope_queryset(view, qs):
    """A selector's queryset, scoped once more with the caller's jurisdiction (the one mechanism)."""
    return scope_to_user(qs, view.request.user)


@extend_schema_field(OpenApiTypes.STR)
class RawAmountField(serializers.Field):
    """A money amount as a string ("5000.00") or a JSON number; checked by the service, which names the line."""

    default_error_messages = {"invalid": _("应为金额（字符串如“5000.00”或数字）。")}

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, (str, int, float)):
            self.fail("invalid")
        problem = amount_problem(data)
        if problem:
            raise serializers.ValidationError(problem)
        return data if isinstance(data, str) else str(data)

    def to_representation(self, value):
        return str(value)


class PeriodField(serializers.CharField):
    """所属期 YYYYMM as a string or a number (checked by the service: format, range, not in the future)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 10)
        kwargs.setdefault("help_text", '所属期，6 位年月 YYYYMM，如 "202611"')
        super().__init__(**kwargs)


# ---------------------------------------------------------------------------------------------
# Declarations.


class DeclarationLineInSerializer(StrictSerializer):
    person = serializers.UUIDField(help_text="参保人员编号（uid）")
    base = RawAmountField(help_text='申报的缴费基数（元），如 "5000.00"')
    confirm_below_floor = serializers.BooleanField(
        default=False,
        help_text="基数低于本期下限时须为 true（经办人逐行确认属实，按下限核定）；否则该行被拒，以防录入错误或文件截断",
    )


class DeclarationInSerializer(StrictSerializer):
    employer = UidRelatedField(Employer, help_text="参保单位编号（uid）")
    period = PeriodField()
    lines = DeclarationLineInSerializer(many=True, help_text="每人一行；同一人再次申报即更正")


class DeclarationLineOutSerializer(serializers.ModelSerializer):
    person = serializers.SlugRelatedField(slug_field="uid", read_only=True)
    person_name = serializers.CharField(source="person.name", read_only=True)
    id_number_masked = serializers.SerializerMethodField(help_text="脱敏后的公民身份号码")
    clamp_label = serializers.SerializerMethodField(help_text="基数调整说明（按下限/按上限/未调整）")

    class Meta:
        model = DeclarationLine
        fields = ["person", "person_name", "id_number_masked", "declared_base", "base", "clamp", "clamp_label"]

    def get_id_number_masked(self, obj) -> str:
        return id_number_mask(obj.person.id_number)

    def get_clamp_label(self, obj) -> str:
        return str(_CLAMP_LABELS.get(obj.clamp, ""))


class DeclarationOutSerializer(serializers.ModelSerializer):
    employer = serializers.SlugRelatedField(slug_field="uid", read_only=True)
    employer_name = serializers.CharField(source="employer.name", read_only=True)
    status_label = serializers.CharField(source="get_status_display", read_only=True)
    line_count = serializers.IntegerField(read_only=True, help_text="申报人数")
    clamped_count = serializers.IntegerField(read_only=True, help_text="按上下限调整的人数")
    base_total = serializers.DecimalField(read_only=True, help_text="核定基数合计", **MONEY)

    class Meta:
        model = Declaration
        fields = [
            "uid",
            "employer",
            "employer_name",
            "period",
            "status",
            "status_label",
            "channel",
            "line_count",
            "clamped_count",
            "base_total",
            "created_at",
            "updated_at",
        ]


class DeclarationDetailSerializer(DeclarationOutSerializer):
    lines = serializers.SerializerMethodField(help_text="申报明细：每人一行")

    class Meta(DeclarationOutSerializer.Meta):
        fields = DeclarationOutSerializer.Meta.fields + ["lines"]

    @extend_schema_field(DeclarationLineOutSerializer(many=True))
    def get_lines(self, obj):
        return DeclarationLineOutSerializer(selectors.declaration_lines(obj), many=True).data


class DeclarationFilter(django_filters.FilterSet):
    employer = django_filters.UUIDFilter(field_name="employer__uid", help_text="参保单位编号")
    period = django_filters.NumberFilter(field_name="period", help_text="所属期 YYYYMM")
    status = django_filters.ChoiceFilter(choices=DeclarationStatus.choices)

    class Meta:
        model = Declaration
        fields = ["employer", "period", "status"]


@extend_schema_view(
    list=extend_schema(
        summary="缴费基数申报列表", description="辖区内单位的申报（每单位每月一份），含申报人数和调整人数。"
    ),
    retrieve=extend_schema(summary="缴费基数申报详情", description="含每人的申报基数、核定基数和上下限调整说明。"),
    create=extend_schema(
        summary="提交或更正缴费基数申报",
        description=(
            "按单位和所属期申报每位职工的缴费基数；已有申报时按人员更正（200），新建时返回 201。"
            "任一行有误则整份不写入，错误按行列出（字段 lines）。低于下限的基数须在该行写 confirm_below_floor=true 确认，"
            "否则该行被拒；确认后按下限核定，高于上限的按上限核定，并在行上注明。"
            "已核定出账的月份不能再申报，须办理补缴或退费调整。"
        ),
        request=DeclarationInSerializer,
        responses={200: DeclarationDetailSerializer, 201: DeclarationDetailSerializer},
        examples=api_examples.DECLARATION_CREATE,
    ),
)
class DeclarationViewSet(
    JurisdictionViewMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    queryset = Declaration.objects.all()
    serializer_class = DeclarationOutSerializer
    lookup_field = "uid"
    filterset_class = DeclarationFilter
    http_method_names = ["get", "post", "head", "options"]

    def get_queryset(self):
        return scope_queryset(self, selectors.declaration_list(user=self.request.user))

    def get_serializer_class(self):
        return DeclarationDetailSerializer if self.action == "retrieve" else DeclarationOutSerializer

    def create(self, request, *args, **kwargs):
        data = DeclarationInSerializer(data=request.data, context=self.get_serializer_context())
        data.is_valid(raise_exception=True)
        employer = data.validated_data["employer"]
        rows = data.validated_data["lines"]
        persons = {
            p.uid: p
            for p in selectors.declaration_persons(
                user=request.user, employer=employer, uids=[r["person"] for r in rows]
            )
        }
        existed = selectors.declaration_find(employer=employer, period=data.validated_data["period"]) is not None
        declaration = services.declaration_submit(
            employer=employer,
            period=data.validated_data["period"],
            lines=[
                services.DeclarationInputLine(
                    person=persons.get(r["person"]), base=r["base"], row=i, confirm_below_floor=r["confirm_below_floor"]
                )
                for i, r in enumerate(rows, start=1)
            ],
            acting_user=request.user,
            channel=Channel.API,
        )
        declaration = selectors.declaration_get(user=request.user, uid=declaration.uid)
        return Response(
            DeclarationDetailSerializer(declaration).data,
            status=status.HTTP_200_OK if existed else status.HTTP_201_CREATED,
        )


# ---------------------------------------------------------------------------------------------
# Bills.


class BillOutSerializer(serializers.ModelSerializer):
    kind_label = serializers.CharField(source="get_kind_display", read_only=True)
    employer = serializers.SlugRelatedField(slug_field="uid", read_only=True)
    employer_name = serializers.CharField(source="employer.name", read_only=True, default=None)
    person = serializers.SlugRelatedField(slug_field="uid", read_only=True)
    person_name = serializers.CharField(source="person.name", read_only=True, default=None)
    office = serializers.SlugRelatedField(slug_field="code", read_only=True)
    corrects = serializers.SlugRelatedField(slug_field="uid", read_only=True, help_text="被更正的原账单")
    bill_run = serializers.SlugRelatedField(slug_field="uid", read_only=True)
    paid_amount = serializers.DecimalField(read_only=True, help_text="已到账分配金额", **MONEY)
    open_amount = serializers.DecimalField(read_only=True, help_text="未缴金额", **MONEY)

    class Meta:
        model = Bill
        fields = [
            "uid",
            "kind",
            "kind_label",
            "period",
            "employer",
            "employer_name",
            "person",
            "person_name",
            "office",
            "bill_run",
            "corrects",
            "reason",
            "total_employer",
            "total_individual",
            "total",
            "paid_amount",
            "open_amount",
            "subsidy_city",
            "subsidy_district",
            "subsidy_other",
            "due_date",
            "issued_at",
        ]


class BillTotalOutSerializer(serializers.Serializer):
    insurance_type = serializers.CharField(help_text="险种代码，如 emp_pension")
    label = serializers.CharField(help_text="险种名称")
    employer_amount = serializers.DecimalField(help_text="单位应缴（元）", **MONEY)
    individual_amount = serializers.DecimalField(help_text="个人应缴（元）", **MONEY)
    amount = serializers.DecimalField(help_text="应缴合计（元）", **MONEY)
    paid = serializers.DecimalField(help_text="已到账分配（元）", **MONEY)
    open = serializers.DecimalField(help_text="未缴（元）", **MONEY)


class BillLineOutSerializer(serializers.ModelSerializer):
    person = serializers.SlugRelatedField(slug_field="uid", read_only=True)
    person_name = serializers.CharField(source="person.name", read_only=True)
    insurance_label = serializers.SerializerMethodField(help_text="险种名称")
    base_source_label = serializers.CharField(source="get_base_source_display", read_only=True)

    class Meta:
        model = BillLine
        fields = [
            "person",
            "person_name",
            "insurance_type",
            "insurance_label",
            "period",
            "base",
            "base_source",
            "base_source_label",
            "employer_rate",
            "individual_rate",
            "employer_amount",
            "individual_amount",
        ]

    def get_insurance_label(self, obj) -> str:
        return str(_INSURANCE_LABELS.get(obj.insurance_type, obj.insurance_type))


class AllocationOutSerializer(serializers.ModelSerializer):
    payment = serializers.SlugRelatedField(slug_field="uid", read_only=True)
    agency_reference = serializers.CharField(source="payment.agency_reference", read_only=True)
    paid_on = serializers.DateField(source="payment.paid_on", read_only=True)
    bill = serializers.SlugRelatedField(slug_field="uid", read_only=True, help_text="空表示转入缴费方结余")
    reverses = serializers.PrimaryKeyRelatedField(read_only=True, help_text="被冲销的分配记录")

    class Meta:
        model = PaymentAllocation
        fields = [
            "id",
            "payment",
            "agency_reference",
            "paid_on",
            "bill",
            "insurance_type",
            "amount",
            "reverses",
            "note",
            "created_at",
        ]


class LateFeeOutSerializer(serializers.Serializer):
    as_of = serializers.DateField(help_text="计算截至日期")
    days = serializers.IntegerField(help_text="计收滞纳金的天数")
    daily_rate = serializers.DecimalField(
        max_digits=9, decimal_places=6, help_text="滞纳金日费率，如 0.000500（万分之五）"
    )
    amount = serializers.DecimalField(help_text="截至 as_of 的滞纳金", **MONEY)
    outstanding = serializers.DecimalField(help_text="截至 as_of 未缴的本金", **MONEY)


class BillDetailSerializer(BillOutSerializer):
    totals = serializers.SerializerMethodField(help_text="按险种的应缴、已缴、未缴")
    lines = serializers.SerializerMethodField(help_text="账单明细：每人每险种一行")
    allocations = serializers.SerializerMethodField(help_text="分配到本账单的到账（含冲销）")
    late_fee = serializers.SerializerMethodField(help_text="截至今日的滞纳金；退费账单为 null")

    class Meta(BillOutSerializer.Meta):
        fields = BillOutSerializer.Meta.fields + ["totals", "lines", "allocations", "late_fee"]

    @extend_schema_field(BillTotalOutSerializer(many=True))
    def get_totals(self, obj):
        rows = selectors.bill_insurance_amounts(obj)
        return BillTotalOutSerializer(rows, many=True).data

    @extend_schema_field(BillLineOutSerializer(many=True))
    def get_lines(self, obj):
        return BillLineOutSerializer(selectors.bill_lines(obj), many=True).data

    @extend_schema_field(AllocationOutSerializer(many=True))
    def get_allocations(self, obj):
        return AllocationOutSerializer(selectors.bill_allocations(obj), many=True).data

    @extend_schema_field(LateFeeOutSerializer(allow_null=True))
    def get_late_fee(self, obj):
        if obj.kind == BillKind.REFUND:
            return None
        on = timezone.localdate()
        fee = selectors.late_fees_for([obj], on=on)[obj.pk]
        return LateFeeOutSerializer(
            {
                "as_of": on,
                "days": fee.days,
                "daily_rate": fee.daily_rate,
                "amount": fee.amount,
                "outstanding": fee.outstanding,
            }
        ).data


class BillFilter(django_filters.FilterSet):
    period = django_filters.NumberFilter(field_name="period", help_text="所属期 YYYYMM")
    kind = django_filters.ChoiceFilter(choices=BillKind.choices)
    employer = django_filters.UUIDFilter(field_name="employer__uid", help_text="缴费单位编号")
    person = django_filters.UUIDFilter(field_name="person__uid", help_text="缴费个人编号（个人缴费的账单）")

    class Meta:
        model = Bill
        fields = ["period", "kind", "employer", "person"]


@extend_schema_view(
    list=extend_schema(
        summary="账单列表",
        description="辖区内已出账的账单，含已缴和未缴金额；可按所属期、类型、单位、个人筛选。",
    ),
    retrieve=extend_schema(
        summary="账单详情",
        description="含按险种（及单位/个人部分）的合计、已缴、未缴，账单明细，到账分配和截至今日的滞纳金。",
    ),
)
class BillViewSet(JurisdictionViewMixin, viewsets.ReadOnlyModelViewSet):
    queryset = Bill.objects.all()
    serializer_class = BillOutSerializer
    lookup_field = "uid"
    filterset_class = BillFilter

    def get_queryset(self):
        qs = selectors.bill_list(user=self.request.user)
        if self.action == "retrieve":
            qs = qs.prefetch_related(Prefetch("totals", queryset=BillTotal.objects.order_by("id")))
        return scope_queryset(self, qs)

    def get_serializer_class(self):
        return BillDetailSerializer if self.action == "retrieve" else BillOutSerializer


# ---------------------------------------------------------------------------------------------
# Payments.


class PaymentInSerializer(StrictSerializer):
    agency_reference = serializers.CharField(
        max_length=64, help_text="征收机构流水号；同一流水号重复报送返回同一条到账记录"
    )
    employer = UidRelatedField(Employer, required=False, allow_null=True, help_text="缴费单位编号（与 person 二选一）")
    person = UidRelatedField(Person, required=False, allow_null=True, help_text="缴费个人编号（与 employer 二选一）")
    amount = RawAmountField(help_text='到账金额（元），如 "12345.67"')
    paid_on = serializers.DateField(help_text="到账日期")
    channel = serializers.ChoiceField(
        choices=Channel.choices, required=False, default=Channel.API, help_text="报送渠道，接口报送默认为 api"
    )


class PaymentAllocationOutSerializer(serializers.ModelSerializer):
    bill = serializers.SlugRelatedField(slug_field="uid", read_only=True, help_text="空表示转入缴费方结余")
    bill_period = serializers.IntegerField(source="bill.period", read_only=True, default=None)
    reverses = serializers.PrimaryKeyRelatedField(read_only=True, help_text="被冲销的分配记录")

    class Meta:
        model = PaymentAllocation
        fields = ["id", "bill", "bill_period", "insurance_type", "amount", "reverses", "note", "created_at"]


class PaymentOutSerializer(serializers.ModelSerializer):
    employer = serializers.SlugRelatedField(slug_field="uid", read_only=True)
    employer_name = serializers.CharField(source="employer.name", read_only=True, default=None)
    person = serializers.SlugRelatedField(slug_field="uid", read_only=True)
    person_name = serializers.CharField(source="person.name", read_only=True, default=None)
    office = serializers.SlugRelatedField(slug_field="code", read_only=True)
    allocations = PaymentAllocationOutSerializer(
        many=True, read_only=True, help_text="本笔到账分配到的账单险种；bill 为空表示转入结余"
    )

    class Meta:
        model = Payment
        fields = [
            "uid",
            "agency_reference",
            "payer_type",
            "employer",
            "employer_name",
            "person",
            "person_name",
            "office",
            "amount",
            "paid_on",
            "channel",
            "recorded_at",
            "allocations",
        ]


class PaymentFilter(django_filters.FilterSet):
    employer = django_filters.UUIDFilter(field_name="employer__uid", help_text="缴费单位编号（uid）")
    person = django_filters.UUIDFilter(field_name="person__uid", help_text="缴费个人编号（uid）")
    agency_reference = django_filters.CharFilter(field_name="agency_reference", help_text="征收机构流水号")
    paid_on_from = django_filters.DateFilter(field_name="paid_on", lookup_expr="gte", help_text="到账日期不早于")
    paid_on_to = django_filters.DateFilter(field_name="paid_on", lookup_expr="lte", help_text="到账日期不晚于")

    class Meta:
        model = Payment
        fields = ["employer", "person", "agency_reference", "paid_on_from", "paid_on_to"]


@extend_schema_view(
    list=extend_schema(summary="到账记录列表", description="辖区内征收机构报送的到账及其分配。"),
    retrieve=extend_schema(
        summary="到账记录详情", description="一笔到账及其分配到的账单和险种；不存在或不在调用方辖区内返回 404。"
    ),
    create=extend_schema(
        summary="报送到账（征收机构）",
        description=(
            "按征收机构流水号幂等：新流水号登记并按“最早账单优先、险种顺序”分配，返回 201；"
            "同一流水号以相同缴费方和金额再次报送返回 200 和原记录；金额或缴费方不同返回 400（字段 agency_reference）。"
        ),
        request=PaymentInSerializer,
        responses={200: PaymentOutSerializer, 201: PaymentOutSerializer},
        examples=api_examples.PAYMENT_CREATE,
    ),
)
class PaymentViewSet(
    JurisdictionViewMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    queryset = Payment.objects.all()
    serializer_class = PaymentOutSerializer
    lookup_field = "uid"
    filterset_class = PaymentFilter
    http_method_names = ["get", "post", "head", "options"]

    def get_queryset(self):
        return scope_queryset(self, selectors.payment_list(user=self.request.user))

    def create(self, request, *args, **kwargs):
        data = PaymentInSerializer(data=request.data, context=self.get_serializer_context())
        data.is_valid(raise_exception=True)
        payment, created = services.payment_record(acting_user=request.user, **data.validated_data)
        payment = selectors.payment_get(user=request.user, uid=payment.uid)
        return Response(
            PaymentOutSerializer(payment).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )


# ---------------------------------------------------------------------------------------------
# Arrears.


class ArrearsOutSerializer(BillOutSerializer):
    overdue_days = serializers.SerializerMethodField(help_text="逾期天数")
    late_fee = serializers.SerializerMethodField(help_text="截至查询日的滞纳金")

    class Meta(BillOutSerializer.Meta):
        fields = BillOutSerializer.Meta.fields + ["overdue_days", "late_fee"]

    def get_overdue_days(self, obj) -> int:
        return max((self.context["on"] - obj.due_date).days, 0)

    # A money string like every other amount (OpenApiTypes.DECIMAL would document a JSON number).
    @extend_schema_field(serializers.DecimalField(allow_null=True, **MONEY))
    def get_late_fee(self, obj):
        fee = self.context["late_fees"].get(obj.pk)
        return str(fee.amount) if fee else None


class ArrearsQuerySerializer(serializers.Serializer):
    on = serializers.DateField(required=False, help_text="查询日，默认今天")
    kind = serializers.ChoiceField(choices=BillKind.choices, required=False, help_text="账单类型")


@extend_schema_view(
    list=extend_schema(
        summary="欠费列表",
        description="截至查询日已过缴费截止日仍未缴清的账单（退费账单除外），按截止日先后；每行含未缴金额和滞纳金。",
        parameters=[
            OpenApiParameter("on", OpenApiTypes.DATE, description="查询日，默认今天"),
            OpenApiParameter(
                "kind", OpenApiTypes.STR, enum=[k for k, _label in BillKind.choices], description="账单类型"
            ),
        ],
    )
)
class ArrearsViewSet(JurisdictionViewMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    queryset = Bill.objects.all()
    serializer_class = ArrearsOutSerializer
    filter_backends = []

    def _query(self) -> dict:
        # An empty value is "not given", as for every list filter.
        data = ArrearsQuerySerializer(data={k: v for k, v in self.request.query_params.items() if v != ""})
        data.is_valid(raise_exception=True)
        return data.validated_data

    def get_queryset(self):
        query = self._query()
        self._on = query.get("on") or timezone.localdate()
        return scope_queryset(self, selectors.arrears_list(user=self.request.user, on=self._on, kind=query.get("kind")))

    def list(self, request, *args, **kwargs):
        queryset = self.get_queryset()
        page = self.paginate_queryset(queryset)
        rows = page if page is not None else list(queryset)
        context = {
            **self.get_serializer_context(),
            "on": self._on,
            "late_fees": selectors.late_fees_for(rows, on=self._on),
        }
        data = ArrearsOutSerializer(rows, many=True, context=context).data
        return self.get_paginated_response(data) if page is not None else Response(data)


# ---------------------------------------------------------------------------------------------
# Bill runs.


class BillRunStartSerializer(StrictSerializer):
    period = PeriodField()
    scope = serializers.ChoiceField(choices=BillRunScope.choices, default=BillRunScope.CITY, help_text="核定范围")
    office = OfficeCodeField(required=False, allow_null=True, help_text="按区核定时的区级机构代码，如 331003")
    employer = UidRelatedField(Employer, required=False, allow_null=True, help_text="按单位核定时的单位编号")


class BillRunOutSerializer(serializers.ModelSerializer):
    scope_label = serializers.CharField(source="get_scope_display", read_only=True)
    status_label = serializers.CharField(source="get_status_display", read_only=True)
    office = serializers.SlugRelatedField(slug_field="code", read_only=True)
    employer = serializers.SlugRelatedField(slug_field="uid", read_only=True)
    started_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    progress_percent = serializers.IntegerField(read_only=True, help_text="进度百分比（已核定单位数 / 待核定单位数）")

    class Meta:
        model = BillRun
        fields = [
            "uid",
            "period",
            "scope",
            "scope_label",
            "office",
            "employer",
            "status",
            "status_label",
            "done",
            "total",
            "progress_percent",
            "bills_created",
            "lines_created",
            "floor_lines",
            "error",
            "started_by",
            "created_at",
            "started_at",
            "finished_at",
        ]


@extend_schema_view(
    list=extend_schema(summary="核定批次列表", description="辖区内的核定批次，最新在前。"),
    retrieve=extend_schema(summary="核定批次进度", description="状态、已核定/待核定单位数和进度百分比，供轮询。"),
    create=extend_schema(
        summary="发起核定",
        description=(
            "按所属期和范围（全市、一个区、一个单位）排队核定，返回 202 和批次；核定在后台执行，"
            "通过批次详情查询进度。同一所属期已有批次在进行时返回 400。"
        ),
        request=BillRunStartSerializer,
        responses={202: BillRunOutSerializer},
        examples=api_examples.BILL_RUN_CREATE,
    ),
)
class BillRunViewSet(
    JurisdictionViewMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    queryset = BillRun.objects.all()
    serializer_class = BillRunOutSerializer
    lookup_field = "uid"
    filterset_fields = ["period", "status", "scope"]
    http_method_names = ["get", "post", "head", "options"]

    def get_queryset(self):
        return scope_queryset(self, selectors.bill_run_list(user=self.request.user))

    def create(self, request, *args, **kwargs):
        data = BillRunStartSerializer(data=request.data, context=self.get_serializer_context())
        data.is_valid(raise_exception=True)
        run = services.bill_run_start(acting_user=request.user, **data.validated_data)
        run = selectors.bill_run_get(user=request.user, uid=run.uid)
        return Response(BillRunOutSerializer(run).data, status=status.HTTP_202_ACCEPTED)


# ---------------------------------------------------------------------------------------------
# 个人权益记录.


class RecordRowSerializer(serializers.Serializer):
    period = serializers.IntegerField(help_text="所属期 YYYYMM（居民年度缴费为 YYYY01）")
    period_label = serializers.CharField(help_text="所属期的显示文字，如“2025年03月”，居民年度缴费为“2025年度”")
    insurance_type = serializers.CharField(help_text="险种代码")
    insurance_label = serializers.CharField(help_text="险种名称")
    kind = serializers.CharField(help_text="原账单类型")
    base = serializers.DecimalField(help_text="缴费基数（元）", **MONEY)
    employer_amount = serializers.DecimalField(help_text="单位缴费额（元）", **MONEY)
    individual_amount = serializers.DecimalField(help_text="个人缴费额（元）", **MONEY)
    employer = serializers.UUIDField(source="employer_uid", allow_null=True, help_text="缴费单位编号；个人缴费为空")
    employer_name = serializers.CharField(help_text="缴费单位名称；个人缴费为空字符串")
    counted = serializers.BooleanField(help_text="原账单该险种已足额到账，计入缴费月数")
    settled = serializers.BooleanField(help_text="含补缴在内均已缴清")
    status_label = serializers.CharField(help_text="缴费状态：已缴清、已缴（补缴未清）或未缴清")
    months = serializers.IntegerField(help_text="计入的缴费月数")


class RecordSummarySerializer(serializers.Serializer):
    insurance_type = serializers.CharField(help_text="险种代码")
    label = serializers.CharField(help_text="险种名称")
    months = serializers.IntegerField(help_text="累计缴费月数")
    employer_paid = serializers.DecimalField(help_text="单位累计缴费（元）", **MONEY)
    individual_paid = serializers.DecimalField(help_text="个人累计缴费（元）", **MONEY)
    first_period = serializers.IntegerField(allow_null=True, help_text="最早所属期 YYYYMM；无缴费为 null")
    last_period = serializers.IntegerField(allow_null=True, help_text="最近所属期 YYYYMM；无缴费为 null")


class ContributionRecordSerializer(serializers.Serializer):
    person = serializers.UUIDField(source="person.uid", help_text="参保人员编号（uid）")
    person_name = serializers.CharField(source="person.name", help_text="姓名")
    id_number_masked = serializers.SerializerMethodField(help_text="脱敏后的公民身份号码")
    generated_on = serializers.DateField(help_text="生成日期")
    summary = RecordSummarySerializer(many=True, help_text="各险种累计缴费月数和金额")
    rows = RecordRowSerializer(many=True, help_text="逐月、分险种的缴费记录")

    def get_id_number_masked(self, obj) -> str:
        return id_number_mask(obj.person.id_number)


class _CanViewBills:
    def has_permission(self, request, view):
        return request.user.has_perm("contributions.view_bill")

    def has_object_permission(self, request, view, obj):
        return True


@extend_schema_view(
    retrieve=extend_schema(
        summary="个人权益记录",
        description=(
            "参保人员逐月、分险种的缴费基数、单位和个人缴费额、是否足额到账及缴费单位，"
            "以及各险种累计缴费月数（职工养老满 180 个月的判断依据）。按人员所属辖区控制访问。"
        ),
        responses={200: ContributionRecordSerializer},
    )
)
class ContributionRecordViewSet(JurisdictionViewMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = Person.objects.select_related("residence_office")
    serializer_class = ContributionRecordSerializer
    lookup_field = "uid"
    filter_backends = []
    pagination_class = None

    def get_permissions(self):
        return [SystemOperationPermission(), IsAuthenticated(), _CanViewBills()]

    def retrieve(self, request, *args, **kwargs):
        person = self.get_object()
        record = selectors.person_contribution_record(user=request.user, person=person)
        return Response(ContributionRecordSerializer(record).data)
