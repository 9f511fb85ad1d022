"""REST API v1 of the registry: persons, employers, enrollments, offices (the platform they use: registry/api/)."""

from __future__ import annotations

from typing import Any

import django_filters
from django.core.exceptions import ValidationError
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import (
    OpenApiExample,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import APIException
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from registry import selectors, services
from registry.api.mixins import JurisdictionViewMixin
from registry.api.permissions import SystemOperationPermission
from registry.api.serializers import MethodFirstMixin, OfficeCodeField, StrictSerializer, UidRelatedField
from registry.identifiers import id_number_mask
from registry.models import Employer, Enrollment, InsuranceType, Office, Person, SensitiveAccess

# One registered person as the API returns it (OpenAPI examples of create and search).
PERSON_EXAMPLE = {
    "uid": "3f1c2a9e-0000-4000-8000-000000000002",
    "id_number_masked": "331003********1233",
    "name": "张三",
    "name_pinyin": "zhangsan",
    "sex": "M",
    "birth_date": "1962-03-15",
    "household_type": "urban",
    "phone": "",
    "address": "",
    "residence_office": "331003",
    "card_number": None,
    "card_status": "none",
    "merged_into": None,
    "updated_at": "2026-11-05T09:30:00+08:00",
}


class OfficeSerializer(serializers.ModelSerializer):
    parent = serializers.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = Office
        fields = ["code", "name", "level", "parent", "is_active"]


class PersonOutSerializer(serializers.ModelSerializer):
    id_number_masked = serializers.SerializerMethodField(help_text="脱敏后的公民身份号码（前 6 位和后 4 位可见）")
    residence_office = serializers.SlugRelatedField(slug_field="code", read_only=True)
    merged_into = serializers.SlugRelatedField(
        slug_field="uid", read_only=True, help_text="已合并（数据大集中）时为保留记录的编号；空表示未合并"
    )

    class Meta:
        model = Person
        fields = [
            "uid",
            "id_number_masked",
            "name",
            "name_pinyin",
            "sex",
            "birth_date",
            "household_type",
            "phone",
            "address",
            "residence_office",
            "card_number",
            "card_status",
            "merged_into",
            "updated_at",
        ]

    def get_id_number_masked(self, obj) -> str:
        return id_number_mask(obj.id_number)


class PersonCreateSerializer(StrictSerializer):
    id_number = serializers.CharField(max_length=20, help_text="公民身份号码，18 位（15 位旧号码自动升位）")
    name = serializers.CharField(max_length=50, help_text="姓名")
    household_type = serializers.ChoiceField(
        choices=Person._meta.get_field("household_type").choices, help_text="户籍性质：urban 城镇，rural 农村"
    )
    residence_office = OfficeCodeField(help_text="居住地经办机构代码（须在调用方辖区内），如 331003001（东城街道）")
    phone = serializers.CharField(max_length=20, required=False, allow_blank=True, help_text="联系电话")
    address = serializers.CharField(max_length=200, required=False, allow_blank=True, help_text="联系地址")
    card_number = serializers.CharField(
        max_length=20, required=False, allow_blank=True, allow_null=True, help_text="社会保障卡卡号；空表示未制卡"
    )
    card_status = serializers.ChoiceField(
        choices=Person._meta.get_field("card_status").choices, required=False, help_text="社会保障卡状态"
    )


class PersonUpdateSerializer(StrictSerializer):
    name = serializers.CharField(max_length=50, required=False, help_text="姓名")
    household_type = serializers.ChoiceField(
        choices=Person._meta.get_field("household_type").choices,
        required=False,
        help_text="户籍性质：urban 城镇，rural 农村",
    )
    residence_office = OfficeCodeField(required=False, help_text="居住地经办机构代码（须在调用方辖区内）")
    phone = serializers.CharField(max_length=20, required=False, allow_blank=True, help_text="联系电话")
    address = serializers.CharField(max_length=200, required=False, allow_blank=True, help_text="联系地址")
    card_number = serializers.CharField(
        max_length=20, required=False, allow_blank=True, allow_null=True, help_text="社会保障卡卡号；空表示未制卡"
    )
    card_status = serializers.ChoiceField(
        choices=Person._meta.get_field("card_status").choices, required=False, help_text="社会保障卡状态"
    )


class RegisteredElsewhere(APIException):
    """409: the number belongs to a person of another jurisdiction; nothing of that person is said."""

    status_code = status.HTTP_409_CONFLICT
    api_code = "registered_elsewhere"
    default_detail = gettext_lazy("已在本市其他辖区登记。")


class IdNumberSearchSerializer(StrictSerializer):
    id_number = serializers.CharField(max_length=20, help_text="公民身份号码")


class OfficeSubtreeFilter(django_filters.CharFilter):
    """office=<code>: records of that office and everything under it."""

    def __init__(self, *args, path_lookup: str, **kwargs):
        self.path_lookup = path_lookup
        super().__init__(*args, **kwargs)

    def filter(self, qs, value):
        if not value:
            return qs
        office = Office.objects.filter(code=value).first()
        if office is None:
            return qs.none()
        return qs.filter(**{f"{self.path_lookup}__startswith": office.path})


class PersonFilter(django_filters.FilterSet):
    office = OfficeSubtreeFilter(path_lookup="residence_office__path", help_text="经办机构代码（含下级）")
    name = django_filters.CharFilter(field_name="name", lookup_expr="startswith", help_text="姓名前缀")
    pinyin = django_filters.CharFilter(method="filter_pinyin", help_text="拼音或首字母前缀")
    card_status = django_filters.ChoiceFilter(choices=Person._meta.get_field("card_status").choices)

    class Meta:
        model = Person
        fields = ["office", "name", "pinyin", "card_status"]

    def filter_pinyin(self, qs, name, value):
        value = value.lower().replace(" ", "")
        return qs.filter(selectors.person_pinyin_filter(value)) if value else qs


@extend_schema_view(
    list=extend_schema(
        summary="参保人员列表",
        description="辖区内的参保人员，可按经办机构（含下级）、姓名前缀、拼音或首字母、社保卡状态筛选；公民身份号码脱敏显示。",
    ),
    retrieve=extend_schema(
        summary="参保人员详情", description="按人员编号（uid）查询；不存在或不在调用方辖区内返回 404。"
    ),
    create=extend_schema(
        summary="新增参保人员",
        description=(
            "登记一名参保人员。公民身份号码校验位、出生日期和行政区划均被校验，15 位旧号码自动升位；"
            "同一号码已在调用方辖区内登记返回 400（字段 id_number）；已在本市其他辖区登记返回 409"
            "（code registered_elsewhere，不含该人员的任何信息）；居住地机构须在调用方辖区内。返回 201 和脱敏后的人员信息。"
        ),
        request=PersonCreateSerializer,
        responses={201: PersonOutSerializer},
        examples=[
            OpenApiExample(
                "新增",
                value={
                    "id_number": "331003196203151233",
                    "name": "张三",
                    "household_type": "urban",
                    "residence_office": "331003",
                },
                request_only=True,
            ),
            OpenApiExample(
                "已登记",
                value=PERSON_EXAMPLE,
                response_only=True,
                status_codes=["201"],
            ),
        ],
    ),
    partial_update=extend_schema(
        summary="修改参保人员",
        description="只修改请求中给出的字段；公民身份号码不可修改，出现未知字段返回 400。",
        request=PersonUpdateSerializer,
        responses={200: PersonOutSerializer},
    ),
)
class PersonViewSet(
    MethodFirstMixin,
    JurisdictionViewMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    queryset = Person.objects.select_related("residence_office")
    serializer_class = PersonOutSerializer
    lookup_field = "uid"
    filterset_class = PersonFilter
    http_method_names = ["get", "post", "patch", "head", "options"]
    # The search is a read that takes its criteria in the body (an ID number must not be in the URL).
    operation_kinds = {"search": "read"}

    def create(self, request, *args, **kwargs):
        data = PersonCreateSerializer(data=request.data, context=self.get_serializer_context())
        data.is_valid(raise_exception=True)
        try:
            person = services.person_create(acting_user=request.user, **data.validated_data)
        except services.PersonRegisteredElsewhere:
            raise RegisteredElsewhere() from None
        return Response(PersonOutSerializer(person).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        person = self.get_object()
        data = PersonUpdateSerializer(data=request.data, context=self.get_serializer_context())
        data.is_valid(raise_exception=True)
        person = services.person_update(person=person, acting_user=request.user, **data.validated_data)
        return Response(PersonOutSerializer(person).data)

    @extend_schema(
        summary="按公民身份号码查找参保人员",
        description="号码放在请求体中，不出现在 URL（URL 会进入访问日志）。辖区外或不存在均返回 404。",
        request=IdNumberSearchSerializer,
        responses={200: PersonOutSerializer},
        examples=[
            OpenApiExample("查找", value={"id_number": "331003196203151233"}, request_only=True),
            OpenApiExample(
                "找到",
                value=PERSON_EXAMPLE,
                response_only=True,
                status_codes=["200"],
            ),
        ],
    )
    @action(detail=False, methods=["post"], url_path="search")
    def search(self, request):
        data = IdNumberSearchSerializer(data=request.data)
        data.is_valid(raise_exception=True)

        try:
            person = selectors.person_find_by_id_number(user=request.user, id_number=data.validated_data["id_number"])
        except ValidationError as exc:
            raise ValidationError({"id_number": exc.messages}) from None
        if person is None:
            raise Person.DoesNotExist
        return Response(PersonOutSerializer(person).data)

    @extend_schema(
        summary="查看完整公民身份号码",
        description="仅限有权角色；每次查看都记入敏感信息查看记录。",
        request=None,
        responses={
            200: inline_serializer(
                "RevealedIdNumber", {"id_number": serializers.CharField(help_text="完整的公民身份号码")}
            )
        },
    )
    @action(detail=True, methods=["post"], url_path="reveal-id-number")
    def reveal_id_number(self, request, uid=None):
        person = self.get_object()
        number = services.id_number_reveal(
            person=person,
            acting_user=request.user,
            channel=SensitiveAccess.Channel.API,
            request_id=getattr(request._request, "request_id", ""),
        )
        return Response({"id_number": number})

    def get_permissions(self):
        if self.action in ("search", "reveal_id_number"):
            return [SystemOperationPermission(), IsAuthenticated(), _ViewPersonPermission()]
        return super().get_permissions()


class _ViewEnrollmentPermission:
    def has_permission(self, request, view):
        return request.user.has_perm("registry.view_enrollment") and request.user.has_perm("registry.view_person")

    def has_object_permission(self, request, view, obj):
        return True


class _ViewPersonPermission:
    def has_permission(self, request, view):
        return request.user.has_perm("registry.view_person")

    def has_object_permission(self, request, view, obj):
        return True


class EmployerOutSerializer(serializers.ModelSerializer):
    office = serializers.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = Employer
        fields = [
            "uid",
            "credit_code",
            "name",
            "employer_type",
            "industry",
            "risk_class",
            "office",
            "status",
            "updated_at",
        ]


class EmployerCreateSerializer(StrictSerializer):
    credit_code = serializers.CharField(max_length=20, help_text="统一社会信用代码")
    name = serializers.CharField(max_length=200, help_text="单位名称")
    employer_type = serializers.ChoiceField(
        choices=Employer._meta.get_field("employer_type").choices, help_text="单位类型"
    )
    office = OfficeCodeField(help_text="参保经办机构代码（须在调用方辖区内）")
    industry = serializers.CharField(max_length=100, required=False, allow_blank=True, help_text="所属行业")
    risk_class = serializers.IntegerField(
        min_value=1, max_value=8, required=False, help_text="工伤保险行业风险类别，1–8 类"
    )
    status = serializers.ChoiceField(
        choices=Employer._meta.get_field("status").choices, required=False, help_text="参保状态"
    )


class EmployerUpdateSerializer(StrictSerializer):
    name = serializers.CharField(max_length=200, required=False, help_text="单位名称")
    employer_type = serializers.ChoiceField(
        choices=Employer._meta.get_field("employer_type").choices, required=False, help_text="单位类型"
    )
    office = OfficeCodeField(required=False, help_text="参保经办机构代码（须在调用方辖区内）")
    industry = serializers.CharField(max_length=100, required=False, allow_blank=True, help_text="所属行业")
    risk_class = serializers.IntegerField(
        min_value=1, max_value=8, required=False, help_text="工伤保险行业风险类别，1–8 类"
    )
    status = serializers.ChoiceField(
        choices=Employer._meta.get_field("status").choices, required=False, help_text="参保状态"
    )


class EmployerFilter(django_filters.FilterSet):
    office = OfficeSubtreeFilter(path_lookup="office__path", help_text="经办机构代码（含下级）")
    name = django_filters.CharFilter(field_name="name", lookup_expr="contains", help_text="名称包含")
    credit_code = django_filters.CharFilter(field_name="credit_code", help_text="统一社会信用代码")
    status = django_filters.ChoiceFilter(choices=Employer._meta.get_field("status").choices)

    class Meta:
        model = Employer
        fields = ["office", "name", "credit_code", "status"]


@extend_schema_view(
    list=extend_schema(
        summary="参保单位列表",
        description="辖区内的参保单位，可按经办机构（含下级）、名称、统一社会信用代码、参保状态筛选。",
    ),
    retrieve=extend_schema(
        summary="参保单位详情", description="按单位编号（uid）查询；不存在或不在调用方辖区内返回 404。"
    ),
    create=extend_schema(
        summary="新增参保单位",
        description="登记一个参保单位。统一社会信用代码校验位被校验，已登记返回 400（字段 credit_code）；参保经办机构须在调用方辖区内。",
        request=EmployerCreateSerializer,
        responses={201: EmployerOutSerializer},
        examples=[
            OpenApiExample(
                "新增",
                value={
                    "credit_code": "91331003MA2AB1234C",
                    "name": "台州市黄岩精工模具有限公司",
                    "employer_type": "enterprise",
                    "office": "331003",
                    "industry": "制造业",
                    "risk_class": 2,
                },
                request_only=True,
            )
        ],
    ),
    partial_update=extend_schema(
        summary="修改参保单位",
        description="只修改请求中给出的字段；统一社会信用代码不可修改。",
        request=EmployerUpdateSerializer,
        responses={200: EmployerOutSerializer},
    ),
)
class EmployerViewSet(
    MethodFirstMixin,
    JurisdictionViewMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    queryset = Employer.objects.select_related("office")
    serializer_class = EmployerOutSerializer
    lookup_field = "uid"
    filterset_class = EmployerFilter
    http_method_names = ["get", "post", "patch", "head", "options"]

    def create(self, request, *args, **kwargs):
        data = EmployerCreateSerializer(data=request.data, context=self.get_serializer_context())
        data.is_valid(raise_exception=True)
        employer = services.employer_create(acting_user=request.user, **data.validated_data)
        return Response(EmployerOutSerializer(employer).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        employer = self.get_object()
        data = EmployerUpdateSerializer(data=request.data, context=self.get_serializer_context())
        data.is_valid(raise_exception=True)
        employer = services.employer_update(employer=employer, acting_user=request.user, **data.validated_data)
        return Response(EmployerOutSerializer(employer).data)


class EnrollmentOutSerializer(serializers.ModelSerializer):
    person = serializers.SlugRelatedField(slug_field="uid", read_only=True)
    employer = serializers.SlugRelatedField(slug_field="uid", read_only=True)
    office = serializers.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = Enrollment
        fields = [
            "uid",
            "person",
            "insurance_type",
            "employer",
            "is_flexible",
            "start_date",
            "end_date",
            "office",
            "updated_at",
        ]


class EnrollmentCreateSerializer(StrictSerializer):
    person = UidRelatedField(Person, help_text="参保人员编号（uid）")
    insurance_type = serializers.ChoiceField(choices=InsuranceType.choices, help_text="险种")
    employer = UidRelatedField(
        Employer, required=False, allow_null=True, help_text="参保单位编号（uid）；灵活就业和城乡居民险种为空"
    )
    is_flexible = serializers.BooleanField(required=False, default=False, help_text="以灵活就业人员身份参保")
    start_date = serializers.DateField(help_text="参保开始日期")
    end_date = serializers.DateField(required=False, allow_null=True, help_text="参保终止日期；空表示仍在参保")


class EnrollmentUpdateSerializer(StrictSerializer):
    start_date = serializers.DateField(required=False, help_text="参保开始日期")
    end_date = serializers.DateField(required=False, allow_null=True, help_text="参保终止日期；空表示仍在参保")


class EnrollmentStatusQuerySerializer(StrictSerializer):
    id_number = serializers.CharField(max_length=20, help_text="公民身份号码（18 位或 15 位旧号码）")
    on = serializers.DateField(required=False, help_text="查询日期，默认今天")


class EnrollmentStatusLineSerializer(serializers.ModelSerializer):
    employer = serializers.SlugRelatedField(slug_field="uid", read_only=True, help_text="参保单位编号；灵活就业为空")
    employer_name = serializers.CharField(source="employer.name", read_only=True, default=None, allow_null=True)

    class Meta:
        model = Enrollment
        fields = ["uid", "insurance_type", "employer", "employer_name", "is_flexible", "start_date", "end_date"]


class EnrollmentStatusPersonSerializer(serializers.ModelSerializer):
    id_number_masked = serializers.SerializerMethodField(help_text="脱敏的公民身份号码")

    class Meta:
        model = Person
        fields = ["uid", "name", "id_number_masked"]

    def get_id_number_masked(self, obj) -> str:
        return id_number_mask(obj.id_number)


class EnrollmentStatusSerializer(serializers.Serializer):
    person = EnrollmentStatusPersonSerializer(help_text="参保人员")
    on = serializers.DateField(help_text="查询日期")
    enrollments = EnrollmentStatusLineSerializer(many=True, help_text="该日处于参保状态的登记（辖区内）")


class EnrollmentFilter(django_filters.FilterSet):
    office = OfficeSubtreeFilter(path_lookup="office__path", help_text="经办机构代码（含下级）")
    person = django_filters.UUIDFilter(field_name="person__uid", help_text="参保人员编号（uid）")
    employer = django_filters.UUIDFilter(field_name="employer__uid", help_text="参保单位编号（uid）")
    insurance_type = django_filters.ChoiceFilter(choices=InsuranceType.choices)
    active_on = django_filters.DateFilter(method="filter_active_on", help_text="在该日处于参保状态")

    class Meta:
        model = Enrollment
        fields = ["office", "person", "employer", "insurance_type", "active_on"]

    def filter_active_on(self, qs, name, value):
        return qs.filter(start_date__lte=value).filter(Q(end_date__isnull=True) | Q(end_date__gte=value))


@extend_schema_view(
    list=extend_schema(
        summary="参保登记列表",
        description="辖区内的参保登记（每人每险种一段参保期一条），可按经办机构、人员、单位、险种和某日是否在保筛选。",
    ),
    retrieve=extend_schema(
        summary="参保登记详情", description="按登记编号（uid）查询；不存在或不在调用方辖区内返回 404。"
    ),
    create=extend_schema(
        summary="新增参保登记",
        description=(
            "为一名参保人员登记一个险种的参保期。职工险种须填参保单位（灵活就业除外），城乡居民险种不填单位；"
            "同一人同一险种的参保期不得重叠；人员和单位须在调用方辖区内。返回 201 和登记。"
        ),
        request=EnrollmentCreateSerializer,
        responses={201: EnrollmentOutSerializer},
        examples=[
            OpenApiExample(
                "职工养老保险参保",
                value={
                    "person": "3f1c2a9e-0000-4000-8000-000000000002",
                    "insurance_type": "emp_pension",
                    "employer": "3f1c2a9e-0000-4000-8000-000000000001",
                    "start_date": "2026-11-01",
                },
                request_only=True,
            ),
            OpenApiExample(
                "已登记",
                value={
                    "uid": "3f1c2a9e-0000-4000-8000-000000000003",
                    "person": "3f1c2a9e-0000-4000-8000-000000000002",
                    "insurance_type": "emp_pension",
                    "employer": "3f1c2a9e-0000-4000-8000-000000000001",
                    "is_flexible": False,
                    "start_date": "2026-11-01",
                    "end_date": None,
                    "office": "331003",
                    "updated_at": "2026-11-05T09:30:00+08:00",
                },
                response_only=True,
                status_codes=["201"],
            ),
        ],
    ),
    partial_update=extend_schema(
        summary="修改参保登记（起止日期）",
        description="只能修改参保开始和终止日期（如办理停保）；终止日期不得早于开始日期。",
        request=EnrollmentUpdateSerializer,
        responses={200: EnrollmentOutSerializer},
    ),
)
class EnrollmentViewSet(
    MethodFirstMixin,
    JurisdictionViewMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    queryset = Enrollment.objects.select_related("person", "employer", "office")
    serializer_class = EnrollmentOutSerializer
    lookup_field = "uid"
    filterset_class = EnrollmentFilter
    http_method_names = ["get", "post", "patch", "head", "options"]
    # The status lookup reads through POST (the ID number must not appear in the URL).
    operation_kinds = {"status_by_id_number": "read"}

    def get_permissions(self):
        if self.action == "status_by_id_number":
            return [SystemOperationPermission(), IsAuthenticated(), _ViewEnrollmentPermission()]
        return super().get_permissions()

    def create(self, request, *args, **kwargs):
        data = EnrollmentCreateSerializer(data=request.data, context=self.get_serializer_context())
        data.is_valid(raise_exception=True)
        enrollment = services.enrollment_create(acting_user=request.user, **data.validated_data)
        return Response(EnrollmentOutSerializer(enrollment).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        enrollment = self.get_object()
        data = EnrollmentUpdateSerializer(data=request.data, context=self.get_serializer_context())
        data.is_valid(raise_exception=True)
        enrollment = services.enrollment_update(enrollment=enrollment, acting_user=request.user, **data.validated_data)
        return Response(EnrollmentOutSerializer(enrollment).data)

    @extend_schema(
        summary="按公民身份号码查询参保状态",
        description=(
            "返回该人员在指定日期（默认今天）处于参保状态的各险种登记。号码放在请求体中，不出现在 URL"
            "（URL 会进入访问日志）。人员不存在或不在调用方辖区内均返回 404；辖区外的参保登记不返回。"
        ),
        request=EnrollmentStatusQuerySerializer,
        responses={200: EnrollmentStatusSerializer},
        examples=[
            OpenApiExample(
                "查询",
                value={"id_number": "331003199001011236", "on": "2026-11-01"},
                request_only=True,
            )
        ],
    )
    @action(detail=False, methods=["post"], url_path="status")
    def status_by_id_number(self, request):
        data = EnrollmentStatusQuerySerializer(data=request.data)
        data.is_valid(raise_exception=True)
        on = data.validated_data.get("on") or timezone.localdate()
        try:
            found = selectors.enrollment_status_by_id_number(
                user=request.user, id_number=data.validated_data["id_number"], on=on
            )
        except DjangoValidationError as exc:
            raise serializers.ValidationError({"id_number": exc.messages}) from None
        if found is None:
            raise Person.DoesNotExist
        person, enrollments = found
        return Response(enrollment_status_body(person=person, on=on, enrollments=enrollments))


def enrollment_status_body(*, person: Person, on: Any, enrollments: list[Enrollment]) -> dict[str, Any]:
    """What ``EnrollmentStatusSerializer`` renders, written out: this lookup is the busiest call of the exchange
    API and the nested serializers cost about 2 ms of its ~14 (a test holds the two equal)."""
    return {
        "person": {"uid": str(person.uid), "name": person.name, "id_number_masked": id_number_mask(person.id_number)},
        "on": on.isoformat(),
        "enrollments": [
            {
                "uid": str(e.uid),
                "insurance_type": e.insurance_type,
                "employer": str(e.employer.uid) if e.employer_id else None,
                "employer_name": e.employer.name if e.employer_id else None,
                "is_flexible": e.is_flexible,
                "start_date": e.start_date.isoformat(),
                "end_date": e.end_date.isoformat() if e.end_date else None,
            }
            for e in enrollments
        ],
    }


@extend_schema_view(
    list=extend_schema(
        summary="经办机构列表（辖区内）",
        description="调用方辖区内的经办机构（市、区、街道乡镇、社区村四级），可按层级筛选；代码即行政区划代码。",
    ),
    retrieve=extend_schema(summary="经办机构详情", description="按机构代码查询；辖区外返回 404。"),
)
class OfficeViewSet(MethodFirstMixin, JurisdictionViewMixin, viewsets.ReadOnlyModelViewSet):
    queryset = Office.objects.select_related("parent")
    serializer_class = OfficeSerializer
    lookup_field = "code"
    filterset_fields = ["level"]


class WhoAmISerializer(serializers.Serializer):
    username = serializers.CharField(help_text="调用方用户名")
    system = serializers.CharField(allow_null=True, help_text="外部系统代码；工作人员会话为空")
    office = serializers.CharField(allow_null=True, help_text="所属经办机构代码（即辖区）")


class WhoAmIView(APIView):
    """Who the caller is and its jurisdiction: lets an integrating system check its key and office."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        summary="当前调用方", description="返回调用方身份与辖区，用于对接方检查接口密钥。", responses=WhoAmISerializer
    )
    def get(self, request):
        account = getattr(request, "system_account", None)
        office = getattr(request.user, "office", None)
        return Response(
            WhoAmISerializer(
                {
                    "username": request.user.get_username(),
                    "system": account.code if account else None,
                    "office": office.code if office else None,
                }
            ).data
        )
