"""The OpenAPI schema of /api/v1/, with what every route has documented once instead of per view: the error
responses in the one error format (registry.api.errors), the Idempotency-Key request header, the X-Request-ID
response header, empty list filters meaning "not given", the router's path pattern; Chinese tags per app, and
Chinese titles and nullability of fields taken from the model.

Set as ``REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"]``; ``tag_descriptions`` is a drf-spectacular postprocessing hook.
tests/test_api_schema.py walks the generated schema and fails on an operation without a Chinese summary,
description or tag, on a parameter or field without a Chinese description, and on an example that does not
match its schema; tests/test_api_schemathesis.py checks the responses against it.
"""

from __future__ import annotations

import re

from django.core.exceptions import FieldDoesNotExist
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema_serializer
from rest_framework import serializers

CJK = re.compile(r"[\u4e00-\u9fff]")

# One tag per app (a view may set ``openapi_tag`` to one of these), in the order Swagger UI lists them.
APP_TAGS = {
    "registry": ("基础信息", "经办机构、参保人员、参保单位、参保登记；数据变更订阅与推送；对接方自检。"),
    "policies": ("政策与参数", "政策文件、参数目录、按日期和区生效的参数取值及解析、政策清理决定。"),
    "contributions": ("缴费征收", "缴费基数申报、核定出账、账单、到账、欠费与滞纳金、个人权益记录。"),
    "funds": ("基金", "市级统筹基金的累计结余、预警指标和预警。"),
    "cases": ("经办", "全市统一的经办事项清单、办件申请与办理、电子档案附件。"),
    "payroll": ("待遇发放", "每月待遇发放批次、个人待遇发放明细（含补发）、待遇资格认证和死亡停发的报送。"),
    "consolidation": ("数据大集中", "各区历史数据的分块报送、装载检查、确认导入和对账。"),
    "evaluation": (
        "评价考核与统计",
        "经办机构月度指标（办件量、按时办结率、评价、征缴率）和每晚汇总的统计数据，只读，供省级系统使用。",
    ),
}


@extend_schema_serializer(
    component_name="Error",
    examples=[
        OpenApiExample(
            "字段校验失败",
            value={
                "code": "validation_error",
                "message": "提交的数据有误。",
                "message_en": "The submitted data is invalid.",
                "errors": {
                    "id_number": ["公民身份号码校验位错误：最后一位应为 6，而不是 8。"],
                    "name": ["该字段是必填项。"],
                },
                "errors_en": {
                    "id_number": [
                        "Wrong check character in the citizen ID number: the last character should be 6, not 8."
                    ],
                    "name": ["This field is required."],
                },
                "request_id": "5f0c1a7e3b9d4c21",
            },
            status_codes=["400"],
            response_only=True,
        ),
        OpenApiExample(
            "辖区外或不存在",
            value={
                "code": "not_found",
                "message": "记录不存在或不在您的辖区内。",
                "message_en": "The record does not exist or is not within your jurisdiction.",
                "errors": {},
                "errors_en": {},
                "request_id": "5f0c1a7e3b9d4c22",
            },
            status_codes=["404"],
            response_only=True,
        ),
    ],
)
class ErrorSerializer(serializers.Serializer):
    """The body of every error response (registry.api.errors.error_body)."""

    code = serializers.CharField(
        help_text="错误类别代码，如 validation_error、parse_error、not_authenticated、permission_denied、"
        "operation_not_allowed、not_found、method_not_allowed、conflict、idempotency_in_progress、integrity_error、"
        "payload_too_large、unsupported_media_type、invalid_idempotency_key、idempotency_key_reused、throttled"
    )
    message = serializers.CharField(help_text="中文错误说明")
    message_en = serializers.CharField(help_text="英文错误说明（供对接系统记录日志）")
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="按字段列出的中文错误；键为字段名（嵌套字段如 lines[0].base），非字段错误为 non_field_errors",
    )
    errors_en = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="与 errors 逐项对应的英文错误",
    )
    request_id = serializers.CharField(help_text="请求编号，与响应头 X-Request-ID 相同，报障时请提供")


# Status → when it happens. Reads can fail with the first five; writes (bodies) with all of them.
_READ_ERRORS = {
    400: "请求有误：查询参数类型或取值不符合要求。",
    401: "未提供接口密钥，或密钥无效、已吊销、已过期。",
    403: "无权调用：角色无此权限，或本系统未获授权调用该接口操作（operation_not_allowed）。",
    404: "记录不存在或不在调用方辖区内。",
    429: "调用过于频繁，超过本系统每分钟调用上限；请按响应头 Retry-After 等待后重试。",
}
_WRITE_ERRORS = {
    **_READ_ERRORS,
    400: "请求有误：请求体不是合法的 JSON、字段类型不符、含未知字段或取值不合业务规则；错误按字段列出。",
    409: "冲突：同一幂等键（Idempotency-Key）的请求仍在处理中，或记录当前状态不允许该操作。",
    413: "请求体超过大小上限。",
    415: "不支持的请求体类型。",
    422: "同一幂等键（Idempotency-Key）已用于内容不同的请求。",
}
_WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}

