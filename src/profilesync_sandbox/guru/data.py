"""The emulated Guru's data behind one lock: members (each with the person JSON Guru would return), pictures,
and what every PUT lost, invented or changed.

The stored person is the single source of truth: the members listing is rendered from it, and a PUT replaces
it whole, as the documented endpoint does — so a client that drops a field really erases it here, and the
problem is recorded for tests to assert on.

What tests and the CLI do to it is ``state.GuruState``.
"""

from __future__ import annotations

import copy
import hashlib
import random
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from profilesync_sandbox.guru.config import GuruSandboxConfig
from profilesync_sandbox.requestlog import RequestLog

ACTIVE = "ACTIVE"
INACTIVE = "INACTIVE"
DOMAIN = "sandbox-school.test"
FIRST = ("Ada", "Grace", "Alan", "Katherine", "Edsger", "Barbara", "Dennis", "Frances", "Claude", "Radia", "Ken")
LAST = ("Lovelace", "Hopper", "Turing", "Johnson", "Dijkstra", "Liskov", "Ritchie", "Allen", "Shannon", "Perlman")
ROLES = ("Teacher", "Counselor", "Office", "IT", "Coach")
PICTURE_TYPES = {
    b"\xff\xd8\xff": ("image/jpeg", "jpg"),
    b"\x89PNG": ("image/png", "png"),
    b"GIF8": ("image/gif", "gif"),
}

ProblemKind = Literal["lost", "invented", "changed", "reordered"]


@dataclass(frozen=True)
class PutProblem:
    """Something a PUT did to a person besides replacing ``profilePicUrl``."""

    user_id: str
    kind: ProblemKind
    path: str  # "manager.profilePicUrl", "slackProfileDetails"


@dataclass
class Member:
    user_id: str
    person: dict[str, Any]
    date_created: str
    groups: list[dict[str, Any]]
    wants_own_picture: bool = False


@dataclass
class Picture:
    data: bytes
    content_type: str
    deleted: bool = False


@dataclass
class _Bucket:
    tokens: float
    at: float = field(default_factory=time.monotonic)


def derived_secret(seed: int, purpose: str) -> str:
    """A token that is the same for the same seed, so a restarted sandbox keeps working with the same .env."""
    return hashlib.sha256(f"profilesync-guru-sandbox:{purpose}:{seed}".encode()).hexdigest()[:40]


