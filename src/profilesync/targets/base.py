"""The interface every avatar target implements; vendor quirks stay inside each adapter."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from profilesync.engine.model import RemoteUser, SyncRecord, Uploaded


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

    def upload_avatar(self, user: RemoteUser, image: bytes) -> Uploaded:
        """Upload the normalised JPEG as the user's avatar, assign it and verify it; raise on failure."""
        ...

    def reassign_avatar(self, user: RemoteUser, record: SyncRecord) -> Uploaded | None:
        """Put back the avatar we uploaded earlier; None when that file is gone (the caller uploads again)."""
        ...

    def before_writes(self) -> None:
        """Called once before the first write of a run: raise FatalRemoteError when every write would fail."""
        ...
