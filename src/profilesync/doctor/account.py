"""``doctor``'s root-account checks: which Canvas this is, and whether the token may write there.

Both are reads (``GET /api/v1/accounts/self`` and ``.../permissions``, see ``targets.canvas.account``): a
sub-account admin's token, or one whose role lacks the rights every upload or lookup needs, is found before
a nightly run fails on it.
"""

from __future__ import annotations

from collections.abc import Sequence

from profilesync.doctor.checks import Check, failed, passed, skipped, warned
from profilesync.errors import ExitCode
from profilesync.targets.answers import Unanswered
from profilesync.targets.canvas.account import PERMISSION_LABELS, READ_USERS_ADVICE, ROOT_ADMIN_ADVICE
from profilesync.targets.canvas.questions import CanvasQuestions

ROOT = "root account"
RIGHTS = "root-account rights"


def account_checks(questions: CanvasQuestions) -> list[Check]:
    """The root account (the history's name for this Canvas) and the token's rights on it."""
    root = questions.root_account()
    if isinstance(root, Unanswered):
        return [
            failed(ROOT, root.message, root.advice, ExitCode.REMOTE),
            skipped(RIGHTS, "the root account is refused"),
        ]
    found = passed(ROOT, f"{root.name} (uuid {root.uuid}); the history names this Canvas by it, whatever its URL")
    rights = questions.rights()
    if isinstance(rights, Unanswered):
        return [found, failed(RIGHTS, rights.message, rights.advice, ExitCode.REMOTE)]
    if not rights.known:
        return [found, warned(RIGHTS, "Canvas did not say which rights the token has (no permissions endpoint)")]
    missing = rights.missing_writes
    if not rights.reads_users:
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
    held = ", ".join(PERMISSION_LABELS[name] for name in rights.held)
    return [found, passed(RIGHTS, f"the token holds {held} on the root account")]


def _labels(names: Sequence[str]) -> str:
    return " and ".join(PERMISSION_LABELS[name] for name in names)
