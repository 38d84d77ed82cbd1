"""Wires photos, target, history store, lock and clock together for each command.

The CLI calls one function here per command and renders what it returns; nothing here prints.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from itertools import chain, islice

from profilesync import valve
from profilesync.applying import DecideEarly, plan_and_apply
from profilesync.config import Settings, guru_problems, require_canvas
from profilesync.domain import fold_key
from profilesync.engine.executor import Execution
from profilesync.engine.model import (
    Action,
    Outcome,
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
from profilesync.engine.pages import PagedRecords
from profilesync.engine.planner import plan as make_plan
from profilesync.engine.ports import AvatarTarget, HistoryStore
from profilesync.engine.recognise import mark_own_avatars
from profilesync.errors import (
    ConfigError,
    ExitCode,
    FatalRemoteError,
    RemoteError,
)
from profilesync.interrupt import Stop
from profilesync.photos.names import with_near_misses
from profilesync.photos.source import UNNAMEABLE, PhotoSource, image_reader, open_source, read_photo_set
from profilesync.runs import DEFAULT_WORKERS, Run, Tally, now_utc, opened_store, recorded_run
from profilesync.store.lock import avatars_job
from profilesync.targets.canvas.build import avatar_target
from profilesync.targets.canvas.history import (
    known_records,
    records_reader,
    renamed_host_possible,
    renamed_host_records,
)

log = logging.getLogger(__name__)

#: users a sync lists ahead while the photo scan runs (200 pages, 10 s at 50 ms a page): each is held until the
#: scan ends, and on a fast Canvas a slow photo share would otherwise hold the whole listing (~300 B a user)
READ_AHEAD_USERS = 20_000
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
            lock_avatars=settings.lock_avatars,
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


@contextmanager
def photo_source(settings: Settings) -> Iterator[PhotoSource]:
    """The photos the settings name (the folder, or the SIS database: :mod:`profilesync.photos.source`)."""
    source = open_source(settings.photos_dir, settings.photos_sql_url, settings.photos_sql_query)
    try:
        yield source
    finally:
        source.close()


def compute_plan(
    settings: Settings,
    request: AvatarRequest,
    store: HistoryStore,
    target: AvatarTarget,
    source: PhotoSource,
    *,
    save_cache: bool,
    photos_required: bool = True,
    full: bool = True,
    decide_early: DecideEarly | None = None,
) -> Plan:
    """Users, photos and history → the plan. The photo scan and the history read run while the target is
    being listed: the listing is network-bound, the others disk-bound, so a nightly run costs about the
    listing's time alone.

    ``full`` False (a sync) plans each user as the listing streams it and keeps only what it acts on
    (``Plan.skipped`` counts the rest; no near-miss hints, which only a plan shows): no list of every user,
    so a sync's memory does not grow with the school beyond the photos and the history. ``decide_early``, given
    the history, may return a callback for each decision as it is made (a sync's pipelined writes).
    """
    match = settings.match_for(request.target)
    if photos_required and source.unavailable() is not None:
        read_photo_set(source, store, match, save_cache=False)  # raises the safety valve before any request

    def photos_then_history(keys: list[str] | None) -> tuple[PhotoSet, Mapping[str, SyncRecord]]:
        # One after the other, not side by side: the scan's fingerprint cache is freed before the history is
        # read, and at 100,000 users each is tens of MB; both together still take a fraction of the listing.
        photos = read_photo_set(source, store, match, save_cache=save_cache, required=photos_required, keys=keys)
        if keys is None and not full and not renamed_host_possible(store, target):
            # A sync reads the history a page of listed users at a time (90 MB less at 100,000 users).
            return photos, PagedRecords(records_reader(store, target, adopt=save_cache))
        return photos, known_records(store, target, adopt=save_cache, keys=keys)  # save_cache: a real sync

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="scan") as pool:
        listing = _listed(target, request)
        early: list[RemoteUser] = []
        if request.user is not None:
            # --user: the user first (one request), then that user's record only: one indexed lookup rather
            # than a district's history.
            early.extend(listing)
            keys = [u.key for u in early if u.key is not None] or [fold_key(match)(request.user.strip())]
            reading = pool.submit(photos_then_history, keys)
        else:
            reading = pool.submit(photos_then_history, None)
            for user in listing:  # listed ahead only while the photos and the history are still being read
                early.append(user)
                if reading.done() or len(early) >= READ_AHEAD_USERS:
                    break
        photos, records = reading.result()
    if not isinstance(records, PagedRecords) and not records and renamed_host_possible(store, target):
        early.extend(listing)  # a renamed host's history is recognised against the whole listing
        records = renamed_host_records(store, target, early, adopt=save_cache)
    max_age = timedelta(days=settings.max_age_days) if settings.max_age_days > 0 else None
    if request.user is not None and not early:  # --user naming nobody
        key = fold_key(match)(request.user.strip())
        message = f"no user with {match} {request.user!r} on the target"
        missing = PlannedAction(key, None, Action.ERROR, Reason.NOT_FOUND, photos.photos.get(key), message=message)
        return Plan(target.target_id, (missing,))
    users: Iterable[RemoteUser] = chain(early, listing)
    if isinstance(records, PagedRecords):
        users = records.pages(users)
    if settings.policy is Policy.RESPECT:
        users = _recognised(target, users, photos, records)  # our uploads are nobody's choice
    on_decided = decide_early(_synced_before(store, target, records)) if decide_early is not None else None
    plan = make_plan(  # decides as the listing streams: a plan's deciding is done when its listing is
        users,
        photos,
        records,
        target_id=target.target_id,
        now=now_utc(),
        policy=settings.policy,
        max_age=max_age,
        report_unmatched=request.user is None,
        keep_skips=full,
        lock=settings.lock_avatars and request.target == "canvas",  # Guru has no lock
        on_decided=on_decided,
    )
    plan = _unnameable_photos_are_errors(plan)
    if not full:
        return plan
    listed = (a.user for a in plan.actions if a.user is not None)  # a full plan has an action per user
    return with_near_misses(plan, listed, [*photos.photos, *photos.ambiguous])


def _synced_before(store: HistoryStore, target: AvatarTarget, records: Mapping[str, SyncRecord]) -> bool:
    """Whether the target's history holds a successful sync (the safety valve's question before early writes).
    A paged history has read nothing yet, so the store is asked (former names were adopted into this one by then)."""
    if isinstance(records, PagedRecords):
        return store.synced_any(target.target_id)
    return valve.synced_any(records)


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
    unnameable = [p for p in plan.unmatched_photos if (p.problem or "").startswith(UNNAMEABLE)]
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
    with opened_store(settings) as store, photo_source(settings) as source:
        # A plan is how the admin learns what to name the photos: it lists the users even before the first
        # export. ``sync --dry-run`` rehearses the sync, so a missing or empty folder stops it as it would the sync.
        required = request.dry_run
        return compute_plan(settings, request, store, target, source, save_cache=False, photos_required=required)


def review_page(settings: Settings, request: AvatarRequest, plan: Plan) -> str:
    """``plan --html``: the review page; current avatars are read through the target, new photos as uploaded."""
    from profilesync import report_html  # Jinja2, only when a review page is asked for

    fetch = getattr(build_target(settings, request, named=False), "fetch_avatar_image", None)
    with photo_source(settings.for_target(request.target)) as source:
        return report_html.review_page(
            plan, image_size=settings.image_size, crop=settings.crop, fetch_current=fetch, read=source.read
        )


def avatars_preview(settings: Settings, request: AvatarRequest) -> tuple[Plan, valve.Verdict]:
    """``avatars plan`` / ``sync --dry-run``: the plan, and whether the real sync's safety valve would stop it."""
    plan = avatars_plan(settings, request)

    def history() -> dict[str, SyncRecord]:  # read only when the plan has enough new users to matter
        with opened_store(settings) as store:
            return store.records(plan.target_id)

    return plan, valve.assess(plan, history, max_uploads=request.max_uploads, force=request.force)


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
        photo_source(settings) as source,
        recorded_run(
            store, target, job=avatars_job(request.target), command="avatars sync", stop=stop, tally=tally
        ) as run,
    ):
        ctx = Execution(
            target=target,
            store=store,
            read_image=image_reader(source, settings.image_size, settings.crop),
            run_id=run.run_id,
            workers=request.workers or settings.workers or DEFAULT_WORKERS,
            clock=now_utc,
            on_result=finished,
            stop=stop,
        )

        def plan_with(decide_early: DecideEarly) -> Plan:
            return compute_plan(
                settings, request, store, target, source, save_cache=True, full=False, decide_early=decide_early
            )

        done[:] = plan_and_apply(
            ctx,
            plan_with,
            user=request.user,
            max_uploads=request.max_uploads,
            force=request.force,
            on_plan=on_plan,
            on_counted=counted.update,
        )
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
