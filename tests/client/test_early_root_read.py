"""The root account read started early (beside opening the history): still one request, its error raised later."""

from __future__ import annotations

import pytest
import responses

from profilesync.errors import FatalRemoteError
from profilesync.targets.canvas.target import CanvasTarget

from .conftest import BASE

ROOT = f"{BASE}/api/v1/accounts/self"


def test_an_early_read_names_the_target_with_one_request(rsps: responses.RequestsMock, target: CanvasTarget) -> None:
    """read_account_early, then target_id (twice): one GET of the root account, and its uuid as the name."""
    rsps.add(responses.GET, ROOT, json={"id": 1, "uuid": "root-uuid", "name": "District"})
    target.read_account_early()
    assert target.target_id == "canvas:root:root-uuid"
    assert target.target_id == "canvas:root:root-uuid"
    assert len(rsps.calls) == 1


def test_an_early_read_that_failed_raises_when_the_target_is_named(
    rsps: responses.RequestsMock, target: CanvasTarget
) -> None:
    """A refused early read raises the same advice-carrying error at target_id, and is not asked again."""
    rsps.add(
        responses.GET, ROOT, status=401, json={"errors": [{"message": "user not authorized to perform that action"}]}
    )
    target.read_account_early()
    with pytest.raises(FatalRemoteError, match="no role in the Canvas root account"):
        _ = target.target_id
    with pytest.raises(FatalRemoteError):
        _ = target.target_id
    assert len(rsps.calls) == 1
