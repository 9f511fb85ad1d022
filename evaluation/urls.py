from django.urls import path

from evaluation import views

app_name = "evaluation"

urlpatterns = [
    path("", views.report, name="report"),
    path("report.<str:fmt>", views.report_export, name="report_export"),
    path("publish/", views.publish, name="publish"),
    path("correct/", views.correct, name="correct"),
    path("escalate/<uuid:uid>/", views.escalate, name="escalate"),
    path("tablet/", views.tablet, name="tablet"),
    path("statistics/<str:topic>/", views.statistics, name="statistics"),
    path("statistics/<str:topic>.xlsx", views.statistics_export, name="statistics_export"),
]
