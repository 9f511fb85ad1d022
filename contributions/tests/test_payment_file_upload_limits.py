"""A payment file's xlsx is checked from its zip directory in the upload request, never parsed there (issue 14,
fault 5): a bomb is refused at once, a workbook that needs parsing is left to the worker and its limits."""

from __future__ import annotations

import time

import pytest

from contributions.exchange.layout import payment_file_check
from contributions.uploads import UploadError
from registry.tests.xlsx_bombs import claimed_range_bomb, shared_strings_bomb


def test_a_payment_file_xlsx_is_not_parsed_in_the_upload_request(settings):
    """Fault 5: the upload request checks an xlsx from its zip directory only; a bomb is refused there, and a
    workbook whose sheet would need parsing is left to the worker."""
    settings.TABLE_WORKER_LIMITS = {**settings.TABLE_WORKER_LIMITS, "max_uncompressed_bytes": 8 * 1024 * 1024}
    with pytest.raises(UploadError, match="解压后有 16 MB"):
        payment_file_check("到账.xlsx", shared_strings_bomb(16 * 1024 * 1024))
    started = time.monotonic()
    payment_file_check("到账.xlsx", claimed_range_bomb())  # not parsed here: the worker refuses it, in its limits
    assert time.monotonic() - started < 1
