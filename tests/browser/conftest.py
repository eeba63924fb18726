"""Browser tests: the system Chromium (Playwright; the `browser` and `page` fixtures are in
tests/conftest.py, the scale-out tests use them too) against the demo server in a child
process: what a customer, a payer's phone and an operator see, and when."""

from pathlib import Path

import pytest

from tests.support import ROOT

ARTIFACTS = ROOT / "test-artifacts"


@pytest.fixture
def artifacts() -> Path:
    """Screenshots and logs the tests save (git ignores this folder)."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
