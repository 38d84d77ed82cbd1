"""Value types shared by the planner, the executor, the targets and the history store (the engine's ports
in :mod:`profilesync.engine.ports` speak in them).

Glossary:
- key: the value that names a photo file and a user (SIS ID by default, email for Guru).
- target: where avatars go (a Canvas instance, a Guru workspace); ``target_id`` names one instance.
- avatar_ref: a vendor-neutral fingerprint of an avatar as the target shows it (for Canvas the
  ``<file id>/<uuid>`` of the thumbnail URL; for Guru the picture URL). Equal refs mean "the same avatar".
- record: what the history remembers about the last verified sync of one user.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from pathlib import Path

from profilesync.errors import ExitCode


class Action(str, Enum):
    """What the plan does for one user."""

    UPLOAD = "upload"
    REASSIGN = "reassign"
    SKIP = "skip"
    ERROR = "error"


class Reason(str, Enum):
    """Why (docs/design.md §2 lists the stable values; extensions are documented in the README)."""

    NEW = "new"
    CHANGED = "changed"
    STALE = "stale"
    AVATAR_CHANGED = "avatar_changed"
    UNCHANGED = "unchanged"
    NO_PHOTO = "no_photo"
    NO_KEY = "no_key"
    USER_CHOICE = "user_choice"
    INVALID_PHOTO = "invalid_photo"
    AMBIGUOUS_PHOTO = "ambiguous_photo"
    NOT_FOUND = "not_found"
    INACTIVE = "inactive"  # Guru members who are not active
    AVATAR_HIDDEN = "avatar_hidden"  # synced, nothing to upload, and the target hides the current avatar
    UNFINISHED = "unfinished"  # our last upload is on the target but was never shown (its thumbnail lagged)
    LOCK = "lock"  # avatar locking is on and our avatar, shown, was never locked (a one-time lock)


class Policy(str, Enum):
    """What to do when a user replaced the avatar we set."""

    ENFORCE = "enforce"
    RESPECT = "respect"


@dataclass(frozen=True, slots=True)
class RemoteUser:
    """One user as the target lists them."""

    user_id: str
    key: str | None  # the match field's value; None when the user has none
    name: str
    avatar_ref: str | None  # None when the user shows the default (no) avatar
    avatar_url: str | None = None  # as shown, for reports
    active: bool = True
    # False when the target hides this user's current avatar (Canvas omits avatar_url for a user whose home
    # account has avatars off): avatar_ref then says nothing, and the planner must not read it as a choice.
    avatar_known: bool = True
    #: the avatar shown is a file profilesync uploaded (recognised by its name on the target), so it is
    #: nobody's choice even when the history does not know it; only looked up where a decision needs it
    avatar_ours: bool = False


@dataclass(frozen=True, slots=True)
class Photo:
    """One photo in the folder, fingerprinted (and validated) through the cache."""

    key: str  # the file stem as the match field compares it (case-folded for emails)
    # The folder is one Path shared by every photo of a scan, the file only its name: a Path per file was a
    # fifth of a 100,000-user sync's memory (its parts list, and every name interned for good).
    folder: Path
    #: the file name, or only its extension (".jpg") when the name is the key plus that extension, as it nearly
    #: always is (a file per SIS id): the shared extension saves a string per photo (6 MB at 100,000). A photo's
    #: name never starts with "." (hidden files are skipped), so the two cannot be confused.
    file: str
    sha256: str | None  # None when the file could not be read
    problem: str | None = None  # why it cannot be used (invalid_photo), None when it is a usable image

    @property
    def name(self) -> str:
        """The photo's file name."""
        return file_name(self.key, self.file)

    @property
    def path(self) -> Path:
        """The photo's file (made when asked: reading, reporting)."""
        return self.folder / self.name

    @classmethod
    def at(cls, key: str, path: Path, sha256: str | None, problem: str | None = None) -> Photo:
        """The photo of the file ``path``."""
        return cls(key, path.parent, path.name, sha256, problem)


def file_name(key: str, file: str) -> str:
    """The file name that ``Photo.file`` stands for (the key plus the extension, or the name itself)."""
    return key + file if file[0] == "." else file


