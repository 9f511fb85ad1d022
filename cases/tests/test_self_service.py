"""Self-service (自助即办) through the online channel: only certificate items with a single intake step that the
catalogue offers online, only for a system channel user; the certificate is the counter's."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from cases import services
from cases.models import CaseState, Channel
from cases.tests.factories import clerk, item
from registry.exceptions import PermissionDeniedError
from registry.models import Office, User
from registry.tests.factories import EnrollmentFactory, PersonFactory, township_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def channel_user():
    return User.objects.create(username="online-channel", is_system=True, office=Office.objects.get(level=1))


def test_a_certificate_is_issued_at_once_through_the_channel(channel_user, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    person = PersonFactory()
    EnrollmentFactory(person=person)
    case = services.case_self_service(acting_user=channel_user, item=item("ZM-001"), person=person)
    assert case.state == CaseState.COMPLETED and case.channel == Channel.ONLINE
    assert case.intake_office == person.residence_office and case.certificate.person == person


def test_only_certificates_offered_online_and_only_for_a_channel(channel_user):
    person = PersonFactory()
    EnrollmentFactory(person=person)
    with pytest.raises(ValidationError):
        services.case_self_service(acting_user=channel_user, item=item("CJ-GR-002"), person=person)
    with pytest.raises(PermissionDeniedError):
        services.case_self_service(acting_user=clerk(township_of("331003")), item=item("ZM-001"), person=person)
    certificate = item("ZM-001")
    certificate.offered_online = False
    certificate.save()
    with pytest.raises(ValidationError):
        services.case_self_service(acting_user=channel_user, item=certificate, person=person)
