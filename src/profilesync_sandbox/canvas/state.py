"""``SandboxState``: the controls tests and the CLI use on a sandbox's data (``sb.state``).

Snapshots take the lock themselves and hand back frozen views (``UserView``, ``FileView``, ``RequestRecord``),
never live records; pokes change the data as a user or an admin would in Canvas's UI.
"""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import Iterable

from profilesync_sandbox.canvas import storage
from profilesync_sandbox.canvas.data import SandboxData
from profilesync_sandbox.canvas.records import (
    ALL_PERMISSIONS,
    DOMAIN_ROOT_ACCOUNT_ID,
    EmailSent,
    Enrollment,
    FileRecord,
    FileView,
    ObservationLink,
    PairingCode,
    UserRecord,
    UserView,
)
from profilesync_sandbox.canvas.scenario import ascii_slug
from profilesync_sandbox.requestlog import RequestRecord


class SandboxState(SandboxData):
    """The sandbox's data with the controls over it: snapshots for assertions, pokes for setting up a case."""

    def seed_avatars(self) -> None:
        """Apply the scenario's own avatars and avatar states (needs the base URL, so after start)."""
        for user_id in self._population.own_avatars:
            self.user_sets_own_avatar(user_id, storage.PLACEHOLDER_PNG, filename="me.png")
        with self.lock:
            storage.seed_early_profile_pics_folders(self)
        with self.lock:
            for user_id, avatar_state in self._population.avatar_states.items():
                self.user_records[user_id].avatar_state = avatar_state

    # -- test-facing snapshots

    @property
    def upload_auth_headers_seen(self) -> list[str]:
        """Every Authorization header the upload host received (a leak of the Canvas token: keep empty)."""
        with self.lock:
            return list(self.upload_auth)

    def users(self) -> list[UserView]:
        with self.lock:
            return [self._user_view(u) for u in sorted(self.user_records.values(), key=lambda u: u.id)]

    def user(self, user_id: int) -> UserView:
        with self.lock:
            return self._user_view(self.user_records[user_id])

    def files(
        self, user_id: int | None = None, *, include_pending: bool = False, include_deleted: bool = False
    ) -> list[FileView]:
        """The files Canvas would show (available), by id; unconfirmed and deleted ones only when asked."""
        wanted = (
            {"available"} | ({"pending"} if include_pending else set()) | ({"deleted"} if include_deleted else set())
        )
        with self.lock:
            pool = self.file_records.values() if user_id is None else self.user_files.get(user_id, [])
            return [self._file_view(f) for f in sorted(pool, key=lambda f: f.id) if f.state in wanted]

    def file(self, file_id: int) -> FileView:
        with self.lock:
            return self._file_view(self.file_records[file_id])

    def requests(self, host: str | None = None) -> list[RequestRecord]:
        return self.request_log.requests(host)

    def counts(self, host: str | None = "canvas") -> Counter[str]:
        """Requests per route key (``"GET /api/v1/users/:id"``); unmatched paths count under ``"?"``."""
        return self.request_log.counts(host)

    def reset_counts(self) -> None:
        """Forget the request log (not the Authorization headers the upload host saw)."""
        self.request_log.clear()

    def emails_sent(self) -> list[EmailSent]:
        with self.lock:
            return list(self.emails)

    def observer_links(self, *, active_only: bool = True) -> list[ObservationLink]:
        with self.lock:
            return [
                ObservationLink(lk.observer_id, lk.student_id, lk.root_account_id, lk.workflow_state)
                for lk in self.links
                if not active_only or lk.workflow_state == "active"
            ]

    def pairing_codes(self) -> list[PairingCode]:
        with self.lock:
            return [PairingCode(c.code, c.user_id, c.expires_at, c.workflow_state) for c in self.codes.values()]

    # -- test-facing pokes

    def user_sets_own_avatar(
        self, user_id: int, image_bytes: bytes, *, filename: str = "my photo.jpg", content_type: str | None = None
    ) -> int:
        """The user uploads a picture into "profile pictures" and picks it, as the Canvas UI would; the file id.

        The pick changes nothing when the avatar is locked, as the user's own update does not (docs/canvas.md §18).
        """
        with self.lock:
            user = self.user_records[user_id]
            folder = storage.profile_pics_folder(self, user)
            record = storage.new_file(
                self,
                user,
                folder.id,
                filename,
                content_type or storage.guess_content_type(filename),
                image_bytes,
                on_duplicate="rename",
            )
            storage.finalize_file(self, record, thumbnail_lag=0.0)
            if user.avatar_state == "locked":
                return record.id  # the pick is the user's own update: a locked avatar ignores it (§11.2 step 4)
            user.avatar_image_url = storage.thumbnail_url(self.canvas_base_url, record)
            user.avatar_image_source = "attachment"
            user.avatar_state = "submitted"  # a self-service update (docs/canvas.md §11.2 step 5)
            return record.id

    def add_second_profile_pictures_folder(
        self, user_id: int, parent: str = "Old Files", *, empty: bool = False
    ) -> int:
        """Give a user an earlier "profile pictures" folder elsewhere, Canvas's from then on; its id."""
        with self.lock:
            user = self.user_records[user_id]
            return storage.add_early_profile_pics_folder(self, user, parent, with_picture=not empty).id

    def delete_file(self, file_id: int) -> None:
        """Delete a file as the user would (an avatar showing it is cleared, docs/canvas.md §12.5)."""
        with self.lock:
            storage.delete_file(self, self.file_records[file_id])

    def set_quota(self, user_id: int, quota_bytes: int | None) -> None:
        """Give one user a storage quota (None: back to the default)."""
        with self.lock:
            self.user_records[user_id].quota = quota_bytes

    def set_sis_id(self, user_id: int, sis_user_id: str | None) -> None:
        with self.lock:
            self.user_records[user_id].sis_user_id = sis_user_id
            self.identity_changed()

    def set_avatar_state(self, user_id: int, avatar_state: str) -> None:
        """Moderate an avatar (e.g. ``locked``) as the admin UI would (docs/canvas.md §11.4)."""
        with self.lock:
            self.user_records[user_id].avatar_state = avatar_state

    def add_enrollment(self, user_id: int, enrollment_type: str = "student", state: str = "active") -> None:
        with self.lock:
            self.user_records[user_id].enrollments.append(Enrollment(enrollment_type, state))

    def add_admin(
        self, permissions: Iterable[str], name: str = "Limited Admin", account_id: int = DOMAIN_ROOT_ACCOUNT_ID
    ) -> str:
        """A new unlisted admin of ``account_id`` with exactly these rights (``records.ALL_PERMISSIONS`` names);
        its token.

        For runs with a token whose role lacks a permission, e.g. ``ALL_PERMISSIONS - {"manage_user_logins"}``,
        or whose role lives on a sub-account.
        """
        unknown = set(permissions) - ALL_PERMISSIONS
        if unknown:
            raise ValueError(f"unknown permissions: {', '.join(sorted(unknown))}")
        with self.lock:
            new_id = max(self.user_records) + 1
            self.user_records[new_id] = UserRecord(
                id=new_id,
                name=name,
                sortable_name=name,
                short_name=name,
                uuid=self.new_uuid(),
                created_at=self.clock.now(),
                root_account_ids=[DOMAIN_ROOT_ACCOUNT_ID],
                login_account_id=DOMAIN_ROOT_ACCOUNT_ID,
                login_id=f"admin{new_id}@sandbox.invalid",
                admin_permissions=frozenset(permissions),
                admin_account_id=account_id,
                listed=False,
            )
            self.identity_changed()
        return self.add_token(new_id)

    def add_token(self, user_id: int) -> str:
        """A new API token that authenticates as ``user_id``."""
        token = "1~" + secrets.token_hex(32)
        with self.lock:
            self.tokens[token] = user_id
        return token

    def advance_clock(self, seconds: float) -> None:
        """Move the sandbox's clock forward (thumbnails become ready, pairing codes expire)."""
        with self.lock:
            self.clock.advance(seconds)

    def add_user(
        self,
        name: str,
        *,
        sis_user_id: str | None = None,
        login_id: str | None = "",
        email: str | None = "",
        integration_id: str | None = None,
        root_account_ids: tuple[int, ...] = (DOMAIN_ROOT_ACCOUNT_ID,),
        enrollments: tuple[str, ...] = ("student",),
        workflow_state: str = "registered",
        password: str | None = None,
        sortable_name: str | None = None,
        user_id: int | None = None,
    ) -> int:
        """Create a user (``login_id=""`` derives one from the name, None means no login); the new id."""
        with self.lock:
            new_id = user_id if user_id is not None else max(self.user_records) + 1
            if new_id in self.user_records:
                raise ValueError(f"user id {new_id} is taken")
            login = f"{ascii_slug(name) or 'user'}{new_id}@example.edu" if login_id == "" else login_id
            first, _, last = name.rpartition(" ")
            self.user_records[new_id] = UserRecord(
                id=new_id,
                name=name,
                sortable_name=sortable_name or (f"{last}, {first}" if first else name),
                short_name=name,
                uuid=self.new_uuid(),
                created_at=self.clock.now(),
                root_account_ids=list(root_account_ids),
                login_account_id=(root_account_ids[0] if root_account_ids else None) if login else None,
                login_id=login,
                sis_user_id=sis_user_id,
                integration_id=integration_id,
                email=login if email == "" and login and "@" in login else (email or None),
                password=password,
                workflow_state=workflow_state,
                enrollments=[Enrollment(e) for e in enrollments],
            )
            self.identity_changed()
            return new_id

    # -- snapshots

    def _user_view(self, user: UserRecord) -> UserView:
        return UserView(
            id=user.id,
            name=user.name,
            sortable_name=user.sortable_name,
            sis_user_id=user.sis_user_id,
            login_id=user.login_id,
            integration_id=user.integration_id,
            email=user.email,
            avatar_url=user.avatar_image_url,
            avatar_state=user.avatar_state,
            avatar_source=user.avatar_image_source,
            workflow_state=user.workflow_state,
            root_account_ids=tuple(user.root_account_ids),
            enrollments=tuple((e.type, e.state) for e in user.enrollments),
            quota=user.quota,
        )

    def _file_view(self, record: FileRecord) -> FileView:
        folder = self.folders.get(record.folder_id) if record.folder_id is not None else None
        return FileView(
            id=record.id,
            uuid=record.uuid,
            user_id=record.user_id,
            folder=storage.full_name(self, folder) if folder else None,
            display_name=record.display_name,
            content_type=record.content_type,
            size=record.size,
            bytes=record.data,
            state=record.state,
            thumbnail_ready=storage.has_thumbnail(self, record),
        )
