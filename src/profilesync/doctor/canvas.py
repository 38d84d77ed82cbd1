"""``profilesync doctor``'s Canvas checks: everything a nightly Canvas run needs, one line at a time, with advice.

Canvas is asked only harmless questions: who the token belongs to, the root account and the token's rights on
it (doctor/account.py), the first page of the account's users, one read as another user (masquerade), the root
account's enabled features (doctor/refusals.py), and a full listing to match the photo names. Nothing is
written anywhere but the history database's schema, which is migrated on open as every command does.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from profilesync.config import Settings, fold_key, require_canvas
from profilesync.doctor.account import account_checks
from profilesync.doctor.checks import (
    DATABASE,
    NOT_JSON,
    PROBE_RETRY,
    Check,
    Diagnosis,
    Status,
    failed,
    open_history,
    passed,
    read_json,
    sample,
    skipped,
    warned,
)
from profilesync.doctor.refusals import LIMITED_ACCESS, check_limited_access
from profilesync.errors import CONFIG_ADVICE, ConfigError, ExitCode, ProfilesyncError
from profilesync.http import looks_like_html, redact_url
from profilesync.photos import scan_photos
from profilesync.store import HistoryStore
from profilesync.targets.canvas.build import avatar_target
from profilesync.targets.canvas.client import BAD_TOKEN, error_message
from profilesync.targets.canvas.listing import MATCH_JSON_FIELD, shows_field
from profilesync.targets.canvas.target import CanvasTarget
from profilesync.text import plural

MASQUERADE_CANDIDATES = 3
ACT_AS_ADVICE = (
    "give the token's admin role 'Users - act as' (\"Become other users\"): Canvas lets admins upload "
    "into a user's files only by acting as them"
)
AVATARS_ADVICE = "enable them in Admin > Account > Settings > 'Enable profile pictures for users'"
PERMISSION_FOR_FIELD = {
    "sis_user_id": "'Users - view SIS information'",
    "integration_id": "'Users - view SIS information'",
    "login_id": "'Users - view login IDs'",
    "email": "'Users - view primary email address'",
    "id": "'Users - view list'",
}
TOKEN_ADVICE = "create a new token (Account > Settings > New Access Token) and set CANVAS_API_TOKEN"


# -- configuration ---------------------------------------------------------------------------------------------
CONFIG = "configuration"
REACHABLE = "Canvas reachable"
TOKEN = "API token"
USERS = "read users"
AVATARS = "avatars enabled"
MASQUERADE = "act as users"
LISTING = "list all users"
PHOTOS = "photo folder"


def check_config(settings: Settings) -> Check:
    """The Canvas URL and token are there and acceptable (the other settings were validated on load)."""
    try:
        require_canvas(settings)
    except ConfigError as exc:
        advice = CONFIG_ADVICE
        if settings.guru_user or settings.guru_token:  # a Guru-only set-up: the admin wants the Guru checks
            advice += "; for the Guru job run 'profilesync doctor --target guru'"
        return failed(CONFIG, "; ".join(exc.problems), advice, ExitCode.USAGE)
    return passed(
        CONFIG,
        f"CANVAS_BASE_URL and CANVAS_API_TOKEN set; account {settings.canvas_account_id}, "
        f"photos matched by {settings.match_for('canvas')}, {settings.image_size} px, policy {settings.policy.value}",
    )


# -- Canvas ----------------------------------------------------------------------------------------------------
def check_canvas(target: CanvasTarget) -> tuple[Check, Check, dict[str, Any] | None]:
    """``GET /api/v1/users/self``: is the URL Canvas (a JSON API), and does it accept the token?

    Returns the reachability check, the token check and the token's user (None when the token failed).
    """
    base = target.api.base_url
    started = time.monotonic()
    try:
        response = target.probe_self()
    except ProfilesyncError as exc:  # connection refused, DNS, timeout, TLS
        return (
            failed(REACHABLE, exc.message, f"check CANVAS_BASE_URL ({base}) and this host's network", ExitCode.REMOTE),
            skipped(TOKEN, "Canvas is not reachable"),
            None,
        )
    elapsed_ms = (time.monotonic() - started) * 1000
    status = response.status_code
    not_canvas_advice = f"set CANVAS_BASE_URL to your Canvas address (e.g. https://school.instructure.com), not {base}"
    if 300 <= status < 400:
        location = redact_url(response.headers.get("Location", "")) or "an unnamed location"
        reach = failed(
            REACHABLE,
            f"{base} redirects the API ({status}) to {location}",
            "set CANVAS_BASE_URL to the address it redirects to (an API client must not follow a redirect "
            "with the token)",
            ExitCode.REMOTE,
        )
        return reach, skipped(TOKEN, "the API address is not Canvas's"), None
    body = read_json(response)
    if body is NOT_JSON:
        what = "an HTML page" if looks_like_html(response) else f"{response.headers.get('Content-Type', 'no JSON')}"
        reach = failed(
            REACHABLE,
            f"{base}/api/v1/users/self answers with {what} (HTTP {status}), not the Canvas API's JSON",
            not_canvas_advice,
            ExitCode.REMOTE,
        )
        return reach, skipped(TOKEN, "the URL is not Canvas"), None
    if status >= 500:
        reach = failed(
            REACHABLE,
            f"Canvas answers with a server error ({status}: {error_message(response)})",
            "try again later; if it persists, ask your Canvas administrator or Instructure support",
            ExitCode.REMOTE,
        )
        return reach, skipped(TOKEN, "Canvas is failing"), None
    reach = passed(REACHABLE, f"{base} answers as the Canvas API (JSON) in {elapsed_ms:.0f} ms")
    if status in (401, 403):
        message = error_message(response)
        detail = f"Canvas rejected the token: {message}" if BAD_TOKEN.search(message) else message
        return reach, failed(TOKEN, detail, TOKEN_ADVICE, ExitCode.REMOTE), None
    if status == 404 or not (isinstance(body, dict) and "id" in body):
        reach = failed(
            REACHABLE,
            f"{base}/api/v1/users/self answers HTTP {status} with JSON that is not a Canvas user",
            not_canvas_advice + " (no path after the host name)",
            ExitCode.REMOTE,
        )
        return reach, skipped(TOKEN, "the URL is not Canvas"), None
    if status >= 400:
        return reach, failed(TOKEN, error_message(response), TOKEN_ADVICE, ExitCode.REMOTE), None
    name = body.get("name") or body.get("short_name") or "?"
    return reach, passed(TOKEN, f"valid; it belongs to {name} (user {body['id']})"), body


def check_users(target: CanvasTarget) -> tuple[Check, Check, list[dict[str, Any]]]:
    """The first page of the account's users: may the token list them, does it see their keys and avatars?"""
    account = target.account_id
    try:
        response = target.probe_users_page()
    except ProfilesyncError as exc:
        return failed(USERS, exc.message, exc.advice, ExitCode.REMOTE), skipped(AVATARS, "no users to look at"), []
    body = read_json(response)
    if response.status_code == 404:
        check = failed(
            USERS,
            f"Canvas has no account {account!r} (or does not let this token see it)",
            "set CANVAS_ACCOUNT_ID to 'self' (the root account) or a sub-account's number",
            ExitCode.USAGE,
        )
        return check, skipped(AVATARS, "no users to look at"), []
    if response.status_code >= 400 or not isinstance(body, list):
        check = failed(
            USERS,
            f"cannot list the users of account {account} ({error_message(response)})",
            "the token's admin role needs 'Users - view list' on this account",
            ExitCode.REMOTE,
        )
        return check, skipped(AVATARS, "no users to look at"), []
    rows = [row for row in body if isinstance(row, dict)]
    if not rows:
        return warned(USERS, f"account {account} has no users"), skipped(AVATARS, "no users to look at"), []
    return _fields_check(target.match, rows), _avatars_check(rows), rows


