"""Clerk pages of contributions, mounted at /contributions/ (names prefixed, no namespace: the route-walking
jurisdiction test reverses them by bare name)."""

from django.urls import path

from . import views

urlpatterns = [
    path("declarations/", views.declaration_list, name="contributions_declaration_list"),
    path("declarations/template.csv", views.payroll_template, name="contributions_payroll_template"),
    path("declarations/<uuid:uid>/", views.declaration_detail, name="contributions_declaration_detail"),
    path("employers/<uuid:uid>/declaration/", views.declaration_entry, name="contributions_declaration_entry"),
    path("bill-runs/", views.bill_run_list, name="contributions_bill_run_list"),
    path("bill-runs/<uuid:uid>/", views.bill_run_detail, name="contributions_bill_run_detail"),
    path("bills/", views.bill_list, name="contributions_bill_list"),
    path("bills/<uuid:uid>/", views.bill_detail, name="contributions_bill_detail"),
    path("arrears/", views.arrears, name="contributions_arrears"),
    path("persons/<uuid:uid>/record/", views.person_record, name="contributions_person_record"),
    path("persons/<uuid:uid>/record.pdf", views.person_record_pdf, name="contributions_person_record_pdf"),
]
