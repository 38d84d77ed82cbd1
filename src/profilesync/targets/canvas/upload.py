"""Canvas uploads: the masqueraded two-phase upload (preflight, bytes to the upload host, confirm).

Split out of ``canvas.py``, which keeps the listing, the lookups and the preflight's refusal handling; the
avatar options and assignment are in ``canvas_avatars``. Each Canvas behaviour relied on cites the canvas-lms
source; ``docs/canvas-behaviours.md`` lists them.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import requests
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from profilesync.engine.model import RemoteUser, SyncRecord, Uploaded
from profilesync.engine.ports import AvatarPending
from profilesync.errors import NotFoundError, PermissionDeniedError, QuotaError, RemoteError, TransientError
from profilesync.http import redact_url
from profilesync.rategate import RateGate
from profilesync.targets.canvas.avatars import (
    PROFILE_PICTURES,
    CanvasAvatarOptions,
    WrongFolder,
    name_for_upload,
    our_last_file,
    shown_file_id,
)
from profilesync.targets.canvas.client import error_message, is_throttled, parse_json, remaining_of

log = logging.getLogger(__name__)

CONFIRM_PATH = re.compile(r"/api/v1/files/(\d+)/create_success")
# Whole uploads (preflight + bytes + finish) redone when the upload host fails: as many tries as an API
# request gets (http.Retry), so a flaky inst-fs/S3 is no likelier to fail a user than a flaky Canvas.
UPLOAD_ATTEMPTS = 5
# A confirm whose file reads back 404 (still pending, so the confirm did not happen) is sent once more.
CONFIRM_ATTEMPTS = 2
# Uploads in flight at most; the gate lowers it when the upload host throttles.
UPLOADS_IN_FLIGHT = 8
# A user fails for throttling only after this long of continuous "slow down" from the upload host.
UPLOAD_THROTTLE_WAIT_S = 600.0


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


class NotConfirmed(TransientError):
    """A confirm that did not take effect (the file is still pending): it may be sent again, and once the
    confirms run out the whole upload starts over, as for any transient failure of the upload host."""


@dataclass(frozen=True)
class Stored:
    """A file the upload host stored: its Canvas id, uuid and folder."""

    file_id: str
    uuid: str | None
    folder_id: str | None


class CanvasUploads(CanvasAvatarOptions):
    """The upload half of ``CanvasTarget`` (a mixin: the target provides the API, the preflight and state)."""

    uploads_made: int
    _lock: threading.Lock
    _timeout: tuple[float, float]
    _upload_gate: RateGate

    def _preflight(self, user: RemoteUser, size: int, name: str, folder_id: str | None = None) -> dict[str, Any]:
        raise NotImplementedError  # CanvasTarget's, next to its refusal handling

    # -- the whole upload ----------------------------------------------------------------------------
    def _upload_and_assign(self, user: RemoteUser, image: bytes, previous: SyncRecord | None) -> Uploaded:
        known = our_last_file(user, previous) is not None
        if not known and shown_file_id(user) is not None and user.user_id not in self._shown_names:
            # No history of this user (a new database): learn the shown file's name so it is never the one
            # overwritten. One request, only for users who show a file and whom the history does not know.
            self.own_avatars([user])
        name = name_for_upload(user, previous, self._shown_names.get(user.user_id))
        # the history's word on the lock, for this very user: a locked avatar keeps its lock through our PUT
        locked = previous is not None and previous.locked and previous.user_id == user.user_id
        stored = self._upload(user, image, name)
        try:
            uploaded = self._assign(
                user, stored.file_id, stored.uuid, name=name, poll=True, folder_id=stored.folder_id, locked=locked
            )
        except AvatarPending as pending:
            if stored.folder_id is None:
                raise
            raise self._explain_folders(user, stored.folder_id, pending) from None
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
            uploaded = self._assign(user, stored.file_id, stored.uuid, name=name, poll=True, locked=locked)
        assert uploaded is not None  # poll=True raises AvatarPending instead of returning None
        return uploaded

    def _upload(self, user: RemoteUser, image: bytes, name: str, folder_id: str | None = None) -> Stored:
        """Preflight + bytes + finish, redone from a fresh preflight when the upload host fails.

        Redoing is safe: the same name with ``on_duplicate=overwrite`` replaces any copy a lost answer left
        behind, so a user never ends with two files for one photo.
        """
        retrying = Retrying(
            stop=stop_after_attempt(UPLOAD_ATTEMPTS),
            wait=wait_exponential(multiplier=0.5),  # 0.5 s, then doubling
            retry=retry_if_exception_type(TransientError),
            sleep=self._sleep,
            before_sleep=lambda _: log.debug(
                "upload for user %s failed; starting over with a new preflight", user.user_id
            ),
            reraise=True,
        )
        for attempt in retrying:
            # Outside the attempt: the preflight is an API request with retries of its own, and its failure is
            # the user's, not the upload host's.
            preflight = self._preflight(user, len(image), name, folder_id)
            with attempt:
                return self._send_bytes(user, preflight, image, name)
        raise AssertionError("unreachable")  # tenacity re-raises the last failure

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
        # Hand-written: a "slow down" is waited out (bounded by time, not attempts) and never counts as a retry.
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
                        pause = self._upload_gate.throttle(self._upload_remaining(response), sent_with)
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

    def _upload_remaining(self, response: requests.Response) -> float | None:
        """The bucket room the answer reports; inst-fs says how long to wait instead (Retry-After), which the
        gate is given as the room that takes that long to leak, so its pause matches the host's own."""
        remaining = remaining_of(response)
        after = retry_after_s(response)
        if remaining is not None or after is None:
            return remaining
        gate = self._upload_gate
        return gate.up_front_cost + gate.margin - after * gate.outflow

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
        retrying = Retrying(
            stop=stop_after_attempt(CONFIRM_ATTEMPTS),
            retry=retry_if_exception_type(NotConfirmed),
            sleep=lambda _: None,  # sent again at once: Canvas never saw the first one
            reraise=True,
        )
        for attempt in retrying:
            with attempt:
                return self._confirm_once(user, location, match, what)
        raise AssertionError("unreachable")  # tenacity re-raises the last failure

    def _confirm_once(self, user: RemoteUser, location: str, match: re.Match[str] | None, what: str) -> Stored:
        """One confirm; a failed one is checked against the file, and ``NotConfirmed`` if it is still pending."""
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
                raise NotConfirmed(f"{what}: Canvas did not confirm the upload ({exc.message})") from None
        if not isinstance(body, dict) or body.get("id") is None:
            raise RemoteError(f"{what}: Canvas's answer names no file")
        return _stored_from(body)

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


def _stored_from(body: dict[str, Any]) -> Stored:
    folder = body.get("folder_id")
    return Stored(str(body["id"]), body.get("uuid"), str(folder) if folder is not None else None)
