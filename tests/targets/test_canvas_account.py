"""The Canvas root account helpers: one spelling per address, and which old history names are this Canvas."""

from __future__ import annotations

import pytest
import responses

from profilesync.errors import FatalRemoteError
from profilesync.http import Api, Retry
from profilesync.targets.canvas.account import (
    CanvasAccount,
    copy_environment,
    former_target_ids,
    legacy_target_id,
    normalise_base_url,
    same_environment,
)
from profilesync.targets.canvas.client import CANVAS

BASE = "https://canvas.test"
ROOT = {"id": 1, "name": "School", "uuid": "U" * 40, "parent_account_id": None, "root_account_id": None}


@pytest.mark.parametrize(
    "spelling",
    [
        "https://school.instructure.com",
        "https://school.instructure.com/",
        "HTTPS://School.Instructure.COM",
        "https://school.instructure.com:443/",
        " https://school.instructure.com ",
    ],
)
def test_spellings_of_one_address_normalise_alike(spelling: str) -> None:
    """Case, a trailing slash, the default port and stray spaces do not change the address."""
    assert normalise_base_url(spelling) == "https://school.instructure.com"


def test_other_ports_and_ipv6_literals_survive_normalisation() -> None:
    """A non-default port is kept, and an IPv6 literal keeps its brackets."""
    assert normalise_base_url("http://LOCALHOST:8900/") == "http://localhost:8900"
    assert normalise_base_url("http://[::1]:8900") == "http://[::1]:8900"


def test_former_names_match_only_the_same_address() -> None:
    """Old URL-based history names of the same address are found; other hosts and non-Canvas names are not."""
    known = [
        "canvas:https://School.instructure.com",
        "canvas:https://school.instructure.com:443",
        "canvas:https://other.instructure.com",
        "guru:https://api.getguru.com",
        "canvas:root:abc",
    ]
    assert former_target_ids("https://school.instructure.com/", known) == [
        "canvas:https://School.instructure.com",
        "canvas:https://school.instructure.com:443",
    ]
    assert legacy_target_id("canvas:root:abc") is None


def test_root_account_is_read_once() -> None:
    """root() asks Canvas once however often it is called, and names the target by the uuid."""
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        rsps.add(responses.GET, f"{BASE}/api/v1/accounts/self", json=ROOT)
        account = CanvasAccount(Api(BASE, lambda: "Bearer t", dialect=CANVAS, retry=Retry(attempts=1)))
        assert account.root().target_id == "canvas:root:" + "U" * 40
        assert account.root().name == "School"
        assert len(rsps.calls) == 1


def test_rights_accept_booleans_and_strings() -> None:
    """The rights endpoint's booleans (or the API doc's "true"/"false" strings) are read alike."""
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        rsps.add(
            responses.GET,
            f"{BASE}/api/v1/accounts/self/permissions",
            json={"become_user": "true", "manage_user_logins": False},
        )
        account = CanvasAccount(Api(BASE, lambda: "Bearer t", dialect=CANVAS, retry=Retry(attempts=1)))
        assert account.rights(["become_user", "manage_user_logins"]) == {
            "become_user": True,
            "manage_user_logins": False,
        }
        with pytest.raises(FatalRemoteError, match="manage login details"):
            account.require_write_rights()
        assert len(rsps.calls) == 1  # the second question was answered from the first answer


def test_refused_rights_question_means_no_root_role() -> None:
    """A 401 from the rights endpoint is fatal: only a user without any root-account role is refused."""
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        body = {"status": "unauthorized", "errors": [{"message": "user not authorized to perform that action"}]}
        rsps.add(responses.GET, f"{BASE}/api/v1/accounts/self/permissions", json=body, status=401)
        account = CanvasAccount(Api(BASE, lambda: "Bearer t", dialect=CANVAS, retry=Retry(attempts=1)))
        with pytest.raises(FatalRemoteError, match="no role in the Canvas root account"):
            account.require_write_rights()


def test_missing_rights_endpoint_is_no_evidence() -> None:
    """An old Canvas without the endpoint (404): the check is skipped, no error, asked only once."""
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        rsps.add(responses.GET, f"{BASE}/api/v1/accounts/self/permissions", status=404, json={"errors": []})
        account = CanvasAccount(Api(BASE, lambda: "Bearer t", dialect=CANVAS, retry=Retry(attempts=1)))
        account.require_write_rights()
        assert account.users_unreadable() is False
        assert len(rsps.calls) == 1


@pytest.mark.parametrize(
    ("url", "environment"),
    [
        ("https://school.test.instructure.com", "test"),
        ("https://School.Beta.Instructure.com/", "beta"),
        ("https://school.instructure.com", ""),
        ("https://test.instructure.com", ""),
        ("https://canvas.test.school.edu", ""),
    ],
)
def test_test_and_beta_copies_are_told_from_production(url: str, environment: str) -> None:
    """Instructure's test and beta copies (same root account uuid) are recognised by their address."""
    assert copy_environment(url) == environment


def test_a_test_copy_has_its_own_history_name() -> None:
    """The test copy of a Canvas shares production's root account uuid, but not its history name."""
    test_base = "https://school.test.instructure.com"
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        rsps.add(responses.GET, f"{test_base}/api/v1/accounts/self", json=ROOT)
        account = CanvasAccount(Api(test_base, lambda: "Bearer t", dialect=CANVAS, retry=Retry(attempts=1)))
        assert account.root().target_id == "canvas:root:" + "U" * 40 + ":test"
    assert same_environment("canvas:https://school.test.instructure.com", test_base)
    assert not same_environment("canvas:https://school.instructure.com", test_base)
