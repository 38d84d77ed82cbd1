"""Guru as an avatar target: the members listing, the picture upload and the whole-profile PUT.

Guru documents bulk avatar upload (seed 001, "Bulk Upload Profile Avatars via the API") as: list the members
(``GET /api/v1/members``), upload the picture (``POST /app/picture``, multipart ``profilePic``), then read the
person (``GET /api/v1/people/{user.id}``) and PUT the whole person back with only ``profilePicUrl`` replaced.

Where Guru's documentation is silent this adapter assumes, and the Guru sandbox emulates:

- Pagination (developer.getguru.com/docs/paging): any list may be paged with a page size the server picks and
  may change; a ``Link`` header with ``rel="next-page"`` names the next page and its absence ends the list. We
  follow ``next-page`` or the standard ``next``, never build page URLs, never stop on a short page, stop on an
  empty page, and refuse a next link to another host or one seen before.
- Looking one member up (``--user``): ``GET /api/v1/members/{email}`` — documented
  (developer.getguru.com/docs/updating-profiles, step 1: "Searching for a specific team member by email"), its
  answer includes ``user.id`` like a listing row. A 404 means no such member. Matching by user id there is no
  documented lookup, so the listing is read.
- The person endpoint takes the member's ``user.id`` (the seed: "you will need the user.id"). Before a PUT the
  person's email must be the member's, so a wrong id can never overwrite somebody else's profile.
- The PUT answer: assumed to echo the person; when it does not show the new URL, one re-GET decides.
- Credentials: basic auth with the user's email and a User token (read/write). Neither the token nor the
  ``Authorization`` value (base64 of ``user:token``) ever leaves this adapter in an error: a server or a proxy
  may echo the request into its error body. A 401 anywhere is fatal (every later request would fail too); a
  401/403 on the picture upload is fatal (it is not about one member: a read-only Collection token or a
  non-admin user); a 403 on one person's PUT fails that member, and the run once three members were refused
  before any PUT succeeded.
- Rate limits are undocumented: a 429 (no remaining-quota header assumed) pauses every worker — half a second,
  growing 1.5x while the throttling lasts; ``Retry-After`` is not read yet — and is retried; concurrency then
  drops to one request in flight and grows back by one per successful answer.
- Other errors: 404 unknown person, 5xx transient (retried when safe); bodies are read only for a human
  message (``description`` or ``message``).
- The picture upload's answer: the seed names the field ``uploadedPictureUrl``; Guru's guide
  (developer.getguru.com/docs/bulk-upload-profile-avatars-via-the-api, step 2) could not be read far enough to
  confirm the name, so that field is read first and, failing it, the answer's one absolute URL (a bare JSON
  string, or the only string field holding one) is taken; anything else fails the member, naming the fields.
- Pictures live at the URL Guru returns (``https://pp.getguru.com/...``), public, and stay valid while any
  profile uses them (assumed). A reassignment first asks the picture host, without credentials, whether the
  URL is still served: 403/404/410 mean gone, and the executor uploads the photo again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import Any
from urllib.parse import quote

import requests

from profilesync.domain import Secret, basic_credentials, fold_key
from profilesync.engine.breaker import Breaker
from profilesync.engine.model import RemoteUser, SyncRecord, Uploaded
from profilesync.errors import (
    FatalRemoteError,
    PermissionDeniedError,
    RemoteError,
    TransientError,
)
from profilesync.http import (
    Api,
    Dialect,
    Retry,
    error_text,
    make_session,
    parse_json,
    raise_for_status,
    redact_url,
)
from profilesync.rategate import RateGate
from profilesync.scrub import Scrubber

log = logging.getLogger(__name__)

MEMBERS = "/api/v1/members"
PEOPLE = "/api/v1/people/"
PICTURE = "/app/picture"
PICTURE_FIELD = "profilePic"
PICTURE_FILE_NAME = "profilesync-avatar.jpg"
PICTURE_ANSWER_FIELD = "uploadedPictureUrl"
NEXT_RELS = ("next-page", "next")  # Guru documents "next-page"; "next" is the RFC 8288 name
MATCH_FIELDS = ("email", "id")  # member fields a photo name can be
#: a picture URL that answers one of these is gone (S3-style hosts answer 403 for a missing object)
PICTURE_GONE = frozenset({403, 404, 410})
#: with no remaining-quota header to go by, a 429 pauses for about this many "units" / 10 s (RateGate.throttle)
THROTTLE_UNIT = 5.0
PERMISSION_FAILURES_BEFORE_FATAL = 3
#: refused profile updates (each PUT counts) that stop the run while no PUT was accepted
REFUSALS_BEFORE_FATAL = {PermissionDeniedError.kind: PERMISSION_FAILURES_BEFORE_FATAL}
#: requests in flight unless --workers / PROFILESYNC_WORKERS say otherwise: Guru publishes no rate limit, so
#: fewer than Canvas's 16; a 429 still lowers it further on its own
DEFAULT_IN_FLIGHT = 8
URL_ADVICE = "set GURU_BASE_URL to Guru's API address, normally https://api.getguru.com"
TOKEN_ADVICE = (
    "set GURU_USER to the email of a Team Admin and GURU_API_TOKEN to that user's User token "
    "(Guru: Manage > Apps & Integrations > API Access); a Collection token is read-only"
)


def uploaded_url(body: Any) -> str | None:
    """The picture URL in ``POST /app/picture``'s answer (see the module notes on the field's name)."""
    if is_url(body):
        return str(body)
    if not isinstance(body, dict):
        return None
    if is_url(body.get(PICTURE_ANSWER_FIELD)):
        return str(body[PICTURE_ANSWER_FIELD])
    urls = [value for value in body.values() if is_url(value)]
    if len(urls) != 1:
        return None
    log.debug("Guru's picture answer has no %s; took its one URL", PICTURE_ANSWER_FIELD)
    return str(urls[0])


def is_url(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(("https://", "http://"))


def picture_url(value: Any) -> str | None:
    """A ``profilePicUrl`` as an avatar identity: the URL itself, None when missing or empty."""
    return value.strip() if isinstance(value, str) and value.strip() else None


def with_picture(person: dict[str, Any], url: str) -> dict[str, Any]:
    """The person exactly as read, key order included, with only ``profilePicUrl`` replaced."""
    updated = dict(person)  # a shallow copy keeps every key in its place; nested objects go back untouched
    updated["profilePicUrl"] = url
    return updated


def guru_message(response: requests.Response) -> str:
    """The human part of an error answer, in whichever shape Guru uses."""
    try:
        body = parse_json(response)
    except ValueError:
        body = None
    if isinstance(body, dict):
        for field in ("description", "message", "error"):
            if isinstance(body.get(field), str) and body[field]:
                return str(body[field])
    return error_text(response)


class GuruDialect(Dialect):
    """Guru's API as plain HTTP (a 429 throttles, no remaining-quota header), with its own 401 and error bodies."""

    name = "Guru"

    def check(self, response: requests.Response, what: str) -> None:
        """401 and Guru's error bodies here, the rest as for every API."""
        status = response.status_code
        if status == 401:
            raise FatalRemoteError(f"Guru rejected the credentials: {guru_message(response)}", advice=TOKEN_ADVICE)
        if 400 <= status < 500 and status not in (403, 404):
            raise RemoteError(f"{what}: {guru_message(response)}", status=status)
        raise_for_status(response, what)


