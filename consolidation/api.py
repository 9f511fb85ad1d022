"""REST API v1 of the data consolidation: a district system (or a city administrator) delivers a batch in chunks —
never through a web form, a district's history is gigabytes — and follows its check, apply and reconciliation.

1. ``POST /consolidation-batches/`` {district, source_system, label} → the batch (receiving files).
2. ``POST /consolidation-batches/{uid}/files/`` {kind, name, size, sha256} → the file.
3. ``PUT /consolidation-files/{uid}/chunk/?index=N`` with the bytes (``application/octet-stream``, header
   ``X-Chunk-SHA256``) for N = 0, 1, …; a chunk sent again changes nothing.
4. ``POST /consolidation-files/{uid}/complete/`` → checks chunks, size and SHA-256 of the whole.
5. ``POST /consolidation-batches/{uid}/submit/`` → 202, loaded and checked by a worker (poll the batch).
6. ``POST /consolidation-batches/{uid}/apply/`` (city administrators) → 202, matched and imported.
Layouts: docs/legacy-import.md.
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.http import StreamingHttpResponse
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import UnsupportedMediaType
from rest_framework.parsers import BaseParser, JSONParser
from rest_framework.response import Response

from consolidation import selectors
from consolidation.exports import batch_rejected_csv
from consolidation.models import BatchChunk, BatchFile, FileKind, ImportBatch
from consolidation.services import batches
from registry.api.mixins import JurisdictionViewMixin
from registry.api.serializers import MethodFirstMixin, StrictSerializer
from registry.jurisdiction import scope_to_user


class ChunkParser(BaseParser):
    """A chunk's bytes: handed to the view as the request stream, read there within the chunk limit."""

    media_type = "application/octet-stream"

    def parse(self, stream, media_type=None, parser_context=None):
        return stream


class BatchInSerializer(StrictSerializer):
    district = serializers.CharField(max_length=12, help_text="报送区代码：331002 椒江、331003 黄岩、331004 路桥")
    source_system = serializers.CharField(max_length=100, help_text="来源系统名称（如“黄岩区社保系统 v3”）")
    label = serializers.CharField(max_length=200, required=False, allow_blank=True, help_text="批次说明")


class FileInSerializer(StrictSerializer):
    kind = serializers.ChoiceField(choices=FileKind.choices, help_text="文件类型")
    name = serializers.CharField(max_length=200, help_text="文件名（.csv 或 .xlsx）")
    size = serializers.IntegerField(min_value=1, help_text="整个文件的字节数")
    sha256 = serializers.RegexField(r"^[0-9a-fA-F]{64}$", help_text="整个文件的 SHA-256（64 位十六进制）")


class FileOutSerializer(serializers.ModelSerializer):
    kind_label = serializers.CharField(source="get_kind_display", read_only=True, help_text="文件类型名称")
    status_label = serializers.CharField(source="get_status_display", read_only=True, help_text="状态名称")
    chunks_received = serializers.SerializerMethodField(help_text="已收到的分块序号")
    bytes_received = serializers.SerializerMethodField(help_text="已收到的字节数")

    class Meta:
        model = BatchFile
        extra_kwargs = {"sha256": {"help_text": "整个文件的 SHA-256（十六进制）"}}
        fields = [
            "uid",
            "kind",
            "kind_label",
            "name",
            "size",
            "sha256",
            "status",
            "status_label",
            "file_format",
            "encoding",
            "line_count",
            "bad_count",
            "error",
            "chunks_received",
            "bytes_received",
        ]

    def get_chunks_received(self, obj) -> list[int]:
        return [c.index for c in obj.chunks.all()]

    def get_bytes_received(self, obj) -> int:
        return sum(c.size for c in obj.chunks.all())


class ChunkOutSerializer(serializers.ModelSerializer):
    class Meta:
        model = BatchChunk
        fields = ["index", "size", "sha256", "received_at"]
        extra_kwargs = {"sha256": {"help_text": "本块的 SHA-256（十六进制）"}}


