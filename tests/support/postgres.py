"""The PostgreSQL server the tests use: its URL, or a skip (a failure under CI) when none is configured."""

from __future__ import annotations

import os

import pytest

POSTGRES_ENV = "PROFILESYNC_TEST_POSTGRES_URL"


def postgres_url_or_skip() -> str:
    """The test server's URL; without one, skip — or fail under CI, which must run every test."""
    url = os.environ.get(POSTGRES_ENV)
    if url:
        return url
    message = f'{POSTGRES_ENV} is not set; start a server with: eval "$(bash scripts/ci-postgres.sh)"'
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true requires the PostgreSQL tests, but {message}", pytrace=False)
    pytest.skip(message)
