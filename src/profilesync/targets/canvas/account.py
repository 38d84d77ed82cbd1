"""The Canvas root account: what the target is (its uuid), and whether the token may act in it.

Canvas facts this module relies on (instructure/canvas-lms):

- ``lib/api.rb#api_find_all``: the account id ``self`` is the *domain root account*, so
  ``GET /api/v1/accounts/self`` is the root account whichever CANVAS_ACCOUNT_ID a run lists.
- ``lib/api/v1/account.rb#account_json``: the account JSON always carries ``id``, ``name``, ``uuid``,
  ``parent_account_id`` and ``root_account_id`` (null on a root account). The uuid never changes, whatever
  host name the admin types: it is the history's name for the target.
- ``app/controllers/accounts_controller.rb#show`` and ``#permissions``: both need ``:read`` on the account
  ("the caller must have an account role or admin enrollment in a course in the account"), otherwise the
  ordinary unauthorized answer (401, or 403 behind ``api_auth_error_updates``). ``#permissions`` answers
  ``@account.rights_status(user, *names)``: one boolean per asked name, false for unknown names.
- ``app/models/user.rb#can_masquerade?`` checks ``become_user`` on the domain root account, and
  ``#has_subset_of_account_permissions?`` is false for any account that is not a root account: a sub-account
  admin can never act as users, so every upload fails (uploads are only possible by masquerading).
- ``app/controllers/users_controller.rb#api_show`` raises ``RecordNotFound`` (404) when the caller lacks
  ``:api_show_user`` on the user (self, or ``read_roster`` / ``manage_user_logins`` on one of the user's
  accounts): a token that may not read users sees every lookup as "not found".
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from profilesync.errors import FatalRemoteError, NotFoundError, PermissionDeniedError, RemoteError, TransientError
from profilesync.http import Api

log = logging.getLogger(__name__)

ROOT_ADMIN_ADVICE = (
    "use a token of an admin of the root account (Admin > <root account> > Admins), whose role has "
    "'Users - act as' (\"Become other users\") and 'Users - manage login details': Canvas grants these "
    "only at the root account, never to a sub-account admin"
)
READ_USERS_ADVICE = (
    "give the token's admin role, on the root account, 'Users - view list' (read_roster) or 'Users - manage "
    "login details': without them Canvas answers 'not found' for every user it will not show"
)
# The same words as http.raise_for_status's for a rejected token (the generic client cannot import Canvas's).
TOKEN_ADVICE = "create a new token (Account > Settings > New Access Token) and set CANVAS_API_TOKEN"
NOT_CANVAS_ADVICE = "set CANVAS_BASE_URL to your Canvas address (e.g. https://school.instructure.com)"
#: rights every avatar write needs on the root account (masquerading to upload; setting the avatar)
WRITE_RIGHTS = ("become_user", "manage_user_logins")
#: rights of which one lets ``GET /api/v1/users/:id`` answer instead of 404 (``:api_show_user``)
READ_RIGHTS = ("read_roster", "manage_user_logins")
PERMISSION_LABELS = {
    "become_user": "'Users - act as' (become_user)",
    "manage_user_logins": "'Users - manage login details' (manage_user_logins)",
    "read_roster": "'Users - view list' (read_roster)",
    "read_sis": "'Users - view SIS information' (read_sis)",
}
_DEFAULT_PORTS = {"http": 80, "https": 443}


def normalise_base_url(url: str) -> str:
    """One spelling per address: lower-case scheme and host, no default port, no trailing slash, no query."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    host = f"[{host}]" if ":" in host else host  # an IPv6 literal keeps its brackets
    port = parts.port
    netloc = host if port is None or port == _DEFAULT_PORTS.get(scheme) else f"{host}:{port}"
    return f"{scheme}://{netloc}{parts.path.rstrip('/')}"


