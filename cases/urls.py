"""Clerk pages of cases, mounted at /cases/ (names prefixed, no namespace: the route-walking jurisdiction
test reverses them by bare name). The public certificate check lives at /verify/ (see ``verify_urls``)."""

from django.urls import path

from . import card_views, views
from .counter import intake_views

urlpatterns = [
    path("", views.queue, name="cases_queue"),
    path("new/", intake_views.intake, name="cases_intake"),
    path("catalogue/", views.catalogue, name="cases_catalogue"),
    path("<uuid:uid>/", views.detail, name="cases_detail"),
    path("<uuid:uid>/action/", views.action, name="cases_action"),
    path("<uuid:uid>/attachments/", views.attachment_upload, name="cases_attachment_upload"),
    path("<uuid:uid>/payments/", views.payment_record, name="cases_payment_record"),
    path("<uuid:uid>/receipt/", views.receipt, name="cases_receipt"),
    path("attachments/<uuid:uid>/", views.attachment_download, name="cases_attachment_download"),
    path("persons/<uuid:uid>/archive/", views.person_archive, name="cases_person_archive"),
    path("cards/", card_views.batches, name="cases_card_batches"),
    path("cards/batches/new/", card_views.batch_create, name="cases_card_batch_create"),
    path("cards/batches/<uuid:uid>/", card_views.batch_detail, name="cases_card_batch"),
    path("cards/batches/<uuid:uid>/production.xlsx", card_views.batch_download, name="cases_card_batch_download"),
]

verify_urlpatterns = [
    path("", views.verify, name="cases_verify"),
    path("<str:code>/", views.verify, name="cases_verify_code"),
]
