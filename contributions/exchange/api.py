"""REST API v1 of the files exchanged with the collecting agency: bill files to download (with their
SHA-256) and payment files to upload, with the import report and the reconciliation.

Writes call ``contributions.services``; reads call ``contributions.selectors``. Querysets are scoped by
``JurisdictionViewMixin``: a record outside the caller's jurisdiction is 404. Layouts: docs/exchange-files.md.
"""

from __future__ import annotations

import django_filters
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, HttpResponse
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from contributions import selectors, services
from contributions.exchange.bill_exports import sha256_file_text
from contributions.models import (
    BillExport,
    Channel,
    ExportEncoding,
    ExportFormat,
    ExportStatus,
    PaymentFile,
    PaymentFileMode,
    PaymentFileStatus,
    ReconciliationCategory,
    ReconciliationItem,
    ReconciliationSummary,
)
from registry import services as registry_services
from registry.api.mixins import JurisdictionViewMixin
from registry.api.serializers import StrictSerializer
from registry.identifiers import id_number_mask
from registry.jurisdiction import scope_to_user
from registry.models import Office, SensitiveAccess

MONEY = {"max_digits": 16, "decimal_places": 2}


# ---------------------------------------------------------------------------------------------
# Bill files.


class BillExportOutSerializer(serializers.ModelSerializer):
    office = serializers.SlugRelatedField(slug_field="code", read_only=True)
    office_name = serializers.CharField(source="office.name", read_only=True)
    status_label = serializers.CharField(source="get_status_display", read_only=True)
    file_name = serializers.CharField(read_only=True, help_text="文件名；同名加 .sha256 即校验文件")
    sha256 = serializers.CharField(read_only=True, help_text="文件内容的 SHA-256（十六进制）")

    class Meta:
        model = BillExport
        fields = [
            "uid",
            "period",
            "office",
            "office_name",
            "format",
            "encoding",
            "status",
            "status_label",
            "file_name",
            "sha256",
            "size",
            "bill_count",
            "employer_bill_count",
            "person_bill_count",
            "total_employer",
            "total_individual",
            "total",
            "open_amount",
            "insurance_totals",
            "replaced_chars",
            "error",
            "created_at",
            "finished_at",
        ]


class BillExportFilter(django_filters.FilterSet):
    period = django_filters.NumberFilter(field_name="period", help_text="所属期 YYYYMM")
    office = django_filters.CharFilter(field_name="office__code", help_text="范围机构代码，如 331003")
    format = django_filters.ChoiceFilter(choices=ExportFormat.choices)
    encoding = django_filters.ChoiceFilter(choices=ExportEncoding.choices)
    status = django_filters.ChoiceFilter(choices=ExportStatus.choices)

    class Meta:
        model = BillExport
        fields = ["period", "office", "format", "encoding", "status"]


@extend_schema_view(
    list=extend_schema(
        summary="账单文件列表",
        description="辖区内生成的账单文件（每晚自动导出当前所属期，全市及各区各一份），含记录数、合计和 SHA-256。",
    ),
    retrieve=extend_schema(
        summary="账单文件详情", description="一个账单文件的范围、所属期、记录数、合计和 SHA-256；文件用 download 下载。"
    ),
)
class BillExportViewSet(JurisdictionViewMixin, viewsets.ReadOnlyModelViewSet):
    queryset = BillExport.objects.all()
    serializer_class = BillExportOutSerializer
    lookup_field = "uid"
    filterset_class = BillExportFilter
    operation_label = "账单文件"

    def get_queryset(self):
        return selectors.bill_export_list(user=self.request.user)

    def _done(self) -> BillExport:
        export = self.get_object()
        if export.status != ExportStatus.DONE or not export.file:
            raise Http404
        return export

    @extend_schema(
        summary="下载账单文件",
        description="文件内容（CSV 或 xlsx）；响应头 X-Content-SHA256 为其 SHA-256。尚未生成完成的文件返回 404。",
        responses={(200, "application/octet-stream"): OpenApiTypes.BINARY},
    )
    @action(detail=True, methods=["get"])
    def download(self, request, uid=None):
        export = self._done()
        registry_services.sensitive_access_record_many(
            acting_user=request.user,
            person_ids=selectors.bill_export_person_ids(export),
            channel=SensitiveAccess.Channel.API,
            request_id=getattr(request._request, "request_id", ""),
        )
        content_type = (
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
            if export.format == ExportFormat.XLSX
            else f"text/csv; charset={'utf-8' if export.encoding == ExportEncoding.UTF8 else 'gbk'}"
        )
        response = FileResponse(export.file.open("rb"), content_type=content_type, as_attachment=True)
        response["Content-Disposition"] = f'attachment; filename="{export.file_name}"'
        response["X-Content-SHA256"] = export.sha256
        return response

    @extend_schema(
        summary="下载账单文件的 SHA-256 校验文件",
        description="sha256sum 格式的一行：`<sha256>  <文件名>`，可用 `sha256sum -c` 校验。",
        responses={(200, "text/plain"): OpenApiTypes.STR},
    )
    @action(detail=True, methods=["get"], url_path="sha256")
    def sha256_file(self, request, uid=None):
        export = self._done()
        response = HttpResponse(sha256_file_text(export), content_type="text/plain; charset=ascii")
        response["Content-Disposition"] = f'attachment; filename="{export.file_name}.sha256"'
        return response


