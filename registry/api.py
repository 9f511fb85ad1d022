"""REST API v1 of the registry: persons, employers, enrollments, offices."""

from __future__ import annotations

import django_filters
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import MethodNotAllowed, PermissionDenied
from rest_framework.response import Response

from . import selectors, services
from .api_mixins import JurisdictionViewMixin
from .identifiers import id_number_mask
from .jurisdiction import scope_to_user
from .models import Employer, Enrollment, InsuranceType, Office, Person, SensitiveAccess


@extend_schema_field(OpenApiTypes.STR)
class OfficeCodeField(serializers.SlugRelatedField):
    """An office addressed by its division code, limited to the caller's jurisdiction."""

    default_error_messages = {
        "does_not_exist": _("未知的经办机构代码“{value}”，或该机构不在您的辖区内。"),
        "invalid": _("经办机构代码无效。"),
    }

    def __init__(self, **kwargs):
        super().__init__(slug_field="code", **kwargs)

    def get_queryset(self):
        request = self.context.get("request")
        return scope_to_user(Office.objects.all(), getattr(request, "user", None))


@extend_schema_field(OpenApiTypes.UUID)
class UidRelatedField(serializers.SlugRelatedField):
    default_error_messages = {
        "does_not_exist": _("编号为“{value}”的记录不存在或不在您的辖区内。"),
        "invalid": _("编号格式无效。"),
    }

    def __init__(self, model, **kwargs):
        self._model = model
        super().__init__(slug_field="uid", **kwargs)

    def get_queryset(self):
        request = self.context.get("request")
        return scope_to_user(self._model.objects.all(), getattr(request, "user", None))

    def to_internal_value(self, data):
        import uuid

        try:
            uuid.UUID(str(data))
        except (TypeError, ValueError, AttributeError):
            self.fail("invalid")
        return super().to_internal_value(data)


class MethodFirstMixin:
    """A method the endpoint does not offer is a 405 for everybody.

    DRF checks permissions before it looks for the handler, so without this a DELETE (which no registry
    endpoint offers) answered 403 "no permission" to a clerk, as if deleting were possible for others.
    """

    def check_permissions(self, request):
        method = request.method.lower()
        if method not in self.http_method_names or not hasattr(self, method):
            raise MethodNotAllowed(request.method)
        super().check_permissions(request)


