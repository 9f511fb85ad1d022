import pytest


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path):
    """Archived files go to a temporary MEDIA_ROOT (Django's storage follows the setting)."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.PUBLIC_BASE_URL = ""


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Every test makes several staff users; PBKDF2's deliberate slowness is not under test here."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