# ---------------------------------------------------------------------------------------------
# Payment files.


class PaymentFileInSerializer(StrictSerializer):
    file = serializers.FileField(help_text="到账文件：CSV（UTF-8 或 GBK）或 Excel .xlsx，列见 docs/exchange-files.md")
    mode = serializers.ChoiceField(
        choices=PaymentFileMode.choices,
        default=PaymentFileMode.STRICT,
        help_text="strict：有错误行则整份拒收（默认）；skip_bad：导入正确行、留存错误行待更正（仅管理员）",
    )


class ReconciliationSummarySerializer(serializers.Serializer):
    office = serializers.CharField(help_text="经办机构代码")
    office_name = serializers.CharField()
    category = serializers.ChoiceField(choices=ReconciliationCategory.choices)
    item_count = serializers.IntegerField()
    line_count = serializers.IntegerField()
    due = serializers.DecimalField(**MONEY)
    paid = serializers.DecimalField(**MONEY)


class ProblemSerializer(serializers.Serializer):
    line = serializers.IntegerField(help_text="文件中的行号（列名行之前的行也计数）")
    code = serializers.CharField(help_text="问题代码")
    message = serializers.CharField()


class PaymentFileOutSerializer(serializers.ModelSerializer):
    office = serializers.SlugRelatedField(slug_field="code", read_only=True)
    status_label = serializers.CharField(source="get_status_display", read_only=True)
    uploaded_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    problems = serializers.SerializerMethodField(help_text="错误行及原因（最多 1000 行；bad_count 为总数）")
    reconciliation = serializers.SerializerMethodField(help_text="调用方辖区内各机构的对账汇总")
    already_imported = serializers.SerializerMethodField(help_text="同一文件此前已导入，本次未做任何更改")

    class Meta:
        model = PaymentFile
        fields = [
            "uid",
            "name",
            "sha256",
            "size",
            "office",
            "mode",
            "status",
            "status_label",
            "line_count",
            "imported_count",
            "repeat_count",
            "bad_count",
            "open_bad_count",
            "imported_amount",
            "credit_amount",
            "bad_amount",
            "periods",
            "problems",
            "reconciliation",
            "already_imported",
            "error",
            "uploaded_by",
            "created_at",
            "finished_at",
            "seconds",
        ]
        extra_kwargs = {
            "sha256": {"help_text": "文件内容的 SHA-256（十六进制）；同一文件再次上传据此识别"},
            "error": {"help_text": "拒收或失败的原因（如合计行与明细不符）"},
        }

    def get_problems(self, obj) -> list[dict]:
        request = self.context.get("request")
        if request is None or not selectors.payment_file_managed(user=request.user, payment_file=obj):
            return []
        return ProblemSerializer((obj.report or {}).get("problems", []), many=True).data

    def get_reconciliation(self, obj) -> list[dict]:
        request = self.context.get("request")
        if request is None:
            return []
        rows = scope_to_user(
            ReconciliationSummary.objects.filter(payment_file=obj).select_related("office"), request.user
        ).order_by("office__path", "category")
        return ReconciliationSummarySerializer(
            [
                {
                    "office": r.office.code,
                    "office_name": r.office.name,
                    "category": r.category,
                    "item_count": r.item_count,
                    "line_count": r.line_count,
                    "due": r.due,
                    "paid": r.paid,
                }
                for r in rows
            ],
            many=True,
        ).data

    def get_already_imported(self, obj) -> bool:
        return bool(self.context.get("already_imported"))


class ReconciliationItemSerializer(serializers.ModelSerializer):
    office = serializers.SlugRelatedField(slug_field="code", read_only=True)
    category_label = serializers.CharField(source="get_category_display", read_only=True)
    employer = serializers.SlugRelatedField(slug_field="uid", read_only=True)
    person = serializers.SlugRelatedField(slug_field="uid", read_only=True)
    payer_code = serializers.SerializerMethodField(help_text="统一社会信用代码，或脱敏的公民身份号码")

    class Meta:
        model = ReconciliationItem
        fields = [
            "id",
            "office",
            "category",
            "category_label",
            "payer_type",
            "employer",
            "person",
            "payer_code",
            "period",
            "due",
            "paid",
            "line_count",
            "first_line",
        ]

    def get_payer_code(self, obj) -> str:
        request = self.context.get("request")
        if obj.payer_type == "person" and not (request and request.user.has_perm("registry.view_full_id_number")):
            return id_number_mask(obj.payer_code)
        return obj.payer_code