def _fields_check(match: str, rows: list[dict[str, Any]]) -> Check:
    # The keys are present (null when empty) when the caller may read them; a user with no login here lacks
    # login_id, so the page decides, not one row (shows_field, as the sync's check).
    needed = MATCH_JSON_FIELD[match]
    if not shows_field(rows, needed):
        permission = PERMISSION_FOR_FIELD[needed]
        return failed(
            USERS,
            f"Canvas hides the users' {needed}, which photos are matched by",
            f"give the token's admin role {permission}, or change PROFILESYNC_MATCH",
            ExitCode.REMOTE,
        )
    with_key = sum(1 for row in rows if row.get(needed) not in (None, ""))
    detail = f"{needed} visible ({with_key} of the first {plural(len(rows), 'user')} have one)"
    hidden = [name for name in ("sis_user_id", "login_id") if not shows_field(rows, name)]
    if hidden:
        return warned(
            USERS,
            f"{detail}; but Canvas hides {' and '.join(hidden)}",
            "parent accounts (observers) need both: give the role 'Users - view SIS information' and "
            "'Users - view login IDs'",
        )
    also = [name for name in ("sis_user_id", "login_id") if name != needed]
    return passed(USERS, f"{detail}; {', '.join(also)} visible too")


def _avatars_check(rows: list[dict[str, Any]]) -> Check:
    # Absent for a user whose first login's account has avatars off (Api::V1::User#user_json, User#account):
    # profile pictures are off only when no user of the page has the key.
    if not shows_field(rows, "avatar_url"):
        return failed(
            AVATARS, "Canvas returns no avatar_url: profile pictures are off", AVATARS_ADVICE, ExitCode.REMOTE
        )
    return passed(AVATARS, "users' avatar_url is present (profile pictures are on)")


