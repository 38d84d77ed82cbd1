"""``profilesync doctor``'s Canvas checks: everything a nightly Canvas run needs, one line at a time, with advice.

Canvas is asked only harmless questions (targets/canvas/questions.py answers them): who the token belongs to, the
root account and the token's rights on it (doctor/account.py), the first page of the account's users, one read
as another user (masquerade), the root account's enabled features (doctor/refusals.py), and a full listing to
match the photo names. This module only turns the answers into lines. Nothing is written anywhere but the
history database's schema, which is migrated on open as every command does.
"""

from __future__ import annotations

from collections.abc import Callable

from profilesync.config import Settings, require_canvas
from profilesync.doctor.account import account_checks
from profilesync.doctor.checks import (
    DATABASE,
    PROBE_RETRY,
    Check,
    Diagnosis,
    Status,
    crop_problem,
    failed,
    open_history,
    passed,
    sample,
    skipped,
    warned,
)
from profilesync.doctor.refusals import LIMITED_ACCESS, check_limited_access
from profilesync.doctor.sqlphotos import SQL_PHOTOS, check_sql_photos
from profilesync.domain import fold_key
from profilesync.engine.ports import HistoryStore
from profilesync.errors import CONFIG_ADVICE, ConfigError, ExitCode
from profilesync.photos import scan_photos
from profilesync.targets.answers import NotReached, Rejected, Unanswered, Unreached
from profilesync.targets.canvas.build import avatar_target
from profilesync.targets.canvas.listing import (
    AVATARS_ADVICE,
    OBSERVER_FIELDS_ADVICE,
    hidden_field_advice,
)
from profilesync.targets.canvas.questions import ActAs, CanvasQuestions, Identity, NoSuchAccount, UsersPage
from profilesync.text import plural

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
    locking = ", avatars locked after setting (PROFILESYNC_LOCK_AVATARS)" if settings.lock_avatars else ""
    return passed(
        CONFIG,
        f"CANVAS_BASE_URL and CANVAS_API_TOKEN set; account {settings.canvas_account_id}, "
        f"photos matched by {settings.match_for('canvas')}, {settings.image_size} px, policy {settings.policy.value}"
        f"{locking}",
    )


# -- Canvas ----------------------------------------------------------------------------------------------------
# What the token line says when the first question never reached Canvas's API.
NOT_ASKED = {
    Unreached.UNREACHABLE: "Canvas is not reachable",
    Unreached.REDIRECTED: "the API address is not Canvas's",
    Unreached.NOT_THE_API: "the URL is not Canvas",
    Unreached.FAILING: "Canvas is failing",
}


def check_canvas(questions: CanvasQuestions) -> tuple[Check, Check, Identity | None]:
    """Is the URL Canvas (a JSON API), and does it accept the token?

    Returns the reachability check, the token check and the token's user (None when the token failed).
    """
    answer = questions.token_identity()
    if isinstance(answer, NotReached):
        reach = failed(REACHABLE, answer.detail, answer.advice, ExitCode.REMOTE)
        return reach, skipped(TOKEN, NOT_ASKED[answer.why]), None
    base = questions.target.api.base_url
    reach = passed(REACHABLE, f"{base} answers as the Canvas API (JSON) in {answer.elapsed_ms:.0f} ms")
    if isinstance(answer, Rejected):
        return reach, failed(TOKEN, answer.detail, answer.advice, ExitCode.REMOTE), None
    return reach, passed(TOKEN, f"valid; it belongs to {answer.name} (user {answer.user_id})"), answer


def check_users(questions: CanvasQuestions) -> tuple[Check, Check, UsersPage | None]:
    """The first page of the account's users: may the token list them, does it see their keys and avatars?"""
    page = questions.users_page()
    if isinstance(page, NoSuchAccount):
        detail = f"Canvas has no account {page.account_id!r} (or does not let this token see it)"
        check = failed(USERS, detail, page.advice, ExitCode.USAGE)
        return check, skipped(AVATARS, "no users to look at"), None
    if isinstance(page, Unanswered):
        check = failed(USERS, page.message, page.advice, ExitCode.REMOTE)
        return check, skipped(AVATARS, "no users to look at"), None
    if not page.users:
        account = questions.target.account_id
        return warned(USERS, f"account {account} has no users"), skipped(AVATARS, "no users to look at"), page
    return _fields_check(questions.target.match, page), _avatars_check(page), page


