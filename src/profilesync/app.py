"""Wires photos, target, history store, lock and clock together for each command.

The CLI calls one function here per command and renders what it returns; nothing here prints.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from itertools import chain, islice

from profilesync import valve
from profilesync.config import Settings, guru_problems, require_canvas
from profilesync.domain import fold_key, photo_fingerprint
from profilesync.engine.executor import Execution, InvalidImage, execute, skipped_outcomes
from profilesync.engine.model import (
    Action,
    Outcome,
    Photo,
    PhotoSet,
    Plan,
    PlannedAction,
    Policy,
    Reason,
    RemoteUser,
    Result,
    SyncRecord,
    SyncReport,
)
from profilesync.engine.planner import plan as make_plan
from profilesync.engine.ports import AvatarTarget, HistoryStore
from profilesync.engine.recognise import mark_own_avatars
from profilesync.errors import (
    ConfigError,
    ExitCode,
    FatalRemoteError,
    RemoteError,
    SafetyValveError,
)
from profilesync.interrupt import Stop
from profilesync.photos import UNDECODABLE_NAME, InvalidPhoto, normalise, read_photo, scan_photos
from profilesync.photos.names import with_near_misses
from profilesync.runs import DEFAULT_WORKERS, Run, Tally, now_utc, opened_store, recorded_run
from profilesync.store.lock import avatars_job
from profilesync.targets.canvas.build import avatar_target
from profilesync.targets.canvas.history import known_records, renamed_host_possible, renamed_host_records

log = logging.getLogger(__name__)

#: users whose avatars are recognised (``respect``) per batch of questions: a streamed listing stays streamed
RECOGNISE_CHUNK = 500


@dataclass(frozen=True, kw_only=True)
class AvatarRequest:
    """What the admin asked for on the command line."""

    target: str = "canvas"
    user: str | None = None
    dry_run: bool = False
    workers: int | None = None
    max_uploads: int | None = None
    force: bool = False


def build_target(settings: Settings, request: AvatarRequest, *, named: bool = True) -> AvatarTarget:
    """The target registry: each name builds its adapter from the settings. ``named``: the caller will ask for
    the target's ``target_id`` (every job does), so Canvas starts reading its root account at once."""
    workers = request.workers or settings.workers or DEFAULT_WORKERS
    if request.target == "canvas":
        base_url, token = require_canvas(settings)
        canvas = avatar_target(
            base_url,
            token,
            account_id=settings.canvas_account_id,
            match=settings.match_for("canvas"),
            max_in_flight=workers,
            timeout_s=settings.timeout_s,
        )
        if named:
            canvas.read_account_early()  # its request overlaps opening the history and taking the lock
        return canvas
    if request.target == "guru":
        # Imported here so the Guru branch stays self-contained in the registry.
        from profilesync.targets import guru

        problems = guru_problems(settings)
        if problems:
            raise ConfigError(problems)
        assert settings.guru_user is not None and settings.guru_token is not None
        return guru.build_target(
            settings.guru_base_url,
            settings.guru_user,
            settings.guru_token,
            match=settings.match_for("guru"),
            max_in_flight=request.workers or settings.workers,  # None: Guru's own default
            timeout_s=settings.timeout_s,
        )
    raise ConfigError([f"--target {request.target}: unknown target"])


def scan(settings: Settings, store: HistoryStore, match: str, *, save_cache: bool, required: bool = True) -> PhotoSet:
    """Scan the photo folder through the fingerprint cache; a missing or empty folder trips the safety valve
    (``required``) or, for a plan, is only warned about: the plan then lists every user, so the admin sees
    what to name the photos."""
    folder = settings.photos_dir
    if not folder.is_dir():
        if not required:
            return no_photos_yet(f"the photo folder {folder} does not exist", match)
        raise SafetyValveError(
            f"the photo folder {folder} does not exist",
            advice="set PROFILESYNC_PHOTOS_DIR (for Guru: GURU_PHOTOS_DIR) to the folder your photos are exported into",
        )
    result = scan_photos(folder, fold_key=fold_key(match), cache=store.fingerprints())
    if save_cache and result.fresh:
        store.save_fingerprints(result.fresh)
    if not result.photos.photos and not result.photos.ambiguous:
        if not required:
            return no_photos_yet(f"the photo folder {folder} holds no photos", match)
        # An empty folder usually means a failed SIS export or an unmounted share, never "remove everyone".
        raise SafetyValveError(
            f"the photo folder {folder} holds no photos",
            advice="check the SIS photo export; nothing was changed",
        )
    return result.photos


def no_photos_yet(problem: str, match: str) -> PhotoSet:
    """An empty photo set for a plan made before the first export, with a warning saying what to do."""
    log.warning(
        "%s: every user is planned as no_photo (the plan's '--format csv' lists their %s: name each photo "
        "<%s>.jpg); a sync would stop here (exit 4)",
        problem,
        match,
        match,
    )
    return PhotoSet({})


