"""URLs of the online hall under /hall/ (namespace "hall"), and the counter's page (``counter_urlpatterns``,
included outside /hall/ so that it runs in the staff session)."""

from django.urls import path

from .views import counter, employer, person, public

app_name = "hall"

urlpatterns = [
    path("", public.home, name="home"),
    path("login/", public.login_view, name="login"),
    path("login/code/", public.login_code, name="login_code"),
    path("logout/", public.logout_view, name="logout"),
    path("register/", public.register_person, name="register"),
    path("register/employer/", public.register_employer, name="register_employer"),
    path("activate/", public.activate, name="activate"),
    path("password/reset/", public.password_reset, name="password_reset"),
    path("messages/", person.messages_view, name="messages"),
    path("me/", person.dashboard, name="me"),
    path("me/enrollments/", person.enrollments, name="enrollments"),
    path("me/record/", person.record, name="record"),
    path("me/record.pdf", person.record_pdf, name="record_pdf"),
    path("me/certificates/", person.certificates, name="certificates"),
    path("me/certificates/<uuid:uid>.pdf", person.certificate_pdf, name="certificate_pdf"),
    path("me/applications/", person.applications_list, name="applications"),
    path("me/applications/new/<slug:code>/", person.application_new, name="application_new"),
    path("me/applications/<uuid:uid>/", person.application_detail, name="application"),
    path("me/applications/<uuid:uid>/<slug:action>/", person.application_action, name="application_action"),
    path("me/pension-grade/", person.pension_grade, name="pension_grade"),
    path("me/certification/", person.certification, name="certification"),
    path("employer/", employer.dashboard, name="employer"),
    path("employer/staff/", employer.staff, name="staff"),
    path("employer/declaration/", employer.declaration, name="declaration"),
    path("employer/payroll-template.csv", employer.payroll_template, name="payroll_template"),
    path("employer/bills/", employer.bills, name="bills"),
    path("employer/statement.<slug:fmt>", employer.statement, name="statement"),
    path("employer/certificate.pdf", employer.certificate, name="employer_certificate"),
    path("employer/applications/", employer.applications_list, name="employer_applications"),
    path("employer/applications/new/<slug:code>/", employer.application_new, name="employer_application_new"),
    path("employer/applications/<uuid:uid>/", employer.application_detail, name="employer_application"),
    path(
        "employer/applications/<uuid:uid>/<slug:action>/",
        employer.application_action,
        name="employer_application_action",
    ),
    path("employer/agents/", employer.agents, name="agents"),
    path("employer/agents/<uuid:uid>/", employer.agent_update, name="agent_update"),
]

counter_urlpatterns = [
    path("", counter.pending_list, name="hall_counter"),
    path("<uuid:uid>/", counter.pending_action, name="hall_counter_action"),
]