def _fields_check(match: str, page: UsersPage) -> Check:
    # The keys are present (null when empty) when the caller may read them; a user with no login here lacks
    # login_id, so the page decides, not one row (the sync's own rule).
    needed = page.key_field
    if not page.shows(needed):
        detail = f"Canvas hides the users' {needed}, which photos are matched by"
        return failed(USERS, detail, hidden_field_advice(match), ExitCode.REMOTE)
    detail = f"{needed} visible ({page.with_key} of the first {plural(page.users, 'user')} have one)"
    hidden = [name for name in ("sis_user_id", "login_id") if not page.shows(name)]
    if hidden:
        return warned(USERS, f"{detail}; but Canvas hides {' and '.join(hidden)}", OBSERVER_FIELDS_ADVICE)
    also = [name for name in ("sis_user_id", "login_id") if name != needed]
    return passed(USERS, f"{detail}; {', '.join(also)} visible too")


def _avatars_check(page: UsersPage) -> Check:
    # Absent for a user whose first login's account has avatars off (Api::V1::User#user_json, User#account):
    # profile pictures are off only when no user of the page has the key.
    if not page.shows("avatar_url"):
        return failed(
            AVATARS, "Canvas returns no avatar_url: profile pictures are off", AVATARS_ADVICE, ExitCode.REMOTE
        )
    return passed(AVATARS, "users' avatar_url is present (profile pictures are on)")


def check_masquerade(questions: CanvasQuestions, me: Identity, page: UsersPage | None) -> Check:
    """One harmless read as another user: without "Become other users" no upload can work."""
    answer = questions.act_as(me, page) if page is not None else ActAs(None)
    if isinstance(answer, Unanswered):
        return failed(MASQUERADE, answer.message, answer.advice, ExitCode.REMOTE)
    if answer.as_user is not None:
        return passed(MASQUERADE, f"the token can act as users (read /users/self as user {answer.as_user})")
    if not answer.tried:
        return warned(MASQUERADE, "no other user in the account to try acting as")
    detail = f"Canvas refused to let the token act as users (tried users {', '.join(answer.tried)}: {answer.message})"
    return failed(MASQUERADE, detail, answer.advice, ExitCode.REMOTE)


# -- photos ------------------------------------------------------------------------------------------------------
def check_photos(settings: Settings, store: HistoryStore | None, keys: set[str] | None, why_unmatched: str) -> Check:
    """The folder exists, can be read and holds photos; which names match no user (``keys``: None = unknown)."""
    if settings.photos_sql_url is not None:  # photos straight from the SIS database
        return check_sql_photos(SQL_PHOTOS, settings.photos_sql_url, settings)
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
        unusable = ", ".join(f"{p.name} ({p.problem})" for p in invalid[:3])
        parts.append(f"{len(invalid)} cannot be used: {unusable}{'…' if len(invalid) > 3 else ''}")
        notes.append("replace or remove the unusable photos ('avatars plan' lists every reason)")
    if photos.ambiguous:
        parts.append(
            f"{plural(len(photos.ambiguous), 'name')} claimed by two files: {sample(sorted(photos.ambiguous))}"
        )
        notes.append("keep one file per person")
    if (cut := crop_problem(settings)) is not None:
        parts.append(cut[0])
        notes.append(cut[1])
    if keys is None:
        parts.append(f"names not matched against Canvas ({why_unmatched})")
    else:
        unmatched = sorted(p.name for p in photos.photos.values() if p.key not in keys)
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
    questions = CanvasQuestions(target)
    try:
        reach, token, me = check_canvas(questions)
        checks += [reach, token]
        if me is None:
            for name in (USERS, AVATARS, MASQUERADE, LIMITED_ACCESS):
                checks.append(skipped(name, "needs a working Canvas URL and token"))
            return None, "Canvas could not be asked"
        checks += account_checks(questions)
        users, avatars, page = check_users(questions)
        checks += [users, avatars, check_masquerade(questions, me, page), check_limited_access(questions)]
        if users.status is Status.FAIL or avatars.status is Status.FAIL:
            return None, "the users cannot be listed with their keys and avatars"
        keys = questions.user_keys()
        if isinstance(keys, Unanswered):
            checks.append(failed(LISTING, keys.message, keys.advice, ExitCode.REMOTE))
            return None, "the full listing failed"
        return keys, ""
    finally:
        target.api.session.close()
