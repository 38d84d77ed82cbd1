"""The read-only questions ``profilesync doctor --target guru`` asks Guru, each answered with a typed value.

Only reads: the first page of the members listing (is the address Guru's API, are the credentials accepted)
and then the whole listing, as the nightly run reads it. Whether the credentials may write cannot be learnt
without writing. The answers carry the facts and the advice; the doctor reads no status code.
"""

from __future__ import annotations

from dataclasses import dataclass

from profilesync.engine.model import RemoteUser
from profilesync.errors import ProfilesyncError
from profilesync.targets.answers import (
    NOT_JSON,
    NotReached,
    Rejected,
    Unanswered,
    Unreached,
    first_contact,
    json_or_not,
)
from profilesync.targets.guru import MEMBERS, TOKEN_ADVICE, URL_ADVICE, GuruTarget, guru_message

FAILING_ADVICE = "try again later; if it persists, check Guru's status page"


@dataclass(frozen=True)
class Reached:
    """Guru's API answered (in ``elapsed_ms``) with a members list: it took the credentials."""

    elapsed_ms: float


class GuruQuestions:
    """Asks one Guru target the doctor's questions, through its public client."""

    def __init__(self, target: GuruTarget) -> None:
        self.target = target

    def member_access(self) -> Reached | NotReached | Rejected:
        """:calls: ``GET /api/v1/members`` (the first page) — is the URL Guru's API, are the credentials accepted?"""
        base = self.target.api.base_url
        contact = first_contact(
            self.target.api,
            MEMBERS,
            what="reading the first page of members",
            advice=f"check GURU_BASE_URL ({base}) and the network",
        )
        if isinstance(contact, NotReached):
            return contact
        response, elapsed_ms = contact.response, contact.elapsed_ms
        status = response.status_code
        body = json_or_not(response, self.target.api.dialect)
        if body is NOT_JSON or 300 <= status < 400:
            what = f"HTTP {status}" + (" (a redirect)" if 300 <= status < 400 else ", not JSON")
            return NotReached(Unreached.NOT_THE_API, f"{base}{MEMBERS} answers {what}: not Guru's API", URL_ADVICE)
        if status >= 500:
            detail = f"Guru answers with a server error ({status}: {guru_message(response)})"
            return NotReached(Unreached.FAILING, detail, FAILING_ADVICE)
        if status in (401, 403):
            detail = f"Guru rejected the credentials of {self.target.user} ({guru_message(response)})"
            return Rejected(detail, TOKEN_ADVICE, elapsed_ms)
        if status == 404 or not isinstance(body, list):
            detail = f"{base}{MEMBERS} answers HTTP {status} but no members list"
            return NotReached(Unreached.NOT_THE_API, detail, URL_ADVICE)
        if status >= 400:
            return Rejected(guru_message(response), TOKEN_ADVICE, elapsed_ms)
        return Reached(elapsed_ms)

    def members(self) -> list[RemoteUser] | Unanswered:
        """The whole listing, as the nightly run reads it."""
        try:
            return list(self.target.list_users())
        except ProfilesyncError as exc:
            return Unanswered(exc.message, exc.advice)
