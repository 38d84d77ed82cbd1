"""``GuruState``: the controls tests and the CLI use on a Guru sandbox's data (``guru.state``): snapshots that
take the lock and hand back copies or frozen views, and pokes that act as a member would in Guru's UI.
"""

from __future__ import annotations

import copy
from collections import Counter
from dataclasses import dataclass
from typing import Any

from profilesync_sandbox.guru.data import ACTIVE, GuruData, Member, PutProblem
from profilesync_sandbox.requestlog import RequestRecord


@dataclass(frozen=True)
class MemberView:
    """A snapshot of one member for tests."""

    user_id: str
    email: str
    first_name: str
    last_name: str
    status: str
    profile_pic_url: str | None  # None: no picture ("" in Guru's JSON)

    @property
    def active(self) -> bool:
        return self.status == ACTIVE


class GuruState(GuruData):
    """The Guru sandbox's data with the controls over it."""

    # -- test-facing snapshots and pokes

    def members(self) -> list[MemberView]:
        with self.lock:
            return [_view(m) for m in self.members_by_id.values()]

    def member(self, user_id: str) -> MemberView:
        with self.lock:
            return _view(self.members_by_id[user_id])

    def member_by_email(self, email: str) -> MemberView:
        with self.lock:
            return next(
                _view(m) for m in self.members_by_id.values() if m.person["email"].casefold() == email.casefold()
            )

    def person(self, user_id: str) -> dict[str, Any]:
        """A deep copy of the stored person JSON."""
        with self.lock:
            return copy.deepcopy(self.members_by_id[user_id].person)

    def picture(self, url: str) -> bytes | None:
        """The bytes served at ``url`` (None: not served by this sandbox, or deleted)."""
        name = url.rsplit("/pp/", 1)[-1] if "/pp/" in url else None
        with self.lock:
            picture = self.pictures.get(name or "")
            return None if picture is None or picture.deleted else picture.data

    def picture_count(self) -> int:
        with self.lock:
            return len(self.pictures)

    @property
    def put_problems(self) -> list[PutProblem]:
        """Every field a PUT lost, invented, changed or reordered (tests assert this stays empty)."""
        with self.lock:
            return list(self.problems)

    @property
    def picture_auth_headers_seen(self) -> list[str]:
        """Authorization headers the public picture host received (credentials leaking: keep empty)."""
        with self.lock:
            return list(self.picture_auth)

    def requests(self) -> list[RequestRecord]:
        return self.request_log.requests()

    def counts(self) -> Counter[str]:
        """Requests per route key (``"PUT /api/v1/people/:id"``); unmatched paths count under ``"?"``."""
        return self.request_log.counts()

    def reset_counts(self) -> None:
        self.request_log.clear()

    def member_sets_own_picture(self, user_id: str, data: bytes) -> str:
        """The member uploads and picks a picture in Guru's UI; its URL."""
        with self.lock:
            url = self.add_picture(data)
            self.members_by_id[user_id].person["profilePicUrl"] = url
            return url

    def delete_picture(self, url: str) -> None:
        """Guru stops serving a picture (profiles that show it keep the dead URL)."""
        with self.lock:
            self.pictures[url.rsplit("/pp/", 1)[-1]].deleted = True

    def set_status(self, user_id: str, status: str) -> None:
        with self.lock:
            self.members_by_id[user_id].person["status"] = status


def _view(member: Member) -> MemberView:
    p = member.person
    return MemberView(
        user_id=member.user_id,
        email=str(p.get("email")),
        first_name=str(p.get("firstName")),
        last_name=str(p.get("lastName")),
        status=str(p.get("status")),
        profile_pic_url=p.get("profilePicUrl") or None,
    )
