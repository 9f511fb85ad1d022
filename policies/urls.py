from django.urls import path

from . import views

app_name = "policies"

urlpatterns = [
    path("parameters/", views.parameters_in_force, name="parameters"),
    path("unification/", views.unification, name="unification"),
    path("documents/", views.document_list, name="document_list"),
    path("documents/<uuid:uid>/", views.document_detail, name="document_detail"),
    path("documents/<uuid:uid>/propose/", views.decision_propose, name="decision_propose"),
    path("documents/<uuid:uid>/repeal/", views.document_repeal, name="document_repeal"),
    path(
        "decisions/<uuid:uid>/<str:verdict>/",
        views.decision_decide,
        name="decision_decide",
    ),
]