class BatchOutSerializer(serializers.ModelSerializer):
    district = serializers.SlugRelatedField(slug_field="code", read_only=True, help_text="报送区代码")
    status_label = serializers.CharField(source="get_status_display", read_only=True, help_text="状态名称")
    files = FileOutSerializer(many=True, read_only=True, help_text="批次文件")
    duplicate_of = serializers.SlugRelatedField(slug_field="uid", read_only=True, help_text="重复报送时为原批次编号")
    already_delivered = serializers.SerializerMethodField(
        help_text="同样的文件此前已报送：返回的是原批次，未做任何更改"
    )

    class Meta:
        model = ImportBatch
        fields = [
            "uid",
            "district",
            "source_system",
            "label",
            "channel",
            "status",
            "status_label",
            "fingerprint",
            "duplicate_of",
            "error",
            "report",
            "reconciliation",
            "files",
            "created_at",
            "submitted_at",
            "checked_at",
            "applied_at",
            "heartbeat_at",
            "already_delivered",
        ]

    def get_already_delivered(self, obj) -> bool:
        return bool(self.context.get("already_delivered"))

    def to_representation(self, instance):
        data = super().to_representation(instance)
        request = self.context.get("request")
        if not (request and request.user.has_perm("registry.view_full_id_number")):
            data["report"] = mask_numbers(data["report"])
        return data


_NUMBER = re.compile(r"(?<![0-9])([0-9]{6})([0-9]{5,8})([0-9]{3}[0-9Xx])(?![0-9])")


def mask_numbers(value):
    """ID numbers inside a report's texts (the examples of bad lines) masked: 331002********123X."""
    if isinstance(value, str):
        return _NUMBER.sub(lambda m: m.group(1) + "*" * len(m.group(2)) + m.group(3), value)
    if isinstance(value, list):
        return [mask_numbers(v) for v in value]
    if isinstance(value, dict):
        return {k: mask_numbers(v) for k, v in value.items()}
    return value


_BATCH = "数据大集中批次"


