"""Clerk pages of contributions, mounted at /contributions/ (names prefixed, no namespace: the route-walking
jurisdiction test reverses them by bare name)."""

from django.urls import path

from contributions import views, views_enforcement, views_residents
from contributions.exchange import views as views_exchange

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
    # Enforcement of arrears (社会保险法第八十六条): waivers, orders to pay, penalties.
    path(
        "bills/<uuid:uid>/late-fee-waivers/", views_enforcement.late_fee_waivers, name="contributions_late_fee_waivers"
    ),
    path(
        "bills/<uuid:uid>/late-fee-waivers/decide/",
        views_enforcement.late_fee_waiver_decide,
        name="contributions_late_fee_waiver_decide",
    ),
    path("payment-orders/", views_enforcement.payment_orders, name="contributions_payment_orders"),
    path("backdated-rates/", views_enforcement.backdated_rates, name="contributions_backdated_rates"),
    path("backdated-rates/<int:pk>/", views_enforcement.backdated_rate, name="contributions_backdated_rate"),
    path("payment-orders/<uuid:uid>/", views_enforcement.payment_order, name="contributions_payment_order"),
    path("payment-orders/<uuid:uid>/decide/", views_enforcement.penalty_decide, name="contributions_penalty_decide"),
    path(
        "payment-orders/<uuid:uid>/order.pdf",
        views_enforcement.payment_order_pdf_view,
        name="contributions_payment_order_pdf",
    ),
    path("persons/<uuid:uid>/record/", views.person_record, name="contributions_person_record"),
    path("persons/<uuid:uid>/record.pdf", views.person_record_pdf, name="contributions_person_record_pdf"),
    # Residents and land-expropriated farmers at the counter.
    path("persons/<uuid:uid>/residents/", views_residents.person_residents, name="contributions_person_residents"),
    path("resident-medical-runs/", views_residents.resident_medical_runs, name="contributions_resident_medical_runs"),
    path(
        "resident-medical-runs/<uuid:uid>/",
        views_residents.resident_medical_run,
        name="contributions_resident_medical_run",
    ),
    # Files exchanged with the collecting agency (docs/exchange-files.md).
    path("bill-exports/", views_exchange.bill_export_list, name="contributions_bill_export_list"),
    path(
        "bill-exports/<uuid:uid>/download/",
        views_exchange.bill_export_download,
        name="contributions_bill_export_download",
    ),
    path("bill-exports/<uuid:uid>/sha256/", views_exchange.bill_export_sha256, name="contributions_bill_export_sha256"),
    path("payment-files/", views_exchange.payment_file_list, name="contributions_payment_file_list"),
    path(
        "payment-files/template.csv", views_exchange.payment_file_template, name="contributions_payment_file_template"
    ),
    path("payment-files/<uuid:uid>/", views_exchange.payment_file_detail, name="contributions_payment_file_detail"),
    path(
        "payment-files/<uuid:uid>/reconciliation/",
        views_exchange.payment_file_reconciliation,
        name="contributions_payment_file_reconciliation",
    ),
    path(
        "payment-files/<uuid:uid>/reconciliation.xlsx",
        views_exchange.payment_file_reconciliation_xlsx,
        name="contributions_payment_file_reconciliation_xlsx",
    ),
    path(
        "payment-files/<uuid:uid>/lines/<int:line_no>/",
        views_exchange.payment_file_line_correct,
        name="contributions_payment_file_line_correct",
    ),
]
