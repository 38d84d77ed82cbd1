"""The emulated Canvas's data, behind one lock, plus the helpers tests use to look and poke.

Handlers run with ``state.lock`` held for their whole (short, I/O-free) body, so the data needs no finer
locking; injected latency is slept outside it. Test helpers take the lock themselves and hand back frozen
snapshots (``UserView``, ``FileView``, ``RequestRecord``), never live records.
"""

from __future__ import annotations

import random
import secrets
import threading
import time
from collections import Counter
from collections.abc import Iterable
from datetime import datetime, timezone

from profilesync_sandbox.canvas import storage
from profilesync_sandbox.canvas.config import SandboxConfig
from profilesync_sandbox.canvas.lookup import parse_id
from profilesync_sandbox.canvas.records import (
    ALL_PERMISSIONS,
    DOMAIN_ROOT_ACCOUNT_ID,
    Account,
    EmailSent,
    Enrollment,
    FileRecord,
    FileView,
    FolderRecord,
    ObservationLink,
    PairingCode,
    UserRecord,
    UserView,
)
from profilesync_sandbox.canvas.scenario import Population, ascii_slug, random_uuid
from profilesync_sandbox.requestlog import RequestLog, RequestRecord


class Clock:
    """Wall time that tests can move forward (pairing-code expiry, thumbnail lag) without sleeping."""

    def __init__(self) -> None:
        self._offset = 0.0

    def time(self) -> float:
        return time.time() + self._offset

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.time(), tz=timezone.utc)

    def advance(self, seconds: float) -> None:
        self._offset += seconds