def compute_plan(
    settings: Settings,
    request: AvatarRequest,
    store: HistoryStore,
    target: AvatarTarget,
    *,
    save_cache: bool,
    photos_required: bool = True,
    full: bool = True,
) -> Plan:
    """Users, photos and history → the plan. The photo scan and the history read run while the target is
    being listed: the listing is network-bound, the others disk-bound, so a nightly run costs about the
    listing's time alone.

    ``full`` False (a sync) plans each user as the listing streams it and keeps only what it acts on
    (``Plan.skipped`` counts the rest; no near-miss hints, which only a plan shows): no list of every user,
    so a sync's memory does not grow with the school beyond the photos and the history.
    """
    match = settings.match_for(request.target)
    if not settings.photos_dir.is_dir() and photos_required:
        scan(settings, store, match, save_cache=False)  # raises the safety valve before any request

    def photos_then_history(keys: list[str] | None) -> tuple[PhotoSet, dict[str, SyncRecord]]:
        # One after the other, not side by side: the scan's fingerprint cache is freed before the history is
        # read, and at 100,000 users each is tens of MB; both together still take a fraction of the listing.
        photos = scan(settings, store, match, save_cache=save_cache, required=photos_required)
        return photos, known_records(store, target, adopt=save_cache, keys=keys)  # save_cache: a real sync

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="scan") as pool:
        listing = _listed(target, request)
        early: list[RemoteUser] = []
        if request.user is not None:
            # --user: the user first (one request), then that user's record only: one indexed lookup rather
            # than a district's history.
            early.extend(listing)
            reading = pool.submit(photos_then_history, [u.key for u in early if u.key is not None])
        else:
            reading = pool.submit(photos_then_history, None)
            for user in listing:  # a sync reads on only while the photos and the history are still being read
                early.append(user)
                if not full and reading.done():
                    break
        photos, records = reading.result()
    if not records and renamed_host_possible(store, target):
        early.extend(listing)  # a renamed host's history is recognised against the whole listing
        records = renamed_host_records(store, target, early, adopt=save_cache)
    max_age = timedelta(days=settings.max_age_days) if settings.max_age_days > 0 else None
    if request.user is not None and not early:  # --user naming nobody
        key = fold_key(match)(request.user.strip())
        message = f"no user with {match} {request.user!r} on the target"
        missing = PlannedAction(key, None, Action.ERROR, Reason.NOT_FOUND, photos.photos.get(key), message=message)
        return Plan(target.target_id, (missing,))
    users: Iterable[RemoteUser] = chain(early, listing)
    if settings.policy is Policy.RESPECT:
        users = _recognised(target, users, photos, records)  # our uploads are nobody's choice
    if full:
        users = list(users)
    plan = make_plan(
        users,
        photos,
        records,
        target_id=target.target_id,
        now=now_utc(),
        policy=settings.policy,
        max_age=max_age,
        report_unmatched=request.user is None,
        keep_skips=full,
    )
    plan = _unnameable_photos_are_errors(plan)
    if not full:
        return plan
    return with_near_misses(plan, users, [*photos.photos, *photos.ambiguous])


def _recognised(
    target: AvatarTarget, users: Iterable[RemoteUser], photos: PhotoSet, records: Mapping[str, SyncRecord]
) -> Iterator[RemoteUser]:
    """The users with ``avatar_ours`` set (:mod:`profilesync.engine.recognise`), asked about a chunk at a time
    so that a streamed listing stays streamed."""
    it = iter(users)
    while chunk := list(islice(it, RECOGNISE_CHUNK)):
        yield from mark_own_avatars(target, chunk, photos, records)


def _unnameable_photos_are_errors(plan: Plan) -> Plan:
    """A photo whose name cannot be decoded cannot be matched to anyone, yet it is surely meant for someone:
    report it as an error (the sync fails it, exit 1) instead of only listing it among the unmatched photos.

    Found by the reliability tests: such a photo used to be silently left out of the sync report.
    """
    unnameable = [p for p in plan.unmatched_photos if (p.problem or "").startswith(UNDECODABLE_NAME)]
    if not unnameable:
        return plan
    errors = tuple(
        PlannedAction(p.key, None, Action.ERROR, Reason.INVALID_PHOTO, p, message=p.problem) for p in unnameable
    )
    rest = tuple(p for p in plan.unmatched_photos if p not in unnameable)
    return Plan(plan.target_id, plan.actions + errors, rest)


def _listed(target: AvatarTarget, request: AvatarRequest) -> Iterator[RemoteUser]:
    """Every user of the target as the listing streams them, or just the one ``--user`` names (none when there
    is no such user)."""
    try:
        if request.user is None:
            yield from target.list_users()
            return
        user = target.find_user(request.user.strip())
    except RemoteError as exc:
        # Without the users there is nothing to plan: for any target, a listing that fails stops the run
        # (exit 3, "unreachable / refused") rather than reading as "some users failed" (exit 1).
        raise FatalRemoteError(
            f"cannot list the users of {target.target_id}: {exc.message}", advice=exc.advice
        ) from None
    if user is not None:
        yield user


