"""``profilesync doctor --target guru``: the Guru job's set-up checked one line at a time, with advice.

Guru is asked only to read: the first page of the members listing (is it Guru's API, are the credentials
accepted) and then the whole listing (every member's email, to match the photo names). Whether the credentials
may write cannot be learnt without writing; the user name says whether they are a User token (an email) or a
read-only Collection token (a collection id), which is as far as a read-only check can go.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from profilesync.app import guru_problems
from profilesync.config import Settings, fold_key
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
from profilesync.errors import ConfigError, ExitCode, ProfilesyncError
from profilesync.photos import scan_photos
from profilesync.scrub import Scrubber
from profilesync.store import HistoryStore
from profilesync.targets.guru import MEMBERS, TOKEN_ADVICE, GuruTarget, build_target, guru_message

CONFIG = "configuration"
REACHABLE = "Guru reachable"
CREDENTIALS = "credentials"
MEMBERS_CHECK = "list members"
PHOTOS = "photo folder"
CONFIG_ADVICE = "set GURU_BASE_URL, GURU_USER and GURU_API_TOKEN (see config.example.env, the Guru block)"
URL_ADVICE = "set GURU_BASE_URL to Guru's API address, normally https://api.getguru.com"


def check_config(settings: Settings) -> Check:
    """Guru's URL, user and token are there and acceptable, and the photos can name members."""
    match = settings.match_for("guru")
    problems = guru_problems(settings)  # the sync's own check, so doctor fails exactly when the sync would
    if problems:
        return failed(CONFIG, "; ".join(problems), CONFIG_ADVICE, ExitCode.USAGE)
    detail = (
        f"GURU_BASE_URL, GURU_USER and GURU_API_TOKEN set; photos matched by {match}, "
        f"{settings.image_size} px, policy {settings.policy.value}"
    )
    if "@" not in (settings.guru_user or ""):
        # A Collection token's user name is the collection's id: such a token reads but never writes.
        return warned(
            CONFIG,
            f"{detail}; but GURU_USER={settings.guru_user} is not an email, so the token looks like a read-only "
            "Collection token",
            TOKEN_ADVICE,
        )
    return passed(CONFIG, detail)


def check_guru(target: GuruTarget, user: str, clean: Scrubber) -> tuple[Check, Check]:
    """``GET /api/v1/members`` (the first page): is the URL Guru's API, and are the credentials accepted?"""
    base = target.api.base_url
    started = time.monotonic()
    try:
        response = target.api.request("GET", MEMBERS, what="reading the first page of members")
    except ProfilesyncError as exc:  # connection refused, DNS, timeout, TLS
        reach = failed(REACHABLE, clean(exc.message), f"check GURU_BASE_URL ({base}) and the network", ExitCode.REMOTE)
        return reach, skipped(CREDENTIALS, "Guru is not reachable")
    elapsed_ms = (time.monotonic() - started) * 1000
    status = response.status_code
    body = read_json(response)
    if body is NOT_JSON or 300 <= status < 400:
        what = f"HTTP {status}" + (" (a redirect)" if 300 <= status < 400 else ", not JSON")
        reach = failed(REACHABLE, f"{base}{MEMBERS} answers {what}: not Guru's API", URL_ADVICE, ExitCode.REMOTE)
        return reach, skipped(CREDENTIALS, "the URL is not Guru's API")
    if status >= 500:
        reach = failed(
            REACHABLE,
            f"Guru answers with a server error ({status}: {clean(guru_message(response))})",
            "try again later; if it persists, check Guru's status page",
            ExitCode.REMOTE,
        )
        return reach, skipped(CREDENTIALS, "Guru is failing")
    reach = passed(REACHABLE, f"{base} answers as an API (JSON) in {elapsed_ms:.0f} ms")
    if status in (401, 403):
        detail = f"Guru rejected the credentials of {user} ({clean(guru_message(response))})"
        return reach, failed(CREDENTIALS, detail, TOKEN_ADVICE, ExitCode.REMOTE)
    if status == 404 or not isinstance(body, list):
        reach = failed(
            REACHABLE, f"{base}{MEMBERS} answers HTTP {status} but no members list", URL_ADVICE, ExitCode.REMOTE
        )
        return reach, skipped(CREDENTIALS, "the URL is not Guru's API")
    if status >= 400:
        return reach, failed(CREDENTIALS, clean(guru_message(response)), TOKEN_ADVICE, ExitCode.REMOTE)
    return reach, passed(CREDENTIALS, f"accepted for {user} (basic auth)")


def check_members(target: GuruTarget, clean: Scrubber) -> tuple[Check, set[str] | None]:
    """The whole listing, as the nightly run reads it: how many members, how many active, with a key."""
    try:
        members = list(target.list_users())
    except ProfilesyncError as exc:
        return failed(MEMBERS_CHECK, clean(exc.message), exc.advice, ExitCode.REMOTE), None
    if not members:
        return warned(MEMBERS_CHECK, "Guru lists no members", "check that GURU_USER belongs to the right team"), set()
    active = sum(1 for m in members if m.active)
    keys = {m.key for m in members if m.key is not None}
    detail = f"{len(members)} members ({active} active, {len(members) - active} not active); {len(keys)} with a key"
    return passed(MEMBERS_CHECK, detail), keys