@extend_schema_view(
    list=extend_schema(summary="数据大集中批次列表", description="调用方辖区内各区报送的批次及其状态。"),
    retrieve=extend_schema(
        summary="批次详情", description="状态、各文件的接收和检查情况、检查报告（错误行按原因汇总）、导入后的对账结果。"
    ),
    create=extend_schema(
        summary="新建批次",
        description="为一个区新建报送批次（须在调用方辖区内），随后声明文件并分块上传。",
        request=BatchInSerializer,
        responses={201: BatchOutSerializer},
    ),
)
class ImportBatchViewSet(
    MethodFirstMixin,
    JurisdictionViewMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    queryset = ImportBatch.objects.all()
    serializer_class = BatchOutSerializer
    lookup_field = "uid"
    filterset_fields = ["status"]
    parser_classes = [JSONParser]
    http_method_names = ["get", "post", "head", "options"]
    operation_label = _BATCH

    def get_queryset(self):
        return selectors.batch_list(user=self.request.user).prefetch_related("files__chunks")

    def create(self, request, *args, **kwargs):
        data = BatchInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        batch = batches.import_batch_create(
            district_code=data.validated_data["district"],
            source_system=data.validated_data["source_system"],
            label=data.validated_data.get("label", ""),
            acting_user=request.user,
        )
        return Response(BatchOutSerializer(batch, context=self.get_serializer_context()).data, status=201)

    @extend_schema(
        summary="声明批次文件",
        description="声明一个文件（类型、文件名、字节数、SHA-256），之后按序号分块上传。每种类型一个文件；同样的声明再发一次不做更改。",
        request=FileInSerializer,
        responses={201: FileOutSerializer},
    )
    @action(detail=True, methods=["post"])
    def files(self, request, uid=None):
        batch = self.get_object()
        data = FileInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        batch_file = batches.batch_file_declare(batch=batch, **data.validated_data)
        return Response(FileOutSerializer(batch_file).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="提交批次",
        description=(
            "所有文件接收完整后提交：后台逐个文件装载（COPY）并逐行检查，检查报告见批次详情（状态 checked），"
            "此时尚未写入任何登记数据。同一区报送同样的文件时返回原批次（200，already_delivered=true），不做任何更改。"
        ),
        request=None,
        responses={200: BatchOutSerializer, 202: BatchOutSerializer},
    )
    @action(detail=True, methods=["post"])
    def submit(self, request, uid=None):
        batch, queued = batches.import_batch_submit(batch=self.get_object(), acting_user=request.user)
        context = {**self.get_serializer_context(), "already_delivered": not queued}
        return Response(BatchOutSerializer(batch, context=context).data, status=202 if queued else 200)

    @extend_schema(
        summary="确认导入批次",
        description="检查通过后确认导入（市级管理员）：后台匹配、合并、新建、导入历史缴费并对账。失败的批次可再次确认。",
        request=None,
        responses={202: BatchOutSerializer},
    )
    @action(detail=True, methods=["post"])
    def apply(self, request, uid=None):
        batch = batches.import_batch_apply_start(batch=self.get_object(), acting_user=request.user)
        return Response(BatchOutSerializer(batch, context=self.get_serializer_context()).data, status=202)

    @extend_schema(
        summary="下载未导入行",
        description="本批次所有未导入的行（各文件原样的列，加行号和原因），CSV，UTF-8 带 BOM，供区里更正后重新报送。",
        responses={(200, "text/csv"): OpenApiTypes.BINARY},
    )
    @action(detail=True, methods=["get"])
    def rejected(self, request, uid=None):
        batch = self.get_object()
        full = request.user.has_perm("registry.view_full_id_number")
        response = StreamingHttpResponse(
            batch_rejected_csv(batch, full_ids=full), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = f'attachment; filename="rejected-{batch.uid}.csv"'
        return response


@extend_schema_view(
    retrieve=extend_schema(
        summary="批次文件详情", description="文件的接收情况（已收到的分块、字节数）和装载检查结果。"
    ),
)
class BatchFileViewSet(MethodFirstMixin, JurisdictionViewMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = BatchFile.objects.all()
    serializer_class = FileOutSerializer
    lookup_field = "uid"
    http_method_names = ["get", "put", "post", "head", "options"]
    operation_label = "数据大集中批次文件"

    def get_queryset(self):
        return scope_to_user(BatchFile.objects.select_related("batch").prefetch_related("chunks"), self.request.user)

    @extend_schema(
        summary="上传文件分块",
        description=(
            "请求体为分块的原始字节（Content-Type: application/octet-stream，每块不超过 64 MB），"
            "查询参数 index 为从 0 开始的序号，请求头 X-Chunk-SHA256 为本块的 SHA-256。"
            "同一序号、同样内容再发一次不做更改（200）；同一序号不同内容返回 400。"
        ),
        parameters=[
            OpenApiParameter(
                "index", OpenApiTypes.INT, OpenApiParameter.QUERY, required=True, description="分块序号，从 0 开始"
            ),
            OpenApiParameter(
                "X-Chunk-SHA256",
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                required=False,
                description="本块内容的 SHA-256（64 位十六进制）",
            ),
        ],
        request={"application/octet-stream": OpenApiTypes.BINARY},
        responses={201: ChunkOutSerializer, 200: ChunkOutSerializer},
    )
    @action(detail=True, methods=["put"], parser_classes=[ChunkParser], filter_backends=[])
    def chunk(self, request, uid=None):
        batch_file = self.get_object()
        if request.content_type != ChunkParser.media_type:
            raise UnsupportedMediaType(request.content_type)
        try:
            index = int(request.query_params.get("index", ""))
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            raise ValidationError({"index": _("请用查询参数 index 给出分块序号（从 0 开始的整数）。")}) from None
        existed = batch_file.chunks.filter(index=index).exists()
        chunk = batches.batch_chunk_store(
            batch_file=batch_file,
            index=index,
            stream=request.stream,
            length=length,
            sha256=request.headers.get("X-Chunk-SHA256", ""),
        )
        return Response(ChunkOutSerializer(chunk).data, status=200 if existed else 201)

    @extend_schema(
        summary="文件接收完毕",
        description="核对分块是否齐全（0 到 n-1）、字节数和整个文件的 SHA-256；相符则文件状态为“已接收”。",
        request=None,
        responses={200: FileOutSerializer},
    )
    @action(detail=True, methods=["post"])
    def complete(self, request, uid=None):
        batch_file = batches.batch_file_complete(batch_file=self.get_object())
        return Response(FileOutSerializer(batch_file).data)
