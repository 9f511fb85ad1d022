"""The project's URLs plus two views that fail, to see what a server error under /api/ looks like."""

from django.http import HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import IsAuthenticated

from taizhou_si.urls import urlpatterns as project_urlpatterns

CALLS: list[str] = []


@api_view(["GET", "POST"])
@permission_classes([IsAuthenticated])
def drf_failure(request):
    CALLS.append(request.method)
    raise RuntimeError("a bug in a DRF view")


@csrf_exempt
def django_failure(request):
    CALLS.append(request.method)
    if request.method == "POST":
        raise RuntimeError("a bug in a plain Django view")
    return HttpResponse("<html>not JSON</html>", status=503)


urlpatterns = [
    path("api/v1/test-failure/", drf_failure),
    path("api/test-django-failure/", django_failure),
    *project_urlpatterns,
]