def avatars_plan(settings: Settings, request: AvatarRequest) -> Plan:
    """``avatars plan`` / ``sync --dry-run``: compute the plan; change nothing anywhere."""
    settings = settings.for_target(request.target)
    target = build_target(settings, request)
    with opened_store(settings) as store:
        # A plan is how the admin learns what to name the photos: it lists the users even before the first
        # export. ``sync --dry-run`` rehearses the sync, so a missing or empty folder stops it as it would the sync.
        required = request.dry_run
        return compute_plan(settings, request, store, target, save_cache=False, photos_required=required)


def avatars_preview(settings: Settings, request: AvatarRequest) -> tuple[Plan, valve.Verdict]:
    """``avatars plan`` / ``sync --dry-run``: the plan, and whether the real sync's safety valve would stop it."""
    plan = avatars_plan(settings, request)

    def history() -> dict[str, SyncRecord]:  # read only when the plan has enough new users to matter
        with opened_store(settings) as store:
            return store.records(plan.target_id)

    return plan, valve.assess(plan, history, max_uploads=request.max_uploads, force=request.force)


def image_reader(size: int) -> Callable[[Photo], tuple[bytes, str]]:
    """Read each photo once: hash exactly the bytes that get normalised and uploaded."""

    def read(photo: Photo) -> tuple[bytes, str]:
        try:
            data = read_photo(photo.path)
            return normalise(data, size=size), photo_fingerprint(data)
        except InvalidPhoto as exc:
            raise InvalidImage(str(exc)) from None

    return read


def check_safety_valve(plan: Plan, request: AvatarRequest, history: Callable[[], Mapping[str, SyncRecord]]) -> None:
    """Stop an unusually large plan unless ``--force`` (the rule: :mod:`profilesync.valve`)."""
    valve.check(plan, history, max_uploads=request.max_uploads, force=request.force)


def avatars_sync(
    settings: Settings,
    request: AvatarRequest,
    on_result: Callable[[Result], None] | None = None,
    on_plan: Callable[[Plan], None] | None = None,
    stop: Stop | None = None,
) -> SyncReport:
    """``avatars sync``: lock, plan, apply, record the run (also when it is stopped half-way).

    ``stop`` carries SIGINT/SIGTERM (see :mod:`profilesync.interrupt`): the run is then recorded with the
    signal's exit code (130, 143) and the counts of what was really done, and RunInterrupted propagates.
    """
    settings = settings.for_target(request.target)
    stop = stop if stop is not None else Stop()
    target = build_target(settings, request)
    done: list[Result] = []  # filled as users finish, so a stopped run still records what it did
    counted: dict[str, int] = {}  # outcome → users the plan only counted (its skips)

    def finished(result: Result) -> None:
        done.append(result)
        if on_result is not None:
            on_result(result)

    def tally(_run: Run) -> Tally:
        counts = count_outcomes(done, counted)
        return Tally(counts, failed=counts[Outcome.FAILED.value] > 0)

    with (
        opened_store(settings) as store,
        recorded_run(
            store, target, job=avatars_job(request.target), command="avatars sync", stop=stop, tally=tally
        ) as run,
    ):
        plan = compute_plan(settings, request, store, target, save_cache=True, full=False)
        counted.update(skipped_outcomes(plan))
        check_safety_valve(plan, request, lambda: store.records(target.target_id))
        if any(a.action in (Action.UPLOAD, Action.REASSIGN) for a in plan.actions):
            target.before_writes()  # a token that cannot write stops here, not after failing users
        if on_plan is not None:
            on_plan(plan)
        ctx = Execution(
            target=target,
            store=store,
            read_image=image_reader(settings.image_size),
            run_id=run.run_id,
            workers=request.workers or settings.workers or DEFAULT_WORKERS,
            clock=now_utc,
            on_result=finished,
            stop=stop,
        )
        done[:] = execute(plan, ctx)  # plan order
    return SyncReport(
        run.target_id,
        list(done),
        requests=target.requests_made,
        uploads=target.uploads_made,
        exit_code=ExitCode(run.exit_code),
        counts=dict(run.counts),
    )


def count_outcomes(results: list[Result], counted: Mapping[str, int] | None = None) -> dict[str, int]:
    """Outcome → users: the results, plus the users the plan only ``counted`` (outcome → users)."""
    counts = {o.value: (counted or {}).get(o.value, 0) for o in Outcome}
    for result in results:
        counts[result.outcome.value] += 1
    return counts


def avatars_history(settings: Settings, user: str | None) -> list[SyncRecord]:
    """``avatars history``: what the history store remembers, newest first.

    Emails and logins are stored case-folded (they match case-insensitively); SIS ids as they are.
    """
    with opened_store(settings) as store:
        records = store.history(key=user)
        if not records and user is not None and user != user.casefold():
            records = store.history(key=user.casefold())
        return records
