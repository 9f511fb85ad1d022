from django.urls import path

from registry import views

urlpatterns = [
    path("persons/", views.person_search, name="person_search"),
    path("persons/<uuid:uid>/", views.person_detail, name="person_detail"),
    path("persons/<uuid:uid>/reveal-id/", views.person_reveal_id, name="person_reveal_id"),
]
