"""User id forms in URLs (docs/canvas.md §7): SIS prefixes, percent-encoding, the .json format suffix, case rules."""

from __future__ import annotations

import http.client
import json
from typing import Any
from urllib.parse import urlsplit

import pytest

from profilesync_sandbox import Sandbox

from .conftest import MakeSandbox

SCENARIO: dict[str, Any] = {
    "accounts": [{"id": 2, "name": "Other District"}],
    "users": [
        {"id": 7, "name": "Seven Seas", "sis_user_id": "X7"},
        {"id": 2001, "name": "Slash Kid", "sis_user_id": "CS/101.11é"},
        {"id": 2002, "name": "Space Kid", "sis_user_id": "S 2"},
        {"id": 2003, "name": "Plus Kid", "sis_user_id": "S+3"},
        {"id": 2004, "name": "Space Three", "sis_user_id": "S 3"},
        {"id": 2005, "name": "Json Kid", "sis_user_id": "S4.json"},
        {"id": 2006, "name": "Plain Kid", "sis_user_id": "S4"},
        {"id": 2007, "name": "Zero Kid", "sis_user_id": "007"},
        {"id": 2008, "name": "Case Kid", "sis_user_id": "Abc", "login_id": "Mixed.Case@Example.edu"},
        {"id": 2009, "name": "Far Kid", "sis_user_id": "R2", "root_account_ids": [2]},
        {"id": 2010, "name": "Dot Kid", "sis_user_id": "john.smith", "integration_id": "INT-9"},
    ],
}


@pytest.fixture
def lsb(make_sandbox: MakeSandbox) -> Sandbox:
    return make_sandbox(scenario=SCENARIO)


def get(sb: Sandbox, raw_path: str) -> tuple[int, Any]:
    """GET exactly this path (no client-side re-encoding), as the admin."""
    conn = http.client.HTTPConnection(urlsplit(sb.base_url).netloc, timeout=10)
    conn.request("GET", raw_path, headers={"Authorization": f"Bearer {sb.admin_token}", "Accept": "application/json"})
    response = conn.getresponse()
    body = json.loads(response.read() or b"null")
    conn.close()
    return response.status, body


def user_id(sb: Sandbox, id_form: str) -> int | None:
    status, body = get(sb, f"/api/v1/users/{id_form}")
    return body["id"] if status == 200 else None


def test_slash_must_be_percent_encoded(lsb: Sandbox) -> None:
    """The docs' example: CS/101.11é is sis_user_id:CS%2F101%2E11%C3%A9."""
    assert user_id(lsb, "sis_user_id:CS%2F101%2E11%C3%A9") == 2001


def test_unencoded_slash_matches_no_route(lsb: Sandbox) -> None:
    """A raw / splits the path, so no route matches: 404."""
    assert get(lsb, "/api/v1/users/sis_user_id:CS/101.11%C3%A9")[0] == 404


def test_space_as_percent_20(lsb: Sandbox) -> None:
    """%20 decodes to a space."""
    assert user_id(lsb, "sis_user_id:S%202") == 2002


def test_plus_stays_plus_in_paths(lsb: Sandbox) -> None:
    """Paths are not form-decoded: a raw + is a plus (not a space), and %2B is a plus too."""
    assert user_id(lsb, "sis_user_id:S+3") == 2003
    assert user_id(lsb, "sis_user_id:S%2B3") == 2003


def test_trailing_json_is_eaten_as_the_format(lsb: Sandbox) -> None:
    """sis_user_id:S4.json looks up S4; %2Ejson reaches S4.json."""
    assert user_id(lsb, "sis_user_id:S4.json") == 2006
    assert user_id(lsb, "sis_user_id:S4%2Ejson") == 2005


def test_periods_inside_ids_are_fine(lsb: Sandbox) -> None:
    """sis_user_id:john.smith needs no escaping."""
    assert user_id(lsb, "sis_user_id:john.smith") == 2010


def test_json_before_a_slash_matches_no_route(lsb: Sandbox) -> None:
    """.json followed by / inside the path stops the id pattern: 404."""
    assert get(lsb, "/api/v1/users/sis_user_id:S4.json/avatars")[0] == 404


def test_leading_zeros(lsb: Sandbox) -> None:
    """Digits are a Canvas id (007 is user 7); the SIS form compares the string exactly."""
    assert user_id(lsb, "007") == 7
    assert user_id(lsb, "sis_user_id:007") == 2007
    assert user_id(lsb, "sis_user_id:7") is None


def test_hex_form(lsb: Sandbox) -> None:
    """hex:sis_user_id: takes the value hex-encoded."""
    assert user_id(lsb, "hex:sis_user_id:" + b"S4.json".hex()) == 2005


def test_sis_user_id_is_case_sensitive(lsb: Sandbox) -> None:
    """sis_user_id:abc does not find Abc."""
    assert user_id(lsb, "sis_user_id:Abc") == 2008
    assert user_id(lsb, "sis_user_id:abc") is None


def test_sis_login_id_is_case_insensitive(lsb: Sandbox) -> None:
    """sis_login_id compares LOWER to LOWER."""
    assert user_id(lsb, "sis_login_id:mixed.case%40EXAMPLE.EDU") == 2008


def test_integration_id_form(lsb: Sandbox) -> None:
    """sis_integration_id: looks up the integration id."""
    assert user_id(lsb, "sis_integration_id:INT-9") == 2010


def test_unknown_prefix_is_not_found(lsb: Sandbox) -> None:
    """sis_foo: matches nothing: 404 with Canvas's body."""
    status, body = get(lsb, "/api/v1/users/sis_foo:S4")
    assert status == 404
    assert body == {"errors": [{"message": "The specified resource does not exist."}]}


def test_id_is_stripped(lsb: Sandbox) -> None:
    """Surrounding whitespace is stripped before parsing."""
    assert user_id(lsb, "%20sis_user_id:S4%20") == 2006


def test_sis_lookup_is_scoped_to_the_domain_root_account(lsb: Sandbox) -> None:
    """A user whose login lives in another root account is not found by SIS id, only by Canvas id."""
    assert user_id(lsb, "sis_user_id:R2") is None
    assert user_id(lsb, "2009") == 2009


def test_self_is_the_caller(lsb: Sandbox) -> None:
    """users/self is the token's user (or the masqueraded one)."""
    assert user_id(lsb, "self") == 1
    assert user_id(lsb, "self?as_user_id=sis_user_id:S4") == 2006


def test_tricky_generated_ids(make_sandbox: MakeSandbox) -> None:
    """--tricky-sis-ids gives some generated users ids with /, space, +, .json, leading zeros."""
    sb = make_sandbox(users=60, tricky_sis_ids=True)
    ids = {u.sis_user_id for u in sb.state.users() if u.sis_user_id}
    assert {"S/10", "S 20", "S+30", "S40.json", "0050", "s60x"} <= ids
