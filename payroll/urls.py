from django.urls import path

from . import views

urlpatterns = [
    path("", views.run_list, name="payroll_run_list"),
    path("runs/<uuid:uid>/", views.run_detail, name="payroll_run_detail"),
    path("runs/<uuid:uid>/reissue/", views.run_reissue, name="payroll_run_reissue"),
    path("bank-files/<int:pk>/download/", views.bank_file_download, name="payroll_bank_file_download"),
    path("bank-files/<int:pk>/return/", views.bank_file_return, name="payroll_bank_file_return"),
    path("returns/<uuid:uid>/", views.return_job, name="payroll_return_job"),
    path("certification/", views.certification_due_list, name="payroll_certification_due"),
    path("suspensions/", views.suspension_list, name="payroll_suspensions"),
    path("suspensions/<int:pk>/resume/", views.suspension_resume, name="payroll_suspension_resume"),
    path("recoveries/<int:pk>/", views.recovery_detail, name="payroll_recovery_detail"),
    path("accounts/", views.account_edit, name="payroll_account"),
    path("persons/<uuid:uid>/", views.person_history, name="payroll_person_history"),
]