@dataclass(frozen=True, slots=True)
class PhotoSet:
    """The scanned folder: usable photos by key, plus keys that more than one file claims."""

    photos: dict[str, Photo]
    ambiguous: dict[str, tuple[Path, ...]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SyncRecord:
    """The history's memory of one user on one target."""

    target_id: str
    key: str
    user_id: str
    photo_sha256: str | None  # of the source file last synced; None if never synced successfully
    file_id: str | None  # Canvas attachment id / Guru picture URL of the uploaded image
    file_uuid: str | None  # Canvas attachment uuid (None for Guru)
    avatar_url: str | None  # the URL we set
    avatar_ref: str | None  # what the target showed right after we set it
    synced_at: datetime | None  # None if never synced successfully
    last_error: str | None = None
    last_error_at: datetime | None = None
    #: the name our file has on the target (Canvas alternates two names); None for records written before
    file_name: str | None = None
    #: the target said the avatar was locked (users cannot replace it) right after we set it
    locked: bool = False


@dataclass(frozen=True, slots=True)
class PlannedAction:
    """One line of the plan."""

    key: str | None
    user: RemoteUser | None
    action: Action
    reason: Reason
    photo: Photo | None = None
    record: SyncRecord | None = None
    message: str | None = None


@dataclass(frozen=True, slots=True)
class NearMiss:
    """A user whose key an unmatched photo's name nearly is: equal once the differences in ``why`` are ignored."""

    key: str  # the user's key
    user_id: str
    name: str
    why: tuple[str, ...]  # e.g. ("letter case", "leading zeros")
    has_photo: bool  # the user already has a photo of their own

    def text(self) -> str:
        """One line for people: ``would match S0001 (Ann Lee) but for letter case``."""
        own = "; they already have a photo" if self.has_photo else ""
        return f"would match {self.key} ({self.name}) but for {' and '.join(self.why)}{own}"


@dataclass(frozen=True, slots=True)
class Plan:
    """Everything the planner decided, plus what it noticed but will never act on."""

    target_id: str
    actions: tuple[PlannedAction, ...]
    unmatched_photos: tuple[Photo, ...] = ()
    #: unmatched photo key → the users its name nearly matches (a hint for the admin; never acted on)
    near_misses: dict[str, tuple[NearMiss, ...]] = field(default_factory=dict)
    #: skips a sync's plan counts instead of keeping (reason → users): at 100,000 users a steady night is all
    #: skip/unchanged, and holding one action per user was most of the sync's memory. Empty in a full plan.
    skipped: Mapping[Reason, int] = field(default_factory=dict)

    @property
    def users(self) -> int:
        """How many users the plan decided for, kept or counted."""
        return len(self.actions) + sum(self.skipped.values())

    def pending(self) -> list[PlannedAction]:
        """The actions that change something on the target."""
        return [a for a in self.actions if a.action in (Action.UPLOAD, Action.REASSIGN)]


@dataclass(frozen=True, slots=True)
class Uploaded:
    """What a target returns after setting an avatar, verified."""

    file_id: str | None
    file_uuid: str | None
    avatar_url: str | None  # None: uploaded but not shown yet (see ``avatar_ref``)
    avatar_ref: str | None  # None: the target has not shown the file yet; the next run finishes it
    file_name: str | None = None
    locked: bool = False  # the target's answer said the avatar is locked


class Outcome(str, Enum):
    """How one planned action ended (sync report counts)."""

    UPLOADED = "uploaded"
    REASSIGNED = "reassigned"
    UNCHANGED = "unchanged"
    SKIPPED = "skipped"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Result:
    """The executor's report for one planned action."""

    planned: PlannedAction
    outcome: Outcome
    message: str | None = None
    reason: str | None = None  # for failures: the planned reason or the error kind


@dataclass
class SyncReport:
    """The outcome of ``avatars sync``."""

    target_id: str
    results: list[Result]
    requests: int = 0
    uploads: int = 0
    exit_code: ExitCode = ExitCode.OK
    counts: dict[str, int] = field(default_factory=dict)

    def failures(self) -> list[Result]:
        return [r for r in self.results if r.outcome is Outcome.FAILED]


# -- what the history store keeps besides sync records --------------------------------------------


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """A cached content hash (and validation verdict) of one photo file, keyed by (path, size, mtime)."""

    path: str
    size: int
    mtime_ns: int
    sha256: str | None
    problem: str | None


@dataclass(frozen=True)
class CanvasUser:
    """A Canvas user as the observers job sees them: the id its links are made with, and a name to report."""

    id: str
    name: str | None = None


@dataclass(frozen=True, slots=True)
class ObserverLink:
    """An observer (parent) → student link that profilesync made and verified (docs/design.md §7, §8).

    Keyed by target, student key (SIS id) and parent email (lower-cased, as Canvas compares logins); the
    Canvas ids say which two accounts were linked, so a later run can tell "we linked these two and someone
    removed the link" from "a different account now holds that key or email".
    """

    target_id: str
    student_key: str
    parent_email: str
    student_id: str
    parent_id: str
    method: str  # "direct" or "pairing-code"
    linked_at: datetime


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One recorded run of a command."""

    run_id: int
    target_id: str
    command: str
    started_at: datetime
    ended_at: datetime | None
    counts: Mapping[str, int]
    exit_code: int | None


@dataclass(frozen=True, slots=True)
class RunEvent:
    """One user's (or row's) outcome in a run; unchanged users are not logged, to keep the table small."""

    run_id: int
    key: str
    user_id: str | None
    outcome: str
    reason: str | None
    message: str | None
    at: datetime
