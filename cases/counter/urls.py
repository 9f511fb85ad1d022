"""Counter pages (names prefixed ``counter_``, no namespace: the route-walking tests reverse them by bare name).
Mounted at the site root; ``home`` is the site's home page."""

from django.urls import path

from . import page_views, registration_views

urlpatterns = [
    path("", page_views.home, name="home"),
    path("counter/persons/new/", registration_views.person_register, name="counter_person_register"),
    path("counter/employers/new/", registration_views.employer_register, name="counter_employer_register"),
    path("counter/employers/", page_views.employer_list, name="counter_employer_list"),
    path("counter/employers/<uuid:uid>/", page_views.employer_detail, name="counter_employer_detail"),
    path("counter/window/", registration_views.window_intake, name="cases_window_intake"),
    path("counter/window/<uuid:uid>/", registration_views.window_case, name="counter_window_case"),
]