def check_masquerade(target: CanvasTarget, me: dict[str, Any], rows: Sequence[dict[str, Any]]) -> Check:
    """One harmless read as another user: without "Become other users" no upload can work
    (AuthenticationMethods#load_user, User#can_masquerade?)."""
    # Students (users with an SIS id) are the people uploads act as, and never outrank the admin
    # (User#can_masquerade?, has_subset_of_account_permissions?).
    others = [row for row in rows if str(row.get("id")) != str(me.get("id"))]
    others.sort(key=lambda row: row.get("sis_user_id") in (None, ""))
    candidates = others[:MASQUERADE_CANDIDATES]
    if not candidates:
        return warned(MASQUERADE, "no other user in the account to try acting as")
    message = ""
    tried: list[str] = []
    for row in candidates:
        user_id = str(row["id"])
        tried.append(user_id)
        try:
            response = target.probe_masquerade(user_id)
        except ProfilesyncError as exc:
            return failed(MASQUERADE, exc.message, exc.advice, ExitCode.REMOTE)
        body = read_json(response)
        if response.status_code == 200 and isinstance(body, dict) and str(body.get("id")) == user_id:
            return passed(MASQUERADE, f"the token can act as users (read /users/self as user {user_id})")
        message = error_message(response)
        if response.status_code not in (400, 401, 403, 404):
            break  # a server error or an odd answer: other users would fare no better
    return failed(
        MASQUERADE,
        f"Canvas refused to let the token act as users (tried users {', '.join(tried)}: {message})",
        ACT_AS_ADVICE,
        ExitCode.REMOTE,
    )


def listed_keys(target: CanvasTarget) -> set[str]:
    """Every user's key (one request per 100 users), to tell which photo names match nobody."""
    return {user.key for user in target.list_users() if user.key is not None}


# -- photos ------------------------------------------------------------------------------------------------------
def check_photos(settings: Settings, store: HistoryStore | None, keys: set[str] | None, why_unmatched: str) -> Check:
    """The folder exists, can be read and holds photos; which names match no user (``keys``: None = unknown)."""
    folder = settings.photos_dir
    valve = "set PROFILESYNC_PHOTOS_DIR to the folder your SIS exports photos into"
    if not folder.exists():
        return failed(PHOTOS, f"{folder} does not exist", valve, ExitCode.SAFETY)
    if not folder.is_dir():
        return failed(PHOTOS, f"{folder} is not a folder", valve, ExitCode.SAFETY)
    cache = store.fingerprints() if store is not None else {}
    try:
        scan = scan_photos(folder, fold_key=fold_key(settings.match_for("canvas")), cache=cache)
    except OSError as exc:
        advice = "let the account that runs profilesync read the folder"
        return failed(PHOTOS, f"{folder} cannot be read: {exc.strerror or exc}", advice, ExitCode.SAFETY)
    photos = scan.photos
    usable = [p for p in photos.photos.values() if p.problem is None]
    invalid = [p for p in photos.photos.values() if p.problem is not None]
    if not photos.photos and not photos.ambiguous:
        return failed(
            PHOTOS,
            f"{folder} holds no photos (files named <SIS ID>.jpg, .png, …)",
            "check the SIS photo export; a sync would stop here (exit 4)",
            ExitCode.SAFETY,
        )
    parts = [f"{plural(len(usable), 'usable photo')} in {folder}"]
    notes: list[str] = []
    if invalid:
        unusable = ", ".join(f"{p.path.name} ({p.problem})" for p in invalid[:3])
        parts.append(f"{len(invalid)} cannot be used: {unusable}{'…' if len(invalid) > 3 else ''}")
        notes.append("replace or remove the unusable photos ('avatars plan' lists every reason)")
    if photos.ambiguous:
        parts.append(
            f"{plural(len(photos.ambiguous), 'name')} claimed by two files: {sample(sorted(photos.ambiguous))}"
        )
        notes.append("keep one file per person")
    if keys is None:
        parts.append(f"names not matched against Canvas ({why_unmatched})")
    else:
        unmatched = sorted(p.path.name for p in photos.photos.values() if p.key not in keys)
        verb = "matches" if len(unmatched) == 1 else "match"
        parts.append(f"{len(unmatched)} {verb} no user" + (f": {sample(unmatched)}" if unmatched else ""))
        if unmatched:
            notes.append(
                f"file names must be the users' {settings.match_for('canvas')}; photos of people who left can go"
            )
    if notes:
        return warned(PHOTOS, "; ".join(parts), "; ".join(notes))
    return passed(PHOTOS, "; ".join(parts))


