"""What the emulated Canvas stores: mutable records (guarded by the state lock) and frozen views for tests.

Records mirror the Canvas models the spec talks about, reduced to the columns the emulated endpoints read:
a user carries its one login (pseudonym) inline, because every rule in docs/canvas.md §5/§7 is about "the
login in the domain root account".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

#: account-level admin rights the emulator checks (Canvas permission names, as in /accounts/:id/permissions)
ALL_PERMISSIONS: frozenset[str] = frozenset(
    {
        "become_user",  # "Become other users" (docs/canvas.md §1.2)
        "read_roster",
        "read_sis",
        "manage_sis",
        "view_user_logins",
        "read_email_addresses",
        "manage_user_logins",
        "manage_user_details",
        "manage_students",
        "manage_user_observers",
        "generate_observer_pairing_code",
        "manage_files",
    }
)

DOMAIN_ROOT_ACCOUNT_ID = 1
MY_FILES = "my files"  # docs/canvas.md §12.7 MY_FILES_FOLDER_NAME
PROFILE_PICTURES = "profile pictures"  # docs/canvas.md §12.7 PROFILE_PICS_FOLDER_NAME
UNFILED = "unfiled"
# docs/canvas.md §14.2 has_student_enrollment?: invited, active and completed count
LIVE_ENROLLMENT_STATES = frozenset({"active", "invited", "creation_pending", "completed"})


@dataclass
class Account:
    """An account; 1 is the domain root account (``self``). ``parent_id`` None: a root account."""

    id: int
    name: str
    uuid: str
    parent_id: int | None = None
    # The avatars service of this root account (``service_enabled?(:avatars)``); None follows the sandbox's
    # ``avatars_service_enabled``. It decides avatar_url for users whose first login lives here (userjson).
    avatars_service: bool | None = None


#: a consortium/trust partner root account with avatars off (``SandboxConfig.foreign_home_users``)
PARTNER_ACCOUNT_ID = 9


@dataclass
class Enrollment:
    """Just enough of an enrollment for the pairing-code and observer rules (docs/canvas.md §14)."""

    type: str  # student, teacher, ta, observer, designer
    state: str = "active"  # active, invited, completed, inactive, rejected, deleted
    root_account_id: int = DOMAIN_ROOT_ACCOUNT_ID
    associated_user_id: int | None = None  # observer enrollments: the observed student


@dataclass
class UserRecord:
    """A user plus its login in ``login_account_id`` (None: the user has no login at all)."""

    id: int
    name: str
    sortable_name: str
    short_name: str
    uuid: str
    created_at: datetime
    root_account_ids: list[int]
    login_account_id: int | None
    login_id: str | None
    sis_user_id: str | None = None
    integration_id: str | None = None
    sis_import_id: int | None = None
    email: str | None = None
    password: str | None = None
    workflow_state: str = "registered"  # registered, pre_registered, creation_pending, pending_approval, deleted
    login_deleted: bool = False
    admin_permissions: frozenset[str] = frozenset()
    admin_account_id: int = DOMAIN_ROOT_ACCOUNT_ID  # the account whose admin role grants admin_permissions
    sub_account_ids: list[int] = field(default_factory=list)  # sub-accounts the user is associated with
    listed: bool = True  # False keeps sandbox admins out of the account listing
    enrollments: list[Enrollment] = field(default_factory=list)
    avatar_image_url: str | None = None
    avatar_image_source: str = "no_pic"  # no_pic, attachment, gravatar, external
    avatar_state: str = "none"  # none, submitted, approved, locked, reported, re_reported
    quota: int | None = None
    time_zone: str = "America/Denver"
    last_login: datetime | None = None
    merged_into_user_id: int | None = None  # set, with workflow_state deleted, once merged into another user
    # The root account of the user's first active login by position when it is not ``login_account_id``:
    # ``User#account`` (``pseudonym.account``), whose avatars service decides the avatar_url key.
    home_account_id: int | None = None

    def has_student_enrollment(self) -> bool:
        """docs/canvas.md §14.2: a student enrollment not rejected, inactive or deleted."""
        return any(e.type == "student" and e.state in LIVE_ENROLLMENT_STATES for e in self.enrollments)


@dataclass
class FolderRecord:
    """A folder in a user's files; ``parent_id`` None is the ``my files`` root."""

    id: int
    user_id: int
    name: str
    parent_id: int | None
    created_at: datetime
    deleted: bool = False


@dataclass
class FileRecord:
    """An attachment. ``state`` pending is Canvas's ``file_state = deleted`` before confirmation
    (docs/canvas.md §12.2)."""

    id: int
    uuid: str
    user_id: int
    folder_id: int | None
    display_name: str
    filename: str
    content_type: str
    size: int
    data: bytes
    state: str  # pending, available, deleted
    created_at: datetime
    updated_at: datetime
    on_duplicate: str = "overwrite"
    thumbnail_ready_at: float | None = None  # state-clock seconds; None: never gets a thumbnail
    expected_params: dict[str, str] = field(default_factory=dict)  # local mode: upload_params to come back
    expires_at: float = 0.0  # local mode: the policy's expiry (state clock)
    replacement_attachment_id: int | None = None


@dataclass
class PairingCode:
    """An observer pairing code (docs/canvas.md §14.2)."""

    code: str
    user_id: int
    expires_at: datetime
    workflow_state: str = "active"


@dataclass
class ObservationLink:
    """observer → student in one root account (docs/canvas.md §14.4)."""

    observer_id: int
    student_id: int
    root_account_id: int
    workflow_state: str = "active"


@dataclass(frozen=True)
class EmailSent:
    """A notification Canvas would have emailed (docs/canvas.md §14.1): the tests look at who got what."""

    user_id: int
    address: str
    kind: str  # confirm_registration, account_registration, registration_done


@dataclass(frozen=True)
class UserView:
    """A snapshot of one user for tests."""

    id: int
    name: str
    sortable_name: str
    sis_user_id: str | None
    login_id: str | None
    integration_id: str | None
    email: str | None
    avatar_url: str | None  # the stored avatar image URL (None: no picture)
    avatar_state: str
    avatar_source: str
    workflow_state: str
    root_account_ids: tuple[int, ...]
    enrollments: tuple[tuple[str, str], ...]  # (type, state)
    quota: int | None


@dataclass(frozen=True)
class FileView:
    """A snapshot of one file for tests."""

    id: int
    uuid: str
    user_id: int
    folder: str | None  # full folder name, e.g. "my files/profile pictures"
    display_name: str
    content_type: str
    size: int
    bytes: bytes
    state: str
    thumbnail_ready: bool
