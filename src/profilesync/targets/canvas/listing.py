"""Reading Canvas's account users: the listing's parameters and what each row shows, or hides.

Two readings of canvas-lms decide what lives here (docs/canvas-behaviours.md has both):

- ``UsersController#api_index`` pages ``sort=id`` by bookmarks (``BookmarkedCollection.wrap(UserSearch::
  Bookmarker...)``) and its API docs ask for ``sort=id`` when many pages are read. Bookmarks count what remains
  (``BookmarkedCollection::WrapProxy``), so the last page has no ``next`` even when it is exactly full: a listing
  of N users costs ceil(N/100) requests, one fewer than numbered pages after an exact multiple of 100.
- ``Api::V1::User#user_json`` emits ``avatar_url`` only when ``user.account.service_enabled?(:avatars)``, and
  ``User#account`` is the account of the user's first active login (``pseudonym.account rescue
  Account.default``, app/models/user.rb). A user whose first login lives in another root account (a
  consortium or trust partner) lacks the key while everyone else has it; ``login_id`` is likewise absent for
  a user with no login here. So a missing key on one row says something about that user only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import quote

from profilesync.engine.model import RemoteUser
from profilesync.errors import FatalRemoteError
from profilesync.targets.canvas.avatars import avatar_ref

# The user JSON field each match mode reads (docs/canvas.md §5).
MATCH_JSON_FIELD = {
    "sis_user_id": "sis_user_id",
    "login_id": "login_id",
    "email": "email",
    "integration_id": "integration_id",
    "id": "id",
}
# The permission that shows each field to an admin (the id is shown to whoever may list the users).
_PERMISSION_FOR_FIELD = {
    "sis_user_id": "'Users - view SIS information' (read_sis)",
    "integration_id": "'Users - view SIS information' (read_sis)",
    "login_id": "'Users - view login IDs' (view_user_logins)",
    "email": "'Users - view primary email address' (read_email_addresses)",
    "id": "'Users - view list' (read_roster)",
}
AVATARS_ADVICE = "enable them in Admin > Account > Settings > 'Enable profile pictures for users'"
#: what creating parent accounts (observers) needs to see of each user besides the avatar job's key
OBSERVER_FIELDS_ADVICE = (
    "parent accounts (observers) need both: give the role 'Users - view SIS information' and 'Users - view login IDs'"
)


def users_path(account_id: str) -> str:
    """``/api/v1/accounts/:account_id/users``: ``self``, a number or an ``sis_account_id:`` form."""
    return f"/api/v1/accounts/{quote(account_id, safe=':')}/users"


def hidden_field_advice(match: str) -> str:
    """What to do when Canvas hides the field photos are matched by from every user."""
    return f"give the token's admin role {_PERMISSION_FOR_FIELD[MATCH_JSON_FIELD[match]]}, or change PROFILESYNC_MATCH"


def unknown_account_advice(base_url: str, account_id: str) -> str:
    """What to do when the users listing answers 404: no such account (or none the token may see)."""
    return (
        f"check that {base_url} is your Canvas address and CANVAS_ACCOUNT_ID ({account_id}) an account the "
        "token's admin belongs to"
    )


def list_users_advice(account_id: str) -> str:
    """What to do when Canvas refuses to list the account's users."""
    return f"the token's admin role needs 'Users - view list' on account {account_id}"


def listing_params(match: str) -> list[tuple[str, Any]]:
    """The query of ``GET /api/v1/accounts/:account_id/users``, per_page aside (the paginator adds it)."""
    params: list[tuple[str, Any]] = [("include[]", "avatar_url")]
    if match == "email":
        params.append(("include[]", "email"))
    # Bookmark pages: what api_index's docs ask for when retrieving many pages (other sorts "may be
    # rate-limited after 50 pages"), and no empty page to fetch after an exactly full last one.
    params.append(("sort", "id"))
    return params


def shows_field(page: Sequence[dict[str, Any]], field: str) -> bool:
    """Does Canvas show ``field`` on this page at all: does some user have the key (absent, not null, when hidden)?"""
    return any(field in raw for raw in page)


def check_first_page(page: Sequence[dict[str, Any]], match: str) -> None:
    """Stop the run only when *no* user of the first page shows what every decision needs.

    One user without ``avatar_url`` is a user whose home account has avatars off; the account's avatars are
    off only when nobody has the key. The match field is judged the same way (``login_id`` is absent for a
    user with no login here, while a missing permission hides it from everyone).
    """
    if page and not shows_field(page, "avatar_url"):
        raise FatalRemoteError(
            "Canvas returns no avatar_url: user avatars are disabled on this account", advice=AVATARS_ADVICE
        )
    field = MATCH_JSON_FIELD[match]
    if page and not shows_field(page, field):
        raise FatalRemoteError(
            f"Canvas does not show the users' {field}: the token's user lacks a permission",
            advice=hidden_field_advice(match),
        )


def remote_user(raw: dict[str, Any], match: str, fold: Callable[[str], str]) -> RemoteUser:
    """One row as the engine sees it; ``avatar_known`` is False when Canvas hides this user's avatar_url."""
    value = raw.get(MATCH_JSON_FIELD[match])
    key = fold(str(value)) if value not in (None, "") else None
    url = raw.get("avatar_url")
    return RemoteUser(
        user_id=str(raw["id"]),
        key=key,
        name=str(raw.get("name") or raw.get("sortable_name") or raw["id"]),
        avatar_ref=avatar_ref(url),
        avatar_url=url,
        avatar_known="avatar_url" in raw,
    )
