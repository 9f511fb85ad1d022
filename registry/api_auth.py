from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from .services import api_key_check


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """``Authorization: Api-Key <prefix>.<secret>`` — a key of an external system account.

    The request then acts as the account's service user, whose office gives the jurisdiction.
    """

    keyword = "Api-Key"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        keyword, _sep, raw = header.partition(" ")
        if keyword.lower() != self.keyword.lower():
            return None
        key = api_key_check(raw.strip())
        if key is None:
            raise exceptions.AuthenticationFailed(_("接口密钥无效、已吊销或已过期。"))
        request.system_account = key.account
        return key.account.user, key

    def authenticate_header(self, request):
        return self.keyword


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "registry.api_auth.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "外部系统接口密钥：`Authorization: Api-Key <前缀>.<密钥>`",
        }
