"""The interface every avatar target implements; vendor quirks stay inside each adapter."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from profilesync.engine.model import RemoteUser, SyncRecord, Uploaded
from profilesync.errors import TransientError


class AvatarPending(TransientError):
    """The photo is on the target but cannot be shown yet (Canvas: no thumbnail so far). The user keeps the
    picture they had; ``uploaded`` names the new file so the history can make the next run finish it."""

    kind = "thumbnail_pending"

    def __init__(self, message: str, *, uploaded: Uploaded, advice: str | None = None) -> None:
        super().__init__(message, advice=advice)
        self.uploaded = uploaded


class AvatarTarget(Protocol):
    """A place avatars go. Canvas and Guru implement it; the engine knows nothing else."""

    @property
    def target_id(self) -> str:
        """Names this target instance in the history, e.g. ``canvas:root:<root account uuid>``."""
        ...

    #: images sent (reported beside the API requests, which ``requests_made`` counts)
    uploads_made: int

    @property
    def requests_made(self) -> int:
        """Requests sent to the vendor's API host so far: what the vendor meters."""
        ...

    def list_users(self) -> Iterator[RemoteUser]:
        """Stream every user the sync covers, with their current avatar, in as few requests as possible."""
        ...

    def find_user(self, key: str) -> RemoteUser | None:
        """Look one user up by key directly (``--user``); None when the target has no such user."""
        ...

    def upload_avatar(self, user: RemoteUser, image: bytes, previous: SyncRecord | None = None) -> Uploaded:
        """Upload the normalised JPEG as the user's avatar, assign it and verify it; raise on failure.

        ``previous`` is the history's record of this user (None when there is none): it says which file of
        ours the user shows, so the upload never replaces the picture on display. ``AvatarPending`` when the
        file is uploaded but cannot be shown yet.
        """
        ...

    def own_avatars(self, users: list[RemoteUser]) -> set[str]:
        """The ids of the users whose shown avatar is a file profilesync uploaded, recognised on the target
        itself (for users the history does not know). Costs requests: ask only about users that need it."""
        ...

    def reassign_avatar(self, user: RemoteUser, record: SyncRecord) -> Uploaded | None:
        """Put back the avatar we uploaded earlier; None when that file is gone (the caller uploads again)."""
        ...

    def before_writes(self) -> None:
        """Called once before the first write of a run: raise FatalRemoteError when every write would fail."""
        ...
