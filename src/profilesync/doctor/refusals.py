"""`profilesync doctor`'s "limited access" line: may Canvas refuse students' uploads ("Limited access for students")?

``ApplicationController#check_limited_access_for_students`` does nothing unless the domain root account has the
``allow_limited_access_for_students`` feature; with it, every student of an account where the setting is on is
refused the upload the sync makes as them (docs/canvas-behaviours.md). The feature list is a harmless read; the
setting itself is not in the API's account JSON, so a warning is as precise as the doctor can be.
"""

from __future__ import annotations

from profilesync.doctor.checks import Check, passed, warned
from profilesync.targets.answers import Unanswered
from profilesync.targets.canvas.questions import CanvasQuestions
from profilesync.targets.canvas.refusals import LIMITED_ACCESS_ADVICE

LIMITED_ACCESS = "limited access"


def check_limited_access(questions: CanvasQuestions) -> Check:
    """Warn when the root account can restrict students: their avatars then cannot be synced."""
    allowed = questions.limited_access_allowed()
    if isinstance(allowed, Unanswered):
        detail = f"cannot tell whether 'Limited access for students' is in use ({allowed.message})"
        return warned(LIMITED_ACCESS, detail, allowed.advice)
    if not allowed:
        return passed(LIMITED_ACCESS, "'Limited access for students' is not available here: students can be synced")
    return warned(
        LIMITED_ACCESS,
        "the root account has the 'Limited access for students' feature: students of any account with that "
        "setting on cannot get avatars (each is reported as limited_access); the API does not say which accounts",
        LIMITED_ACCESS_ADVICE,
    )
