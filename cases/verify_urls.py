"""The public certificate check, mounted at /verify/ (no login)."""

from .urls import verify_urlpatterns

urlpatterns = verify_urlpatterns
