"""`avatars plan --html FILE`: a self-contained page showing each pending change as it will look."""

from __future__ import annotations

import io
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import responses
from PIL import Image

from ops.review_page import data_uri_bytes, solid_png
from profilesync.domain import Secret
from profilesync.photos import normalise
from profilesync.targets.canvas.build import avatar_target
from profilesync_sandbox.samples import make_portrait
from support.world import World


class Page(HTMLParser):
    """Every tag with its attributes, and the rows of the page's tables by class."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.rows: list[tuple[str, str, list[dict[str, str]]]] = []  # (class, data-key, its images)
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        self.tags.append((tag, values))
        if tag == "tr" and values.get("class") in ("change", "problem"):
            self.rows.append((values["class"], values.get("data-key", ""), []))
        elif tag == "img" and self.rows:
            self.rows[-1][2].append(values)

    def images(self) -> list[dict[str, str]]:
        return [attrs for tag, attrs in self.tags if tag == "img"]

    def row(self, key: str) -> list[dict[str, str]]:
        return next(images for _, k, images in self.rows if k == key)


def review(world: World, *args: str) -> tuple[str, dict[str, Any]]:
    """Write the page with `avatars plan --html` and return it with the JSON plan of the same state."""
    path = world.photos.parent / "review.html"
    world.cli("avatars", "plan", "--html", str(path), *args)
    return path.read_text(encoding="utf-8"), world.json("avatars", "plan", *args)


def test_one_row_per_pending_change_with_both_pictures(world: World) -> None:
    """Each upload or reassign gets a row holding the current avatar and the new photo."""
    text, plan = review(world)
    pending = {a["key"] for a in plan["actions"] if a["action"] in ("upload", "reassign")}
    page = Page(text)
    assert {key for cls, key, _ in page.rows if cls == "change"} == pending
    for _, _, images in page.rows:
        assert [img["class"].split()[0] for img in images] in (["current", "new"], ["current"])


def test_every_picture_is_an_embedded_data_uri(world: World) -> None:
    """All images are data: URIs, so the page opens with no network."""
    page = Page(review(world)[0])
    assert page.images()
    assert all(img["src"].startswith("data:image/") for img in page.images())


def test_page_references_nothing_outside_itself(world: World) -> None:
    """No URL, stylesheet, script or CSS import; a Content-Security-Policy forbids loading anything."""
    text = review(world)[0]
    assert "http://" not in text and "https://" not in text
    assert "<script" not in text and "<link" not in text and "url(" not in text and "@import" not in text
    assert "default-src 'none'" in text
    assert all(not attrs.get("href") for _, attrs in Page(text).tags)


def test_page_never_contains_the_token(world: World) -> None:
    """The Canvas token is not in the page, not even inside an embedded picture."""
    text = review(world)[0]
    assert world.sandbox.admin_token not in text
    assert world.sandbox.admin_token.encode() not in b"".join(data_uri_bytes(i["src"]) for i in Page(text).images())


def test_new_photo_is_shown_exactly_as_it_will_be_uploaded(world: World) -> None:
    """The embedded new photo is byte for byte `photos.normalise` at the configured size."""
    world.extra_env["PROFILESYNC_IMAGE_SIZE"] = "96"
    key = sorted(p.stem for p in world.photos.iterdir())[0]
    page = Page(review(world)[0])
    new = next(img for img in page.row(key) if img["class"].startswith("new"))
    expected = normalise((world.photos / f"{key}.jpg").read_bytes(), size=96)
    assert data_uri_bytes(new["src"]) == expected


def test_current_avatar_on_canvas_is_shown(world: World) -> None:
    """A user's own avatar on the Canvas host is fetched and embedded; a default avatar gets the placeholder."""
    keys = sorted(p.stem for p in world.photos.iterdir())
    user = world.user(keys[0])
    world.sandbox.state.user_sets_own_avatar(user.id, solid_png((0, 160, 0)), filename="me.png")
    page = Page(review(world)[0])
    current = page.row(keys[0])[0]
    assert current["class"] == "current photo"
    image = Image.open(io.BytesIO(data_uri_bytes(current["src"])))
    assert image.getpixel((image.width // 2, image.height // 2))[1] > 120  # the green it was set to
    assert page.row(keys[1])[0]["class"] == "current placeholder"


def test_invalid_photo_is_listed_with_its_reason(world: World) -> None:
    """A photo that cannot be used is a problem row naming the file and why, beside the avatar that stays."""
    key = sorted(p.stem for p in world.photos.iterdir())[2]
    (world.photos / f"{key}.jpg").write_bytes(b"this is not a picture")
    text, _ = review(world)
    page = Page(text)
    assert ("problem", key) in {(cls, k) for cls, k, _ in page.rows}
    assert [img["class"] for img in page.row(key)] == ["current placeholder"]
    assert "not an image" in text


def test_photos_matching_nobody_are_listed(world: World) -> None:
    """Photos whose name matches no user are listed by name."""
    (world.photos / "NOBODY-1.jpg").write_bytes(make_portrait("NOBODY-1"))
    text, _ = review(world)
    assert "Photos that match no user (1)" in text and "NOBODY-1.jpg" in text


def test_counts_match_the_plan(world: World) -> None:
    """The counts table says what the JSON plan says."""
    text, plan = review(world)
    counts: dict[str, int] = plan["counts"]
    for action, n in counts.items():
        assert f'<td data-count="{action}">{n}</td>' in text


def test_avatar_on_another_host_is_not_fetched() -> None:
    """An avatar URL off the Canvas host (a CDN, gravatar) is never requested, so the token cannot leak."""
    target = avatar_target("https://canvas.example.edu", Secret("secret-token-123"))
    with responses.RequestsMock() as mock:  # any request would fail: none is registered
        assert target.fetch_avatar_image("https://cdn.example.net/images/thumbnails/5/abc") is None
        assert target.fetch_avatar_image("https://canvas.example.edu/images/messages/avatar-50.png") is None
        assert not mock.calls


@responses.activate(assert_all_requests_are_fired=True)
def test_thumbnail_redirect_is_followed_without_the_token() -> None:
    """Canvas's thumbnail redirect to its storage host is followed, and the token goes only to Canvas."""
    responses.get(
        "https://canvas.example.edu/images/thumbnails/5/abc",
        status=302,
        headers={"Location": "https://files.storage.example/thumb/5?sig=x"},
    )
    responses.get("https://files.storage.example/thumb/5?sig=x", body=b"PNGDATA", content_type="image/png")
    target = avatar_target("https://canvas.example.edu", Secret("secret-token-123"))
    assert target.fetch_avatar_image("https://canvas.example.edu/images/thumbnails/5/abc") == b"PNGDATA"
    first, second = responses.calls
    assert first.request.headers["Authorization"] == "Bearer secret-token-123"
    assert "Authorization" not in second.request.headers


def test_unwritable_html_path_is_a_usage_error(world: World, tmp_path: Path) -> None:
    """A review page that cannot be written is reported with exit 2, not a traceback."""
    result = world.cli("avatars", "plan", "--html", str(tmp_path / "missing-dir" / "r.html"), expect=2)
    assert "cannot write the review page" in result.output
