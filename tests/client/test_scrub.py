"""The one scrubber every vendor's adapter, the log filter and doctor hide secrets with."""

from __future__ import annotations

import pytest

from profilesync.errors import ConfigError, RemoteError
from profilesync.scrub import Scrubber

TOKEN = "guru-token-0123456789"
USER_TOKEN = f"admin@school.example:{TOKEN}"


def test_a_secret_that_holds_another_is_hidden_whole() -> None:
    """``user:token`` holds the token: it is hidden as one, so not even the user name is left beside it."""
    scrub = Scrubber((TOKEN, USER_TOKEN))
    assert scrub(f"echo {USER_TOKEN} and {TOKEN}") == "echo <hidden> and <hidden>"


def test_trivial_values_are_never_masked() -> None:
    """A secret shorter than six characters is not hidden (masking "abc" everywhere protects nothing)."""
    assert Scrubber(("abc", "")).secrets == [] and Scrubber(("abc",))("abc") == "abc"


def test_errors_raised_in_the_block_leave_with_the_secrets_hidden() -> None:
    """Message, advice and args of an error raised inside ``errors_hidden`` no longer show the secret."""
    scrub = Scrubber((TOKEN,))
    with pytest.raises(RemoteError) as raised, scrub.errors_hidden():
        raise RemoteError(f"server said {TOKEN}", advice=f"check {TOKEN}")
    assert raised.value.message == "server said <hidden>" and raised.value.advice == "check <hidden>"
    assert TOKEN not in str(raised.value) and all(TOKEN not in str(arg) for arg in raised.value.args)


def test_configuration_problems_are_scrubbed_too() -> None:
    """Each problem of a ConfigError is cleaned."""
    error = Scrubber((TOKEN,)).error(ConfigError([f"bad value {TOKEN}"]))
    assert isinstance(error, ConfigError) and error.problems == ["bad value <hidden>"]
