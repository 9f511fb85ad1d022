import pytest


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path):
    """Uploaded chunks go to a temporary folder, not the working copy's media."""
    settings.MEDIA_ROOT = tmp_path / "media"
