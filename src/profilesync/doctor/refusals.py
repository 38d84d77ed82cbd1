"""`profilesync doctor`'s "limited access" line: may Canvas refuse students' uploads ("Limited access for students")?

``ApplicationController#check_limited_access_for_students`` does nothing unless the domain root account has the
``allow_limited_access_for_students`` feature; with it, every student of an account where the setting is on is
refused the upload the sync makes as them (docs/canvas-behaviours.md). The feature list is a harmless read; the
setting itself is not in the API's account JSON, so a warning is as precise as the doctor can be.
"""

from __future__ import annotations

from profilesync.doctor.checks import Check, passed, warned
from profilesync.errors import ProfilesyncError
from profilesync.targets.canvas.refusals import LIMITED_ACCESS_ADVICE, limited_access_allowed
from profilesync.targets.canvas.target import CanvasTarget

LIMITED_ACCESS = "limited access"


def check_limited_access(target: CanvasTarget) -> Check:
    """Warn when the root account can restrict students: their avatars then cannot be synced."""
    try:
        allowed = limited_access_allowed(target.api)
    except ProfilesyncError as exc:
        return warned(
            LIMITED_ACCESS,
            f"cannot tell whether 'Limited access for students' is in use ({exc.message})",
            "if students fail with limited_access, see the account setting 'Limited access for students'",
        )
    if not allowed:
        return passed(LIMITED_ACCESS, "'Limited access for students' is not available here: students can be synced")
    return warned(
        LIMITED_ACCESS,
        "the root account has the 'Limited access for students' feature: students of any account with that "
        "setting on cannot get avatars (each is reported as limited_access); the API does not say which accounts",
        LIMITED_ACCESS_ADVICE,
    )
