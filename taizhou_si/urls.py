from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from cases import api as cases_api
from consolidation import api as consolidation_api
from contributions import api as contributions_api
from contributions.exchange import api as contributions_exchange_api
from evaluation import api as evaluation_api
from funds import api as funds_api
from hall.urls import counter_urlpatterns as hall_counter_urls
from payroll import api as payroll_api
from policies import api as policies_api
from registry import endpoints as registry_api
from registry.feed import api as registry_api_changes
from registry.forms import LoginForm

router = DefaultRouter()
router.register("offices", registry_api.OfficeViewSet, basename="office")
router.register("persons", registry_api.PersonViewSet, basename="person")
router.register("employers", registry_api.EmployerViewSet, basename="employer")
router.register("enrollments", registry_api.EnrollmentViewSet, basename="enrollment")
router.register("changes", registry_api_changes.ChangeFeedViewSet, basename="change")
router.register("webhooks", registry_api_changes.WebhookViewSet, basename="webhook")
router.register("policy-documents", policies_api.PolicyDocumentViewSet, basename="policy-document")
router.register("parameter-codes", policies_api.ParameterViewSet, basename="parameter-code")
router.register("parameters", policies_api.ParameterValueViewSet, basename="parameter")
router.register("policy-decisions", policies_api.PolicyDecisionViewSet, basename="policy-decision")
router.register("declarations", contributions_api.DeclarationViewSet, basename="declaration")
router.register("bills", contributions_api.BillViewSet, basename="bill")
router.register("payments", contributions_api.PaymentViewSet, basename="payment")
router.register("arrears", contributions_api.ArrearsViewSet, basename="arrears")
router.register("bill-runs", contributions_api.BillRunViewSet, basename="bill-run")
router.register("contribution-records", contributions_api.ContributionRecordViewSet, basename="contribution-record")
router.register("bill-exports", contributions_exchange_api.BillExportViewSet, basename="bill-export")
router.register("payment-files", contributions_exchange_api.PaymentFileViewSet, basename="payment-file")
router.register("fund-balances", funds_api.FundBalanceViewSet, basename="fund-balance")
router.register("fund-indicators", funds_api.FundIndicatorViewSet, basename="fund-indicator")
router.register("fund-warnings", funds_api.FundWarningViewSet, basename="fund-warning")
router.register("service-items", cases_api.ServiceItemViewSet, basename="service-item")
router.register("cases", cases_api.CaseViewSet, basename="case")
router.register("case-attachments", cases_api.AttachmentViewSet, basename="case-attachment")
router.register("payroll-runs", payroll_api.PayrollRunViewSet, basename="payroll-run")
router.register("benefit-payments", payroll_api.PaymentViewSet, basename="benefit-payment")
router.register("benefit-certifications", payroll_api.CertificationViewSet, basename="benefit-certification")
router.register("benefit-deaths", payroll_api.DeathViewSet, basename="benefit-death")
router.register("consolidation-batches", consolidation_api.ImportBatchViewSet, basename="consolidation-batch")
router.register("consolidation-files", consolidation_api.BatchFileViewSet, basename="consolidation-file")
router.register("statistics", evaluation_api.StatCellViewSet, basename="statistics")
router.register("office-metrics", evaluation_api.OfficeMetricViewSet, basename="office-metric")

urlpatterns = [
    path("admin/", admin.site.urls),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(template_name="registry/login.html", authentication_form=LoginForm),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/", include("registry.security.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/v1/whoami/", registry_api.WhoAmIView.as_view(), name="api-whoami"),
    path("api/v1/", include(router.urls)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves its start-up script as a file of its own: no inline script (Content-Security-Policy).
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="swagger-ui"),
    path("policies/", include("policies.urls")),
    path("contributions/", include("contributions.urls")),
    path("funds/", include("funds.urls")),
    path("cases/", include("cases.urls")),
    path("payroll/", include("payroll.urls")),
    path("consolidation/", include("consolidation.urls")),
    path("evaluation/", include("evaluation.urls")),
    path("verify/", include("cases.verify_urls")),
    # The online hall: its own prefix, session cookie and authentication (hall/middleware.py); the clerks'
    # page for hall accounts waiting for confirmation is a staff page, outside the prefix.
    path("hall/", include("hall.urls")),
    path("hall-accounts/", include(hall_counter_urls)),
    path("", include("cases.counter.urls")),
    path("", include("registry.urls")),
]