GURU = GuruDialect()


class GuruTarget:
    """The Guru adapter behind the ``AvatarTarget`` protocol."""

    def __init__(
        self,
        api: Api,
        scrub: Scrubber,
        *,
        user: str,
        match: str = "email",
    ) -> None:
        """A target on ``api`` (built by ``build_target``), hiding ``scrub``'s secrets in its errors."""
        if match not in MATCH_FIELDS:
            raise ValueError(f"Guru members can be matched by {' or '.join(MATCH_FIELDS)}, not {match!r}")
        self.api = api
        self.scrub = scrub
        self.target_id = f"guru:{api.base_url}"
        self.match = match
        self.user = user
        self._fold = fold_key(match)
        self._timeout = api.timeout
        self.uploads_made = 0  # picture POSTs (the bytes), reported apart from the JSON API requests
        self._lock = threading.Lock()
        self._put_refusals: Breaker[None] = Breaker(REFUSALS_BEFORE_FATAL)  # proven by an accepted PUT

    @property
    def requests_made(self) -> int:
        return self.api.requests_made

    def _no_secrets(self) -> AbstractContextManager[None]:
        """Whatever Guru (or a proxy) echoed into an error, neither the token nor the Authorization value leaves
        the adapter in it: errors reach stdout, the history and stderr, not only the filtered logs."""
        return self.scrub.errors_hidden()

    # -- listing and lookup --------------------------------------------------------------------------
    def list_users(self) -> Iterator[RemoteUser]:
        """:calls: ``GET /api/v1/members`` and every ``rel="next-page"`` after it."""
        seen: set[str] = set()
        with self._no_secrets():
            for member in self._members(what="listing the team's members"):
                user = self._remote_user(member)
                if user is not None and user.user_id not in seen:  # a listing that shifted under us repeats rows
                    seen.add(user.user_id)
                    yield user

    def find_user(self, key: str) -> RemoteUser | None:
        """:calls: ``GET /api/v1/members/{email}`` (the whole listing when matching by id)."""
        key = key.strip()
        wanted = self._fold(key)
        if self.match != "email":  # Guru documents no lookup by user id
            return next((user for user in self.list_users() if user.key == wanted), None)
        what = f"looking up member {key!r}"
        with self._no_secrets():
            # developer.getguru.com/docs/updating-profiles, step 1: GET /api/v1/members/{email}
            response = self.api.request("GET", f"{MEMBERS}/{quote(key, safe='@+')}", what=what)
            if response.status_code == 404:
                return None
            GURU.check(response, what)
            answer = self.api.body(response, what)
        # The guide promises the member (with user.id); a list of rows is read too. Only the member whose email is
        # the key counts: never act on whatever else a server might answer with.
        rows = answer if isinstance(answer, list) else [answer]
        users = (self._remote_user(row) for row in rows if isinstance(row, dict))
        return next((user for user in users if user is not None and user.key == wanted), None)

    def _members(self, *, what: str) -> Iterator[dict[str, Any]]:
        """Guru picks its own page size (developer.getguru.com/docs/paging): follow the links until they end."""
        for page in self.api.paginate(MEMBERS, what=what, params=[], per_page=None, next_rels=NEXT_RELS):
            for member in page:
                if isinstance(member, dict):
                    yield member

    def _remote_user(self, member: dict[str, Any]) -> RemoteUser | None:
        user = member.get("user")
        if not isinstance(user, dict) or not user.get("id"):
            log.debug("skipping a member without a user id: %s", member.get("id"))
            return None
        user_id = str(user["id"])
        email = user.get("email") or member.get("id")
        value = email if self.match == "email" else user_id
        key = self._fold(str(value).strip()) if value else None
        names = [str(user[k]) for k in ("firstName", "lastName") if user.get(k)]
        url = picture_url(user.get("profilePicUrl"))
        return RemoteUser(
            user_id=user_id,
            key=key,
            name=" ".join(names) or str(email or user_id),
            avatar_ref=url,
            avatar_url=url,
            active=user.get("status") == "ACTIVE",
        )

    # -- setting avatars -----------------------------------------------------------------------------
    def upload_avatar(self, user: RemoteUser, image: bytes, previous: SyncRecord | None = None) -> Uploaded:
        """Upload the picture, then put it on the member's profile and verify (each upload is a new URL, so
        the picture shown is never replaced before its successor is set: ``previous`` is not needed)."""
        with self._no_secrets():
            return self._assign(user, self._post_picture(user, image))

    def own_avatars(self, users: list[RemoteUser]) -> set[str]:
        """Guru picture URLs carry no name of ours: only the history can say a picture is ours."""
        return set()

    def reassign_avatar(self, user: RemoteUser, record: SyncRecord) -> Uploaded | None:
        """Put our earlier picture URL back; None when Guru no longer serves it (the caller uploads again)."""
        url = picture_url(record.file_id) or picture_url(record.avatar_url)
        with self._no_secrets():
            if url is None or not self._picture_served(url):
                return None
            return self._assign(user, url)

    def before_writes(self) -> None:
        """Nothing to check up front: a refused upload is recognised on the first one (see _post_picture)."""

    def _post_picture(self, user: RemoteUser, image: bytes) -> str:
        """:calls: ``POST /app/picture`` (multipart ``profilePic``) → ``{"uploadedPictureUrl": ...}``
        (developer.getguru.com/docs/bulk-upload-profile-avatars-via-the-api, step 2)."""
        what = f"uploading the picture of {user.key or user.user_id}"
        files = [(PICTURE_FIELD, (PICTURE_FILE_NAME, image, "image/jpeg"))]
        # A repeat after a lost answer only leaves an unreferenced picture behind, so 5xx are retried.
        with self._lock:
            self.uploads_made += 1
        response = self.api.request("POST", PICTURE, what=what, files=files, retry_unsafe=True)
        if response.status_code == 403:
            # Not about this member: the upload endpoint refuses the credentials for everyone.
            raise FatalRemoteError(f"Guru refused the picture upload: {guru_message(response)}", advice=TOKEN_ADVICE)
        GURU.check(response, what)
        body = self.api.body(response, what)
        url = uploaded_url(body)
        if url is None:
            fields = ", ".join(sorted(map(str, body))) if isinstance(body, dict) else type(body).__name__
            raise RemoteError(f"{what}: Guru's answer names no picture URL ({PICTURE_ANSWER_FIELD}; got {fields})")
        return url

    def _assign(self, user: RemoteUser, url: str) -> Uploaded:
        """:calls: ``GET`` then ``PUT /api/v1/people/:user_id`` with only ``profilePicUrl`` replaced; verifies."""
        what = f"setting the picture of {user.key or user.user_id}"
        path = PEOPLE + quote(user.user_id, safe="")
        person = self._person(path, what)
        self._check_same_person(user, person, what)
        response = self.api.request("PUT", path, what=what, json_body=with_picture(person, url))
        if response.status_code == 403:
            self._put_refused(user, response)
        GURU.check(response, what)
        self._put_refusals.proven()
        try:
            echoed = parse_json(response) if response.content else None
        except ValueError:
            echoed = None
        if not isinstance(echoed, dict) or "profilePicUrl" not in echoed:
            echoed = self._person(path, what)  # the answer does not say: read the profile again
        shown = picture_url(echoed.get("profilePicUrl"))
        if shown != url:
            raise RemoteError(f"{what}: Guru accepted the profile but shows another picture ({shown or 'none'})")
        return Uploaded(file_id=url, file_uuid=None, avatar_url=url, avatar_ref=url)

    def _person(self, path: str, what: str) -> dict[str, Any]:
        person = self.api.json("GET", path, what=what)
        if not isinstance(person, dict):
            raise RemoteError(f"{what}: Guru's person is not a JSON object")
        return person

    def _check_same_person(self, user: RemoteUser, person: dict[str, Any], what: str) -> None:
        """Never PUT a profile that is not the member's (a wrong id would overwrite someone else's)."""
        email = person.get("email")
        if self.match == "email" and isinstance(email, str) and user.key and self._fold(email.strip()) != user.key:
            raise RemoteError(f"{what}: Guru's person for id {user.user_id} is {email}, not this member")
        person_user = person.get("userId")
        if person_user is not None and str(person_user) != user.user_id:
            raise RemoteError(f"{what}: Guru's person for id {user.user_id} belongs to user {person_user}")

    def _put_refused(self, user: RemoteUser, response: requests.Response) -> None:
        """One refused PUT fails the member; refusals before any success mean the credentials cannot write."""
        fatal = self._put_refusals.refused(PermissionDeniedError.kind, None, None)
        message = guru_message(response)
        if fatal is not None:
            raise FatalRemoteError(f"Guru refused to update members' profiles ({message})", advice=TOKEN_ADVICE)
        raise PermissionDeniedError(
            f"Guru refused to update the profile of {user.key or user.user_id} ({message})", status=403
        )

    def _picture_served(self, url: str) -> bool:
        """:calls: ``HEAD <picture URL>`` on the picture host — public, so never with the credentials."""
        if not url.startswith(("https://", "http://")):
            return False
        try:
            response = self.api.session.head(url, timeout=self._timeout, allow_redirects=True)
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise TransientError(f"checking the picture {redact_url(url)}: no answer ({type(exc).__name__})") from None
        if response.status_code in PICTURE_GONE:
            log.debug("picture %s is gone (%s)", redact_url(url), response.status_code)
            return False
        if response.status_code >= 400:
            raise TransientError(f"checking the picture {redact_url(url)}: answered {response.status_code}")
        return True


