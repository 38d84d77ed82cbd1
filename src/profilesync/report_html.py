"""The visual review page of a plan (``avatars plan --html FILE``): one self-contained HTML file.

For every pending upload or reassign it shows the user's current avatar beside the new photo exactly as it will
be uploaded (normalised at the configured size and cut, by the sync's own ``normalise``), and for every error
the photo's problem beside the avatar that stays. Every picture is embedded as a ``data:`` URI and the page
carries its own CSS plus a Content-Security-Policy that forbids loading anything, so it opens offline (from a
mail attachment or a file share) and cannot call home. Skipped users are only counted: the page stays light. The
markup is the template templates/review.html.j2; this module gathers the pictures and the numbers it shows.
"""

from __future__ import annotations

import base64
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

import jinja2

from profilesync.domain import Crop
from profilesync.engine.model import Action, Photo, Plan, PlannedAction
from profilesync.errors import ProfilesyncError
from profilesync.photos import InvalidPhoto, normalise
from profilesync.report import plan_counts

#: pictures are embedded for this many rows at most (a first sync of 20,000 users would make a page
#: nobody can review and few browsers can open); the rest are listed without pictures
IMAGE_ROWS_LIMIT = 500
WORKERS = 8  # photos normalised and current avatars fetched in parallel (the target's rate gate still applies)
SHOWN_PX = 128  # displayed edge; the embedded new photo keeps its real, uploaded size

# A neutral silhouette for "no picture to show" (the Canvas default, a CDN or gravatar, or a failed fetch).
PLACEHOLDER_SVG = (
    "<svg xmlns='http://www.w3.org/2000/svg' width='128' height='128' viewBox='0 0 16 16'>"
    "<rect width='16' height='16' fill='#e4e4e7'/><circle cx='8' cy='6.2' r='2.9' fill='#a1a1aa'/>"
    "<ellipse cx='8' cy='15.5' rx='5.6' ry='4.6' fill='#a1a1aa'/></svg>"
)
PLACEHOLDER_URI = "data:image/svg+xml;base64," + base64.b64encode(PLACEHOLDER_SVG.encode()).decode()

FetchCurrent = Callable[[str], bytes | None]
ReadPhoto = Callable[[Photo], bytes]  # the photo source's bytes (a file's, or a SIS database row's)


@dataclass(frozen=True)
class Picture:
    """One cell's picture: an embedded image, or the placeholder with a caption saying why."""

    data_uri: str | None
    caption: str


@dataclass(frozen=True)
class ReviewRow:
    planned: PlannedAction
    current: Picture | None  # None: pictures left out (over IMAGE_ROWS_LIMIT)
    new: Picture | None


def jpeg_uri(data: bytes) -> str:
    return "data:image/jpeg;base64," + base64.b64encode(data).decode("ascii")


def new_picture(
    planned: PlannedAction, image_size: int, crop: Crop = Crop.CENTRE, read: ReadPhoto | None = None
) -> Picture:
    """The photo as it will be uploaded (the same size and cut), or why there is none."""
    if planned.action is Action.ERROR:
        return Picture(None, f"not used: {planned.message or planned.reason.value}")
    if planned.photo is None:
        return Picture(None, "no photo")
    try:
        data = normalise(read(planned.photo) if read else planned.photo.path, size=image_size, crop=crop)
    except InvalidPhoto as exc:  # the file changed since the scan
        return Picture(None, f"cannot be used: {exc.reason}")
    caption = "put back (no upload)" if planned.action is Action.REASSIGN else f"will be uploaded ({image_size} px)"
    return Picture(jpeg_uri(data), caption)


