from django.urls import path

from consolidation import views

app_name = "consolidation"

urlpatterns = [
    path("", views.batch_list, name="batches"),
    path("batches/<uuid:uid>/", views.batch_detail, name="batch"),
    path("batches/<uuid:uid>/apply/", views.batch_apply, name="batch_apply"),
    path("batches/<uuid:uid>/rejected.csv", views.batch_rejected, name="batch_rejected"),
    path("batches/<uuid:uid>/reconciliation.xlsx", views.batch_reconciliation_xlsx, name="batch_reconciliation_xlsx"),
    path("districts/", views.district_reconciliation, name="districts"),
    path("districts/<str:code>/reconciliation.xlsx", views.district_reconciliation_xlsx, name="district_xlsx"),
    path("conflicts/", views.conflict_list, name="conflicts"),
    path("conflicts/<uuid:uid>/", views.conflict_detail, name="conflict"),
    path("conflicts/<uuid:uid>/propose/", views.conflict_propose, name="conflict_propose"),
    path("conflicts/<uuid:uid>/approve/", views.conflict_approve, name="conflict_approve"),
    path("conflicts/<uuid:uid>/return/", views.conflict_return, name="conflict_return"),
    path("conflicts/employer-pairs/<uuid:uid>/", views.employer_conflict_decide, name="employer_conflict"),
    path("merges/<uuid:uid>/undo/", views.merge_undo, name="merge_undo"),
    path("layout/", views.layout_help, name="layout"),
    path("templates/<str:kind>.csv", views.template_download, name="template"),
]
