"""Canvas uploads: the masqueraded two-phase upload, the avatar options, assignment and verification.

Split out of ``canvas.py``, which keeps the listing, the lookups and the preflight's refusal handling.
Each Canvas behaviour relied on here cites the canvas-lms source; ``docs/canvas-behaviours.md`` lists them.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import requests

from profilesync.engine.model import RemoteUser, SyncRecord, Uploaded
from profilesync.errors import NotFoundError, PermissionDeniedError, QuotaError, RemoteError, TransientError
from profilesync.http import Api, RateGate, error_message, is_throttled, parse_json, redact_url, remaining_of
from profilesync.targets.base import AvatarPending

log = logging.getLogger(__name__)

# Two names per user, used in turn. ``on_duplicate=overwrite`` destroys the same-named file in the folder
# (Attachment#handle_duplicates), and destroying a file clears an avatar showing it
# (Attachment#destroy -> User#clear_avatar_image_url_with_uuid) long before the new file has a thumbnail.
# Overwriting only the name *not* shown never blanks a picture, and still keeps at most two files of ours.
# The first name is the single one earlier versions used, so users they synced migrate with no third file.
OUR_FILE_NAMES = ("profilesync-avatar.jpg", "profilesync-avatar-b.jpg")
PROFILE_PICTURES = "profile pictures"
THUMBNAIL = re.compile(r"/images/thumbnails/(\d+)/")
CONFIRM_PATH = re.compile(r"/api/v1/files/(\d+)/create_success")
# Thumbnails lag behind uploads on local/S3 storage: poll the avatar options this often (≈25 s in all).
THUMBNAIL_POLL_DELAYS_S = (0.0, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 5.0, 8.0)
# Whole uploads (preflight + bytes + finish) redone when the upload host fails: as many tries as an API
# request gets (http.Retry), so a flaky inst-fs/S3 is no likelier to fail a user than a flaky Canvas.
UPLOAD_ATTEMPTS = 5
# A confirm whose file reads back 404 (still pending, so the confirm did not happen) is sent once more.
CONFIRM_ATTEMPTS = 2
# Uploads in flight at most; the gate lowers it when the upload host throttles.
UPLOADS_IN_FLIGHT = 8
# A user fails for throttling only after this long of continuous "slow down" from the upload host.
UPLOAD_THROTTLE_WAIT_S = 600.0


def is_our_file_name(name: str | None) -> bool:
    return name in OUR_FILE_NAMES


def shown_file_id(user: RemoteUser) -> str | None:
    """The attachment id of the avatar the user shows (``/images/thumbnails/<id>/<uuid>``), or None."""
    match = THUMBNAIL.search(urlsplit(user.avatar_url or "").path)
    return match[1] if match else None


def name_for_upload(user: RemoteUser, previous: SyncRecord | None, shown_name: str | None) -> str:
    """The one of our two names whose file the user does not show, so overwriting it blanks nothing.

    ``shown_name`` is the name of the file the user shows when it was looked up (None: not looked up, or
    not a file). ``previous`` is the history: its file is ours, under the name it records — records from
    before the two names carry none and mean the single old name, which is our first one.
    """
    if is_our_file_name(shown_name):
        return _other(str(shown_name))
    if previous is not None and previous.file_id and previous.user_id == user.user_id:
        ours = str(previous.file_name) if is_our_file_name(previous.file_name) else OUR_FILE_NAMES[0]
        # Our last file is on display: use the other name. It is not (a lagging thumbnail, the user's own
        # pick): its name is free to overwrite, and reusing it keeps the count of our files at two.
        return _other(ours) if shown_file_id(user) == previous.file_id else ours
    return OUR_FILE_NAMES[0]


def _other(name: str) -> str:
    return OUR_FILE_NAMES[1] if name == OUR_FILE_NAMES[0] else OUR_FILE_NAMES[0]


def preflight_body(name: str, size: int, folder_id: str | None) -> dict[str, Any]:
    """The preflight's fields (lib/api/v1/attachment.rb#api_attachment_preflight). The folder goes by path
    (Folder.assert_path finds or creates "my files/profile pictures") unless Canvas showed us that it looks
    for avatars in another folder of that name; Canvas refuses a path and an id together."""
    body: dict[str, Any] = {"name": name, "size": size, "content_type": "image/jpeg", "on_duplicate": "overwrite"}
    if folder_id is None:
        body["parent_folder_path"] = PROFILE_PICTURES
    else:
        body["parent_folder_id"] = folder_id
    return body


def retry_after_s(response: requests.Response) -> float | None:
    """``Retry-After`` in seconds (a number or an HTTP date), or None."""
    value = (response.headers.get("Retry-After") or "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def upload_host_throttled(response: requests.Response) -> bool:
    """ "Slow down" from the upload host. Local storage (``/files_api``) is Canvas itself, throttled by
    RequestThrottle under ``ip:<address>`` (no token) with its 403 "Rate Limit Exceeded"
    (app/middleware/request_throttle.rb#client_identifiers, #rate_limit_exceeded); inst-fs answers 429, or
    503 with Retry-After. None of them ran the upload, so the same upload can be sent again."""
    return is_throttled(response) or (response.status_code == 503 and retry_after_s(response) is not None)


@dataclass(frozen=True)
class Stored:
    """A file the upload host stored: its Canvas id, uuid and folder."""

    file_id: str
    uuid: str | None
    folder_id: str | None


class WrongFolder(Exception):
    """Canvas takes avatars from another "profile pictures" folder than the one the file went to."""

    def __init__(self, folder_id: str) -> None:
        super().__init__(folder_id)
        self.folder_id = folder_id


class ThumbnailLag:
    """A running estimate of how long new uploads take to appear among the avatar options.

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


class CanvasUploads:
    """The upload half of ``CanvasTarget`` (a mixin: the target provides the API, the preflight and state)."""

    api: Api
    uploads_made: int
    _lock: threading.Lock
    _sleep: Callable[[float], None]
    _timeout: tuple[float, float]
    _thumbnail_lag: ThumbnailLag
    _upload_gate: RateGate
    _shown_names: dict[str, str | None]

    def _preflight(self, user: RemoteUser, size: int, name: str, folder_id: str | None = None) -> dict[str, Any]:
        raise NotImplementedError  # CanvasTarget's, next to its refusal handling

    # -- the whole upload ----------------------------------------------------------------------------
    def _upload_and_assign(self, user: RemoteUser, image: bytes, previous: SyncRecord | None) -> Uploaded:
        known = previous is not None and previous.file_id and previous.user_id == user.user_id
        if not known and shown_file_id(user) is not None and user.user_id not in self._shown_names:
            # No history of this user (a new database): learn the shown file's name so it is never the one
            # overwritten. One request, only for users who show a file and whom the history does not know.
            self.own_avatars([user])
        name = name_for_upload(user, previous, self._shown_names.get(user.user_id))
        stored = self._upload(user, image, name)
        try:
            uploaded = self._assign(user, stored.file_id, stored.uuid, name=name, poll=True, folder_id=stored.folder_id)
        except WrongFolder as wrong:
            # User#profile_pics_folder takes the first active folder named "profile pictures" anywhere, while
            # the path resolves to "my files/profile pictures": put the photo where Canvas looks.
            log.warning(
                "user %s has two 'profile pictures' folders; Canvas shows avatars from folder %s only, "
                "so the photo goes there",
                user.user_id,
                wrong.folder_id,
            )
            stored = self._upload(user, image, name, folder_id=wrong.folder_id)
            uploaded = self._assign(user, stored.file_id, stored.uuid, name=name, poll=True)
        assert uploaded is not None  # poll=True raises AvatarPending instead of returning None
        return uploaded

    def _upload(self, user: RemoteUser, image: bytes, name: str, folder_id: str | None = None) -> Stored:
        """Preflight + bytes + finish, redone from a fresh preflight when the upload host fails.

        Redoing is safe: the same name with ``on_duplicate=overwrite`` replaces any copy a lost answer left
        behind, so a user never ends with two files for one photo.
        """
        for attempt in range(UPLOAD_ATTEMPTS):
            preflight = self._preflight(user, len(image), name, folder_id)
            try:
                return self._send_bytes(user, preflight, image, name)
            except TransientError:
                if attempt == UPLOAD_ATTEMPTS - 1:
                    raise
                log.debug("upload for user %s failed; starting over with a new preflight", user.user_id)
                self._sleep(0.5 * 2**attempt)
        raise AssertionError("unreachable")

    def _send_bytes(self, user: RemoteUser, preflight: dict[str, Any], image: bytes, name: str) -> Stored:
        """POST the bytes to ``upload_url`` — never with the token, never following redirects.

        "Slow down" from the upload host is waited out (its Retry-After honoured) and the same upload sent
        again: it never ran. Uploads in flight are capped by their own gate, which the throttle lowers.
        """
        upload_url = str(preflight["upload_url"])
        fields = [(str(k), str(v)) for k, v in (preflight.get("upload_params") or {}).items()]
        file_param = str(preflight.get("file_param") or "file")
        what = f"uploading the photo of user {user.user_id}"
        throttled_since: float | None = None
        while True:
            try:
                with self._upload_gate as sent_with:
                    with self._lock:
                        self.uploads_made += 1
                    # A bare requests call: the shared session carries no Authorization header, and this one
                    # must not either, whether the upload host is inst-fs, S3 or Canvas's own /files_api.
                    response = self.api.session.post(
                        upload_url,
                        data=fields,
                        files=[(file_param, (name, image, "image/jpeg"))],
                        timeout=self._timeout,
                        allow_redirects=False,
                    )
                    throttled = upload_host_throttled(response)
                    if throttled:
                        pause = self._upload_gate.throttle(remaining_of(response), sent_with)
                    else:
                        self._upload_gate.observe(remaining_of(response))
            except (requests.ConnectionError, requests.Timeout) as exc:
                raise TransientError(f"{what}: the upload host did not answer ({type(exc).__name__})") from None
            log.debug("POST %s -> %s", redact_url(upload_url), response.status_code)
            if not throttled:
                break
            now = time.monotonic()
            throttled_since = throttled_since or now
            if now - throttled_since > UPLOAD_THROTTLE_WAIT_S:
                raise TransientError(f"{what}: the upload host kept asking to slow down for too long")
            wait = max(pause, retry_after_s(response) or 0.0)
            log.debug("the upload host asked to slow down (%s); waiting %.1fs", response.status_code, wait)
            self._sleep(wait)
        if throttled_since is not None and response.status_code == 400:
            # The upload token or policy expired while we waited: a fresh preflight brings a new one.
            raise TransientError(f"{what}: the upload token expired while the upload host was throttling")
        return self._stored(user, response, what)

    def _stored(self, user: RemoteUser, response: requests.Response, what: str) -> Stored:
        """What the upload host's answer says about the new file (inst-fs 201, local/S3 3xx to confirm)."""
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
            return _stored_from(body)
        # inst-fs may answer with only a location: ask Canvas for the file.
        location = (body or {}).get("location") if isinstance(body, dict) else None
        location = location or response.headers.get("Location")
        if not location:
            raise RemoteError(f"{what}: the upload host's answer names no file")
        return self._file(str(location), what)

    def _confirm(self, user: RemoteUser, location: str) -> Stored:
        """:calls: ``POST /api/v1/files/:id/create_success`` — one-shot.

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
                    # file pending (GET /files/:id is 404 until confirmed), and the user used to fail with
                    # "not found". The confirm did not happen, so it may be sent again.
                    if attempt == CONFIRM_ATTEMPTS - 1:
                        raise TransientError(f"{what}: Canvas did not confirm the upload ({exc.message})") from None
                    continue
            if not isinstance(body, dict) or body.get("id") is None:
                raise RemoteError(f"{what}: Canvas's answer names no file")
            return _stored_from(body)
        raise AssertionError("unreachable")

    def _file(self, location: str, what: str) -> Stored:
        """:calls: ``GET /api/v1/files/:id``."""
        if not self.api.same_origin(location) and location.startswith("http"):
            raise RemoteError(f"{what}: the file location points to an unexpected host")
        body = self.api.json("GET", location, what=what)
        if not isinstance(body, dict) or body.get("id") is None:
            raise RemoteError(f"{what}: Canvas did not return the uploaded file")
        if body.get("upload_status") not in (None, "success"):
            raise TransientError(f"{what}: the upload is {body.get('upload_status')}")
        return _stored_from(body)

    # -- avatar options, assignment ------------------------------------------------------------------
    def _assign(
        self,
        user: RemoteUser,
        file_id: str,
        file_uuid: str | None,
        *,
        name: str | None,
        poll: bool,
        folder_id: str | None = None,
    ) -> Uploaded | None:
        """Find our file among the avatar options, PUT its token as the admin, and verify.

        The PUT is made without masquerading so the avatar becomes ``approved`` and replaces a locked one;
        a 200 proves nothing, so the answer's ``avatar_url`` must name our file.
        """
        option = self._avatar_option(user, file_id, file_uuid, name=name, poll=poll, folder_id=folder_id)
        if option is None:
            return None
        what = f"setting the avatar of user {user.user_id}"
        for attempt in range(2):
            body = self.api.json(
                "PUT", f"/api/v1/users/{user.user_id}", what=what, data={"user[avatar][token]": option["token"]}
            )
            url = body.get("avatar_url") if isinstance(body, dict) else None
            if url and f"/images/thumbnails/{file_id}/" in urlsplit(url).path:
                from profilesync.targets.canvas import avatar_ref  # one definition of the ref, in canvas.py

                ref = avatar_ref(url)
                uuid = file_uuid or option.get("uuid")
                return Uploaded(file_id=file_id, file_uuid=uuid, avatar_url=url, avatar_ref=ref, file_name=name)
            if attempt == 0:
                # A silent no-op (stale token, thumbnail not ready): fetch a fresh token once.
                refreshed = self._avatar_option(user, file_id, file_uuid, name=name, poll=poll)
                if refreshed is None:
                    return None  # reassigning: our file left the options in between; the caller uploads
                option = refreshed
        raise RemoteError(
            f"{what}: Canvas answered 200 but the avatar did not change",
            advice="the avatar may be locked, or avatars may need approval (enabled_pending) on this account",
        )

    def _avatar_option(
        self,
        user: RemoteUser,
        file_id: str,
        file_uuid: str | None,
        *,
        name: str | None,
        poll: bool,
        folder_id: str | None = None,
    ) -> dict[str, Any] | None:
        """:calls: ``GET /api/v1/users/:id/avatars`` — polled while the new file's thumbnail is generated.

        The first look waits for the lag learned from earlier uploads, so it usually finds the file and
        costs one request instead of several. Every attachment option is a file of the one folder Canvas
        takes avatars from (User#profile_pics_folder): one in another folder than ours says the upload went
        to a second "profile pictures" folder (``WrongFolder``).
        """
        delays = (self._thumbnail_lag.estimate, *THUMBNAIL_POLL_DELAYS_S[1:]) if poll else (0.0,)
        started = time.monotonic()
        for tries, delay in enumerate(delays, start=1):
            if delay:
                self._sleep(delay)
            options = self._options(user)
            option = next((o for o in options if str(o.get("id")) == str(file_id)), None)
            if option is not None:
                if poll:
                    self._thumbnail_lag.observe(time.monotonic() - started, first_try=tries == 1)
                return option
            elsewhere = {str(o.get("folder_id")) for o in options if o.get("folder_id") is not None}
            if folder_id is not None and elsewhere and folder_id not in elsewhere:
                raise WrongFolder(sorted(elsewhere)[0])
        if not poll:
            return None
        raise AvatarPending(
            f"the photo of user {user.user_id} was uploaded, but Canvas has not made its thumbnail yet: "
            "the user keeps the previous picture",
            uploaded=Uploaded(file_id=file_id, file_uuid=file_uuid, avatar_url=None, avatar_ref=None, file_name=name),
            advice="Canvas is slow generating thumbnails; the next run sets the uploaded photo",
        )

    def _options(self, user: RemoteUser) -> list[dict[str, Any]]:
        """The attachment options with a token (ProfileController#profile_pics, Api::V1::Avatar)."""
        options = self.api.json("GET", f"/api/v1/users/{user.user_id}/avatars", what="reading avatar options")
        return [
            dict(o)
            for o in (options if isinstance(options, list) else ())
            if isinstance(o, dict) and o.get("type") == "attachment" and o.get("token")
        ]

    # -- recognising our own files -------------------------------------------------------------------
    def own_avatars(self, users: list[RemoteUser]) -> set[str]:
        """:calls: ``GET /api/v1/users/:id/avatars`` for each user showing a file: is it one of our names?

        The shown avatar URL is the option's own thumbnail URL, and the options carry each file's
        ``display_name`` (Api::V1::Avatar#avatar_json), so one read per user tells a photo we uploaded
        from one the user picked. The answer is kept for the upload, which must not overwrite that file.
        """
        showing = [u for u in users if shown_file_id(u) is not None]
        unknown = [u for u in showing if u.user_id not in self._shown_names]
        if unknown:
            # Many users at once on a first run with a new history: the API gate bounds the concurrency.
            with ThreadPoolExecutor(max_workers=min(16, len(unknown)), thread_name_prefix="own") as pool:
                for user, name in zip(unknown, pool.map(self._shown_name, unknown), strict=True):
                    self._shown_names[user.user_id] = name
        return {u.user_id for u in showing if is_our_file_name(self._shown_names.get(u.user_id))}

    def _shown_name(self, user: RemoteUser) -> str | None:
        """The display name of the file the user shows, if it is among their avatar options."""
        file_id = shown_file_id(user)
        try:
            found = next((o for o in self._options(user) if str(o.get("id")) == file_id), None)
        except RemoteError as exc:  # unknown stays "not ours": a user's choice is never overridden
            log.info("cannot tell who chose the avatar of user %s: %s", user.user_id, exc)
            return None
        name = found.get("display_name") if found else None
        return str(name) if name is not None else None


def _stored_from(body: dict[str, Any]) -> Stored:
    folder = body.get("folder_id")
    return Stored(str(body["id"]), body.get("uuid"), str(folder) if folder is not None else None)