def current_picture(planned: PlannedAction, fetch: FetchCurrent | None, image_size: int) -> Picture:
    """The avatar the user shows now; only one on the target's own host is fetched (by ``fetch``)."""
    user = planned.user
    if user is None:
        return Picture(None, "no such user")
    if user.avatar_ref is None or not user.avatar_url:
        return Picture(None, "no picture (the default)")
    if fetch is None:
        return Picture(None, "not fetched")
    try:
        data = fetch(user.avatar_url)
    except ProfilesyncError as exc:
        return Picture(None, f"could not be loaded ({exc.message})")
    if data is None:
        host = urlsplit(user.avatar_url).hostname or "another host"
        return Picture(None, f"on {host} (not fetched)")
    try:
        # Re-encoded like an upload: whatever the server sent, the page embeds only a plain, metadata-free JPEG.
        return Picture(jpeg_uri(normalise(data, size=image_size)), "now")
    except InvalidPhoto as exc:
        return Picture(None, f"cannot be shown ({exc.reason})")


def review_rows(
    plan: Plan,
    *,
    image_size: int,
    fetch_current: FetchCurrent | None,
    crop: Crop = Crop.CENTRE,
    read: ReadPhoto | None = None,
) -> list[ReviewRow]:
    """Pending changes first, then errors; pictures for the first IMAGE_ROWS_LIMIT of them."""
    pending = plan.pending()
    errors = [a for a in plan.actions if a.action is Action.ERROR]
    rows = [*pending, *errors]
    pictured = rows[:IMAGE_ROWS_LIMIT]

    def pictures(planned: PlannedAction) -> ReviewRow:
        return ReviewRow(
            planned,
            current_picture(planned, fetch_current, image_size),
            new_picture(planned, image_size, crop, read),
        )

    with ThreadPoolExecutor(WORKERS) as pool:
        done = list(pool.map(pictures, pictured))
    return done + [ReviewRow(a, None, None) for a in rows[IMAGE_ROWS_LIMIT:]]


def review_page(
    plan: Plan,
    *,
    image_size: int,
    crop: Crop = Crop.CENTRE,
    fetch_current: FetchCurrent | None = None,
    now: datetime | None = None,
    read: ReadPhoto | None = None,
) -> str:
    """The whole page as a string (see the module docstring); ``read``: the photos' bytes (default: the files)."""
    rows = review_rows(plan, image_size=image_size, fetch_current=fetch_current, crop=crop, read=read)
    return render_page(plan, rows, image_size=image_size, now=now or datetime.now(UTC), crop=crop)


def target_label(target_id: str) -> str:
    """``canvas:https://school.instructure.com`` → ``Canvas school.instructure.com`` (no URL on the page)."""
    kind, _, address = target_id.partition(":")
    host = urlsplit(address).netloc or address
    return f"{kind.capitalize()} {host}".strip()


# The page is a template shipped with the package; autoescaping escapes every value put into it.
_PAGES = jinja2.Environment(
    loader=jinja2.PackageLoader("profilesync", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,  # a misspelt name fails the render instead of printing nothing
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)


#: how the page names each cut, after "New photos are shown exactly as they will be uploaded"
CROP_WORDS = {
    Crop.CENTRE: "the centred square",
    Crop.PORTRAIT: "the square near the top of each portrait",
    Crop.FACE: "the square around each face (near the top of a photo with none)",
}


def render_page(
    plan: Plan, rows: Sequence[ReviewRow], *, image_size: int, now: datetime, crop: Crop = Crop.CENTRE
) -> str:
    reasons = Counter(a.reason.value for a in plan.actions)
    unmatched = [
        (p, "; ".join([p.problem or "", *(m.text() for m in plan.near_misses.get(p.key, ()))]).strip("; "))
        for p in plan.unmatched_photos
    ]
    return _PAGES.get_template("review.html.j2").render(
        label=target_label(plan.target_id),
        made=now.isoformat(timespec="seconds"),
        image_size=image_size,
        crop=CROP_WORDS[crop],
        counts=plan_counts(plan),
        users=len(plan.actions),
        reasons=", ".join(f"{reason} {n}" for reason, n in sorted(reasons.items())) or "none",
        pictured=sum(1 for r in rows if r.new is not None),
        rows_total=len(rows),
        pending=[r for r in rows if r.planned.action is not Action.ERROR],
        errors=[r for r in rows if r.planned.action is Action.ERROR],
        unmatched=unmatched,
        placeholder=PLACEHOLDER_URI,
        shown_px=SHOWN_PX,
    )