def check_photos(settings: Settings, store: HistoryStore | None, keys: set[str] | None) -> Check:
    """Guru's photo folder (GURU_PHOTOS_DIR, else the shared one): there, readable, photos named by email."""
    folder = settings.for_target("guru").photos_dir
    source = "GURU_PHOTOS_DIR" if settings.guru_photos_dir is not None else "PROFILESYNC_PHOTOS_DIR"
    match = settings.match_for("guru")
    plan_hint = "'profilesync avatars plan --target guru --format csv' lists every member's key"
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        return failed(
            PHOTOS,
            f"{folder} ({source}) {what}",
            f"set GURU_PHOTOS_DIR to the folder of Guru photos named <{match}>.jpg; {plan_hint}",
            ExitCode.SAFETY,
        )
    try:
        photos = scan_photos(folder, fold_key=fold_key(match), cache=store.fingerprints() if store else {}).photos
    except OSError as exc:
        advice = "let the account that runs profilesync read the folder"
        return failed(PHOTOS, f"{folder} cannot be read: {exc.strerror or exc}", advice, ExitCode.SAFETY)
    if not photos.photos and not photos.ambiguous:
        return failed(
            PHOTOS,
            f"{folder} ({source}) holds no photos (files named <{match}>.jpg, .png, …)",
            f"a sync would stop here (exit 4); {plan_hint}",
            ExitCode.SAFETY,
        )
    usable = [p for p in photos.photos.values() if p.problem is None]
    invalid = [p for p in photos.photos.values() if p.problem is not None]
    parts = [f"{len(usable)} usable photos in {folder} ({source})"]
    notes: list[str] = []
    if invalid:
        parts.append(f"{len(invalid)} cannot be used: {sample(sorted(p.path.name for p in invalid))}")
        notes.append("replace or remove the unusable photos ('avatars plan --target guru' lists every reason)")
    if photos.ambiguous:
        parts.append(f"{len(photos.ambiguous)} names claimed by two files: {sample(sorted(photos.ambiguous))}")
        notes.append("keep one file per person")
    if keys is None:
        parts.append("names not matched against Guru (the members could not be listed)")
    else:
        unmatched = sorted(p.path.name for p in photos.photos.values() if p.key not in keys)
        parts.append(f"{len(unmatched)} match no member" + (f": {sample(unmatched)}" if unmatched else ""))
        if unmatched:
            notes.append(f"file names must be the members' {match}; {plan_hint}")
            if settings.guru_photos_dir is None:  # likely the Canvas folder, named by SIS id
                notes.append("give Guru a folder of its own with GURU_PHOTOS_DIR")
    if notes:
        return warned(PHOTOS, "; ".join(parts), "; ".join(notes))
    return passed(PHOTOS, "; ".join(parts))


def diagnose_guru(load_settings: Callable[[], Settings]) -> Diagnosis:
    """Every Guru check that can run; a check whose prerequisite failed is reported as skipped."""
    diagnosis = Diagnosis(title="profilesync doctor --target guru", command="profilesync avatars sync --target guru")
    checks = diagnosis.checks
    try:
        settings = load_settings()
    except ConfigError as exc:
        checks.append(failed(CONFIG, "; ".join(exc.problems), exc.advice, ExitCode.USAGE))
        for name in (REACHABLE, CREDENTIALS, MEMBERS_CHECK, PHOTOS, DATABASE):
            checks.append(skipped(name, "the configuration cannot be read"))
        return diagnosis
    config = check_config(settings)
    checks.append(config)
    keys: set[str] | None = None
    if config.status is Status.FAIL:
        for name in (REACHABLE, CREDENTIALS, MEMBERS_CHECK):
            checks.append(skipped(name, "the Guru URL, user or token is missing"))
    else:
        keys = guru_checks(settings, checks, diagnosis)
    database, store = open_history(settings)
    try:
        checks.append(check_photos(settings, store, keys))
    finally:
        if store is not None:
            store.close()
    checks.append(database)
    return diagnosis


def guru_checks(settings: Settings, checks: list[Check], diagnosis: Diagnosis) -> set[str] | None:
    """Append the Guru checks; return the members' keys for matching photos (None when they are unknown)."""
    assert settings.guru_user is not None and settings.guru_token is not None
    target = build_target(
        settings.guru_base_url,
        settings.guru_user,
        settings.guru_token,
        match=settings.match_for("guru"),
        max_in_flight=2,
        timeout_s=min(settings.timeout_s, 30.0),
        retry=PROBE_RETRY,
    )
    diagnosis.title = f"profilesync doctor: Guru {target.api.base_url} (as {settings.guru_user})"
    # Remote text quoted in a check's detail may echo the credentials: the doctor prints to stdout, which the
    # log filter never sees, so every detail taken from an answer is cleaned.
    clean = Scrubber(settings.secret_values())
    try:
        reach, credentials = check_guru(target, settings.guru_user, clean)
        checks += [reach, credentials]
        if credentials.status is not Status.PASS:
            checks.append(skipped(MEMBERS_CHECK, "needs a working Guru URL and credentials"))
            return None
        members, keys = check_members(target, clean)
        checks.append(members)
        return keys
    finally:
        target.api.session.close()
