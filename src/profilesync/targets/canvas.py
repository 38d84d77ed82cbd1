"""Canvas as an avatar target: listing, lookups, the masqueraded two-phase upload, avatar assignment.

Every vendor quirk lives here, each with the canvas-api.md section that documents it.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

import requests

from profilesync.config import Secret, fold_key
from profilesync.engine.model import RemoteUser, SyncRecord, Uploaded
from profilesync.errors import (
    FatalRemoteError,
    NotFoundError,
    PermissionDeniedError,
    ProfilesyncError,
    QuotaError,
    RemoteError,
    TransientError,
    hide_secrets,
)
from profilesync.http import (
    BAD_TOKEN,
    Api,
    RateGate,
    Retry,
    error_message,
    make_session,
    parse_json,
    raise_for_status,
    redact_url,
)
from profilesync.targets import canvas_account as root
from profilesync.targets.canvas_listing import (
    MATCH_JSON_FIELD as MATCH_JSON_FIELD,  # re-exported: doctor imports it from here
)
from profilesync.targets.canvas_listing import (
    check_first_page,
    hidden_assignment,
    listing_params,
    remote_user,
)
from profilesync.targets.canvas_refusals import MasqueradeEvidence, raise_refusal

log = logging.getLogger(__name__)

#: one stable name per user, whatever the source format, so ``on_duplicate=overwrite`` replaces the
#: previous upload instead of piling files up in "profile pictures" (canvas-api.md §12.5)
AVATAR_FILE_NAME = "profilesync-avatar.jpg"
PROFILE_PICTURES = "profile pictures"
NO_AVATAR_SUFFIX = "/images/messages/avatar-50.png"  # §9: detect by path, the host may be a CDN
THUMBNAIL = re.compile(r"/images/thumbnails/(\d+)/([^/?#]+)")
CONFIRM_PATH = re.compile(r"/api/v1/files/(\d+)/create_success")
# The lookup prefix for /users/:id per match mode (§7).
LOOKUP_PREFIX = {"sis_user_id": "sis_user_id:", "login_id": "sis_login_id:", "integration_id": "sis_integration_id:"}
# Thumbnails lag behind uploads on local/S3 storage (§10, §17.6): poll the avatar options this often.
THUMBNAIL_POLL_DELAYS_S = (0.0, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 5.0, 8.0)
# Whole uploads (preflight + bytes + finish) redone when the upload host fails: as many tries as an API
# request gets (http.Retry), so a flaky inst-fs/S3 is no likelier to fail a user than a flaky Canvas.
UPLOAD_ATTEMPTS = 5
# A confirm whose file reads back 404 (still pending, so the confirm did not happen) is sent once more.
CONFIRM_ATTEMPTS = 2


def avatar_ref(url: str | None) -> str | None:
    """The vendor-neutral identity of an avatar URL: ``attachment:<id>/<uuid>``, the URL itself, or None."""
    if not url:
        return None
    path = urlsplit(url).path
    if path.endswith(NO_AVATAR_SUFFIX):
        return None
    match = THUMBNAIL.search(path)
    return f"attachment:{match[1]}/{match[2]}" if match else url


def user_id_path(match: str, key: str) -> str | None:
    """The ``/users/:id`` form for a key (§7), or None when the match field has no direct lookup (email)."""
    if match == "id":
        return key if key.isdigit() else None
    prefix = LOOKUP_PREFIX.get(match)
    if prefix is None:
        return None
    if key.strip().lower().endswith(".json"):
        # Canvas eats a trailing ".json" as the format, and requests turns %2E back into "." — the
        # deprecated-but-supported hex form sidesteps both (§7, DESIGN.md §5).
        return f"hex:{prefix}{key.encode('utf-8').hex()}"
    return prefix + quote(key, safe="")


class CanvasTarget:
    """The Canvas adapter behind the ``AvatarTarget`` protocol."""

    def __init__(
        self,
        base_url: str,
        token: Secret,
        *,
        account_id: str = "self",
        match: str = "sis_user_id",
        max_in_flight: int = 16,
        timeout_s: float = 60.0,
        retry: Retry | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = base_url = root.normalise_base_url(base_url)  # one spelling: case, port, trailing slash
        self.match = match
        self.account_id = account_id
        self._fold = fold_key(match)
        self._sleep = sleep
        session = make_session(pool_size=max(32, max_in_flight * 2))
        self.api = Api(
            base_url,
            lambda: f"Bearer {token.reveal()}",
            session=session,
            gate=RateGate(max_in_flight),
            retry=retry,
            timeout_s=timeout_s,
        )
        self._token = token
        self._timeout = (10.0, timeout_s)
        self.uploads_made = 0  # POSTs to the upload host: not metered by Canvas's API throttle
        self._masquerade = MasqueradeEvidence()
        self._lock = threading.Lock()
        self._thumbnail_lag = ThumbnailLag()
        self._users_path = f"/api/v1/accounts/{quote(account_id, safe=':')}/users"
        self.account = root.CanvasAccount(self.api)

    @property
    def target_id(self) -> str:
        """The history's name for this Canvas: its root account's uuid, read once per run (not the URL's spelling)."""
        with self._no_secrets():
            return self.account.root().target_id

    def before_writes(self) -> None:
        """Stop (exit 3) before the first write when the token lacks the root-account rights every write needs."""
        with self._no_secrets():
            self.account.require_write_rights()

    @contextmanager
    def _no_secrets(self) -> Iterator[None]:
        """Whatever Canvas echoed into an error (a proxy may quote the Authorization header), the token never
        leaves the adapter in it: errors reach stdout, the history and stderr, not only the filtered logs."""
        try:
            yield
        except ProfilesyncError as exc:
            hide_secrets(exc, (self._token.reveal(),))
            raise

    @contextmanager
    def _listing_is_vital(self) -> Iterator[None]:
        """Without the users there is nothing to plan: a listing (or lookup) that fails stops the run (exit 3).

        Found by the reliability tests: a closed port or a server answering 404 used to end with exit 1,
        as if some users had failed, instead of "Canvas unreachable / not Canvas".
        """
        try:
            yield
        except TransientError as exc:
            raise FatalRemoteError(
                f"Canvas is unreachable: {exc.message}",
                advice=exc.advice or f"check the network and that {self.api.base_url} is up",
            ) from None
        except NotFoundError as exc:
            raise FatalRemoteError(
                f"Canvas has no such account or endpoint: {exc.message}",
                advice=f"check that {self.api.base_url} is your Canvas address and CANVAS_ACCOUNT_ID "
                f"({self.account_id}) an account the token's admin belongs to",
            ) from None
        except PermissionDeniedError as exc:
            raise FatalRemoteError(
                f"Canvas refused to list the users: {exc.message}",
                advice=f"the token's admin role needs 'Users - view list' on account {self.account_id}",
            ) from None
        except RemoteError as exc:
            raise FatalRemoteError(
                f"Canvas refused to list the users: {exc.message}",
                advice=exc.advice or f"check that {self.api.base_url} is your Canvas address",
            ) from None

    @property
    def requests_made(self) -> int:
        return self.api.requests_made

    # -- listing and lookup --------------------------------------------------------------------------
    def list_users(self) -> Iterator[RemoteUser]:
        """:calls: ``GET /api/v1/accounts/:account_id/users?include[]=avatar_url&sort=id&per_page=100``.

        Bookmark pages (``UsersController#api_index``); see profilesync.targets.canvas_listing.
        """
        checked = False
        what = "listing the account's users"
        with self._no_secrets(), self._listing_is_vital():
            for page in self.api.paginate(self._users_path, what=what, params=listing_params(self.match)):
                if not checked:
                    check_first_page(page, self.match)
                    checked = True
                for raw in page:
                    yield self._remote_user(raw)

    def find_user(self, key: str) -> RemoteUser | None:
        """:calls: ``GET /api/v1/users/sis_user_id:<key>`` (or the match field's form, §7); email searches."""
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
        for page in self.api.paginate(self._users_path, what=what, params=params):
            check_first_page(page, self.match)
            for raw in page:
                user = self._remote_user(raw)
                if user.key == self._fold(key):
                    return user
        return None

    def _remote_user(self, raw: dict[str, Any]) -> RemoteUser:
        return remote_user(raw, self.match, self._fold, avatar_ref)

    # -- setting avatars -----------------------------------------------------------------------------
    def upload_avatar(self, user: RemoteUser, image: bytes) -> Uploaded:
        """Upload as the user, then assign and verify as the admin (§16.1)."""
        with self._no_secrets():
            file_id, file_uuid = self._upload(user, image)
            with self._assign_advice():
                uploaded = self._assign(user, file_id, file_uuid, poll=True)
        assert uploaded is not None  # poll=True raises instead of returning None
        return uploaded

    def reassign_avatar(self, user: RemoteUser, record: SyncRecord) -> Uploaded | None:
        """Put our earlier upload back if it is still among the user's avatar options."""
        if not record.file_id:
            return None
        with self._no_secrets(), self._assign_advice():
            return self._assign(user, record.file_id, record.file_uuid, poll=False)

    @contextmanager
    def _assign_advice(self) -> Iterator[None]:
        """Name the permission a refused avatar read or PUT needs (§10, §11.1): when it is missing every user
        fails this way, and the executor's breaker stops the run with this advice."""
        try:
            yield
        except PermissionDeniedError as exc:
            exc.advice = exc.advice or (
                "the token's admin role needs 'Users - manage login details' to read avatar options and set avatars"
            )
            raise

    def _upload(self, user: RemoteUser, image: bytes) -> tuple[str, str | None]:
        """Preflight + bytes + finish, redone from a fresh preflight when the upload host fails.

        Redoing is safe: the stable file name with ``on_duplicate=overwrite`` replaces any copy a lost
        answer left behind, so a user never ends with two files for one photo.
        """
        for attempt in range(UPLOAD_ATTEMPTS):
            preflight = self._preflight(user, len(image))
            try:
                return self._send_bytes(user, preflight, image)
            except TransientError:
                if attempt == UPLOAD_ATTEMPTS - 1:
                    raise
                log.debug("upload for user %s failed; starting over with a new preflight", user.user_id)
                self._sleep(0.5 * 2**attempt)
        raise AssertionError("unreachable")

    def _preflight(self, user: RemoteUser, size: int) -> dict[str, Any]:
        """:calls: ``POST /api/v1/users/self/files?as_user_id=<id>`` — admins upload only by masquerading (§12.1)."""
        what = f"preparing the upload for user {user.user_id}"
        response = self.api.request(
            "POST",
            "/api/v1/users/self/files",
            what=what,
            params=[("as_user_id", user.user_id)],
            data={
                "name": AVATAR_FILE_NAME,
                "size": size,
                "content_type": "image/jpeg",
                "parent_folder_path": PROFILE_PICTURES,
                "on_duplicate": "overwrite",
            },
            # a repeated preflight only leaves an invisible pending attachment behind (§12.2)
            retry_unsafe=True,
        )
        # A bad token is not a refused masquerade: raise_for_status below makes it fatal with token advice.
        if response.status_code in (401, 403) and not BAD_TOKEN.search(error_message(response)):
            raise_refusal(user.user_id, response, self._masquerade)  # one user's refusal, told apart by its body
        if response.status_code == 400 and "quota" in error_message(response).lower():
            raise QuotaError(
                f"user {user.user_id}'s Canvas file quota is full ({error_message(response)})",
                advice="free space in the user's files or raise their quota, then run again",
            )
        raise_for_status(response, what)
        self._masquerade.worked()
        try:
            body = parse_json(response)
        except ValueError:  # not JSON: reported below as an answer without upload_url, not a crash
            body = None
        if not isinstance(body, dict) or "upload_url" not in body:
            raise RemoteError(f"{what}: Canvas's answer has no upload_url")
        return body

    def _send_bytes(self, user: RemoteUser, preflight: dict[str, Any], image: bytes) -> tuple[str, str | None]:
        """POST the bytes to ``upload_url`` — never with the token, never following redirects (§12.3)."""
        upload_url = str(preflight["upload_url"])
        fields = [(str(k), str(v)) for k, v in (preflight.get("upload_params") or {}).items()]
        file_param = str(preflight.get("file_param") or "file")
        what = f"uploading the photo of user {user.user_id}"
        try:
            with self._lock:
                self.uploads_made += 1
            # A bare requests call: the shared session carries no Authorization header, and this one
            # must not either, whether the upload host is inst-fs, S3 or Canvas's own /files_api.
            response = self.api.session.post(
                upload_url,
                data=fields,
                files=[(file_param, (AVATAR_FILE_NAME, image, "image/jpeg"))],
                timeout=self._timeout,
                allow_redirects=False,
            )
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise TransientError(f"{what}: the upload host did not answer ({type(exc).__name__})") from None
        log.debug("POST %s -> %s", redact_url(upload_url), response.status_code)
        if response.status_code in (301, 302, 303, 307, 308):
            return self._confirm(user, response.headers.get("Location", ""))
        if response.status_code >= 500:
            raise TransientError(f"{what}: the upload host answered {response.status_code}")
        if response.status_code >= 400:
            message = error_message(response)
            if "quota" in message.lower():
                raise QuotaError(f"user {user.user_id}'s Canvas file quota is full ({message})")
            raise RemoteError(f"{what}: the upload host refused it ({message})", status=response.status_code)
        try:
            body = parse_json(response) if response.content else {}
        except ValueError:  # an HTML or XML page: only the Location header can still name the file
            body = {}
        if isinstance(body, dict) and body.get("id") is not None:
            return str(body["id"]), body.get("uuid")
        # inst-fs may answer with only a location (§12.3): ask Canvas for the file.
        location = (body or {}).get("location") if isinstance(body, dict) else None
        location = location or response.headers.get("Location")
        if not location:
            raise RemoteError(f"{what}: the upload host's answer names no file")
        return self._file(str(location), what)

    def _confirm(self, user: RemoteUser, location: str) -> tuple[str, str | None]:
        """:calls: ``POST /api/v1/files/:id/create_success`` — one-shot (§12.4, §17.8).

        A failed or lost confirm is not blindly repeated (a second confirm is a 400): we ask for the file
        instead. Only when Canvas shows no such file — still pending, so the confirm never took effect — is it
        sent again, and if that fails too the whole upload starts over (TransientError).
        """
        what = f"confirming the upload of user {user.user_id}"
        if not self.api.same_origin(location):
            raise RemoteError(f"{what}: the upload host redirected to an unexpected host")
        match = CONFIRM_PATH.search(urlsplit(location).path)
        for attempt in range(CONFIRM_ATTEMPTS):
            try:
                body = self.api.json("POST", location, what=what)
            except (TransientError, RemoteError) as exc:
                if match is None or isinstance(exc, (PermissionDeniedError, QuotaError)):
                    raise
                if "quota" in str(exc).lower():
                    raise QuotaError(f"user {user.user_id}'s Canvas file quota is full ({exc})") from None
                log.debug("confirm failed (%s); checking whether the file exists", exc)
                try:
                    return self._file(f"/api/v1/files/{match[1]}", what)
                except NotFoundError:
                    # Found by the reliability tests: a 5xx or dropped confirm that never reached Canvas left the
                    # file pending (GET /files/:id is 404 until confirmed, §12.6), and the user used to fail
                    # with "not found". The confirm did not happen, so it may be sent again.
                    if attempt == CONFIRM_ATTEMPTS - 1:
                        raise TransientError(f"{what}: Canvas did not confirm the upload ({exc.message})") from None
                    continue
            if not isinstance(body, dict) or body.get("id") is None:
                raise RemoteError(f"{what}: Canvas's answer names no file")
            return str(body["id"]), body.get("uuid")
        raise AssertionError("unreachable")

    def _file(self, location: str, what: str) -> tuple[str, str | None]:
        """:calls: ``GET /api/v1/files/:id`` (§12.6)."""
        if not self.api.same_origin(location) and location.startswith("http"):
            raise RemoteError(f"{what}: the file location points to an unexpected host")
        body = self.api.json("GET", location, what=what)
        if not isinstance(body, dict) or body.get("id") is None:
            raise RemoteError(f"{what}: Canvas did not return the uploaded file")
        if body.get("upload_status") not in (None, "success"):
            raise TransientError(f"{what}: the upload is {body.get('upload_status')}")
        return str(body["id"]), body.get("uuid")

    def _assign(self, user: RemoteUser, file_id: str, file_uuid: str | None, *, poll: bool) -> Uploaded | None:
        """Find our file among the avatar options, PUT its token as the admin, and verify (§10, §11).

        The PUT is made without masquerading so the avatar becomes ``approved`` and replaces a locked one
        (§17.4); a 200 proves nothing, so the answer's ``avatar_url`` must name our file (§17.2).
        """
        option = self._avatar_option(user, file_id, poll=poll)
        if option is None:
            return None
        what = f"setting the avatar of user {user.user_id}"
        for attempt in range(2):
            body = self.api.json(
                "PUT", f"/api/v1/users/{user.user_id}", what=what, data={"user[avatar][token]": option["token"]}
            )
            if not user.avatar_known:  # Canvas hides this user's avatar_url (see canvas_listing)
                hidden = hidden_assignment(body, option, file_id, file_uuid, avatar_ref)
                if hidden is not None:
                    return hidden
            url = body.get("avatar_url") if isinstance(body, dict) else None
            ref = avatar_ref(url)
            if url and ref and f"/images/thumbnails/{file_id}/" in urlsplit(url).path:
                uuid = file_uuid or option.get("uuid")
                return Uploaded(file_id=file_id, file_uuid=uuid, avatar_url=url, avatar_ref=ref)
            if attempt == 0:
                # A silent no-op (stale token, thumbnail not ready): fetch a fresh token once.
                refreshed = self._avatar_option(user, file_id, poll=poll)
                if refreshed is None:
                    return None  # reassigning: our file left the options in between; the caller uploads
                option = refreshed
        raise RemoteError(
            f"{what}: Canvas answered 200 but the avatar did not change",
            advice="the avatar may be locked, or avatars may need approval (enabled_pending) on this account",
        )

    def _avatar_option(self, user: RemoteUser, file_id: str, *, poll: bool) -> dict[str, Any] | None:
        """:calls: ``GET /api/v1/users/:id/avatars`` — polled while the new file's thumbnail is generated.

        The first look waits for the lag learned from earlier uploads, so it usually finds the file and
        costs one request instead of several.
        """
        delays = (self._thumbnail_lag.estimate, *THUMBNAIL_POLL_DELAYS_S[1:]) if poll else (0.0,)
        started = time.monotonic()
        for tries, delay in enumerate(delays, start=1):
            if delay:
                self._sleep(delay)
            option = self._find_option(user, file_id)
            if option is not None:
                if poll:
                    self._thumbnail_lag.observe(time.monotonic() - started, first_try=tries == 1)
                return option
        if not poll:
            return None
        raise TransientError(
            f"the photo of user {user.user_id} was uploaded but never appeared among the avatar options",
            advice="Canvas may be slow generating thumbnails; the next run will finish it",
        )

    def _find_option(self, user: RemoteUser, file_id: str) -> dict[str, Any] | None:
        options = self.api.json("GET", f"/api/v1/users/{user.user_id}/avatars", what="reading avatar options")
        for option in options if isinstance(options, list) else ():
            if not isinstance(option, dict) or option.get("type") != "attachment" or not option.get("token"):
                continue
            if str(option.get("id")) == str(file_id):
                return dict(option)
        return None

    # -- probes for `profilesync doctor` and the review page: raw answers, judged by the caller ---------------
    def probe_self(self) -> requests.Response:
        """:calls: ``GET /api/v1/users/self`` — whose token this is; also proves the URL is Canvas (§8.1)."""
        return self.api.request("GET", "/api/v1/users/self", what="asking Canvas whose token this is")

    def probe_masquerade(self, user_id: str) -> requests.Response:
        """:calls: ``GET /api/v1/users/self?as_user_id=<id>`` — a harmless read as another user (§1.2)."""
        what = f"acting as user {user_id}"
        return self.api.request("GET", "/api/v1/users/self", what=what, params=[("as_user_id", user_id)])

    def probe_users_page(self, per_page: int = 100) -> requests.Response:
        """:calls: ``GET /api/v1/accounts/:account_id/users?include[]=avatar_url&sort=id`` — the first page only,
        the same one ``list_users`` judges."""
        params = [*listing_params(self.match), ("per_page", per_page)]
        return self.api.request("GET", self._users_path, what="listing the account's users", params=params)

    def fetch_avatar_image(self, url: str, max_bytes: int = 5_000_000) -> bytes | None:
        """:calls: ``GET <avatar_url>`` — the bytes of a user's current avatar (§9), for the review page.

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


class ThumbnailLag:
    """A running estimate of how long new uploads take to appear among the avatar options (§10).

    Found after polling: wait a little longer than that next time. Found at the first look: creep the
    wait down again, since the first look cannot tell how much of the wait was needed.
    """

    MAX_S = 5.0

    def __init__(self) -> None:
        self.estimate = 0.0
        self._lock = threading.Lock()

    def observe(self, seconds: float, *, first_try: bool) -> None:
        with self._lock:
            if first_try:
                self.estimate *= 0.97
            else:
                # max, not a product: many uploads finishing together must not compound the estimate
                self.estimate = min(self.MAX_S, max(self.estimate, seconds * 1.2))
