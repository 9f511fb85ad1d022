import pytest

from policies.selectors import parameter_cache_clear


@pytest.fixture(autouse=True)
def _fresh_parameter_cache():
    # The parameter snapshot outlives each test's rolled-back transaction: start and end every test clean.
    parameter_cache_clear()
    yield
    parameter_cache_clear()
