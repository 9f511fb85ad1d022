"""REST API v1: the change feed (``/api/v1/changes/``) and the webhooks of external systems (``/api/v1/webhooks/``)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    extend_schema,
    extend_schema_serializer,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response

from registry.api.mixins import JurisdictionViewMixin
from registry.api.serializers import MethodFirstMixin, StrictSerializer
from registry.feed import webhooks
from registry.feed.changes import (
    MAX_LIMIT,
    FeedPosition,
    change_event_as_dict,
    change_feed_read,
    feed_types,
    feed_types_for,
)
from registry.models import ChangeEvent, ChangeOp, SystemAccount, WebhookSubscription

FEED_DESCRIPTION = """
按提交顺序返回调用方辖区内的数据变更（参保人员、参保单位、参保登记、账单、到账、办件），供外部系统增量同步。

**游标**：每次响应给出 `next_cursor`，下次请求带上 `since=<next_cursor>` 即从上次读到的位置之后继续；
`has_more` 为 true 时可立即再取下一页。游标不透明，不要自行构造或解析。

**不漏、不重**：变更记录与业务数据在同一数据库事务中写入（发件箱），按“事务号 + 序号”排序，
而不是按时间戳排序。尚未结束的事务可能在稍后提交而排到前面，因此本接口只返回所有更早事务都已结束的变更；
晚提交的事务在提交后出现在游标之后。按游标顺序读取的系统不会漏掉任何已提交的变更，也不会重复收到同一变更。
长时间未结束的事务只会推迟变更出现的时间，不会造成遗漏。

`url` 是该记录在本接口中的地址（相对路径），`op` 为 created/updated/deleted。
只返回调用方有权查看的记录类型；`types` 中包含无权查看的类型时返回 403。
""".strip()

WEBHOOK_DESCRIPTION = """
外部系统可登记一个接收地址，辖区内的数据变更将逐条以 `POST` JSON 推送（内容与变更订阅接口的一条记录相同，另含 `subscription`）。

请求头：`X-TZSI-Event-Id`（变更编号，接收方据此去重）、`X-TZSI-Timestamp`（Unix 秒）、
`X-TZSI-Signature: sha256=<HMAC-SHA256(密钥, "<时间戳>.<请求体>") 的十六进制>`。
返回 2xx 视为成功；否则按指数退避重试，多次失败后暂停，由管理员在后台重新投递。

