import pytest
from django.core.cache import cache

from hall import sms


@pytest.fixture(autouse=True)
def _hall_test_settings(settings, tmp_path):
    """SMS into hall.sms.outbox; archived files in a temporary folder; login failure counters reset."""
    settings.HALL_SMS_BACKEND = "hall.sms.LocmemBackend"
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    sms.outbox.clear()
    cache.clear()
    yield
    sms.outbox.clear()


def last_code() -> str:
    """The code of the last SMS sent (the test backend keeps the messages)."""
    import re

    return re.search(r"验证码 (\d{6})", sms.outbox[-1].text).group(1)
