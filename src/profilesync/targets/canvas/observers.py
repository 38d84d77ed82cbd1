"""The Canvas calls of the observers job (docs/canvas.md §7, §14, §16.2), on the shared ``Api`` client.

Lookups are exact (``sis_user_id:`` / ``sis_login_id:``, never the fuzzy ``search_term``). Every write's answer
is checked before it counts: Canvas can answer 200 to a link it did not make (docs/canvas.md §14.4).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import requests

from profilesync.engine.model import CanvasUser
from profilesync.errors import (
    FatalRemoteError,
    NotFoundError,
    PermissionDeniedError,
    RemoteError,
)
from profilesync.http import Api
from profilesync.scrub import Scrubber, errors_scrubbed
from profilesync.targets.canvas.account import (
    READ_USERS_ADVICE,
    CanvasAccount,
    unreadable_users_error,
)
from profilesync.targets.canvas.client import CANVAS, json_or_none, names_bad_token
from profilesync.targets.canvas.ids import user_id_path
from profilesync.targets.canvas.listing import users_path

log = logging.getLogger(__name__)

#: ``has_student_enrollment?`` (docs/canvas.md §14.2): student enrollments not rejected, inactive or deleted
LIVE_STUDENT_ENROLLMENT: list[tuple[str, Any]] = [
    ("type[]", "StudentEnrollment"),
    ("type[]", "StudentViewEnrollment"),
    ("state[]", "active"),
    ("state[]", "invited"),
    ("state[]", "creation_pending"),
    ("state[]", "completed"),
    ("per_page", 1),  # one is enough to know
]


#: when Canvas cannot say whether the token may read users, this many student lookups all answering 404 (and
#: none found) is taken as "not allowed" rather than "none of them exists" (users_controller.rb#api_show)
LOOKUPS_FOR_EVIDENCE = 3


class NotEnrolledError(RemoteError):
    """Canvas refused a pairing code (401/403): the student has no live student enrollment (docs/canvas.md §14.2)."""

    kind = "not_enrolled"


class ObserverCanvas:
    """Canvas as the observers job sees it: students, parents, their links."""

    def __init__(self, api: Api, scrub: Scrubber, *, account_id: str = "self") -> None:
        """A client on ``api`` (built by ``targets.canvas.build``), hiding ``scrub``'s secrets in its errors."""
        self.api = api
        # Canvas (or a proxy) may echo the Authorization header into an error: rows' messages and the history
        # must not show it, so every call below leaves with the token hidden.
        self.scrub = scrub
        # One spelling of the address (case, default port, trailing slash): what requests and links are built on.
        self.base_url = self.api.base_url
        self._users_path = users_path(account_id)
        self.account = CanvasAccount(self.api)
        self._student_lookups = [0, 0]  # [made, answered 404]
        self._count_lock = threading.Lock()

    @property
    @errors_scrubbed
    def target_id(self) -> str:
        """The history's name for this Canvas: its root account's uuid, read once per run."""
        return self.account.root().target_id

    @property
    def requests_made(self) -> int:
        return self.api.requests_made

    @errors_scrubbed
    def check_access(self) -> None:
        """:calls: ``GET /api/v1/users/self`` — once, so a bad token or a wrong URL stops the run at once (exit 3)."""
        try:
            me = self.api.json("GET", "/api/v1/users/self", what="checking the Canvas token")
        except RemoteError as exc:  # unreachable, 404 (not Canvas), refused: every row would fail the same way
            raise FatalRemoteError(
                f"cannot use Canvas at {self.api.base_url}: {exc.message}",
                advice=exc.advice or "check CANVAS_BASE_URL, CANVAS_API_TOKEN and the network",
            ) from None
        if not isinstance(me, dict) or "id" not in me:
            raise FatalRemoteError(f"{self.api.base_url} does not answer like Canvas", advice="check CANVAS_BASE_URL")

    # -- lookups -------------------------------------------------------------------------------------
    @errors_scrubbed
    def find_student(self, sis_id: str) -> CanvasUser | None:
        """:calls: ``GET /api/v1/users/sis_user_id:<enc>`` — exact and case-sensitive (docs/canvas.md §7)."""
        found = self._find(user_id_path("sis_user_id", sis_id), f"looking up student {sis_id!r}")
        with self._count_lock:
            self._student_lookups[0] += 1
            self._student_lookups[1] += found is None
        return found

    def check_lookups(self) -> None:
        """After the rows: when Canvas would not say which rights the token has, and every student lookup of the
        run (at least LOOKUPS_FOR_EVIDENCE) answered 404, stop (exit 3) rather than report them all not found."""
        made, missing = self._student_lookups
        if self.account.rights_unknown and made >= LOOKUPS_FOR_EVIDENCE and missing == made:
            raise FatalRemoteError(
                f"all {made} student lookups answered 'not found', and Canvas would not say whether the token "
                "may read users: it most likely may not",
                advice=READ_USERS_ADVICE + "; if these students really are not in Canvas, check the CSV's SIS ids",
            )

    @errors_scrubbed
    def find_login(self, email: str) -> CanvasUser | None:
        """:calls: ``GET /api/v1/users/sis_login_id:<enc>`` — case-insensitive (docs/canvas.md §7)."""
        return self._find(user_id_path("login_id", email), f"looking up parent {email}")

    def _find(self, path: str | None, what: str) -> CanvasUser | None:
        assert path is not None  # both id forms have a direct lookup
        try:
            body = self.api.json("GET", f"/api/v1/users/{path}", what=what)
        except NotFoundError:
            # users_controller.rb#api_show answers 404 for a user the token may not read, too: asked once a run.
            if self.account.users_unreadable():
                raise unreadable_users_error(what) from None
            return None
        if not isinstance(body, dict) or body.get("id") is None:
            raise RemoteError(f"{what}: Canvas's answer is not a user")
        return CanvasUser(str(body["id"]), body.get("name"))

    @errors_scrubbed
    def is_enrolled(self, user_id: str) -> bool:
        """:calls: ``GET /api/v1/users/:id/enrollments`` for live student enrollments — the condition a pairing
        code needs (docs/canvas.md §14.2), read without a write so ``plan`` can tell."""
        what = f"reading the enrollments of user {user_id}"
        body = self.api.json("GET", f"/api/v1/users/{user_id}/enrollments", what=what, params=LIVE_STUDENT_ENROLLMENT)
        if not isinstance(body, list):
            raise RemoteError(f"{what}: expected a list")
        return bool(body)

    @errors_scrubbed
    def observees(self, parent_id: str) -> dict[str, str | None]:
        """:calls: ``GET /api/v1/users/:parent/observees?per_page=100`` (paginated, docs/canvas.md §14.3): student id →
        SIS id."""
        found: dict[str, str | None] = {}
        what = f"listing the students user {parent_id} observes"
        for page in self.api.paginate(f"/api/v1/users/{parent_id}/observees", what=what, params=[]):
            for raw in page:
                if isinstance(raw, dict) and raw.get("id") is not None:
                    sis = raw.get("sis_user_id")
                    found[str(raw["id"])] = str(sis) if sis not in (None, "") else None
        return found

    # -- writes --------------------------------------------------------------------------------------
    @errors_scrubbed
    def create_parent(self, email: str, first_name: str, last_name: str, *, notify: bool) -> CanvasUser | None:
        """:calls: ``POST /api/v1/accounts/self/users`` (docs/canvas.md §14.1); None when the login is already taken.

        ``notify`` asks Canvas to email the parent a link to finish registering
        (``pseudonym[send_confirmation]``); without it Canvas sends nothing to an admin-created account.
        """
        name = f"{first_name} {last_name}".strip()
        data: list[tuple[str, Any]] = [
            ("user[name]", name),
            ("user[short_name]", name),
            ("user[sortable_name]", f"{last_name}, {first_name}"),
            ("pseudonym[unique_id]", email),
            ("communication_channel[type]", "email"),
            ("communication_channel[address]", email),
        ]
        if notify:
            data.append(("pseudonym[send_confirmation]", "1"))
        what = f"creating the parent account {email}"
        # A repeat after a lost answer finds the login taken, and taken means "look it up and reuse".
        response = self.api.request("POST", self._users_path, what=what, data=data, retry_unsafe=True)
        if response.status_code == 400 and _login_taken(response):
            return None
        if response.status_code == 403 and not json_or_none(response):
            raise PermissionDeniedError(
                f"{what}: Canvas refused (403)",
                advice="the token's admin role needs 'Users - manage login details' to create accounts",
                status=403,
            )
        CANVAS.check(response, what)
        body = json_or_none(response)
        if not isinstance(body, dict) or body.get("id") is None:
            raise RemoteError(f"{what}: Canvas's answer is not a user")
        return CanvasUser(str(body["id"]), body.get("name"))

    @errors_scrubbed
    def link_direct(self, parent_id: str, student_id: str) -> None:
        """:calls: ``PUT /api/v1/users/:parent/observees/:student`` (docs/canvas.md §14.4 B) — idempotent, as an
        admin."""
        what = f"linking user {parent_id} to student {student_id}"
        body = self.api.json("PUT", f"/api/v1/users/{parent_id}/observees/{student_id}", what=what)
        _check_link(body, student_id, what)

    @errors_scrubbed
    def pairing_code(self, student_id: str) -> str:
        """:calls: ``POST /api/v1/users/:student/observer_pairing_codes`` (docs/canvas.md §14.2); NotEnrolledError on
        401/403."""
        what = f"getting a pairing code for student {student_id}"
        # A repeat only leaves another unused code, which expires in 7 days (docs/canvas.md §14.2).
        response = self.api.request(
            "POST", f"/api/v1/users/{student_id}/observer_pairing_codes", what=what, retry_unsafe=True
        )
        if response.status_code in (401, 403) and not names_bad_token(response):
            raise NotEnrolledError(
                f"Canvas refused a pairing code ({response.status_code}): the student has no active "
                "student enrollment, or the token's role may not generate pairing codes",
                status=response.status_code,
            )
        CANVAS.check(response, what)
        body = json_or_none(response)
        if not isinstance(body, dict) or not body.get("code"):
            raise RemoteError(f"{what}: Canvas's answer has no code")
        return str(body["code"])

    @errors_scrubbed
    def link_with_code(self, parent_id: str, student_id: str, code: str) -> None:
        """:calls: ``POST /api/v1/users/:parent/observees`` with ``pairing_code`` (docs/canvas.md §14.4 A).

        Never repeated: the code is used up by the first attempt, so a repeat would only say "invalid code".
        """
        what = f"pairing user {parent_id} with student {student_id}"
        response = self.api.request(
            "POST", f"/api/v1/users/{parent_id}/observees", what=what, data=[("pairing_code", code)]
        )
        if response.status_code in (401, 403) and json_or_none(response) and not names_bad_token(response):
            # ``UserObserveesController#create``: an admin is refused when the two share no root account where it
            # manages observers, and only after the code was destroyed (docs/canvas.md §14.4 A)
            raise PermissionDeniedError(
                f"{what}: Canvas refused the link ({response.status_code}) and the pairing code is used up",
                advice="the parent and the student share no root account where the token's role has 'Users - manage "
                "observers'; check both accounts in Canvas (the next run asks for a new code)",
                status=response.status_code,
            )
        CANVAS.check(response, what)
        _check_link(json_or_none(response), student_id, what)


def _login_taken(response: requests.Response) -> bool:
    """``errors.pseudonym.unique_id[].type == "taken"`` (docs/canvas.md §14.1, §17.15)."""
    body = json_or_none(response)
    errors = body.get("errors") if isinstance(body, dict) else None
    pseudonym = errors.get("pseudonym") if isinstance(errors, dict) else None
    unique_id = pseudonym.get("unique_id") if isinstance(pseudonym, dict) else None
    return isinstance(unique_id, list) and any(isinstance(e, dict) and e.get("type") == "taken" for e in unique_id)


def _check_link(body: Any, student_id: str, what: str) -> None:
    """A link counts only when Canvas names the student and at least one root account it was made in:
    an empty ``observation_link_root_account_ids`` means no link was made (docs/canvas.md §14.4 A)."""
    if not isinstance(body, dict) or str(body.get("id")) != student_id:
        raise RemoteError(f"{what}: Canvas's answer names another user")
    if not body.get("observation_link_root_account_ids"):
        raise RemoteError(
            f"{what}: Canvas answered 200 but made no link (the parent and the student share no root account)"
        )
