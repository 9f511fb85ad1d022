"""The staff member's security pages, mounted at /accounts/ beside login and logout."""

from django.urls import path

from registry.security import views

urlpatterns = [
    path("2fa/", views.two_factor, name="security_two_factor"),
    path("2fa/enrol/", views.two_factor_enrol, name="security_two_factor_enrol"),
    path("2fa/backup-codes/", views.backup_codes_renew, name="security_backup_codes_renew"),
    path("security/", views.account, name="security_account"),
    path("password/", views.password_change, name="security_password_change"),
    path("sessions/end/", views.sessions_end_everywhere, name="security_sessions_end"),
]
