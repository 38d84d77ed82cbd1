"""The harmless questions ``profilesync doctor`` asks Canvas, each answered with a typed value.

Who the token belongs to (``GET /api/v1/users/self``, which also proves the address is Canvas), the root account
and the token's rights there (``targets.canvas.account``), the first page of the account's users, one read as
another user (masquerade), whether the root account can restrict students, and every user's key. Nothing is
written. The answers carry the facts and the advice this package gives a nightly run for the same problem, so
the doctor reads no status code and writes no Canvas advice of its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from profilesync.errors import ProfilesyncError
from profilesync.http import looks_like_html, redact_url
from profilesync.targets.answers import (
    NOT_JSON,
    NotReached,
    Rejected,
    Unanswered,
    Unreached,
    first_contact,
    json_or_not,
)
from profilesync.targets.canvas.account import NOT_CANVAS_ADVICE, READ_RIGHTS, TOKEN_ADVICE, WRITE_RIGHTS, RootAccount
from profilesync.targets.canvas.client import BAD_TOKEN, error_message
from profilesync.targets.canvas.listing import (
    MATCH_JSON_FIELD,
    list_users_advice,
    listing_params,
    shows_field,
    unknown_account_advice,
)
from profilesync.targets.canvas.refusals import ACT_AS_ADVICE
from profilesync.targets.canvas.target import CanvasTarget

REDIRECT_ADVICE = (
    "set CANVAS_BASE_URL to the address it redirects to (an API client must not follow a redirect with the token)"
)
FAILING_ADVICE = "try again later; if it persists, ask your Canvas administrator or Instructure support"
UNKNOWN_FEATURES_ADVICE = "if students fail with limited_access, see the account setting 'Limited access for students'"
#: the root-account feature without which ``check_limited_access_for_students`` returns at once
LIMITED_ACCESS_FEATURE = "allow_limited_access_for_students"
#: how many other users a masquerade is tried with before the token is judged unable to act as users
MASQUERADE_CANDIDATES = 3


@dataclass(frozen=True)
class Identity:
    """The token's user, read in ``elapsed_ms`` from an address that answers as the Canvas API."""

    user_id: str
    name: str
    elapsed_ms: float


@dataclass(frozen=True)
class Rights:
    """The token's rights on the root account, as the avatar job needs them (``known``: Canvas said)."""

    known: bool
    held: tuple[str, ...] = ()  # of WRITE_RIGHTS and READ_RIGHTS, in that order
    missing_writes: tuple[str, ...] = ()
    reads_users: bool = True


@dataclass(frozen=True)
class UsersPage:
    """The first page of the account's users, as the listing judges it."""

    key_field: str  # the user JSON field photos are matched by
    rows: Sequence[dict[str, Any]] = field(repr=False)

    @property
    def users(self) -> int:
        return len(self.rows)

    @property
    def with_key(self) -> int:
        return sum(1 for row in self.rows if row.get(self.key_field) not in (None, ""))

    def shows(self, name: str) -> bool:
        """Whether Canvas shows the field on this page at all (the listing's own rule, ``shows_field``)."""
        return shows_field(self.rows, name)


@dataclass(frozen=True)
class NoSuchAccount:
    """Canvas has no account CANVAS_ACCOUNT_ID names, or does not let the token see it."""

    account_id: str
    advice: str


@dataclass(frozen=True)
class ActAs:
    """Whether Canvas let the token read as another user: ``as_user`` when it did, else the refusal."""

    as_user: str | None
    tried: tuple[str, ...] = ()
    message: str = ""  # Canvas's last refusal
    advice: str = ACT_AS_ADVICE


