"""The project's URLs plus a page that fails, to see the 500 page a clerk gets."""

from django.urls import path

from taizhou_si.urls import urlpatterns as project_urlpatterns


def page_failure(request):
    raise RuntimeError("a bug in a page")


urlpatterns = [path("test-page-failure/", page_failure), *project_urlpatterns]
