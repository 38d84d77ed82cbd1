"""The emulated Canvas's data behind one lock: records, indexes and the lookups handlers make.

Handlers run with ``lock`` held for their whole (short, I/O-free) body, so the data needs no finer locking;
injected latency is slept outside it. What tests and the CLI do to a sandbox is ``state.SandboxState``.
"""

from __future__ import annotations

import random
import secrets
import threading
import time
from datetime import datetime, timezone

from profilesync_sandbox.canvas.config import SandboxConfig
from profilesync_sandbox.canvas.lookup import parse_id
from profilesync_sandbox.canvas.records import (
    DOMAIN_ROOT_ACCOUNT_ID,
    Account,
    EmailSent,
    FileRecord,
    FolderRecord,
    ObservationLink,
    PairingCode,
    UserRecord,
)
from profilesync_sandbox.canvas.scenario import Population, random_uuid
from profilesync_sandbox.requestlog import RequestLog


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


class SandboxData:
    """Users, files, folders, observer data, tokens and the request log of one sandbox: what handlers work on."""

    def __init__(self, config: SandboxConfig, population: Population, request_log: RequestLog) -> None:
        self.lock = threading.RLock()
        self.config = config
        self.clock = Clock()
        self.rng = random.Random(config.seed ^ 0x5EED)
        self.secret = secrets.token_bytes(32)  # Canvas::Security's installation secret (docs/canvas.md §10 tokens)
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
            # docs/canvas.md §7: SIS forms find logins in the domain root account only, never deleted ones
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
        """Resolve ``self`` or any docs/canvas.md §7 id form; None when nothing matches."""
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