# Handled for every route by registry.middleware / registry.api.idempotency, so documented here once.
IDEMPOTENCY_KEY = {
    "in": "header",
    "name": "Idempotency-Key",
    "required": False,
    "description": "幂等键（建议用 UUID）：同一调用方在有效期内以同一键重发相同请求，返回首次的结果"
    "（响应头 Idempotent-Replayed: true），不会重复处理；同一键用于不同请求返回 422，首次请求仍在处理中返回 409。",
    "schema": {"type": "string", "minLength": 1, "maxLength": 100, "pattern": r"^[\x20-\x7e]*[\x21-\x7e][\x20-\x7e]*$"},
}
REQUEST_ID_HEADER = {
    "X-Request-ID": {
        "description": "请求编号，与错误体中的 request_id 相同；请求中带合规的 X-Request-ID 时沿用",
        "required": True,
        "schema": {"type": "string"},
    }
}


def _source_model_fields(field: serializers.Field) -> list:
    """The model fields a ModelSerializer field's ``source`` walks through ("employer.name": employer, name)."""
    model = getattr(getattr(getattr(field, "parent", None), "Meta", None), "model", None)
    source = getattr(field, "source", None)
    if model is None or not source or source == "*":
        return []
    found = []
    for part in source.split("."):
        name = part[4:-8] if part.startswith("get_") and part.endswith("_display") else part
        try:
            model_field = model._meta.get_field(name)
        except FieldDoesNotExist:
            break
        found.append(model_field)
        model = getattr(model_field, "related_model", None)
        if model is None:
            break
    return found


def _model_field_label(field: serializers.Field) -> str | None:
    """The verbose name of the model field a ModelSerializer field reads (``source``), e.g. "所属期"."""
    label = None
    for model_field in _source_model_fields(field):
        if getattr(model_field, "primary_key", False) and getattr(model_field, "auto_created", False):
            return "记录编号"  # Django's automatic id is labelled "ID"
        label = str(getattr(model_field, "verbose_name", "") or "") or label
    return label


def _reads_through_null(field: serializers.Field) -> bool:
    """A read-only field whose source passes through a nullable relation (or that defaults to None) can be null:
    DRF then renders None, whatever the field's type."""
    if not field.read_only or isinstance(field, serializers.SerializerMethodField):
        return False
    if field.default is None:
        return True
    return any(getattr(f, "null", False) for f in _source_model_fields(field))


class AutoSchema(SpectacularAutoSchema):
    """drf-spectacular's schema with the project's conventions applied to every operation."""

    def get_description(self) -> str:
        # Docstrings are developer notes in English; the API's description is Chinese (extend_schema). A Chinese
        # docstring is still used.
        description = super().get_description()
        return description if description and CJK.search(description) else ""

    def get_tags(self) -> list[str]:
        tag = getattr(self.view, "openapi_tag", None)
        if tag:
            return [tag]
        app = type(self.view).__module__.split(".", 1)[0]
        return [APP_TAGS[app][0]] if app in APP_TAGS else []

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        errors = _WRITE_ERRORS if self.method in _WRITE_METHODS else _READ_ERRORS
        for status, description in errors.items():
            code = str(status)
            existing = responses.get(code)
            if existing is not None and existing.get("content"):
                continue  # the operation documents this status itself
            documented = self._get_response_for_code(
                OpenApiResponse(ErrorSerializer, description=(existing or {}).get("description") or description),
                code,
                direction=direction,
            )
            responses[code] = documented
        for response in responses.values():
            response["headers"] = {**response.get("headers", {}), **REQUEST_ID_HEADER}
        return dict(sorted(responses.items()))

    def _get_parameters(self):
        parameters = super()._get_parameters()
        for parameter in parameters:
            schema = parameter.get("schema", {})
            if (
                parameter["in"] == "path"
                and schema.get("type") == "string"
                and not schema.keys() & {"format", "pattern"}
            ):
                # The router's default lookup pattern: a value with "/" or "." matches no route at all.
                schema["pattern"] = r"^[^/.]+$"
        if self.method == "GET" and getattr(self.view, "action", None) == "list":
            # On a list an empty query value means "not given" (django-filter ignores it; so do the other list
            # filters and the pagination): documented, so that clients and the schemathesis run know it.
            for parameter in parameters:
                if parameter["in"] == "query" and not parameter.get("required"):
                    parameter["allowEmptyValue"] = True
        if self.method in {"POST", "PUT", "PATCH"}:
            parameters.append(dict(IDEMPOTENCY_KEY))
        return parameters

    def _get_filter_parameters(self):
        # A filter declared only by name (filterset_fields) gets the model field's verbose name as its description.
        parameters = super()._get_filter_parameters()
        queryset = getattr(self.view, "queryset", None)
        for parameter in parameters:
            if parameter.get("description") or queryset is None:
                continue
            title = parameter.get("schema", {}).get("title")
            if not title:
                try:
                    title = str(queryset.model._meta.get_field(parameter["name"]).verbose_name)
                except FieldDoesNotExist:
                    continue
            parameter["description"] = title
        return parameters

    def _get_serializer_field_meta(self, field, direction):
        meta = super()._get_serializer_field_meta(field, direction)
        if isinstance(field, serializers.Field) and "nullable" not in meta and _reads_through_null(field):
            meta["nullable"] = True
        if "title" not in meta and "description" not in meta:
            label = _model_field_label(field)
            if label:
                meta["title"] = label
        return meta


def tag_descriptions(result, generator, request, public):
    """Postprocessing hook: the app tags with their descriptions, in APP_TAGS order (then any others)."""
    used = {tag for path in result.get("paths", {}).values() for op in path.values() for tag in op.get("tags", [])}
    known = [{"name": name, "description": text} for name, text in APP_TAGS.values() if name in used]
    others = [{"name": tag} for tag in sorted(used - {t["name"] for t in known})]
    result["tags"] = known + others
    return result