# -- putting it together ---------------------------------------------------------------------------------------
def diagnose(load_settings: Callable[[], Settings]) -> Diagnosis:
    """Run every check that can run; a check whose prerequisite failed is reported as skipped."""
    diagnosis = Diagnosis()
    checks = diagnosis.checks
    try:
        settings = load_settings()
    except ConfigError as exc:
        checks.append(failed(CONFIG, "; ".join(exc.problems), exc.advice, ExitCode.USAGE))
        for name in (REACHABLE, TOKEN, USERS, AVATARS, MASQUERADE, PHOTOS, DATABASE):
            checks.append(skipped(name, "the configuration cannot be read"))
        return diagnosis
    config = check_config(settings)
    checks.append(config)
    keys: set[str] | None = None
    why_unmatched = "the configuration is incomplete"
    if config.status is Status.FAIL:
        for name in (REACHABLE, TOKEN, USERS, AVATARS, MASQUERADE):
            checks.append(skipped(name, "the Canvas URL or token is missing"))
    else:
        assert settings.canvas_base_url is not None and settings.canvas_token is not None
        diagnosis.title = (
            f"profilesync doctor: Canvas {settings.canvas_base_url} (account {settings.canvas_account_id})"
        )
        keys, why_unmatched = _canvas_checks(settings, checks)
    database, store = open_history(settings)
    try:
        checks.append(check_photos(settings, store, keys, why_unmatched))
    finally:
        if store is not None:
            store.close()
    checks.append(database)
    return diagnosis


def _canvas_checks(settings: Settings, checks: list[Check]) -> tuple[set[str] | None, str]:
    """Append the Canvas checks; return the users' keys for matching photos (or None and why not)."""
    assert settings.canvas_base_url is not None and settings.canvas_token is not None
    target = avatar_target(
        settings.canvas_base_url,
        settings.canvas_token,
        account_id=settings.canvas_account_id,
        match=settings.match_for("canvas"),
        max_in_flight=4,
        timeout_s=min(settings.timeout_s, 30.0),
        retry=PROBE_RETRY,
    )
    try:
        reach, token, me = check_canvas(target)
        checks += [reach, token]
        if me is None:
            for name in (USERS, AVATARS, MASQUERADE, LIMITED_ACCESS):
                checks.append(skipped(name, "needs a working Canvas URL and token"))
            return None, "Canvas could not be asked"
        checks += account_checks(target)
        users, avatars, rows = check_users(target)
        checks += [users, avatars, check_masquerade(target, me, rows), check_limited_access(target)]
        if users.status is Status.FAIL or avatars.status is Status.FAIL:
            return None, "the users cannot be listed with their keys and avatars"
        try:
            return listed_keys(target), ""
        except ProfilesyncError as exc:  # a later page failed: so would the nightly run's listing
            checks.append(failed(LISTING, exc.message, exc.advice, ExitCode.REMOTE))
            return None, "the full listing failed"
    finally:
        target.api.session.close()
