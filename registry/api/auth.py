from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from registry.api.lockout import ApiKeyLocked, api_key_failure, api_key_lock_wait, api_key_success
from registry.services import api_key_check

NO_API_KEY = object()  # the request carries no Api-Key authorization at all (another scheme, or none)


def request_api_key(request):
    """The valid ApiKey of ``Authorization: Api-Key <prefix>.<secret>`` on this Django request; None for an
    unknown, revoked or expired key, or while its prefix or the caller's address is locked after repeated
    failures (``request._api_key_locked`` then holds the seconds to wait); ``NO_API_KEY`` without such a header.

    Checked once per request and kept on it: the idempotency middleware needs the caller before the view,
    and authentication then reuses the answer instead of querying again.
    """
    if not hasattr(request, "_api_key"):
        header = authentication.get_authorization_header(request).decode("latin-1")
        keyword, _sep, raw = header.partition(" ")
        if not header or keyword.lower() != ApiKeyAuthentication.keyword.lower():
            request._api_key = NO_API_KEY
            return request._api_key
        raw = raw.strip()
        prefix = raw.partition(".")[0][:12]
        wait = api_key_lock_wait(request, prefix)
        if wait is not None:
            request._api_key, request._api_key_locked = None, wait
            return None
        request._api_key = api_key_check(raw)
        if request._api_key is None:
            api_key_failure(request, prefix)
        else:
            api_key_success(request, prefix)
            # Kept on the Django request too, so the call log names the system.
            request.system_account = request._api_key.account
    return request._api_key


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """``Authorization: Api-Key <prefix>.<secret>`` — a key of an external system account.

    The request then acts as the account's service user, whose office gives the jurisdiction.
    """

    keyword = "Api-Key"

    def authenticate(self, request):
        key = request_api_key(request._request)
        if key is NO_API_KEY:
            return None
        if key is None:
            wait = getattr(request._request, "_api_key_locked", None)
            if wait is not None:
                raise ApiKeyLocked(wait=wait)
            raise exceptions.AuthenticationFailed(_("接口密钥无效、已吊销或已过期。"))
        request.system_account = key.account
        return key.account.user, key

    def authenticate_header(self, request):
        return self.keyword


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "registry.api.auth.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "外部系统接口密钥：`Authorization: Api-Key <前缀>.<密钥>`",
        }
