"""The visual review page of a plan (``avatars plan --html FILE``): one self-contained HTML file.

For every pending upload or reassign it shows the user's current avatar beside the new photo exactly as it
will be uploaded (normalised at the configured size), and for every error the photo's problem beside the
avatar that stays. Every picture is embedded as a ``data:`` URI and the page carries its own CSS plus a
Content-Security-Policy that forbids loading anything, so it opens offline (from a mail attachment or a file
share) and cannot call home. Skipped users are only counted: the page stays light.
"""

from __future__ import annotations

import base64
import html
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from profilesync.engine.model import Action, Plan, PlannedAction
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


def new_picture(planned: PlannedAction, image_size: int) -> Picture:
    """The photo as it will be uploaded, or why there is none."""
    if planned.action is Action.ERROR:
        return Picture(None, f"not used: {planned.message or planned.reason.value}")
    if planned.photo is None:
        return Picture(None, "no photo")
    try:
        data = normalise(planned.photo.path, size=image_size)
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


def review_rows(plan: Plan, *, image_size: int, fetch_current: FetchCurrent | None) -> list[ReviewRow]:
    """Pending changes first, then errors; pictures for the first IMAGE_ROWS_LIMIT of them."""
    pending = plan.pending()
    errors = [a for a in plan.actions if a.action is Action.ERROR]
    rows = [*pending, *errors]
    pictured = rows[:IMAGE_ROWS_LIMIT]

    def pictures(planned: PlannedAction) -> ReviewRow:
        return ReviewRow(
            planned,
            current_picture(planned, fetch_current, image_size),
            new_picture(planned, image_size),
        )

    with ThreadPoolExecutor(WORKERS) as pool:
        done = list(pool.map(pictures, pictured))
    return done + [ReviewRow(a, None, None) for a in rows[IMAGE_ROWS_LIMIT:]]


def review_page(
    plan: Plan,
    *,
    image_size: int,
    fetch_current: FetchCurrent | None = None,
    now: datetime | None = None,
) -> str:
    """The whole page as a string (see the module docstring)."""
    rows = review_rows(plan, image_size=image_size, fetch_current=fetch_current)
    return render_page(plan, rows, image_size=image_size, now=now or datetime.now(UTC))


def target_label(target_id: str) -> str:
    """``canvas:https://school.instructure.com`` → ``Canvas school.instructure.com`` (no URL on the page)."""
    kind, _, address = target_id.partition(":")
    host = urlsplit(address).netloc or address
    return f"{kind.capitalize()} {host}".strip()


CSS = """
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px;color:#18181b;background:#fafafa}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}
.meta{color:#52525b;margin:0 0 16px}
table{border-collapse:collapse;background:#fff}
th,td{border:1px solid #d4d4d8;padding:6px 8px;text-align:left;vertical-align:middle}
th{background:#f4f4f5;font-weight:600}
td.pic{width:136px;text-align:center;font-size:12px;color:#52525b}
td.pic img{display:block;margin:0 auto 4px;width:128px;height:128px;object-fit:cover;border-radius:4px}
.arrow{font-size:20px;color:#71717a;text-align:center;border:none}
.badge{display:inline-block;padding:1px 7px;border-radius:9px;font-size:12px;font-weight:600}
.upload{background:#dbeafe;color:#1e3a8a}.reassign{background:#fef3c7;color:#78350f}
.error{background:#fee2e2;color:#7f1d1d}.skip{background:#e4e4e7;color:#3f3f46}
code{font-size:12px}
"""


