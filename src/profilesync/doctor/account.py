"""``doctor``'s root-account checks: which Canvas this is, and whether the token may write there.

Both are reads (``GET /api/v1/accounts/self`` and ``.../permissions``, see ``targets.canvas_account``): a
sub-account admin's token, or one whose role lacks the rights every upload or lookup needs, is found before
a nightly run fails on it.
"""

from __future__ import annotations

from profilesync.doctor.checks import Check, failed, passed, skipped, warned
from profilesync.errors import ExitCode, ProfilesyncError
from profilesync.targets.canvas.account import (
    PERMISSION_LABELS,
    READ_RIGHTS,
    READ_USERS_ADVICE,
    ROOT_ADMIN_ADVICE,
    WRITE_RIGHTS,
)
from profilesync.targets.canvas.target import CanvasTarget

ROOT = "root account"
RIGHTS = "root-account rights"


def account_checks(target: CanvasTarget) -> list[Check]:
    """The root account (the history's name for this Canvas) and the token's rights on it."""
    try:
        root = target.account.root()
    except ProfilesyncError as exc:
        return [failed(ROOT, exc.message, exc.advice, ExitCode.REMOTE), skipped(RIGHTS, "the root account is refused")]
    found = passed(ROOT, f"{root.name} (uuid {root.uuid}); the history names this Canvas by it, whatever its URL")
    try:
        rights = target.account.rights((*WRITE_RIGHTS, *READ_RIGHTS))
    except ProfilesyncError as exc:
        return [found, failed(RIGHTS, exc.message, exc.advice, ExitCode.REMOTE)]
    if rights is None:
        return [found, warned(RIGHTS, "Canvas did not say which rights the token has (no permissions endpoint)")]
    missing = [name for name in WRITE_RIGHTS if not rights[name]]
    if not any(rights[name] for name in READ_RIGHTS):
        return [
            found,
            failed(
                RIGHTS,
                "the token may not read users: every lookup (--user, observers) would answer 'not found'"
                + (f"; it also lacks {_labels(missing)}" if missing else ""),
                READ_USERS_ADVICE + (f"; uploads also need {_labels(missing)}" if missing else ""),
                ExitCode.REMOTE,
            ),
        ]
    if missing:
        detail = f"the token lacks {_labels(missing)} on the root account: every upload would be refused"
        return [found, failed(RIGHTS, detail, ROOT_ADMIN_ADVICE, ExitCode.REMOTE)]
    held = ", ".join(PERMISSION_LABELS[name] for name in dict.fromkeys((*WRITE_RIGHTS, *READ_RIGHTS)) if rights[name])
    return [found, passed(RIGHTS, f"the token holds {held} on the root account")]


def _labels(names: list[str]) -> str:
    return " and ".join(PERMISSION_LABELS[name] for name in names)
