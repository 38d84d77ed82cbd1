"""The per-row decision, pure: no I/O, no clock. The executor gathers the facts and applies the outcome.

Checked top to bottom for each valid row (``invalid_row`` is decided earlier, from the CSV alone):

| situation | outcome |
| --- | --- |
| no Canvas user has the student's SIS id | student_not_found |
| the parent's login is the student's own | error |
| the parent already observes the student | already_linked |
| profilesync linked these two accounts before and the link is gone | error (never re-linked) |
| the student has no live student enrollment | student_not_enrolled |
| no Canvas login is the parent's email | create_parent_and_link (later rows of that parent: link) |
| otherwise | link |

A link profilesync made and that later disappeared was removed by a person in Canvas — perhaps for a family
reason the school knows and the SIS export does not. Putting it back would undo their decision, so the row is
reported instead; linking the two by hand in Canvas (or dropping the row) settles it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from profilesync.engine.model import CanvasUser, ObserverLink
from profilesync.observers.model import LinkOutcome, Row, RowResult


@dataclass(frozen=True)
class LinkDecision:
    """What :func:`decide_link` chose for one row."""

    outcome: LinkOutcome
    message: str | None = None


#: returned when the decision hinges on the student's enrollment and it was not looked up (``enrolled=None``):
#: the executor looks it up only then, so students already linked cost no request.
NEEDS_ENROLLMENT = LinkDecision(LinkOutcome.ERROR, "the student's enrollment was not looked up")


def decide_link(
    row: Row,
    *,
    student: CanvasUser | None,
    parent: CanvasUser | None,
    linked: bool,
    enrolled: bool | None,
    previous: ObserverLink | None = None,
) -> LinkDecision:
    """One row's outcome from what Canvas and the history say (see the module's table)."""
    if student is None:
        return LinkDecision(LinkOutcome.STUDENT_NOT_FOUND, f"no Canvas user has SIS ID {row.student!r}")
    if parent is not None and parent.id == student.id:
        # Canvas would refuse it anyway ("Cannot observe yourself", docs/canvas.md §14.4 B)
        return LinkDecision(LinkOutcome.ERROR, f"{row.email} is the student's own Canvas login")
    if linked:
        return LinkDecision(LinkOutcome.ALREADY_LINKED)
    if (
        previous is not None
        and parent is not None
        and (previous.student_id, previous.parent_id) == (student.id, parent.id)
    ):
        return LinkDecision(
            LinkOutcome.ERROR,
            f"profilesync linked them on {previous.linked_at:%Y-%m-%d} and someone has since removed the link "
            "in Canvas: not linking again (link them in Canvas if the removal was a mistake, or drop the row)",
        )
    if enrolled is None:
        return NEEDS_ENROLLMENT
    if not enrolled:
        return LinkDecision(
            LinkOutcome.STUDENT_NOT_ENROLLED,
            "the student has no active student enrollment yet; the first run after they enrol links them",
        )
    if parent is None:
        return LinkDecision(
            LinkOutcome.CREATE_PARENT_AND_LINK, f"{row.email} has no Canvas account yet: it will be created"
        )
    return LinkDecision(LinkOutcome.LINK)


def plan_parent(results: Sequence[RowResult]) -> list[RowResult]:
    """One parent's row results, in row order, adjusted so a missing account is created once: on the
    parent's first row that links; their later rows link to it."""
    created_on: int | None = None
    adjusted = []
    for result in results:
        if result.outcome is LinkOutcome.CREATE_PARENT_AND_LINK:
            if created_on is None:
                created_on = result.row.number
            else:
                result = replace(
                    result, outcome=LinkOutcome.LINK, message=f"parent account created on row {created_on}"
                )
        adjusted.append(result)
    return adjusted