class StrictSerializer(serializers.Serializer):
    """Refuses unknown fields instead of silently dropping them."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = set(data) - set(self.fields)
            if unknown:
                raise serializers.ValidationError({f: [_("未知字段。")] for f in sorted(unknown)})
        return super().to_internal_value(data)


class OfficeSerializer(serializers.ModelSerializer):
    parent = serializers.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = Office
        fields = ["code", "name", "level", "parent", "is_active"]


class PersonOutSerializer(serializers.ModelSerializer):
    id_number_masked = serializers.SerializerMethodField(help_text="脱敏后的公民身份号码（前 6 位和后 4 位可见）")
    residence_office = serializers.SlugRelatedField(slug_field="code", read_only=True)

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
            "updated_at",
        ]

    def get_id_number_masked(self, obj) -> str:
        return id_number_mask(obj.id_number)


class PersonCreateSerializer(StrictSerializer):
    id_number = serializers.CharField(max_length=20, help_text="公民身份号码，18 位（15 位旧号码自动升位）")
    name = serializers.CharField(max_length=50)
    household_type = serializers.ChoiceField(choices=Person._meta.get_field("household_type").choices)
    residence_office = OfficeCodeField()
    phone = serializers.CharField(max_length=20, required=False, allow_blank=True)
    address = serializers.CharField(max_length=200, required=False, allow_blank=True)
    card_number = serializers.CharField(max_length=20, required=False, allow_blank=True, allow_null=True)
    card_status = serializers.ChoiceField(choices=Person._meta.get_field("card_status").choices, required=False)


class PersonUpdateSerializer(StrictSerializer):
    name = serializers.CharField(max_length=50, required=False)
    household_type = serializers.ChoiceField(choices=Person._meta.get_field("household_type").choices, required=False)
    residence_office = OfficeCodeField(required=False)
    phone = serializers.CharField(max_length=20, required=False, allow_blank=True)
    address = serializers.CharField(max_length=200, required=False, allow_blank=True)
    card_number = serializers.CharField(max_length=20, required=False, allow_blank=True, allow_null=True)
    card_status = serializers.ChoiceField(choices=Person._meta.get_field("card_status").choices, required=False)


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
        from django.db.models import Q

        value = value.lower().replace(" ", "")
        return qs.filter(Q(name_pinyin__startswith=value) | Q(name_initials__startswith=value))


@extend_schema_view(
    list=extend_schema(summary="参保人员列表", description="辖区内的参保人员；公民身份号码脱敏显示。"),
    retrieve=extend_schema(summary="参保人员详情"),
    create=extend_schema(
        summary="新增参保人员",
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
            )
        ],
    ),
    partial_update=extend_schema(
        summary="修改参保人员", request=PersonUpdateSerializer, responses={200: PersonOutSerializer}
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

    def create(self, request, *args, **kwargs):
        data = PersonCreateSerializer(data=request.data, context=self.get_serializer_context())
        data.is_valid(raise_exception=True)
        person = services.person_create(acting_user=request.user, **data.validated_data)
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
    )
    @action(detail=False, methods=["post"], url_path="search")
    def search(self, request):
        data = IdNumberSearchSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        from django.core.exceptions import ValidationError

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
        responses={200: inline_serializer("RevealedIdNumber", {"id_number": serializers.CharField()})},
    )
    @action(detail=True, methods=["post"], url_path="reveal-id-number")
    def reveal_id_number(self, request, uid=None):
        person = self.get_object()
        try:
            number = services.id_number_reveal(
                person=person,
                acting_user=request.user,
                channel=SensitiveAccess.Channel.API,
                request_id=getattr(request._request, "request_id", ""),
            )
        except PermissionError as exc:
            raise PermissionDenied(str(exc)) from None
        return Response({"id_number": number})

    def get_permissions(self):
        if self.action in ("search", "reveal_id_number"):
            from rest_framework.permissions import IsAuthenticated

            return [IsAuthenticated(), _ViewPersonPermission()]
        return super().get_permissions()


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
    name = serializers.CharField(max_length=200)
    employer_type = serializers.ChoiceField(choices=Employer._meta.get_field("employer_type").choices)
    office = OfficeCodeField()
    industry = serializers.CharField(max_length=100, required=False, allow_blank=True)
    risk_class = serializers.IntegerField(min_value=1, max_value=8, required=False)
    status = serializers.ChoiceField(choices=Employer._meta.get_field("status").choices, required=False)


class EmployerUpdateSerializer(StrictSerializer):
    name = serializers.CharField(max_length=200, required=False)
    employer_type = serializers.ChoiceField(choices=Employer._meta.get_field("employer_type").choices, required=False)
    office = OfficeCodeField(required=False)
    industry = serializers.CharField(max_length=100, required=False, allow_blank=True)
    risk_class = serializers.IntegerField(min_value=1, max_value=8, required=False)
    status = serializers.ChoiceField(choices=Employer._meta.get_field("status").choices, required=False)


class EmployerFilter(django_filters.FilterSet):
    office = OfficeSubtreeFilter(path_lookup="office__path", help_text="经办机构代码（含下级）")
    name = django_filters.CharFilter(field_name="name", lookup_expr="contains", help_text="名称包含")
    credit_code = django_filters.CharFilter(field_name="credit_code")
    status = django_filters.ChoiceFilter(choices=Employer._meta.get_field("status").choices)

    class Meta:
        model = Employer
        fields = ["office", "name", "credit_code", "status"]


@extend_schema_view(
    list=extend_schema(summary="参保单位列表"),
    retrieve=extend_schema(summary="参保单位详情"),
    create=extend_schema(
        summary="新增参保单位", request=EmployerCreateSerializer, responses={201: EmployerOutSerializer}
    ),
    partial_update=extend_schema(
        summary="修改参保单位", request=EmployerUpdateSerializer, responses={200: EmployerOutSerializer}
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
    person = UidRelatedField(Person)
    insurance_type = serializers.ChoiceField(choices=InsuranceType.choices)
    employer = UidRelatedField(Employer, required=False, allow_null=True)
    is_flexible = serializers.BooleanField(required=False, default=False)
    start_date = serializers.DateField()
    end_date = serializers.DateField(required=False, allow_null=True)


class EnrollmentUpdateSerializer(StrictSerializer):
    start_date = serializers.DateField(required=False)
    end_date = serializers.DateField(required=False, allow_null=True)


class EnrollmentFilter(django_filters.FilterSet):
    office = OfficeSubtreeFilter(path_lookup="office__path", help_text="经办机构代码（含下级）")
    person = django_filters.UUIDFilter(field_name="person__uid")
    employer = django_filters.UUIDFilter(field_name="employer__uid")
    insurance_type = django_filters.ChoiceFilter(choices=InsuranceType.choices)
    active_on = django_filters.DateFilter(method="filter_active_on", help_text="在该日处于参保状态")

    class Meta:
        model = Enrollment
        fields = ["office", "person", "employer", "insurance_type", "active_on"]

    def filter_active_on(self, qs, name, value):
        from django.db.models import Q

        return qs.filter(start_date__lte=value).filter(Q(end_date__isnull=True) | Q(end_date__gte=value))


@extend_schema_view(
    list=extend_schema(summary="参保登记列表"),
    retrieve=extend_schema(summary="参保登记详情"),
    create=extend_schema(
        summary="新增参保登记", request=EnrollmentCreateSerializer, responses={201: EnrollmentOutSerializer}
    ),
    partial_update=extend_schema(
        summary="修改参保登记（起止日期）", request=EnrollmentUpdateSerializer, responses={200: EnrollmentOutSerializer}
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


@extend_schema_view(
    list=extend_schema(summary="经办机构列表（辖区内）"),
    retrieve=extend_schema(summary="经办机构详情"),
)
class OfficeViewSet(MethodFirstMixin, JurisdictionViewMixin, viewsets.ReadOnlyModelViewSet):
    queryset = Office.objects.select_related("parent")
    serializer_class = OfficeSerializer
    lookup_field = "code"
    filterset_fields = ["level"]