def copy_environment(url: str) -> str:
    """``test`` or ``beta`` for Instructure's test and beta copies of a school's Canvas
    (``school.test.instructure.com``), else "". They are refreshed copies of production, root account uuid and
    user ids included, so the history must tell them from production by their address."""
    labels = (urlsplit(normalise_base_url(url)).hostname or "").split(".")
    if len(labels) >= 4 and labels[-2:] == ["instructure", "com"] and labels[-3] in ("test", "beta"):
        return labels[-3]
    return ""


def legacy_target_id(url: str) -> str | None:
    """The URL a history name of profilesync ≤ 0.x (``canvas:<base url>``) stood for, normalised; else None."""
    if not url.startswith("canvas:"):
        return None
    address = url[len("canvas:") :]
    if not address.lower().startswith(("http://", "https://")):
        return None
    return normalise_base_url(address)


def former_target_ids(base_url: str, known: Iterable[str]) -> list[str]:
    """Names an earlier profilesync gave this Canvas in the history: ``canvas:<URL>`` under any spelling of
    ``base_url`` (case, trailing slash, default port). A different host name cannot be recognised."""
    wanted = normalise_base_url(base_url)
    return sorted(t for t in known if legacy_target_id(t) == wanted)


def same_environment(legacy_id: str, base_url: str) -> bool:
    """Whether an old ``canvas:<URL>`` name and this base URL are both production, or both the same copy."""
    old = legacy_target_id(legacy_id)
    return old is not None and copy_environment(old) == copy_environment(base_url)


@dataclass(frozen=True)
class RootAccount:
    """The domain root account as Canvas describes it (``environment``: see ``copy_environment``)."""

    id: str
    uuid: str
    name: str
    environment: str = ""

    @property
    def target_id(self) -> str:
        return f"canvas:root:{self.uuid}" + (f":{self.environment}" if self.environment else "")


