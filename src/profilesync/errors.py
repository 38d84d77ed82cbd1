"""One exception hierarchy, each error carrying advice, and the exit codes they map to.

The CLI turns these into text and an exit code in exactly one place (``cli.handle_errors``);
the core raises them and never prints.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Exit codes shared by every command (docs/design.md §2)."""

    OK = 0
    PARTIAL = 1  # finished, but some users or rows failed
    USAGE = 2  # usage or configuration error
    REMOTE = 3  # fatal remote error: bad token, unreachable, not Canvas, avatars disabled
    SAFETY = 4  # a safety valve tripped
    LOCKED = 5  # another run holds the lock


class ProfilesyncError(Exception):
    """Base error: a message for the admin, advice on what to do, and the exit code."""

    exit_code: ExitCode = ExitCode.USAGE

    def __init__(self, message: str, *, advice: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.advice = advice

    def __str__(self) -> str:
        return self.message if not self.advice else f"{self.message} ({self.advice})"


#: where every setting is explained (a pip install has no config.example.env to read: init writes it)
CONFIG_ADVICE = "every setting is described in the template that 'profilesync init' writes (config.example.env)"


class ConfigError(ProfilesyncError):
    """The configuration is incomplete or wrong; ``problems`` lists every one found."""

    exit_code = ExitCode.USAGE

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems), advice=CONFIG_ADVICE)
        self.problems = problems


class SafetyValveError(ProfilesyncError):
    """The run would do something unusual (empty photo folder, a huge plan) and was stopped."""

    exit_code = ExitCode.SAFETY


class LockedError(ProfilesyncError):
    """Another run holds the lock on this database."""

    exit_code = ExitCode.LOCKED


class RemoteError(ProfilesyncError):
    """A remote answer that fails one user (or row); the run goes on."""

    exit_code = ExitCode.PARTIAL
    kind = "remote_error"  # the failure reason reported for the user

    def __init__(self, message: str, *, advice: str | None = None, status: int | None = None) -> None:
        super().__init__(message, advice=advice)
        self.status = status


class NotFoundError(RemoteError):
    """The remote says the object does not exist (404)."""

    kind = "not_found"


class PermissionDeniedError(RemoteError):
    """The remote refused an action for this one object (e.g. a locked folder, a missing enrollment)."""

    kind = "permission"


class LimitedAccessError(PermissionDeniedError):
    """Canvas refuses this student's own file uploads ("Limited access for students"): one user's problem."""

    kind = "limited_access"


class MasqueradeRefusedError(PermissionDeniedError):
    """Canvas refused to act as this one user (merged, no login in the root account, higher rights)."""

    kind = "masquerade_refused"


class TransientError(RemoteError):
    """A 5xx, a dropped connection or a timeout that survived every safe retry."""

    kind = "transient"


class QuotaError(RemoteError):
    """The user's file quota has no room for the photo."""

    kind = "quota"


class FatalRemoteError(ProfilesyncError):
    """An answer that makes every later request pointless: bad token, not Canvas, avatars disabled, unreachable.

    It stops the run at once (exit 3).
    """

    exit_code = ExitCode.REMOTE


class RunInterrupted(BaseException):
    """SIGINT or SIGTERM stopped a run (exit 128 + the signal: 130, 143).

    A BaseException, like KeyboardInterrupt, so that no ``except Exception`` meant for one user's failure
    swallows it. ``abandoned`` says some workers were still busy when the grace period ended: the process must
    then exit at once (``os._exit``) and keep its lock, which the next run takes over once this pid is gone.
    """

    def __init__(self, signum: int, *, abandoned: bool = False) -> None:
        super().__init__(signum)
        self.signum = signum
        self.abandoned = abandoned

    @property
    def exit_code(self) -> int:
        return 128 + self.signum
