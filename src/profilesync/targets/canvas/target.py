"""Canvas as an avatar target: listing, lookups, the masqueraded preflight and its refusals.

The rest of the adapter is split along its halves: the upload (``upload``), the avatar options and assignment
(``avatars``), the root account (``account``), the listing's rows (``listing``), the preflight's refusals
(``refusals``), user ids in URLs (``ids``) and Canvas's HTTP dialect (``client``); doctor's questions are in
``questions``. Each Canvas behaviour relied on names the canvas-lms file or method; docs/canvas-behaviours.md
lists them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any
from urllib.parse import urljoin

from profilesync.domain import fold_key
from profilesync.engine.model import RemoteUser, SyncRecord, Uploaded
from profilesync.errors import (
    FatalRemoteError,
    NotFoundError,
    PermissionDeniedError,
    QuotaError,
    RemoteError,
)
from profilesync.http import Api
from profilesync.rategate import RateGate
from profilesync.scrub import Scrubber
from profilesync.targets.canvas import account as root
from profilesync.targets.canvas.avatars import ThumbnailLag, avatar_ref
from profilesync.targets.canvas.client import CANVAS, error_message, names_bad_token, parse_json
from profilesync.targets.canvas.ids import user_id_path
from profilesync.targets.canvas.listing import (
    check_first_page,
    list_users_advice,
    listing_params,
    remote_user,
    unknown_account_advice,
    users_path,
)
from profilesync.targets.canvas.refusals import masquerade_breaker, raise_refusal
from profilesync.targets.canvas.upload import UPLOADS_IN_FLIGHT, CanvasUploads, preflight_body

log = logging.getLogger(__name__)


class CanvasTarget(CanvasUploads):
    """The Canvas adapter behind the ``AvatarTarget`` protocol."""

    def __init__(
        self,
        api: Api,
        scrub: Scrubber,
        *,
        account_id: str = "self",
        match: str = "sis_user_id",
        sleep: Callable[[float], None] = time.sleep,
        lock_avatars: bool = False,
    ) -> None:
        """A target on ``api`` (built by ``targets.canvas.build``), hiding ``scrub``'s secrets in its errors;
        ``lock_avatars``: lock every avatar it sets (PROFILESYNC_LOCK_AVATARS, docs/canvas.md §18)."""
        self.api = api
        self.lock_avatars = lock_avatars
        self.base_url = api.base_url  # one spelling: case, port, trailing slash
        self.match = match
        self.account_id = account_id
        self._fold = fold_key(match)
        self._sleep = sleep
        self.scrub = scrub
        self._timeout = api.timeout
        self.uploads_made = 0  # POSTs to the upload host: not metered by Canvas's API throttle
        self._masquerade = masquerade_breaker()
        self._lock = threading.Lock()
        self._thumbnail_lag = ThumbnailLag()
        self._upload_gate = RateGate(min(UPLOADS_IN_FLIGHT, api.gate.max_in_flight))  # the upload host's "slow down"
        self._shown_names: dict[str, str | None] = {}  # user id -> name of the file they show (own_avatars)
        self.users_path = users_path(account_id)
        self.account = root.CanvasAccount(self.api)

    @property
    def target_id(self) -> str:
        """The history's name for this Canvas: its root account's uuid, read once per run (not the URL's spelling)."""
        with self._no_secrets():
            return self.account.root().target_id

    def read_account_early(self) -> None:
        """Start the root account's read now, beside whatever comes before ``target_id`` (``account``)."""
        self.account.read_root_early()

    def before_writes(self) -> None:
        """Stop (exit 3) before the first write when the token lacks the root-account rights every write needs."""
        with self._no_secrets():
            self.account.require_write_rights()

    def _no_secrets(self) -> AbstractContextManager[None]:
        """Whatever Canvas echoed into an error (a proxy may quote the Authorization header), the token never
        leaves the adapter in it: errors reach stdout, the history and stderr, not only the filtered logs."""
        return self.scrub.errors_hidden()

    @contextmanager
    def _listing_is_vital(self) -> Iterator[None]:
        """Without the users there is nothing to plan: a listing (or lookup) that fails stops the run (exit 3).

        Found by the reliability tests: a closed port or a server answering 404 used to end with exit 1,
        as if some users had failed, instead of "Canvas unreachable / not Canvas".
        """
        try:
            yield
        except NotFoundError as exc:
            raise FatalRemoteError(
                f"Canvas has no such account or endpoint: {exc.message}",
                advice=unknown_account_advice(self.api.base_url, self.account_id),
            ) from None
        except PermissionDeniedError as exc:
            raise FatalRemoteError(
                f"Canvas refused to list the users: {exc.message}", advice=list_users_advice(self.account_id)
            ) from None
        except RemoteError as exc:
            raise root.vital_failure(exc, self.api.base_url, "Canvas refused to list the users: ") from None

    @property
    def requests_made(self) -> int:
        return self.api.requests_made

    # -- listing and lookup --------------------------------------------------------------------------
    def list_users(self) -> Iterator[RemoteUser]:
        """:calls: ``GET /api/v1/accounts/:account_id/users?include[]=avatar_url&sort=id&per_page=100``.

        Bookmark pages (``UsersController#api_index``); see profilesync.targets.canvas.listing.
        """
        checked = False
        what = "listing the account's users"
        with self._no_secrets(), self._listing_is_vital():
            for page in self.api.paginate(self.users_path, what=what, params=listing_params(self.match)):
                if not checked:
                    check_first_page(page, self.match)
                    checked = True
                for raw in page:
                    yield self._remote_user(raw)

    def find_user(self, key: str) -> RemoteUser | None:
        """:calls: ``GET /api/v1/users/sis_user_id:<key>`` (or the match field's form); email searches."""
        with self._no_secrets(), self._listing_is_vital():
            return self._find_user(key)

    def _find_user(self, key: str) -> RemoteUser | None:
        path = user_id_path(self.match, key)
        if path is None:
            return self._search_user(key)
        try:
            raw = self.api.json("GET", f"/api/v1/users/{path}", what=f"looking up user {key!r}")
        except NotFoundError:
            # users_controller.rb#api_show answers 404 for a user the token may not read, too.
            if self.account.users_unreadable():
                raise root.unreadable_users_error(f"looking up user {key!r}") from None
            return None
        if not isinstance(raw, dict):
            return None
        # One user alone cannot tell "Canvas hides this user's avatar_url" from "avatars are off": stays fatal.
        check_first_page([raw], self.match)
        return self._remote_user(raw)

    def _search_user(self, key: str) -> RemoteUser | None:
        """:calls: ``GET /api/v1/accounts/:id/users?search_term=<email>`` filtered to the exact, folded key."""
        if len(key) < 3:
            return None
        params: list[tuple[str, Any]] = [("search_term", key), ("include[]", "avatar_url"), ("include[]", "email")]
        what = f"searching for user {key!r}"
        for page in self.api.paginate(self.users_path, what=what, params=params):
            check_first_page(page, self.match)
            for raw in page:
                user = self._remote_user(raw)
                if user.key == self._fold(key):
                    return user
        return None

    def _remote_user(self, raw: dict[str, Any]) -> RemoteUser:
        return remote_user(raw, self.match, self._fold)

    # -- setting avatars -----------------------------------------------------------------------------
    def upload_avatar(self, user: RemoteUser, image: bytes, previous: SyncRecord | None = None) -> Uploaded:
        """Upload as the user under the name they do not show, then assign and verify as the admin."""
        with self._no_secrets(), self._assign_advice():
            return self._upload_and_assign(user, image, previous)

    def reassign_avatar(self, user: RemoteUser, record: SyncRecord) -> Uploaded | None:
        """Put our earlier upload back if it is still among the user's avatar options."""
        if not record.file_id:
            return None
        with self._no_secrets(), self._assign_advice():
            found = self._assign(
                user, record.file_id, record.file_uuid, name=record.file_name, poll=False, locked=record.locked
            )
            if found is None and record.avatar_ref is None:
                self._wait_for_unfinished(user, record)  # raises AvatarPending while its thumbnail is due
            return found

    @contextmanager
    def _assign_advice(self) -> Iterator[None]:
        """Name the permission a refused avatar read or PUT needs (``ProfileController#profile_pics``,
        ``UsersController#update``; ``User#set_policy`` grants ``update_avatar`` with ``manage_user_logins``): when
        it is missing every user fails this way, and the executor's breaker stops the run with this advice."""
        try:
            yield
        except PermissionDeniedError as exc:
            exc.advice = exc.advice or (
                "the token's admin role needs 'Users - manage login details' to read avatar options and set avatars"
            )
            raise

    def _preflight(self, user: RemoteUser, size: int, name: str, folder_id: str | None = None) -> dict[str, Any]:
        """:calls: ``POST /api/v1/users/self/files?as_user_id=<id>`` — admins upload only by masquerading
        (``AuthenticationMethods#load_user``, ``User#can_masquerade?``)."""
        what = f"preparing the upload for user {user.user_id}"
        response = self.api.request(
            "POST",
            "/api/v1/users/self/files",
            what=what,
            params=[("as_user_id", user.user_id)],
            data=preflight_body(name, size, folder_id),
            # a repeated preflight only leaves an invisible pending attachment behind
            # (lib/api/v1/attachment.rb#api_attachment_preflight)
            retry_unsafe=True,
        )
        # A bad token is not a refused masquerade: Canvas's check below makes it fatal with token advice.
        if response.status_code in (401, 403) and not names_bad_token(response):
            raise_refusal(user.user_id, response, self._masquerade)  # one user's refusal, told apart by its body
        if response.status_code == 400 and "quota" in error_message(response).lower():
            raise QuotaError(
                f"user {user.user_id}'s Canvas file quota is full ({error_message(response)})",
                advice="free space in the user's files or raise their quota, then run again",
            )
        CANVAS.check(response, what)
        self._masquerade.proven()
        try:
            body = parse_json(response)
        except ValueError:  # not JSON: reported below as an answer without upload_url, not a crash
            body = None
        if not isinstance(body, dict) or "upload_url" not in body:
            raise RemoteError(f"{what}: Canvas's answer has no upload_url")
        return body

    # -- the review page ----------------------------------------------------------------------------------
    def fetch_avatar_image(self, url: str, max_bytes: int = 5_000_000) -> bytes | None:
        """:calls: ``GET <avatar_url>`` — the bytes of a user's current avatar, for the review page.

        Only an avatar on the Canvas host itself is fetched with the token; the redirect Canvas answers with
        (to S3 or inst-fs) is followed without it. None for the default silhouette and for any other host
        (a CDN, gravatar): the token never leaves Canvas.
        """
        if avatar_ref(url) is None or not self.api.same_origin(url):
            return None
        what = "fetching a current avatar"
        response = self.api.request("GET", url, what=what)
        for _hop in range(3):
            location = response.headers.get("Location")
            if response.status_code not in (301, 302, 303, 307, 308) or not location:
                break
            location = urljoin(response.url, location)
            if self.api.same_origin(location):
                response = self.api.request("GET", location, what=what)
            else:
                response = self.api.session.get(location, timeout=self._timeout, allow_redirects=False)
        if response.status_code != 200:
            raise RemoteError(f"{what}: HTTP {response.status_code}", status=response.status_code)
        if len(response.content) > max_bytes:
            raise RemoteError(f"{what}: larger than {max_bytes} bytes")
        return response.content