class CanvasAccount:
    """Reads the root account once per run and answers "may this token do X there?" at most once per question."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self._lock = threading.Lock()  # one question in flight at a time: concurrent workers wait for its answer
        self._root: RootAccount | None = None
        self._early: Future[RootAccount] | None = None  # the read started by read_root_early, if it was
        self._rights: dict[str, bool] | None = None
        self._rights_unavailable = False

    def root(self) -> RootAccount:
        """:calls: ``GET /api/v1/accounts/self`` — once per run (``accounts_controller.rb#show``)."""
        with self._lock:
            if self._root is None:
                # an early read's answer, or its error raised here, in the caller's thread: still one request
                self._root = self._early.result() if self._early is not None else self._read_root()
            return self._root

    def read_root_early(self) -> None:
        """Start reading the root account in the background, so that its request overlaps what a run does before
        it names its target (opening the history, taking the lock); ``root()`` then waits for that answer.

        The read is the same one request ``root()`` would make, made sooner; a run that stops before naming
        its target (a held lock, a history it cannot open) makes it without using it.
        """
        with self._lock:
            if self._root is not None or self._early is not None:
                return
            early: Future[RootAccount] = Future()
            self._early = early

        def read() -> None:
            try:
                early.set_result(self._read_root())
            except BaseException as exc:  # raised again by root(), in the thread that asks
                early.set_exception(exc)

        threading.Thread(target=read, name="root-account", daemon=True).start()

    def _read_root(self) -> RootAccount:
        what = "reading the Canvas root account"
        try:
            body = self.api.json("GET", "/api/v1/accounts/self", what=what)
        except PermissionDeniedError as exc:
            # #show needs :read on the root account, which every root-account admin has.
            raise FatalRemoteError(
                f"the token's user has no role in the Canvas root account ({exc.message})", advice=ROOT_ADMIN_ADVICE
            ) from None
        except NotFoundError:
            raise FatalRemoteError(
                f"{self.api.base_url} has no /api/v1/accounts/self: it does not answer like Canvas",
                advice=NOT_CANVAS_ADVICE,
            ) from None
        except RemoteError as exc:
            raise vital_failure(exc, self.api.base_url) from None
        if not isinstance(body, dict) or not body.get("uuid") or body.get("id") is None:
            raise FatalRemoteError(
                f"{self.api.base_url}/api/v1/accounts/self is not a Canvas account (no id or uuid)",
                advice=NOT_CANVAS_ADVICE,
            )
        name = str(body.get("name") or body["id"])
        return RootAccount(str(body["id"]), str(body["uuid"]), name, copy_environment(self.api.base_url))

    def rights(self, names: Iterable[str]) -> dict[str, bool] | None:
        """:calls: ``GET /api/v1/accounts/self/permissions?permissions[]=…`` (``accounts_controller.rb#permissions``).

        The token's rights on the root account; None when Canvas does not offer the endpoint or did not answer
        (the caller then goes on without the check). Raises FatalRemoteError when Canvas refuses to answer:
        only a user without any role in the root account is refused.
        """
        wanted = sorted(set(names))
        with self._lock:
            if self._rights is not None and all(n in self._rights for n in wanted):
                return {n: self._rights[n] for n in wanted}
            if self._rights_unavailable:
                return None
            return self._ask_rights(wanted)

    def _ask_rights(self, wanted: list[str]) -> dict[str, bool] | None:
        params: list[tuple[str, Any]] = [("permissions[]", n) for n in wanted]
        what = "reading the token's rights on the Canvas root account"
        try:
            body = self.api.json("GET", "/api/v1/accounts/self/permissions", what=what, params=params)
        except PermissionDeniedError as exc:
            raise FatalRemoteError(
                f"the token's user has no role in the Canvas root account ({exc.message})", advice=ROOT_ADMIN_ADVICE
            ) from None
        except RemoteError as exc:  # an old Canvas without the endpoint, or a hiccup: no evidence either way
            log.debug("%s failed (%s); going on without it", what, exc.message)
            self._rights_unavailable = True
            return None
        if not isinstance(body, dict):
            self._rights_unavailable = True
            return None
        # rights_status renders booleans; the API doc's example shows strings ("true"/"false"): accept both.
        found = {n: body.get(n) in (True, "true") for n in wanted}
        self._rights = {**(self._rights or {}), **found}
        return found

    @property
    def rights_unknown(self) -> bool:
        """True once Canvas failed to say which rights the token has (no permissions endpoint, or an error)."""
        return self._rights_unavailable

    def require_write_rights(self) -> None:
        """Before the first avatar write of a run: stop at once (exit 3) when the token cannot act as users or
        manage their login details on the root account — every upload would fail."""
        rights = self.rights(WRITE_RIGHTS)  # cached: a second call costs no request
        missing = [n for n in WRITE_RIGHTS if rights is not None and not rights[n]]
        if missing:
            labels = " and ".join(PERMISSION_LABELS[n] for n in missing)
            raise FatalRemoteError(
                f"the token lacks {labels} on the Canvas root account, so Canvas would refuse every upload "
                "(admins upload a user's photo only by acting as them)",
                advice=ROOT_ADMIN_ADVICE,
            )

    def users_unreadable(self) -> bool:
        """After a lookup answered 404: True when the token may not read users at all, so the 404 meant "not
        allowed" rather than "no such user" (``users_controller.rb#api_show``). Asked once per run."""
        rights = self.rights(READ_RIGHTS)
        return rights is not None and not any(rights.values())


def vital_failure(exc: RemoteError, base_url: str, prefix: str = "") -> FatalRemoteError:
    """The run-stopping error for a request the whole run needs (the root account, the listing) that failed
    other than by a refusal or a 404, which each caller explains in its own terms: unreachable, or an error."""
    if isinstance(exc, TransientError):
        return FatalRemoteError(
            f"Canvas is unreachable: {exc.message}", advice=exc.advice or f"check the network and that {base_url} is up"
        )
    return FatalRemoteError(prefix + exc.message, advice=exc.advice or f"check that {base_url} is your Canvas address")


def unreadable_users_error(what: str) -> FatalRemoteError:
    """The run-stopping error for a 404 that means "not allowed to read users"."""
    return FatalRemoteError(
        f"{what}: Canvas answered 'not found', but the token may not read users at all, so every "
        "lookup would fail the same way",
        advice=READ_USERS_ADVICE,
    )