class CanvasQuestions:
    """Asks one Canvas target the doctor's questions, through its public client."""

    def __init__(self, target: CanvasTarget) -> None:
        self.target = target

    def token_identity(self) -> Identity | NotReached | Rejected:
        """:calls: ``GET /api/v1/users/self`` — is the address Canvas (a JSON API), and does it take the token?"""
        base = self.target.api.base_url
        contact = first_contact(
            self.target.api,
            "/api/v1/users/self",
            what="asking Canvas whose token this is",
            advice=f"check CANVAS_BASE_URL ({base}) and this host's network",
        )
        if isinstance(contact, NotReached):
            return contact
        response, elapsed_ms = contact.response, contact.elapsed_ms
        status = response.status_code
        not_canvas = f"{NOT_CANVAS_ADVICE}, not {base}"
        if 300 <= status < 400:
            location = redact_url(response.headers.get("Location", "")) or "an unnamed location"
            detail = f"{base} redirects the API ({status}) to {location}"
            return NotReached(Unreached.REDIRECTED, detail, REDIRECT_ADVICE)
        body = json_or_not(response, self.target.api.dialect)
        if body is NOT_JSON:
            what = "an HTML page" if looks_like_html(response) else f"{response.headers.get('Content-Type', 'no JSON')}"
            detail = f"{base}/api/v1/users/self answers with {what} (HTTP {status}), not the Canvas API's JSON"
            return NotReached(Unreached.NOT_THE_API, detail, not_canvas)
        if status >= 500:
            detail = f"Canvas answers with a server error ({status}: {error_message(response)})"
            return NotReached(Unreached.FAILING, detail, FAILING_ADVICE)
        if status in (401, 403):
            message = error_message(response)
            detail = f"Canvas rejected the token: {message}" if BAD_TOKEN.search(message) else message
            return Rejected(detail, TOKEN_ADVICE, elapsed_ms)
        if status == 404 or not (isinstance(body, dict) and "id" in body):
            detail = f"{base}/api/v1/users/self answers HTTP {status} with JSON that is not a Canvas user"
            return NotReached(Unreached.NOT_THE_API, detail, not_canvas + " (no path after the host name)")
        if status >= 400:
            return Rejected(error_message(response), TOKEN_ADVICE, elapsed_ms)
        name = body.get("name") or body.get("short_name") or "?"
        return Identity(str(body["id"]), str(name), elapsed_ms)

    def root_account(self) -> RootAccount | Unanswered:
        """The domain root account (``CanvasAccount.root``), or why Canvas would not say."""
        try:
            return self.target.account.root()
        except ProfilesyncError as exc:
            return Unanswered(exc.message, exc.advice)

    def rights(self) -> Rights | Unanswered:
        """The token's write and read rights on the root account (``CanvasAccount.rights``)."""
        try:
            rights = self.target.account.rights((*WRITE_RIGHTS, *READ_RIGHTS))
        except ProfilesyncError as exc:
            return Unanswered(exc.message, exc.advice)
        if rights is None:
            return Rights(known=False)
        return Rights(
            known=True,
            held=tuple(name for name in dict.fromkeys((*WRITE_RIGHTS, *READ_RIGHTS)) if rights[name]),
            missing_writes=tuple(name for name in WRITE_RIGHTS if not rights[name]),
            reads_users=any(rights[name] for name in READ_RIGHTS),
        )

    def users_page(self) -> UsersPage | NoSuchAccount | Unanswered:
        """:calls: ``GET /api/v1/accounts/:account_id/users?include[]=avatar_url&sort=id`` — the first page only,
        the same one ``list_users`` judges."""
        target = self.target
        params = [*listing_params(target.match), ("per_page", 100)]
        what = "listing the account's users"
        try:
            response = target.api.request("GET", target.users_path, what=what, params=params)
        except ProfilesyncError as exc:
            return Unanswered(exc.message, exc.advice)
        if response.status_code == 404:
            return NoSuchAccount(target.account_id, unknown_account_advice(target.api.base_url, target.account_id))
        body = json_or_not(response, self.target.api.dialect)
        if response.status_code >= 400 or not isinstance(body, list):
            message = f"cannot list the users of account {target.account_id} ({error_message(response)})"
            return Unanswered(message, list_users_advice(target.account_id))
        return UsersPage(MATCH_JSON_FIELD[target.match], [row for row in body if isinstance(row, dict)])

    def act_as(self, me: Identity, page: UsersPage) -> ActAs | Unanswered:
        """:calls: ``GET /api/v1/users/self?as_user_id=<id>`` — a harmless read as up to three other users.

        Without "Become other users" no upload can work (``AuthenticationMethods#load_user``,
        ``User#can_masquerade?``). Students (users with an SIS id) are the people uploads act as, and never
        outrank the admin (``has_subset_of_account_permissions?``), so they are tried first.
        """
        others = [row for row in page.rows if str(row.get("id")) != me.user_id]
        others.sort(key=lambda row: row.get("sis_user_id") in (None, ""))
        message = ""
        tried: list[str] = []
        for row in others[:MASQUERADE_CANDIDATES]:
            user_id = str(row["id"])
            tried.append(user_id)
            what = f"acting as user {user_id}"
            try:
                response = self.target.api.request(
                    "GET", "/api/v1/users/self", what=what, params=[("as_user_id", user_id)]
                )
            except ProfilesyncError as exc:
                return Unanswered(exc.message, exc.advice)
            body = json_or_not(response, self.target.api.dialect)
            if response.status_code == 200 and isinstance(body, dict) and str(body.get("id")) == user_id:
                return ActAs(user_id)
            message = error_message(response)
            if response.status_code not in (400, 401, 403, 404):
                break  # a server error or an odd answer: other users would fare no better
        return ActAs(None, tuple(tried), message)

    def limited_access_allowed(self) -> bool | Unanswered:
        """:calls: ``GET /api/v1/accounts/self/features/enabled`` — FeatureFlagsController#enabled_features.

        True when the domain root account has the feature "Limited access for students" needs. Which
        (sub-)accounts turned the setting on is not in the API's account JSON (``Api::V1::Account#account_json``),
        so this is as far as a harmless read can see.
        """
        what = "reading the root account's features"
        try:
            features = self.target.api.json("GET", "/api/v1/accounts/self/features/enabled", what=what)
        except ProfilesyncError as exc:
            return Unanswered(exc.message, UNKNOWN_FEATURES_ADVICE)
        return isinstance(features, list) and LIMITED_ACCESS_FEATURE in features

    def user_keys(self) -> set[str] | Unanswered:
        """Every user's key, read as the nightly run reads them (one request per 100 users)."""
        try:
            return {user.key for user in self.target.list_users() if user.key is not None}
        except ProfilesyncError as exc:  # a later page failed: so would the nightly run's listing
            return Unanswered(exc.message, exc.advice)