class SandboxState:
    """Users, files, folders, observer data, tokens and the request log of one sandbox."""

    def __init__(self, config: SandboxConfig, population: Population, request_log: RequestLog) -> None:
        self.lock = threading.RLock()
        self.config = config
        self.clock = Clock()
        self.rng = random.Random(config.seed ^ 0x5EED)
        self.secret = secrets.token_bytes(32)  # Canvas::Security's installation secret (§10 tokens)
        self.canvas_base_url = "http://127.0.0.1"  # set by Sandbox.start()
        self.upload_base_url = "http://127.0.0.1"
        self.accounts: dict[int, Account] = {a.id: a for a in population.accounts}
        self.user_records: dict[int, UserRecord] = {u.id: u for u in population.users}
        self.tokens: dict[str, int] = dict(population.tokens)
        self.folders: dict[int, FolderRecord] = {}
        self.file_records: dict[int, FileRecord] = {}
        self.user_files: dict[int, list[FileRecord]] = {}  # per-user indexes: /avatars and quota stay O(own files)
        self.user_folders: dict[int, list[FolderRecord]] = {}
        self.links: list[ObservationLink] = list(population.links)
        self.codes: dict[str, PairingCode] = {}
        self.emails: list[EmailSent] = []
        self.request_log = request_log  # written by the servers, for both hosts
        self.upload_auth: list[str] = []
        self.next_file_id = 5001
        self.next_folder_id = 301
        self.error_report_id = 1000
        self._identity_version = 0
        self._cache_version = -1
        self._sorted: dict[int, list[UserRecord]] = {}
        self._sis: dict[str, UserRecord] = {}
        self._logins: dict[str, UserRecord] = {}
        self._integration: dict[str, UserRecord] = {}
        self._uuids: dict[str, UserRecord] = {}
        self._population = population

    def seed_avatars(self) -> None:
        """Apply the scenario's own avatars and avatar states (needs the base URL, so after start)."""
        for user_id in self._population.own_avatars:
            self.user_sets_own_avatar(user_id, storage.PLACEHOLDER_PNG, filename="me.png")
        with self.lock:
            storage.seed_early_profile_pics_folders(self)
        with self.lock:
            for user_id, avatar_state in self._population.avatar_states.items():
                self.user_records[user_id].avatar_state = avatar_state

    # -- lookups (callers hold the lock)

    def identity_changed(self) -> None:
        """Invalidate the sorted listing and the SIS/login indexes after users were added or renamed."""
        self._identity_version += 1

    def _refresh(self) -> None:
        if self._cache_version == self._identity_version:
            return
        self._sorted = {}
        self._sis, self._logins, self._integration, self._uuids = {}, {}, {}, {}
        for user in self.user_records.values():
            self._uuids[user.uuid] = user
            # §7: SIS forms find logins in the domain root account only, never deleted ones
            if user.login_account_id != DOMAIN_ROOT_ACCOUNT_ID or user.login_deleted:
                continue
            if user.sis_user_id is not None:
                self._sis.setdefault(user.sis_user_id, user)
            if user.integration_id is not None:
                self._integration.setdefault(user.integration_id, user)
            if user.login_id is not None:
                self._logins.setdefault(user.login_id.lower(), user)
        self._cache_version = self._identity_version

    def find_user(self, raw_id: str, current: UserRecord | None) -> UserRecord | None:
        """Resolve ``self`` or any §7 id form; None when nothing matches."""
        if raw_id.strip() == "self":
            return current
        parsed = parse_id(raw_id)
        if parsed is None:
            return None
        column, value = parsed
        self._refresh()
        if column == "id":
            return self.user_records.get(int(value))
        index = {
            "sis_user_id": self._sis,  # case-sensitive exact match
            "sis_login_id": self._logins,  # LOWER(unique_id) = LOWER(value)
            "sis_integration_id": self._integration,
            "uuid": self._uuids,
        }.get(column)
        if index is None:
            return None
        return index.get(value.lower() if column == "sis_login_id" else value)

    def login_owner(self, unique_id: str, account_id: int) -> UserRecord | None:
        """The user with an active login ``unique_id`` (case-insensitive) in one root account."""
        wanted = unique_id.strip().lower()
        for user in self.user_records.values():
            if (
                user.login_account_id == account_id
                and not user.login_deleted
                and user.login_id is not None
                and user.login_id.lower() == wanted
            ):
                return user
        return None

    def sorted_users(self, account_id: int) -> list[UserRecord]:
        """Active listed users of an account, by sortable_name (case-folded, like a collation) then id."""
        self._refresh()
        if account_id not in self._sorted:
            members = [
                u
                for u in self.user_records.values()
                if u.listed
                and u.workflow_state != "deleted"
                and (account_id in u.root_account_ids or account_id in u.sub_account_ids)
            ]
            members.sort(key=lambda u: (u.sortable_name.casefold(), u.id))
            self._sorted[account_id] = members
        return self._sorted[account_id]

    def new_uuid(self) -> str:
        return random_uuid(self.rng)

    def next_error_report_id(self) -> int:
        self.error_report_id += 1
        return self.error_report_id

    # -- called by the upload host

    def record_upload_auth(self, value: str) -> None:
        with self.lock:
            self.upload_auth.append(value)

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
        """The user uploads a picture into "profile pictures" and picks it, as the Canvas UI would; the file id."""
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
            user.avatar_image_url = storage.thumbnail_url(self.canvas_base_url, record)
            user.avatar_image_source = "attachment"
            user.avatar_state = "submitted"  # a self-service update (§11.2 step 5)
            return record.id

    def add_second_profile_pictures_folder(
        self, user_id: int, parent: str = "Old Files", *, empty: bool = False
    ) -> int:
        """Give a user an earlier "profile pictures" folder elsewhere, Canvas's from then on; its id."""
        with self.lock:
            user = self.user_records[user_id]
            return storage.add_early_profile_pics_folder(self, user, parent, with_picture=not empty).id

    def delete_file(self, file_id: int) -> None:
        """Delete a file as the user would (an avatar showing it is cleared, §12.5)."""
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
        """Moderate an avatar (e.g. ``locked``) as the admin UI would (§11.4)."""
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
