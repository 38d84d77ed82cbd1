"""Canvas avatar options: our two file names, finding a file among the options, assigning and verifying it,
and recognising our own uploads.

The options list is ProfileController#profile_pics (Api::V1::Avatar#avatars_json_for_user): the image files of
the one folder User#profile_pics_folder returns, once they have a thumbnail, each with a token for the PUT.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

from profilesync.engine.model import RemoteUser, SyncRecord, Uploaded
from profilesync.engine.ports import AvatarPending
from profilesync.errors import FatalRemoteError, NotFoundError, RemoteError, TransientError
from profilesync.http import Api
from profilesync.targets.canvas.locking import is_locked, lock_avatar, lock_refused

log = logging.getLogger(__name__)

# Two names per user, used in turn. ``on_duplicate=overwrite`` destroys the same-named file in the folder
# (Attachment#handle_duplicates), and destroying a file clears an avatar showing it
# (Attachment#destroy -> User#clear_avatar_image_url_with_uuid) long before the new file has a thumbnail.
# Overwriting only the name *not* shown never blanks a picture, and still keeps at most two files of ours.
# The first name is the single one earlier versions used, so users they synced migrate with no third file.
OUR_FILE_NAMES = ("profilesync-avatar.jpg", "profilesync-avatar-b.jpg")
PROFILE_PICTURES = "profile pictures"
NO_AVATAR_SUFFIX = "/images/messages/avatar-50.png"  # the default silhouette: detect by path, the host may be a CDN
THUMBNAIL = re.compile(r"/images/thumbnails/(\d+)/([^/?#]+)")
# An upload whose thumbnail is still missing after this long is uploaded again (its thumbnail job is taken to
# have failed); before that the next runs only wait for it, so a busy job queue gets no extra work from us.
UNFINISHED_PATIENCE_S = 12 * 3600
# Thumbnails lag behind uploads on local/S3 storage: poll the avatar options this often (≈25 s in all).
THUMBNAIL_POLL_DELAYS_S = (0.0, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 5.0, 8.0)


def avatar_ref(url: str | None) -> str | None:
    """The vendor-neutral identity of an avatar URL: ``attachment:<id>/<uuid>``, the URL itself, or None."""
    if not url:
        return None
    path = urlsplit(url).path
    if path.endswith(NO_AVATAR_SUFFIX):
        return None
    match = THUMBNAIL.search(path)
    return f"attachment:{match[1]}/{match[2]}" if match else url


def is_our_file_name(name: str | None) -> bool:
    return name in OUR_FILE_NAMES


def shown_file_id(user: RemoteUser) -> str | None:
    """The attachment id of the avatar the user shows (``/images/thumbnails/<id>/<uuid>``), or None."""
    match = THUMBNAIL.search(urlsplit(user.avatar_url or "").path)
    return match[1] if match else None


def our_last_file(user: RemoteUser, previous: SyncRecord | None) -> SyncRecord | None:
    """``previous`` when the history names a file of ours for this very user (its name is then known), else None."""
    return previous if previous is not None and previous.file_id and previous.user_id == user.user_id else None


def name_for_upload(user: RemoteUser, previous: SyncRecord | None, shown_name: str | None) -> str:
    """The one of our two names whose file the user does not show, so overwriting it blanks nothing.

    ``shown_name`` is the name of the file the user shows when it was looked up (None: not looked up, or
    not a file). ``previous`` is the history: its file is ours, under the name it records — records from
    before the two names carry none and mean the single old name, which is our first one.
    """
    if is_our_file_name(shown_name):
        return _other(str(shown_name))
    last = our_last_file(user, previous)
    if last is not None:
        ours = str(last.file_name) if is_our_file_name(last.file_name) else OUR_FILE_NAMES[0]
        # Our last file is on display: use the other name. It is not (a lagging thumbnail, the user's own
        # pick): its name is free to overwrite, and reusing it keeps the count of our files at two.
        return _other(ours) if shown_file_id(user) == last.file_id else ours
    return OUR_FILE_NAMES[0]


def _other(name: str) -> str:
    return OUR_FILE_NAMES[1] if name == OUR_FILE_NAMES[0] else OUR_FILE_NAMES[0]


def hidden_assignment(body: Any, option: dict[str, Any], file_id: str, file_uuid: str | None) -> Uploaded | None:
    """The avatar PUT's answer for a user whose avatar_url Canvas hides, or None when it shows one.

    ``UsersController#update`` sets the avatar whatever the user's home account (``update_avatar`` is an
    admin right, not an avatars-service check) and answers with ``user_json``, which hides ``avatar_url`` for
    this user as the listing did (see canvas_listing). A 200 without the key is all Canvas can tell: we record
    the thumbnail URL of the option we assigned (what ``avatar_image=`` stores), unverified.
    """
    if not isinstance(body, dict) or "avatar_url" in body:
        return None
    url = str(option.get("url") or "")
    avatar = avatar_ref(url)
    if not url or avatar is None:
        return None
    return Uploaded(file_id=file_id, file_uuid=file_uuid or option.get("uuid"), avatar_url=url, avatar_ref=avatar)


class WrongFolder(Exception):
    """Canvas takes avatars from another "profile pictures" folder than the one the file went to."""

    def __init__(self, folder_id: str) -> None:
        super().__init__(folder_id)
        self.folder_id = folder_id


class TwoProfileFolders(AvatarPending):
    """Uploaded, never an option, and the user has several "profile pictures" folders: which one Canvas takes
    avatars from cannot be told from outside when it holds no image, so the admin is told what to fix."""

    kind = "profile_folders"


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


class CanvasAvatarOptions:
    """The avatar-options half of ``CanvasTarget`` (a mixin: the target provides the API and state)."""

    api: Api
    lock_avatars: bool  # PROFILESYNC_LOCK_AVATARS
    _sleep: Callable[[float], None]
    _thumbnail_lag: ThumbnailLag
    _shown_names: dict[str, str | None]

    def _assign(
        self,
        user: RemoteUser,
        file_id: str,
        file_uuid: str | None,
        *,
        name: str | None,
        poll: bool,
        folder_id: str | None = None,
        locked: bool = False,
    ) -> Uploaded | None:
        """Find our file among the avatar options, PUT its token as the admin, and verify.

        The PUT is made without masquerading so the avatar becomes ``approved`` and replaces a locked one;
        a 200 proves nothing, so the answer's ``avatar_url`` must name our file. With locking on and the
        avatar not ``locked`` already (the history's word), the lock is PUT first (docs/canvas.md §18).
        """
        option = self._avatar_option(user, file_id, file_uuid, name=name, poll=poll, folder_id=folder_id)
        if option is None:
            return None
        wanted = self.lock_avatars and user.avatar_known  # an avatar nobody is shown needs no lock
        if wanted and not locked:
            lock_avatar(self.api, user.user_id)  # clears the picture for a moment: the token PUT follows at once
        uploaded = self._put_token(user, option, file_id, file_uuid, name=name, poll=poll)
        if uploaded is not None and wanted and not uploaded.locked and locked:
            # The history said locked, Canvas says not: a moderator unlocked it since. Lock it again, once.
            lock_avatar(self.api, user.user_id)
            uploaded = self._put_token(user, option, file_id, file_uuid, name=name, poll=poll)
        if uploaded is not None and wanted and not uploaded.locked:
            raise lock_refused(user.user_id)
        return uploaded

    def _put_token(
        self,
        user: RemoteUser,
        option: dict[str, Any],
        file_id: str,
        file_uuid: str | None,
        *,
        name: str | None,
        poll: bool,
    ) -> Uploaded | None:
        """:calls: ``PUT /api/v1/users/:id`` with ``user[avatar][token]``: verified, retried once with a new token."""
        what = f"setting the avatar of user {user.user_id}"
        for attempt in range(2):
            body = self.api.json(
                "PUT", f"/api/v1/users/{user.user_id}", what=what, data={"user[avatar][token]": option["token"]}
            )
            if not user.avatar_known:  # Canvas hides this user's avatar_url (see canvas_listing)
                hidden = hidden_assignment(body, option, file_id, file_uuid)
                if hidden is not None:
                    return replace(hidden, file_name=name, locked=is_locked(body))
            url = body.get("avatar_url") if isinstance(body, dict) else None
            if url and f"/images/thumbnails/{file_id}/" in urlsplit(url).path:
                ref = avatar_ref(url)
                uuid = file_uuid or option.get("uuid")
                return Uploaded(file_id, uuid, url, ref, file_name=name, locked=is_locked(body))
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
            try:
                options = self._options(user)
            except TransientError:
                # The read already had its own retries; while polling, the next poll is one more try (the
                # reliability tests saw a read fail six times in a row under 10% injected faults).
                if not poll or tries == len(delays):
                    raise
                log.debug("reading the avatar options of user %s failed; polling again", user.user_id)
                continue
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

    def _wait_for_unfinished(self, user: RemoteUser, record: SyncRecord) -> None:
        """:calls: ``GET /api/v1/files/:id`` — our unfinished upload is not an option yet: is it still there?

        Still there and recent: ``AvatarPending`` again, with no new upload (a new one would destroy the file
        whose thumbnail is being made, and queue another job). Gone, or waited for too long: return, and the
        caller uploads again.
        """
        since = record.synced_at.timestamp() if record.synced_at else 0.0
        if time.time() - since > UNFINISHED_PATIENCE_S or not record.file_id:
            return
        try:
            body = self.api.json("GET", f"/api/v1/files/{record.file_id}", what="checking an unfinished upload")
        except NotFoundError:
            return  # deleted meanwhile
        if not isinstance(body, dict) or body.get("upload_status") not in (None, "success"):
            return
        raise AvatarPending(
            f"the photo of user {user.user_id} uploaded earlier still has no thumbnail in Canvas: "
            "the user keeps the previous picture",
            uploaded=Uploaded(record.file_id, record.file_uuid, None, None, record.file_name),
            advice="Canvas is slow generating thumbnails; a later run sets the uploaded photo (if this repeats "
            "for days, check the user's files for a second 'profile pictures' folder)",
        )

    def _explain_folders(self, user: RemoteUser, folder_id: str, pending: AvatarPending) -> AvatarPending:
        """:calls: ``GET /api/v1/users/:id/folders`` — after a poll that never found the upload: is it in one of
        several "profile pictures" folders (FoldersController#list_all_folders)? Then say exactly which ones.

        Canvas takes avatars from the first active folder of that name anywhere (User#profile_pics_folder);
        when that folder holds no image, nothing in the options names it, so this is where it shows.
        """
        what = f"listing the folders of user {user.user_id}"
        try:
            named = [
                f
                for page in self.api.paginate(f"/api/v1/users/{user.user_id}/folders", what=what, params=[])
                for f in page
                if isinstance(f, dict) and f.get("name") == PROFILE_PICTURES
            ]
        except (RemoteError, FatalRemoteError) as exc:  # only an explanation: never a reason to stop
            log.info("cannot list the folders of user %s: %s", user.user_id, exc)
            return pending
        if len(named) < 2:
            return pending
        ours = next((str(f.get("full_name")) for f in named if str(f.get("id")) == folder_id), PROFILE_PICTURES)
        others = sorted(str(f.get("full_name")) for f in named if str(f.get("id")) != folder_id)
        return TwoProfileFolders(
            f"the photo of user {user.user_id} went to '{ours}', but the user has {len(named)} 'profile pictures' "
            f"folders and Canvas shows avatars from only one of them; the user keeps the previous picture",
            uploaded=pending.uploaded,
            advice=f"in the user's files, delete or rename {', '.join(repr(o) for o in others)} (keep '{ours}'), "
            "then run again",
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