class GuruData:
    """Everything the emulated Guru stores; handlers and the controls take ``lock``."""

    def __init__(self, config: GuruSandboxConfig, request_log: RequestLog) -> None:
        self.config = config
        self.lock = threading.RLock()
        self.base_url = ""  # set when the server is bound; picture URLs are absolute
        self.request_log = request_log  # written by the server
        self.problems: list[PutProblem] = []
        self.picture_auth: list[str] = []
        self.pictures: dict[str, Picture] = {}  # by file name under /pp/
        self.buckets: dict[str, _Bucket] = {}
        self.members_by_id: dict[str, Member] = {}
        self._rng = random.Random(config.seed)
        self._generate()

    # -- population

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def _generate(self) -> None:
        created = datetime(2022, 2, 9, 22, 1, 59, tzinfo=UTC)
        for i in range(self.config.members):
            first, last = FIRST[i % len(FIRST)], LAST[(i // len(FIRST) + i) % len(LAST)]
            email = f"{first}.{last}{i}@{DOMAIN}".lower()
            if i % 7 == 3:
                email = f"{first}.{last}{i}@{DOMAIN}"  # Guru keeps the case someone typed: match must fold it
            status = INACTIVE if self._rng.random() < self.config.inactive_rate else ACTIVE
            manager = self._manager_of(i)
            person: dict[str, Any] = {
                "pronouns": "" if i % 3 else "she/her",
                "displayName": f"{first} {last}",
                "manager": manager,
                "userId": self._uuid(),
                "slackProfileDetails": [],
                "jobTitle": ROLES[i % len(ROLES)],
                "id": self._uuid(),
                "status": status,
                "email": email,
                "profilePicUrl": "",
                "userProfile": {"roleLevel": "Individual Contributor", "useCaseList": [], "role": ROLES[i % 5]},
                "lastName": last,
                "firstName": first,
            }
            if i % 4 == 1:
                # Fields this client knows nothing about must survive the PUT too.
                person["bio"] = f"Room B{i:02d} — Ünïcödé welcome"
                person["customFields"] = {"room": f"B{i:02d}", "extensions": [100 + i, None, True, 1.5]}
            member = Member(
                user_id=person["userId"],
                person=person,
                date_created=(created + timedelta(minutes=i)).strftime("%Y-%m-%dT%H:%M:%S.000+0000"),
                groups=[{"id": f"group-{i % 3}", "name": ("All Staff", "Teachers", "Office")[i % 3]}],
                wants_own_picture=self._rng.random() < self.config.own_picture_rate,
            )
            self.members_by_id[member.user_id] = member

    def _manager_of(self, i: int) -> dict[str, Any] | None:
        """A snapshot of an earlier member (with that member's own picture URL: a trap for blind replaces)."""
        if i == 0 or i % 2:
            return None
        boss = next(iter(self.members_by_id.values()))
        p = boss.person
        return {
            "displayName": p["displayName"],
            "userId": p["userId"],
            "id": p["id"],
            "email": p["email"],
            "profilePicUrl": f"https://pp.getguru.com/{hashlib.md5(p['email'].encode()).hexdigest()}.png",
            "lastName": p["lastName"],
            "firstName": p["firstName"],
        }

    def seed_pictures(self) -> None:
        """Give some members a picture of their own, once the server knows its URL."""
        from profilesync_sandbox.samples import make_portrait  # Pillow only when a sandbox actually starts

        with self.lock:
            for n, member in enumerate(self.members_by_id.values()):
                if member.wants_own_picture and not member.person["profilePicUrl"]:
                    member.person["profilePicUrl"] = self.add_picture(make_portrait(f"own {n}", size=64))

    # -- used by the handlers (callers hold the lock)

    def add_picture(self, data: bytes) -> str:
        """Store an image; its absolute URL. The caller checked it is an image."""
        content_type, ext = picture_type(data) or ("application/octet-stream", "bin")
        name = f"{uuid.UUID(int=self._rng.getrandbits(128), version=4).hex}.{ext}"
        self.pictures[name] = Picture(data, content_type)
        return f"{self.base_url}/pp/{name}"

    def listing(self, search: str | None) -> list[dict[str, Any]]:
        """Members as ``GET /api/v1/members`` renders them, filtered by ``search`` (case-insensitive)."""
        needle = (search or "").strip().casefold()
        out = []
        for member in self.members_by_id.values():
            p = member.person
            haystack = " ".join(str(p.get(k) or "") for k in ("email", "firstName", "lastName", "displayName"))
            if needle and needle not in haystack.casefold():
                continue
            out.append(
                {
                    "userAttributes": {"BILLING_TYPE": "CORE"},
                    "user": {
                        "id": member.user_id,
                        "status": p.get("status"),
                        "email": p.get("email"),
                        "lastName": p.get("lastName"),
                        "firstName": p.get("firstName"),
                        "profilePicUrl": p.get("profilePicUrl") or "",
                    },
                    "id": p.get("email"),
                    "dateCreated": member.date_created,
                    "groups": copy.deepcopy(member.groups),
                }
            )
        return out

    def member_row(self, email: str) -> dict[str, Any] | None:
        """The listing row of the member with this email (any letter case), or None."""
        wanted = email.strip().casefold()
        return next((row for row in self.listing(None) if str(row["user"]["email"]).casefold() == wanted), None)

    def put_person(self, user_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """Replace the person whole (as Guru's PUT does), recording anything but the picture that changed."""
        member = self.members_by_id[user_id]
        for kind, path in diff(member.person, body):
            if not (path == "profilePicUrl" and kind in ("changed", "invented")):  # the one field a PUT may set
                self.problems.append(PutProblem(user_id, kind, path))
        member.person = copy.deepcopy(body)
        return copy.deepcopy(member.person)

    def take_rate_token(self, credential: str) -> float | None:
        """None when the request may run; else the seconds to wait (the 429's Retry-After)."""
        rate = self.config.rate_limit_per_s
        if rate <= 0:
            return None
        now = time.monotonic()
        bucket = self.buckets.setdefault(credential, _Bucket(tokens=rate, at=now))
        bucket.tokens = min(rate, bucket.tokens + (now - bucket.at) * rate)
        bucket.at = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return None
        return (1.0 - bucket.tokens) / rate

    # -- called by the picture host

    def record_picture_auth(self, value: str) -> None:
        with self.lock:
            self.picture_auth.append(value)


def picture_type(data: bytes) -> tuple[str, str] | None:
    """(content type, extension) of an image by its magic bytes; None when it is not one we accept."""
    for magic, kind in PICTURE_TYPES.items():
        if data.startswith(magic):
            return kind
    return None


def diff(before: Any, after: Any, path: str = "") -> list[tuple[ProblemKind, str]]:
    """How ``after`` differs from ``before``: keys lost, invented, reordered, and values changed."""
    if isinstance(before, dict) and isinstance(after, dict):
        found: list[tuple[ProblemKind, str]] = []
        for key in before:
            if key not in after:
                found.append(("lost", _join(path, key)))
        for key in after:
            if key not in before:
                found.append(("invented", _join(path, key)))
        common_before = [k for k in before if k in after]
        common_after = [k for k in after if k in before]
        if common_before != common_after:
            found.append(("reordered", path or "."))
        for key in common_before:
            found.extend(diff(before[key], after[key], _join(path, key)))
        return found
    if before != after or type(before) is not type(after):
        return [("changed", path or ".")]
    return []


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else str(key)
