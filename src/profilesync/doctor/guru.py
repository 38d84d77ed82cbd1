"""``profilesync doctor --target guru``: the Guru job's set-up checked one line at a time, with advice.

Guru is asked only to read (targets/guru_questions.py answers): the first page of the members listing (is it
Guru's API, are the credentials accepted) and then the whole listing (every member's email, to match the photo
names). Whether the credentials
may write cannot be learnt without writing; the user name says whether they are a User token (an email) or a
read-only Collection token (a collection id), which is as far as a read-only check can go.
"""

from __future__ import annotations

from collections.abc import Callable

from profilesync.config import Settings, guru_problems
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
from profilesync.doctor.sqlphotos import SQL_PHOTOS, check_sql_photos
from profilesync.domain import fold_key
from profilesync.engine.ports import HistoryStore
from profilesync.errors import ConfigError, ExitCode
from profilesync.photos import scan_photos
from profilesync.scrub import Scrubber
from profilesync.targets.answers import NotReached, Rejected, Unanswered, Unreached
from profilesync.targets.guru import TOKEN_ADVICE, build_target
from profilesync.targets.guru_questions import GuruQuestions

CONFIG = "configuration"
REACHABLE = "Guru reachable"
CREDENTIALS = "credentials"
MEMBERS_CHECK = "list members"
PHOTOS = "photo folder"
CONFIG_ADVICE = "set GURU_BASE_URL, GURU_USER and GURU_API_TOKEN (see config.example.env, the Guru block)"


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


# What the credentials line says when the first question never reached Guru's API.
NOT_ASKED = {
    Unreached.UNREACHABLE: "Guru is not reachable",
    Unreached.REDIRECTED: "the URL is not Guru's API",
    Unreached.NOT_THE_API: "the URL is not Guru's API",
    Unreached.FAILING: "Guru is failing",
}


def check_guru(questions: GuruQuestions, clean: Scrubber) -> tuple[Check, Check]:
    """Is the URL Guru's API, and are the credentials accepted?"""
    answer = questions.member_access()
    if isinstance(answer, NotReached):
        reach = failed(REACHABLE, clean(answer.detail), answer.advice, ExitCode.REMOTE)
        return reach, skipped(CREDENTIALS, NOT_ASKED[answer.why])
    base = questions.target.api.base_url
    reach = passed(REACHABLE, f"{base} answers as an API (JSON) in {answer.elapsed_ms:.0f} ms")
    if isinstance(answer, Rejected):
        return reach, failed(CREDENTIALS, clean(answer.detail), answer.advice, ExitCode.REMOTE)
    return reach, passed(CREDENTIALS, f"accepted for {questions.target.user} (basic auth)")


def check_members(questions: GuruQuestions, clean: Scrubber) -> tuple[Check, set[str] | None]:
    """The whole listing, as the nightly run reads it: how many members, how many active, with a key."""
    members = questions.members()
    if isinstance(members, Unanswered):
        return failed(MEMBERS_CHECK, clean(members.message), members.advice, ExitCode.REMOTE), None
    if not members:
        return warned(MEMBERS_CHECK, "Guru lists no members", "check that GURU_USER belongs to the right team"), set()
    active = sum(1 for m in members if m.active)
    keys = {m.key for m in members if m.key is not None}
    detail = f"{len(members)} members ({active} active, {len(members) - active} not active); {len(keys)} with a key"
    return passed(MEMBERS_CHECK, detail), keys


def check_photos(settings: Settings, store: HistoryStore | None, keys: set[str] | None) -> Check:
    """Guru's photo folder (GURU_PHOTOS_DIR, else the shared one): there, readable, photos named by email."""
    sql_url = settings.for_target("guru").photos_sql_url
    if sql_url is not None:  # no GURU_PHOTOS_DIR: Guru reads the SIS database too
        return check_sql_photos(SQL_PHOTOS, sql_url, settings)
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
        parts.append(f"{len(invalid)} cannot be used: {sample(sorted(p.name for p in invalid))}")
        notes.append("replace or remove the unusable photos ('avatars plan --target guru' lists every reason)")
    if photos.ambiguous:
        parts.append(f"{len(photos.ambiguous)} names claimed by two files: {sample(sorted(photos.ambiguous))}")
        notes.append("keep one file per person")
    if (cut := crop_problem(settings)) is not None:
        parts.append(cut[0])
        notes.append(cut[1])
    if keys is None:
        parts.append("names not matched against Guru (the members could not be listed)")
    else:
        unmatched = sorted(p.name for p in photos.photos.values() if p.key not in keys)
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
    questions = GuruQuestions(target)
    try:
        reach, credentials = check_guru(questions, clean)
        checks += [reach, credentials]
        if credentials.status is not Status.PASS:
            checks.append(skipped(MEMBERS_CHECK, "needs a working Guru URL and credentials"))
            return None
        members, keys = check_members(questions, clean)
        checks.append(members)
        return keys
    finally:
        target.api.session.close()