def render_page(plan: Plan, rows: Sequence[ReviewRow], *, image_size: int, now: datetime) -> str:
    e = html.escape
    counts = plan_counts(plan)
    reasons = Counter(a.reason.value for a in plan.actions)
    pending = [r for r in rows if r.planned.action is not Action.ERROR]
    errors = [r for r in rows if r.planned.action is Action.ERROR]
    label = target_label(plan.target_id)
    out = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        # Nothing may be fetched: the pictures are data: URIs, the style is inline, there is no script.
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; img-src data:; '
        "style-src 'unsafe-inline'\">",
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>profilesync review: {e(label)}</title>",
        f"<style>{CSS}</style></head><body>",
        f"<h1>Avatar changes to review: {e(label)}</h1>",
        f'<p class="meta">Plan made {e(now.isoformat(timespec="seconds"))}; nothing has been changed yet. '
        f"New photos are shown exactly as they will be uploaded ({image_size}×{image_size} JPEG, "
        "metadata removed).</p>",
        '<table id="counts"><tr><th>users</th>'
        + "".join(f"<th>{e(action)}</th>" for action in counts)
        + f"<th>photos matching no user</th></tr><tr><td>{len(plan.actions)}</td>"
        + "".join(f'<td data-count="{e(action)}">{n}</td>' for action, n in counts.items())
        + f"<td>{len(plan.unmatched_photos)}</td></tr></table>",
        '<p class="meta">By reason: '
        + e(", ".join(f"{reason} {n}" for reason, n in sorted(reasons.items())) or "none")
        + "</p>",
    ]
    pictured = sum(1 for r in rows if r.new is not None)
    if pictured < len(rows):
        out.append(
            f'<p class="meta">Pictures are shown for the first {pictured} of {len(rows)} rows; '
            "the rest are listed without them.</p>"
        )
    out.append(f'<h2 id="changes">Will change ({len(pending)})</h2>')
    if pending:
        out.append(
            '<table class="rows"><tr><th>now</th><th></th><th>after</th><th>name</th><th>SIS ID</th>'
            "<th>user id</th><th>action</th><th>reason</th><th>photo</th></tr>"
        )
        out += [_change_row(r) for r in pending]
        out.append("</table>")
    else:
        out.append("<p>Nothing to change: every avatar is up to date.</p>")
    out.append(f'<h2 id="problems">Needs attention ({len(errors)})</h2>')
    if errors:
        out.append(
            '<table class="rows"><tr><th>avatar (stays)</th><th>name</th><th>SIS ID</th><th>reason</th>'
            "<th>photo</th><th>problem</th></tr>"
        )
        out += [_error_row(r) for r in errors]
        out.append("</table>")
    else:
        out.append("<p>No photo problems.</p>")
    out.append(f'<h2 id="unmatched">Photos that match no user ({len(plan.unmatched_photos)})</h2>')
    if plan.unmatched_photos:
        out.append('<table class="rows"><tr><th>photo</th><th>name it would match</th><th>problem</th></tr>')
        out += [
            f"<tr><td><code>{e(p.path.name)}</code></td><td><code>{e(p.key)}</code></td>"
            f"<td>{e('; '.join([p.problem or '', *(m.text() for m in plan.near_misses.get(p.key, ()))]).strip('; '))}"
            "</td></tr>"
            for p in plan.unmatched_photos
        ]
        out.append("</table>")
    else:
        out.append("<p>Every photo belongs to a user.</p>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def _picture(picture: Picture | None, role: str) -> str:
    if picture is None:
        return '<td class="pic">—</td>'
    e = html.escape
    kind = "photo" if picture.data_uri else "placeholder"
    src = picture.data_uri or PLACEHOLDER_URI
    return (
        f'<td class="pic"><img class="{role} {kind}" src="{src}" width="{SHOWN_PX}" height="{SHOWN_PX}" '
        f'alt="{e(role)}: {e(picture.caption)}">{e(picture.caption)}</td>'
    )


def _user_cells(planned: PlannedAction, *, with_id: bool) -> str:
    e = html.escape
    user = planned.user
    cells = f"<td>{e(user.name if user else '')}</td><td><code>{e(planned.key or '')}</code></td>"
    return cells + (f"<td>{e(user.user_id if user else '')}</td>" if with_id else "")


def _change_row(row: ReviewRow) -> str:
    e = html.escape
    p = row.planned
    photo = p.photo.path.name if p.photo else ""
    return (
        f'<tr class="change" data-key="{e(p.key or "")}">'
        + _picture(row.current, "current")
        + '<td class="arrow">→</td>'
        + _picture(row.new, "new")
        + _user_cells(p, with_id=True)
        + f'<td><span class="badge {e(p.action.value)}">{e(p.action.value)}</span></td>'
        + f"<td>{e(p.reason.value)}</td><td><code>{e(photo)}</code></td></tr>"
    )


def _error_row(row: ReviewRow) -> str:
    e = html.escape
    p = row.planned
    photo = p.photo.path.name if p.photo else ""
    return (
        f'<tr class="problem" data-key="{e(p.key or "")}">'
        + _picture(row.current, "current")
        + _user_cells(p, with_id=False)
        + f'<td><span class="badge error">{e(p.reason.value)}</span></td>'
        + f"<td><code>{e(photo)}</code></td><td>{e(p.message or '')}</td></tr>"
    )