@extend_schema_view(
    list=extend_schema(summary="到账文件列表", description="在调用方辖区内导入的到账文件。"),
    retrieve=extend_schema(
        summary="到账文件导入结果", description="计数、金额、错误行及原因、调用方辖区内各机构的对账汇总。"
    ),
    create=extend_schema(
        summary="导入到账文件（征收机构）",
        description=(
            "multipart/form-data 上传 file（CSV：UTF-8 或 GBK；或 .xlsx）和 mode。"
            "文件保存后由后台任务导入：返回 202 和文件的状态资源（Location 指向 GET /api/v1/payment-files/{uid}/），"
            "轮询直至 status 不再是 queued：imported、pending（有留存的错误行）、rejected（problems 逐行列出行号和原因，"
            "或 error 说明合计行与明细不符）、failed（error）。文件无法读取（编码、列名）时直接返回 400。"
            "按 SHA-256 同一文件只导入一次：已导入的文件重复上传返回 200 和首次的导入结果（already_imported=true），"
            "不做任何更改；此前上传但未导入完成的文件重新上传则继续导入，返回 202。"
            "strict：任一行有误则整份拒收，不登记任何到账。skip_bad（仅管理员）：登记正确行，错误行留存待更正。"
            "到账按接口报送的同一规则登记（同一流水号一笔；先缴最早账单、按险种顺序；多缴转结余）。"
        ),
        request={"multipart/form-data": PaymentFileInSerializer},
        responses={
            200: PaymentFileOutSerializer,
            202: PaymentFileOutSerializer,
            400: OpenApiResponse(description="文件无法读取（编码、列名）"),
        },
    ),
)
class PaymentFileViewSet(
    JurisdictionViewMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    queryset = PaymentFile.objects.all()
    serializer_class = PaymentFileOutSerializer
    lookup_field = "uid"
    filterset_fields = ["status", "mode"]
    parser_classes = [MultiPartParser, FormParser]
    http_method_names = ["get", "post", "head", "options"]
    operation_label = "到账文件"

    def get_queryset(self):
        # Files imported in the caller's jurisdiction (a clerk's page also shows his part of a city-wide file).
        return scope_to_user(PaymentFile.objects.select_related("office", "uploaded_by"), self.request.user).order_by(
            "-id"
        )

    def create(self, request, *args, **kwargs):
        data = PaymentFileInSerializer(data=request.data, context=self.get_serializer_context())
        data.is_valid(raise_exception=True)
        upload = data.validated_data["file"]
        payment_file, created = services.payment_file_upload(
            name=upload.name,
            data=upload.read(),
            mode=data.validated_data["mode"],
            acting_user=request.user,
            channel=Channel.API,
        )
        # A new file, or one whose import never finished (resumed), is imported by a worker: 202 and the file's
        # status resource to poll. A file imported before: 200, already_imported, nothing changed.
        unfinished = payment_file.status in (PaymentFileStatus.QUEUED, PaymentFileStatus.PROCESSING)
        context = {**self.get_serializer_context(), "already_imported": not created and not unfinished}
        code = status.HTTP_202_ACCEPTED if unfinished else status.HTTP_200_OK
        headers = {"Location": f"/api/v1/payment-files/{payment_file.uid}/"} if unfinished else {}
        return Response(PaymentFileOutSerializer(payment_file, context=context).data, status=code, headers=headers)

    @extend_schema(
        summary="到账文件对账明细",
        description="调用方辖区内的对账明细（相符、缴费方不明、已出账未到账、金额不符），可按结果和机构筛选。",
        parameters=[
            OpenApiParameter(
                "category", OpenApiTypes.STR, enum=ReconciliationCategory.values, description="对账结果类别"
            ),
            OpenApiParameter("office", OpenApiTypes.STR, description="机构代码（含下级）"),
        ],
        responses={200: ReconciliationItemSerializer(many=True)},
    )
    @action(detail=True, methods=["get"], filter_backends=[])
    def reconciliation(self, request, uid=None):
        payment_file = self.get_object()
        category = request.query_params.get("category") or None
        if category and category not in ReconciliationCategory.values:
            raise ValidationError({"category": _("对账结果应为 matched、unknown_payer、billed_unpaid 或 mismatch。")})
        office = None
        code = request.query_params.get("office")
        if code:
            office = scope_to_user(Office.objects.all(), request.user).filter(code=code).first()
            if office is None:
                raise Http404
        items = selectors.reconciliation_items(
            user=request.user, payment_file=payment_file, category=category, office=office
        ).order_by("-id")
        page = self.paginate_queryset(items)
        if request.user.has_perm("registry.view_full_id_number"):
            registry_services.sensitive_access_record_many(
                acting_user=request.user,
                person_ids=[i.person_id for i in page if i.payer_type == "person"],
                channel=SensitiveAccess.Channel.API,
                request_id=getattr(request._request, "request_id", ""),
            )
        serializer = ReconciliationItemSerializer(page, many=True, context=self.get_serializer_context())
        return self.get_paginated_response(serializer.data)