签名密钥只在登记和轮换时返回一次。默认从登记时起推送新的变更；`since` 可指定从变更订阅接口的某个游标之后开始。
""".strip()


class ChangeFeedQuerySerializer(serializers.Serializer):
    since = serializers.CharField(required=False, help_text="上次响应的 next_cursor；不填从头开始")
    types = serializers.CharField(required=False, help_text="逗号分隔的变更类型，如 person,enrollment,bill")
    limit = serializers.IntegerField(required=False, min_value=1, max_value=MAX_LIMIT, default=100)

    def validate_since(self, value: str) -> FeedPosition:
        try:
            return FeedPosition.decode(value)
        except ValueError:
            raise serializers.ValidationError(_("游标无效：请使用上次响应中的 next_cursor。")) from None

    def validate_types(self, value: str) -> list[str]:
        wanted = [t.strip() for t in value.split(",") if t.strip()]
        if not wanted:
            raise serializers.ValidationError(_("请至少填写一种变更类型。"))
        unknown = [t for t in wanted if t not in feed_types()]
        if unknown:
            raise serializers.ValidationError(
                _("未知的变更类型：%(types)s。可选：%(known)s。")
                % {"types": "、".join(unknown), "known": "、".join(feed_types())}
            )
        return sorted(set(wanted))


class ChangeEventOutSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="变更编号")
    cursor = serializers.CharField(help_text="读到这一条为止的游标")
    type = serializers.ChoiceField(choices=feed_types(), help_text="变更类型")
    op = serializers.ChoiceField(choices=ChangeOp.choices, help_text="created 新增 / updated 修改 / deleted 删除")
    object_id = serializers.CharField(help_text="记录编号（uid）")
    url = serializers.CharField(help_text="记录在本接口中的地址")
    office = serializers.CharField(allow_null=True, help_text="所属经办机构代码")
    occurred_at = serializers.DateTimeField(help_text="变更时间")


@extend_schema_serializer(many=False)  # one page object, not a list of them
class ChangeFeedPageSerializer(serializers.Serializer):
    results = ChangeEventOutSerializer(many=True, help_text="本页变更，按提交顺序")
    next_cursor = serializers.CharField(allow_null=True, help_text="下次请求的 since")
    has_more = serializers.BooleanField(help_text="为 true 时还有更多变更可立即读取")


@extend_schema_view(
    list=extend_schema(
        summary="数据变更订阅（增量同步）",
        description=FEED_DESCRIPTION,
        parameters=[
            OpenApiParameter("since", OpenApiTypes.STR, description="上次响应的 next_cursor；不填从头开始"),
            OpenApiParameter(
                "types",
                OpenApiTypes.STR,
                description="逗号分隔的变更类型：person、employer、enrollment、bill、payment、case；不填为全部有权查看的类型",
            ),
            OpenApiParameter("limit", OpenApiTypes.INT, description=f"每页条数，默认 100，最多 {MAX_LIMIT}"),
        ],
        responses={200: ChangeFeedPageSerializer},
        examples=[
            OpenApiExample(
                "一页变更",
                value={
                    "results": [
                        {
                            "id": 1052,
                            "cursor": "MTo4ODIxOjEwNTI",
                            "type": "person",
                            "op": "updated",
                            "object_id": "7c0e4a52-5f1e-4d8e-9a53-2f7a1d6b9e10",
                            "url": "/api/v1/persons/7c0e4a52-5f1e-4d8e-9a53-2f7a1d6b9e10/",
                            "office": "331003001",
                            "occurred_at": "2026-03-02T09:15:04.120311+08:00",
                        }
                    ],
                    "next_cursor": "MTo4ODIxOjEwNTI",
                    "has_more": False,
                },
                response_only=True,
            )
        ],
    )
)
class ChangeFeedViewSet(MethodFirstMixin, JurisdictionViewMixin, viewsets.GenericViewSet):
    queryset = ChangeEvent.objects.all()
    pagination_class = None
    filter_backends: list = []
    http_method_names = ["get", "head", "options"]
    # What a consumer addresses a record by (the route-walking jurisdiction test looks for it in the list).
    lookup_field = "object_id"

    def list(self, request, *args, **kwargs):
        query = ChangeFeedQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        types = query.validated_data.get("types")
        if types is not None:
            denied = sorted(set(types) - set(feed_types_for(request.user)))
            if denied:
                raise PermissionDenied(_("无权查看以下类型的记录：%(types)s。") % {"types": "、".join(denied)})
        page = change_feed_read(
            user=request.user,
            since=query.validated_data.get("since"),
            types=types,
            limit=query.validated_data["limit"],
        )
        return Response(
            {
                "results": [change_event_as_dict(event) for event in page.events],
                "next_cursor": page.next.encode() if page.next else None,
                "has_more": page.has_more,
            }
        )


class WebhookInSerializer(StrictSerializer):
    url = serializers.CharField(max_length=500, help_text="接收地址（http:// 或 https://）")
    change_types = serializers.ListField(
        child=serializers.CharField(max_length=20), required=False, help_text="变更类型；不填为全部有权查看的类型"
    )
    since = serializers.CharField(required=False, help_text="从变更订阅接口的这个游标之后开始推送；不填从现在开始")

    def validate_since(self, value: str) -> FeedPosition:
        try:
            return FeedPosition.decode(value)
        except ValueError:
            raise serializers.ValidationError(_("游标无效：请使用变更订阅接口响应中的 next_cursor。")) from None


class WebhookOutSerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookSubscription
        fields = ["uid", "url", "change_types", "is_active", "created_at"]


class WebhookCreatedSerializer(WebhookOutSerializer):
    secret = serializers.CharField(help_text="签名密钥，只显示这一次")

    class Meta(WebhookOutSerializer.Meta):
        fields = [*WebhookOutSerializer.Meta.fields, "secret"]


@extend_schema_view(
    list=extend_schema(summary="本系统登记的 Webhook", description=WEBHOOK_DESCRIPTION),
    retrieve=extend_schema(summary="Webhook 详情", description="本系统登记的一个接收地址、订阅的变更类型和是否启用。"),
    create=extend_schema(
        summary="登记 Webhook",
        description=WEBHOOK_DESCRIPTION,
        request=WebhookInSerializer,
        responses={201: WebhookCreatedSerializer},
        examples=[
            OpenApiExample(
                "登记",
                value={"url": "https://hy-si.example.gov.cn/hooks/tzsi", "change_types": ["person", "enrollment"]},
                request_only=True,
            )
        ],
    ),
    destroy=extend_schema(
        summary="删除 Webhook（未投递的推送一并取消）", description="删除后不再向该地址推送；成功返回 204，无响应体。"
    ),
)
class WebhookViewSet(
    MethodFirstMixin,
    JurisdictionViewMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    queryset = WebhookSubscription.objects.select_related("account")
    serializer_class = WebhookOutSerializer
    lookup_field = "uid"
    filter_backends: list = []
    http_method_names = ["get", "post", "delete", "head", "options"]

    def get_queryset(self):
        # A system manages only its own webhooks.
        return super().get_queryset().filter(account__user=self.request.user).order_by("-id")

    def create(self, request, *args, **kwargs):
        account = SystemAccount.objects.filter(user=request.user, is_active=True).first()
        if account is None:
            raise PermissionDenied(_("只有外部系统账户可以登记 Webhook。"))
        data = WebhookInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        subscription, secret = webhooks.webhook_subscription_create(
            account=account, acting_user=request.user, **data.validated_data
        )
        subscription.secret = secret
        return Response(WebhookCreatedSerializer(subscription).data, status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance):
        webhooks.webhook_subscription_delete(subscription=instance, acting_user=self.request.user)

    @extend_schema(
        summary="轮换签名密钥",
        description="生成新的签名密钥（只显示这一次），此后的推送都用新密钥签名。",
        request=None,
        responses={
            200: inline_serializer(
                "WebhookSecret", {"secret": serializers.CharField(help_text="新的签名密钥，只显示这一次")}
            )
        },
    )
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request, uid=None):
        subscription = self.get_object()
        return Response({"secret": webhooks.webhook_secret_rotate(subscription=subscription, acting_user=request.user)})