def build_target(
    base_url: str,
    user: str,
    token: Secret,
    *,
    match: str = "email",
    max_in_flight: int | None = None,
    timeout_s: float = 60.0,
    retry: Retry | None = None,
) -> GuruTarget:
    """The avatar target on the Guru at ``base_url``, as ``user`` with their User ``token``: at most
    ``max_in_flight`` requests at once (None: DEFAULT_IN_FLIGHT), the rate gate deciding below that."""
    in_flight = max_in_flight or DEFAULT_IN_FLIGHT
    credentials = basic_credentials(user, token)
    # The documented paths start at the host ("/api/v1/...", "/app/picture"): accept a base with /api/v1.
    api = Api(
        base_url.rstrip("/").removesuffix("/api/v1"),
        lambda: f"Basic {credentials.reveal()}",
        session=make_session(in_flight),
        gate=RateGate(in_flight, up_front_cost=THROTTLE_UNIT),
        retry=retry,
        timeout_s=timeout_s,
        dialect=GURU,
        advice=URL_ADVICE,
    )
    # What a request carries, and an echoing server or proxy could quote back: the token, user:token, its base64.
    scrub = Scrubber((token.reveal(), f"{user}:{token.reveal()}", credentials.reveal()))
    return GuruTarget(api, scrub, user=user, match=match)
